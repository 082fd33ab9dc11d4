#include "http/server.h"

#include <civetweb.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <exception>

#include "base/log.h"
#include "http/error_page.h"
#include "http/listen_address.h"
#include "version.h"

namespace connwatch {
namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string HtmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool HeaderHasToken(const char* value, std::string_view token) {
  if (value == nullptr) return false;
  std::string lower(value);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find(token) != std::string::npos;
}

// An HTTP/1.0 client keeps a connection only when the answer says so; without the header it
// waits for the close that civetweb, keeping the connection, never sends (0.5 s per request
// until civetweb gave up). HTTP/1.1 keeps connections unless told otherwise.
const char* ConnectionHeader(mg_connection* connection) {
  const mg_request_info* request = mg_get_request_info(connection);
  bool http10 = request != nullptr && request->http_version != nullptr &&
                std::string_view(request->http_version) == "1.0";
  if (!http10) return "";
  return HeaderHasToken(mg_get_header(connection, "Connection"), "keep-alive")
             ? "Connection: keep-alive\r\n"
             : "Connection: close\r\n";
}

int Respond(mg_connection* connection, int status, const char* status_text,
            std::string_view content_type, std::string_view body, bool head,
            std::string_view extra_headers = "") {
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\nContent-Type: %.*s\r\nContent-Length: %zu\r\n%s%.*s"
            "Cache-Control: no-cache\r\n\r\n",
            status, status_text, static_cast<int>(content_type.size()), content_type.data(),
            body.size(), ConnectionHeader(connection), static_cast<int>(extra_headers.size()),
            extra_headers.data());
  if (!head && !body.empty()) mg_write(connection, body.data(), body.size());
  return status;
}

bool AcceptsGzip(mg_connection* connection) {
  const char* accept = mg_get_header(connection, "Accept-Encoding");
  return accept != nullptr && std::strstr(accept, "gzip") != nullptr;
}

}  // namespace

HttpServer::HttpServer(ServerOptions options, ExpositionSource source, ReloadHandler reload)
    : options_(std::move(options)), source_(std::move(source)), reload_(std::move(reload)) {
  std::string path = HtmlEscape(options_.telemetry_path);
  landing_page_ =
      "<!DOCTYPE html>\n<html><head><title>connwatch</title></head><body>\n"
      "<h1>connwatch</h1>\n<p>Connection analysis for incident response: listeners, socket "
      "owners, connection paths.</p>\n<p>Version " +
      std::string(kVersion) + " (revision " + kRevision + ")</p>\n<ul><li><a href=\"" + path +
      "\">Metrics</a></li></ul>\n</body></html>\n";
}

HttpServer::~HttpServer() { Stop(); }

bool HttpServer::Start(std::string& error) {
  FrontOptions front = options_.front;
  front.addresses.clear();
  for (const std::string& text : options_.listen_addresses) {
    ListenAddress address;
    if (!ParseListenAddress(text, address, error)) {
      error = "--web.listen-address=" + text + ": " + error;
      return false;
    }
    front.addresses.push_back(address);
  }
  std::string threads = std::to_string(options_.threads);
  // civetweb only ever sees the front's loopback connections, each carrying one complete
  // request. tcp_nodelay: a response is written as headers then body; with Nagle the body
  // waits for the delayed ACK (40 ms per response).
  const char* civet_options[] = {"listening_ports",
                                 "127.0.0.1:0",
                                 "num_threads",
                                 threads.c_str(),
                                 "request_timeout_ms",
                                 "10000",
                                 "enable_keep_alive",
                                 "yes",
                                 "tcp_nodelay",
                                 "1",
                                 nullptr};
  mg_callbacks callbacks{};
  // Keep civetweb's own logging off stderr; a start failure reports its first message.
  callbacks.log_message = &HttpServer::LogMessage;
  callbacks.http_error = &HttpServer::ErrorPage;
  {
    std::lock_guard<std::mutex> lock(start_error_mutex_);
    start_error_.clear();
  }
  context_ = mg_start(&callbacks, this, civet_options);
  if (context_ == nullptr) {
    std::lock_guard<std::mutex> lock(start_error_mutex_);
    error = "cannot start civetweb on 127.0.0.1" +
            (start_error_.empty() ? std::string() : ": " + start_error_);
    return false;
  }
  mg_set_request_handler(context_, "/", &HttpServer::HandleRequest, this);
  mg_server_port ports[4];
  if (mg_get_server_ports(context_, 4, ports) < 1) {
    error = "civetweb reports no port";
    return false;
  }
  front.backend_port = static_cast<uint16_t>(ports[0].port);
  front.max_backend_requests =
      std::min<size_t>(front.max_backend_requests, std::max(1, options_.threads - 2));
  front.error_headers = options_.response_headers;
  front.tls = options_.tls;
  front_ = std::make_unique<Front>(std::move(front), options_.rejections, &peers_);
  if (!front_->Start(error)) return false;
  bound_addresses_ = front_->bound_addresses();
  return true;
}

