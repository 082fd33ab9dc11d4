// bpf_events_bench: what the eBPF event source costs a connection-heavy host, and whether it
// keeps up. A connect/accept/close loop on 127.0.0.1 runs for -d seconds with no event source,
// then as long with BpfEvents open and drained every 100 ms by a second thread, -r times in
// turn; it prints connections per second of each run, their ratio, how many of the loop's
// records were delivered (two per connection: both ends close), how long after the loop the
// last one came (it waits up to 5 s for them) and lost(). With -s the loop also connects to
// a closed port once per 64 connections (a scan's SYN, reset with no socket: the
// tcp_send_reset program's probe record), and it prints how many of those probes came.
//
// Usage: bpf_events_bench [-d SECONDS] [-r ROUNDS] [-s]   (defaults 3 and 2; at most 30, 10)
// Loopback only, one listener on a kernel-chosen port, bounded by -d and -r. The server end
// closes first, so TIME_WAIT sockets sit on the listener's side and never hold client ports.
// Needs root (CAP_BPF and CAP_PERFMON) for the second half of each round. Not a test: numbers
// depend on the machine and on what else runs on it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "sources/bpf_events.h"

namespace {

struct Run {
  double connections_per_second = 0;
  uint64_t connections = 0;
  uint64_t records = 0;  // the loop's records drained (both ends)
  uint64_t refused = 0;  // connects to the closed port (-s)
  uint64_t probes = 0;   // their probe records drained
  uint64_t lost = 0;
  double tail_seconds = 0;  // from the loop's end to the last record (or giving up)
};

int LoopbackListener(sockaddr_in& address) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(fd, 128) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length)) {
    std::perror("listener");
    std::exit(1);
  }
  return fd;
}

// A loopback port nobody listens on: bound by the kernel's choice, then closed.
sockaddr_in ClosedPort() {
  sockaddr_in address;
  close(LoopbackListener(address));
  return address;
}

uint64_t ConnectLoop(int listener, const sockaddr_in& address, double seconds,
                     const sockaddr_in* closed, uint64_t& refused) {
  uint64_t connections = 0;
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (closed != nullptr) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (connect(fd, reinterpret_cast<const sockaddr*>(closed), sizeof(*closed)) != 0) ++refused;
      close(fd);
    }
    for (int i = 0; i < 64; ++i) {
      int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (connect(client, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        std::perror("connect");
        std::exit(1);
      }
      int server = accept(listener, nullptr, nullptr);
      close(server);
      close(client);
      ++connections;
    }
  }
  return connections;
}

Run Measure(double seconds, bool with_events, bool scan) {
  sockaddr_in address;
  int listener = LoopbackListener(address);
  const uint16_t port = ntohs(address.sin_port);
  const sockaddr_in closed = ClosedPort();
  const uint16_t closed_port = ntohs(closed.sin_port);
  std::unique_ptr<connwatch::BpfEvents> events;
  if (with_events) {
    std::string error;
    events = connwatch::BpfEvents::Open(error);
    if (!events) {
      std::fprintf(stderr, "BpfEvents::Open: %s\n", error.c_str());
      std::exit(1);
    }
  }
  Run run;
  std::atomic<bool> stop{false};
  auto count = [&](std::vector<connwatch::ConnectionEvent>& drained,
                   std::vector<connwatch::InboundProbe>& probes) {
    for (const auto& e : drained) run.records += (e.local_port == port || e.remote_port == port);
    for (const auto& p : probes) run.probes += p.local_port == closed_port;
    drained.clear();
    probes.clear();
  };
  std::thread drainer([&] {
    std::vector<connwatch::ConnectionEvent> drained;
    std::vector<connwatch::InboundProbe> probes;
    while (events && !stop.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      events->Drain(drained, &probes);
      count(drained, probes);
    }
  });
  auto start = std::chrono::steady_clock::now();
  run.connections = ConnectLoop(listener, address, seconds, scan ? &closed : nullptr, run.refused);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stop = true;
  drainer.join();
  if (events) {
    // The last closes can trail the loop (softirq lags under load; a lost segment waits for
    // a retransmission): up to 5 s more, saying how long the last record took.
    std::vector<connwatch::ConnectionEvent> drained;
    std::vector<connwatch::InboundProbe> probes;
    auto loop_end = std::chrono::steady_clock::now();
    while ((run.records < 2 * run.connections || run.probes < run.refused) &&
           std::chrono::steady_clock::now() - loop_end < std::chrono::seconds(5)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      events->Drain(drained, &probes);
      count(drained, probes);
    }
    run.tail_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - loop_end).count();
    run.lost = events->lost();
  }
  close(listener);
  run.connections_per_second = run.connections / elapsed;
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  int rounds = 2;
  bool scan = false;
  for (int opt; (opt = getopt(argc, argv, "d:r:s")) != -1;) {
    if (opt == 'd')
      seconds = std::atof(optarg);
    else if (opt == 'r')
      rounds = std::atoi(optarg);
    else if (opt == 's')
      scan = true;
    else
      return 2;
  }
  if (seconds <= 0 || seconds > 30 || rounds < 1 || rounds > 10) {
    std::fprintf(stderr, "usage: bpf_events_bench [-d SECONDS<=30] [-r ROUNDS<=10] [-s]\n");
    return 2;
  }
  double off_sum = 0, on_sum = 0;
  for (int round = 1; round <= rounds; ++round) {
    Run off = Measure(seconds, false, scan);
    Run on = Measure(seconds, true, scan);
    off_sum += off.connections_per_second;
    on_sum += on.connections_per_second;
    std::printf(
        "round %d: without %.0f conn/s, with %.0f conn/s (ratio %.3f); records %llu of %llu "
        "expected (the last %.1f s after the loop), lost %llu\n",
        round, off.connections_per_second, on.connections_per_second,
        on.connections_per_second / off.connections_per_second,
        static_cast<unsigned long long>(on.records),
        static_cast<unsigned long long>(2 * on.connections), on.tail_seconds,
        static_cast<unsigned long long>(on.lost));
    if (scan) {
      std::printf("  probes %llu of %llu refused connects\n",
                  static_cast<unsigned long long>(on.probes),
                  static_cast<unsigned long long>(on.refused));
    }
  }
  std::printf("mean ratio with/without: %.3f\n", on_sum / off_sum);
  return 0;
}
