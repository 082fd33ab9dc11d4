// HTTP basic auth against bcrypt hashes (exporter-toolkit's basic_auth_users), verified with
// libxcrypt's crypt_rn. Unknown users cost one bcrypt run like known ones; successful checks are
// cached under a key that contains the password itself, so a wrong password can never be served
// from a right password's entry (exporter-toolkit's CVE-2022-46146 keyed the cache without it).
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace connwatch {

// "Basic base64(user:password)" -> user, password. False for other schemes or bad base64.
bool ParseBasicAuthorization(std::string_view header, std::string& user, std::string& password);

// True when `hash` is a $2a$/$2b$/$2y$ bcrypt hash of `password`. crypt_rn also knows MD5, SHA
// and DES hashes; those are refused here, not verified.
bool BcryptVerify(std::string_view password, const std::string& hash);

class BasicAuth {
 public:
  // Entries above this make the cache start over (a bound, not an LRU: hits are the norm).
  static constexpr size_t kMaxCacheEntries = 1000;

  explicit BasicAuth(std::map<std::string, std::string> users);

  bool enabled() const { return !users_.empty(); }
  // The Authorization header's value, or empty when there was none.
  bool Authorize(std::string_view authorization);
  bool Verify(const std::string& user, const std::string& password);
  // bcrypt runs so far: tests use it to see cache hits and the work spent on unknown users.
  size_t bcrypt_runs() const;

 private:
  const std::map<std::string, std::string> users_;
  std::string dummy_hash_;  // verified against for unknown users, same cost as a real user's
  mutable std::mutex mutex_;
  std::unordered_set<std::string> cache_;  // verified user\0hash\0password
  size_t bcrypt_runs_ = 0;
};

}  // namespace connwatch
