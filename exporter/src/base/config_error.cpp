#include "base/config_error.h"

#include <algorithm>

namespace connwatch {

std::string ConfigError::ToString() const {
  std::string out = where.file;
  if (where.line > 0) {
    out += ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
  }
  out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

std::string JoinErrors(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& error : errors) out += (out.empty() ? "" : "\n") + error.ToString();
  return out;
}

void ConfigErrors::At(int line, int column, const std::string& key, std::string message) {
  if (errors_.size() >= kMaxErrors) {
    ++dropped_;
    return;
  }
  errors_.push_back({{file_, line, column}, key, std::move(message)});
}

std::vector<ConfigError> ConfigErrors::Take() {
  std::vector<ConfigError> errors = std::move(errors_);
  std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
  });
  if (dropped_ > 0) {
    errors.push_back({{file_, 0, 0},
                      "",
                      "and " + std::to_string(dropped_) +
                          (dropped_ == 1 ? " more error" : " more errors") + " not shown"});
  }
  errors_.clear();
  dropped_ = 0;
  return errors;
}

}  // namespace connwatch
