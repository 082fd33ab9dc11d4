#include "sources/inode_cookie_map.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace connwatch {
namespace {

// Many samples of a churning socket table: Record answers exactly "the previous sample had
// this inode with this cookie" (kept by a std::unordered_map), and the table stays bounded
// however many inodes came and went.
TEST(InodeCookieMapTest, AnswersWhatThePreviousSampleHadThroughChurn) {
  std::mt19937_64 random(7);
  InodeCookieMap map;
  std::unordered_map<uint64_t, uint64_t> previous;  // inode -> cookie, last sample
  uint64_t next_inode = 1000;
  std::vector<std::pair<uint64_t, uint64_t>> table;  // the "socket table" of a sample
  size_t answered_same = 0, answered_not = 0;
  for (int sample = 0; sample < 200; ++sample) {
    // Close some sockets, open others, give some inodes another socket (cookie).
    std::vector<std::pair<uint64_t, uint64_t>> next;
    for (const auto& [inode, cookie] : table) {
      uint64_t roll = random() % 100;
      if (roll < 10) continue;                                  // closed
      next.emplace_back(inode, roll < 13 ? random() : cookie);  // reused inode
    }
    size_t target = sample % 50 < 25 ? 3000 : 300;  // grow and shrink
    while (next.size() < target) next.emplace_back(next_inode += 1 + random() % 3, random());
    // A socket gone for one sample and back with its old cookie is not "the same": the
    // previous sample did not have it.
    if (sample % 7 == 3 && !table.empty()) next.push_back(table.front());
    table = std::move(next);

    // Sometimes announced too low: the table then grows while recording.
    map.BeginSample(sample % 3 == 0 ? table.size() / 10 : table.size());
    std::unordered_map<uint64_t, uint64_t> now;
    for (const auto& [inode, cookie] : table) {
      if (now.count(inode) != 0) continue;  // listed twice: see the other test
      auto it = previous.find(inode);
      bool expected = it != previous.end() && it->second == cookie;
      ASSERT_EQ(map.Record(inode, cookie), expected) << "sample " << sample << " inode " << inode;
      (expected ? answered_same : answered_not) += 1;
      now[inode] = cookie;
    }
    for (const auto& [inode, cookie] : now) ASSERT_TRUE(map.RecordedNow(inode)) << inode;
    for (const auto& [inode, cookie] : previous) {
      if (now.count(inode) == 0) {
        ASSERT_FALSE(map.RecordedNow(inode)) << inode;
      }
    }
    previous = std::move(now);
    // At most 3/4 used by live and recent inodes: never more than 4x the largest sample.
    ASSERT_LE(map.capacity(), 16384u) << "sample " << sample;
  }
  EXPECT_GT(answered_same, 100000u);
  EXPECT_GT(answered_not, 10000u);
}

TEST(InodeCookieMapTest, EdgeCases) {
  InodeCookieMap map;
  EXPECT_FALSE(map.RecordedNow(5)) << "a map never used has nothing";
  EXPECT_FALSE(map.Record(9, 1)) << "recording before any BeginSample works";
  EXPECT_TRUE(map.RecordedNow(9));
  map.BeginSample(4);
  EXPECT_FALSE(map.Record(0, 1)) << "inode 0: no file, never stored";
  EXPECT_FALSE(map.RecordedNow(0));
  const uint64_t wide = (uint64_t{1} << 32) + 5;  // no sockfs inode: never stored
  EXPECT_FALSE(map.Record(wide, 1));
  EXPECT_FALSE(map.Record(5, 1));
  EXPECT_FALSE(map.RecordedNow(wide));
  EXPECT_TRUE(map.RecordedNow(5)) << "inode 5 and 2^32+5 are not confused";
  map.BeginSample(4);
  EXPECT_FALSE(map.Record(wide, 1));
  EXPECT_TRUE(map.Record(5, 1));
  // Twice in one sample: the second sighting compares with the first, which stands.
  EXPECT_TRUE(map.Record(5, 1));
  EXPECT_FALSE(map.Record(5, 2));
  map.BeginSample(4);
  EXPECT_TRUE(map.Record(5, 1)) << "the first sighting's cookie was kept";
  map.BeginSample(4);
  map.BeginSample(4);
  EXPECT_FALSE(map.Record(5, 1)) << "a sample without it in between";
}

}  // namespace
}  // namespace connwatch
