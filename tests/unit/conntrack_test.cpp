#include "sources/conntrack.h"

#include <arpa/inet.h>
#include <endian.h>
#include <gtest/gtest.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "support/fake_proc.h"
#include "support/netlink_builder.h"

namespace connwatch {
namespace {

using testing::NetlinkBuilder;
using testing::ReadFramedBuffers;
using testing::RunInUnprivilegedChild;

using Bytes = std::vector<uint8_t>;

constexpr uint16_t kCtNew = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;

// --- building ctnetlink messages ------------------------------------------------------

Bytes Attr(uint16_t type, const Bytes& payload) {
  Bytes out(NLA_HDRLEN);
  nlattr header{static_cast<uint16_t>(NLA_HDRLEN + payload.size()), type};
  std::memcpy(out.data(), &header, sizeof(header));
  out.insert(out.end(), payload.begin(), payload.end());
  out.resize(NLA_ALIGN(out.size()), 0);
  return out;
}

Bytes Concat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const Bytes& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// The kernel sets NLA_F_NESTED on every nest (nla_nest_start()); older ones did not.
Bytes Nest(uint16_t type, const std::vector<Bytes>& children, bool nested_flag) {
  return Attr(static_cast<uint16_t>(type | (nested_flag ? NLA_F_NESTED : 0)), Concat(children));
}

Bytes U8(uint8_t value) { return {value}; }

Bytes Be16(uint16_t value) {
  uint16_t be = htons(value);
  Bytes out(sizeof(be));
  std::memcpy(out.data(), &be, sizeof(be));
  return out;
}

Bytes Be32(uint32_t value) {
  uint32_t be = htonl(value);
  Bytes out(sizeof(be));
  std::memcpy(out.data(), &be, sizeof(be));
  return out;
}

Bytes Be64(uint64_t value) {
  uint64_t be = htobe64(value);
  Bytes out(sizeof(be));
  std::memcpy(out.data(), &be, sizeof(be));
  return out;
}

Bytes Address(int family, const std::string& text) {
  Bytes out(family == AF_INET ? 4 : 16);
  EXPECT_EQ(inet_pton(family, text.c_str(), out.data()), 1) << text;
  return out;
}

struct FlowSpec {
  int family = AF_INET;
  uint8_t protocol = IPPROTO_TCP;
  std::string source = "10.0.0.1";
  std::string destination = "192.0.2.9";
  uint16_t source_port = 40000;
  uint16_t destination_port = 443;
  std::optional<uint64_t> start_ns = std::nullopt;
  bool nested_flag = true;
};

Bytes Tuple(uint16_t type, const FlowSpec& spec, bool reply) {
  bool v4 = spec.family == AF_INET;
  const std::string& from = reply ? spec.destination : spec.source;
  const std::string& to = reply ? spec.source : spec.destination;
  uint16_t from_port = reply ? spec.destination_port : spec.source_port;
  uint16_t to_port = reply ? spec.source_port : spec.destination_port;
  return Nest(
      type,
      {Nest(CTA_TUPLE_IP,
            {Attr(v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, Address(spec.family, from)),
             Attr(v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, Address(spec.family, to))},
            spec.nested_flag),
       Nest(CTA_TUPLE_PROTO,
            {Attr(CTA_PROTO_NUM, U8(spec.protocol)), Attr(CTA_PROTO_SRC_PORT, Be16(from_port)),
             Attr(CTA_PROTO_DST_PORT, Be16(to_port))},
            spec.nested_flag)},
      spec.nested_flag);
}

Bytes NfGenMsg(int family) {
  nfgenmsg header{static_cast<uint8_t>(family), NFNETLINK_V0, 0};
  Bytes out(sizeof(header));
  std::memcpy(out.data(), &header, sizeof(header));
  return out;
}

// Laid out as the kernel does (ctnetlink_fill_info()): original and reply tuples, then
// status, timeout and the rest, with the timestamp near the end.
Bytes FlowPayload(const FlowSpec& spec) {
  std::vector<Bytes> parts = {NfGenMsg(spec.family), Tuple(CTA_TUPLE_ORIG, spec, false),
                              Tuple(CTA_TUPLE_REPLY, spec, true), Attr(CTA_STATUS, Be32(0x8e)),
                              Attr(CTA_TIMEOUT, Be32(431999))};
  if (spec.start_ns) {
    parts.push_back(
        Nest(CTA_TIMESTAMP, {Attr(CTA_TIMESTAMP_START, Be64(*spec.start_ns))}, spec.nested_flag));
  }
  return Concat(parts);
}

NetlinkBuilder& AddFlow(NetlinkBuilder& builder, const FlowSpec& spec) {
  return builder.Message(kCtNew, NLM_F_MULTI, FlowPayload(spec));
}

// --- parsing --------------------------------------------------------------------------

struct ParseResult {
  bool ok = false;
  bool done = false;
  int error = 0;
  std::vector<ConntrackFlow> flows;
  ConntrackStats stats;
};

ParseResult Parse(std::span<const uint8_t> buffer) {
  ParseResult result;
  result.ok = ParseConntrackReply(buffer, result.flows, result.stats, result.error, result.done);
  return result;
}

// "tcp 10.0.0.1:40000 -> 192.0.2.9:443 start=N": flow lists compared as strings.
std::string Describe(const ConntrackFlow& flow) {
  auto endpoint = [](const IpAddress& address, uint16_t port) {
    char text[INET6_ADDRSTRLEN] = {};
    bool v4 = address.family == Family::kIpv4;
    inet_ntop(v4 ? AF_INET : AF_INET6, address.bytes.data(), text, sizeof(text));
    return (v4 ? std::string(text) : "[" + std::string(text) + "]") + ":" + std::to_string(port);
  };
  return std::string(flow.transport == Transport::kTcp ? "tcp " : "udp ") +
         endpoint(flow.source, flow.source_port) + " -> " +
         endpoint(flow.destination, flow.destination_port) +
         " start=" + std::to_string(flow.start_unix_ns);
}

std::vector<std::string> Describe(const std::vector<ConntrackFlow>& flows) {
  std::vector<std::string> out;
  for (const ConntrackFlow& flow : flows) out.push_back(Describe(flow));
  return out;
}

TEST(ConntrackParseTest, ParsesIpv4TcpFlowWithTimestamp) {
  NetlinkBuilder builder;
  AddFlow(builder, {.start_ns = 1795941459408300390ull});
  ParseResult result = Parse(builder.bytes());
  EXPECT_TRUE(result.ok);
  EXPECT_FALSE(result.done);
  EXPECT_EQ(result.stats.malformed_messages, 0u);
  ASSERT_EQ(result.flows.size(), 1u);
  const ConntrackFlow& flow = result.flows[0];
  EXPECT_EQ(flow.transport, Transport::kTcp);
  EXPECT_EQ(flow.source.family, Family::kIpv4);
  EXPECT_EQ(flow.destination.family, Family::kIpv4);
  // The original direction, not the reply tuple that follows it.
  EXPECT_EQ(Describe(flow), "tcp 10.0.0.1:40000 -> 192.0.2.9:443 start=1795941459408300390");
  // Addresses keep network byte order, as IpAddress does everywhere.
  EXPECT_EQ(flow.source.bytes[0], 10);
  EXPECT_EQ(flow.source.bytes[3], 1);
  EXPECT_EQ(flow.source.bytes[4], 0);
}

TEST(ConntrackParseTest, ParsesIpv6UdpFlowWithoutTimestamp) {
  NetlinkBuilder builder;
  AddFlow(builder, {.family = AF_INET6,
                    .protocol = IPPROTO_UDP,
                    .source = "2001:db8::1",
                    .destination = "2001:db8:ff::53",
                    .source_port = 53000,
                    .destination_port = 53});
  ParseResult result = Parse(builder.bytes());
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.stats.malformed_messages, 0u);
  ASSERT_EQ(result.flows.size(), 1u);
  EXPECT_EQ(result.flows[0].source.family, Family::kIpv6);
  EXPECT_EQ(Describe(result.flows[0]), "udp [2001:db8::1]:53000 -> [2001:db8:ff::53]:53 start=0");
}

TEST(ConntrackParseTest, NestedFlagSetOrNotReadsTheSame) {
  for (bool nested_flag : {true, false}) {
    for (int family : {AF_INET, AF_INET6}) {
      FlowSpec spec{.family = family,
                    .source = family == AF_INET ? "127.0.0.1" : "::1",
                    .destination = family == AF_INET ? "127.0.0.2" : "::2",
                    .start_ns = 42,
                    .nested_flag = nested_flag};
      NetlinkBuilder builder;
      AddFlow(builder, spec);
      ParseResult result = Parse(builder.bytes());
      SCOPED_TRACE(std::string("nested_flag=") + (nested_flag ? "1" : "0") +
                   " family=" + std::to_string(family));
      EXPECT_TRUE(result.ok);
      EXPECT_EQ(result.stats.malformed_messages, 0u);
      ASSERT_EQ(result.flows.size(), 1u);
      EXPECT_EQ(result.flows[0].start_unix_ns, 42u);
      EXPECT_EQ(result.flows[0].destination_port, 443);
    }
  }
}

TEST(ConntrackParseTest, NetByteorderFlagIsIgnored) {
  // NLA_F_NET_BYTEORDER only says what ctnetlink always does anyway; a sender setting it
  // must not change the attribute's type.
  Bytes payload =
      Concat({NfGenMsg(AF_INET),
              Nest(CTA_TUPLE_ORIG,
                   {Nest(CTA_TUPLE_IP,
                         {Attr(CTA_IP_V4_SRC | NLA_F_NET_BYTEORDER, Address(AF_INET, "10.0.0.1")),
                          Attr(CTA_IP_V4_DST | NLA_F_NET_BYTEORDER, Address(AF_INET, "10.0.0.2"))},
                         true),
                    Nest(CTA_TUPLE_PROTO,
                         {Attr(CTA_PROTO_NUM, U8(IPPROTO_TCP)),
                          Attr(CTA_PROTO_SRC_PORT | NLA_F_NET_BYTEORDER, Be16(1234)),
                          Attr(CTA_PROTO_DST_PORT | NLA_F_NET_BYTEORDER, Be16(80))},
                         true)},
                   true)});
  NetlinkBuilder builder;
  builder.Message(kCtNew, NLM_F_MULTI, payload);
  ParseResult result = Parse(builder.bytes());
  ASSERT_EQ(result.flows.size(), 1u);
  EXPECT_EQ(Describe(result.flows[0]), "tcp 10.0.0.1:1234 -> 10.0.0.2:80 start=0");
}

TEST(ConntrackParseTest, TimestampBeforeTupleAndUnknownAttributes) {
  FlowSpec spec{.start_ns = 7};
  Bytes payload = Concat({NfGenMsg(AF_INET), Attr(CTA_MARK, Be32(1)),
                          Nest(CTA_TIMESTAMP,
                               {Attr(CTA_TIMESTAMP_STOP, Be64(99)),
                                Attr(CTA_TIMESTAMP_START, Be64(7)), Attr(CTA_TIMESTAMP_PAD, {})},
                               true),
                          Attr(200, Be32(5)), Tuple(CTA_TUPLE_ORIG, spec, false)});
  NetlinkBuilder builder;
  builder.Message(kCtNew, NLM_F_MULTI, payload);
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.stats.malformed_messages, 0u);
  ASSERT_EQ(result.flows.size(), 1u);
  EXPECT_EQ(Describe(result.flows[0]), "tcp 10.0.0.1:40000 -> 192.0.2.9:443 start=7");
}

