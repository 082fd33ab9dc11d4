#include "tracking/connection_table.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

#include "net/cidr.h"

namespace connwatch {
namespace {

using Reference = std::unordered_map<ConnectionKey, TrackedConnection, ConnectionKeyHash>;

ConnectionKey CookieKey(uint64_t cookie) {
  ConnectionKey key;
  key.cookie = cookie;
  return key;
}

ConnectionKey TupleKey(uint64_t inode, uint16_t local_port) {
  ConnectionKey key;
  key.inode = inode;
  key.local = *ParseIpAddress("10.0.0.1");
  key.remote = *ParseIpAddress("10.0.0.2");
  key.local_port = local_port;
  key.remote_port = 443;
  return key;
}

// The table holds exactly what the reference map holds, through every way of reading it.
void ExpectSame(const ConnectionTable& table, const Reference& reference) {
  ASSERT_EQ(table.size(), reference.size());
  size_t iterated = 0;
  for (const auto& [key, tracked] : table) {
    ++iterated;
    auto it = reference.find(key);
    ASSERT_NE(it, reference.end()) << key.cookie << " " << key.inode;
    EXPECT_EQ(tracked.start_boot_seconds, it->second.start_boot_seconds);
  }
  EXPECT_EQ(iterated, reference.size());
  size_t visited = 0;
  table.ForEach([&](const ConnectionKey& key, const TrackedConnection& tracked) {
    ++visited;
    auto it = reference.find(key);
    ASSERT_NE(it, reference.end()) << key.cookie;
    EXPECT_EQ(tracked.start_boot_seconds, it->second.start_boot_seconds);
  });
  EXPECT_EQ(visited, reference.size());
  for (const auto& [key, tracked] : reference) {
    auto it = table.find(key);
    ASSERT_NE(it, table.end()) << key.cookie << " " << key.inode;
    EXPECT_EQ(it->second.start_boot_seconds, tracked.start_boot_seconds);
    EXPECT_EQ(it->first, key);
  }
}

TEST(ConnectionTableTest, StartsEmptyAndFindsNothing) {
  ConnectionTable table;
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.begin(), table.end());
  EXPECT_FALSE(table.contains(CookieKey(1)));
  EXPECT_FALSE(table.contains(TupleKey(1, 2)));
  EXPECT_EQ(table.erase(CookieKey(1)), 0u);
}

TEST(ConnectionTableTest, CookieAndTupleKeysLiveSideBySide) {
  ConnectionTable table;
  table[CookieKey(7)] = {1.5, AgeSource::kConntrack};
  table[TupleKey(7, 40000)] = {2.5, AgeSource::kFirstSeen};
  auto [again, inserted] = table.try_emplace(CookieKey(7));
  EXPECT_FALSE(inserted);
  EXPECT_EQ(again->start_boot_seconds, 1.5);
  EXPECT_EQ(again->source, AgeSource::kConntrack);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.find(TupleKey(7, 40000))->second.start_boot_seconds, 2.5);
  EXPECT_FALSE(table.contains(TupleKey(7, 40001)));
  EXPECT_EQ(table.erase(CookieKey(7)), 1u);
  EXPECT_FALSE(table.contains(CookieKey(7)));
  EXPECT_TRUE(table.contains(TupleKey(7, 40000)));
}

// Random inserts, erases and sweeps against std::unordered_map, with consecutive cookies
// (as the kernel hands them out) and enough entries to grow the table many times and to
// make probe runs wrap around its end.
TEST(ConnectionTableTest, AgreesWithAMapThroughGrowthErasesAndSweeps) {
  std::mt19937_64 random(42);
  ConnectionTable table;
  Reference reference;
  uint64_t next_cookie = 1;
  for (int round = 0; round < 40; ++round) {
    int inserts = static_cast<int>(random() % 3000);
    for (int i = 0; i < inserts; ++i) {
      ConnectionKey key =
          random() % 10 == 0 ? TupleKey(random() % 500, random() % 4) : CookieKey(next_cookie++);
      double start = static_cast<double>(random() % 100000);
      auto [tracked, inserted] = table.try_emplace(key);
      bool reference_inserted = reference.try_emplace(key).second;
      ASSERT_EQ(inserted, reference_inserted);
      *tracked = {start, AgeSource::kFirstSeen};
      reference[key] = {start, AgeSource::kFirstSeen};
    }
    int erases = static_cast<int>(random() % 500);
    for (int i = 0; i < erases; ++i) {
      ConnectionKey key = CookieKey(1 + random() % next_cookie);
      ASSERT_EQ(table.erase(key), reference.erase(key));
    }
    // A sweep drops about half; every entry is visited exactly once.
    uint64_t parity = random() % 2;
    size_t visits = 0;
    table.Sweep([&](const ConnectionKey& key, TrackedConnection&) {
      ++visits;
      return (key.cookie + key.inode) % 2 == parity;
    });
    EXPECT_EQ(visits, reference.size());
    std::erase_if(reference, [&](const auto& entry) {
      return (entry.first.cookie + entry.first.inode) % 2 != parity;
    });
    ExpectSame(table, reference);
  }
  EXPECT_GT(next_cookie, 20000u);
}

TEST(ConnectionTableTest, ClearEmptiesAndTheTableIsUsableAgain) {
  ConnectionTable table;
  for (uint64_t cookie = 1; cookie <= 1000; ++cookie)
    table[CookieKey(cookie)].source = AgeSource::kProcessStart;
  table.clear();
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.begin(), table.end());
  table[CookieKey(5)] = {3, AgeSource::kFirstSeen};
  EXPECT_EQ(table.size(), 1u);
}

TEST(ConnectionTableTest, AMovedFromTableIsEmptyAndUsable) {
  ConnectionTable table;
  for (uint64_t cookie = 1; cookie <= 100; ++cookie)
    table[CookieKey(cookie)].start_boot_seconds = 1;
  table[TupleKey(1, 1)].start_boot_seconds = 2;
  ConnectionTable moved = std::move(table);
  EXPECT_EQ(moved.size(), 101u);
  EXPECT_EQ(table.size(), 0u);  // NOLINT(bugprone-use-after-move): what this test checks
  EXPECT_EQ(table.begin(), table.end());
  size_t visits = 0;
  table.Sweep([&](const ConnectionKey&, TrackedConnection&) { return ++visits > 0; });
  EXPECT_EQ(visits, 0u);
  table[CookieKey(5)].start_boot_seconds = 3;
  EXPECT_EQ(table.size(), 1u);
  ConnectionTable assigned;
  assigned[CookieKey(500)].start_boot_seconds = 4;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.size(), 101u);
  EXPECT_FALSE(assigned.contains(CookieKey(500)));
  EXPECT_EQ(moved.size(), 0u);  // NOLINT(bugprone-use-after-move)
}

TEST(ConnectionKeyListTest, KeepsCookieAndTupleKeys) {
  ConnectionKeyList list;
  list.push_back(CookieKey(9));
  list.push_back(TupleKey(3, 80));
  list.push_back(CookieKey(11));
  std::vector<ConnectionKey> seen;
  list.ForEach([&](const ConnectionKey& key) { seen.push_back(key); });
  ASSERT_EQ(list.size(), 3u);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], CookieKey(9));
  EXPECT_EQ(seen[1], CookieKey(11));
  EXPECT_EQ(seen[2], TupleKey(3, 80));
  list.clear();
  EXPECT_TRUE(list.empty());
}

}  // namespace
}  // namespace connwatch
