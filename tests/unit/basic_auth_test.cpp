#include "http/basic_auth.h"

#include <crypt.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace connwatch {
namespace {

// python3: crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2**10))
constexpr const char* kAliceHash = "$2b$10$bKrezo3bkgkE3tWCivp2UOirmosToujAJdrF9rASoWKy8BPBVXHE.";

// A fresh hash made here with libxcrypt, cost 4 to keep the tests fast.
std::string MakeHash(const std::string& password, const char* prefix = "$2b$") {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn(prefix, 4, nullptr, 0, setting, sizeof(setting)), nullptr);
  auto data = std::make_unique<crypt_data>();
  return crypt_rn(password.c_str(), setting, data.get(), sizeof(crypt_data));
}

TEST(BasicAuthTest, ParsesAuthorizationHeader) {
  std::string user, password;
  ASSERT_TRUE(ParseBasicAuthorization("Basic YWxpY2U6czNjcjp0", user, password));
  EXPECT_EQ(user, "alice");
  EXPECT_EQ(password, "s3cr:t");
  ASSERT_TRUE(ParseBasicAuthorization("basic Ym9iOg==", user, password));
  EXPECT_EQ(user, "bob");
  EXPECT_EQ(password, "");
  EXPECT_FALSE(ParseBasicAuthorization("Bearer YWxpY2U6eA==", user, password));
  EXPECT_FALSE(ParseBasicAuthorization("Basic YWxpY2U", user, password));       // no padding
  EXPECT_FALSE(ParseBasicAuthorization("Basic YWxpY2U=", user, password));      // no colon
  EXPECT_FALSE(ParseBasicAuthorization("Basic Y=xpY2U6eA==", user, password));  // '=' inside
}

TEST(BasicAuthTest, VerifiesBcryptFromPythonAndLibxcrypt) {
  EXPECT_TRUE(BcryptVerify("s3cret", kAliceHash));
  EXPECT_FALSE(BcryptVerify("s3cret ", kAliceHash));
  EXPECT_FALSE(BcryptVerify(std::string("s3cret\0x", 8), kAliceHash));
  for (const char* prefix : {"$2a$", "$2b$", "$2y$"}) {
    std::string hash = MakeHash("pw", prefix);
    EXPECT_TRUE(hash.starts_with(prefix)) << hash;
    EXPECT_TRUE(BcryptVerify("pw", hash)) << hash;
    EXPECT_FALSE(BcryptVerify("pW", hash)) << hash;
  }
  // crypt_rn would verify these; they are not bcrypt, so they are refused.
  auto data = std::make_unique<crypt_data>();
  std::string sha512 = crypt_rn("pw", "$6$saltsalt$", data.get(), sizeof(crypt_data));
  EXPECT_FALSE(BcryptVerify("pw", sha512));
}

TEST(BasicAuthTest, Cve2022_46146WrongPasswordNeverHitsTheCache) {
  BasicAuth auth(std::map<std::string, std::string>{{"alice", MakeHash("right")}});
  EXPECT_TRUE(auth.Verify("alice", "right"));
  EXPECT_EQ(auth.bcrypt_runs(), 1u);
  EXPECT_TRUE(auth.Verify("alice", "right"));  // served from the cache
  EXPECT_EQ(auth.bcrypt_runs(), 1u);
  EXPECT_FALSE(auth.Verify("alice", "wrong"));
  EXPECT_FALSE(auth.Verify("alice", "righ"));
  EXPECT_FALSE(auth.Verify("alice", "right "));
  EXPECT_FALSE(auth.Verify("alice", ""));
  EXPECT_EQ(auth.bcrypt_runs(), 5u);  // every wrong password paid a bcrypt run
  EXPECT_EQ(auth.Authorize("Basic YWxpY2U6cmlnaHQ=", "p"), AuthDecision::kAllow);  // alice:right
  EXPECT_EQ(auth.Authorize("Basic YWxpY2U6d3Jvbmc=", "p"), AuthDecision::kDeny);   // alice:wrong
  EXPECT_EQ(auth.Authorize("", "p"), AuthDecision::kDeny);
}

