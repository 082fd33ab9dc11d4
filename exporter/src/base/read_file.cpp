#include "base/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace connwatch {

int ReadFileCapped(const std::string& path, size_t max_bytes, std::string& out, bool* truncated) {
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

FileLoad LoadFileCapped(const std::string& path, size_t max_bytes) {
  FileLoad load;
  bool truncated = false;
  int error = ReadFileCapped(path, max_bytes + 1, load.text, &truncated);
  if (error == ENOENT) {
    load.status = FileLoad::Status::kMissing;
    load.error = error;
  } else if (error != 0) {
    load.status = FileLoad::Status::kUnreadable;
    load.error = error;
  } else if (truncated || load.text.size() > max_bytes) {
    load.status = FileLoad::Status::kTooLarge;
  }
  if (!load.ok()) load.text.clear();
  return load;
}

std::string FileLoad::Problem(const std::string& subject, const std::string& path,
                              size_t max_bytes) const {
  std::string what = subject.empty() ? path : subject + " " + path;
  switch (status) {
    case Status::kOk:
      return "";
    case Status::kTooLarge:
      return what + " is larger than the limit of " + std::to_string(max_bytes) + " bytes";
    case Status::kMissing:
    case Status::kUnreadable:
      break;
  }
  return "cannot read " + what + ": " + strerror(error);
}

}  // namespace connwatch
