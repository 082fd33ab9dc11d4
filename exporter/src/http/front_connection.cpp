#include "http/front_connection.h"

#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace connwatch {
namespace {

IoStatus SslStatus(FrontConnection& conn, int result) {
  switch (SSL_get_error(conn.ssl, result)) {
    case SSL_ERROR_WANT_READ:
      return IoStatus::kWouldBlock;
    case SSL_ERROR_WANT_WRITE:
      conn.ssl_wants_write = true;
      return IoStatus::kWouldBlock;
    case SSL_ERROR_ZERO_RETURN:
      return IoStatus::kClosed;
    default:
      return IoStatus::kFailed;
  }
}

// One read: bytes > 0, or the status that ended reading.
IoStatus ReadOnce(FrontConnection& conn, char* buffer, size_t size, size_t& got) {
  if (conn.ssl != nullptr) {
    ERR_clear_error();
    conn.ssl_wants_write = false;
    int n = SSL_read(conn.ssl, buffer, static_cast<int>(size));
    if (n > 0) {
      got = static_cast<size_t>(n);
      return IoStatus::kOk;
    }
    return SslStatus(conn, n);
  }
  ssize_t n = recv(conn.fd, buffer, size, 0);
  if (n > 0) {
    got = static_cast<size_t>(n);
    return IoStatus::kOk;
  }
  if (n == 0) return IoStatus::kClosed;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IoStatus::kWouldBlock
                                                                   : IoStatus::kFailed;
}

// One write of what is pending: bytes > 0, or the status that ended writing.
IoStatus WriteOnce(FrontConnection& conn, size_t& sent) {
  const char* data = conn.out.data() + conn.out_sent;
  size_t size = conn.pending();
  if (conn.ssl != nullptr) {
    ERR_clear_error();
    conn.ssl_wants_write = false;
    int n = SSL_write(conn.ssl, data, static_cast<int>(std::min<size_t>(size, INT32_MAX)));
    if (n <= 0) return SslStatus(conn, n);
    sent = static_cast<size_t>(n);
    return IoStatus::kOk;
  }
  ssize_t n = send(conn.fd, data, size, MSG_NOSIGNAL);
  if (n < 0) {
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IoStatus::kWouldBlock
                                                                     : IoStatus::kFailed;
  }
  sent = static_cast<size_t>(n);
  return IoStatus::kOk;
}

}  // namespace

IoStatus ReadClient(FrontConnection& conn, std::string& into, size_t limit) {
  char buffer[16384];
  while (into.size() < limit) {
    size_t got = 0;
    IoStatus status = ReadOnce(conn, buffer, std::min(sizeof(buffer), limit - into.size()), got);
    if (status != IoStatus::kOk) return status;
    into.append(buffer, got);
  }
  return IoStatus::kOk;
}

IoStatus WriteClient(FrontConnection& conn) {
  while (conn.pending() > 0) {
    size_t sent = 0;
    IoStatus status = WriteOnce(conn, sent);
    if (status != IoStatus::kOk) {
      // Moving the rest to the front now and then, not after every write: a response of
      // many MiB sent in socket-sized pieces must not be copied once per piece.
      if (conn.out_sent > (1u << 20) && conn.out_sent * 2 > conn.out.size()) {
        conn.out.erase(0, conn.out_sent);
        conn.out_sent = 0;
      }
      return status;
    }
    conn.out_sent += sent;
  }
  conn.out.clear();
  conn.out_sent = 0;
  return IoStatus::kOk;
}

IoStatus Handshake(FrontConnection& conn) {
  ERR_clear_error();
  conn.ssl_wants_write = false;
  int result = SSL_do_handshake(conn.ssl);
  if (result == 1) {
    conn.handshaken = true;
    return IoStatus::kOk;
  }
  IoStatus status = SslStatus(conn, result);
  return status == IoStatus::kClosed ? IoStatus::kFailed : status;
}

void CloseClient(FrontConnection& conn) {
  if (conn.ssl != nullptr) {
    if (conn.handshaken) {
      ERR_clear_error();
      SSL_shutdown(conn.ssl);
    }
    SSL_free(conn.ssl);
    conn.ssl = nullptr;
  }
  if (conn.fd >= 0) close(conn.fd);
  conn.fd = -1;
}

}  // namespace connwatch
