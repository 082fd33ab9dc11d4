#include "support/live_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace connwatch::testing {

void LoopbackListener::Open() {
  Close();
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd_, 0) << std::strerror(errno);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
      << std::strerror(errno);
  ASSERT_EQ(listen(fd_, 8), 0) << std::strerror(errno);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
  port_ = ntohs(address.sin_port);
  struct stat info {};
  ASSERT_EQ(fstat(fd_, &info), 0);
  inode_ = info.st_ino;
}

void LoopbackListener::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void WaitingChildren::Start(int count) {
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0) << std::strerror(errno);
  release_fd_ = pipe_fds[1];
  for (int i = 0; i < count; ++i) {
    pid_t child = fork();
    if (child == 0) {
      close(pipe_fds[1]);
      char byte;
      while (read(pipe_fds[0], &byte, 1) > 0) {
      }
      _exit(0);
    }
    if (child < 0) break;
    pids_.push_back(child);
  }
  close(pipe_fds[0]);
  ASSERT_EQ(pids_.size(), static_cast<size_t>(count)) << "fork: " << std::strerror(errno);
}

void WaitingChildren::Release() {
  if (release_fd_ >= 0) close(release_fd_);
  release_fd_ = -1;
  for (pid_t pid : pids_) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  pids_.clear();
}

std::string RunInChild(const std::function<std::string()>& body) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  pid_t child = fork();
  if (child < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return std::string("fork: ") + std::strerror(errno);
  }
  if (child == 0) {
    close(pipe_fds[0]);
    std::string result = body();
    // _exit: the child must not run the parent's gtest teardown or atexit handlers.
    ssize_t ignored = write(pipe_fds[1], result.data(), result.size());
    (void)ignored;
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string result;
  char buffer[512];
  while (true) {
    ssize_t n = read(pipe_fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.append(buffer, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "child failed (wait status " + std::to_string(status) + "): " + result;
  }
  return result;
}

}  // namespace connwatch::testing
