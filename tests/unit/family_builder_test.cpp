// FamilyBuilder: how series accumulate (Add, Set, Max), how hostile label bytes are cleaned
// (and merge when they clean alike), what the cap keeps and counts, and SingleSeries.
#include "metrics/family_builder.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace connwatch {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

// FamilyBuilder keeps a reference to its Info: these live as long as the test binary.
constexpr metric::Info kTestGauge{"connwatch_test_gauge", "A gauge for the tests."};
constexpr metric::Info kTestCounter{"connwatch_test_total", "A counter for the tests."};

constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Each series as (label values, value), in output order; checks the label names on the way.
using Series = std::vector<std::pair<std::vector<std::string>, double>>;
Series SeriesOf(const MetricFamily& family, const std::vector<std::string>& label_names) {
  Series series;
  for (const prometheus::ClientMetric& metric : family.metric) {
    std::vector<std::string> values;
    EXPECT_EQ(metric.label.size(), label_names.size());
    for (size_t i = 0; i < metric.label.size() && i < label_names.size(); ++i) {
      EXPECT_EQ(metric.label[i].name, label_names[i]);
      values.push_back(metric.label[i].value);
    }
    double value = family.type == MetricType::Counter ? metric.counter.value : metric.gauge.value;
    series.emplace_back(std::move(values), value);
  }
  return series;
}

MetricFamily BuildUncapped(const FamilyBuilder& builder) {
  std::map<std::string, uint64_t> dropped;
  MetricFamily family = builder.Build(1000, dropped);
  EXPECT_TRUE(dropped.empty());
  return family;
}

TEST(FamilyBuilderTest, AddSumsSetOverwritesMaxKeepsTheLargest) {
  FamilyBuilder builder(kTestGauge, MetricType::Gauge, {"process"});
  builder.Add({"added"}, 2);
  builder.Add({"added"}, 3.5);
  builder.Add({"added"}, -1);
  builder.Set({"set"}, 10);
  builder.Set({"set"}, 4);
  builder.Max({"max"}, -3);  // the first value stands, whatever it is
  builder.Max({"max"}, -7);
  builder.Max({"max"}, 9);
  builder.Max({"max"}, 8);
  builder.Max({"max_once"}, -2);
  builder.Set({"set_then_added"}, 5);
  builder.Add({"set_then_added"}, 1);
  MetricFamily family = BuildUncapped(builder);
  EXPECT_EQ(family.name, "connwatch_test_gauge");
  EXPECT_EQ(family.help, "A gauge for the tests.");
  EXPECT_EQ(family.type, MetricType::Gauge);
  EXPECT_EQ(SeriesOf(family, {"process"}), (Series{{{"added"}, 4.5},
                                                   {{"max"}, 9},
                                                   {{"max_once"}, -2},
                                                   {{"set"}, 4},
                                                   {{"set_then_added"}, 6}}));
}

TEST(FamilyBuilderTest, SeriesAreSortedByLabelsAndNamedInOrder) {
  FamilyBuilder builder(kTestGauge, MetricType::Gauge, {"process", "direction"});
  builder.Set({"sshd", "inbound"}, 1);
  builder.Set({"curl", "outbound"}, 2);
  builder.Set({"curl", "inbound"}, 3);
  builder.Set({"Zebra", "outbound"}, 4);  // bytewise: upper case first
  EXPECT_EQ(SeriesOf(BuildUncapped(builder), {"process", "direction"}),
            (Series{{{"Zebra", "outbound"}, 4},
                    {{"curl", "inbound"}, 3},
                    {{"curl", "outbound"}, 2},
                    {{"sshd", "inbound"}, 1}}));
}

TEST(FamilyBuilderTest, InvalidUtf8BecomesTheReplacementCharacter) {
  FamilyBuilder builder(kTestGauge, MetricType::Gauge, {"process", "exe"});
  builder.Set({"bad\xff", "\xc3"}, 1);            // a stray byte, a sequence cut short
  builder.Set({"ok \xc3\xa9", "/usr/bin/x"}, 2);  // valid UTF-8 is kept as it is
  EXPECT_EQ(SeriesOf(BuildUncapped(builder), {"process", "exe"}),
            (Series{{{std::string("bad") + kReplacement, kReplacement}, 1},
                    {{"ok \xc3\xa9", "/usr/bin/x"}, 2}}));
}

TEST(FamilyBuilderTest, RawValuesThatCleanAlikeAreOneSeries) {
  FamilyBuilder builder(kTestGauge, MetricType::Gauge, {"process"});
  builder.Add({"x\xff"}, 1);
  builder.Add({"x\xfe"}, 2);
  builder.Add({std::string("x") + kReplacement}, 4);  // what the others clean to
  builder.Max({"y\x80"}, 5);
  builder.Max({"y\x81"}, 3);
  builder.Set({"z\xff"}, 1);
  builder.Set({"z\xc0"}, 7);
  EXPECT_EQ(SeriesOf(BuildUncapped(builder), {"process"}),
            (Series{{{std::string("x") + kReplacement}, 7},
                    {{std::string("y") + kReplacement}, 5},
                    {{std::string("z") + kReplacement}, 7}}));
}

