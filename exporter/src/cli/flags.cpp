#include "cli/flags.h"

#include <charconv>

namespace connwatch {

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total_ms = 0;
  while (!text.empty()) {
    int64_t number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc() || end == text.data() || number < 0) return std::nullopt;
    text.remove_prefix(static_cast<size_t>(end - text.data()));
    int64_t unit_ms;
    if (text.starts_with("ms")) {
      unit_ms = 1;
      text.remove_prefix(2);
    } else if (!text.empty() &&
               (text[0] == 's' || text[0] == 'm' || text[0] == 'h' || text[0] == 'd')) {
      unit_ms = text[0] == 's'   ? 1000
                : text[0] == 'm' ? 60000
                : text[0] == 'h' ? 3600000
                                 : 86400000;
      text.remove_prefix(1);
    } else {
      return std::nullopt;
    }
    if (number > (int64_t{1} << 40) / unit_ms) return std::nullopt;  // absurdly long
    total_ms += number * unit_ms;
  }
  return std::chrono::milliseconds(total_ms);
}

bool ParseFlags(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs,
                std::vector<std::string>& positional, std::string& error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!arg.starts_with("--") || arg == "--") {
      if (arg.starts_with("-") && arg != "-") {
        error = "unknown flag: " + arg;
        return false;
      }
      positional.push_back(arg);
      continue;
    }
    std::string_view body = std::string_view(arg).substr(2);
    size_t equals = body.find('=');
    std::string_view name = body.substr(0, equals);
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& candidate : specs) {
      if (candidate.name == name) spec = &candidate;
    }
    if (spec == nullptr) {
      error = "unknown flag: --" + std::string(name);
      return false;
    }
    if (spec->enabled != nullptr) {
      if (equals == std::string_view::npos) {
        *spec->enabled = true;
      } else if (body.substr(equals + 1) == "true") {
        *spec->enabled = true;
      } else if (body.substr(equals + 1) == "false") {
        *spec->enabled = false;
      } else {
        error = "flag --" + std::string(name) + " takes true or false";
        return false;
      }
      continue;
    }
    if (equals != std::string_view::npos) {
      *spec->value = std::string(body.substr(equals + 1));
    } else if (i + 1 < args.size()) {
      *spec->value = args[++i];
    } else {
      error = "flag --" + std::string(name) + " needs a value";
      return false;
    }
  }
  return true;
}

std::string FlagUsage(const std::vector<FlagSpec>& specs) {
  std::string usage;
  for (const FlagSpec& spec : specs) {
    std::string left = "  --" + spec.name;
    if (spec.value != nullptr) left += "=" + (spec.value->empty() ? "\"\"" : *spec.value);
    usage += left + "\n      " + spec.help + "\n";
  }
  return usage;
}

}  // namespace connwatch