TEST(BasicAuthTest, UnknownUserCostsABcryptRun) {
  BasicAuth auth(std::map<std::string, std::string>{{"alice", kAliceHash}});
  EXPECT_FALSE(auth.Verify("mallory", "s3cret"));
  EXPECT_EQ(auth.bcrypt_runs(), 1u);
  EXPECT_FALSE(auth.Verify("mallory", "s3cret"));  // failures are never cached
  EXPECT_EQ(auth.bcrypt_runs(), 2u);

  // Same order of time as a wrong password for a known user (both cost 10).
  auto time = [&](const char* user) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(auth.Verify(user, "nope"));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  double known = time("alice");
  double unknown = time("mallory");
  EXPECT_GT(unknown, known * 0.5) << "known " << known << " s, unknown " << unknown << " s";
  EXPECT_LT(unknown, known * 2.0) << "known " << known << " s, unknown " << unknown << " s";
}

// Issue 17: a cost-4 user answered a wrong password in 1.1 ms and a cost-10 one in 56 ms, so
// users (and unknown names) could be told apart. Every bcrypt check now takes as long as a run
// at the highest configured cost.
TEST(BasicAuthTest, UsersOfDifferentCostsTakeTheSameTime) {
  BasicAuth auth(
      std::map<std::string, std::string>{{"cheap", MakeHash("pw")}, {"alice", kAliceHash}});
  ASSERT_GT(auth.padded_duration(), std::chrono::milliseconds(5)) << "a cost-10 run";
  // Interleaved, so that each user's checks see the same load.
  std::map<std::string, std::vector<double>> times;
  for (int i = 0; i < 7; ++i) {
    for (const char* user : {"cheap", "alice", "mallory"}) {
      auto start = std::chrono::steady_clock::now();
      EXPECT_FALSE(auth.Verify(user, "nope"));
      times[user].push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  auto median = [&](const char* user) {
    std::vector<double>& of = times[user];
    std::sort(of.begin(), of.end());
    return of[of.size() / 2];
  };
  // Bounds wide enough for a loaded machine (CI measured cheap at 0.75x costly once: a
  // costly run slowed by load exceeds the padding, which follows it only as it comes), and
  // far from the 0.02x they were apart before the padding.
  double cheap = median("cheap"), costly = median("alice"), unknown = median("mallory");
  EXPECT_GT(cheap, costly * 0.5) << "cheap " << cheap << " s, costly " << costly << " s";
  EXPECT_GT(unknown, costly * 0.5) << "unknown " << unknown << " s, costly " << costly << " s";
  EXPECT_LT(cheap, costly * 1.5) << "cheap " << cheap << " s, costly " << costly << " s";
  // A right password, once cached, is not padded: the answer itself says it was right.
  EXPECT_TRUE(auth.Verify("cheap", "pw"));
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(auth.Verify("cheap", "pw"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, auth.padded_duration() / 2);
}

// Issue 17: 32 clients with wrong passwords used 1.3 of 2 cores. A peer past its rate, or
// everyone past the concurrency cap, is answered without a bcrypt run.
TEST(BasicAuthTest, WrongPasswordsPastThePeersBudgetAreThrottledWithoutBcrypt) {
  BcryptLimits limits;
  limits.per_peer_burst = 3;
  limits.per_peer_per_second = 0.001;
  BasicAuth auth(std::map<std::string, std::string>{{"alice", MakeHash("right")}}, limits);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(auth.Check("alice", "wrong", "10.0.0.1"), AuthDecision::kDeny);
  EXPECT_EQ(auth.bcrypt_runs(), 3u);
  EXPECT_EQ(auth.Check("alice", "wrong", "10.0.0.1"), AuthDecision::kThrottled);
  EXPECT_EQ(auth.Check("alice", "right", "10.0.0.1"), AuthDecision::kThrottled);
  EXPECT_EQ(auth.bcrypt_runs(), 3u) << "throttled checks run no bcrypt";
  // Another peer has its own budget; a password it proved is then served from the cache to
  // anyone, budget or not.
  EXPECT_EQ(auth.Check("alice", "right", "10.0.0.2"), AuthDecision::kAllow);
  EXPECT_EQ(auth.Check("alice", "right", "10.0.0.1"), AuthDecision::kAllow);
  EXPECT_EQ(auth.bcrypt_runs(), 4u);
}

TEST(BasicAuthTest, EnabledOnlyWithUsers) {
  EXPECT_TRUE(BasicAuth(std::map<std::string, std::string>{{"alice", kAliceHash}}).enabled());
  EXPECT_FALSE(BasicAuth(std::map<std::string, std::string>{}).enabled());
}

}  // namespace
}  // namespace connwatch
