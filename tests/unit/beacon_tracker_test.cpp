// Per-pair connection starts and their beacon scores (tracking/beacon_tracker.h), and the
// tracker's persisted text.
#include "tracking/beacon_tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tracking/beacon_score.h"

namespace connwatch {
namespace {

BeaconPair Pair(const std::string& process, uint16_t port = 443) {
  return {process, "prod", "web-1", "app", "internet", *ParseIpAddress("203.0.113.7"), port};
}

// `count` starts every `period` seconds from `first`.
void Beat(BeaconTracker& tracker, const BeaconPair& pair, double first, double period, int count) {
  for (int i = 0; i < count; ++i) tracker.Observe(pair, first + period * i);
}

std::vector<double> StartsOf(const BeaconTracker& tracker, const BeaconPair& wanted) {
  std::vector<double> out;
  tracker.ForEachOldestFirst([&](const BeaconPair& pair, const std::vector<double>& starts) {
    if (pair == wanted) out = starts;
  });
  return out;
}

TEST(BeaconTracker, EvictsTheLeastRecentlyObservedPairAndCountsIt) {
  BeaconTracker tracker(3);
  tracker.Observe(Pair("a"), 1);
  tracker.Observe(Pair("b"), 2);
  tracker.Observe(Pair("c"), 3);
  tracker.Observe(Pair("a"), 4);  // a is now the most recent, b the least
  EXPECT_EQ(tracker.pairs(), 3u);
  EXPECT_EQ(tracker.evicted(), 0u);
  tracker.Observe(Pair("d"), 5);
  EXPECT_EQ(tracker.pairs(), 3u);
  EXPECT_EQ(tracker.evicted(), 1u);
  EXPECT_TRUE(StartsOf(tracker, Pair("b")).empty());
  EXPECT_EQ(StartsOf(tracker, Pair("a")), (std::vector<double>{1, 4}));
  tracker.Observe(Pair("e"), 6);  // c goes next
  EXPECT_EQ(tracker.evicted(), 2u);
  EXPECT_TRUE(StartsOf(tracker, Pair("c")).empty());
  EXPECT_EQ(StartsOf(tracker, Pair("d")), (std::vector<double>{5}));
}

TEST(BeaconTracker, KeepsTheMostRecentStartsOfAPair) {
  BeaconTracker tracker;
  Beat(tracker, Pair("a"), 0, 1, kBeaconStartsPerPair + 10);
  std::vector<double> starts = StartsOf(tracker, Pair("a"));
  ASSERT_EQ(starts.size(), kBeaconStartsPerPair);
  EXPECT_EQ(starts.front(), 10);
  EXPECT_EQ(starts.back(), kBeaconStartsPerPair + 9);
  tracker.Observe(Pair("a"), std::numeric_limits<double>::quiet_NaN());
  tracker.Observe(Pair("a"), -1);
  EXPECT_EQ(StartsOf(tracker, Pair("a")).back(), kBeaconStartsPerPair + 9);
}

TEST(BeaconTracker, ExpireDropsOldStartsAndEmptyPairs) {
  BeaconTracker tracker;
  Beat(tracker, Pair("old"), 100, 60, 5);    // 100..340
  Beat(tracker, Pair("both"), 100, 60, 20);  // 100..1240
  tracker.Expire(600, 1000);                 // keeps starts >= 400
  EXPECT_EQ(tracker.pairs(), 1u);
  std::vector<double> starts = StartsOf(tracker, Pair("both"));
  ASSERT_FALSE(starts.empty());
  EXPECT_EQ(starts.front(), 400);  // a start at the cutoff stays
  EXPECT_EQ(starts.size(), 15u);
  tracker.Expire(600, 10000);
  EXPECT_EQ(tracker.pairs(), 0u);
}

TEST(BeaconTracker, ScoresOnlyPairsWithEnoughStartsInTheWindow) {
  BeaconTracker tracker;
  Beat(tracker, Pair("beacon"), 1000, 60, 12);  // 1000..1660
  Beat(tracker, Pair("few"), 1000, 60, 11);
  auto results = tracker.Score(3600, 12, 1700);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].pair, Pair("beacon"));
  EXPECT_DOUBLE_EQ(results[0].score, 1);
  EXPECT_EQ(results[0].connections, 12u);
  EXPECT_DOUBLE_EQ(results[0].median_interval, 60);
  EXPECT_DOUBLE_EQ(results[0].last_start_unix, 1660);
  // The window cuts the first two starts: 10 left, below the gate.
  EXPECT_TRUE(tracker.Score(600, 12, 1660 + 60 * 0.5).empty());
  EXPECT_EQ(tracker.Score(600, 10, 1690).size(), 1u);
  EXPECT_EQ(tracker.Score(600, 9, 1690).size(), 2u);  // few has 9 left
  // Enough starts but too few beats (bursts of 4 at one time): not scored, not returned.
  BeaconTracker bursts;
  for (int beat = 0; beat < 3; ++beat)
    for (int i = 0; i < 4; ++i) bursts.Observe(Pair("burst"), 1000 + 60 * beat);
  EXPECT_TRUE(bursts.Score(3600, 12, 1200).empty());
}

