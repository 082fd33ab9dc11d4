#include "cli/flags.h"

#include <algorithm>
#include <charconv>
#include <memory>

#include "base/duration.h"
#include "base/text.h"

namespace connwatch {
namespace {

// "10s", "500ms", "1s500ms": how --help shows a duration default (FormatDuration has whole
// seconds only).
std::string DurationText(std::chrono::milliseconds duration) {
  int64_t ms = duration.count();
  if (ms == 0) return "0s";
  std::string text = ms >= 1000 ? FormatDuration(std::chrono::seconds(ms / 1000)) : "";
  if (ms % 1000 != 0) text += std::to_string(ms % 1000) + "ms";
  return text;
}

std::string IntegerRequirement(uint64_t min, uint64_t max) {
  std::string most = " (at most " + std::to_string(max) + ")";
  if (min == 0) return "be a non-negative integer" + most;
  if (min == 1) return "be a positive integer" + most;
  return "be an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

// Decimal digits only: no sign, no spaces, nothing that overflows 64 bits.
std::optional<uint64_t> ParseUnsigned(std::string_view text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return number;
}

bool IsBoolean(std::string_view text) { return text == "true" || text == "false"; }

Flag NewFlag(std::string name, std::string help, Flag::Kind kind) {
  Flag flag;
  flag.name = std::move(name);
  flag.help = std::move(help);
  flag.kind = kind;
  return flag;
}

Flag HelpFlag() {
  Flag flag = NewFlag("help", "Show this help and exit.", Flag::Kind::kPrint);
  flag.requirement = "be true or false";
  flag.apply = IsBoolean;
  return flag;
}

// Argument text in a message: the user's own, but a terminal should not act on it.
std::string Shown(std::string_view text) { return EscapeBytes(text, EscapeStyle::kHexOnly); }

struct Assignment {
  const Flag* flag;
  std::string value;
};

// The arguments split into flag settings and positional arguments, up to the first one the
// parser cannot read (an unknown flag, a missing value): there it stops, with `error`.
struct Walk {
  std::vector<Assignment> assignments;
  std::vector<std::string> positional;
  std::string error;
};

const Flag* FindFlag(const Command& command, const Flag& help, std::string_view name) {
  for (const Flag& flag : command.flags) {
    if (flag.name == name) return &flag;
  }
  return name == help.name ? &help : nullptr;
}

Walk WalkArgs(const Command& command, const Flag& help, const std::vector<std::string>& args) {
  Walk walk;
  bool only_positional = false;  // after "--"
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_positional || arg == "-" || !arg.starts_with("-")) {
      walk.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    std::string_view body = std::string_view(arg).substr(arg.starts_with("--") ? 2 : 1);
    size_t equals = body.find('=');
    std::string_view name = body.substr(0, equals);
    const Flag* flag = arg.starts_with("--") ? FindFlag(command, help, name) : nullptr;
    if (flag == nullptr) {
      walk.error = "unknown flag " + Shown(arg.substr(0, arg.size() - body.size() + name.size()));
      break;
    }
    std::string value;
    if (equals != std::string_view::npos) {
      value = body.substr(equals + 1);
    } else if (flag->kind != Flag::Kind::kValue) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      walk.error = "--" + flag->name + ": needs a value";
      break;
    }
    walk.assignments.push_back({flag, std::move(value)});
  }
  return walk;
}

// The print flag to answer, if one is set (the last setting of each counts): the declared
// ones (--version) before --help.
const Flag* RequestedPrint(const Command& command, const Flag& help, const Walk& walk) {
  auto is_set = [&walk](const Flag* flag) {
    bool set = false;
    for (const Assignment& assignment : walk.assignments) {
      if (assignment.flag == flag && IsBoolean(assignment.value)) {
        set = assignment.value == "true";
      }
    }
    return set;
  };
  for (const Flag& flag : command.flags) {
    if (flag.kind == Flag::Kind::kPrint && is_set(&flag)) return &flag;
  }
  return is_set(&help) ? &help : nullptr;
}

// The words of `text` on lines of at most kHelpWidth columns, each after `indent`.
std::string Wrapped(std::string_view text, std::string_view indent) {
  constexpr size_t kHelpWidth = 100;  // the width of the code, so help reads like it
  std::string out, line;
  for (size_t start = 0; start < text.size();) {
    size_t end = std::min(text.find(' ', start), text.size());
    std::string_view word = text.substr(start, end - start);
    if (!line.empty() && indent.size() + line.size() + 1 + word.size() > kHelpWidth) {
      out += std::string(indent) + line + "\n";
      line.clear();
    }
    if (!line.empty()) line += ' ';
    line += word;
    start = end + 1;
  }
  return line.empty() ? out : out + std::string(indent) + line + "\n";
}

std::string FlagHelp(const Flag& flag) {
  std::string text = "  --" + flag.name;
  if (flag.kind != Flag::Kind::kPrint) text += "=" + flag.default_text;
  std::string help = flag.help;
  if (flag.kind == Flag::Kind::kValue && !flag.requirement.empty()) {
    help += " Must " + flag.requirement + ".";
  }
  return text + "\n" + Wrapped(help, "      ");
}

ParseResult Error(std::string message) {
  return {ParseResult::Outcome::kError, std::move(message), {}};
}

}  // namespace

