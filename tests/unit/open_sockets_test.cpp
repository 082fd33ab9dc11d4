#include "sources/open_sockets.h"

#include <gtest/gtest.h>

#include <cstring>

namespace connwatch {
namespace {

OpenedSocket Connect(pid_t pid, const char* comm) {
  OpenedSocket opened;
  opened.pid = pid;
  opened.direction = EventDirection::kOutbound;
  opened.start_boot_ns = 1000u + static_cast<uint64_t>(pid);
  std::strncpy(opened.comm, comm, sizeof(opened.comm));
  return opened;
}

OpenedSocket Accept() {
  OpenedSocket opened;
  opened.direction = EventDirection::kInbound;
  opened.start_boot_ns = 7;
  return opened;
}

TEST(OpenSocketsTest, TakeReturnsWhatWasRememberedOnce) {
  OpenSockets open(8);
  open.Remember(1, Connect(100, "curl"));
  open.Remember(2, Accept());
  EXPECT_EQ(open.size(), 2u);
  OpenedSocket taken;
  ASSERT_TRUE(open.Take(1, taken));
  EXPECT_EQ(taken.pid, 100);
  EXPECT_STREQ(taken.comm, "curl");
  EXPECT_EQ(taken.direction, EventDirection::kOutbound);
  EXPECT_FALSE(open.Take(1, taken)) << "a close is joined once";
  EXPECT_FALSE(open.Take(3, taken)) << "never opened";
  ASSERT_TRUE(open.Take(2, taken));
  EXPECT_EQ(taken.direction, EventDirection::kInbound);
  EXPECT_EQ(open.size(), 0u) << "nothing kept after the close";
  EXPECT_EQ(open.forgotten(), 0u);
}

// SYN_SENT -> SYN_RECV -> ESTABLISHED: the socket connect()ed, then the kernel also reports
// it as a passive open. It stays the connect.
TEST(OpenSocketsTest, ASimultaneousOpenKeepsItsConnect) {
  OpenSockets open(8);
  open.Remember(5, Connect(200, "ssh"));
  open.Remember(5, Accept());
  OpenedSocket taken;
  ASSERT_TRUE(open.Take(5, taken));
  EXPECT_EQ(taken.direction, EventDirection::kOutbound);
  EXPECT_EQ(taken.pid, 200);
}

TEST(OpenSocketsTest, FullForgetsTheOlderHalfAndCountsThem) {
  constexpr size_t kCapacity = 100;
  OpenSockets open(kCapacity);
  for (uint64_t cookie = 1; cookie <= kCapacity; ++cookie) {
    open.Remember(cookie, Connect(static_cast<pid_t>(cookie), "x"));
  }
  EXPECT_EQ(open.size(), kCapacity);
  EXPECT_EQ(open.forgotten(), 0u);
  open.Remember(1000, Connect(1000, "new"));  // no room: the oldest 50 go
  EXPECT_EQ(open.forgotten(), kCapacity / 2);
  EXPECT_EQ(open.size(), kCapacity / 2 + 1);
  OpenedSocket taken;
  EXPECT_FALSE(open.Take(1, taken));
  EXPECT_FALSE(open.Take(kCapacity / 2, taken));
  EXPECT_TRUE(open.Take(kCapacity / 2 + 1, taken));
  EXPECT_TRUE(open.Take(kCapacity, taken));
  ASSERT_TRUE(open.Take(1000, taken));
  EXPECT_STREQ(taken.comm, "new");
}

// What a connect/close loop does: every open is taken again, so the table never fills and
// nothing is forgotten however many sockets pass through it.
TEST(OpenSocketsTest, ChurnKeepsItSmall) {
  OpenSockets open(64);
  OpenedSocket taken;
  for (uint64_t cookie = 1; cookie <= 100'000; ++cookie) {
    open.Remember(cookie, Connect(1, "loop"));
    if (cookie > 10) {
      ASSERT_TRUE(open.Take(cookie - 10, taken));
    }
  }
  EXPECT_EQ(open.size(), 10u);
  EXPECT_EQ(open.forgotten(), 0u);
}

}  // namespace
}  // namespace connwatch
