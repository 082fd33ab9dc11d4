// sock_diag destroy notifications: the pure parser on built messages, and the subscriber on
// the real kernel (loopback connections of this process; no privilege needed).
#include "sources/sock_destroy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "base/clock.h"
#include "support/loopback_pair.h"
#include "support/netlink_builder.h"

namespace connwatch {
namespace {

using testing::DiagMsgSpec;
using testing::LoopbackPair;
using testing::NetlinkAttribute;
using testing::NetlinkBuilder;

// A tcp_info attribute as a 6.18 kernel sends it (280 bytes, longer than Debian 12's
// struct) with the two byte counters and delivered set; `size` cuts it (older kernels).
NetlinkAttribute TcpInfo(uint64_t acked, uint64_t received, uint32_t delivered = 0,
                         size_t size = 280) {
  std::vector<uint8_t> payload(280, 0);
  std::memcpy(payload.data() + offsetof(tcp_info, tcpi_bytes_acked), &acked, sizeof(acked));
  std::memcpy(payload.data() + offsetof(tcp_info, tcpi_bytes_received), &received,
              sizeof(received));
  std::memcpy(payload.data() + offsetof(tcp_info, tcpi_delivered), &delivered, sizeof(delivered));
  payload.resize(size);
  return {INET_DIAG_INFO, payload};
}

NetlinkAttribute CgroupId(uint64_t id) {
  std::vector<uint8_t> payload(sizeof(id));
  std::memcpy(payload.data(), &id, sizeof(id));
  return {INET_DIAG_CGROUP_ID, payload};
}

DiagMsgSpec Closed(uint16_t local_port, const char* remote, uint16_t remote_port, uint64_t cookie) {
  DiagMsgSpec spec;
  spec.state = 7;  // TCP_CLOSE: every destroy notification
  spec.local = "127.0.0.1";
  spec.local_port = local_port;
  spec.remote = remote;
  spec.remote_port = remote_port;
  spec.cookie = cookie;
  return spec;
}

TEST(SockDestroyTest, EstablishedFailedAndListenersTold) {
  NetlinkBuilder builder;
  builder.DiagMsg(Closed(40000, "127.0.0.2", 8080, 11), {TcpInfo(100002, 5001), CgroupId(4242)})
      .DiagMsg(Closed(40001, "127.0.0.2", 0, 12), {TcpInfo(0, 0)})  // refused: no ack, port 0
      .DiagMsg(Closed(8080, "0.0.0.0", 0, 13), {TcpInfo(0, 0)});    // a listener closing
  std::vector<ConnectionEvent> events;
  DestroyStats stats;
  ParseDestroyNotifications(builder.bytes(), 4026531840, 1234.5, events, stats);
  ASSERT_EQ(events.size(), 2u) << "the listener is no connection";
  EXPECT_EQ(stats.malformed_messages, 0u);
  EXPECT_EQ(events[0].cookie, 11u);
  EXPECT_EQ(FormatIpAddress(events[0].remote), "127.0.0.2");
  EXPECT_EQ(events[0].local_port, 40000);
  EXPECT_EQ(events[0].remote_port, 8080);
  EXPECT_EQ(events[0].outcome, EventOutcome::kEstablished);
  EXPECT_TRUE(events[0].has_bytes);
  EXPECT_EQ(events[0].bytes_acked, 100002u);
  EXPECT_EQ(events[0].bytes_received, 5001u);
  EXPECT_EQ(events[0].netns_inode, 4026531840u);
  EXPECT_EQ(events[0].end_boot_seconds, 1234.5);
  EXPECT_EQ(events[0].direction, EventDirection::kUnknown) << "the message does not say";
  EXPECT_EQ(events[0].pid, 0) << "nor who connected";
  EXPECT_EQ(events[0].cgroup_id, 4242u) << "the socket creator's cgroup";
  EXPECT_EQ(events[1].cgroup_id, 0u) << "none sent";
  EXPECT_EQ(events[1].outcome, EventOutcome::kFailed) << "its SYN was never acknowledged";
  EXPECT_EQ(events[1].remote_port, 0);
}

// The accepted end of a connection that sent nothing: its SYN-ACK is not in bytes_acked,
// only in delivered. Taken for a failed connect, it was counted nowhere.
TEST(SockDestroyTest, AcceptedEndThatSentNothingIsEstablished) {
  constexpr size_t kBeforeDelivered = offsetof(tcp_info, tcpi_delivered);
  NetlinkBuilder builder;
  builder.DiagMsg(Closed(8080, "127.0.0.2", 40000, 21), {TcpInfo(0, 0, 1)})
      .DiagMsg(Closed(40002, "127.0.0.2", 0, 22), {TcpInfo(0, 0, 0)})  // refused
      .DiagMsg(Closed(8080, "127.0.0.2", 40003, 23), {TcpInfo(0, 0, 1, kBeforeDelivered)})
      .DiagMsg(Closed(8080, "127.0.0.2", 40004, 24), {TcpInfo(0, 7, 0, kBeforeDelivered)});
  std::vector<ConnectionEvent> events;
  DestroyStats stats;
  ParseDestroyNotifications(builder.bytes(), 1, 0, events, stats);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].outcome, EventOutcome::kEstablished) << "its SYN-ACK was delivered";
  EXPECT_EQ(events[1].outcome, EventOutcome::kFailed) << "nothing delivered, nothing acked";
  EXPECT_EQ(events[2].outcome, EventOutcome::kFailed)
      << "before 4.18 (no delivered) the bytes alone decide";
  EXPECT_EQ(events[3].outcome, EventOutcome::kEstablished) << "it received data";
}

