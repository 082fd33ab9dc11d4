// What the policy tests share: the fixtures under tests/fixtures/policies, read as files, and
// a policy's errors as text.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "net/cidr.h"
#include "policy/policy_loader.h"

namespace connwatch::testing {

inline const std::string kPolicyFixtures = CONNWATCH_FIXTURES_DIR "/policies";
inline const std::string kExamplePolicy =
    CONNWATCH_FIXTURES_DIR "/../../deploy/policy.example.yaml";

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Parses a fixture under its basename, so that messages do not depend on the checkout.
inline PolicyLoadResult ParseFixture(const std::string& relative) {
  std::string path = kPolicyFixtures + "/" + relative;
  return ParsePolicy(ReadFile(path), std::filesystem::path(path).filename());
}

inline std::vector<std::string> ErrorStrings(const PolicyLoadResult& result) {
  std::vector<std::string> out;
  for (const PolicyError& error : result.errors) out.push_back(error.ToString());
  return out;
}

inline IpAddress Ip(const char* text) { return *ParseIpAddress(text); }
inline Cidr Net(const char* text) { return *ParseCidr(text); }

}  // namespace connwatch::testing
