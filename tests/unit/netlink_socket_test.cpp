// What every netlink request shares: walking a reply buffer (built byte by byte, including
// every way its lengths can lie), checking that replies answer the request, reading control
// messages, and the real exchange with the kernel's sock_diag bus.
#include "sources/netlink_socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "support/live_process.h"
#include "support/netlink_builder.h"

namespace connwatch {
namespace {

using testing::DiagMsgSpec;
using testing::LoopbackListener;
using testing::NetlinkBuilder;

// Every message NextNetlinkMessage yields from `buffer`: (type, payload size), and what it
// counted as malformed.
struct Walk {
  std::vector<std::pair<uint16_t, size_t>> messages;
  uint64_t malformed = 0;
  size_t end_offset = 0;
};

Walk WalkBuffer(std::span<const uint8_t> buffer) {
  Walk walk;
  size_t offset = 0;
  nlmsghdr header;
  std::span<const uint8_t> payload;
  // A bounded loop: a walk that stopped advancing would fail instead of hanging.
  for (int steps = 0; steps < 1000; ++steps) {
    size_t before = offset;
    if (!NextNetlinkMessage(buffer, offset, header, payload, walk.malformed)) break;
    EXPECT_GT(offset, before) << "no progress";
    EXPECT_LE(offset, buffer.size());
    EXPECT_GE(payload.data(), buffer.data());
    EXPECT_LE(payload.data() + payload.size(), buffer.data() + buffer.size()) << "out of bounds";
    walk.messages.emplace_back(header.nlmsg_type, payload.size());
  }
  walk.end_offset = offset;
  return walk;
}

std::vector<uint8_t> Header(uint32_t length, uint16_t type = NLMSG_NOOP, uint32_t seq = 1,
                            uint32_t portid = 4242) {
  nlmsghdr header{};
  header.nlmsg_len = length;
  header.nlmsg_type = type;
  header.nlmsg_seq = seq;
  header.nlmsg_pid = portid;
  std::vector<uint8_t> bytes(sizeof(header));
  std::memcpy(bytes.data(), &header, sizeof(header));
  return bytes;
}

constexpr uint16_t kDataType = 100;
const std::vector<uint8_t> kFiveBytes = {1, 2, 3, 4, 5};

TEST(NextNetlinkMessageTest, WalksWellFormedMessagesInOrder) {
  NetlinkBuilder builder;
  builder.DiagMsg(DiagMsgSpec{})
      .Message(kDataType, 0, kFiveBytes)  // padded to 8 payload bytes
      .Message(NLMSG_NOOP, 0, {})
      .Done(0);
  Walk walk = WalkBuffer(builder.bytes());
  using Messages = std::vector<std::pair<uint16_t, size_t>>;
  EXPECT_EQ(walk.messages, (Messages{{SOCK_DIAG_BY_FAMILY, sizeof(inet_diag_msg)},
                                     {kDataType, 5},
                                     {NLMSG_NOOP, 0},
                                     {NLMSG_DONE, 4}}));
  EXPECT_EQ(walk.malformed, 0u);
  EXPECT_EQ(walk.end_offset, builder.bytes().size());
}

TEST(NextNetlinkMessageTest, PayloadIsTheMessagesOwnBytes) {
  NetlinkBuilder builder;
  builder.Message(kDataType, 0, kFiveBytes).Message(kDataType, 0, std::vector<uint8_t>{9});
  size_t offset = 0;
  nlmsghdr header;
  std::span<const uint8_t> payload;
  uint64_t malformed = 0;
  ASSERT_TRUE(NextNetlinkMessage(builder.bytes(), offset, header, payload, malformed));
  EXPECT_EQ(header.nlmsg_len, NLMSG_HDRLEN + 5);
  EXPECT_EQ(std::vector<uint8_t>(payload.begin(), payload.end()), kFiveBytes);
  EXPECT_EQ(offset, NLMSG_HDRLEN + 8u) << "the next message starts after the padding";
  ASSERT_TRUE(NextNetlinkMessage(builder.bytes(), offset, header, payload, malformed));
  EXPECT_EQ(std::vector<uint8_t>(payload.begin(), payload.end()), std::vector<uint8_t>{9});
  EXPECT_FALSE(NextNetlinkMessage(builder.bytes(), offset, header, payload, malformed));
  EXPECT_EQ(malformed, 0u) << "the end of the buffer is not malformed";
  // Past the end stays the end.
  offset = builder.bytes().size() + 100;
  EXPECT_FALSE(NextNetlinkMessage(builder.bytes(), offset, header, payload, malformed));
  EXPECT_EQ(malformed, 0u);
}

TEST(NextNetlinkMessageTest, UnalignedBuffersReadTheSame) {
  NetlinkBuilder builder;
  builder.DiagMsg(DiagMsgSpec{}).Message(kDataType, 0, kFiveBytes).Done(-EPERM);
  Walk aligned = WalkBuffer(builder.bytes());
  for (size_t shift = 1; shift < 8; ++shift) {
    std::vector<uint8_t> storage(shift + builder.bytes().size());
    std::memcpy(storage.data() + shift, builder.bytes().data(), builder.bytes().size());
    std::span<const uint8_t> unaligned(storage.data() + shift, builder.bytes().size());
    Walk walk = WalkBuffer(unaligned);
    EXPECT_EQ(walk.messages, aligned.messages) << shift;
    EXPECT_EQ(walk.malformed, 0u) << shift;
  }
}

TEST(NextNetlinkMessageTest, AFinalMessageWithoutItsPaddingIsStillRead) {
  NetlinkBuilder builder;
  builder.Message(kDataType, 0, kFiveBytes).Truncate(3);  // nlmsg_len 21, the buffer ends there
  Walk walk = WalkBuffer(builder.bytes());
  EXPECT_EQ(walk.messages, (std::vector<std::pair<uint16_t, size_t>>{{kDataType, 5}}));
  EXPECT_EQ(walk.malformed, 0u);
  EXPECT_EQ(walk.end_offset, builder.bytes().size());
}

// Buffers whose end cannot be trusted: the good messages before it are read, then one
// malformed count and the walk stops.
TEST(NextNetlinkMessageTest, BadLengthsAndShortTailsAreMalformed) {
  struct Case {
    const char* what;
    std::vector<uint8_t> tail;
  };
  std::vector<Case> cases = {
      {"a tail shorter than a header", {1, 2, 3}},
      {"a tail one byte short of a header", std::vector<uint8_t>(NLMSG_HDRLEN - 1, 0)},
      {"a length of 0", Header(0)},
      {"a length shorter than the header", Header(NLMSG_HDRLEN - 1)},
      {"a length one byte past the buffer", Header(NLMSG_HDRLEN + 1)},
      {"a length far past the buffer", Header(4096)},
      {"a length of 0x7FFFFFFF", Header(0x7FFFFFFF)},
      {"a length of 0xFFFFFFFC", Header(0xFFFFFFFC)},
      {"a length of 0xFFFFFFFD", Header(0xFFFFFFFD)},
      {"a length of 0xFFFFFFFF", Header(0xFFFFFFFF)},
  };
  for (const Case& c : cases) {
    NetlinkBuilder builder;
    builder.Message(kDataType, 0, kFiveBytes).Raw(c.tail);
    Walk walk = WalkBuffer(builder.bytes());
    EXPECT_EQ(walk.messages, (std::vector<std::pair<uint16_t, size_t>>{{kDataType, 5}})) << c.what;
    EXPECT_EQ(walk.malformed, 1u) << c.what;
    // Alone in a buffer, too.
    Walk alone = WalkBuffer(c.tail);
    EXPECT_TRUE(alone.messages.empty()) << c.what;
    EXPECT_EQ(alone.malformed, 1u) << c.what;
  }
}

TEST(NextNetlinkMessageTest, AHeaderAloneIsAnEmptyMessage) {
  std::vector<uint8_t> bytes = Header(NLMSG_HDRLEN, kDataType);
  Walk walk = WalkBuffer(bytes);
  EXPECT_EQ(walk.messages, (std::vector<std::pair<uint16_t, size_t>>{{kDataType, 0}}));
  EXPECT_EQ(walk.malformed, 0u);
  EXPECT_TRUE(WalkBuffer({}).messages.empty());
  EXPECT_EQ(WalkBuffer({}).malformed, 0u);
}

TEST(RepliesMatchTest, EveryMessageMustCarryTheSequenceAndPortId) {
  NetlinkBuilder builder(7, 999);
  builder.DiagMsg(DiagMsgSpec{}).DiagMsg(DiagMsgSpec{}).Done(0);
  EXPECT_TRUE(RepliesMatch(builder.bytes(), 7, 999));
  EXPECT_FALSE(RepliesMatch(builder.bytes(), 8, 999));
  EXPECT_FALSE(RepliesMatch(builder.bytes(), 7, 998));
  EXPECT_TRUE(RepliesMatch({}, 7, 999)) << "nothing to mismatch";
}

TEST(RepliesMatchTest, AMismatchAnywhereFails) {
  NetlinkBuilder good(7, 999), other_seq(8, 999), other_port(7, 1000);
  good.DiagMsg(DiagMsgSpec{});
  other_seq.DiagMsg(DiagMsgSpec{});
  other_port.Done(0);
  for (const auto& [what, order] :
       std::vector<std::pair<std::string, std::vector<const NetlinkBuilder*>>>{
           {"first", {&other_seq, &good, &good}},
           {"middle", {&good, &other_seq, &good}},
           {"last", {&good, &good, &other_port}},
       }) {
    NetlinkBuilder joined;
    for (const NetlinkBuilder* part : order) joined.Raw(part->bytes());
    EXPECT_FALSE(RepliesMatch(joined.bytes(), 7, 999)) << what;
  }
}

TEST(RepliesMatchTest, AMalformedTailIsNoMismatch) {
  // The parsers count it; the messages that could be read all answer the request.
  NetlinkBuilder builder(7, 999);
  builder.DiagMsg(DiagMsgSpec{}).Raw(std::vector<uint8_t>{1, 2, 3});
  EXPECT_TRUE(RepliesMatch(builder.bytes(), 7, 999));
  // Not even when the tail is a header of someone else's, with a length that cannot be.
  NetlinkBuilder lying(7, 999);
  lying.DiagMsg(DiagMsgSpec{}).Raw(Header(0xFFFFFFFF, NLMSG_DONE, 1, 1));
  EXPECT_TRUE(RepliesMatch(lying.bytes(), 7, 999));
  // But a well-formed foreign message after the good ones is.
  lying.Truncate(NLMSG_HDRLEN).Raw(Header(NLMSG_HDRLEN, NLMSG_DONE, 1, 1));
  EXPECT_FALSE(RepliesMatch(lying.bytes(), 7, 999));
}

TEST(RepliesMatchTest, EndsOnLengthsWhoseAlignmentWouldWrap) {
  // The reproducer of issue 17: NLMSG_ALIGN's 32-bit mask turns 0xFFFFFFFD..0xFFFFFFFF into
  // 0, and a walk that advanced by it never ended. Each length here is our own seq and port,
  // so only the bound on the length can end the walk.
  for (uint32_t length : {0xFFFFFFFCu, 0xFFFFFFFDu, 0xFFFFFFFEu, 0xFFFFFFFFu}) {
    NetlinkBuilder builder(7, 999);
    builder.DiagMsg(DiagMsgSpec{}).Raw(Header(length, NLMSG_DONE, 7, 999));
    builder.Raw(std::vector<uint8_t>(64, 0));
    EXPECT_TRUE(RepliesMatch(builder.bytes(), 7, 999)) << length;
    EXPECT_TRUE(RepliesMatch(Header(length, NLMSG_DONE, 7, 999), 7, 999)) << length;
  }
}

struct ControlCase {
  const char* what;
  uint16_t type;
  std::vector<uint8_t> payload;
  ControlMessage want;
  int want_error;  // checked for kError only
  uint64_t want_malformed;
};

std::vector<uint8_t> Int32Payload(int32_t value, size_t extra = 0) {
  std::vector<uint8_t> bytes(sizeof(value) + extra, 0xAA);
  std::memcpy(bytes.data(), &value, sizeof(value));
  return bytes;
}

TEST(ReadControlMessageTest, EachControlMessageAndWhatItMeans) {
  const std::vector<ControlCase> cases = {
      {"NOOP", NLMSG_NOOP, {}, ControlMessage::kNoop, 0, 0},
      {"NOOP with bytes", NLMSG_NOOP, Int32Payload(-EPERM), ControlMessage::kNoop, 0, 0},
      {"DONE without payload", NLMSG_DONE, {}, ControlMessage::kDone, 0, 0},
      {"DONE 0", NLMSG_DONE, Int32Payload(0), ControlMessage::kDone, 0, 0},
      {"DONE positive", NLMSG_DONE, Int32Payload(5), ControlMessage::kDone, 0, 0},
      {"DONE -ENOENT", NLMSG_DONE, Int32Payload(-ENOENT), ControlMessage::kError, ENOENT, 0},
      {"DONE -ENOENT and more", NLMSG_DONE, Int32Payload(-ENOENT, 20), ControlMessage::kError,
       ENOENT, 0},
      {"DONE INT32_MIN", NLMSG_DONE, Int32Payload(INT32_MIN), ControlMessage::kError, EINVAL, 0},
      {"ERROR 0: an ack", NLMSG_ERROR, Int32Payload(0, 16), ControlMessage::kDone, 0, 0},
      {"ERROR -EPERM", NLMSG_ERROR, Int32Payload(-EPERM, 16), ControlMessage::kError, EPERM, 0},
      {"ERROR -EPERM alone", NLMSG_ERROR, Int32Payload(-EPERM), ControlMessage::kError, EPERM, 0},
      {"ERROR +EBUSY", NLMSG_ERROR, Int32Payload(EBUSY), ControlMessage::kError, EBUSY, 0},
      {"ERROR INT32_MIN", NLMSG_ERROR, Int32Payload(INT32_MIN), ControlMessage::kError, EINVAL, 0},
      {"ERROR without payload", NLMSG_ERROR, {}, ControlMessage::kError, EBADMSG, 1},
      {"ERROR of 3 bytes", NLMSG_ERROR, {0, 0, 0}, ControlMessage::kError, EBADMSG, 1},
      {"OVERRUN", NLMSG_OVERRUN, {}, ControlMessage::kError, ENOBUFS, 0},
      {"SOCK_DIAG_BY_FAMILY", SOCK_DIAG_BY_FAMILY, Int32Payload(-EPERM), ControlMessage::kData, 0,
       0},
      {"another data type", kDataType, {}, ControlMessage::kData, 0, 0},
      {"the first type past the reserved ones", NLMSG_MIN_TYPE, {}, ControlMessage::kData, 0, 0},
  };
  for (const ControlCase& c : cases) {
    nlmsghdr header{};
    header.nlmsg_type = c.type;
    header.nlmsg_len = static_cast<uint32_t>(NLMSG_HDRLEN + c.payload.size());
    int error = 0;
    uint64_t malformed = 0;
    ControlMessage got = ReadControlMessage(header, c.payload, error, malformed);
    EXPECT_EQ(static_cast<int>(got), static_cast<int>(c.want)) << c.what;
    if (c.want == ControlMessage::kError) {
      EXPECT_EQ(error, c.want_error) << c.what;
    }
    EXPECT_EQ(malformed, c.want_malformed) << c.what;
  }
}

TEST(ReadControlMessageTest, ReadsTheBuildersKernelShapedMessages) {
  NetlinkBuilder builder;
  builder.DiagMsg(DiagMsgSpec{}).Done(-EINTR).Error(EACCES).Error(0);
  std::vector<std::pair<ControlMessage, int>> seen;
  size_t offset = 0;
  nlmsghdr header;
  std::span<const uint8_t> payload;
  uint64_t malformed = 0;
  while (NextNetlinkMessage(builder.bytes(), offset, header, payload, malformed)) {
    int error = 0;
    ControlMessage message = ReadControlMessage(header, payload, error, malformed);
    seen.emplace_back(message, message == ControlMessage::kError ? error : 0);
  }
  EXPECT_EQ(seen, (std::vector<std::pair<ControlMessage, int>>{{ControlMessage::kData, 0},
                                                               {ControlMessage::kError, EINTR},
                                                               {ControlMessage::kError, EACCES},
                                                               {ControlMessage::kDone, 0}}));
  EXPECT_EQ(malformed, 0u);
}

TEST(OpenNetlinkSocketTest, OpensSockDiagWithTheReceiveTimeout) {
  std::string error;
  MnlSocketPtr nl = OpenNetlinkSocket(NETLINK_SOCK_DIAG, 3, error);
  ASSERT_TRUE(nl) << error;
  EXPECT_EQ(error, "");
  int fd = mnl_socket_get_fd(nl.get());
  timeval timeout{};
  socklen_t length = sizeof(timeout);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, &length), 0);
  EXPECT_EQ(timeout.tv_sec, 3);
  EXPECT_EQ(timeout.tv_usec, 0);
  EXPECT_NE(mnl_socket_get_portid(nl.get()), 0u) << "bound to a kernel-chosen port id";
  EXPECT_NE(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  int protocol = -1;
  length = sizeof(protocol);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length), 0);
  EXPECT_EQ(protocol, NETLINK_SOCK_DIAG);
}

