#include "http/http_framing.h"

#include <cctype>
#include <charconv>
#include <string>

namespace connwatch {
namespace {

// The length of the head including its empty line, or 0 while there is none.
size_t HeadLength(std::string_view buffer) {
  for (size_t i = buffer.find('\n'); i != std::string_view::npos; i = buffer.find('\n', i + 1)) {
    if (i + 1 < buffer.size() && buffer[i + 1] == '\n') return i + 2;
    if (i + 2 < buffer.size() && buffer[i + 1] == '\r' && buffer[i + 2] == '\n') return i + 3;
  }
  return 0;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// Calls visit(lowercase name, value) for every header line after the first line.
template <typename Visit>
void ForEachHeader(std::string_view head, Visit visit) {
  size_t start = head.find('\n');
  while (start != std::string_view::npos && start + 1 < head.size()) {
    size_t end = head.find('\n', start + 1);
    std::string_view line =
        head.substr(start + 1, end == std::string_view::npos ? head.npos : end - start - 1);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      visit(Lower(Trim(line.substr(0, colon))), Trim(line.substr(colon + 1)));
    }
    start = end;
  }
}

std::optional<size_t> ParseLength(std::string_view text) {
  size_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

RequestFrame FrameRequest(std::string_view buffer, size_t max_head, size_t max_body) {
  RequestFrame frame;
  size_t head_length = HeadLength(buffer.substr(0, max_head + 3));
  if (head_length == 0 || head_length > max_head) {
    if (buffer.size() > max_head) frame.status = RequestFrame::Status::kTooLarge;
    return frame;
  }
  std::string_view head = buffer.substr(0, head_length);
  frame.head_method = head.starts_with("HEAD ");
  std::optional<size_t> body = 0;
  bool chunked = false;
  std::string connection;
  ForEachHeader(head, [&](const std::string& name, std::string_view value) {
    if (name == "content-length") body = ParseLength(value);
    if (name == "transfer-encoding") chunked = true;
    if (name == "connection") connection = Lower(value);
  });
  std::string_view request_line = head.substr(0, head.find('\n'));
  bool http10 = Trim(request_line).ends_with("HTTP/1.0");
  frame.close = connection.find("close") != std::string::npos ||
                (http10 && connection.find("keep-alive") == std::string::npos);
  if (chunked) {
    frame.status = RequestFrame::Status::kChunked;
    return frame;
  }
  size_t body_length = body.value_or(0);  // a bad length: civetweb answers it
  if (body_length > max_body) {
    frame.status = RequestFrame::Status::kTooLarge;
  } else if (buffer.size() >= head_length + body_length) {
    frame.status = RequestFrame::Status::kComplete;
    frame.length = head_length + body_length;
  }
  return frame;
}

std::optional<ResponseFrame> FrameResponse(std::string_view buffer, bool head_method) {
  size_t head_length = HeadLength(buffer);
  if (head_length == 0) return std::nullopt;
  std::string_view head = buffer.substr(0, head_length);
  ResponseFrame frame;
  frame.head_length = head_length;
  ForEachHeader(head, [&](const std::string& name, std::string_view value) {
    if (name == "content-length") frame.body_length = ParseLength(value);
    if (name == "connection" && Lower(value).find("close") != std::string::npos) {
      frame.close = true;
    }
  });
  // "HTTP/1.1 204 ...": no body for HEAD, 1xx, 204 and 304.
  std::string_view status = head.size() > 12 ? head.substr(9, 3) : "";
  if (head_method || status.starts_with('1') || status == "204" || status == "304") {
    frame.body_length = 0;
  }
  if (!frame.body_length) frame.close = true;  // delimited by the close
  return frame;
}

}  // namespace connwatch
