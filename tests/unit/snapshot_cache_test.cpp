// SnapshotCache through TakeSnapshot on a fake /proc: what it counts, that a move keeps the
// cache (and its warm owner walks), and that Reclaim gives the owner table back to the owner
// cache only when it is the one lent and unchanged.
#include "sources/snapshot_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <utility>
#include <vector>

#include "sources/owner_cache.h"
#include "sources/snapshot.h"
#include "support/fake_proc.h"
#include "support/proc_net_text.h"

namespace connwatch {
namespace {

using testing::FakeProc;
using testing::ProcNetEntry;
using Owners = std::map<uint64_t, std::vector<pid_t>>;

const std::vector<ProcNetEntry> kTcp = {
    {"0.0.0.0", 22, "0.0.0.0", 0, 10, 501},
    {"10.0.0.1", 22, "10.0.0.9", 50000, 1, 502},
    {"10.0.0.1", 40000, "192.0.2.7", 443, 1, 503},
    {"10.0.0.1", 40001, "192.0.2.7", 443, 1, 504},
};

class SnapshotCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteProcNet(proc_, kTcp);
    proc_.AddProcess(100).AddSocket(100, 3, 501).AddSocket(100, 4, 502);
    proc_.AddProcess(200).AddSocket(200, 3, 503).AddFdLink(200, 4, "pipe:[9]");
    proc_.AddProcess(300).AddSocket(300, 3, 504).AddSocket(300, 4, 501);  // shares the listener
    proc_.AddProcess(400);                                                // no sockets
    options_.procfs = proc_.root();
    options_.source_mode = SourceMode::kProcfs;
    options_.full_scan_every = 1000;  // every sample after the first is a steady one
  }

  Snapshot Take(SnapshotCache& cache) { return TakeSnapshot(options_, zones_, &cache); }

  // inode -> owners, as the snapshot's own table says.
  static Owners OwnersIn(const Snapshot& snapshot) {
    Owners owners;
    for (const Socket& socket : snapshot.sockets) {
      std::span<const pid_t> pids = snapshot.owners.Of(socket.inode);
      owners[socket.inode] = std::vector<pid_t>(pids.begin(), pids.end());
    }
    return owners;
  }

  // What a cold walk of the same tree says now.
  Owners ColdOwners() { return OwnersIn(TakeSnapshot(options_, zones_)); }

  FakeProc proc_;
  ZoneClassifier zones_;
  SnapshotOptions options_;
  const Owners expected_ = {{501, {100, 300}}, {502, {100}}, {503, {200}}, {504, {300}}};
};

TEST_F(SnapshotCacheTest, CountsSamplesAndRemembersTheLastSocketCount) {
  SnapshotCache cache;
  EXPECT_EQ(cache.samples(), 0u);
  EXPECT_EQ(cache.last_socket_count(), 0u);
  Snapshot first = Take(cache);
  EXPECT_EQ(cache.samples(), 1u);
  EXPECT_EQ(cache.last_socket_count(), 4u);
  EXPECT_EQ(first.sockets.size(), 4u);

  std::vector<ProcNetEntry> more = kTcp;
  more.push_back({"10.0.0.1", 40002, "192.0.2.7", 443, 1, 505});
  more.push_back({"10.0.0.1", 40003, "192.0.2.7", 443, 6, 0});  // TIME_WAIT
  proc_.WriteFile("net/tcp", testing::ProcNetText(testing::kProcNetTcpHeader, more));
  cache.Reclaim(std::move(first));
  Snapshot second = Take(cache);
  EXPECT_EQ(cache.samples(), 2u);
  EXPECT_EQ(cache.last_socket_count(), 6u);
  // The next dump is reserved for about that many: room for them without growing.
  Snapshot third = Take(cache);
  EXPECT_GE(third.sockets.capacity(), 6u);
  EXPECT_EQ(cache.samples(), 3u);

  // A snapshot without the cache counts nothing in it.
  TakeSnapshot(options_, zones_);
  EXPECT_EQ(cache.samples(), 3u);
}

