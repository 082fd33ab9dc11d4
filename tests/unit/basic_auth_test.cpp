#include "http/basic_auth.h"

#include <crypt.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

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
  EXPECT_EQ(auth.bcrypt_runs(), 5u);                       // every wrong password paid a bcrypt run
  EXPECT_TRUE(auth.Authorize("Basic YWxpY2U6cmlnaHQ="));   // alice:right
  EXPECT_FALSE(auth.Authorize("Basic YWxpY2U6d3Jvbmc="));  // alice:wrong
  EXPECT_FALSE(auth.Authorize(""));
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

TEST(BasicAuthTest, EnabledOnlyWithUsers) {
  EXPECT_TRUE(BasicAuth(std::map<std::string, std::string>{{"alice", kAliceHash}}).enabled());
  EXPECT_FALSE(BasicAuth(std::map<std::string, std::string>{}).enabled());
}

}  // namespace
}  // namespace connwatch