TEST(FamilyBuilderTest, TheCapKeepsTheLargestWithTiesToTheFirstLabels) {
  FamilyBuilder builder(kTestGauge, MetricType::Gauge, {"process"});
  // Added in an order unrelated to labels or values.
  builder.Set({"e"}, 2);
  builder.Set({"d"}, 5);
  builder.Set({"a"}, 1);
  builder.Set({"c"}, 5);
  builder.Set({"f"}, 9);
  builder.Set({"b"}, 5);
  std::map<std::string, uint64_t> dropped = {{"connwatch_other", 4}, {"connwatch_test_gauge", 10}};
  MetricFamily family = builder.Build(3, dropped);
  // f (9) and two of the tied b, c, d: the first by label, whatever the insertion order.
  EXPECT_EQ(SeriesOf(family, {"process"}), (Series{{{"b"}, 5}, {{"c"}, 5}, {{"f"}, 9}}));
  EXPECT_EQ(dropped, (std::map<std::string, uint64_t>{{"connwatch_other", 4},
                                                      {"connwatch_test_gauge", 13}}));
  // The same choice every time (from sample to sample).
  std::map<std::string, uint64_t> again;
  EXPECT_EQ(SeriesOf(builder.Build(3, again), {"process"}), SeriesOf(family, {"process"}));
  EXPECT_EQ(again, (std::map<std::string, uint64_t>{{"connwatch_test_gauge", 3}}));
}

TEST(FamilyBuilderTest, TheCapCountsPerFamilyName) {
  FamilyBuilder gauge(kTestGauge, MetricType::Gauge, {"process"});
  FamilyBuilder counter(kTestCounter, MetricType::Counter, {"process"});
  for (int i = 0; i < 10; ++i) {
    gauge.Set({"p" + std::to_string(i)}, i);
    counter.Add({"p" + std::to_string(i)}, i);
  }
  std::map<std::string, uint64_t> dropped;
  EXPECT_EQ(gauge.Build(10, dropped).metric.size(), 10u);  // exactly at the cap: no drop
  EXPECT_TRUE(dropped.empty());
  EXPECT_EQ(gauge.Build(7, dropped).metric.size(), 7u);
  EXPECT_EQ(counter.Build(1, dropped).metric.size(), 1u);
  EXPECT_EQ(gauge.Build(0, dropped).metric.size(), 0u);
  EXPECT_EQ(dropped, (std::map<std::string, uint64_t>{{"connwatch_test_gauge", 3 + 10},
                                                      {"connwatch_test_total", 9}}));
  std::map<std::string, uint64_t> kept;
  EXPECT_EQ(SeriesOf(counter.Build(2, kept), {"process"}), (Series{{{"p8"}, 8}, {{"p9"}, 9}}));
}

TEST(FamilyBuilderTest, CountersAndGaugesFillTheirOwnField) {
  FamilyBuilder counter(kTestCounter, MetricType::Counter, {"kind"});
  counter.Add({"a"}, 3);
  MetricFamily counted = BuildUncapped(counter);
  EXPECT_EQ(counted.type, MetricType::Counter);
  ASSERT_EQ(counted.metric.size(), 1u);
  EXPECT_EQ(counted.metric[0].counter.value, 3);
  EXPECT_EQ(counted.metric[0].gauge.value, 0);

  FamilyBuilder gauge(kTestGauge, MetricType::Gauge, {"kind"});
  gauge.Set({"a"}, 3);
  MetricFamily gauged = BuildUncapped(gauge);
  EXPECT_EQ(gauged.type, MetricType::Gauge);
  ASSERT_EQ(gauged.metric.size(), 1u);
  EXPECT_EQ(gauged.metric[0].gauge.value, 3);
  EXPECT_EQ(gauged.metric[0].counter.value, 0);
}

TEST(FamilyBuilderTest, NoLabelsIsOneUnlabelledSeries) {
  FamilyBuilder builder(kTestGauge, MetricType::Gauge, {});
  EXPECT_TRUE(BuildUncapped(builder).metric.empty()) << "nothing set: no series";
  builder.Add({}, 1);
  builder.Add({}, 2);
  MetricFamily family = BuildUncapped(builder);
  ASSERT_EQ(family.metric.size(), 1u);
  EXPECT_TRUE(family.metric[0].label.empty());
  EXPECT_EQ(family.metric[0].gauge.value, 3);
}

TEST(SingleSeriesTest, OneSeriesWithoutLabelsOfEitherType) {
  MetricFamily counter = SingleSeries(kTestCounter, MetricType::Counter, 42);
  EXPECT_EQ(counter.name, "connwatch_test_total");
  EXPECT_EQ(counter.help, "A counter for the tests.");
  EXPECT_EQ(counter.type, MetricType::Counter);
  ASSERT_EQ(counter.metric.size(), 1u);
  EXPECT_TRUE(counter.metric[0].label.empty());
  EXPECT_EQ(counter.metric[0].counter.value, 42);
  EXPECT_EQ(counter.metric[0].gauge.value, 0);

  MetricFamily gauge = SingleSeries(kTestGauge, MetricType::Gauge, -1.5);
  EXPECT_EQ(gauge.name, "connwatch_test_gauge");
  EXPECT_EQ(gauge.type, MetricType::Gauge);
  ASSERT_EQ(gauge.metric.size(), 1u);
  EXPECT_EQ(gauge.metric[0].gauge.value, -1.5);
  EXPECT_EQ(gauge.metric[0].counter.value, 0);
}

}  // namespace
}  // namespace connwatch