TEST(BeaconTracker, AnUnchangedPairIsNotRescored) {
  BeaconTracker tracker;
  Beat(tracker, Pair("a"), 1000, 60, 20);  // 1000..2140
  Beat(tracker, Pair("b"), 1010, 45, 20);
  EXPECT_EQ(tracker.Score(3600, 12, 2200).size(), 2u);
  EXPECT_EQ(tracker.rescored(), 2u);
  EXPECT_EQ(tracker.Score(3600, 12, 2210).size(), 2u);  // the same starts in the window
  EXPECT_EQ(tracker.rescored(), 2u);
  tracker.Expire(3600, 2210);  // drops nothing inside the window
  tracker.Score(3600, 12, 2210);
  EXPECT_EQ(tracker.rescored(), 2u);
  tracker.Observe(Pair("a"), 2200);
  auto results = tracker.Score(3600, 12, 2220);
  EXPECT_EQ(tracker.rescored(), 3u);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].pair, Pair("a"));  // most recently observed first
  EXPECT_EQ(results[0].connections, 21u);
  // The window moves past a's first start: a new set of starts, a new score.
  tracker.Score(3600, 12, 1011 + 3600);
  EXPECT_EQ(tracker.rescored(), 5u);  // a and b both lost their first start
}

// A full ring that wraps with starts out of order: the oldest start it still holds decides
// what Expire drops, not the oldest observed.
TEST(BeaconTracker, ExpireFindsTheOldestStartOfAWrappedRingOutOfOrder) {
  BeaconTracker tracker;
  tracker.Observe(Pair("a"), 500);  // early, then much earlier
  tracker.Observe(Pair("a"), 100);
  for (size_t i = 2; i < kBeaconStartsPerPair + 2; ++i)  // the two first are overwritten
    tracker.Observe(Pair("a"), 1000 + static_cast<double>(i));
  tracker.Expire(600, 1602);  // cutoff 1002: keeps every start left
  EXPECT_EQ(StartsOf(tracker, Pair("a")).size(), kBeaconStartsPerPair);
  tracker.Observe(Pair("a"), 900);  // out of order again, then overwritten in its turn
  tracker.Expire(600, 1600);        // cutoff 1000: drops 900 alone
  std::vector<double> starts = StartsOf(tracker, Pair("a"));
  EXPECT_EQ(starts.size(), kBeaconStartsPerPair - 1);
  EXPECT_EQ(*std::min_element(starts.begin(), starts.end()), 1003);
}

