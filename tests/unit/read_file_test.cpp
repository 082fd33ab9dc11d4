// The capped reader on real files: regular files around the cap, errors as errno, procfs
// files that report size 0, and LoadFileCapped's statuses with their messages.
#include "base/read_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace connwatch {
namespace {

class ReadFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/connwatch-read-file-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `text` to <dir>/<name> and returns the path.
  std::string Make(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  std::string dir_;
};

// A text of `size` bytes that is not one repeated byte, so that a misplaced chunk shows.
std::string Pattern(size_t size) {
  std::string text;
  for (size_t i = 0; i < size; ++i) text += static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return text;
}

TEST_F(ReadFileTest, ReadsAWholeFileIntoOut) {
  std::string path = Make("small", std::string("one\ntwo\0three\xff", 14));
  std::string out = "left over from before";
  bool truncated = true;
  EXPECT_EQ(ReadFileCapped(path, 1024, out, &truncated), 0);
  EXPECT_EQ(out, std::string("one\ntwo\0three\xff", 14));
  EXPECT_FALSE(truncated);
}

TEST_F(ReadFileTest, ReadsFilesLargerThanOneReadChunk) {
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{16383}, size_t{16384}, size_t{16385}, size_t{100000}}) {
    std::string text = Pattern(size);
    std::string path = Make("sized", text);
    std::string out;
    bool truncated = true;
    EXPECT_EQ(ReadFileCapped(path, kMaxSmallProcFileBytes * 4, out, &truncated), 0) << size;
    EXPECT_EQ(out.size(), size);
    EXPECT_TRUE(out == text) << "contents differ at size " << size;
    EXPECT_FALSE(truncated) << size;
  }
}

struct CapCase {
  size_t file_size;
  size_t cap;
  size_t read;
  bool truncated;
};

TEST_F(ReadFileTest, StopsAtTheCapAndSaysWhetherMoreWasThere) {
  const std::vector<CapCase> cases = {
      {10, 11, 10, false},           // under the cap
      {10, 10, 10, false},           // exactly at the cap: nothing more
      {11, 10, 10, true},            // one over
      {100000, 40000, 40000, true},  // over, across several chunks
      {40000, 40000, 40000, false},  // at, across several chunks
      {0, 0, 0, false},              // an empty file with no room
      {1, 0, 0, true},               // no room at all
  };
  for (const CapCase& test : cases) {
    SCOPED_TRACE("file " + std::to_string(test.file_size) + " cap " + std::to_string(test.cap));
    std::string text = Pattern(test.file_size);
    std::string path = Make("capped", text);
    std::string out;
    bool truncated = !test.truncated;
    EXPECT_EQ(ReadFileCapped(path, test.cap, out, &truncated), 0);
    EXPECT_EQ(out.size(), test.read);
    EXPECT_TRUE(out == text.substr(0, test.read)) << "the start of the file";
    EXPECT_EQ(truncated, test.truncated);
    // Without a flag to set, the read is the same.
    std::string again;
    EXPECT_EQ(ReadFileCapped(path, test.cap, again), 0);
    EXPECT_TRUE(again == out);
  }
}

TEST_F(ReadFileTest, ACharacterDeviceIsCappedToo) {
  // /dev/zero never ends: only the cap stops the read.
  std::string out;
  bool truncated = false;
  EXPECT_EQ(ReadFileCapped("/dev/zero", 50000, out, &truncated), 0);
  EXPECT_EQ(out, std::string(50000, '\0'));
  EXPECT_TRUE(truncated);
}

TEST_F(ReadFileTest, FailuresAreReturnedAsErrno) {
  std::string file = Make("file", "x");
  struct Case {
    std::string path;
    int error;
  };
  const std::vector<Case> cases = {
      {dir_ + "/missing", ENOENT},
      {dir_ + "/missing/below", ENOENT},
      {file + "/below", ENOTDIR},
      {dir_, EISDIR},
      {"", ENOENT},
  };
  for (const Case& test : cases) {
    std::string out;
    EXPECT_EQ(ReadFileCapped(test.path, 100, out), test.error) << test.path;
  }
}