Flag StringFlag(std::string name, std::string help, std::string* value) {
  return CheckedStringFlag(std::move(name), std::move(help), value, "",
                           [](std::string_view) { return true; });
}

Flag OptionalStringFlag(std::string name, std::string help, std::optional<std::string>* value) {
  Flag flag = NewFlag(std::move(name), std::move(help), Flag::Kind::kValue);
  flag.default_text = "\"\"";
  flag.apply = [value](std::string_view text) {
    *value = std::string(text);
    return true;
  };
  return flag;
}

Flag CheckedStringFlag(std::string name, std::string help, std::string* value,
                       std::string requirement, std::function<bool(std::string_view)> valid) {
  Flag flag = NewFlag(std::move(name), std::move(help), Flag::Kind::kValue);
  flag.default_text = value->empty() ? "\"\"" : *value;
  flag.requirement = std::move(requirement);
  flag.apply = [value, valid = std::move(valid)](std::string_view text) {
    if (!valid(text)) return false;
    *value = std::string(text);
    return true;
  };
  return flag;
}

Flag RepeatedStringFlag(std::string name, std::string help, std::vector<std::string>* values,
                        std::string requirement, std::function<bool(std::string_view)> valid) {
  Flag flag = NewFlag(std::move(name), std::move(help), Flag::Kind::kValue);
  std::string shown;
  for (const std::string& value : *values) shown += (shown.empty() ? "" : ",") + value;
  flag.default_text = shown.empty() ? "\"\"" : shown;
  flag.requirement = std::move(requirement);
  auto replaced = std::make_shared<bool>(false);
  flag.apply = [values, replaced, valid = std::move(valid)](std::string_view text) {
    if (!valid(text)) return false;
    if (!*replaced) values->clear();
    *replaced = true;
    values->emplace_back(text);
    return true;
  };
  return flag;
}

Flag BoolFlag(std::string name, std::string help, bool* value) {
  Flag flag = NewFlag(std::move(name), std::move(help), Flag::Kind::kBoolean);
  flag.default_text = *value ? "true" : "false";
  flag.requirement = "be true or false";
  flag.apply = [value](std::string_view text) {
    if (!IsBoolean(text)) return false;
    *value = text == "true";
    return true;
  };
  return flag;
}

Flag PrintFlag(std::string name, std::string help, std::string text) {
  Flag flag = NewFlag(std::move(name), std::move(help), Flag::Kind::kPrint);
  flag.requirement = "be true or false";
  flag.apply = IsBoolean;
  flag.print_text = std::move(text);
  return flag;
}

Flag DurationFlag(std::string name, std::string help, std::chrono::milliseconds* value,
                  std::chrono::milliseconds min, std::string* as_written) {
  Flag flag = NewFlag(std::move(name), std::move(help), Flag::Kind::kValue);
  flag.default_text = DurationText(*value);
  if (as_written != nullptr) *as_written = flag.default_text;
  flag.requirement = "be a duration" +
                     (min.count() > 0 ? " of at least " + DurationText(min) : std::string()) +
                     " (e.g. 10s)";
  flag.apply = [value, min, as_written](std::string_view text) {
    std::optional<std::chrono::milliseconds> duration = ParseDuration(text);
    if (!duration || *duration < min) return false;
    *value = *duration;
    if (as_written != nullptr) *as_written = std::string(text);
    return true;
  };
  return flag;
}

