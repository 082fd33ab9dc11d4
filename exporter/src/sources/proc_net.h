// /proc/net/{tcp,tcp6,udp,udp6}: the fallback socket source. Format: proc(5) and the
// kernel's get_tcp4_sock()/udp4_format_sock(); addresses are hex in host byte order per
// 32-bit word.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model.h"

namespace connwatch {

struct ProcNetStats {
  uint64_t malformed_lines = 0;  // lines skipped because they did not parse
  uint64_t truncated_files = 0;  // files cut at kMaxProcNetFileBytes (sockets lost)
};

// Pure parser over the text of one file; appends to `out`. The header line is skipped;
// a malformed (e.g. truncated) line is skipped and counted, never fatal. A last line
// without its '\n' counts as truncated (seq_file always ends records with one).
void ParseProcNet(std::string_view text, Transport transport, Family family,
                  std::vector<Socket>& out, ProcNetStats& stats);

// Reads <procfs>/net/{tcp,tcp6,udp,udp6} (only udp and udp6 when `tcp` is false: another
// namespace with no TCP socket, whose tcp file would still cost a walk of the global hash).
// <procfs> may be /proc/<pid> for that process's namespace. A missing tcp6/udp6 (IPv6
// disabled) is not an error. Returns false with `error` set when tcp or udp cannot be read.
bool ReadProcNetSockets(const std::string& procfs, std::vector<Socket>& out, ProcNetStats& stats,
                        std::string& error, bool tcp = true);

}  // namespace connwatch