TEST(ConntrackParseTest, SkipsOtherProtocolsWithoutCountingThem) {
  // ICMP has no ports (CTA_PROTO_ICMP_ID/TYPE/CODE instead); SCTP has ports but is not ours.
  Bytes icmp = Concat(
      {NfGenMsg(AF_INET),
       Nest(CTA_TUPLE_ORIG,
            {Nest(CTA_TUPLE_IP,
                  {Attr(CTA_IP_V4_SRC, Address(AF_INET, "127.0.0.1")),
                   Attr(CTA_IP_V4_DST, Address(AF_INET, "127.0.0.1"))},
                  true),
             Nest(CTA_TUPLE_PROTO,
                  {Attr(CTA_PROTO_NUM, U8(IPPROTO_ICMP)), Attr(CTA_PROTO_ICMP_ID, Be16(0x4242)),
                   Attr(CTA_PROTO_ICMP_TYPE, U8(8)), Attr(CTA_PROTO_ICMP_CODE, U8(0))},
                  true)},
            true)});
  NetlinkBuilder builder;
  builder.Message(kCtNew, NLM_F_MULTI, icmp);
  AddFlow(builder, {.protocol = IPPROTO_SCTP});
  AddFlow(builder, {.protocol = IPPROTO_UDP});
  ParseResult result = Parse(builder.bytes());
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.stats.malformed_messages, 0u);
  EXPECT_EQ(Describe(result.flows),
            std::vector<std::string>{"udp 10.0.0.1:40000 -> 192.0.2.9:443 start=0"});
}