Flag UnsignedFlag(std::string name, std::string help, uint64_t default_value, uint64_t min,
                  uint64_t max, std::function<void(uint64_t)> store) {
  Flag flag = NewFlag(std::move(name), std::move(help), Flag::Kind::kValue);
  flag.default_text = std::to_string(default_value);
  flag.requirement = IntegerRequirement(min, max);
  flag.apply = [min, max, store = std::move(store)](std::string_view text) {
    std::optional<uint64_t> number = ParseUnsigned(text);
    if (!number || *number < min || *number > max) return false;
    store(*number);
    return true;
  };
  return flag;
}

Flag ChoiceFlagOf(std::string name, std::string help, std::vector<std::string> names,
                  size_t default_index, std::function<void(size_t index)> store) {
  Flag flag = NewFlag(std::move(name), std::move(help), Flag::Kind::kValue);
  flag.default_text = default_index < names.size() ? names[default_index] : "\"\"";
  flag.requirement = "be one of ";
  for (size_t i = 0; i < names.size(); ++i) flag.requirement += (i ? ", " : "") + names[i];
  flag.apply = [names = std::move(names), store = std::move(store)](std::string_view text) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == text) {
        store(i);
        return true;
      }
    }
    return false;
  };
  return flag;
}

Flag ChoiceFlag(std::string name, std::string help, std::string* value,
                const std::vector<std::string>& choices) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const std::string& choice : choices) pairs.emplace_back(choice, choice);
  return TypedChoiceFlag(std::move(name), std::move(help), value, std::move(pairs));
}

ParseResult ParseArgs(const Command& command, const std::vector<std::string>& args) {
  const Flag help = HelpFlag();
  Walk walk = WalkArgs(command, help, args);
  if (const Flag* print = RequestedPrint(command, help, walk)) {
    return {
        ParseResult::Outcome::kPrint, print == &help ? HelpText(command) : print->print_text, {}};
  }
  if (!walk.error.empty()) return Error(walk.error);
  for (const Assignment& assignment : walk.assignments) {
    if (!assignment.flag->apply(assignment.value)) {
      return Error("--" + assignment.flag->name + ": must " + assignment.flag->requirement +
                   "; got " + QuoteBytes(assignment.value));
    }
  }
  if (walk.positional.size() > command.arguments.size()) {
    return Error("unexpected argument " + QuoteBytes(walk.positional[command.arguments.size()]));
  }
  if (walk.positional.size() < command.arguments.size()) {
    return Error("missing argument " + command.arguments[walk.positional.size()]);
  }
  return {ParseResult::Outcome::kRun, "", std::move(walk.positional)};
}

std::string HelpText(const Command& command) {
  std::string text = "usage: " + command.usage + "\n";
  if (!command.summary.empty()) text += "\n" + command.summary + "\n";
  text += "\nflags:\n";
  for (const Flag& flag : command.flags) text += FlagHelp(flag);
  return text + FlagHelp(HelpFlag());
}

int UsageError(const Command& command, std::string_view message, FILE* err) {
  fprintf(err, "%s: %.*s\n(see %s --help)\n", command.name.c_str(),
          static_cast<int>(message.size()), message.data(), command.name.c_str());
  return kUsageErrorExitCode;
}

std::optional<int> ParseCommandLine(const Command& command, const std::vector<std::string>& args,
                                    std::vector<std::string>* arguments, FILE* out, FILE* err) {
  ParseResult result = ParseArgs(command, args);
  switch (result.outcome) {
    case ParseResult::Outcome::kRun:
      if (arguments != nullptr) *arguments = std::move(result.arguments);
      return std::nullopt;
    case ParseResult::Outcome::kPrint:
      fwrite(result.text.data(), 1, result.text.size(), out);
      return 0;
    case ParseResult::Outcome::kError:
      break;
  }
  return UsageError(command, result.text, err);
}

}  // namespace connwatch
