// The ring buffer's three parsers never crash on any record, each refuses every size but
// its own, and the join never makes a comm longer than the kernel's.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "connwatch_events.h"
#include "sources/bpf_events.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> record(data, size);
  uint64_t cookie = 0;
  connwatch::OpenedSocket opened;
  bool open = connwatch::ParseBpfOpenRecord(record, cookie, opened);
  if (open && size != sizeof(connwatch_open)) std::abort();
  connwatch::ConnectionEvent event;
  bool close = connwatch::ParseBpfCloseRecord(record, event);
  if (close && size != sizeof(connwatch_close)) std::abort();
  if (open) {
    connwatch::JoinOpenRecord(opened, event);
    if (event.comm.size() > CONNWATCH_COMM_LEN) std::abort();
  }
  connwatch::InboundProbe probe;
  bool probed = connwatch::ParseBpfProbeRecord(record, probe);
  if (probed && size != sizeof(connwatch_probe)) std::abort();
  if (probed && probe.local.family != probe.family) std::abort();
  return 0;
}
