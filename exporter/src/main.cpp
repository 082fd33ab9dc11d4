// connwatch: flags -> sampler -> HTTP. Subcommands: serve (default), connections.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/connections.h"
#include "cli/flags.h"
#include "http/server.h"
#include "log.h"
#include "sampler/sampler.h"
#include "version.h"

namespace connwatch {
namespace {

constexpr const char* kUsage =
    "usage: connwatch [serve] [flags]\n"
    "       connwatch connections [--listening] [--format=table|json] [flags]\n"
    "       connwatch --version\n\n"
    "serve flags:\n";

int Serve(const std::vector<std::string>& args) {
  std::string listen_address = ":10107", telemetry_path = "/metrics", interval = "10s",
              max_series = std::to_string(kDefaultMaxSeries), procfs = "/proc", source = "auto",
              log_level = "info";
  bool help = false, version = false;
  std::vector<FlagSpec> specs = {
      {"web.listen-address", "Address to listen on (IPv4 only: Debian's civetweb lacks IPv6).",
       &listen_address, nullptr},
      {"web.telemetry-path", "Path under which to expose metrics.", &telemetry_path, nullptr},
      {"collect.interval", "How often to sample the socket table; scrapes serve the last sample.",
       &interval, nullptr},
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
  } else if (max_series.empty() ||
             max_series.find_first_not_of("0123456789") != std::string::npos ||
             max_series.size() > 9 || std::stoul(max_series) == 0) {
    error = "--metrics.max-series must be a positive integer";
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
  sampler_options.metrics.max_series = std::stoul(max_series);
  server_options.listen_address = listen_address;
  server_options.telemetry_path = telemetry_path;

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Log(LogLevel::kInfo, "starting connwatch",
      {{"version", kVersion},
       {"revision", kRevision},
       {"interval", interval},
       {"source", source},
       {"procfs", procfs}});
  Sampler sampler(sampler_options, ZoneClassifier());
  sampler.SampleOnce();
  HttpServer server(server_options, [&sampler] { return sampler.Latest(); });
  if (!server.Start(error)) {
    Log(LogLevel::kError, "cannot start HTTP server", {{"err", error}});
    return 1;
  }
  sampler.Start();
  Log(LogLevel::kInfo, "listening",
      {{"address", server.bound_address()}, {"telemetry_path", telemetry_path}});

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
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
  if (!args.empty() && args[0] == "serve") args.erase(args.begin());
  return connwatch::Serve(args);
}
