// Durations as Prometheus writes them: "10s", "500ms", "1m30s", "2h", "1d" (no y or w).
// Flags and the policy read them here, and the policy writer and summaries print them here.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace connwatch {

// nullopt for anything else: no number, an unknown unit, a negative or absurdly long value.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Whole seconds in the largest units first: 5400s -> "1h30m", 0 -> "0".
std::string FormatDuration(std::chrono::seconds duration);

}  // namespace connwatch
