#include "http/front_connection.h"

#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

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
  while (!conn.out.empty()) {
    if (conn.ssl != nullptr) {
      ERR_clear_error();
      conn.ssl_wants_write = false;
      int n = SSL_write(conn.ssl, conn.out.data(), static_cast<int>(conn.out.size()));
      if (n <= 0) return SslStatus(conn, n);
      conn.out.erase(0, static_cast<size_t>(n));
      continue;
    }
    ssize_t n = send(conn.fd, conn.out.data(), conn.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IoStatus::kWouldBlock
                                                                       : IoStatus::kFailed;
    }
    conn.out.erase(0, static_cast<size_t>(n));
  }
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
