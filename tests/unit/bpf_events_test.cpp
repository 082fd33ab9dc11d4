// The ring buffer's parsers on synthetic records, and what Open says when the binary was built
// without eBPF. The programs on the real kernel: bpf_events_kernel_test.cpp.
#include "sources/bpf_events.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <vector>

#include "connwatch_events.h"

namespace connwatch {
namespace {

template <typename Record>
std::vector<uint8_t> Bytes(const Record& raw) {
  const auto* begin = reinterpret_cast<const uint8_t*>(&raw);
  return {begin, begin + sizeof(raw)};
}

connwatch_open ConnectRecord() {
  connwatch_open raw{};
  raw.cookie = 0x1122334455667788ull;
  raw.cgroup_id = 9876;
  raw.start_boot_ns = 1'500'000'000ull;  // 1.5 s
  raw.tgid = 4242;
  raw.direction = CONNWATCH_DIRECTION_OUTBOUND;
  std::memcpy(raw.comm, "curl", 4);  // the rest stays NUL, as the kernel pads it
  return raw;
}

connwatch_close Ipv4Close() {
  connwatch_close raw{};
  raw.cookie = 0x1122334455667788ull;
  raw.netns_inode = 4026531840ull;
  raw.end_boot_ns = 2'750'000'000ull;
  raw.bytes_acked = 100'002;
  raw.bytes_received = 5'001;
  const uint8_t local[] = {10, 0, 0, 5}, remote[] = {93, 184, 216, 34};
  std::memcpy(raw.local_addr, local, 4);
  std::memcpy(raw.remote_addr, remote, 4);
  raw.local_port = 40000;
  raw.remote_port = 443;
  raw.family = AF_INET;
  raw.outcome = CONNWATCH_OUTCOME_ESTABLISHED;
  raw.old_state = 8;  // TCP_CLOSE_WAIT... any state after ESTABLISHED
  return raw;
}

TEST(ParseBpfRecordTest, EachRefusesARecordOfAnotherSize) {
  std::vector<uint8_t> open = Bytes(ConnectRecord()), close = Bytes(Ipv4Close());
  uint64_t cookie = 0;
  OpenedSocket opened;
  ConnectionEvent event;
  EXPECT_TRUE(ParseBpfOpenRecord(open, cookie, opened));
  EXPECT_TRUE(ParseBpfCloseRecord(close, event));
  EXPECT_FALSE(ParseBpfOpenRecord(close, cookie, opened));
  EXPECT_FALSE(ParseBpfCloseRecord(open, event));
  EXPECT_FALSE(ParseBpfOpenRecord(std::span(open).first(open.size() - 1), cookie, opened));
  EXPECT_FALSE(ParseBpfCloseRecord(std::span(close).first(close.size() - 1), event));
  EXPECT_FALSE(ParseBpfOpenRecord({}, cookie, opened));
  EXPECT_FALSE(ParseBpfCloseRecord({}, event));
  close.push_back(0);
  EXPECT_FALSE(ParseBpfCloseRecord(close, event));
}

TEST(ParseBpfRecordTest, RefusesValuesTheProgramNeverWrites) {
  uint64_t cookie = 0;
  OpenedSocket opened;
  connwatch_open open = ConnectRecord();
  open.direction = CONNWATCH_DIRECTION_UNKNOWN;  // an open record always knows its direction
  EXPECT_FALSE(ParseBpfOpenRecord(Bytes(open), cookie, opened));
  open.direction = 3;
  EXPECT_FALSE(ParseBpfOpenRecord(Bytes(open), cookie, opened));

  ConnectionEvent event;
  connwatch_close close = Ipv4Close();
  close.family = 1;  // AF_UNIX
  EXPECT_FALSE(ParseBpfCloseRecord(Bytes(close), event));
  close = Ipv4Close();
  close.outcome = 2;
  EXPECT_FALSE(ParseBpfCloseRecord(Bytes(close), event));
}

TEST(ParseBpfRecordTest, DecodesEveryFieldOfBothAndJoinsThem) {
  uint64_t cookie = 0;
  OpenedSocket opened;
  ASSERT_TRUE(ParseBpfOpenRecord(Bytes(ConnectRecord()), cookie, opened));
  EXPECT_EQ(cookie, 0x1122334455667788ull);
  EXPECT_EQ(opened.direction, EventDirection::kOutbound);
  EXPECT_EQ(opened.pid, 4242);

  ConnectionEvent event;
  ASSERT_TRUE(ParseBpfCloseRecord(Bytes(Ipv4Close()), event));
  EXPECT_EQ(event.family, Family::kIpv4);
  EXPECT_EQ(FormatIpAddress(event.local), "10.0.0.5");
  EXPECT_EQ(event.local_port, 40000);
  EXPECT_EQ(FormatIpAddress(event.remote), "93.184.216.34");
  EXPECT_EQ(event.remote_port, 443);
  EXPECT_EQ(event.cookie, 0x1122334455667788ull);
  EXPECT_EQ(event.netns_inode, 4026531840ull);
  EXPECT_EQ(event.direction, EventDirection::kUnknown);  // until joined
  EXPECT_EQ(event.pid, 0);
  EXPECT_EQ(event.start_boot_seconds, 0);
  EXPECT_EQ(event.outcome, EventOutcome::kEstablished);
  EXPECT_DOUBLE_EQ(event.end_boot_seconds, 2.75);
  EXPECT_TRUE(event.has_bytes);
  EXPECT_EQ(event.bytes_acked, 100'002u);
  EXPECT_EQ(event.bytes_received, 5'001u);

  JoinOpenRecord(opened, event);
  EXPECT_EQ(event.cgroup_id, 9876u);
  EXPECT_EQ(event.pid, 4242);
  EXPECT_EQ(event.comm, "curl");  // no trailing NULs
  EXPECT_EQ(event.direction, EventDirection::kOutbound);
  EXPECT_DOUBLE_EQ(event.start_boot_seconds, 1.5);
  EXPECT_EQ(event.remote_port, 443);  // the close record's fields stay
}

TEST(ParseBpfRecordTest, Ipv6InboundFailedAndAFullComm) {
  connwatch_close close = Ipv4Close();
  close.family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::1", close.local_addr);
  inet_pton(AF_INET6, "fe80::2", close.remote_addr);
  close.outcome = CONNWATCH_OUTCOME_FAILED;
  close.old_state = 3;  // TCP_SYN_RECV: a handshake the listener never finished
  ConnectionEvent event;
  ASSERT_TRUE(ParseBpfCloseRecord(Bytes(close), event));
  EXPECT_EQ(event.family, Family::kIpv6);
  EXPECT_EQ(event.local.family, Family::kIpv6);
  EXPECT_EQ(FormatIpAddress(event.local), "2001:db8::1");
  EXPECT_EQ(FormatIpAddress(event.remote), "fe80::2");
  EXPECT_EQ(event.direction, EventDirection::kInbound);  // from SYN_RECV, with no open record
  EXPECT_EQ(event.outcome, EventOutcome::kFailed);

  connwatch_open open = ConnectRecord();
  std::memcpy(open.comm, "0123456789abcdef", 16);  // no NUL at all: all 16 bytes kept
  uint64_t cookie = 0;
  OpenedSocket opened;
  ASSERT_TRUE(ParseBpfOpenRecord(Bytes(open), cookie, opened));
  JoinOpenRecord(opened, event);
  EXPECT_EQ(event.comm, "0123456789abcdef");
}

connwatch_probe Ipv4Probe() {
  connwatch_probe raw{};
  raw.netns_inode = 4026531840ull;
  raw.boot_ns = 3'250'000'000ull;
  const uint8_t local[] = {10, 0, 0, 5}, remote[] = {198, 51, 100, 7};
  std::memcpy(raw.local_addr, local, 4);
  std::memcpy(raw.remote_addr, remote, 4);
  raw.local_port = 22;
  raw.remote_port = 51234;
  raw.family = AF_INET;
  return raw;
}

TEST(ParseBpfProbeRecordTest, DecodesAnIpv4Probe) {
  InboundProbe probe;
  ASSERT_TRUE(ParseBpfProbeRecord(Bytes(Ipv4Probe()), probe));
  EXPECT_EQ(probe.family, Family::kIpv4);
  EXPECT_EQ(probe.local.family, Family::kIpv4);
  EXPECT_EQ(FormatIpAddress(probe.local), "10.0.0.5");
  EXPECT_EQ(probe.local_port, 22);
  EXPECT_EQ(FormatIpAddress(probe.remote), "198.51.100.7");
  EXPECT_EQ(probe.remote_port, 51234);
  EXPECT_EQ(probe.netns_inode, 4026531840ull);
  EXPECT_DOUBLE_EQ(probe.boot_seconds, 3.25);
}

TEST(ParseBpfProbeRecordTest, DecodesAnIpv6Probe) {
  connwatch_probe raw = Ipv4Probe();
  raw.family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::5", raw.local_addr);
  inet_pton(AF_INET6, "2001:db8:ffff::7", raw.remote_addr);
  InboundProbe probe;
  ASSERT_TRUE(ParseBpfProbeRecord(Bytes(raw), probe));
  EXPECT_EQ(probe.family, Family::kIpv6);
  EXPECT_EQ(probe.remote.family, Family::kIpv6);
  EXPECT_EQ(FormatIpAddress(probe.local), "2001:db8::5");
  EXPECT_EQ(FormatIpAddress(probe.remote), "2001:db8:ffff::7");
  EXPECT_EQ(probe.local_port, 22);
}

TEST(ParseBpfProbeRecordTest, RefusesOtherSizesAndTheOtherRecords) {
  std::vector<uint8_t> probe_bytes = Bytes(Ipv4Probe());
  InboundProbe probe;
  EXPECT_FALSE(ParseBpfProbeRecord(std::span(probe_bytes).first(probe_bytes.size() - 1), probe));
  EXPECT_FALSE(ParseBpfProbeRecord({}, probe));
  EXPECT_FALSE(ParseBpfProbeRecord(Bytes(ConnectRecord()), probe));
  EXPECT_FALSE(ParseBpfProbeRecord(Bytes(Ipv4Close()), probe));
  // And the other two parsers refuse it: the three sizes are what tells them apart.
  uint64_t cookie = 0;
  OpenedSocket opened;
  ConnectionEvent event;
  EXPECT_FALSE(ParseBpfOpenRecord(probe_bytes, cookie, opened));
  EXPECT_FALSE(ParseBpfCloseRecord(probe_bytes, event));
  probe_bytes.push_back(0);
  EXPECT_FALSE(ParseBpfProbeRecord(probe_bytes, probe));
}

TEST(ParseBpfProbeRecordTest, RefusesValuesTheProgramNeverWrites) {
  InboundProbe probe;
  connwatch_probe raw = Ipv4Probe();
  raw.family = 0;
  EXPECT_FALSE(ParseBpfProbeRecord(Bytes(raw), probe));
  raw.family = 1;  // AF_UNIX
  EXPECT_FALSE(ParseBpfProbeRecord(Bytes(raw), probe));
  raw = Ipv4Probe();
  raw.reserved[1] = 1;  // the program zeroes the whole record first
  EXPECT_FALSE(ParseBpfProbeRecord(Bytes(raw), probe));
  raw = Ipv4Probe();
  EXPECT_TRUE(ParseBpfProbeRecord(Bytes(raw), probe));  // each refusal above was its one field
}

TEST(BpfEventsBuiltTest, OpenSaysWhyWhenNotBuilt) {
  if (BpfEventsBuilt()) GTEST_SKIP() << "built with eBPF; bpf_events_kernel_test.cpp runs";
  std::string error;
  EXPECT_EQ(BpfEvents::Open(error), nullptr);
  EXPECT_NE(error.find("built without the eBPF source"), std::string::npos) << error;
}

}  // namespace
}  // namespace connwatch
