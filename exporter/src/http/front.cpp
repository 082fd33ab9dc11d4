#include "http/front.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/log.h"
#include "http/error_page.h"
#include "http/front_socket.h"
#include "http/tls_context.h"

namespace connwatch {
namespace {

// epoll tags: the low two bits say what the rest names.
enum Kind : uint64_t { kClient = 0, kBackend = 1, kListener = 2, kWake = 3 };
uint64_t Tag(uint64_t value, Kind kind) { return value << 2 | kind; }

// A response is read from civetweb whole (up to this per connection, and while all
// connections together hold less than kMaxPendingTotal), so that a client that does not read
// holds memory, not one of civetweb's threads. Past either, civetweb waits, and the response
// timeout bounds how long.
constexpr size_t kMaxPendingOut = 16 << 20;
constexpr size_t kMaxPendingTotal = 256 << 20;
// Accepts per listener and wake-up, so that one flooded listener leaves time for the others.
constexpr int kAcceptBurst = 64;
// How often deadlines are checked.
constexpr double kSweepSeconds = 0.1;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double Seconds(std::chrono::milliseconds duration) { return duration.count() / 1000.0; }

// The total cap within the file descriptors the process may open: one per connection, three
// per request at civetweb (ours, civetweb's, a spare) and a reserve for everything else.
size_t CappedTotal(const FrontOptions& options) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return options.limits.max_total;
  }
  size_t reserve = 128 + 3 * options.max_backend_requests;
  size_t room = limit.rlim_cur > reserve ? limit.rlim_cur - reserve : 1;
  return std::min(options.limits.max_total, room);
}

PeerLimitOptions Limits(const FrontOptions& options) {
  PeerLimitOptions limits = options.limits;
  limits.max_total = CappedTotal(options);
  return limits;
}

}  // namespace

Front::Front(FrontOptions options, HttpRejections* rejections, PeerByPort* peers)
    : options_(std::move(options)),
      rejections_(rejections),
      peers_(peers),
      limits_(Limits(options_)) {}

Front::~Front() { Stop(); }

bool Front::Start(std::string& error) {
  if (options_.tls) {
    ssl_ctx_ = SSL_CTX_new(TLS_server_method());
    if (ssl_ctx_ == nullptr || !ConfigureSslContext(ssl_ctx_, *options_.tls, error)) {
      if (error.empty()) error = "cannot create the TLS context";
      return false;
    }
    SSL_CTX_set_mode(ssl_ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    error = "cannot create the HTTP front's epoll or eventfd";
    return false;
  }
  epoll_event wake{EPOLLIN, {.u64 = Tag(0, kWake)}};
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake);
  for (const ListenAddress& address : options_.addresses) {
    std::string bound, reason;
    int fd = OpenListener(address, bound, reason);
    if (fd < 0) {
      error = "cannot listen on " + FormatHostPort(address.host, address.port) + ": " + reason;
      return false;
    }
    epoll_event event{EPOLLIN, {.u64 = Tag(listeners_.size(), kListener)}};
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
    listeners_.push_back(fd);
    bound_.push_back(bound);
  }
  thread_ = std::thread([this] { Run(); });
  return true;
}

void Front::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  while (!connections_.empty()) Close(connections_.begin()->first);
  for (int fd : listeners_) close(fd);
  listeners_.clear();
  for (int* fd : {&epoll_fd_, &wake_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  if (ssl_ctx_ != nullptr) SSL_CTX_free(ssl_ctx_);
  ssl_ctx_ = nullptr;
}

void Front::Run() {
  epoll_event events[256];
  double last_sweep = Now();
  while (true) {
    int count = epoll_wait(epoll_fd_, events, 256, static_cast<int>(kSweepSeconds * 1000));
    double now = Now();
    for (int i = 0; i < count; ++i) {
      uint64_t value = events[i].data.u64 >> 2;
      switch (static_cast<Kind>(events[i].data.u64 & 3)) {
        case kWake:
          return;
        case kListener:
          if (now >= accept_paused_until_) Accept(listeners_[value]);
          break;
        case kClient:
        case kBackend: {
          auto found = connections_.find(value);
          if (found == connections_.end()) break;
          bool client = (events[i].data.u64 & 3) == kClient;
          if (client && (events[i].events & (EPOLLERR | EPOLLHUP)) != 0) {
            Close(value);  // reset or gone both ways: nothing can be delivered
          } else if (!client) {
            PumpBackend(value, *found->second, now);
          } else {
            Pump(value, *found->second, now);
          }
          break;
        }
      }
    }
    if (now - last_sweep >= kSweepSeconds) {
      Sweep(now);
      last_sweep = now;
    }
  }
}

void Front::Accept(int listener) {
  double now = Now();
  for (int i = 0; i < kAcceptBurst; ++i) {
    sockaddr_storage peer{};
    socklen_t length = sizeof(peer);
    int fd = accept4(listener, reinterpret_cast<sockaddr*>(&peer), &length,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The listener stays readable: without a pause this loop would spin.
        accept_paused_until_ = now + kSweepSeconds;
        Log(LogLevel::kWarn, "HTTP front cannot accept", {{"err", std::strerror(errno)}});
      }
      return;
    }
    Admit(fd, PeerAddress(peer), now);
  }
}

