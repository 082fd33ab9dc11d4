// Problems found in a file connwatch reads (the policy, the baseline, the web config), each
// with its position and the key it is under, all collected before the file is refused.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace connwatch {

// Where something was written, for messages ("policy.yaml:12:5"). line 0: unknown.
struct SourceLocation {
  std::string file;
  int line = 0;  // 1-based
  int column = 0;
};

struct ConfigError {
  SourceLocation where;
  std::string key;  // dotted path of the offending key, e.g. "listeners[2].port"
  std::string message;

  // "policy.yaml:12:5: listeners[2].port: port must be 1-65535, got 70000"; the position is
  // left out when unknown (an unreadable file), the key when the problem is under none.
  std::string ToString() const;
};

// Every error on a line of its own.
std::string JoinErrors(const std::vector<ConfigError>& errors);

// Collects the errors of one file, at most kMaxErrors (a 1 MiB file of aliases would
// otherwise yield half a million); the rest are only counted.
class ConfigErrors {
 public:
  static constexpr size_t kMaxErrors = 100;

  explicit ConfigErrors(std::string file) : file_(std::move(file)) {}

  void At(int line, int column, const std::string& key, std::string message);
  const std::string& file() const { return file_; }
  bool empty() const { return errors_.empty(); }
  size_t count() const { return errors_.size() + dropped_; }
  // Sorted by position, then "and N more errors not shown" when the cap dropped some.
  std::vector<ConfigError> Take();

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
  size_t dropped_ = 0;
};

}  // namespace connwatch
