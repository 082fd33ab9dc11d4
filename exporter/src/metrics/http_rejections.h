// What the HTTP front (http/front.h) refused, by reason: it counts, the sampler exports the
// counts as connwatch_http_connections_rejected_total{reason} at every sample. The counts live
// here, below both, because the sampler's layer may not include the server's.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace connwatch {

enum class RejectReason : size_t {
  kHeaderTimeout,    // no complete request head within the header timeout (slowloris, idle)
  kPeerLimit,        // the peer already holds its most connections
  kTotalLimit,       // the front already holds its most connections
  kTlsHandshake,     // the TLS handshake failed
  kRequestTooLarge,  // a request head or body above the caps
  kResponseTimeout,  // a response not taken by the client within the response timeout
  kCount,
};

// The label values, in the enum's order; every one is exported from the start.
inline constexpr std::array<const char*, static_cast<size_t>(RejectReason::kCount)>
    kRejectReasonNames{"header_timeout", "peer_limit",        "total_limit",
                       "tls_handshake",  "request_too_large", "response_timeout"};

class HttpRejections {
 public:
  void Add(RejectReason reason) {
    counts_[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t Get(RejectReason reason) const {
    return counts_[static_cast<size_t>(reason)].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<uint64_t>, static_cast<size_t>(RejectReason::kCount)> counts_{};
};

}  // namespace connwatch