void Front::Admit(int fd, const std::string& peer, double now) {
  if (std::optional<RejectReason> refused = limits_.Admit(peer)) {
    if (rejections_ != nullptr) rejections_->Add(*refused);
    Log(LogLevel::kDebug, "HTTP connection refused",
        {{"peer", peer}, {"reason", kRejectReasonNames[static_cast<size_t>(*refused)]}});
    CloseWithReset(fd);
    return;
  }
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  auto conn = std::make_unique<FrontConnection>();
  conn->fd = fd;
  conn->peer = peer;
  conn->deadline = now + Seconds(options_.header_timeout);
  if (ssl_ctx_ != nullptr) {
    conn->ssl = SSL_new(ssl_ctx_);
    if (conn->ssl == nullptr || SSL_set_fd(conn->ssl, fd) != 1) {
      limits_.Release(peer);
      CloseClient(*conn);
      return;
    }
    SSL_set_accept_state(conn->ssl);
  } else {
    conn->handshaken = true;
  }
  uint64_t id = next_id_++;
  FrontConnection& added = *connections_.emplace(id, std::move(conn)).first->second;
  Pump(id, added, now);
}

// Everything a client connection can do now: the handshake, reading a request, sending.
void Front::Pump(uint64_t id, FrontConnection& conn, double now) {
  if (!conn.handshaken) {
    IoStatus status = Handshake(conn);
    if (status == IoStatus::kFailed) {
      if (rejections_ != nullptr) rejections_->Add(RejectReason::kTlsHandshake);
      Log(LogLevel::kDebug, "TLS handshake failed", {{"peer", conn.peer}});
      Close(id);
      return;
    }
  }
  if (conn.handshaken && conn.phase == FrontConnection::Phase::kReading &&
      !ReadRequest(conn, now)) {
    Close(id);
    return;
  }
  if (conn.phase == FrontConnection::Phase::kQueued) {
    queue_.push_back(id);
    conn.phase = FrontConnection::Phase::kForwarding;  // until a slot, still waiting
    conn.backend = -1;
    StartBackends();
  }
  size_t before = conn.pending();
  IoStatus written = WriteClient(conn);
  Drained(before - conn.pending());
  if (written == IoStatus::kFailed) {
    Close(id);
    return;
  }
  if (conn.phase == FrontConnection::Phase::kClosing && conn.out.empty() && !conn.ssl_wants_write) {
    Close(id);
    return;
  }
  Watch(id, conn);
}

// Reads what the client sent and frames it; false when the connection is to go at once.
bool Front::ReadRequest(FrontConnection& conn, double now) {
  bool was_empty = conn.in.empty();
  IoStatus status = ReadClient(conn, conn.in, options_.max_head + options_.max_body + 1);
  if (status == IoStatus::kFailed) return false;
  if (conn.kept && was_empty && !conn.in.empty()) {
    conn.deadline = now + Seconds(options_.header_timeout);  // a new request began
  }
  RequestFrame frame = FrameRequest(conn.in, options_.max_head, options_.max_body);
  switch (frame.status) {
    case RequestFrame::Status::kComplete:
      conn.request_length = frame.length;
      conn.head_method = frame.head_method;
      conn.request_close = frame.close;
      conn.phase = FrontConnection::Phase::kQueued;
      conn.deadline = now + Seconds(options_.response_timeout);
      return true;
    case RequestFrame::Status::kTooLarge:
      Refuse(conn, RejectReason::kRequestTooLarge, 413, "Request Entity Too Large");
      return true;
    case RequestFrame::Status::kChunked:
      Refuse(conn, RejectReason::kCount, 411, "Length Required");
      return true;
    case RequestFrame::Status::kIncomplete:
      // A client that closed mid-request (or between requests) is gone.
      return status != IoStatus::kClosed;
  }
  return false;
}

