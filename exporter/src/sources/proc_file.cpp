#include "sources/proc_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace connwatch {

int ReadProcFile(const std::string& path, size_t max_bytes, std::string& out, bool* truncated) {
  out.clear();
  if (truncated != nullptr) *truncated = false;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  // seq_file hands out at most a page or so per read(2); read in large chunks anyway so
  // regular files (tests' fake /proc) take few calls.
  constexpr size_t kChunk = 64u << 10;
  int error = 0;
  while (out.size() < max_bytes) {
    size_t want = std::min(kChunk, max_bytes - out.size());
    size_t old_size = out.size();
    out.resize(old_size + want);
    ssize_t n = read(fd, out.data() + old_size, want);
    if (n < 0) {
      out.resize(old_size);
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    out.resize(old_size + static_cast<size_t>(n));
    if (n == 0) break;
  }
  if (error == 0 && out.size() >= max_bytes && truncated != nullptr) {
    char probe;
    ssize_t n = read(fd, &probe, 1);
    *truncated = n > 0;
  }
  close(fd);
  return error;
}

}  // namespace connwatch
