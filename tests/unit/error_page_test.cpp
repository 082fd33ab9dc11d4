#include "http/error_page.h"

#include <gtest/gtest.h>

namespace connwatch {
namespace {

TEST(ErrorPageTest, FixedTextWithTheConfiguredHeadersAndALength) {
  std::string response =
      ErrorResponse(413, "Request Entity Too Large", "X-Frame-Options: deny\r\n");
  EXPECT_EQ(response,
            "HTTP/1.1 413 Request Entity Too Large\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 36\r\n"
            "Connection: close\r\nX-Frame-Options: deny\r\nCache-Control: no-cache\r\n\r\n"
            "Error 413: Request Entity Too Large\n");
  std::string body = response.substr(response.find("\r\n\r\n") + 4);
  EXPECT_EQ(body.size(), 36u);
}

}  // namespace
}  // namespace connwatch