void Front::Refuse(FrontConnection& conn, RejectReason reason, int status, const char* text) {
  if (rejections_ != nullptr && reason != RejectReason::kCount) rejections_->Add(reason);
  conn.in.clear();
  Queue(conn, ErrorResponse(status, text, options_.error_headers));
  conn.phase = FrontConnection::Phase::kClosing;
}

// Hands queued requests to civetweb while slots are free.
void Front::StartBackends() {
  while (backends_ < options_.max_backend_requests && !queue_.empty()) {
    uint64_t id = queue_.front();
    queue_.pop_front();
    auto found = connections_.find(id);
    if (found == connections_.end()) continue;
    FrontConnection& conn = *found->second;
    conn.backend = ConnectLoopback(options_.backend_port, conn.backend_port);
    if (conn.backend < 0) {
      Log(LogLevel::kWarn, "HTTP front cannot reach civetweb", {{"err", std::strerror(errno)}});
      // Not Pump: this may run inside the Pump of this very connection.
      Refuse(conn, RejectReason::kCount, 503, "Service Unavailable");
      Watch(id, conn);
      continue;
    }
    ++backends_;
    peers_->Add(conn.backend_port, conn.peer);
    conn.to_backend = conn.in.substr(0, conn.request_length);
    conn.in.erase(0, conn.request_length);
    conn.response_head.clear();
    conn.frame.reset();
    conn.response_bytes = 0;
    conn.backend_events = 0;
    Watch(id, conn);
  }
}