TEST_F(SnapshotCacheTest, AMovedCacheKeepsItsCountsAndItsWarmWalks) {
  SnapshotCache cache;
  Snapshot first = Take(cache);
  EXPECT_EQ(first.owner_stats.processes_walked, 4u) << "the first sample walks everything";
  cache.Reclaim(std::move(first));

  SnapshotCache moved(std::move(cache));
  EXPECT_EQ(moved.samples(), 1u);
  EXPECT_EQ(moved.last_socket_count(), 4u);
  Snapshot second = Take(moved);
  EXPECT_EQ(second.owner_stats.processes_walked, 0u) << "the walks moved with the cache";
  EXPECT_EQ(second.owner_stats.processes_scanned, 4u);
  EXPECT_EQ(OwnersIn(second), expected_);
  EXPECT_EQ(moved.samples(), 2u);
  moved.Reclaim(std::move(second));

  SnapshotCache assigned;
  Take(assigned);  // a cache with a history of its own, replaced by the move
  proc_.AddSocket(400, 3, 502);
  assigned = std::move(moved);
  EXPECT_EQ(assigned.samples(), 2u);
  EXPECT_EQ(assigned.last_socket_count(), 4u);
  Snapshot third = Take(assigned);
  EXPECT_EQ(third.owner_stats.processes_walked, 1u) << "only pid 400 changed";
  EXPECT_EQ(assigned.samples(), 3u);
  Owners now = expected_;
  now[502] = {100, 400};
  EXPECT_EQ(OwnersIn(third), now);
  EXPECT_EQ(ColdOwners(), now);
}

TEST_F(SnapshotCacheTest, ReclaimGivesTheLentOwnerTableBack) {
  SnapshotCache cache;
  Snapshot first = Take(cache);
  ASSERT_EQ(OwnersIn(first), expected_);
  // Where the table keeps 502's only owner: the same place next sample means the same table.
  const pid_t* lent_at = first.owners.Of(502).data();
  cache.Reclaim(std::move(first));

  Snapshot second = Take(cache);
  EXPECT_EQ(OwnersIn(second), expected_);
  EXPECT_EQ(second.owner_stats.processes_walked, 0u);
  EXPECT_FALSE(cache.owners().last_scan_full());
  EXPECT_EQ(second.owners.Of(502).data(), lent_at) << "the given-back table was lent again";
  EXPECT_EQ(CompareAttribution(second, TakeSnapshot(options_, zones_)).differing, 0u);
}

TEST_F(SnapshotCacheTest, WithoutReclaimTheTableIsRebuiltAlike) {
  SnapshotCache cache;
  Snapshot first = Take(cache);  // kept: its table is not given back
  const pid_t* first_at = first.owners.Of(502).data();
  Snapshot second = Take(cache);
  EXPECT_EQ(OwnersIn(second), expected_);
  EXPECT_EQ(second.owner_stats.processes_walked, 0u) << "rebuilt from the cached walks";
  EXPECT_NE(second.owners.Of(502).data(), first_at) << "a new table";
  EXPECT_EQ(OwnersIn(first), expected_) << "the kept snapshot is untouched";
}

TEST_F(SnapshotCacheTest, AReclaimedTableWithAnAddedOwnerIsNotTakenBack) {
  SnapshotCache cache;
  Snapshot first = Take(cache);
  first.owners.Add(503, 999);  // a caller that edited the table
  first.owners.Add(777, 100);
  ASSERT_EQ(first.owners.Of(503).size(), 2u);
  cache.Reclaim(std::move(first));

  Snapshot second = Take(cache);
  EXPECT_EQ(OwnersIn(second), expected_) << "the edited table poisoned the cache";
  EXPECT_TRUE(second.owners.Of(777).empty());
  EXPECT_EQ(second.owner_stats.processes_walked, 0u);
  cache.Reclaim(std::move(second));
  Snapshot third = Take(cache);
  EXPECT_EQ(OwnersIn(third), expected_);
  EXPECT_EQ(OwnersIn(third), ColdOwners());
}

