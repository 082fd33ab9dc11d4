// Where an HTTP/1.x request or response ends, from its bytes alone: what the front
// (http/front.h) needs to hand civetweb only complete requests, one at a time, and to know
// when civetweb's answer is over. Nothing else of the message is judged here: civetweb parses
// and answers it (a malformed request gets civetweb's 400 through the fixed error page).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace connwatch {

struct RequestFrame {
  enum class Status {
    kIncomplete,  // the head (or the body its Content-Length announces) is still arriving
    kComplete,    // `length` bytes are one request
    kTooLarge,    // the head is above max_head, or the body above max_body
    kChunked,     // a Transfer-Encoding body, which the front does not take (411)
  };
  Status status = Status::kIncomplete;
  size_t length = 0;
  bool head_method = false;  // HEAD: the response has no body
  // The client ends the connection after the response: "Connection: close", or HTTP/1.0
  // without "Connection: keep-alive".
  bool close = false;
};

// A request head ends at the first empty line (CRLF CRLF, or bare LF LF as civetweb also
// takes). A Content-Length that is not one decimal number is civetweb's to refuse: the head
// is complete without a body.
RequestFrame FrameRequest(std::string_view buffer, size_t max_head, size_t max_body);

struct ResponseFrame {
  size_t head_length = 0;
  std::optional<size_t> body_length;  // nullopt: the body runs until the connection closes
  bool close = false;                 // "Connection: close": the client connection ends too
};

// nullopt while the response head is incomplete.
std::optional<ResponseFrame> FrameResponse(std::string_view buffer, bool head_method);

}  // namespace connwatch
