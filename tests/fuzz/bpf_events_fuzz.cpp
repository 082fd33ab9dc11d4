// ParseBpfRecord never crashes on any ring-buffer record, and refuses every size but one.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "connwatch_events.h"
#include "sources/bpf_events.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  connwatch::ConnectionEvent event;
  bool parsed = connwatch::ParseBpfRecord(std::span<const uint8_t>(data, size), event);
  if (parsed && size != sizeof(connwatch_event)) std::abort();
  if (parsed && event.comm.size() > CONNWATCH_COMM_LEN) std::abort();
  return 0;
}
