#include "http/error_page.h"

namespace connwatch {

std::string ErrorResponse(int status, std::string_view reason, std::string_view extra_headers) {
  std::string body = "Error " + std::to_string(status) + ": " + std::string(reason) + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n" + std::string(extra_headers) +
         "Cache-Control: no-cache\r\n\r\n" + body;
}

}  // namespace connwatch