TEST(ConntrackParseTest, MultipartThenDone) {
  NetlinkBuilder first;
  AddFlow(first, {.source_port = 1, .start_ns = 1});
  AddFlow(first, {.family = AF_INET6, .source = "::1", .destination = "::1", .source_port = 2});
  ParseResult part = Parse(first.bytes());
  EXPECT_TRUE(part.ok);
  EXPECT_FALSE(part.done);
  EXPECT_EQ(part.flows.size(), 2u);

  NetlinkBuilder second;
  AddFlow(second, {.source_port = 3});
  second.Done();
  // Anything after NLMSG_DONE is not part of the dump.
  AddFlow(second, {.source_port = 4});
  ParseResult last = Parse(second.bytes());
  EXPECT_TRUE(last.ok);
  EXPECT_TRUE(last.done);
  EXPECT_EQ(Describe(last.flows),
            std::vector<std::string>{"tcp 10.0.0.1:3 -> 192.0.2.9:443 start=0"});

  NetlinkBuilder done_alone;
  done_alone.Done();
  ParseResult empty = Parse(done_alone.bytes());
  EXPECT_TRUE(empty.ok);
  EXPECT_TRUE(empty.done);
  EXPECT_TRUE(empty.flows.empty());
}

TEST(ConntrackParseTest, NetlinkErrorsAreReturned) {
  for (int err : {EPERM, ENOENT, EINVAL, EOPNOTSUPP}) {
    NetlinkBuilder builder;
    builder.Error(err);
    ParseResult result = Parse(builder.bytes());
    EXPECT_FALSE(result.ok) << err;
    EXPECT_EQ(result.error, err);
  }

  NetlinkBuilder ack;
  ack.Error(0);
  ParseResult acked = Parse(ack.bytes());
  EXPECT_TRUE(acked.ok);
  EXPECT_TRUE(acked.done);

  // A failing dump callback reports its errno in NLMSG_DONE.
  NetlinkBuilder failed_dump;
  AddFlow(failed_dump, {});
  failed_dump.Done(-ENOMEM);
  ParseResult failed = Parse(failed_dump.bytes());
  EXPECT_FALSE(failed.ok);
  EXPECT_EQ(failed.error, ENOMEM);

  NetlinkBuilder overrun;
  uint8_t nothing[1] = {};
  overrun.Message(NLMSG_OVERRUN, 0, std::span<const uint8_t>(nothing, 0));
  ParseResult overran = Parse(overrun.bytes());
  EXPECT_FALSE(overran.ok);
  EXPECT_EQ(overran.error, ENOBUFS);

  // An NLMSG_ERROR too short for its errno: something went wrong, we cannot say what.
  NetlinkBuilder short_error;
  short_error.Message(NLMSG_ERROR, 0, std::span<const uint8_t>(nothing, 1));
  ParseResult short_result = Parse(short_error.bytes());
  EXPECT_FALSE(short_result.ok);
  EXPECT_EQ(short_result.error, EBADMSG);
  EXPECT_EQ(short_result.stats.malformed_messages, 1u);
}