TEST_F(ReadFileTest, ReadsProcFilesThatReportSizeZero) {
  struct stat info {};
  ASSERT_EQ(stat("/proc/self/status", &info), 0);
  ASSERT_EQ(info.st_size, 0) << "procfs reports no size, so a read by st_size would be empty";
  std::string status;
  bool truncated = true;
  ASSERT_EQ(ReadFileCapped("/proc/self/status", kMaxSmallProcFileBytes, status, &truncated), 0);
  EXPECT_FALSE(truncated);
  EXPECT_EQ(status.rfind("Name:\t", 0), 0u) << status;
  EXPECT_NE(status.find("\nPid:\t" + std::to_string(getpid()) + "\n"), std::string::npos);
  EXPECT_NE(status.find("\nVmPeak:"), std::string::npos) << "read past the first lines";
  EXPECT_EQ(status.back(), '\n') << "read to the end";

  std::string stat_line;
  ASSERT_EQ(ReadFileCapped("/proc/self/stat", kMaxSmallProcFileBytes, stat_line), 0);
  EXPECT_EQ(stat_line.rfind(std::to_string(getpid()) + " (", 0), 0u) << stat_line;
  EXPECT_EQ(stat_line.back(), '\n');
}

TEST_F(ReadFileTest, AProcFileIsCappedLikeAnyOther) {
  std::string out;
  bool truncated = false;
  ASSERT_EQ(ReadFileCapped("/proc/self/status", 5, out, &truncated), 0);
  EXPECT_EQ(out, "Name:");
  EXPECT_TRUE(truncated);
}

TEST_F(ReadFileTest, LoadsAFileOfAtMostTheLimit) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{99}, size_t{100}}) {
    std::string text = Pattern(size);
    FileLoad load = LoadFileCapped(Make("load", text), 100);
    EXPECT_TRUE(load.ok()) << size;
    EXPECT_EQ(load.status, FileLoad::Status::kOk) << size;
    EXPECT_EQ(load.error, 0) << size;
    EXPECT_EQ(load.text, text) << size;
    EXPECT_EQ(load.Problem("the policy", "p", 100), "") << size;
  }
}

TEST_F(ReadFileTest, RefusesAFileOverTheLimit) {
  for (size_t size : {size_t{101}, size_t{102}, size_t{100000}}) {
    std::string path = Make("big", Pattern(size));
    FileLoad load = LoadFileCapped(path, 100);
    EXPECT_FALSE(load.ok()) << size;
    EXPECT_EQ(load.status, FileLoad::Status::kTooLarge) << size;
    EXPECT_EQ(load.text, "") << "nothing of a refused file is kept";
    EXPECT_EQ(load.Problem("the policy", path, 100),
              "the policy " + path + " is larger than the limit of 100 bytes");
  }
  FileLoad endless = LoadFileCapped("/dev/zero", 4096);
  EXPECT_EQ(endless.status, FileLoad::Status::kTooLarge);
  EXPECT_EQ(endless.text, "");
}

TEST_F(ReadFileTest, AMissingFileIsMissing) {
  std::string path = dir_ + "/policy.yaml";
  FileLoad load = LoadFileCapped(path, 100);
  EXPECT_FALSE(load.ok());
  EXPECT_EQ(load.status, FileLoad::Status::kMissing);
  EXPECT_EQ(load.error, ENOENT);
  EXPECT_EQ(load.Problem("the policy", path, 100),
            "cannot read the policy " + path + ": " + std::strerror(ENOENT));
}

TEST_F(ReadFileTest, WhatCannotBeReadIsUnreadableWithItsErrno) {
  std::string file = Make("file", "x");
  struct Case {
    std::string path;
    int error;
  };
  for (const Case& test : std::vector<Case>{{dir_, EISDIR}, {file + "/below", ENOTDIR}}) {
    FileLoad load = LoadFileCapped(test.path, 100);
    EXPECT_FALSE(load.ok()) << test.path;
    EXPECT_EQ(load.status, FileLoad::Status::kUnreadable) << test.path;
    EXPECT_EQ(load.error, test.error) << test.path;
    EXPECT_EQ(load.text, "");
    EXPECT_EQ(load.Problem("the web config", test.path, 100),
              "cannot read the web config " + test.path + ": " + std::strerror(test.error));
  }
}

