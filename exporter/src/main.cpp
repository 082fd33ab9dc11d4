// connwatch: flags -> sampler -> HTTP. Subcommands: serve (default), connections.
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/log.h"
#include "cli/check.h"
#include "cli/connections.h"
#include "cli/flags.h"
#include "cli/policy_commands.h"
#include "http/basic_auth.h"
#include "http/server.h"
#include "http/tls_config.h"
#include "http/web_config.h"
#include "privilege/capabilities.h"
#include "sampler/policy_runtime.h"
#include "sampler/sampler.h"
#include "version.h"

namespace connwatch {
namespace {

constexpr const char* kUsage =
    "usage: connwatch [serve] [flags]\n"
    "       connwatch connections [--listening] [--format=table|json] [flags]\n"
    "       connwatch check [--config.file=F] [--format=text|json] [--syslog] [flags]\n"
    "       connwatch validate FILE\n"
    "       connwatch policy --default\n"
    "       connwatch baseline [--storage.path=DIR]\n"
    "       connwatch --version\n\n"
    "serve flags:\n";

int Serve(const std::vector<std::string>& args) {
  // A sample at 200k sockets allocates and frees arrays of several MiB. glibc's dynamic mmap
  // threshold climbs after the first such free, so later ones land in the heap, which then
  // fragments and keeps its peak: 95 MiB peak RSS at 100k connections, 60 MiB with a fixed
  // 256 KiB threshold (big blocks are mmapped and returned to the kernel when freed).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  std::string listen_address = ":10107", telemetry_path = "/metrics", interval = "10s",
              max_series = std::to_string(kDefaultMaxSeries), procfs = "/proc", source = "auto",
              log_level = "info", config_file, storage_path = kDefaultStoragePath,
              max_findings = std::to_string(kDefaultMaxFindingSeries), web_config_file;
  bool help = false, version = false, reset_baseline = false;
  std::string full_scan_every = std::to_string(kDefaultFullScanEvery);
  std::vector<FlagSpec> specs = {
      {"web.listen-address", "Address to listen on (IPv4 only: Debian's civetweb lacks IPv6).",
       &listen_address, nullptr},
      {"web.telemetry-path", "Path under which to expose metrics.", &telemetry_path, nullptr},
      {"web.config.file",
       "exporter-toolkit web config: TLS (tls_server_config), basic auth, headers.",
       &web_config_file, nullptr},
      {"collect.interval", "How often to sample the socket table; scrapes serve the last sample.",
       &interval, nullptr},
      {"collect.full-scan-every",
       "Every N samples read every process's fds and attributes; in between only what changed "
       "(1: every sample).",
       &full_scan_every, nullptr},
      {"metrics.max-series", "Most series per metric family; the rest is counted as dropped.",
       &max_series, nullptr},
      {"collector.source",
       "Socket source: auto (netlink, falling back to /proc/net), netlink "
       "or procfs.",
       &source, nullptr},
      {"path.procfs", "procfs mountpoint.", &procfs, nullptr},
      {"log.level",
       "Only log messages with the given severity or above: debug, info, warn, "
       "error.",
       &log_level, nullptr},
      {"config.file",
       "Policy file (YAML); without it the embedded default policy learns a "
       "baseline.",
       &config_file, nullptr},
      {"storage.path", "Directory for connwatch's state (the learned baseline).", &storage_path,
       nullptr},
      {"baseline.reset", "Forget the persisted baseline and learn it again.", nullptr,
       &reset_baseline},
      {"findings.max-series",
       "Most connwatch_finding_info series; the rest is counted as "
       "dropped.",
       &max_findings, nullptr},
      {"version", "Print the version and exit.", nullptr, &version},
      {"help", "Show this help.", nullptr, &help},
  };
  std::vector<std::string> positional;
  std::string error;
  SamplerOptions sampler_options;
  ServerOptions server_options;
  LogLevel level = LogLevel::kInfo;
  auto parsed_interval = ParseDuration(interval);
  if (!ParseFlags(args, specs, positional, error)) {
  } else if (!positional.empty()) {
    error = "unexpected argument: " + positional[0];
  } else if (!(parsed_interval = ParseDuration(interval)) || parsed_interval->count() < 100) {
    error = "--collect.interval must be a duration of at least 100ms (e.g. 10s)";
  } else if (full_scan_every.empty() ||
             full_scan_every.find_first_not_of("0123456789") != std::string::npos ||
             full_scan_every.size() > 9 || std::stoul(full_scan_every) == 0) {
    error = "--collect.full-scan-every must be a positive integer";
  } else if (max_series.empty() ||
             max_series.find_first_not_of("0123456789") != std::string::npos ||
             max_series.size() > 9 || std::stoul(max_series) == 0) {
    error = "--metrics.max-series must be a positive integer";
  } else if (max_findings.empty() ||
             max_findings.find_first_not_of("0123456789") != std::string::npos ||
             max_findings.size() > 9) {
    error = "--findings.max-series must be a non-negative integer";
  } else if (!ParseSourceMode(source, sampler_options.snapshot.source_mode)) {
    error = "--collector.source must be auto, netlink or procfs";
  } else if (!ParseLogLevel(log_level, level)) {
    error = "--log.level must be debug, info, warn or error";
  } else if (!telemetry_path.starts_with("/") || telemetry_path == "/") {
    error = "--web.telemetry-path must start with / and not be /";
  }
  if (version) {
    printf("connwatch version %s (revision %s)\n", kVersion, kRevision);
    return 0;
  }
  if (help) {
    printf("%s%s", kUsage, FlagUsage(specs).c_str());
    return 0;
  }
  if (!error.empty()) {
    fprintf(stderr, "connwatch: %s\n(see connwatch --help)\n", error.c_str());
    return 2;
  }
  SetLogLevel(level);
  sampler_options.interval = *parsed_interval;
  sampler_options.snapshot.procfs = procfs;
  sampler_options.snapshot.full_scan_every = static_cast<uint32_t>(std::stoul(full_scan_every));
  sampler_options.storage_path = storage_path;
  sampler_options.metrics.max_series = std::stoul(max_series);
  sampler_options.metrics.max_finding_series = std::stoul(max_findings);
  server_options.listen_address = listen_address;
  server_options.telemetry_path = telemetry_path;
  WebConfig web_config;
  if (!web_config_file.empty()) {
    if (!LoadWebConfigFile(web_config_file, web_config, error)) {
      fprintf(stderr, "connwatch: invalid --web.config.file: %s\n", error.c_str());
      return 2;
    }
    // LoadWebConfigFile has loaded the certificate and key with OpenSSL already.
    if (web_config.tls) {
      TlsSettings tls;
      if (!ToTlsSettings(*web_config.tls, tls, error)) {
        fprintf(stderr, "connwatch: invalid --web.config.file: %s: %s\n", web_config_file.c_str(),
                error.c_str());
        return 2;
      }
      server_options.tls = std::move(tls);
    }
  }
  for (const auto& [name, value] : web_config.headers) {
    server_options.response_headers += name + ": " + value + "\r\n";
  }
  auto basic_auth = std::make_shared<BasicAuth>(web_config.basic_auth_users);
  if (basic_auth->enabled()) {
    server_options.authorize = [basic_auth](std::string_view authorization) {
      return basic_auth->Authorize(authorization);
    };
  }

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Log(LogLevel::kInfo, "starting connwatch",
      {{"version", kVersion},
       {"revision", kRevision},
       {"interval", interval},
       {"source", source},
       {"procfs", procfs}});
  // Least privilege: here, after the flags (the listen port decides CAP_NET_BIND_SERVICE, the
  // log level applies, --help and bad flags never get here) and before the policy, the state
  // files, the sampler and the HTTP server, so everything that reads host data or the network
  // runs with only the capabilities it needs. No thread exists yet: capabilities belong to a
  // thread, and the sampler's and civetweb's threads inherit the reduced sets.
  DropUnneededCapabilities(RequiredCapabilities(listen_address));
  PolicyRuntime runtime;
  std::vector<std::string> policy_errors;
  if (!runtime.Init({config_file, storage_path, reset_baseline}, policy_errors)) {
    for (const std::string& problem : policy_errors) fprintf(stderr, "%s\n", problem.c_str());
    Log(LogLevel::kError, "invalid policy, not starting", {{"file", config_file}});
    return 2;
  }
  Sampler sampler(sampler_options, &runtime);
  sampler.SampleOnce();
  HttpServer server(
      server_options, [&sampler] { return sampler.Latest(); },
      [&runtime](std::string& reload_error) { return runtime.Reload(reload_error); });
  if (!server.Start(error)) {
    Log(LogLevel::kError, "cannot start HTTP server", {{"err", error}});
    return 1;
  }
  sampler.Start();
  Log(LogLevel::kInfo, "listening",
      {{"address", server.bound_address()},
       {"telemetry_path", telemetry_path},
       {"tls", server_options.tls ? "true" : "false"}});

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) == 0 && signal_number == SIGHUP) {
    std::string reload_error;
    if (runtime.Reload(reload_error)) {
      Log(LogLevel::kInfo, "policy reloaded", {{"trigger", "SIGHUP"}});
    } else {
      Log(LogLevel::kError, "policy reload failed; keeping the running policy",
          {{"trigger", "SIGHUP"}, {"err", reload_error}});
    }
  }
  Log(LogLevel::kInfo, "stopping", {{"signal", std::to_string(signal_number)}});
  server.Stop();
  sampler.Stop();
  return 0;
}

}  // namespace
}  // namespace connwatch

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "connections") {
    return connwatch::RunConnections({args.begin() + 1, args.end()});
  }
  const std::vector<std::string> rest(args.empty() ? args.end() : args.begin() + 1, args.end());
  if (!args.empty() && args[0] == "check") return connwatch::RunCheck(rest);
  if (!args.empty() && args[0] == "validate") return connwatch::RunValidate(rest);
  if (!args.empty() && args[0] == "policy") return connwatch::RunPolicy(rest);
  if (!args.empty() && args[0] == "baseline") return connwatch::RunBaseline(rest);
  if (!args.empty() && args[0] == "serve") args.erase(args.begin());
  return connwatch::Serve(args);
}