TEST(OpenNetlinkSocketTest, ReceivesTimeOut) {
  std::string error;
  MnlSocketPtr nl = OpenNetlinkSocket(NETLINK_SOCK_DIAG, 1, error);
  ASSERT_TRUE(nl) << error;
  uint8_t buffer[256];
  auto start = std::chrono::steady_clock::now();
  ssize_t n = mnl_socket_recvfrom(nl.get(), buffer, sizeof(buffer));  // nothing was asked
  int saved = errno;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(n, -1);
  EXPECT_TRUE(saved == EAGAIN || saved == EWOULDBLOCK) << saved;
  EXPECT_GE(seconds, 0.9);
  EXPECT_LT(seconds, 5);
}

TEST(OpenNetlinkSocketTest, AnUnknownBusFailsWithTheReason) {
  for (int bus : {-1, 31, 1000}) {
    std::string error;
    errno = 0;
    MnlSocketPtr nl = OpenNetlinkSocket(bus, 1, error);
    EXPECT_FALSE(nl) << bus;
    EXPECT_EQ(errno, EPROTONOSUPPORT) << bus;
    EXPECT_EQ(error, "netlink socket: " + ErrnoText(EPROTONOSUPPORT)) << bus;
  }
}

// A SOCK_DIAG_BY_FAMILY request for every state of one family and protocol, as
// sources/sock_diag.cpp builds it.
struct DiagRequest {
  alignas(nlmsghdr) uint8_t bytes[NLMSG_SPACE(sizeof(inet_diag_req_v2))] = {};
  nlmsghdr* header = nullptr;

