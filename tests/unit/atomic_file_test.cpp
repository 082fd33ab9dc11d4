// WriteFileAtomically on a real file system: what it writes and replaces, the modes of what
// it creates, and its failures (each provoked for real), which name subject, path and step
// and leave no temp file behind.
#include "base/atomic_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/file_size_limit.h"

namespace connwatch {
namespace {

using testing::FileSizeLimit;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // No umask: the modes seen are the ones the code asks for.
    saved_umask_ = umask(0);
    char pattern[] = "/tmp/connwatch-atomic-file-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    umask(saved_umask_);
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }
  static mode_t Mode(const std::string& path) {
    struct stat info {};
    if (lstat(path.c_str(), &info) != 0) return static_cast<mode_t>(-1);
    return info.st_mode & 07777;
  }
  // Every entry under `dir`, recursively, relative to it and sorted.
  static std::vector<std::string> Tree(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
      names.push_back(std::filesystem::relative(entry.path(), dir).string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  static std::string Temp(const std::string& path) {
    return path + ".tmp." + std::to_string(getpid());
  }

  mode_t saved_umask_ = 0;
  std::string dir_;
};

TEST_F(AtomicFileTest, WritesANewFileWithExactlyTheText) {
  std::string path = dir_ + "/state";
  std::string text("line one\nbinary \0\xff bytes\n", 25);
  std::string error = "stale";
  ASSERT_TRUE(WriteFileAtomically("the state", path, text, error)) << error;
  EXPECT_EQ(Read(path), text);
  EXPECT_EQ(Tree(dir_), std::vector<std::string>{"state"});
}

TEST_F(AtomicFileTest, AnEmptyTextMakesAnEmptyFile) {
  std::string path = dir_ + "/empty";
  std::string error;
  ASSERT_TRUE(WriteFileAtomically("the state", path, "", error)) << error;
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_TRUE(S_ISREG(info.st_mode));
  EXPECT_EQ(info.st_size, 0);
}

TEST_F(AtomicFileTest, ReplacesTheOldFileInsteadOfRewritingIt) {
  std::string path = dir_ + "/state";
  Write(path, "the old and much longer contents\n");
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  // A reader that has the old file open keeps seeing it whole: it was replaced by a rename,
  // not truncated and rewritten in place.
  int old_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(old_fd, 0);
  std::string error;
  bool written = WriteFileAtomically("the state", path, "new\n", error);
  char buffer[128];
  ssize_t n = pread(old_fd, buffer, sizeof(buffer), 0);
  close(old_fd);
  ASSERT_TRUE(written) << error;
  EXPECT_EQ(Read(path), "new\n") << "no bytes of the longer old file are left";
  ASSERT_GE(n, 0);
  EXPECT_EQ(std::string(buffer, static_cast<size_t>(n)), "the old and much longer contents\n");
  EXPECT_EQ(Mode(path), 0600u) << "the new file's mode, not the old one's";
  EXPECT_EQ(Tree(dir_), std::vector<std::string>{"state"});
}

TEST_F(AtomicFileTest, TheFileIsPrivate) {
  std::string path = dir_ + "/state";
  std::string error;
  ASSERT_TRUE(WriteFileAtomically("the state", path, "x", error)) << error;
  EXPECT_EQ(Mode(path), 0600u);
}

TEST_F(AtomicFileTest, CreatesMissingParentsAsPrivateDirectories) {
  ASSERT_EQ(mkdir((dir_ + "/existing").c_str(), 0755), 0);
  std::string path = dir_ + "/existing/new/newer/state";
  std::string error;
  ASSERT_TRUE(WriteFileAtomically("the state", path, "deep\n", error)) << error;
  EXPECT_EQ(Read(path), "deep\n");
  EXPECT_EQ(Mode(dir_ + "/existing/new"), 0700u);
  EXPECT_EQ(Mode(dir_ + "/existing/new/newer"), 0700u);
  EXPECT_EQ(Mode(dir_ + "/existing"), 0755u) << "a directory that was there is left alone";
  EXPECT_EQ(Tree(dir_), (std::vector<std::string>{"existing", "existing/new", "existing/new/newer",
                                                  "existing/new/newer/state"}));
}

TEST_F(AtomicFileTest, ARelativePathIsWrittenUnderTheWorkingDirectory) {
  char saved[4096];
  ASSERT_NE(getcwd(saved, sizeof(saved)), nullptr);
  ASSERT_EQ(chdir(dir_.c_str()), 0);
  std::string error_flat, error_nested;
  bool flat = WriteFileAtomically("the state", "flat", "f\n", error_flat);
  bool nested = WriteFileAtomically("the state", "a/b/nested", "n\n", error_nested);
  ASSERT_EQ(chdir(saved), 0);
  EXPECT_TRUE(flat) << error_flat;
  EXPECT_TRUE(nested) << error_nested;
  EXPECT_EQ(Read(dir_ + "/flat"), "f\n");
  EXPECT_EQ(Read(dir_ + "/a/b/nested"), "n\n");
  EXPECT_EQ(Mode(dir_ + "/a"), 0700u);
  EXPECT_EQ(Tree(dir_), (std::vector<std::string>{"a", "a/b", "a/b/nested", "flat"}));
}

// A failure provoked for real: `provoke` shapes the test directory, `step` is the expected
// step with DIR and TEMP standing for that directory and the temp file, `left` is what must
// be in the directory afterwards; `over_size_limit` saves under a 4 KiB RLIMIT_FSIZE.
struct FailureCase {
  const char* name;
  const char* relative_path;
  std::function<bool(const std::string& dir)> provoke;
  const char* step;
  int error;
  std::vector<std::string> left;
  bool over_size_limit = false;
};

std::string Substitute(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

TEST_F(AtomicFileTest, FailuresNameSubjectPathAndStepAndLeaveNoTempFile) {
  auto regular_file = [](const std::string& path) {
    std::ofstream(path, std::ios::binary) << "i am a file\n";
    return true;
  };
  const std::vector<FailureCase> cases = {
      {"parent is a regular file",
       "file/state",
       [&](const std::string& dir) { return regular_file(dir + "/file"); },
       "directory DIR/file",
       ENOTDIR,
       {"file"}},
      {"an ancestor is a regular file",
       "file/sub/state",
       [&](const std::string& dir) { return regular_file(dir + "/file"); },
       "creating directory DIR/file/sub",
       ENOTDIR,
       {"file"}},
      {"a directory is where the file goes",
       "state",
       [](const std::string& dir) { return mkdir((dir + "/state").c_str(), 0700) == 0; },
       "renaming TEMP",
       EISDIR,
       {"state"}},
      {"the file size limit is hit while writing",
       "state",
       [](const std::string&) { return true; },
       "writing TEMP",
       EFBIG,
       {},
       true},
  };
  for (const FailureCase& test : cases) {
    SCOPED_TRACE(test.name);
    std::filesystem::remove_all(dir_);
    ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
    ASSERT_TRUE(test.provoke(dir_));
    std::string path = dir_ + "/" + test.relative_path;
    std::string text(test.over_size_limit ? 100000 : 10, 'x');
    std::string error;
    std::optional<FileSizeLimit> limit;
    if (test.over_size_limit) {
      limit.emplace(4096);
      ASSERT_TRUE(limit->set());
    }
    bool written = WriteFileAtomically("the test state", path, text, error);
    limit.reset();
    EXPECT_FALSE(written);
    std::string step = Substitute(Substitute(test.step, "TEMP", Temp(path)), "DIR", dir_);
    EXPECT_EQ(error, "cannot save the test state " + path + ": " + step + ": " +
                         std::strerror(test.error));
    EXPECT_EQ(Tree(dir_), test.left) << "no temp file is left behind";
  }
}

TEST_F(AtomicFileTest, AFailedSaveLeavesTheOldFileAsItWas) {
  std::string path = dir_ + "/state";
  Write(path, "old\n");
  std::string error;
  bool written;
  {
    FileSizeLimit limit(4096);
    ASSERT_TRUE(limit.set());
    written = WriteFileAtomically("the state", path, std::string(100000, 'n'), error);
  }
  EXPECT_FALSE(written);
  EXPECT_NE(error, "");
  EXPECT_EQ(Read(path), "old\n");
  EXPECT_EQ(Tree(dir_), std::vector<std::string>{"state"});
}

// What someone (or an earlier crash under the same pid) left at the temp name is replaced
// by a new file of ours: its mode, its contents and whatever file it links to stay out of
// the save.
TEST_F(AtomicFileTest, WhatIsAtTheTempNameIsReplacedNotWrittenThrough) {
  struct Case {
    const char* name;
    std::function<bool(const std::string& temp, const std::string& victim)> plant;
  };
  const std::vector<Case> cases = {
      {"a leftover file with another mode",
       [](const std::string& temp, const std::string&) {
         std::ofstream(temp, std::ios::binary) << std::string(4096, 'x');
         return chmod(temp.c_str(), 0644) == 0;
       }},
      {"a hard link to another file",
       [](const std::string& temp, const std::string& victim) {
         return link(victim.c_str(), temp.c_str()) == 0;
       }},
      {"a symlink to another file",
       [](const std::string& temp, const std::string& victim) {
         return symlink(victim.c_str(), temp.c_str()) == 0;
       }},
      {"a dangling symlink",
       [](const std::string& temp, const std::string& victim) {
         return symlink((victim + ".created").c_str(), temp.c_str()) == 0;
       }},
  };
  for (const Case& test : cases) {
    SCOPED_TRACE(test.name);
    std::filesystem::remove_all(dir_);
    ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
    std::string path = dir_ + "/state";
    std::string victim = dir_ + "/victim";
    Write(victim, "precious\n");
    ASSERT_EQ(chmod(victim.c_str(), 0644), 0);
    ASSERT_TRUE(test.plant(Temp(path), victim));
    std::string error;
    ASSERT_TRUE(WriteFileAtomically("the state", path, "saved\n", error)) << error;
    EXPECT_EQ(Read(path), "saved\n");
    EXPECT_EQ(Mode(path), 0600u);
    EXPECT_EQ(Read(victim), "precious\n") << "the linked file is not written";
    EXPECT_EQ(Mode(victim), 0644u);
    EXPECT_EQ(Tree(dir_), (std::vector<std::string>{"state", "victim"}))
        << "nothing created through a dangling link, nothing left at the temp name";
  }
}

TEST_F(AtomicFileTest, ADirectoryAtTheTempNameIsLeftAndReported) {
  std::string path = dir_ + "/state";
  ASSERT_EQ(mkdir(Temp(path).c_str(), 0700), 0);
  std::string error;
  EXPECT_FALSE(WriteFileAtomically("the state", path, "x", error));
  EXPECT_EQ(error, "cannot save the state " + path + ": removing " + Temp(path) + ": " +
                       std::strerror(EISDIR));
  EXPECT_EQ(Tree(dir_), std::vector<std::string>{Temp("state")});
}

// A symlinked storage directory is refused, not written through into wherever it points.
TEST_F(AtomicFileTest, ASymlinkedDirectoryIsRefusedNotWrittenThrough) {
  std::filesystem::create_directory(dir_ + "/elsewhere");
  ASSERT_EQ(symlink((dir_ + "/elsewhere").c_str(), (dir_ + "/storage").c_str()), 0);
  std::string error;
  EXPECT_FALSE(WriteFileAtomically("the state", dir_ + "/storage/state", "x", error));
  EXPECT_NE(error.find("opening directory " + dir_ + "/storage"), std::string::npos) << error;
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/elsewhere"));
}

}  // namespace
}  // namespace connwatch
