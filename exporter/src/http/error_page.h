// The one error page of every HTTP answer connwatch makes itself (civetweb's errors through
// its http_error callback, and the front's refusals): fixed text, the configured headers,
// nothing of the request, and the connection closes.
#pragma once

#include <string>
#include <string_view>

namespace connwatch {

// The whole response, head and body.
std::string ErrorResponse(int status, std::string_view reason, std::string_view extra_headers);

}  // namespace connwatch
