// The HTTP endpoint, on civetweb's C API directly rather than prometheus-cpp's Exposer:
// exact path matching, 405 for methods other than GET/HEAD, no exposer_* metrics, gzip,
// and no exception can reach civetweb: an exception escaping a civetweb handler aborts the
// process, since civetweb has no try/catch. civetweb listens on 127.0.0.1 only, plain HTTP;
// clients talk to the front (front.h), which owns the listen addresses and TLS and hands
// civetweb complete requests.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/basic_auth.h"
#include "http/front.h"
#include "http/peer_by_port.h"
#include "http/tls_config.h"
#include "metrics/exposition.h"

struct mg_context;
struct mg_connection;

namespace connwatch {

struct ServerOptions {
  // --web.listen-address, each as listen_address.h reads it.
  std::vector<std::string> listen_addresses = {":10107"};
  std::string telemetry_path = "/metrics";
  int threads = 16;
  // Checks the Authorization header's value ("" when absent) from the peer's IP address on
  // every path; null = no auth.
  std::function<AuthDecision(std::string_view authorization, std::string_view peer)> authorize;
  // POST /-/reload, as Prometheus's --web.enable-lifecycle: off, it answers 403.
  bool enable_lifecycle = false;
  // Extra "Name: value\r\n" lines added to every response (web config security headers).
  std::string response_headers;
  // Serve HTTPS only; the front (front.h) terminates it.
  std::optional<TlsSettings> tls;
  // The front's caps and timeouts (its addresses, port and TLS come from the fields above).
  FrontOptions front;
  // Where the front counts what it refuses; null: not counted.
  HttpRejections* rejections = nullptr;
};

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
  // "host:port" of each listen address (port 0 resolved), valid after Start.
  const std::vector<std::string>& bound_addresses() const { return bound_addresses_; }
  // The first of them (tests).
  const std::string& bound_address() const { return bound_addresses_.front(); }

 private:
  static int HandleRequest(mg_connection* connection, void* self);
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
  PeerByPort peers_;
  std::unique_ptr<Front> front_;
  std::vector<std::string> bound_addresses_;
  // Why mg_start failed: civetweb's first log message.
  std::mutex start_error_mutex_;
  std::string start_error_;
};

}  // namespace connwatch
