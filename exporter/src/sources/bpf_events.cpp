#include "sources/bpf_events.h"

namespace connwatch {

bool BpfEventsBuilt() { return false; }
std::unique_ptr<BpfEvents> BpfEvents::Open(std::string& error) {
  error = "built without eBPF";
  return nullptr;
}
BpfEvents::~BpfEvents() = default;
int BpfEvents::fd() const { return -1; }
size_t BpfEvents::Drain(std::vector<ConnectionEvent>&) { return 0; }
uint64_t BpfEvents::lost() const { return 0; }

}  // namespace connwatch