TEST_F(SnapshotCacheTest, AReclaimedTableIsDroppedWhenTheNextWalkChangesTheClaims) {
  SnapshotCache cache;
  cache.Reclaim(Take(cache));
  // pid 200 closes 503 and opens 505; pid 300 exits, and 504 with it.
  proc_.WriteFile(
      "net/tcp",
      testing::ProcNetText(testing::kProcNetTcpHeader,
                           {kTcp[0], kTcp[1], {"10.0.0.1", 40002, "192.0.2.7", 443, 1, 505}}));
  proc_.RemoveFd(200, 3).AddSocket(200, 3, 505);
  proc_.Remove("300");
  Snapshot second = Take(cache);
  const Owners now = {{501, {100}}, {502, {100}}, {505, {200}}};
  EXPECT_EQ(OwnersIn(second), now);
  EXPECT_EQ(ColdOwners(), now);
  EXPECT_EQ(second.owner_stats.processes_walked, 1u) << "only pid 200 changed";
  cache.Reclaim(std::move(second));
  Snapshot third = Take(cache);
  EXPECT_EQ(OwnersIn(third), now);
  EXPECT_EQ(third.owner_stats.processes_walked, 0u);
}

TEST_F(SnapshotCacheTest, AnOlderSnapshotsTableIsNotTakenBack) {
  SnapshotCache cache;
  Snapshot older = Take(cache);  // kept while the next sample runs
  // The shared listener moves: pid 300 closes 501 and opens a pipe (same fd count), pid 400
  // receives it. Claims change, their number does not: the tables have equal versions.
  proc_.RemoveFd(300, 4).AddFdLink(300, 4, "pipe:[8]");
  proc_.AddSocket(400, 3, 501);
  Snapshot newer = Take(cache);
  const Owners now = {{501, {100, 400}}, {502, {100}}, {503, {200}}, {504, {300}}};
  ASSERT_EQ(OwnersIn(newer), now);
  ASSERT_EQ(older.owners.version(), newer.owners.version());
  cache.Reclaim(std::move(older));  // not the table the last Scan lent
  Snapshot third = Take(cache);
  EXPECT_EQ(OwnersIn(third), now) << "an older snapshot's claims were taken back";
  EXPECT_EQ(OwnersIn(third), ColdOwners());
}

TEST_F(SnapshotCacheTest, AnEmptyTableIsNotTakenBack) {
  SnapshotCache cache;
  Snapshot first = Take(cache);
  cache.Reclaim(Snapshot());
  Snapshot second = Take(cache);
  EXPECT_EQ(OwnersIn(second), expected_);
  EXPECT_EQ(second.owner_stats.processes_walked, 0u);
}

TEST_F(SnapshotCacheTest, AForeignTableIsNotTakenBack) {
  // Another host's owners, as many of them as ours (the same number of Adds).
  FakeProc other;
  testing::WriteProcNet(other, kTcp);
  other.AddProcess(900).AddSocket(900, 3, 501).AddSocket(900, 4, 502).AddSocket(900, 5, 503);
  other.AddProcess(901).AddSocket(901, 3, 504).AddSocket(901, 4, 501);
  SnapshotOptions other_options = options_;
  other_options.procfs = other.root();
  Snapshot foreign = TakeSnapshot(other_options, zones_);
  ASSERT_EQ(OwnersIn(foreign),
            (Owners{{501, {900, 901}}, {502, {900}}, {503, {900}}, {504, {901}}}));

  SnapshotCache cache;
  cache.Reclaim(Take(cache));  // given back; nothing is lent now
  cache.Reclaim(std::move(foreign));
  Snapshot second = Take(cache);
  EXPECT_EQ(OwnersIn(second), expected_) << "another table was taken back";
  EXPECT_EQ(OwnersIn(second), ColdOwners());
}

}  // namespace
}  // namespace connwatch
