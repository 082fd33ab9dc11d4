#include "http/front_connection.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace connwatch {
namespace {

// A plain connection over one end of a non-blocking socket pair; `other` is the peer.
struct Pair {
  Pair() {
    int fds[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds);
    conn.fd = fds[0];
    conn.handshaken = true;
    other = fds[1];
  }
  ~Pair() {
    CloseClient(conn);
    if (other >= 0) close(other);
  }
  FrontConnection conn;
  int other = -1;
};

TEST(FrontConnectionTest, ReadsUntilTheSocketWouldBlockOrTheLimit) {
  Pair pair;
  std::string in;
  EXPECT_EQ(ReadClient(pair.conn, in, 100), IoStatus::kWouldBlock);
  ASSERT_EQ(write(pair.other, "GET / HTTP/1.1\r\n", 16), 16);
  EXPECT_EQ(ReadClient(pair.conn, in, 100), IoStatus::kWouldBlock);
  EXPECT_EQ(in, "GET / HTTP/1.1\r\n");
  EXPECT_EQ(ReadClient(pair.conn, in, 10), IoStatus::kOk);  // at its limit already
  EXPECT_EQ(in.size(), 16u);
  close(pair.other);
  pair.other = -1;
  EXPECT_EQ(ReadClient(pair.conn, in, 100), IoStatus::kClosed);
}

TEST(FrontConnectionTest, WritesWhatTheSocketTakesAndKeepsTheRest) {
  Pair pair;
  pair.conn.out = std::string(4 << 20, 'x');  // more than a socket buffer
  EXPECT_EQ(WriteClient(pair.conn), IoStatus::kWouldBlock);
  size_t left = pair.conn.pending();
  EXPECT_GT(left, 0u);
  EXPECT_LT(left, size_t{4} << 20);
  char buffer[65536];
  size_t drained = 0;
  while (drained < (size_t{4} << 20) - left) {
    ssize_t n = read(pair.other, buffer, sizeof(buffer));
    ASSERT_GT(n, 0);
    drained += static_cast<size_t>(n);
  }
  EXPECT_EQ(drained, (size_t{4} << 20) - left);
  close(pair.other);
  pair.other = -1;
  EXPECT_EQ(WriteClient(pair.conn), IoStatus::kFailed);  // EPIPE, and no SIGPIPE
}

TEST(FrontConnectionTest, AHandshakeWithSomethingNotTlsFails) {
  Pair pair;
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  pair.conn.ssl = SSL_new(ctx);
  pair.conn.handshaken = false;
  SSL_set_fd(pair.conn.ssl, pair.conn.fd);
  SSL_set_accept_state(pair.conn.ssl);
  EXPECT_EQ(Handshake(pair.conn), IoStatus::kWouldBlock);
  const char request[] = "GET / HTTP/1.1\r\n\r\n";
  ASSERT_EQ(write(pair.other, request, sizeof(request) - 1), ssize_t{sizeof(request) - 1});
  EXPECT_EQ(Handshake(pair.conn), IoStatus::kFailed);
  EXPECT_FALSE(pair.conn.handshaken);
  CloseClient(pair.conn);
  EXPECT_EQ(pair.conn.ssl, nullptr);
  EXPECT_EQ(pair.conn.fd, -1);
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace connwatch
