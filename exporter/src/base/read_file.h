// The one place that reads files: /proc and /sys for the sources, and connwatch's own files
// (the policy, the baseline, the connection state, the web config) for the loaders. Every
// read is capped, so no file, hostile or runaway, can exhaust memory.
#pragma once

#include <cstddef>
#include <string>

namespace connwatch {

// /proc/net/tcp at 100k sockets is ~15 MiB; 64 MiB leaves headroom for 400k sockets.
inline constexpr size_t kMaxProcNetFileBytes = 64u << 20;
// stat, status, comm, cmdline, sysctl files: a page or two; cmdline is capped by the caller.
inline constexpr size_t kMaxSmallProcFileBytes = 64u << 10;

// Reads the whole file (procfs files report size 0, so it reads until EOF) into `out`,
// stopping at `max_bytes` (the result is then truncated and `truncated` set).
// Returns 0 or the errno of the failing open/read (ENOENT for a vanished process).
int ReadFileCapped(const std::string& path, size_t max_bytes, std::string& out,
                   bool* truncated = nullptr);

// A whole file of connwatch's own, or why not.
struct FileLoad {
  enum class Status { kOk, kMissing, kTooLarge, kUnreadable, kRefused };
  Status status = Status::kOk;
  int error = 0;        // the errno, for kUnreadable
  std::string refusal;  // why, for kRefused
  std::string text;

  bool ok() const { return status == Status::kOk; }
  // "cannot read SUBJECT PATH: reason" or "SUBJECT PATH is larger than the limit of N bytes"
  // (also for kMissing, as "cannot read ...: No such file or directory").
  std::string Problem(const std::string& subject, const std::string& path, size_t max_bytes) const;
};

// Reads `path` whole when it holds at most `max_bytes`; a larger file is refused unread
// beyond the cap (one byte more is read to tell "too big" from "exactly at the cap").
FileLoad LoadFileCapped(const std::string& path, size_t max_bytes);

// A file of connwatch's storage directory (the baseline, the connection state), which
// whoever can write there could plant: as LoadFileCapped, but the directory is opened with
// O_NOFOLLOW and the file relative to it with O_NOFOLLOW|O_NONBLOCK (a FIFO cannot hang
// start-up), and both are refused (kRefused, with the reason) unless they are a directory
// and a regular file owned by connwatch's euid and writable by nobody else.
FileLoad LoadStorageFile(const std::string& path, size_t max_bytes);

}  // namespace connwatch
