// Command-line flags, Prometheus style: --name=value or --name value, booleans bare or
// =true/=false. Every subcommand declares its flags once, typed (string, boolean, choice,
// bounded integer, duration with a minimum, string with a check), and ParseCommandLine
// parses, validates, answers --help and reports every usage error the same way, so no
// subcommand checks a value by hand.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace connwatch {

// One declared flag. Built by the factories below, which bind it to the variable it sets;
// the variable's value at declaration is the default --help shows.
struct Flag {
  enum class Kind {
    kValue,    // takes a value: --name=value or --name value
    kBoolean,  // bare, or --name=true / --name=false
    kPrint,    // like a boolean; when set, its text is printed and the command exits 0
  };
  std::string name;  // without the leading "--"
  std::string help;
  Kind kind = Kind::kValue;
  std::string default_text;  // as --help shows it
  // What a valid value is, after "must " ("be one of text, json"); "" when any value is.
  std::string requirement;
  // Stores `text` when it is valid; false leaves the variable alone.
  std::function<bool(std::string_view text)> apply;
  std::string print_text;  // kPrint only
};

Flag StringFlag(std::string name, std::string help, std::string* value);
// A string that is either given or not (a filter): --help shows no default.
Flag OptionalStringFlag(std::string name, std::string help, std::optional<std::string>* value);
// A string that must pass `valid`; `requirement` says what that means, after "must ":
// "start with / and not be /".
Flag CheckedStringFlag(std::string name, std::string help, std::string* value,
                       std::string requirement, std::function<bool(std::string_view)> valid);
// May be given several times (exporter-toolkit's --web.listen-address): the first use replaces
// the default list, each one adds its value. Every value must pass `valid`.
Flag RepeatedStringFlag(std::string name, std::string help, std::vector<std::string>* values,
                        std::string requirement, std::function<bool(std::string_view)> valid);
Flag BoolFlag(std::string name, std::string help, bool* value);
// --version and the like: prints `text` to stdout and exits 0 instead of running.
Flag PrintFlag(std::string name, std::string help, std::string text);
// Positive durations only ("10s", "500ms", "1m30s"), at least `min`. `as_written`, when
// given, receives the text as typed (or the default's text), for log lines.
Flag DurationFlag(std::string name, std::string help, std::chrono::milliseconds* value,
                  std::chrono::milliseconds min, std::string* as_written = nullptr);

// Non-negative integers in [min, max] (decimal digits only), stored as T; max is capped to
// what T holds, so no value overflows its variable.
Flag UnsignedFlag(std::string name, std::string help, uint64_t default_value, uint64_t min,
                  uint64_t max, std::function<void(uint64_t)> store);
template <typename T>
Flag IntegerFlag(std::string name, std::string help, T* value, uint64_t min, uint64_t max) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  constexpr uint64_t kLargest = static_cast<uint64_t>(std::numeric_limits<T>::max());
  return UnsignedFlag(std::move(name), std::move(help), static_cast<uint64_t>(*value), min,
                      max < kLargest ? max : kLargest,
                      [value](uint64_t number) { *value = static_cast<T>(number); });
}

// One of fixed names, each standing for a value of T (an enum, a bool, a string). The
// variable's value must be one of them: its name is the default --help shows.
Flag ChoiceFlagOf(std::string name, std::string help, std::vector<std::string> names,
                  size_t default_index, std::function<void(size_t index)> store);
template <typename T>
Flag TypedChoiceFlag(std::string name, std::string help, T* value,
                     std::vector<std::pair<std::string, T>> choices) {
  std::vector<std::string> names;
  size_t default_index = 0;
  for (size_t i = 0; i < choices.size(); ++i) {
    names.push_back(choices[i].first);
    if (choices[i].second == *value) default_index = i;
  }
  return ChoiceFlagOf(std::move(name), std::move(help), std::move(names), default_index,
                      [value, choices](size_t index) { *value = choices[index].second; });
}
// The names are the values.
Flag ChoiceFlag(std::string name, std::string help, std::string* value,
                const std::vector<std::string>& choices);

// A subcommand: what --help prints and what the parser accepts.
struct Command {
  std::string name;     // as typed, "connwatch check": begins every message
  std::string usage;    // one line, after "usage: "
  std::string summary;  // what it does, printed under the usage line; may be empty
  std::vector<Flag> flags;
  std::vector<std::string> arguments;  // the positional arguments' names, each required
};

// What one parse decided.
struct ParseResult {
  enum class Outcome { kRun, kPrint, kError };
  Outcome outcome = Outcome::kRun;
  std::string text;  // kPrint: what to print (the help, a print flag's text); kError: the error
  std::vector<std::string> arguments;  // kRun: the positional arguments
};

// Parses without printing. --help (and print flags) win over a bad value, as long as they
// come before anything the parser cannot read at all (an unknown flag, a missing value).
ParseResult ParseArgs(const Command& command, const std::vector<std::string>& args);

// "usage: ...", the summary, and every flag with its default, its help and what values it
// takes; --help last.
std::string HelpText(const Command& command);

// Prints `name: message` and the --help hint to `err`; returns the usage-error exit code, 2.
int UsageError(const Command& command, std::string_view message, FILE* err = stderr);

// The one entry point of every subcommand. nullopt: run, with the positional arguments in
// `arguments`. Otherwise the process exit code: 0 after printing the help (or a print flag's
// text) to `out`, 2 after printing the error and the --help hint to `err`.
std::optional<int> ParseCommandLine(const Command& command, const std::vector<std::string>& args,
                                    std::vector<std::string>* arguments = nullptr,
                                    FILE* out = stdout, FILE* err = stderr);

inline constexpr int kUsageErrorExitCode = 2;

}  // namespace connwatch
