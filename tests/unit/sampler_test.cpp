// A real Sampler over a fake /proc (sockets from its net/tcp, owners from its fd links, its
// boot id), with real state files and a real policy file in temp directories: what each
// sample publishes, what it persists and restores, and the background thread's life.
#include "sampler/sampler.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "support/fake_proc.h"
#include "support/proc_net_text.h"
#include "tracking/state_store.h"

namespace connwatch {
namespace {

using std::chrono::milliseconds;
using testing::FakeProc;

constexpr const char* kBoot = "4c1d7f3e-9a2b-4e6f-8d10-7b3a5c9e1f24";

// The value of the series written exactly as `series` (name and labels); nullopt if absent.
std::optional<double> SeriesValue(const std::string& text, const std::string& series) {
  std::string prefix = series + " ";
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    if (text.compare(at, prefix.size(), prefix) == 0) {
      return std::stod(text.substr(at + prefix.size(), end - at - prefix.size()));
    }
    at = end + 1;
  }
  return std::nullopt;
}

class SamplerFakeProcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A listener and three connection sockets (two are the ends of one loopback connection).
    testing::WriteProcNet(proc_, {
                                     {"0.0.0.0", 22, "0.0.0.0", 0, 10, 501},
                                     {"10.0.0.1", 22, "10.0.0.9", 50000, 1, 502},
                                     {"127.0.0.1", 40000, "127.0.0.1", 8080, 1, 503},
                                     {"127.0.0.1", 8080, "127.0.0.1", 40000, 1, 504},
                                 });
    testing::WriteBootId(proc_, kBoot);
    proc_.AddProcess(100);
    char pattern[] = "/tmp/connwatch-sampler-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // The sockets' owners: the listener and every connection held by pid 100.
  void OwnEverything() {
    int fd = 3;
    for (uint64_t inode : {501, 502, 503, 504}) proc_.AddSocket(100, fd++, inode);
  }

  SamplerOptions Options(const std::string& storage = "") const {
    SamplerOptions options;
    options.snapshot.procfs = proc_.root();
    options.snapshot.source_mode = SourceMode::kProcfs;
    options.storage_path = storage;
    return options;
  }

  static std::string TextOf(const Sampler& sampler) {
    std::shared_ptr<const Exposition> latest = sampler.Latest();
    EXPECT_NE(latest, nullptr);
    return latest ? latest->text() : "";
  }

  static std::optional<double> AgeSources(const std::string& text, const char* source) {
    return SeriesValue(text,
                       std::string("connwatch_connection_age_sources{source=\"") + source + "\"}");
  }

  FakeProc proc_;
  std::string dir_;
};

TEST_F(SamplerFakeProcTest, NothingIsPublishedBeforeTheFirstSample) {
  Sampler sampler(Options());
  EXPECT_EQ(sampler.Latest(), nullptr);
}

TEST_F(SamplerFakeProcTest, EachSamplePublishesANewExposition) {
  OwnEverything();
  Sampler sampler(Options());
  sampler.SampleOnce();
  std::shared_ptr<const Exposition> first = sampler.Latest();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(SeriesValue(first->text(), "connwatch_samples_total"), 1);
  EXPECT_EQ(
      SeriesValue(first->text(), "connwatch_socket_source_info{source=\"procfs\",fallback=\"0\"}"),
      1);
  EXPECT_EQ(SeriesValue(first->text(), "connwatch_collector_success{collector=\"proc_net\"}"), 1);
  EXPECT_EQ(SeriesValue(first->text(), "connwatch_collector_success{collector=\"proc_fd\"}"), 1);
  EXPECT_EQ(AgeSources(first->text(), "process_start"), 3) << "a cold start, all owned";
  EXPECT_FALSE(first->gzipped().empty());

  sampler.SampleOnce();
  std::shared_ptr<const Exposition> second = sampler.Latest();
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second, first);
  EXPECT_EQ(SeriesValue(second->text(), "connwatch_samples_total"), 2);
  // A scrape that still holds the old one keeps reading it whole.
  EXPECT_EQ(SeriesValue(first->text(), "connwatch_samples_total"), 1);
}

