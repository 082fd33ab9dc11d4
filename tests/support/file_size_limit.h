// A write that fails for real: this process's file size limit, with SIGXFSZ ignored, so
// that a write past it fails with EFBIG (as on a full disk, a part of it may be written
// first) instead of killing the process. Both are restored on destruction.
#pragma once

#include <signal.h>
#include <sys/resource.h>

namespace connwatch::testing {

class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    if (getrlimit(RLIMIT_FSIZE, &saved_) != 0 || saved_.rlim_max < bytes) return;
    saved_handler_ = signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    set_ = setrlimit(RLIMIT_FSIZE, &limit) == 0;
  }
  ~FileSizeLimit() {
    if (saved_handler_ == SIG_ERR) return;
    setrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, saved_handler_);
  }
  bool set() const { return set_; }

 private:
  rlimit saved_{};
  sighandler_t saved_handler_ = SIG_ERR;
  bool set_ = false;
};

}  // namespace connwatch::testing
