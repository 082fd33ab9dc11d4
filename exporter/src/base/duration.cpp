#include "base/duration.h"

#include <charconv>
#include <cstdint>
#include <utility>

namespace connwatch {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t milliseconds;
};

// "ms" before "m": the longer suffix is tried first.
constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total_ms = 0;
  while (!text.empty()) {
    int64_t number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc() || end == text.data() || number < 0) return std::nullopt;
    text.remove_prefix(static_cast<size_t>(end - text.data()));
    const Unit* unit = nullptr;
    for (const Unit& candidate : kUnits) {
      if (text.starts_with(candidate.suffix)) {
        unit = &candidate;
        break;
      }
    }
    if (unit == nullptr) return std::nullopt;
    text.remove_prefix(unit->suffix.size());
    if (number > (int64_t{1} << 40) / unit->milliseconds) return std::nullopt;  // absurdly long
    total_ms += number * unit->milliseconds;
    if (total_ms > (int64_t{1} << 40)) return std::nullopt;
  }
  return std::chrono::milliseconds(total_ms);
}

std::string FormatDuration(std::chrono::seconds duration) {
  int64_t rest = duration.count();
  if (rest <= 0) return "0";
  std::string out;
  for (auto [unit, seconds] : {std::pair{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}) {
    if (rest >= seconds) {
      out += std::to_string(rest / seconds) + unit;
      rest %= seconds;
    }
  }
  return out;
}

}  // namespace connwatch