// Over max_rescores, the pairs scored longest ago go first (never scored before all); the
// others keep their last score, or wait unreturned when they have none.
TEST(BeaconTracker, RescoresAtMostMaxRescoresAPairsScoredLongestAgoFirst) {
  BeaconTracker tracker;
  for (const char* name : {"a", "b", "c"}) Beat(tracker, Pair(name), 1000, 60, 20);
  auto first = tracker.Score(3600, 12, 2200, 2);
  EXPECT_EQ(first.size(), 2u);
  EXPECT_EQ(tracker.backlog(), 1u);
  EXPECT_EQ(tracker.rescored(), 2u);
  auto second = tracker.Score(3600, 12, 2200, 2);
  EXPECT_EQ(second.size(), 3u) << "the third scored now";
  EXPECT_EQ(tracker.backlog(), 0u);
  EXPECT_EQ(tracker.rescored(), 3u) << "the first two were up to date";
  // The one the first call left was scored last: when all three change, it is the one left
  // now, with its old score (its last start still the one before the change).
  std::string last;
  for (const BeaconResult& result : second)
    if (std::none_of(first.begin(), first.end(),
                     [&](const BeaconResult& r) { return r.pair == result.pair; }))
      last = result.pair.process;
  ASSERT_FALSE(last.empty());
  for (const char* name : {"a", "b", "c"}) tracker.Observe(Pair(name), 2300);
  auto third = tracker.Score(3600, 12, 2400, 2);
  EXPECT_EQ(tracker.backlog(), 1u);
  ASSERT_EQ(third.size(), 3u);
  for (const BeaconResult& result : third) {
    EXPECT_EQ(result.connections, 21u) << "the count is always today's";
    EXPECT_EQ(result.last_start_unix, result.pair.process == last ? 2140 : 2300)
        << result.pair.process;
  }
  auto fourth = tracker.Score(3600, 12, 2400, 2);
  EXPECT_EQ(tracker.backlog(), 0u);
  EXPECT_EQ(tracker.rescored(), 6u);
  for (const BeaconResult& result : fourth) EXPECT_EQ(result.last_start_unix, 2300);
}

TEST(BeaconTracker, StaysBoundedUnderManyPairs) {
  BeaconTracker tracker(4096);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100000; ++i) {
    BeaconPair pair = Pair("p" + std::to_string(rng() % 10000));  // 10k pairs
    tracker.Observe(pair, 1000 + i * 0.01);
  }
  EXPECT_EQ(tracker.pairs(), 4096u);
  EXPECT_GT(tracker.evicted(), 40000u);  // about 6 in 10 observations miss 4096 of 10k
  size_t starts = 0, most = 0;
  tracker.ForEachOldestFirst([&](const BeaconPair&, const std::vector<double>& s) {
    starts += s.size();
    most = std::max(most, s.size());
  });
  EXPECT_LE(most, kBeaconStartsPerPair);
  EXPECT_LE(starts, 4096 * kBeaconStartsPerPair);
  tracker.Score(3600, 12, 3000);
  tracker.Expire(1, 3000);
  EXPECT_EQ(tracker.pairs(), 0u);
}

