// The HTTP endpoint, on civetweb's C API directly rather than prometheus-cpp's Exposer:
// exact path matching, 405 for methods other than GET/HEAD, no exposer_* metrics, gzip,
// and no exception can reach civetweb: an exception escaping a civetweb handler aborts the
// process, since civetweb has no try/catch.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "http/basic_auth.h"
#include "http/tls_config.h"
#include "metrics/exposition.h"

struct mg_context;
struct mg_connection;

namespace connwatch {

struct ServerOptions {
  std::string listen_address = ":10107";
  std::string telemetry_path = "/metrics";
  int threads = 16;
  // Checks the Authorization header's value ("" when absent) from the peer's IP address on
  // every path; null = no auth.
  std::function<AuthDecision(std::string_view authorization, std::string_view peer)> authorize;
  // POST /-/reload, as Prometheus's --web.enable-lifecycle: off, it answers 403.
  bool enable_lifecycle = false;
  // Extra "Name: value\r\n" lines added to every response (web config security headers).
  std::string response_headers;
  // Serve HTTPS only, configured by civetweb's init_ssl callback (tls_context.h).
  std::optional<TlsSettings> tls;
};

// ":10107" -> "10107" (every IPv4 address), "127.0.0.1:0" -> itself, "localhost:p" ->
// "127.0.0.1:p". IPv6 literals are rejected: Debian's civetweb is built without IPv6.
bool ToCivetPort(std::string_view listen_address, std::string& civet_port, std::string& error);

class HttpServer {
 public:
  using ExpositionSource = std::function<std::shared_ptr<const Exposition>()>;
  // Reloads the policy; false with the reason on failure (logged, never sent: it names the
  // policy's path and values). Serves POST /-/reload when lifecycle is enabled.
  using ReloadHandler = std::function<bool(std::string& error)>;

  HttpServer(ServerOptions options, ExpositionSource source, ReloadHandler reload = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving. False with `error` set when the address cannot be used.
  bool Start(std::string& error);
  void Stop();
  // "host:port" actually bound (port 0 resolved), valid after Start.
  const std::string& bound_address() const { return bound_address_; }

 private:
  static int HandleRequest(mg_connection* connection, void* self);
  static int InitSsl(void* ssl_ctx, void* self);
  static int LogMessage(const mg_connection* connection, const char* message);
  static int ErrorPage(mg_connection* connection, int status, const char* message);
  int Handle(mg_connection* connection);
  int Reply(mg_connection* connection, int status, const char* status_text,
            std::string_view content_type, std::string_view body, bool head,
            std::string_view extra_headers = "");
  int ServeMetrics(mg_connection* connection, bool head);
  int ServeLanding(mg_connection* connection, bool head);
  int ServeReload(mg_connection* connection);

  const ServerOptions options_;
  const ExpositionSource source_;
  const ReloadHandler reload_;
  std::string landing_page_;
  mg_context* context_ = nullptr;
  std::string bound_address_;
  // Why mg_start failed: the init_ssl callback's error, else civetweb's first log message.
  std::mutex start_error_mutex_;
  std::string start_error_;
};

}  // namespace connwatch
