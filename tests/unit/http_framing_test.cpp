#include "http/http_framing.h"

#include <gtest/gtest.h>

namespace connwatch {
namespace {

using Status = RequestFrame::Status;

TEST(HttpFramingTest, ARequestIsCompleteAtItsEmptyLine) {
  std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t cut = 0; cut < request.size(); ++cut) {
    EXPECT_EQ(FrameRequest(request.substr(0, cut), 16384, 100).status, Status::kIncomplete) << cut;
  }
  RequestFrame frame = FrameRequest(request + "GET / HTTP/1.1\r\n", 16384, 100);
  EXPECT_EQ(frame.status, Status::kComplete);
  EXPECT_EQ(frame.length, request.size());  // a pipelined next request is not part of it
  EXPECT_FALSE(frame.head_method);
  EXPECT_EQ(FrameRequest("GET / HTTP/1.0\n\n", 100, 0).length, 16u);  // bare LFs
  EXPECT_TRUE(FrameRequest("HEAD / HTTP/1.1\r\n\r\n", 100, 0).head_method);
}

TEST(HttpFramingTest, KnowsWhenTheClientEndsTheConnection) {
  EXPECT_FALSE(FrameRequest("GET / HTTP/1.1\r\n\r\n", 100, 0).close);
  EXPECT_TRUE(FrameRequest("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", 100, 0).close);
  EXPECT_TRUE(FrameRequest("GET / HTTP/1.0\r\n\r\n", 100, 0).close);
  EXPECT_FALSE(FrameRequest("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 100, 0).close);
}

TEST(HttpFramingTest, ABodyIsPartOfItsRequest) {
  std::string head = "POST /-/reload HTTP/1.1\r\ncontent-LENGTH:  5 \r\n\r\n";
  EXPECT_EQ(FrameRequest(head + "abcd", 16384, 100).status, Status::kIncomplete);
  RequestFrame frame = FrameRequest(head + "abcdeGET", 16384, 100);
  EXPECT_EQ(frame.status, Status::kComplete);
  EXPECT_EQ(frame.length, head.size() + 5);
  // A length civetweb must refuse (411) is handed on as a head without a body.
  std::string bad = "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n";
  EXPECT_EQ(FrameRequest(bad, 16384, 100).length, bad.size());
}

TEST(HttpFramingTest, RefusesWhatIsTooLargeOrChunked) {
  EXPECT_EQ(FrameRequest(std::string(200, 'a'), 100, 10).status, Status::kTooLarge);
  EXPECT_EQ(FrameRequest(std::string(100, 'a'), 100, 10).status, Status::kIncomplete);
  EXPECT_EQ(
      FrameRequest("GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n", 100, 10).status,
      Status::kTooLarge);
  EXPECT_EQ(FrameRequest("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 100, 10).status,
            Status::kTooLarge);
  EXPECT_EQ(FrameRequest("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 100, 10).status,
            Status::kChunked);
}

TEST(HttpFramingTest, AResponseEndsAfterItsLength) {
  EXPECT_FALSE(FrameResponse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n", false));
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
  std::optional<ResponseFrame> frame = FrameResponse(head + "ab", false);
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->head_length, head.size());
  EXPECT_EQ(frame->body_length, 3u);
  EXPECT_FALSE(frame->close);
  EXPECT_EQ(FrameResponse(head, true)->body_length, 0u);  // HEAD: no body
  EXPECT_EQ(FrameResponse("HTTP/1.1 304 Not Modified\r\n\r\n", false)->body_length, 0u);
  EXPECT_TRUE(
      FrameResponse("HTTP/1.1 400 Bad\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false)
          ->close);
  std::optional<ResponseFrame> until_close = FrameResponse("HTTP/1.0 200 OK\r\n\r\nabc", false);
  EXPECT_FALSE(until_close->body_length);
  EXPECT_TRUE(until_close->close);
}

}  // namespace
}  // namespace connwatch
