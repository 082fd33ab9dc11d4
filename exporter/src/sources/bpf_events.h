// PLACEHOLDER until h-bpf lands: the eBPF event source.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sources/connection_event.h"

namespace connwatch {

bool BpfEventsBuilt();

class BpfEvents {
 public:
  static std::unique_ptr<BpfEvents> Open(std::string& error);
  ~BpfEvents();
  int fd() const;
  size_t Drain(std::vector<ConnectionEvent>& out);
  uint64_t lost() const;
};

}  // namespace connwatch
