// How many connections the front holds, in all and per peer address: an attacker with one
// address fills its own share, one with many the total, and a scrape from another address
// still gets in. Pure bookkeeping; the front asks before it keeps an accepted connection.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>

#include "metrics/http_rejections.h"

namespace connwatch {

struct PeerLimitOptions {
  size_t max_total = 4096;
  size_t max_per_peer = 64;
};

class PeerLimits {
 public:
  explicit PeerLimits(PeerLimitOptions options) : options_(options) {}

  // nullopt: admitted, and Release must follow; else why not.
  std::optional<RejectReason> Admit(const std::string& peer);
  void Release(const std::string& peer);

  size_t total() const { return total_; }
  size_t of(const std::string& peer) const;
  const PeerLimitOptions& options() const { return options_; }

 private:
  const PeerLimitOptions options_;
  size_t total_ = 0;
  std::unordered_map<std::string, size_t> per_peer_;
};

}  // namespace connwatch
