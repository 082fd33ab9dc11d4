// HTTP basic auth against bcrypt hashes (exporter-toolkit's basic_auth_users), verified with
// libxcrypt's crypt_rn. Successful checks are cached under a key that contains the password
// itself, so a wrong password can never be served from a right password's entry
// (exporter-toolkit's CVE-2022-46146 keyed the cache without it). What is not in the cache
// costs a bcrypt run, within a budget (bcrypt_budget.h), and takes as long as a run at the
// highest cost configured: an unknown user, or users of different costs, cannot be told apart
// by the time the answer takes.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

#include "http/bcrypt_budget.h"

namespace connwatch {

// What the check of a request's credentials decided. kThrottled: not checked at all, because
// checking (a bcrypt run) is over its budget; the request is answered 429.
enum class AuthDecision { kAllow, kDeny, kThrottled };

// "Basic base64(user:password)" -> user, password. False for other schemes or bad base64.
bool ParseBasicAuthorization(std::string_view header, std::string& user, std::string& password);

// True when `hash` is a $2a$/$2b$/$2y$ bcrypt hash of `password`. crypt_rn also knows MD5, SHA
// and DES hashes; those are refused here, not verified.
bool BcryptVerify(std::string_view password, const std::string& hash);

class BasicAuth {
 public:
  // Entries above this make the cache start over (a bound, not an LRU: hits are the norm).
  static constexpr size_t kMaxCacheEntries = 1000;

  explicit BasicAuth(std::map<std::string, std::string> users, BcryptLimits limits = {});

  bool enabled() const { return !users_.empty(); }
  // The Authorization header's value (empty when there was none) from `peer`, an IP address.
  AuthDecision Authorize(std::string_view authorization, std::string_view peer);
  // The check behind Authorize: the cache, else a bcrypt run if the budget allows one.
  AuthDecision Check(const std::string& user, const std::string& password, std::string_view peer);
  // The same without the budget.
  bool Verify(const std::string& user, const std::string& password);
  // How long every bcrypt check is made to take: one run at the highest configured cost.
  std::chrono::nanoseconds padded_duration() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return padded_duration_;
  }
  // bcrypt runs so far: tests use it to see cache hits and the work spent on unknown users.
  size_t bcrypt_runs() const;

 private:
  bool CachedSuccess(const std::string& key) const;
  bool RunBcrypt(const std::string& user, const std::string& password, std::string key,
                 bool holds_slot);

  const std::map<std::string, std::string> users_;
  std::string dummy_hash_;  // verified against for unknown users, at the highest cost
  std::chrono::nanoseconds Pad(unsigned long cost, std::chrono::nanoseconds took);

  unsigned long max_cost_ = 10;
  std::chrono::nanoseconds measured_duration_{0};  // one run at max_cost_ at start-up
  std::chrono::nanoseconds padded_duration_{0};    // guarded by mutex_
  BcryptBudget budget_;
  mutable std::mutex mutex_;
  std::unordered_set<std::string> cache_;  // verified user\0hash\0password
  size_t bcrypt_runs_ = 0;
};

}  // namespace connwatch
