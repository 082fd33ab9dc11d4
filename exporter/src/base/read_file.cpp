#include "base/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace connwatch {

namespace {

// ReadFileCapped of an open `fd`, which it closes.
int ReadFdCapped(int fd, size_t max_bytes, std::string& out, bool* truncated) {
  out.clear();
  if (truncated != nullptr) *truncated = false;
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

// The FileLoad of reading `fd` (or of `open_error`, when it is -1).
FileLoad LoadFdCapped(int fd, int open_error, size_t max_bytes) {
  FileLoad load;
  bool truncated = false;
  int error = fd < 0 ? open_error : ReadFdCapped(fd, max_bytes + 1, load.text, &truncated);
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

}  // namespace

int ReadFileCapped(const std::string& path, size_t max_bytes, std::string& out, bool* truncated) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.clear();
    if (truncated != nullptr) *truncated = false;
    return errno;
  }
  return ReadFdCapped(fd, max_bytes, out, truncated);
}

FileLoad LoadFileCapped(const std::string& path, size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  return LoadFdCapped(fd, errno, max_bytes);
}

namespace {

// "" when `info` is of `kind`, owned by the euid and not group- or world-writable.
std::string Distrust(const struct stat& info, mode_t kind, const char* kind_name) {
  if ((info.st_mode & S_IFMT) != kind) return std::string("it is not a ") + kind_name;
  if (info.st_uid != geteuid()) {
    return "it is owned by uid " + std::to_string(info.st_uid) + ", not connwatch's " +
           std::to_string(geteuid());
  }
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) return "it is group- or world-writable";
  return "";
}

FileLoad Refused(const std::string& what, const std::string& why) {
  FileLoad load;
  load.status = FileLoad::Status::kRefused;
  load.refusal = what + " " + why;
  return load;
}

}  // namespace

FileLoad LoadStorageFile(const std::string& path, size_t max_bytes) {
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  FileLoad load;
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int fd = dir_fd < 0
               ? -1
               : openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  load.error = errno;
  struct stat dir_info, info;
  std::string why;
  if (dir_fd >= 0 && fstat(dir_fd, &dir_info) == 0) why = Distrust(dir_info, S_IFDIR, "directory");
  if (dir_fd >= 0) close(dir_fd);
  if (!why.empty()) {
    if (fd >= 0) close(fd);
    return Refused("the directory " + dir + ":", why);
  }
  if (dir_fd < 0 && (load.error == ELOOP || load.error == ENOTDIR)) {
    return Refused("the directory " + dir + ":", "it is a symbolic link or not a directory");
  }
  if (fd < 0) {
    // ELOOP: a symlink, refused rather than followed; ENOTDIR: the directory is one.
    if (load.error == ELOOP) return Refused("", "it is a symbolic link");
    return LoadFdCapped(-1, load.error, max_bytes);
  }
  if (fstat(fd, &info) != 0) {
    why = strerror(errno);
  } else {
    why = Distrust(info, S_IFREG, "regular file");
  }
  if (!why.empty()) {
    close(fd);
    return Refused("", why);
  }
  return LoadFdCapped(fd, 0, max_bytes);
}

std::string FileLoad::Problem(const std::string& subject, const std::string& path,
                              size_t max_bytes) const {
  std::string what = subject.empty() ? path : subject + " " + path;
  switch (status) {
    case Status::kOk:
      return "";
    case Status::kRefused:
      return "refusing " + what + ": " + (refusal.starts_with(" ") ? refusal.substr(1) : refusal);
    case Status::kTooLarge:
      return what + " is larger than the limit of " + std::to_string(max_bytes) + " bytes";
    case Status::kMissing:
    case Status::kUnreadable:
      break;
  }
  return "cannot read " + what + ": " + strerror(error);
}

}  // namespace connwatch