int HttpServer::LogMessage(const mg_connection* connection, const char* message) {
  mg_context* context = connection ? mg_get_context(connection) : nullptr;
  auto* server = context ? static_cast<HttpServer*>(mg_get_user_data(context)) : nullptr;
  if (server != nullptr && message != nullptr) {
    // civetweb calls this from C, often because memory ran out ("Cannot allocate buffer for
    // worker"): an exception out of the copy would abort the process.
    try {
      std::lock_guard<std::mutex> lock(server->start_error_mutex_);
      if (server->start_error_.empty()) server->start_error_ = message;
    } catch (...) {
      // The message is lost; start-up still fails on what Start() sees.
    }
  }
  return 1;  // handled: civetweb prints nothing
}

int HttpServer::ErrorPage(mg_connection* connection, int status, const char*) {
  // civetweb's own error page writes the request's version field into its status line (a
  // request could make it say "HTTP/y\r\nX-Injected: 1") and its message into the body, and
  // leaves out the configured headers. This one is fixed text, then the connection closes.
  mg_context* context = mg_get_context(connection);
  auto* server = context ? static_cast<HttpServer*>(mg_get_user_data(context)) : nullptr;
  try {  // called from C: no exception may cross it
    std::string response =
        ErrorResponse(status, mg_get_response_code_text(nullptr, status),
                      server != nullptr ? server->options_.response_headers : "");
    mg_write(connection, response.data(), response.size());
  } catch (...) {
    // No memory for the page: the connection closes with nothing written.
  }
  return 0;  // handled: civetweb sends nothing of its own
}

void HttpServer::Stop() {
  if (front_) front_->Stop();
  if (context_ != nullptr) {
    mg_stop(context_);
    context_ = nullptr;
  }
}

int HttpServer::HandleRequest(mg_connection* connection, void* self) {
  // civetweb has no try/catch: an exception escaping here would abort the process.
  try {
    return static_cast<HttpServer*>(self)->Handle(connection);
  } catch (const std::exception& error) {
    Log(LogLevel::kError, "request failed", {{"err", error.what()}});
  } catch (...) {
    Log(LogLevel::kError, "request failed", {{"err", "unknown exception"}});
  }
  return static_cast<HttpServer*>(self)->Reply(connection, 500, "Internal Server Error",
                                               "text/plain", "internal error\n", false);
}

int HttpServer::Reply(mg_connection* connection, int status, const char* status_text,
                      std::string_view content_type, std::string_view body, bool head,
                      std::string_view extra_headers) {
  return Respond(connection, status, status_text, content_type, body, head,
                 options_.response_headers + std::string(extra_headers));
}

