// The eBPF event source: exporter/bpf/connwatch_events.bpf.c on the BTF tracepoint
// inet_sock_set_state, loaded through libbpf (a skeleton built by bpftool), reports every TCP
// connection of the host when it closes, however short it was, with the process that
// connect()ed, its cgroup and namespace, the outcome, the duration and the final byte
// counters. The program writes one record when a socket opens and one when it closes; Drain
// joins them by cookie (sources/open_sockets.h) and hands on one ConnectionEvent per close.
// A second program, on tcp_send_reset, writes a record for each SYN that found no socket (a
// connection attempt to a closed port), handed on as an InboundProbe.
// Needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) to load and the kernel's BTF; holds the
// 16 MiB ring in kernel memory and up to about 6 MB of open records here.
//
// The program asks the kernel for no wakeup per record (that tripled the cost of a
// connect/close loop): fd() becomes readable only once a quarter of the 16 MiB ring is
// waiting, so the reader polls it with a timeout and Drains on every return (drained every
// 100 ms, it lost nothing at 85k loopback connections per second, 170k records per second).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sources/connection_event.h"
#include "sources/open_sockets.h"

struct connwatch_events_bpf;  // the bpftool skeleton (connwatch_events.skel.h)
struct ring_buffer;           // libbpf

namespace connwatch {

// True when this binary was built with the eBPF source (CMake's CONNWATCH_BPF found clang,
// bpftool and libbpf); otherwise Open always fails and says so.
bool BpfEventsBuilt();

// Pure parsers of the ring buffer's three records (exporter/bpf/connwatch_events.h), told
// apart by size. False for a record of another size or with a value the program never writes.
// The open record (struct connwatch_open): its cookie and what it says.
bool ParseBpfOpenRecord(std::span<const uint8_t> record, uint64_t& cookie, OpenedSocket& opened);
// The close record (struct connwatch_close): everything but who opened the socket and when;
// the direction is inbound for a close from SYN_RECV (a handshake a listener never
// finished), else unknown until JoinOpenRecord.
bool ParseBpfCloseRecord(std::span<const uint8_t> record, ConnectionEvent& event);
// What the open record adds to its close. Nothing is sanitized: comm holds the raw bytes up
// to the first NUL.
void JoinOpenRecord(const OpenedSocket& opened, ConnectionEvent& event);
// The probe record (struct connwatch_probe): a SYN the kernel reset for want of a socket.
bool ParseBpfProbeRecord(std::span<const uint8_t> record, InboundProbe& probe);

class BpfEvents {
 public:
  // Loads and attaches the program; nullptr with `error` set to one line saying why (built
  // without eBPF, no kernel BTF, refused for lack of CAP_BPF/CAP_PERFMON, the verifier...).
  // Only this needs the capabilities: once it returns they can be dropped (the attachment
  // lives in a link fd, the ring and the lost counter are memory-mapped).
  static std::unique_ptr<BpfEvents> Open(std::string& error);
  ~BpfEvents();
  BpfEvents(const BpfEvents&) = delete;
  BpfEvents& operator=(const BpfEvents&) = delete;

  // The ring buffer's epoll fd (ring_buffer__epoll_fd), for the reader's poll.
  int fd() const;
  // Consumes every record ready now, appending closed connections to `out` and probes to
  // `probes` (skipped when it is null: a caller that counts connections only); returns how
  // many connections it appended. One thread at a time; no system call, so it works after
  // the capabilities are dropped.
  size_t Drain(std::vector<ConnectionEvent>& out, std::vector<InboundProbe>* probes = nullptr);
  // Records lost since Open: the program found the ring full, or no memory was left here to
  // hold them.
  uint64_t lost() const;
  // Records the parsers refused (never expected: the program and this parser are built
  // together).
  uint64_t malformed() const { return malformed_; }
  // Open records waiting for their close, and those forgotten for room (OpenSockets).
  const OpenSockets& open_sockets() const { return open_; }

 private:
  BpfEvents(connwatch_events_bpf* skeleton, ring_buffer* ring);
  static int OnRecord(void* context, void* data, size_t size);

  connwatch_events_bpf* skeleton_;
  ring_buffer* ring_;
  OpenSockets open_;
  std::vector<ConnectionEvent>* drain_into_ = nullptr;  // set for the duration of Drain
  std::vector<InboundProbe>* probes_into_ = nullptr;    // likewise; may stay null
  size_t drained_ = 0;
  uint64_t malformed_ = 0;
  uint64_t dropped_ = 0;  // records with no memory left to hold them (counted in lost())
};

}  // namespace connwatch
