// Real processes and sockets for the tests that talk to the live kernel: a loopback
// listener, children that hold every inherited fd until released, and a function run in a
// forked child. Each cleans up after itself.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace connwatch::testing {

// An IPv4 TCP listener on 127.0.0.1 with a kernel-chosen port; closed on destruction.
class LoopbackListener {
 public:
  LoopbackListener() = default;
  ~LoopbackListener() { Close(); }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  // Opens it; gtest failures (call inside ASSERT_NO_FATAL_FAILURE).
  void Open();
  void Close();

  int fd() const { return fd_; }
  uint16_t port() const { return port_; }
  uint64_t inode() const { return inode_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  uint64_t inode_ = 0;
};

// Forked children that inherit every fd of the test (CLOEXEC only matters on exec) and
// hold them, blocked on a pipe, until Release() or destruction; then they exit and are
// reaped. Only read() and _exit() run in a child: async-signal-safe, as a child of a
// threaded parent needs.
class WaitingChildren {
 public:
  WaitingChildren() = default;
  ~WaitingChildren() { Release(); }
  WaitingChildren(const WaitingChildren&) = delete;
  WaitingChildren& operator=(const WaitingChildren&) = delete;

  // Forks `count` children; gtest failures (call inside ASSERT_NO_FATAL_FAILURE).
  void Start(int count);
  // Lets them exit and waits for them.
  void Release();

  const std::vector<pid_t>& pids() const { return pids_; }

 private:
  int release_fd_ = -1;  // the pipe's write end: closing it ends the children's read()
  std::vector<pid_t> pids_;
};

// Runs `body` in a forked child and returns what it returned ("" for success), or a
// description of how the child failed. For what must not touch the test process itself
// (dropping capabilities or privileges cannot be undone). `body` must not use gtest
// assertions (they would not reach the parent).
std::string RunInChild(const std::function<std::string()>& body);

}  // namespace connwatch::testing