int HttpServer::Handle(mg_connection* connection) {
  const mg_request_info* request = mg_get_request_info(connection);
  // The client's address, as the front registered it under its loopback connection's port.
  std::string peer = peers_.Find(static_cast<uint16_t>(request->remote_port));
  if (peer.empty()) peer = request->remote_addr;
  Log(LogLevel::kDebug, "HTTP request",
      {{"peer", peer},
       {"method", request->request_method ? request->request_method : ""},
       {"path", request->local_uri ? request->local_uri : ""}});
  if (options_.authorize) {
    const char* authorization = mg_get_header(connection, "Authorization");
    switch (options_.authorize(authorization != nullptr ? authorization : "", peer)) {
      case AuthDecision::kAllow:
        break;
      case AuthDecision::kDeny:
        return Reply(connection, 401, "Unauthorized", "text/plain", "Unauthorized\n", false,
                     "WWW-Authenticate: Basic realm=\"connwatch\"\r\n");
      case AuthDecision::kThrottled:
        return Reply(connection, 429, "Too Many Requests", "text/plain",
                     "too many password checks; retry later\n", false, "Retry-After: 1\r\n");
    }
  }
  std::string_view method = request->request_method ? request->request_method : "";
  std::string_view uri = request->local_uri ? request->local_uri : "";
  bool is_metrics = uri == options_.telemetry_path;
  bool is_landing = uri == "/";
  if (uri == "/-/reload" && reload_) {
    // As Prometheus does: off unless asked for, then POST or PUT; a GET must not change state.
    if (!options_.enable_lifecycle) {
      return Reply(connection, 403, "Forbidden", "text/plain",
                   "Lifecycle API is not enabled (--web.enable-lifecycle).\n", false);
    }
    if (method != "POST" && method != "PUT") {
      return Reply(connection, 405, "Method Not Allowed", "text/plain",
                   "405 method not allowed: use POST\n", false, "Allow: POST, PUT\r\n");
    }
    return ServeReload(connection);
  }
  if (!is_metrics && !is_landing) {
    return Reply(connection, 404, "Not Found", "text/plain", "404 page not found\n",
                 method == "HEAD");
  }
  if (method != "GET" && method != "HEAD") {
    return Reply(connection, 405, "Method Not Allowed", "text/plain", "405 method not allowed\n",
                 false, "Allow: GET, HEAD\r\n");
  }
  bool head = method == "HEAD";
  return is_metrics ? ServeMetrics(connection, head) : ServeLanding(connection, head);
}

int HttpServer::ServeMetrics(mg_connection* connection, bool head) {
  std::shared_ptr<const Exposition> exposition = source_();
  if (!exposition) {
    return Reply(connection, 503, "Service Unavailable", "text/plain", "no sample yet\n", head);
  }
  if (AcceptsGzip(connection)) {
    const std::string& body = exposition->gzipped();
    if (!body.empty()) {
      return Reply(connection, 200, "OK", kMetricsContentType, body, head,
                   "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
    }
  }
  return Reply(connection, 200, "OK", kMetricsContentType, exposition->text(), head,
               "Vary: Accept-Encoding\r\n");
}

int HttpServer::ServeReload(mg_connection* connection) {
  std::string error;
  if (reload_(error)) {
    Log(LogLevel::kInfo, "policy reloaded", {{"trigger", "http"}});
    return Reply(connection, 200, "OK", "text/plain", "reloaded\n", false);
  }
  Log(LogLevel::kError, "policy reload failed; keeping the running policy",
      {{"trigger", "http"}, {"err", error}});
  // The reason names the policy's path and quotes its values (zones, CIDRs): the log has it,
  // the client gets a fixed answer.
  return Reply(connection, 500, "Internal Server Error", "text/plain",
               "failed to reload config; the running policy is kept (see connwatch's log)\n",
               false);
}

int HttpServer::ServeLanding(mg_connection* connection, bool head) {
  return Reply(connection, 200, "OK", "text/html; charset=utf-8", landing_page_, head);
}

}  // namespace connwatch
