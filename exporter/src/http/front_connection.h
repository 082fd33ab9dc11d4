// One client connection of the HTTP front (http/front.h): its socket, its TLS session when
// the front serves HTTPS, the bytes read but not yet handed on and the bytes still to send,
// and the loopback connection to civetweb while a request of its is being answered.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "http/http_framing.h"

namespace connwatch {

struct FrontConnection {
  enum class Phase {
    kReading,     // reading a request (after the TLS handshake)
    kQueued,      // a complete request waits for a free slot to civetweb
    kForwarding,  // civetweb answers it
    kClosing,     // sending what is left, then closed
  };
  int fd = -1;
  SSL* ssl = nullptr;  // null: plain HTTP
  bool handshaken = false;
  bool ssl_wants_write = false;  // the last TLS operation waits for the socket to drain
  std::string peer;
  Phase phase = Phase::kReading;
  bool kept = false;    // a response was sent: now a kept-alive connection
  double deadline = 0;  // monotonic seconds; what missing it means depends on the phase
  std::string in;       // from the client, not yet handed on
  std::string out;      // to the client; its first out_sent bytes are sent
  size_t out_sent = 0;
  size_t request_length = 0;
  bool head_method = false;
  bool request_close = false;  // the request asked for the connection to end after it
  // The loopback connection to civetweb (-1: none).
  int backend = -1;
  uint16_t backend_port = 0;  // its source port, registered in PeerByPort
  std::string to_backend;
  std::string response_head;                       // the response until its head is complete
  std::optional<ResponseFrame> frame;              // its framing, once the head is complete
  size_t response_bytes = 0;                       // how much of the response has arrived
  uint32_t client_events = 0, backend_events = 0;  // what epoll waits for now

  size_t pending() const { return out.size() - out_sent; }
};

enum class IoStatus { kOk, kWouldBlock, kClosed, kFailed };

// Reads into `into` until the socket would block, `into` holds `limit` bytes, or the peer
// closed (kClosed) or failed. Through TLS when conn.ssl is set.
IoStatus ReadClient(FrontConnection& conn, std::string& into, size_t limit);
// Sends as much of conn.out as the socket takes; conn.out is empty once all of it is sent.
IoStatus WriteClient(FrontConnection& conn);
// Advances the TLS handshake: kOk once done, kWouldBlock while it needs the peer.
IoStatus Handshake(FrontConnection& conn);
// Best-effort close_notify, then frees the session and closes the socket.
void CloseClient(FrontConnection& conn);

}  // namespace connwatch
