#include "support/captured_output.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace connwatch::testing {
namespace {

// Redirects one standard fd to a fresh temporary file until Finish().
class Redirect {
 public:
  explicit Redirect(int fd) : fd_(fd) {}
  ~Redirect() { Restore(); }

  bool Start() {
    file_ = tmpfile();
    saved_ = dup(fd_);
    return file_ != nullptr && saved_ >= 0 && dup2(fileno(file_), fd_) >= 0;
  }
  // Puts the fd back and returns what was written to it.
  std::string Finish() {
    Restore();
    std::string text;
    if (file_ == nullptr) return text;
    rewind(file_);
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof(buffer), file_)) > 0;) text.append(buffer, n);
    fclose(file_);
    file_ = nullptr;
    return text;
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    dup2(saved_, fd_);
    close(saved_);
    saved_ = -1;
  }

  int fd_;
  int saved_ = -1;
  FILE* file_ = nullptr;
};

}  // namespace

void RunCaptured(const std::function<int()>& body, CapturedRun& run) {
  fflush(stdout);
  fflush(stderr);
  Redirect out(STDOUT_FILENO), err(STDERR_FILENO);
  bool started = out.Start() && err.Start();
  if (started) run.exit_code = body();
  fflush(stdout);
  fflush(stderr);
  run.out = out.Finish();
  run.err = err.Finish();
  ASSERT_TRUE(started) << "cannot redirect stdout/stderr: " << std::strerror(errno);
}

}  // namespace connwatch::testing
