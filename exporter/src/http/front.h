// The HTTP front: one epoll thread owns every --web.listen-address socket (IPv4, IPv6,
// dual-stack), accepts any number of connections within a total and a per-peer cap,
// terminates TLS itself, and hands civetweb, listening on 127.0.0.1 only, one complete request
// at a time over a loopback connection of its own, relaying the answer back. civetweb's 16
// worker threads each sit on a connection until it closes or times out: 200 slowloris
// connections, or 64 idle ones reopened once a second, used to leave no thread for a scrape.
// Here a connection costs a socket and a few KiB until its request is complete (within the
// header timeout, counted from the accept, so a byte-a-second trickle fails), and civetweb's
// threads only ever see complete requests. What it refuses is counted by reason.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/front_connection.h"
#include "http/listen_address.h"
#include "http/peer_by_port.h"
#include "http/peer_limits.h"
#include "http/tls_config.h"
#include "metrics/http_rejections.h"

namespace connwatch {

struct FrontOptions {
  std::vector<ListenAddress> addresses;
  uint16_t backend_port = 0;  // civetweb's, on 127.0.0.1
  // Requests civetweb answers at once; the others wait in the front. Below civetweb's
  // threads, so a connection to its port that is not the front's still finds one.
  size_t max_backend_requests = 12;
  PeerLimitOptions limits;
  // A request head (and body) complete within this of the accept, or of its first byte on a
  // kept-alive connection.
  std::chrono::milliseconds header_timeout{5000};
  // A kept-alive connection with no request in progress is closed after this (Go's
  // http.Transport keeps idle connections 90 s; the next scrape simply reconnects).
  std::chrono::milliseconds idle_timeout{60000};
  // A response handed to civetweb and sent to the client within this.
  std::chrono::milliseconds response_timeout{30000};
  size_t max_head = 16384;    // civetweb's own max_request_size
  size_t max_body = 65536;    // connwatch's endpoints take no body
  std::string error_headers;  // the web config's headers, on the front's own error pages
  std::optional<TlsSettings> tls;
};

class Front {
 public:
  Front(FrontOptions options, HttpRejections* rejections, PeerByPort* peers);
  ~Front();
  Front(const Front&) = delete;
  Front& operator=(const Front&) = delete;

  // Opens every listener (and the TLS context) and starts the thread. False with `error`.
  bool Start(std::string& error);
  void Stop();
  // "host:port" of each listener, port 0 resolved; valid after Start.
  const std::vector<std::string>& bound_addresses() const { return bound_; }

 private:
  using Connections = std::unordered_map<uint64_t, std::unique_ptr<FrontConnection>>;
  void Run();
  void Accept(int listener);
  void Admit(int fd, const std::string& peer, double now);
  void Pump(uint64_t id, FrontConnection& conn, double now);
  bool ReadRequest(FrontConnection& conn, double now);
  void Refuse(FrontConnection& conn, RejectReason reason, int status, const char* text);
  void StartBackends();
  void PumpBackend(uint64_t id, FrontConnection& conn, double now);
  void FinishResponse(uint64_t id, FrontConnection& conn, bool close_client, double now);
  void ReleaseBackend(FrontConnection& conn);
  void Close(uint64_t id);
  void Sweep(double now);
  void Watch(uint64_t id, FrontConnection& conn);
  void Queue(FrontConnection& conn, std::string_view bytes);
  void Drained(size_t bytes);
  bool MayReadBackend(const FrontConnection& conn) const;

  const FrontOptions options_;
  HttpRejections* const rejections_;
  PeerByPort* const peers_;
  PeerLimits limits_;
  std::vector<int> listeners_;
  std::vector<std::string> bound_;
  SSL_CTX* ssl_ctx_ = nullptr;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  Connections connections_;     // only touched by the thread
  std::deque<uint64_t> queue_;  // complete requests waiting for a backend slot
  size_t backends_ = 0;
  uint64_t next_id_ = 1;
  size_t pending_bytes_ = 0;        // responses read from civetweb, not yet sent, in all
  double accept_paused_until_ = 0;  // out of file descriptors: accept again after this
};

}  // namespace connwatch
