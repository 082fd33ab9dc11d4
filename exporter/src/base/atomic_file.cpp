#include "base/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace connwatch {
namespace {

std::string Failure(const std::string& subject, const std::string& path, const std::string& what,
                    int error) {
  return "cannot save " + subject + " " + path + ": " + what + ": " + strerror(error);
}

// mkdir -p of the directories above `path`, new ones 0700 (what connwatch saves says what this
// host runs and talks to: nobody else's business).
bool MakeParents(const std::string& subject, const std::string& path, std::string& error) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return true;
  std::string dir = path.substr(0, slash);
  for (size_t end = dir.find('/', 1);; end = dir.find('/', end + 1)) {
    std::string prefix = dir.substr(0, end);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      error = Failure(subject, path, "creating directory " + prefix, errno);
      return false;
    }
    if (end == std::string::npos) break;
  }
  struct stat info;
  if (stat(dir.c_str(), &info) != 0) {
    error = Failure(subject, path, "directory " + dir, errno);
    return false;
  }
  if (!S_ISDIR(info.st_mode)) {
    error = Failure(subject, path, "directory " + dir, ENOTDIR);
    return false;
  }
  return true;
}

bool WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The new file is made durable before it replaces the old one, and the rename is made
// durable by syncing the directory: after a crash the path holds the old file or the new
// one, never a torn file. On any failure (ENOSPC on a full disk included) the temp file is
// removed.
// The temp file in `dir_fd`, written, synced and renamed over `name`.
bool WriteIn(int dir_fd, const std::string& subject, const std::string& path,
             const std::string& temp, const std::string& temp_name, const std::string& name,
             std::string_view text, std::string& error) {
  // Whatever is at the temp name (left by a crash under the same pid, which in a container is
  // always 1, or planted there) is removed, not reused: opened in place it would keep its own
  // mode and owner, and a hard link there would have the text written into the file it names.
  // O_EXCL then makes the file a new one of ours and refuses whatever is planted in between,
  // a symlink included (as O_NOFOLLOW does too).
  if (unlinkat(dir_fd, temp_name.c_str(), 0) != 0 && errno != ENOENT) {
    error = Failure(subject, path, "removing " + temp, errno);
    return false;
  }
  int fd =
      openat(dir_fd, temp_name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    error = Failure(subject, path, "creating " + temp, errno);
    return false;
  }
  const char* step = nullptr;
  if (!WriteAll(fd, text)) {
    step = "writing ";
  } else if (fsync(fd) != 0) {
    step = "syncing ";
  }
  int saved = errno;
  if (close(fd) != 0 && step == nullptr) {
    step = "closing ";
    saved = errno;
  }
  if (step == nullptr && renameat(dir_fd, temp_name.c_str(), dir_fd, name.c_str()) != 0) {
    step = "renaming ";
    saved = errno;
  }
  if (step != nullptr) {
    unlinkat(dir_fd, temp_name.c_str(), 0);
    error = Failure(subject, path, step + temp, saved);
    return false;
  }
  return true;
}

}  // namespace

bool WriteFileAtomically(const std::string& subject, const std::string& path, std::string_view text,
                         std::string& error) {
  if (!MakeParents(subject, path, error)) return false;
  std::string temp = path + ".tmp." + std::to_string(getpid());
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string temp_name = name + ".tmp." + std::to_string(getpid());
  // Everything below is relative to the directory, opened once and never through a symlink
  // (a symlinked storage path would have the files written wherever it points).
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd < 0) {
    error = Failure(subject, path, "opening directory " + dir, errno);
    return false;
  }
  bool ok = WriteIn(dir_fd, subject, path, temp, temp_name, name, text, error);
  if (ok && fsync(dir_fd) != 0) {
    // The new file is in place; only its surviving a crash is in doubt.
    error = Failure(subject, path, "renamed into place, but syncing directory " + dir, errno);
    ok = false;
  }
  close(dir_fd);
  return ok;
}

}  // namespace connwatch