  explicit DiagRequest(uint8_t family = AF_INET, uint16_t flags = NLM_F_REQUEST | NLM_F_DUMP) {
    header = mnl_nlmsg_put_header(bytes);
    header->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    header->nlmsg_flags = flags;
    auto* req = static_cast<inet_diag_req_v2*>(
        mnl_nlmsg_put_extra_header(header, sizeof(inet_diag_req_v2)));
    req->sdiag_family = family;
    req->sdiag_protocol = IPPROTO_TCP;
    req->idiag_states = ~0u;
  }
};

TEST(ExchangeNetlinkTest, ADumpIsReceivedUntilTheCallbackIsFinished) {
  LoopbackListener listener;
  ASSERT_NO_FATAL_FAILURE(listener.Open());
  DiagRequest request;
  request.header->nlmsg_seq = 777;
  int buffers = 0, after_done = 0;
  bool done = false, found_listener = false, seq_matches = true;
  std::string error;
  bool ok = ExchangeNetlink(
      NETLINK_SOCK_DIAG, *request.header, kNetlinkDumpBufferBytes,
      [&](std::span<const uint8_t> reply) {
        ++buffers;
        if (done) ++after_done;
        size_t offset = 0;
        nlmsghdr header;
        std::span<const uint8_t> payload;
        uint64_t malformed = 0;
        while (NextNetlinkMessage(reply, offset, header, payload, malformed)) {
          seq_matches = seq_matches && header.nlmsg_seq == request.header->nlmsg_seq;
          if (header.nlmsg_type == NLMSG_DONE) done = true;
          if (header.nlmsg_type == SOCK_DIAG_BY_FAMILY && payload.size() >= sizeof(inet_diag_msg)) {
            inet_diag_msg msg;
            std::memcpy(&msg, payload.data(), sizeof(msg));
            if (msg.idiag_inode == listener.inode()) found_listener = true;
          }
        }
        EXPECT_EQ(malformed, 0u);
        return done ? ReplyAction::kFinished : ReplyAction::kReadMore;
      },
      error);
  ASSERT_TRUE(ok) << error;
  EXPECT_TRUE(done) << "returned before NLMSG_DONE";
  EXPECT_GE(buffers, 1);
  EXPECT_EQ(after_done, 0) << "called again after kFinished";
  EXPECT_TRUE(found_listener) << "the dump should hold this test's listener";
  EXPECT_TRUE(seq_matches) << "the replies carry the sequence number the request was sent with";
}

