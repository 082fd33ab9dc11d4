#include "http/front.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "http/front_socket.h"

namespace connwatch {
namespace {

// civetweb's stand-in: answers every request head on 127.0.0.1 with "peer=<what PeerByPort
// says of the connection's source port>", one request per connection.
class Backend {
 public:
  explicit Backend(PeerByPort* peers) : peers_(peers) {
    ListenAddress address;
    address.host = "127.0.0.1";
    std::string bound, error;
    fd_ = OpenListener(address, bound, error);
    port_ = static_cast<uint16_t>(std::stoi(bound.substr(bound.rfind(':') + 1)));
    thread_ = std::thread([this] { Serve(); });
  }
  ~Backend() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  int served() const { return served_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd ready{fd_, POLLIN, 0};
      if (poll(&ready, 1, 20) != 1) continue;
      sockaddr_in peer{};
      socklen_t length = sizeof(peer);
      int fd = accept(fd_, reinterpret_cast<sockaddr*>(&peer), &length);
      if (fd < 0) continue;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        pollfd in{fd, POLLIN, 0};
        if (poll(&in, 1, 1000) != 1) break;
        ssize_t n = read(fd, buffer, sizeof(buffer));
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      std::string body = "peer=" + peers_->Find(ntohs(peer.sin_port));
      std::string response =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      ++served_;  // before the answer: a test that has read it may count at once
      (void)!write(fd, response.data(), response.size());
      close(fd);
    }
  }

  PeerByPort* peers_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  std::thread thread_;
};

class FrontTest : public ::testing::Test {
 protected:
  void Start(FrontOptions options) {
    options.addresses.resize(1);
    options.addresses[0].host = "127.0.0.1";
    options.backend_port = backend_.port();
    front_ = std::make_unique<Front>(std::move(options), &rejections_, &peers_);
    std::string error;
    ASSERT_TRUE(front_->Start(error)) << error;
    const std::string& bound = front_->bound_addresses().at(0);
    port_ = static_cast<uint16_t>(std::stoi(bound.substr(bound.rfind(':') + 1)));
  }
  int Connect() {
    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_port = htons(port_);
    inet_pton(AF_INET, "127.0.0.1", &target.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof(target)), 0);
    return fd;
  }
  // Reads until `wanted` bytes arrived, the peer closed, or 3 s passed.
  static std::string Read(int fd, size_t wanted = SIZE_MAX) {
    std::string got;
    char buffer[4096];
    while (got.size() < wanted) {
      pollfd in{fd, POLLIN, 0};
      if (poll(&in, 1, 3000) != 1) break;
      ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n <= 0) break;
      got.append(buffer, static_cast<size_t>(n));
    }
    return got;
  }

  PeerByPort peers_;
  HttpRejections rejections_;
  Backend backend_{&peers_};
  std::unique_ptr<Front> front_;
  uint16_t port_ = 0;
};

const std::string kAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\npeer=127.0.0.1";

TEST_F(FrontTest, RelaysRequestsOneAtATimeAndTellsCivetwebThePeer) {
  Start({});
  int fd = Connect();
  // Two pipelined requests on one connection, the first sent in pieces.
  (void)!write(fd, "GET /metrics HTTP/1.1\r\n", 23);
  usleep(50000);
  (void)!write(fd, "\r\nGET / HTTP/1.1\r\n\r\n", 20);
  EXPECT_EQ(Read(fd, 2 * kAnswer.size()), kAnswer + kAnswer);
  EXPECT_EQ(backend_.served(), 2);
  close(fd);
  EXPECT_EQ(rejections_.Get(RejectReason::kHeaderTimeout), 0u);
}

TEST_F(FrontTest, ARequestHeadNotCompleteInTimeIsClosedAndCounted) {
  FrontOptions options;
  options.header_timeout = std::chrono::milliseconds(300);
  Start(options);
  int fd = Connect();
  for (int i = 0; i < 3; ++i) {  // a byte every 150 ms: too slow for 300 ms
    (void)!write(fd, "G", 1);
    usleep(150000);
  }
  EXPECT_EQ(Read(fd), "");
  EXPECT_EQ(rejections_.Get(RejectReason::kHeaderTimeout), 1u);
  EXPECT_EQ(backend_.served(), 0);
  close(fd);
}

TEST_F(FrontTest, APeerOverItsLimitIsRefusedAndCounted) {
  FrontOptions options;
  options.limits.max_per_peer = 2;
  Start(options);
  int held[2] = {Connect(), Connect()};
  int third = Connect();  // accepted by the kernel, then reset by the front
  EXPECT_EQ(Read(third), "");
  EXPECT_EQ(rejections_.Get(RejectReason::kPeerLimit), 1u);
  (void)!write(held[0], "GET / HTTP/1.1\r\n\r\n", 18);
  EXPECT_EQ(Read(held[0], kAnswer.size()), kAnswer);  // the held ones still work
  for (int fd : {held[0], held[1], third}) close(fd);
}

TEST_F(FrontTest, ARequestAboveTheCapsIsAnswered413) {
  FrontOptions options;
  options.max_head = 64;
  Start(options);
  int fd = Connect();
  std::string request = "GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n";
  (void)!write(fd, request.data(), request.size());
  std::string answer = Read(fd);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413 ")) << answer;
  EXPECT_EQ(rejections_.Get(RejectReason::kRequestTooLarge), 1u);
  EXPECT_EQ(backend_.served(), 0);
  close(fd);
}

}  // namespace
}  // namespace connwatch