TEST_F(ReadFileTest, AProblemWithoutSubjectNamesOnlyThePath) {
  std::string path = dir_ + "/gone";
  EXPECT_EQ(LoadFileCapped(path, 10).Problem("", path, 10),
            "cannot read " + path + ": " + std::strerror(ENOENT));
  std::string big = Make("big", "0123456789!");
  EXPECT_EQ(LoadFileCapped(big, 10).Problem("", big, 10),
            big + " is larger than the limit of 10 bytes");
}

// The storage directory's files: real FIFOs, symlinks, modes and owners (the tests run as
// root, so chown to nobody works).
TEST_F(ReadFileTest, AStorageFileIsReadWhenRegularAndOnlyOurs) {
  std::string path = Make("state", "text");
  FileLoad load = LoadStorageFile(path, 100);
  EXPECT_TRUE(load.ok()) << load.Problem("", path, 100);
  EXPECT_EQ(load.text, "text");
  EXPECT_EQ(LoadStorageFile(dir_ + "/none", 100).status, FileLoad::Status::kMissing);
  EXPECT_EQ(LoadStorageFile(Make("big", "12345"), 4).status, FileLoad::Status::kTooLarge);
}

TEST_F(ReadFileTest, AStorageFifoIsRefusedWithoutBlocking) {
  std::string path = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  FileLoad load = LoadStorageFile(path, 100);  // a blocking open would hang here
  EXPECT_EQ(load.status, FileLoad::Status::kRefused);
  EXPECT_EQ(load.Problem("the state", path, 100),
            "refusing the state " + path + ": it is not a regular file");
}

TEST_F(ReadFileTest, AStorageSymlinkIsRefusedNotFollowed) {
  std::string target = Make("target", "text");
  ASSERT_EQ(symlink(target.c_str(), (dir_ + "/link").c_str()), 0);
  FileLoad load = LoadStorageFile(dir_ + "/link", 100);
  EXPECT_EQ(load.status, FileLoad::Status::kRefused);
  EXPECT_EQ(load.Problem("", "x", 100), "refusing x: it is a symbolic link");
  std::filesystem::create_directory(dir_ + "/real");
  Make("real/state", "text");
  ASSERT_EQ(symlink((dir_ + "/real").c_str(), (dir_ + "/storage").c_str()), 0);
  load = LoadStorageFile(dir_ + "/storage/state", 100);
  EXPECT_EQ(load.status, FileLoad::Status::kRefused);
  EXPECT_NE(load.refusal.find("the directory " + dir_ + "/storage:"), std::string::npos)
      << load.refusal;
}

TEST_F(ReadFileTest, AStorageFileOthersMayWriteIsRefused) {
  std::string path = Make("state", "text");
  ASSERT_EQ(chmod(path.c_str(), 0666), 0);
  FileLoad load = LoadStorageFile(path, 100);
  EXPECT_EQ(load.status, FileLoad::Status::kRefused);
  EXPECT_NE(load.refusal.find("group- or world-writable"), std::string::npos) << load.refusal;
  ASSERT_EQ(chmod(path.c_str(), 0620), 0);
  EXPECT_EQ(LoadStorageFile(path, 100).status, FileLoad::Status::kRefused);
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(chmod(dir_.c_str(), 0777), 0);
  load = LoadStorageFile(path, 100);
  EXPECT_EQ(load.status, FileLoad::Status::kRefused);
  EXPECT_NE(load.refusal.find("the directory " + dir_ + ": it is group- or world-writable"),
            std::string::npos)
      << load.refusal;
}

TEST_F(ReadFileTest, AStorageFileOfAnotherUserIsRefused) {
  ASSERT_EQ(geteuid(), 0u) << "chown to nobody needs root";
  std::string path = Make("state", "text");
  ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0);
  FileLoad load = LoadStorageFile(path, 100);
  EXPECT_EQ(load.status, FileLoad::Status::kRefused);
  EXPECT_NE(load.refusal.find("owned by uid 65534, not connwatch's 0"), std::string::npos)
      << load.refusal;
  ASSERT_EQ(chown(path.c_str(), 0, 0), 0);
  ASSERT_EQ(chown(dir_.c_str(), 65534, 65534), 0);
  EXPECT_EQ(LoadStorageFile(path, 100).status, FileLoad::Status::kRefused);
}

}  // namespace
}  // namespace connwatch
