// The one place that reads files under /proc (and /sys). Every reader goes through it so
// that the size cap and the error reporting are the same everywhere.
#pragma once

#include <cstddef>
#include <string>

namespace connwatch {

// /proc/net/tcp at 100k sockets is ~15 MiB; 64 MiB leaves headroom for 400k sockets
// while a runaway or hostile file cannot exhaust memory.
inline constexpr size_t kMaxProcNetFileBytes = 64u << 20;
// stat, status, comm, cmdline, sysctl files: a page or two; cmdline is capped by the caller.
inline constexpr size_t kMaxSmallProcFileBytes = 64u << 10;

// Reads the whole file (procfs files report size 0, so it reads until EOF) into `out`,
// stopping at `max_bytes` (the result is then truncated and `truncated` set).
// Returns 0 or the errno of the failing open/read (ENOENT for a vanished process).
int ReadProcFile(const std::string& path, size_t max_bytes, std::string& out,
                 bool* truncated = nullptr);

}  // namespace connwatch