TEST(BeaconState, RoundTripsEveryPairItsStartsAndTheirOrder) {
  BeaconTracker tracker(8);
  BeaconPair hostile{"\xff\xfe\tname\\with\nnewline", "", "pod\\t", "c", "internet",
                     *ParseIpAddress("2001:db8::1"),  0};
  tracker.Observe(Pair("a"), 1700000000.123456);
  tracker.Observe(hostile, 0.1);
  tracker.Observe(Pair("a", 65535), 0);
  tracker.Observe(Pair("a"), 1700000060.5);  // a is the most recent again
  std::string text = FormatBeaconState(tracker);
  std::string error;
  auto back = ParseBeaconState(text, 8, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(FormatBeaconState(*back), text);
  EXPECT_EQ(back->pairs(), 3u);
  EXPECT_EQ(StartsOf(*back, hostile), (std::vector<double>{0.1}));
  EXPECT_EQ(StartsOf(*back, Pair("a")), (std::vector<double>{1700000000.123456, 1700000060.5}));
  // Recency survives: one more pair in a tracker of 3 evicts hostile, the least recent.
  auto small = ParseBeaconState(text, 3, error);
  ASSERT_TRUE(small) << error;
  small->Observe(Pair("new"), 1);
  EXPECT_TRUE(StartsOf(*small, hostile).empty());
  EXPECT_FALSE(StartsOf(*small, Pair("a", 65535)).empty());
  EXPECT_EQ(FormatBeaconState(BeaconTracker()), "# connwatch beacon state 1\n");
}

TEST(BeaconState, ARingFullOfStartsRoundTrips) {
  BeaconTracker tracker;
  Beat(tracker, Pair("a"), 1e9, 0.001, kBeaconStartsPerPair + 5);
  std::string error;
  auto back = ParseBeaconState(FormatBeaconState(tracker), 10, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(StartsOf(*back, Pair("a")), StartsOf(tracker, Pair("a")));
}

// The fuzz harness's seed (tests/fixtures/beacon_state/PROVENANCE.md).
TEST(BeaconState, TheFixtureIsWhatTheFormatterWrites) {
  std::ifstream in(std::string(CONNWATCH_FIXTURES_DIR) + "/beacon_state/two_pairs.state");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  std::string error;
  auto tracker = ParseBeaconState(text, 10, error);
  ASSERT_TRUE(tracker) << error;
  EXPECT_EQ(FormatBeaconState(*tracker), text);
  BeaconPair hostile{"bad\\name\t\xff\xfe",          "prod", "web-1", "app", "private",
                     *ParseIpAddress("2001:db8::1"), 8443};
  EXPECT_EQ(StartsOf(*tracker, hostile), (std::vector<double>{1764780000.5, 1764780030.125}));
  BeaconPair curl{"curl", "", "", "", "internet", *ParseIpAddress("203.0.113.7"), 443};
  EXPECT_EQ(StartsOf(*tracker, curl).size(), 4u);
}

std::string Refusal(const std::string& body, size_t max_pairs = 10) {
  std::string error;
  auto tracker = ParseBeaconState("# connwatch beacon state 1\n" + body, max_pairs, error);
  return tracker ? "accepted" : error;
}

TEST(BeaconState, RefusesWhatTheFormatterNeverWrites) {
  const std::string good = "p\tns\tpod\tc\tinternet\t203.0.113.7\t443\t1.5\t2\n";
  EXPECT_EQ(Refusal(good), "accepted");
  std::string error;
  EXPECT_FALSE(ParseBeaconState("# connwatch beacon state 2\n", 10, error));
  EXPECT_EQ(error, "line 1: not a connwatch beacon state 1 file");
  EXPECT_EQ(Refusal(good + good), "line 3: the pair of an earlier line");
  EXPECT_EQ(Refusal(good.substr(0, good.size() - 1)), "line 2: no newline at the end (torn)");
  EXPECT_EQ(Refusal("p\tns\tpod\tc\tinternet\t203.0.113.7\t443\n"), "line 2: too few fields");
  EXPECT_EQ(Refusal("p\\x\tns\tpod\tc\tinternet\t203.0.113.7\t443\t1\n"), "line 2: bad escape");
  EXPECT_EQ(Refusal("p\tns\tpod\tc\tinternet\t203.0.113.300\t443\t1\n"), "line 2: bad address");
  EXPECT_EQ(Refusal("p\tns\tpod\tc\tinternet\t2001:DB8::1\t443\t1\n"), "line 2: bad address");
  for (const char* port : {"65536", "-1", "0443", "+443", "", "x"})
    EXPECT_EQ(Refusal(std::string("p\tns\tpod\tc\tz\t203.0.113.7\t") + port + "\t1\n"),
              "line 2: bad port")
        << port;
  for (const char* start : {"-1", "-0", "nan", "inf", "1e999", "1.50", " 1", "1x", ""})
    EXPECT_EQ(Refusal(std::string("p\tns\tpod\tc\tz\t203.0.113.7\t443\t2\t") + start + "\n"),
              "line 2: bad start time in field 9")
        << start;
  std::string many = "p\tns\tpod\tc\tz\t203.0.113.7\t443";
  for (size_t i = 0; i <= kBeaconStartsPerPair; ++i) many += "\t" + std::to_string(i);
  EXPECT_EQ(Refusal(many + "\n"), "line 2: more than 128 starts");
  EXPECT_EQ(Refusal(good + "q" + good, 1), "line 3: more than 1 pairs");
  EXPECT_EQ(Refusal(good + "\n"), "line 3: too few fields");
}

}  // namespace
}  // namespace connwatch