TEST(ConntrackParseTest, TruncatedMessageStopsTheBuffer) {
  NetlinkBuilder builder;
  AddFlow(builder, {.source_port = 1});
  AddFlow(builder, {.source_port = 2});
  builder.Truncate(12);  // the second message's nlmsg_len now runs past the end
  ParseResult result = Parse(builder.bytes());
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.stats.malformed_messages, 1u);
  EXPECT_EQ(Describe(result.flows),
            std::vector<std::string>{"tcp 10.0.0.1:1 -> 192.0.2.9:443 start=0"});

  // Fewer bytes than a header.
  NetlinkBuilder stub;
  AddFlow(stub, {});
  uint8_t tail[7] = {};
  stub.Raw(tail);
  ParseResult stubbed = Parse(stub.bytes());
  EXPECT_EQ(stubbed.flows.size(), 1u);
  EXPECT_EQ(stubbed.stats.malformed_messages, 1u);

  // nlmsg_len shorter than the header itself.
  nlmsghdr bad{};
  bad.nlmsg_len = 4;
  bad.nlmsg_type = kCtNew;
  uint8_t raw[sizeof(bad)];
  std::memcpy(raw, &bad, sizeof(bad));
  NetlinkBuilder tiny;
  tiny.Raw(raw);
  ParseResult tiny_result = Parse(tiny.bytes());
  EXPECT_TRUE(tiny_result.ok);
  EXPECT_EQ(tiny_result.stats.malformed_messages, 1u);
}

