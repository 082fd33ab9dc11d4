// The connection events between samples (--collect.events): one source, read on a thread
// of its own every 100 ms into a bounded queue that each sample takes.
//
// Sources, best first: eBPF (sources/bpf_events.h; every namespace, the process that
// connected, exact durations; CAP_BPF and CAP_PERFMON) and sock_diag destroy notifications
// (sources/sock_destroy.h; no privilege; one subscriber per network namespace, the other
// namespaces' made inside them by the namespace registry). Off: only the samples.
//
// Besides closed connections, the eBPF source reports inbound probes: SYNs that found no
// socket and were reset (TakeProbes). The sock_diag source has none: sock_diag has no
// notification for a segment that found no socket, as no socket was made or destroyed.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sources/connection_event.h"
#include "sources/netlink_socket.h"
#include "sources/sock_destroy.h"

namespace connwatch {

class BpfEvents;

enum class EventsMode : uint8_t { kAuto, kEbpf, kSockDiag, kOff };
bool ParseEventsMode(std::string_view text, EventsMode& mode);

enum class EventSource : uint8_t { kOff, kEbpf, kSockDiag };
// "off", "ebpf", "sock_diag": connwatch_events_source_info{source}.
const char* EventSourceName(EventSource source);

// Events waiting for the next sample, at most: 20,000 closed sockets a second for a 10 s
// interval. A connection between two sockets of this host closes two (20,000 loopback
// connections a second fill it: tests/e2e/test_events_load.py). Beyond it events are
// dropped and counted as lost.
inline constexpr size_t kMaxQueuedEvents = 400000;
// The queue is blocks of at most this many events, so that it never reallocates (a full
// queue is ~60 MB; doubling one vector held half that again while copying) and a sample
// handles one block at a time.
inline constexpr size_t kEventsPerBlock = 16384;
using EventBlocks = std::vector<std::vector<ConnectionEvent>>;
// Probes waiting for the next sample, at most: a port scan of the whole port range of one
// address, twice over (a few MB). Beyond it probes are dropped and counted as lost.
inline constexpr size_t kMaxQueuedProbes = 65536;

class ConnectionEvents {
 public:
  // Opens the source `mode` asks for (auto: eBPF, else sock_diag) and starts its thread.
  // Logs one line naming the source and, when it is not the one asked for, why. `procfs`
  // is where the own namespace and the subscriber's drop counter are read.
  ConnectionEvents(EventsMode mode, std::string procfs);
  ~ConnectionEvents();
  ConnectionEvents(const ConnectionEvents&) = delete;
  ConnectionEvents& operator=(const ConnectionEvents&) = delete;

  EventSource source() const { return source_; }
  // Moves every event queued since the last call to the end of `out`: as blocks of at most
  // kEventsPerBlock, or as one vector.
  void TakeBlocks(EventBlocks& out);
  void Take(std::vector<ConnectionEvent>& out);
  // Moves every inbound probe queued since the last call to the end of `out` (eBPF only;
  // with any other source `out` is left as it is).
  void TakeProbes(std::vector<InboundProbe>& out);
  // Events lost since start: records the eBPF program could not deliver (closes and probes
  // alike), notifications the kernel dropped for a full receive buffer, and the overflow of
  // either queue.
  uint64_t lost() const;

  // sock_diag only (otherwise no-ops): subscribes to the destroy notifications of the
  // calling thread's namespace, `netns_inode` (the namespace registry calls it from inside
  // each namespace it opens), and ends that subscription when the namespace is released.
  void SubscribeHere(uint64_t netns_inode);
  void Unsubscribe(uint64_t netns_inode);

 private:
  struct Subscriber {
    MnlSocketPtr socket;
    uint32_t port_id = 0;
  };
  void Run();
  void ReadSubscribers(std::vector<ConnectionEvent>& batch);
  void Enqueue(std::vector<ConnectionEvent>& batch, std::vector<InboundProbe>& probes);
  uint64_t OwnSubscriberDrops() const;

  const std::string procfs_;
  EventSource source_ = EventSource::kOff;
  std::unique_ptr<BpfEvents> bpf_;
  uint64_t own_inode_ = 0;

  std::mutex subscribers_mutex_;
  std::map<uint64_t, Subscriber> subscribers_;  // by namespace inode
  DestroyStats destroy_stats_;                  // under subscribers_mutex_

  mutable std::mutex queue_mutex_;
  EventBlocks queue_;
  size_t queued_ = 0;                 // events in queue_, under queue_mutex_
  std::vector<InboundProbe> probes_;  // under queue_mutex_, at most kMaxQueuedProbes
  uint64_t overflowed_ = 0;           // under queue_mutex_

  int stop_fd_ = -1;  // an eventfd: wakes the thread to end
  std::thread thread_;
};

}  // namespace connwatch
