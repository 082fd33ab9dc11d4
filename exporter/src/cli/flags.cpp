#include "cli/flags.h"

namespace connwatch {

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
