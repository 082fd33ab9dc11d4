#include "cli/serve.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "base/log.h"
#include "cli/common_flags.h"
#include "cli/flags.h"
#include "http/basic_auth.h"
#include "http/listen_address.h"
#include "http/server.h"
#include "http/tls_config.h"
#include "http/web_config.h"
#include "metrics/http_rejections.h"
#include "privilege/capabilities.h"
#include "sampler/policy_runtime.h"
#include "sampler/sampler.h"
#include "version.h"

namespace connwatch {
namespace {

// Nine digits, the most the counts ever took: far above any real table, far below what
// their variables hold.
constexpr uint64_t kMaxCount = 999'999'999;

constexpr const char* kSummary =
    "Samples the host's sockets every --collect.interval and serves the last sample as\n"
    "Prometheus metrics. The other subcommands (connwatch SUB --help for each):\n"
    "  connwatch connections [flags]   one snapshot, like netstat -tanup\n"
    "  connwatch check [flags]         one snapshot judged against the policy\n"
    "  connwatch validate FILE         check a policy file\n"
    "  connwatch policy --default      print the embedded default policy\n"
    "  connwatch baseline [flags]      print the baseline learned on this host";

// Everything serve's flags set. The sampler's and the server's options are the flags'
// targets, so their defaults are the flags' defaults.
struct ServeFlags {
  ServeFlags() {
    sampler.snapshot.all_namespaces = true;
    sampler.snapshot.tcp_bytes = true;
  }
  SamplerOptions sampler;
  EventsMode events = EventsMode::kAuto;
  std::chrono::milliseconds series_ttl{std::chrono::hours(1)};
  ServerOptions server;
  std::string interval_text;  // --collect.interval as typed, for the start-up log line
  std::string config_file, storage_path = kDefaultStoragePath, web_config_file;
  bool reset_baseline = false;
  LogLevel log_level = LogLevel::kInfo;
};

bool IsTelemetryPath(std::string_view path) { return path.starts_with("/") && path != "/"; }

bool IsListenAddress(std::string_view text) {
  ListenAddress address;
  std::string error;
  return ParseListenAddress(text, address, error);
}

Command ServeCommand(ServeFlags& f) {
  return {
      "connwatch serve",
      "connwatch [serve] [flags]",
      kSummary,
      {
          RepeatedStringFlag("web.listen-address",
                             "Address to listen on: HOST:PORT, [IPv6]:PORT, or :PORT for every "
                             "IPv6 and IPv4 address. Repeat the flag for several.",
                             &f.server.listen_addresses, "be HOST:PORT, [IPv6]:PORT or :PORT",
                             IsListenAddress),
          CheckedStringFlag("web.telemetry-path", "Path under which to expose metrics.",
                            &f.server.telemetry_path, "start with / and not be /", IsTelemetryPath),
          StringFlag("web.config.file",
                     "exporter-toolkit web config: TLS (tls_server_config), basic auth, headers.",
                     &f.web_config_file),
          BoolFlag("web.enable-lifecycle", "Enable policy reload via HTTP POST /-/reload.",
                   &f.server.enable_lifecycle),
          DurationFlag("collect.interval",
                       "How often to sample the socket table; scrapes serve the last sample.",
                       &f.sampler.interval, std::chrono::milliseconds(100), &f.interval_text),
          IntegerFlag("collect.full-scan-every",
                      "Every N samples read every process's fds and attributes; in between only "
                      "what changed (1: every sample).",
                      &f.sampler.snapshot.full_scan_every, 1, kMaxCount),
          IntegerFlag("metrics.max-series",
                      "Most series per metric family; the rest is counted as dropped.",
                      &f.sampler.metrics.max_series, 1, kMaxCount),
          SourceModeFlag(&f.sampler.snapshot.source_mode,
                         "Socket source: auto is netlink, falling back to /proc/net."),
          ProcfsFlag(&f.sampler.snapshot.procfs),
          RootfsFlag(&f.sampler.snapshot.rootfs),
          NetnsFlag(&f.sampler.snapshot.all_namespaces),
          SysfsFlag(&f.sampler.snapshot.sysfs),
          LogLevelFlag(&f.log_level),
          StringFlag("config.file",
                     "Policy file (YAML); without it the embedded default policy learns a "
                     "baseline.",
                     &f.config_file),
          StoragePathFlag(&f.storage_path,
                          "Directory for connwatch's state (the learned baseline)."),
          BoolFlag("baseline.reset", "Forget the persisted baseline and learn it again.",
                   &f.reset_baseline),
          TypedChoiceFlag(
              "collect.events",
              "TCP connections between samples: from eBPF (CAP_BPF, CAP_PERFMON), "
              "sock_diag destroy notifications, auto (eBPF, else sock_diag) or off.",
              &f.events,
              std::vector<std::pair<std::string, EventsMode>>{{"auto", EventsMode::kAuto},
                                                              {"ebpf", EventsMode::kEbpf},
                                                              {"sock_diag", EventsMode::kSockDiag},
                                                              {"off", EventsMode::kOff}}),
          DurationFlag("metrics.series-ttl",
                       "Drop a per-connection counter series (opened, failed, bytes) that has "
                       "not moved for this long and whose process holds no socket.",
                       &f.series_ttl, std::chrono::seconds(1)),
          IntegerFlag("findings.max-series",
                      "Most connwatch_finding_info series; the rest is counted as dropped.",
                      &f.sampler.metrics.max_finding_series, 0, kMaxCount),
          PrintFlag(
              "version", "Print the version and exit.",
              std::string("connwatch version ") + kVersion + " (revision " + kRevision + ")\n"),
      },
      {},
  };
}

// tls_server_config -> the server's TLS settings. LoadWebConfigFile has loaded the
// certificate and key with OpenSSL already. False after printing why.
bool ApplyTls(const std::string& file, const WebConfig& web_config, ServerOptions& server) {
  if (!web_config.tls) return true;
  TlsSettings tls;
  std::string error;
  if (!ToTlsSettings(*web_config.tls, tls, error)) {
    fprintf(stderr, "connwatch: invalid --web.config.file: %s: %s\n", file.c_str(), error.c_str());
    return false;
  }
  server.tls = std::move(tls);
  return true;
}

// The web config's headers and basic_auth_users -> every response's headers, the check of
// every request.
void ApplyHeadersAndBasicAuth(const WebConfig& web_config, ServerOptions& server) {
  for (const auto& [name, value] : web_config.headers) {
    server.response_headers += name + ": " + value + "\r\n";
  }
  auto basic_auth = std::make_shared<BasicAuth>(web_config.basic_auth_users);
  if (basic_auth->enabled()) {
    server.authorize = [basic_auth](std::string_view authorization, std::string_view peer) {
      return basic_auth->Authorize(authorization, peer);
    };
  }
}

// --web.config.file (none: plain HTTP, no auth, no extra headers). False after printing why.
bool ApplyWebConfig(const std::string& file, ServerOptions& server) {
  WebConfig web_config;
  if (!file.empty()) {
    std::string error;
    if (!LoadWebConfigFile(file, web_config, error)) {
      fprintf(stderr, "connwatch: invalid --web.config.file: %s\n", error.c_str());
      return false;
    }
    if (!ApplyTls(file, web_config, server)) return false;
  }
  ApplyHeadersAndBasicAuth(web_config, server);
  return true;
}

// Every connection the HTTP front holds is a file descriptor: the soft limit (often 1024)
// goes up to the hard one, as Go's runtime does at start. Its caps follow the limit.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

// Blocks the stop signals in this thread and so in every thread started later (they inherit
// the mask); the main thread waits for them in WaitForStop. A closed client socket must not
// kill the process.
sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

// Reloads the policy on every SIGHUP; returns the signal that stopped the loop.
int ReloadOnSighupUntilStopped(const sigset_t& stop_signals, PolicyRuntime& runtime) {
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
  return signal_number;
}

// Until the main thread waits for the stop signals (after the first sample and the listener),
// a thread of this one's does: a slow or stuck load (a FIFO for --config.file) or sample must
// not leave SIGTERM blocked with nobody to take it. A stop signal then ends connwatch at once,
// as nothing it has started needs stopping yet; a SIGHUP is ignored (the policy is being
// loaded anyway). Its own SIGUSR1, from the destructor, hands the signals back.
class StartUpSignals {
 public:
  explicit StartUpSignals(const sigset_t& stop_signals) : signals_(stop_signals) {
    sigset_t hand_back;
    sigemptyset(&hand_back);
    sigaddset(&hand_back, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &hand_back, nullptr);
    sigaddset(&signals_, SIGUSR1);
    thread_ = std::thread([this] { Wait(); });
  }
  ~StartUpSignals() {
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }

 private:
  void Wait() {
    int signal_number = 0;
    while (sigwait(&signals_, &signal_number) == 0 && signal_number != SIGUSR1) {
      if (signal_number == SIGHUP) continue;
      Log(LogLevel::kInfo, "stopping during start-up", {{"signal", std::to_string(signal_number)}});
      _exit(0);
    }
  }

  sigset_t signals_;
  std::thread thread_;
};

// The policy, the sampler (one sample before the server starts, so the first scrape has
// data) and the HTTP server, until a stop signal.
int RunUntilStopped(const ServeFlags& flags, const sigset_t& stop_signals) {
  std::optional<StartUpSignals> start_up(std::in_place, stop_signals);
  PolicyRuntime runtime;
  std::vector<std::string> policy_errors;
  if (!runtime.Init({flags.config_file, flags.storage_path, flags.reset_baseline}, policy_errors)) {
    for (const std::string& problem : policy_errors) fprintf(stderr, "%s\n", problem.c_str());
    Log(LogLevel::kError, "invalid policy, not starting", {{"file", flags.config_file}});
    return 2;
  }
  // Counted by the HTTP front, exported with every sample.
  HttpRejections rejections;
  SamplerOptions sampler_options = flags.sampler;
  sampler_options.metrics.http_rejections = &rejections;
  ServerOptions server_options = flags.server;
  server_options.rejections = &rejections;
  Sampler sampler(sampler_options, &runtime);
  sampler.SampleOnce();
  HttpServer server(
      server_options, [&sampler] { return sampler.Latest(); },
      [&runtime](std::string& reload_error) { return runtime.Reload(reload_error); });
  std::string error;
  if (!server.Start(error)) {
    Log(LogLevel::kError, "cannot start HTTP server", {{"err", error}});
    return 1;
  }
  sampler.Start();
  start_up.reset();
  for (const std::string& address : server.bound_addresses()) {
    Log(LogLevel::kInfo, "listening",
        {{"address", address},
         {"telemetry_path", flags.server.telemetry_path},
         {"tls", flags.server.tls ? "true" : "false"}});
  }
  int signal_number = ReloadOnSighupUntilStopped(stop_signals, runtime);
  Log(LogLevel::kInfo, "stopping", {{"signal", std::to_string(signal_number)}});
  server.Stop();
  sampler.Stop();
  return 0;
}

}  // namespace

int RunServe(const std::vector<std::string>& args) {
  // A sample at 200k sockets allocates and frees arrays of several MiB. glibc's dynamic mmap
  // threshold climbs after the first such free, so later ones land in the heap, which then
  // fragments and keeps its peak: 95 MiB peak RSS at 100k connections, 60 MiB with a fixed
  // 256 KiB threshold (big blocks are mmapped and returned to the kernel when freed).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  ServeFlags flags;
  if (auto exit_code = ParseCommandLine(ServeCommand(flags), args)) return *exit_code;
  SetLogLevel(flags.log_level);
  flags.sampler.storage_path = flags.storage_path;
  flags.sampler.events = flags.events;
  flags.sampler.series_ttl_seconds = std::chrono::duration<double>(flags.series_ttl).count();
  if (!ApplyWebConfig(flags.web_config_file, flags.server)) return 2;
  sigset_t stop_signals = BlockStopSignals();
  Log(LogLevel::kInfo, "starting connwatch",
      {{"version", kVersion},
       {"revision", kRevision},
       {"interval", flags.interval_text},
       {"source", SourceModeName(flags.sampler.snapshot.source_mode)},
       {"procfs", flags.sampler.snapshot.procfs}});
  // Least privilege: here, after the flags (the listen port decides CAP_NET_BIND_SERVICE, the
  // log level applies, --help and bad flags never get here) and before the policy, the state
  // files, the sampler and the HTTP server, so everything that reads host data or the network
  // runs with only the capabilities it needs. No thread exists yet: capabilities belong to a
  // thread, and the sampler's and civetweb's threads inherit the reduced sets.
  // CAP_SYS_ADMIN only when held: with it each namespace is read through a socket made
  // inside it (setns), without it through /proc/<pid>/net, and it is not missed.
  SnapshotOptions& snapshot = flags.sampler.snapshot;
  snapshot.netns_setns =
      snapshot.all_namespaces && HasEffectiveCapabilities(CapabilityBit(kCapSysAdmin));
  if (snapshot.all_namespaces && !snapshot.netns_setns) {
    Log(LogLevel::kInfo, "other network namespaces are read through /proc/<pid>/net",
        {{"reason", "no cap_sys_admin"}});
  }
  // CAP_BPF and CAP_PERFMON likewise: only when held and eBPF may be used.
  bool ebpf = (flags.events == EventsMode::kAuto || flags.events == EventsMode::kEbpf) &&
              HasEffectiveCapabilities(kEbpfCapabilities);
  CapabilitySet required = 0;
  for (const std::string& address : flags.server.listen_addresses) {
    required |= RequiredCapabilities(address, snapshot.netns_setns, ebpf);
  }
  DropUnneededCapabilities(required);
  RaiseOpenFileLimit();
  return RunUntilStopped(flags, stop_signals);
}

}  // namespace connwatch