TEST(SockDestroyTest, ShortAttributesAndMessagesAreNotBelieved) {
  NetlinkAttribute short_info{INET_DIAG_INFO, std::vector<uint8_t>(40, 0xff)};
  NetlinkBuilder builder;
  builder.DiagMsg(Closed(40000, "127.0.0.2", 80, 1), {short_info});
  std::vector<ConnectionEvent> events;
  DestroyStats stats;
  ParseDestroyNotifications(builder.bytes(), 1, 0, events, stats);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].has_bytes) << "40 bytes cannot hold the counters";
  EXPECT_EQ(events[0].outcome, EventOutcome::kEstablished) << "unknown bytes are no failure";

  uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  NetlinkBuilder broken;
  broken.Message(SOCK_DIAG_BY_FAMILY, 0, junk);
  events.clear();
  ParseDestroyNotifications(broken.bytes(), 1, 0, events, stats);
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(stats.malformed_messages, 1u);
}

// A loopback connection made and closed here reaches the subscriber with the cookie
// SO_COOKIE gave and its bytes.
TEST(SockDestroyTest, SubscriberSeesThisProcessesConnections) {
  std::string error;
  MnlSocketPtr subscriber = OpenDestroySubscriber(error);
  ASSERT_TRUE(subscriber) << error;
  LoopbackPair pair;
  ASSERT_TRUE(OpenLoopbackPair(pair));
  const int client = pair.client, server = pair.server;
  const uint64_t cookie = pair.client_cookie;
  const sockaddr_in address = pair.address;
  std::vector<char> data(100000, 'x');
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(client, data.data() + sent, data.size() - sent, 0);
    ASSERT_GT(n, 0);
    sent += static_cast<size_t>(n);
    char sink[65536];
    while (recv(server, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
    }
  }
  char sink[65536];
  while (recv(server, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
  }
  CloseLoopbackPair(pair);
  std::vector<ConnectionEvent> events;
  DestroyStats stats;
  const ConnectionEvent* mine = nullptr;
  // Delivered from a kernel workqueue: asynchronously, well within a second here.
  for (int i = 0; i < 40 && mine == nullptr; ++i) {
    ReadDestroyNotifications(*subscriber, 7, BootClockSeconds(), events, stats);
    for (const ConnectionEvent& event : events) {
      if (event.cookie == cookie) mine = &event;
    }
    if (mine == nullptr) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(mine, nullptr) << "no notification with the client's cookie among " << events.size();
  EXPECT_EQ(mine->remote_port, ntohs(address.sin_port));
  EXPECT_EQ(mine->outcome, EventOutcome::kEstablished);
  ASSERT_TRUE(mine->has_bytes);
  EXPECT_GE(mine->bytes_acked, 100000u);
  EXPECT_LE(mine->bytes_acked, 100002u) << "the data, the SYN and the FIN";
  EXPECT_EQ(mine->netns_inode, 7u);
  EXPECT_EQ(stats.overruns, 0u);
}

// On the real kernel, a connection that carried no data, reset by the client's close: the
// accepted end (which the reset reached) is established though it acknowledged no byte.
// The client end is what a close with SO_LINGER {1,0} leaves: tcp_disconnect zeroed its
// counters and its peer port, so its record reads like a refused connect.
TEST(SockDestroyTest, SubscriberSeesTheAcceptedEndOfAnEmptyConnectionEstablished) {
  std::string error;
  MnlSocketPtr subscriber = OpenDestroySubscriber(error);
  ASSERT_TRUE(subscriber) << error;
  LoopbackPair pair;
  ASSERT_TRUE(OpenLoopbackPair(pair));
  const uint64_t cookies[2] = {pair.client_cookie, pair.server_cookie};
  const sockaddr_in address = pair.address;
  linger reset{1, 0};  // no TIME_WAIT: both ends are freed at once
  setsockopt(pair.client, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  CloseLoopbackPair(pair);
  std::vector<ConnectionEvent> events;
  DestroyStats stats;
  std::optional<ConnectionEvent> ends[2];  // copies: later reads may move `events`
  for (int i = 0; i < 40 && (!ends[0] || !ends[1]); ++i) {
    ReadDestroyNotifications(*subscriber, 7, BootClockSeconds(), events, stats);
    for (const ConnectionEvent& event : events) {
      for (int end = 0; end < 2; ++end) {
        if (event.cookie == cookies[end]) ends[end] = event;
      }
    }
    if (!ends[0] || !ends[1]) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(ends[0]) << "the client's notification";
  ASSERT_TRUE(ends[1]) << "the accepted end's notification";
  EXPECT_EQ(ends[1]->outcome, EventOutcome::kEstablished) << "its SYN-ACK was acknowledged";
  ASSERT_TRUE(ends[1]->has_bytes);
  EXPECT_EQ(ends[1]->bytes_acked, 0u) << "why bytes alone cannot tell";
  EXPECT_EQ(ends[1]->local_port, ntohs(address.sin_port)) << "the listener's port";
  ASSERT_TRUE(ends[0]->has_bytes);
  EXPECT_EQ(ends[0]->bytes_acked, 0u) << "zeroed by tcp_disconnect, though its SYN was acked";
  EXPECT_EQ(ends[0]->remote_port, 0);
}

}  // namespace
}  // namespace connwatch
