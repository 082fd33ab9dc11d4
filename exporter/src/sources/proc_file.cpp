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
  // Read into a stack buffer and append: growing `out` by a large chunk per read would
  // zero-fill that chunk, which for the thousands of small stat/status files of one sample
  // costs more than the reads themselves.
  char buffer[16384];
  int error = 0;
  while (out.size() < max_bytes) {
    size_t want = std::min(sizeof(buffer), max_bytes - out.size());
    ssize_t n = read(fd, buffer, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
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
