#include "http/basic_auth.h"

#include <crypt.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <thread>

#include "base/text.h"

namespace connwatch {
namespace {

// Strict standard base64 with padding, as Go's base64.StdEncoding: unlike YAML's !!binary,
// no whitespace inside.
bool DecodeStrictBase64(std::string_view in, std::string& out) {
  if (in.find_first_of(" \t\r\n") != std::string_view::npos) return false;
  std::optional<std::string> decoded = DecodeBase64(in);
  if (!decoded) return false;
  out = std::move(*decoded);
  return true;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

bool HasBcryptPrefix(std::string_view hash) {
  return hash.size() > 4 && hash.substr(0, 2) == "$2" &&
         (hash[2] == 'a' || hash[2] == 'b' || hash[2] == 'y') && hash[3] == '$';
}

// "$2b$12$..." -> 12; 10 when the cost cannot be read.
unsigned long BcryptCost(std::string_view hash) {
  if (!HasBcryptPrefix(hash) || hash.size() < 7) return 10;
  std::string_view cost = hash.substr(4, 2);
  if (cost.find_first_not_of("0123456789") != std::string_view::npos) return 10;
  return static_cast<unsigned long>((cost[0] - '0') * 10 + (cost[1] - '0'));
}

}  // namespace

bool ParseBasicAuthorization(std::string_view header, std::string& user, std::string& password) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return false;
  }
  std::string decoded;
  if (!DecodeStrictBase64(header.substr(kScheme.size()), decoded)) return false;
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  user = decoded.substr(0, colon);
  password = decoded.substr(colon + 1);
  return true;
}

bool BcryptVerify(std::string_view password, const std::string& hash) {
  if (!HasBcryptPrefix(hash)) return false;
  // crypt takes C strings: a password with a NUL would be checked truncated.
  if (password.find('\0') != std::string_view::npos) return false;
  // crypt_data is ~32 KiB: too big for civetweb's worker stacks to carry comfortably.
  auto data = std::make_unique<crypt_data>();
  std::string phrase(password);
  const char* result = crypt_rn(phrase.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  if (result == nullptr || result[0] == '*') return false;
  return ConstantTimeEquals(result, hash);
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users, BcryptLimits limits)
    : users_(std::move(users)), budget_(limits) {
  // Unknown users are checked against a hash of the highest configured cost, and making it
  // times one run at that cost: what every check is padded to.
  unsigned long cost = 10;
  if (!users_.empty()) {
    cost = 0;
    for (const auto& [user, hash] : users_) cost = std::max(cost, BcryptCost(hash));
  }
  max_cost_ = cost;
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", cost, nullptr, 0, setting, sizeof(setting)) != nullptr) {
    auto data = std::make_unique<crypt_data>();
    auto start = std::chrono::steady_clock::now();
    const char* result =
        crypt_rn("connwatch-dummy-password", setting, data.get(), sizeof(crypt_data));
    padded_duration_ = std::chrono::steady_clock::now() - start;
    measured_duration_ = padded_duration_;
    if (result != nullptr && result[0] != '*') dummy_hash_ = result;
  }
  if (dummy_hash_.empty()) {
    dummy_hash_ = "$2b$10$Ghuhjhy0qknTFdy2a3DgV.3L.pqvN0LHkTyOfGFjDeMUxLDWOU0Hu";
  }
}

AuthDecision BasicAuth::Authorize(std::string_view authorization, std::string_view peer) {
  std::string user;
  std::string password;
  if (authorization.empty() || !ParseBasicAuthorization(authorization, user, password)) {
    return AuthDecision::kDeny;  // no bcrypt run: nothing to bound
  }
  return Check(user, password, peer);
}

namespace {

// The key holds the password itself: an entry answers only for the exact (user, hash,
// password) that was verified. It lives in memory only, beside the hashes it shortcuts.
std::string CacheKey(const std::string& user, const std::string& hash,
                     const std::string& password) {
  std::string key = user;
  key += '\0';
  key += hash;
  key += '\0';
  key += password;
  return key;
}

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

bool BasicAuth::CachedSuccess(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cache_.contains(key);
}

AuthDecision BasicAuth::Check(const std::string& user, const std::string& password,
                              std::string_view peer) {
  auto found = users_.find(user);
  std::string key = CacheKey(user, found != users_.end() ? found->second : dummy_hash_, password);
  if (CachedSuccess(key)) return AuthDecision::kAllow;
  if (budget_.TryStart(peer, MonotonicSeconds()) != BcryptRefusal::kNone) {
    return AuthDecision::kThrottled;
  }
  bool ok = RunBcrypt(user, password, std::move(key), true);
  return ok ? AuthDecision::kAllow : AuthDecision::kDeny;
}

bool BasicAuth::Verify(const std::string& user, const std::string& password) {
  auto found = users_.find(user);
  std::string key = CacheKey(user, found != users_.end() ? found->second : dummy_hash_, password);
  return CachedSuccess(key) || RunBcrypt(user, password, std::move(key), false);
}

// The padding follows what runs at the highest cost take now: under load they take longer
// than at start-up, and a cheaper hash padded to the start-up figure would stand out again.
// It rises with the slowest recent run and sinks back slowly, never below the start-up one.
std::chrono::nanoseconds BasicAuth::Pad(unsigned long cost, std::chrono::nanoseconds took) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (cost == max_cost_) {
    if (took > padded_duration_) {
      padded_duration_ = took;
    } else {
      padded_duration_ =
          std::max(measured_duration_, padded_duration_ - (padded_duration_ - took) / 16);
    }
  }
  return padded_duration_;
}

// A budget slot, when held (BcryptBudget::TryStart granted it), is given back before the
// padding: waiting costs no CPU.
bool BasicAuth::RunBcrypt(const std::string& user, const std::string& password, std::string key,
                          bool holds_slot) {
  auto start = std::chrono::steady_clock::now();
  auto found = users_.find(user);
  const std::string& hash = found != users_.end() ? found->second : dummy_hash_;
  bool ok = BcryptVerify(password, hash) && found != users_.end();
  if (holds_slot) budget_.Finish();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++bcrypt_runs_;
    // Only successes are cached: every failed guess pays a full bcrypt run and cannot evict.
    if (ok) {
      if (cache_.size() >= kMaxCacheEntries) cache_.clear();
      cache_.insert(std::move(key));
    }
  }
  std::this_thread::sleep_until(start +
                                Pad(BcryptCost(hash), std::chrono::steady_clock::now() - start));
  return ok;
}

size_t BasicAuth::bcrypt_runs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bcrypt_runs_;
}

}  // namespace connwatch
