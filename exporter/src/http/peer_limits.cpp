#include "http/peer_limits.h"

namespace connwatch {

std::optional<RejectReason> PeerLimits::Admit(const std::string& peer) {
  size_t& held = per_peer_[peer];
  if (held >= options_.max_per_peer) return RejectReason::kPeerLimit;
  if (total_ >= options_.max_total) {
    if (held == 0) per_peer_.erase(peer);
    return RejectReason::kTotalLimit;
  }
  ++held;
  ++total_;
  return std::nullopt;
}

void PeerLimits::Release(const std::string& peer) {
  auto found = per_peer_.find(peer);
  if (found == per_peer_.end() || found->second == 0) return;
  --total_;
  if (--found->second == 0) per_peer_.erase(found);
}

size_t PeerLimits::of(const std::string& peer) const {
  auto found = per_peer_.find(peer);
  return found == per_peer_.end() ? 0 : found->second;
}

}  // namespace connwatch
