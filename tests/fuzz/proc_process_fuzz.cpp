// The /proc/<pid>/{stat,status,cmdline} and /proc/stat parsers never crash; ParseCmdline
// stays within its byte limit (plus an ellipsis) and returns valid UTF-8.
#include <cstdint>
#include <string_view>

#include "sources/proc_process.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace connwatch;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ParseProcStat(text);
  (void)ParseStatusRealUid(text);
  (void)ParseBootTime(text);
  (void)ParseCmdline(text, 64);
  (void)ParseCmdline(text, 4096);
  return 0;
}