TEST(ExchangeNetlinkTest, TheCallbackEndsTheExchangeEarly) {
  // Enough sockets that the dump takes more than one buffer; the first one is enough here.
  std::vector<LoopbackListener> listeners(200);
  for (LoopbackListener& listener : listeners) ASSERT_NO_FATAL_FAILURE(listener.Open());
  DiagRequest request;
  int calls = 0;
  std::string error;
  EXPECT_TRUE(ExchangeNetlink(
      NETLINK_SOCK_DIAG, *request.header, kNetlinkDumpBufferBytes,
      [&](std::span<const uint8_t>) {
        ++calls;
        return ReplyAction::kFinished;
      },
      error))
      << error;
  EXPECT_EQ(calls, 1);
  // The whole dump of the same table takes several.
  int buffers = 0;
  EXPECT_TRUE(ExchangeNetlink(
      NETLINK_SOCK_DIAG, *request.header, kNetlinkDumpBufferBytes,
      [&](std::span<const uint8_t> reply) {
        ++buffers;
        size_t offset = 0;
        nlmsghdr header;
        std::span<const uint8_t> payload;
        uint64_t malformed = 0;
        while (NextNetlinkMessage(reply, offset, header, payload, malformed)) {
          if (header.nlmsg_type == NLMSG_DONE) return ReplyAction::kFinished;
        }
        return ReplyAction::kReadMore;
      },
      error))
      << error;
  EXPECT_GT(buffers, 1);
}