// Each broken message is counted and skipped; the good one after it is still read.
TEST(ConntrackParseTest, MalformedFlowsAreCountedAndSkipped) {
  FlowSpec good{.source_port = 9};
  auto with_orig = [](const std::vector<Bytes>& tuple_parts) {
    return Concat({NfGenMsg(AF_INET), Nest(CTA_TUPLE_ORIG, tuple_parts, true)});
  };
  Bytes ip4 = Nest(CTA_TUPLE_IP,
                   {Attr(CTA_IP_V4_SRC, Address(AF_INET, "10.0.0.1")),
                    Attr(CTA_IP_V4_DST, Address(AF_INET, "10.0.0.2"))},
                   true);
  Bytes tcp = Nest(CTA_TUPLE_PROTO,
                   {Attr(CTA_PROTO_NUM, U8(IPPROTO_TCP)), Attr(CTA_PROTO_SRC_PORT, Be16(1)),
                    Attr(CTA_PROTO_DST_PORT, Be16(2))},
                   true);
  // An attribute whose nla_len runs past its nest.
  Bytes overlong = Attr(CTA_IP_V4_SRC, Address(AF_INET, "10.0.0.1"));
  overlong[0] = 200;

  std::vector<std::pair<std::string, Bytes>> cases = {
      {"payload shorter than nfgenmsg", Bytes{2, 0}},
      {"no CTA_TUPLE_ORIG", Concat({NfGenMsg(AF_INET), Attr(CTA_STATUS, Be32(0))})},
      {"no CTA_TUPLE_PROTO", with_orig({ip4})},
      {"no addresses", with_orig({tcp})},
      {"no destination",
       with_orig(
           {Nest(CTA_TUPLE_IP, {Attr(CTA_IP_V4_SRC, Address(AF_INET, "10.0.0.1"))}, true), tcp})},
      {"mixed families", with_orig({Nest(CTA_TUPLE_IP,
                                         {Attr(CTA_IP_V4_SRC, Address(AF_INET, "10.0.0.1")),
                                          Attr(CTA_IP_V6_DST, Address(AF_INET6, "::1"))},
                                         true),
                                    tcp})},
      {"short IPv6 address", with_orig({Nest(CTA_TUPLE_IP,
                                             {Attr(CTA_IP_V6_SRC, Address(AF_INET, "10.0.0.1")),
                                              Attr(CTA_IP_V6_DST, Address(AF_INET, "10.0.0.2"))},
                                             true),
                                        tcp})},
      {"no ports",
       with_orig({ip4, Nest(CTA_TUPLE_PROTO, {Attr(CTA_PROTO_NUM, U8(IPPROTO_TCP))}, true)})},
      {"port of 4 bytes",
       with_orig({ip4, Nest(CTA_TUPLE_PROTO,
                            {Attr(CTA_PROTO_NUM, U8(IPPROTO_TCP)),
                             Attr(CTA_PROTO_SRC_PORT, Be32(1)), Attr(CTA_PROTO_DST_PORT, Be16(2))},
                            true)})},
      {"protocol of 2 bytes",
       with_orig({ip4, Nest(CTA_TUPLE_PROTO,
                            {Attr(CTA_PROTO_NUM, Be16(IPPROTO_TCP)),
                             Attr(CTA_PROTO_SRC_PORT, Be16(1)), Attr(CTA_PROTO_DST_PORT, Be16(2))},
                            true)})},
      {"attribute overruns its nest", with_orig({Nest(CTA_TUPLE_IP, {overlong}, true), tcp})},
      {"timestamp of 4 bytes",
       Concat({with_orig({ip4, tcp}),
               Nest(CTA_TIMESTAMP, {Attr(CTA_TIMESTAMP_START, Be32(1))}, true)})},
      {"top-level attribute header cut short", Concat({with_orig({ip4, tcp}), Bytes{8, 0}})},
  };
  for (const auto& [name, payload] : cases) {
    SCOPED_TRACE(name);
    NetlinkBuilder builder;
    builder.Message(kCtNew, NLM_F_MULTI, payload);
    AddFlow(builder, good);
    ParseResult result = Parse(builder.bytes());
    EXPECT_TRUE(result.ok);
    EXPECT_EQ(result.stats.malformed_messages, 1u);
    EXPECT_EQ(Describe(result.flows),
              std::vector<std::string>{"tcp 10.0.0.1:9 -> 192.0.2.9:443 start=0"});
  }
}

