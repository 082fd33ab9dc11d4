#include "http/basic_auth.h"

#include <crypt.h>

#include <memory>

namespace connwatch {
namespace {

constexpr std::string_view kBase64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Strict standard base64 with padding, as Go's base64.StdEncoding.
bool DecodeBase64(std::string_view in, std::string& out) {
  if (in.size() % 4 != 0) return false;
  out.clear();
  for (size_t i = 0; i < in.size(); i += 4) {
    unsigned value = 0;
    int pad = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = in[i + j];
      value <<= 6;
      if (c == '=') {
        if (i + 4 != in.size() || j < 2) return false;
        ++pad;
        continue;
      }
      if (pad > 0) return false;
      size_t index = kBase64.find(c);
      if (index == std::string_view::npos) return false;
      value |= static_cast<unsigned>(index);
    }
    out += static_cast<char>((value >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((value >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(value & 0xff);
  }
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
  if (!DecodeBase64(header.substr(kScheme.size()), decoded)) return false;
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

BasicAuth::BasicAuth(std::map<std::string, std::string> users) : users_(std::move(users)) {
  // Unknown users are checked against a hash of the first user's cost, so that a wrong user name
  // takes as long as a wrong password.
  unsigned long cost = users_.empty() ? 10 : BcryptCost(users_.begin()->second);
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", cost, nullptr, 0, setting, sizeof(setting)) != nullptr) {
    auto data = std::make_unique<crypt_data>();
    const char* result =
        crypt_rn("connwatch-dummy-password", setting, data.get(), sizeof(crypt_data));
    if (result != nullptr && result[0] != '*') dummy_hash_ = result;
  }
  if (dummy_hash_.empty()) {
    dummy_hash_ = "$2b$10$Ghuhjhy0qknTFdy2a3DgV.3L.pqvN0LHkTyOfGFjDeMUxLDWOU0Hu";
  }
}

bool BasicAuth::Authorize(std::string_view authorization) {
  std::string user;
  std::string password;
  if (authorization.empty() || !ParseBasicAuthorization(authorization, user, password)) {
    return false;
  }
  return Verify(user, password);
}

bool BasicAuth::Verify(const std::string& user, const std::string& password) {
  auto found = users_.find(user);
  const std::string& hash = found != users_.end() ? found->second : dummy_hash_;
  // The key holds the password itself: an entry answers only for the exact (user, hash,
  // password) that was verified. It lives in memory only, beside the hashes it shortcuts.
  std::string key = user;
  key += '\0';
  key += hash;
  key += '\0';
  key += password;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cache_.contains(key)) return true;
  }
  bool ok = BcryptVerify(password, hash) && found != users_.end();
  std::lock_guard<std::mutex> lock(mutex_);
  ++bcrypt_runs_;
  // Only successes are cached: every failed guess pays a full bcrypt run and cannot evict.
  if (!ok) return false;
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_.insert(std::move(key));
  return true;
}

size_t BasicAuth::bcrypt_runs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bcrypt_runs_;
}

}  // namespace connwatch