TEST(ExchangeNetlinkTest, TheKernelsRefusalReachesTheCallback) {
  DiagRequest request(255);  // past AF_MAX: sock_diag answers -EINVAL
  std::vector<int> errors;
  std::string error;
  ASSERT_TRUE(ExchangeNetlink(
      NETLINK_SOCK_DIAG, *request.header, kNetlinkDumpBufferBytes,
      [&](std::span<const uint8_t> reply) {
        size_t offset = 0;
        nlmsghdr header;
        std::span<const uint8_t> payload;
        uint64_t malformed = 0;
        while (NextNetlinkMessage(reply, offset, header, payload, malformed)) {
          int err = 0;
          if (ReadControlMessage(header, payload, err, malformed) == ControlMessage::kError) {
            errors.push_back(err);
          }
        }
        return ReplyAction::kFinished;
      },
      error))
      << error;
  EXPECT_EQ(errors, std::vector<int>{EINVAL});
}

TEST(ExchangeNetlinkTest, ABufferTooSmallForAMessageIsAReceiveError) {
  LoopbackListener listener;
  ASSERT_NO_FATAL_FAILURE(listener.Open());
  DiagRequest request;
  int calls = 0;
  std::string error;
  EXPECT_FALSE(ExchangeNetlink(
      NETLINK_SOCK_DIAG, *request.header, 32,  // less than one inet_diag_msg
      [&](std::span<const uint8_t>) {
        ++calls;
        return ReplyAction::kReadMore;
      },
      error));
  EXPECT_EQ(calls, 0) << "a cut message is never handed on";
  EXPECT_EQ(error.rfind("netlink recv: ", 0), 0u) << error;
}

TEST(ExchangeNetlinkTest, AnUnknownBusFailsClearly) {
  DiagRequest request;
  int calls = 0, open_errno = 0;
  std::string error;
  EXPECT_FALSE(ExchangeNetlink(
      1000, *request.header, kNetlinkDumpBufferBytes,
      [&](std::span<const uint8_t>) {
        ++calls;
        return ReplyAction::kFinished;
      },
      error, &open_errno));
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(open_errno, EPROTONOSUPPORT);
  EXPECT_EQ(error, "netlink socket: " + ErrnoText(EPROTONOSUPPORT));
}

}  // namespace
}  // namespace connwatch