// The loopback side: sends the request, relays the response as it comes.
void Front::PumpBackend(uint64_t id, FrontConnection& conn, double now) {
  while (!conn.to_backend.empty()) {
    ssize_t n = send(conn.backend, conn.to_backend.data(), conn.to_backend.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      FinishResponse(id, conn, true, now);
      return;
    }
    conn.to_backend.erase(0, static_cast<size_t>(n));
  }
  char buffer[65536];
  while (MayReadBackend(conn)) {
    ssize_t n = recv(conn.backend, buffer, sizeof(buffer), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    if (n <= 0) {
      FinishResponse(id, conn, true, now);  // closed by civetweb: the response ends here
      return;
    }
    Queue(conn, std::string_view(buffer, static_cast<size_t>(n)));
    conn.response_bytes += static_cast<size_t>(n);
    if (!conn.frame) {
      conn.response_head.append(buffer, static_cast<size_t>(n));
      conn.frame = FrameResponse(conn.response_head, conn.head_method);
      if (conn.frame) conn.response_head.clear();
    }
    if (conn.frame && conn.frame->body_length &&
        conn.response_bytes >= conn.frame->head_length + *conn.frame->body_length) {
      FinishResponse(id, conn, conn.frame->close || conn.request_close, now);
      return;
    }
  }
  Pump(id, conn, now);
}

void Front::ReleaseBackend(FrontConnection& conn) {
  if (conn.backend < 0) return;
  // connwatch closes first: a reset leaves no TIME_WAIT on the loopback port.
  CloseWithReset(conn.backend);
  conn.backend = -1;
  peers_->Remove(conn.backend_port);
  conn.backend_events = 0;
  --backends_;
}

void Front::FinishResponse(uint64_t id, FrontConnection& conn, bool close_client, double now) {
  ReleaseBackend(conn);
  if (close_client) {
    conn.phase = FrontConnection::Phase::kClosing;
    conn.in.clear();
  } else {
    conn.phase = FrontConnection::Phase::kReading;
    conn.kept = true;
    conn.deadline =
        now + Seconds(conn.in.empty() ? options_.idle_timeout : options_.header_timeout);
  }
  StartBackends();
  Pump(id, conn, now);
}

void Front::Close(uint64_t id) {
  auto found = connections_.find(id);
  if (found == connections_.end()) return;
  FrontConnection& conn = *found->second;
  bool had_backend = conn.backend >= 0;
  size_t pending = conn.pending();
  ReleaseBackend(conn);
  limits_.Release(conn.peer);
  CloseClient(conn);  // closing the socket takes it out of epoll
  connections_.erase(found);
  Drained(pending);
  if (had_backend) StartBackends();
}

// Deadlines: a request not complete in time is a header timeout (an idle kept-alive
// connection simply ends), a response not delivered in time a response timeout.
void Front::Sweep(double now) {
  std::vector<std::pair<uint64_t, RejectReason>> expired;
  for (const auto& [id, conn] : connections_) {
    if (conn->deadline > now) continue;
    bool reading = conn->phase == FrontConnection::Phase::kReading;
    if (reading && conn->kept && conn->in.empty()) {
      expired.emplace_back(id, RejectReason::kCount);
    } else {
      expired.emplace_back(id,
                           reading ? RejectReason::kHeaderTimeout : RejectReason::kResponseTimeout);
    }
  }
  for (const auto& [id, reason] : expired) {
    if (rejections_ != nullptr && reason != RejectReason::kCount) rejections_->Add(reason);
    auto found = connections_.find(id);
    if (found != connections_.end() && reason == RejectReason::kHeaderTimeout) {
      Log(LogLevel::kDebug, "HTTP request head timed out", {{"peer", found->second->peer}});
      linger reset{1, 0};  // nothing to deliver: no TIME_WAIT for the attacker's sake
      setsockopt(found->second->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    }
    Close(id);
  }
}

// Tells epoll what each side of the connection waits for, when that changed.
void Front::Watch(uint64_t id, FrontConnection& conn) {
  uint32_t client = 0;
  bool reading = conn.phase == FrontConnection::Phase::kReading || !conn.handshaken;
  if (reading) client |= EPOLLIN;
  if (!conn.out.empty() || conn.ssl_wants_write) client |= EPOLLOUT;
  if (conn.client_events == 0 && conn.fd >= 0) {
    epoll_event event{client, {.u64 = Tag(id, kClient)}};
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, conn.fd, &event);
    conn.client_events = client | 0x80000000u;  // registered
  } else if ((conn.client_events & ~0x80000000u) != client) {
    epoll_event event{client, {.u64 = Tag(id, kClient)}};
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, conn.fd, &event);
    conn.client_events = client | 0x80000000u;
  }
  if (conn.backend < 0) return;
  uint32_t backend = 0;
  if (!conn.to_backend.empty()) backend |= EPOLLOUT;
  if (MayReadBackend(conn)) backend |= EPOLLIN;
  if (conn.backend_events == 0) {
    epoll_event event{backend | EPOLLOUT, {.u64 = Tag(id, kBackend)}};  // until connected
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, conn.backend, &event);
    conn.backend_events = backend | EPOLLOUT | 0x80000000u;
  } else if ((conn.backend_events & ~0x80000000u) != backend) {
    epoll_event event{backend, {.u64 = Tag(id, kBackend)}};
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, conn.backend, &event);
    conn.backend_events = backend | 0x80000000u;
  }
}

void Front::Queue(FrontConnection& conn, std::string_view bytes) {
  conn.out.append(bytes);
  pending_bytes_ += bytes.size();
}

// `bytes` of the pending responses were sent or dropped; when that brings all of them under
// the total again, the backends it paused are read again.
void Front::Drained(size_t bytes) {
  bool was_over = pending_bytes_ >= kMaxPendingTotal;
  pending_bytes_ -= std::min(bytes, pending_bytes_);
  if (!was_over || pending_bytes_ >= kMaxPendingTotal) return;
  for (auto& [id, conn] : connections_) {
    if (conn->backend >= 0) Watch(id, *conn);
  }
}

bool Front::MayReadBackend(const FrontConnection& conn) const {
  return conn.pending() < kMaxPendingOut && pending_bytes_ < kMaxPendingTotal;
}

}  // namespace connwatch