TEST_F(SamplerFakeProcTest, WithoutStorageNothingIsWritten) {
  Sampler sampler(Options());
  sampler.SampleOnce();
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

TEST_F(SamplerFakeProcTest, TheStateIsWrittenAndASecondSamplerRestoresFirstSightings) {
  {
    // First seen unowned: first_seen ages, persisted.
    Sampler first(Options(dir_));
    first.SampleOnce();
    EXPECT_EQ(AgeSources(TextOf(first), "first_seen"), 3);
    EXPECT_EQ(AgeSources(TextOf(first), "process_start"), 0);
  }
  std::string error;
  std::optional<TrackerState> saved = LoadTrackerState(StatePathIn(dir_), error);
  ASSERT_TRUE(saved.has_value()) << "no " << StatePathIn(dir_) << ": " << error;
  EXPECT_EQ(saved->boot_id, kBoot);
  EXPECT_EQ(saved->entries.size(), 3u);

  // Now owned. A cold start would bound them by the owner's start; restored, they keep
  // their first sightings.
  OwnEverything();
  Sampler restored(Options(dir_));
  restored.SampleOnce();
  std::string text = TextOf(restored);
  EXPECT_EQ(AgeSources(text, "first_seen"), 3) << text;
  EXPECT_EQ(AgeSources(text, "process_start"), 0);
  EXPECT_EQ(SeriesValue(text, "connwatch_state_errors_total{op=\"load\",file=\"connections\"}"), 0);
  EXPECT_EQ(SeriesValue(text, "connwatch_state_errors_total{op=\"save\",file=\"connections\"}"), 0);

  // The control: the same tree with empty storage is a cold start.
  std::string other = dir_ + "/other";
  std::filesystem::create_directory(other);
  Sampler cold(Options(other));
  cold.SampleOnce();
  EXPECT_EQ(AgeSources(TextOf(cold), "process_start"), 3);
  EXPECT_EQ(AgeSources(TextOf(cold), "first_seen"), 0);
}

TEST_F(SamplerFakeProcTest, StateFromAnotherBootIsNotRestored) {
  {
    Sampler first(Options(dir_));
    first.SampleOnce();
  }
  ASSERT_TRUE(std::filesystem::exists(StatePathIn(dir_)));
  OwnEverything();
  testing::WriteBootId(proc_, "9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b");  // a reboot
  Sampler rebooted(Options(dir_));
  rebooted.SampleOnce();
  EXPECT_EQ(AgeSources(TextOf(rebooted), "process_start"), 3);
  EXPECT_EQ(AgeSources(TextOf(rebooted), "first_seen"), 0);
}

TEST_F(SamplerFakeProcTest, AnUnreadableStateFileIsCountedAndAgesStartOver) {
  { std::ofstream(StatePathIn(dir_)) << "not a state file\n"; }
  OwnEverything();
  Sampler sampler(Options(dir_));
  sampler.SampleOnce();
  std::string text = TextOf(sampler);
  EXPECT_EQ(SeriesValue(text, "connwatch_state_errors_total{op=\"load\",file=\"connections\"}"), 1);
  EXPECT_EQ(AgeSources(text, "process_start"), 3);
}

TEST_F(SamplerFakeProcTest, APolicyRuntimeAddsThePolicyFamilies) {
  std::string policy_path = dir_ + "/policy.yaml";
  std::ofstream(policy_path) << "listeners:\n  - port: 22\n";
  PolicyRuntime runtime;
  std::vector<std::string> errors;
  ASSERT_TRUE(runtime.Init({policy_path, dir_ + "/state", false}, errors))
      << (errors.empty() ? "" : errors[0]);
  OwnEverything();
  Sampler sampler(Options(), &runtime);
  sampler.SampleOnce();
  std::string text = TextOf(sampler);
  EXPECT_EQ(SeriesValue(text, "connwatch_check_active{check=\"unexpected_listener\"}"), 1) << text;
  EXPECT_EQ(SeriesValue(text, "connwatch_check_active{check=\"path_violation\"}"), 0);
  EXPECT_EQ(SeriesValue(text, "connwatch_unexpected_listeners"), 0) << "22 is allowed";
  EXPECT_EQ(SeriesValue(text, "connwatch_config_last_reload_successful"), 1);

  Sampler without(Options());
  without.SampleOnce();
  EXPECT_EQ(TextOf(without).find("connwatch_check_active"), std::string::npos);
}

TEST_F(SamplerFakeProcTest, StartSamplesEveryIntervalAndStopEndsItPromptly) {
  SamplerOptions options = Options();
  options.interval = milliseconds(20);
  Sampler sampler(options);
  sampler.Start();
  // The first background sample comes after one interval, then one per interval.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  double samples = 0;
  while (samples < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
    if (auto latest = sampler.Latest()) {
      samples = SeriesValue(latest->text(), "connwatch_samples_total").value_or(0);
    }
  }
  auto stop_started = std::chrono::steady_clock::now();
  sampler.Stop();
  auto stop_took = std::chrono::steady_clock::now() - stop_started;
  EXPECT_GE(samples, 3);
  EXPECT_LT(stop_took, std::chrono::seconds(2));
  double after_stop = SeriesValue(TextOf(sampler), "connwatch_samples_total").value_or(-1);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(SeriesValue(TextOf(sampler), "connwatch_samples_total"), after_stop)
      << "sampled after Stop";
}

TEST_F(SamplerFakeProcTest, StopDoesNotWaitForTheInterval) {
  SamplerOptions options = Options();
  options.interval = std::chrono::hours(1);
  Sampler sampler(options);
  sampler.Start();
  std::this_thread::sleep_for(milliseconds(20));
  auto started = std::chrono::steady_clock::now();
  sampler.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  EXPECT_EQ(sampler.Latest(), nullptr) << "no sample before the first interval is over";
  sampler.Stop();  // again: nothing to stop
}

TEST_F(SamplerFakeProcTest, TheConntrackCollectorRunsOnlyWithTimestampsOn) {
  for (const char* dir : {"sys", "sys/net", "sys/net/netfilter"}) proc_.MakeDir(dir);
  const std::string series = "connwatch_collector_success{collector=\"conntrack\"}";
  struct Case {
    const char* sysctl;  // nullptr: absent, as without nf_conntrack
    bool collected;
  };
  for (const Case& c : {Case{nullptr, false}, Case{"0\n", false}, Case{"1\n", true}}) {
    if (c.sysctl == nullptr) {
      proc_.Remove("sys/net/netfilter/nf_conntrack_timestamp");
    } else {
      proc_.WriteFile("sys/net/netfilter/nf_conntrack_timestamp", c.sysctl);
    }
    Sampler sampler(Options());
    sampler.SampleOnce();
    std::string text = TextOf(sampler);
    std::optional<double> success = SeriesValue(text, series);
    const char* what = c.sysctl == nullptr ? "absent" : c.sysctl;
    EXPECT_EQ(success.has_value(), c.collected) << what;
    // Its value is this machine's: 1 with nf_conntrack loaded and CAP_NET_ADMIN, else 0.
    if (success) {
      EXPECT_TRUE(*success == 0 || *success == 1) << *success;
    }
    EXPECT_EQ(SeriesValue(text, "connwatch_conntrack_timestamps_enabled"), c.collected ? 1 : 0)
        << what;
  }
}

}  // namespace
}  // namespace connwatch
