// The eBPF source's open records waiting for their close record, by socket cookie: the
// program writes what it knows when a socket opens (who connect()ed, when) and the close
// record carries only what the socket holds then, so the reader joins the two here
// (sources/bpf_events.h). Bounded: a host can keep any number of connections open for days,
// so when `capacity` entries are held the older half is forgotten (counted); their closes
// are then reported as the program reports a socket that opened before it was loaded
// (direction unknown, no start, no process). Not thread-safe: the reader's thread only.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "sources/connection_event.h"

namespace connwatch {

// One open record: what is known of a socket from its open to its close.
struct OpenedSocket {
  uint64_t start_boot_ns = 0;  // CLOCK_BOOTTIME at connect() or ESTABLISHED
  uint64_t cgroup_id = 0;      // 0 for inbound
  pid_t pid = 0;               // the tgid that connect()ed; 0 for inbound
  EventDirection direction = EventDirection::kUnknown;
  char comm[16] = {};  // NUL-padded; may use all 16 bytes
};

class OpenSockets {
 public:
  // 65,536 entries are about 6 MB: the bound the kernel-side table had before the join moved
  // here.
  static constexpr size_t kDefaultCapacity = 65536;
  explicit OpenSockets(size_t capacity = kDefaultCapacity);

  // Keeps what opened `cookie`. An inbound open never replaces an entry: a simultaneous open
  // (SYN_SENT -> SYN_RECV -> ESTABLISHED) keeps its connect.
  void Remember(uint64_t cookie, const OpenedSocket& opened);
  // Moves out what opened `cookie` and forgets it; false when nothing is held for it.
  bool Take(uint64_t cookie, OpenedSocket& opened);

  bool Holds(uint64_t cookie) const { return open_.contains(cookie); }
  size_t size() const { return open_.size(); }
  // Entries dropped for room since construction (their sockets' closes lose attribution).
  uint64_t forgotten() const { return forgotten_; }

 private:
  struct Entry {
    OpenedSocket opened;
    uint64_t sequence;  // order of Remember: the oldest are forgotten first
  };
  void ForgetOlderHalf();

  size_t capacity_;
  uint64_t next_sequence_ = 0;
  uint64_t forgotten_ = 0;
  std::unordered_map<uint64_t, Entry> open_;
  std::vector<uint64_t> sequences_;  // scratch of ForgetOlderHalf, kept to avoid reallocating
};

}  // namespace connwatch