TEST(ConntrackParseTest, ForeignMessageTypesAreCounted) {
  NetlinkBuilder builder;
  // An expectation (ctnetlink_exp) and a plain rtnetlink-looking type.
  builder.Message((NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_EXP_NEW, NLM_F_MULTI,
                  FlowPayload({}));
  builder.Message(24, NLM_F_MULTI, FlowPayload({}));
  builder.Message((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE, NLM_F_MULTI,
                  FlowPayload({}));
  // Both the dump's own type and IPCTNL_MSG_CT_GET are flows.
  builder.Message((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET, NLM_F_MULTI, FlowPayload({}));
  AddFlow(builder, {});
  ParseResult result = Parse(builder.bytes());
  EXPECT_EQ(result.stats.malformed_messages, 3u);
  EXPECT_EQ(result.flows.size(), 2u);
}

TEST(ConntrackParseTest, UnalignedBufferIsRead) {
  NetlinkBuilder builder;
  AddFlow(builder, {.family = AF_INET6,
                    .source = "2001:db8::1",
                    .destination = "2001:db8::2",
                    .start_ns = 0x0102030405060708ull});
  builder.Done();
  Bytes shifted(builder.bytes().size() + 1);
  std::copy(builder.bytes().begin(), builder.bytes().end(), shifted.begin() + 1);
  ParseResult result = Parse(std::span<const uint8_t>(shifted).subspan(1));
  EXPECT_TRUE(result.ok);
  EXPECT_TRUE(result.done);
  ASSERT_EQ(result.flows.size(), 1u);
  EXPECT_EQ(result.flows[0].start_unix_ns, 0x0102030405060708ull);
}

TEST(ConntrackParseTest, EmptyBuffer) {
  ParseResult result = Parse({});
  EXPECT_TRUE(result.ok);
  EXPECT_FALSE(result.done);
  EXPECT_EQ(result.stats.malformed_messages, 0u);
}

// --- the captured dump ----------------------------------------------------------------

// tests/fixtures/conntrack/PROVENANCE.md: a TCP and a UDP flow and an ICMP echo, dumped in
// a namespace with timestamps on.
TEST(ConntrackFixtureTest, CapturedDumpParses) {
  auto buffers =
      ReadFramedBuffers(std::string(CONNWATCH_FIXTURES_DIR) + "/conntrack/conntrack_dump.bin");
  ASSERT_EQ(buffers.size(), 2u);
  std::vector<ConntrackFlow> flows;
  ConntrackStats stats;
  bool done = false;
  for (size_t i = 0; i < buffers.size(); ++i) {
    int error = 0;
    EXPECT_FALSE(done) << "NLMSG_DONE before buffer " << i;
    EXPECT_TRUE(ParseConntrackReply(buffers[i], flows, stats, error, done)) << error;
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(stats.malformed_messages, 0u);
  // The ICMP flow is skipped.
  EXPECT_EQ(Describe(flows), (std::vector<std::string>{
                                 "tcp 127.0.0.1:40001 -> 127.0.0.1:8080 start=1795941459408300390",
                                 "udp [::1]:40002 -> [::1]:5300 start=1795941459408479551",
                             }));
  for (const ConntrackFlow& flow : flows) EXPECT_NE(flow.start_unix_ns, 0u);
}

// --- live kernel ----------------------------------------------------------------------

TEST(ConntrackDumpTest, WithoutCapNetAdminFailsWithAClearError) {
  std::string result = RunInUnprivilegedChild([]() -> std::string {
    std::vector<ConntrackFlow> flows;
    ConntrackStats stats;
    std::string error;
    if (DumpConntrack(flows, stats, error)) return "dump succeeded without CAP_NET_ADMIN";
    if (!flows.empty()) return "flows appended on failure";
    // Without nfnetlink in the kernel the socket itself is refused; say so too.
    if (error.find("CAP_NET_ADMIN") == std::string::npos &&
        error.find("nfnetlink") == std::string::npos) {
      return "unexpected error: " + error;
    }
    return "";
  });
  EXPECT_EQ(result, "");
}

}  // namespace
}  // namespace connwatch
