#include "sampler/policy_runtime.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/test_sockets.h"

namespace connwatch {
namespace {

using testing::SnapshotBuilder;
using testing::Tcp;
using Clock = std::chrono::steady_clock;

class PolicyRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/connwatch-runtime-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WritePolicy(const std::string& text) {
    std::string path = dir_ + "/policy.yaml";
    std::ofstream(path) << text;
    return path;
  }
  PolicyRuntime::Options Options(const std::string& config_file, bool reset = false) {
    return {config_file, dir_ + "/state", reset};
  }
  static Snapshot& ListenerSnapshot(SnapshotBuilder& builder, uint16_t port) {
    return builder.Add(Tcp(SocketState::kListen, "0.0.0.0", port, "0.0.0.0", 0, 7))
        .Own(7, 70, "sshd")
        .Build();
  }

  std::string dir_;
};

TEST_F(PolicyRuntimeTest, InvalidPolicyRefusesToStartWithEveryError) {
  PolicyRuntime runtime;
  std::vector<std::string> errors;
  EXPECT_FALSE(runtime.Init(Options(WritePolicy("listeners:\n  - port: 0\nbogus: 1\n")), errors));
  ASSERT_GE(errors.size(), 2u);
  EXPECT_NE(errors[0].find("policy.yaml:"), std::string::npos) << errors[0];
}

TEST_F(PolicyRuntimeTest, BadReloadKeepsTheRunningPolicy) {
  std::string path = WritePolicy("listeners:\n  - port: 22\n");
  PolicyRuntime runtime;
  std::vector<std::string> errors;
  ASSERT_TRUE(runtime.Init(Options(path), errors));
  auto before = runtime.Current();
  ASSERT_TRUE(before->policy.listeners);
  EXPECT_TRUE(runtime.reload_status().last_successful);
  double first_success = runtime.reload_status().last_success_timestamp_seconds;
  EXPECT_GT(first_success, 1.7e9);

  WritePolicy("listeners:\n  - port: [\n");
  std::string error;
  EXPECT_FALSE(runtime.Reload(error));
  EXPECT_NE(error.find("policy.yaml:"), std::string::npos) << error;
  EXPECT_FALSE(runtime.reload_status().last_successful);
  EXPECT_EQ(runtime.reload_status().last_success_timestamp_seconds, first_success);
  EXPECT_EQ(runtime.Current(), before) << "the running policy stays";

  WritePolicy("listeners:\n  - port: 443\n");
  EXPECT_TRUE(runtime.Reload(error)) << error;
  EXPECT_TRUE(runtime.reload_status().last_successful);
  ASSERT_TRUE(runtime.Current()->policy.listeners);
  EXPECT_EQ(runtime.Current()->policy.listeners->at(0).ports.low, 443);
}

TEST_F(PolicyRuntimeTest, LearnsForTheWindowThenFreezesPersistsAndReloads) {
  std::string path = WritePolicy("baseline:\n  learn_for: 10s\n");
  auto start = Clock::now();
  {
    PolicyRuntime runtime;
    std::vector<std::string> errors;
    ASSERT_TRUE(runtime.Init(Options(path), errors));
    EXPECT_TRUE(runtime.Current()->learning);
    EXPECT_FALSE(runtime.Current()->policy.listeners) << "nothing enforced while learning";
    SnapshotBuilder first;
    runtime.Observe(ListenerSnapshot(first, 22), start);
    SnapshotBuilder second;
    runtime.Observe(ListenerSnapshot(second, 2222), start + std::chrono::seconds(9));
    EXPECT_TRUE(runtime.Current()->learning);
    EXPECT_FALSE(std::filesystem::exists(runtime.baseline_path()));
    SnapshotBuilder third;
    runtime.Observe(ListenerSnapshot(third, 22), start + std::chrono::seconds(10));
    auto frozen = runtime.Current();
    EXPECT_FALSE(frozen->learning);
    ASSERT_TRUE(frozen->policy.listeners);
    EXPECT_EQ(frozen->policy.listeners->size(), 2u) << "ports 22 and 2222";
    EXPECT_EQ(frozen->baseline_rules.at("listeners"), 2u);
    EXPECT_TRUE(std::filesystem::exists(runtime.baseline_path()));
  }
  {
    PolicyRuntime restarted;
    std::vector<std::string> errors;
    ASSERT_TRUE(restarted.Init(Options(path), errors));
    EXPECT_FALSE(restarted.Current()->learning) << "reloaded, not relearned";
    ASSERT_TRUE(restarted.Current()->policy.listeners);
    EXPECT_EQ(restarted.Current()->policy.listeners->size(), 2u);
  }
  {
    PolicyRuntime reset;
    std::vector<std::string> errors;
    ASSERT_TRUE(reset.Init(Options(path, /*reset=*/true), errors));
    EXPECT_TRUE(reset.Current()->learning);
    EXPECT_FALSE(std::filesystem::exists(reset.baseline_path()));
  }
}

TEST_F(PolicyRuntimeTest, ExplicitRulesStayAndLearnedOnesAreAdded) {
  std::string path = WritePolicy("listeners:\n  - port: 80\nbaseline:\n  learn_for: 1s\n");
  PolicyRuntime runtime;
  std::vector<std::string> errors;
  ASSERT_TRUE(runtime.Init(Options(path), errors));
  ASSERT_TRUE(runtime.Current()->policy.listeners);
  EXPECT_EQ(runtime.Current()->policy.listeners->size(), 1u) << "explicit rules while learning";
  SnapshotBuilder builder;
  auto now = Clock::now();
  runtime.Observe(ListenerSnapshot(builder, 22), now);
  runtime.Observe(ListenerSnapshot(builder, 22), now + std::chrono::seconds(2));
  EXPECT_EQ(runtime.Current()->policy.listeners->size(), 2u);
}

TEST_F(PolicyRuntimeTest, DefaultPolicyLearnsAndDeclaresUdpServicePorts) {
  PolicyRuntime runtime;
  std::vector<std::string> errors;
  ASSERT_TRUE(runtime.Init(Options(""), errors));
  EXPECT_TRUE(runtime.Current()->learning);
  EXPECT_EQ(runtime.Current()->policy.baseline.learn_for, std::chrono::minutes(5));

  Policy policy;
  policy.listeners = {ListenerRule{"", {40000, 40000}, ProtocolMatch::kUdp, {}, {}, "", {}},
                      ListenerRule{"", {40001, 40001}, ProtocolMatch::kTcp, {}, {}, "", {}},
                      ListenerRule{"", {1000, 2000}, ProtocolMatch::kUdp, {}, {}, "", {}}};
  policy.expected_services = {ExpectedService{"dns", 45353, ProtocolMatch::kUdp, "", {}, "", {}}};
  PortSet ports = UdpServicePorts(policy);
  EXPECT_TRUE(ports.test(40000));
  EXPECT_FALSE(ports.test(40001)) << "TCP only";
  EXPECT_FALSE(ports.test(1500)) << "ranges are not service ports";
  EXPECT_TRUE(ports.test(45353));
  EXPECT_EQ(ports.count(), 2u);
}

}  // namespace
}  // namespace connwatch
