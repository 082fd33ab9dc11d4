#include "policy/policy_values.h"

#include <algorithm>
#include <cstdlib>

#include "base/duration.h"
#include "base/text.h"

namespace connwatch {

bool LooksLikeInteger(std::string_view text) {
  if (text.starts_with('-')) text.remove_prefix(1);
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::chrono::seconds> ReadPolicyDuration(YamlReader& reader, const YamlNode& node,
                                                       const std::string& path, bool zero_ok) {
  ConfigErrors& errors = reader.errors();
  if (node.kind == YamlNode::Kind::kScalar && node.tag == kYamlTagBinary) {
    reader.TypeError(node, path, "a duration");
    return std::nullopt;
  }
  std::optional<std::string> text = reader.String(node, path);
  if (!text) return std::nullopt;
  if (*text == "0") {
    if (zero_ok) return std::chrono::seconds(0);
    ErrorAt(errors, node, path, "duration must be greater than 0");
    return std::nullopt;
  }
  if (text->starts_with('-')) {
    ErrorAt(errors, node, path, "duration must not be negative, got " + QuoteBytes(*text));
    return std::nullopt;
  }
  if (LooksLikeInteger(*text)) {
    ErrorAt(errors, node, path,
            "duration needs a unit (ms, s, m, h, d), e.g. " + *text + "s, got " + *text);
    return std::nullopt;
  }
  std::optional<std::chrono::milliseconds> parsed = ParseDuration(*text);
  if (!parsed) {
    ErrorAt(errors, node, path,
            "invalid duration " + QuoteBytes(*text) + "; use e.g. 90s, 30m, 1h, 1h30m, 7d");
    return std::nullopt;
  }
  if (parsed->count() % 1000 != 0) {
    ErrorAt(errors, node, path, "duration must be whole seconds, got " + QuoteBytes(*text));
    return std::nullopt;
  }
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*parsed);
  if (seconds.count() == 0 && !zero_ok) {
    ErrorAt(errors, node, path, "duration must be greater than 0");
    return std::nullopt;
  }
  return seconds;
}

std::optional<uint32_t> ReadPolicyCount(YamlReader& reader, const YamlNode& node,
                                        const std::string& path, uint32_t min, uint32_t max,
                                        const char* what) {
  bool integer = node.kind == YamlNode::Kind::kScalar &&
                 (node.IsPlain() || node.tag == kYamlTagInt) && LooksLikeInteger(node.value);
  if (!integer) {
    reader.TypeError(node, path, what);
    return std::nullopt;
  }
  const std::string& text = node.value;
  // Ten digits hold every uint32_t; more is out of range whatever they say.
  bool in_range = !text.starts_with('-') && !(text.size() > 1 && text[0] == '0') &&
                  text.size() <= 10 && std::stoull(text) >= min && std::stoull(text) <= max;
  if (!in_range) {
    ErrorAt(reader.errors(), node, path,
            std::string("must be ") + what + " from " + std::to_string(min) + " to " +
                std::to_string(max) + ", got " + text);
    return std::nullopt;
  }
  return static_cast<uint32_t>(std::stoull(text));
}

std::optional<double> ReadPolicyScore(YamlReader& reader, const YamlNode& node,
                                      const std::string& path) {
  bool scalar = node.kind == YamlNode::Kind::kScalar && node.tag != kYamlTagBinary;
  if (!scalar) {
    reader.TypeError(node, path, "a score from 0 to 1");
    return std::nullopt;
  }
  const std::string& text = node.value;
  // Plain decimals only: no exponent, sign, hex, inf or nan that strtod would take.
  bool decimal = !text.empty() && text.size() <= 16 && text.front() != '.' && text.back() != '.' &&
                 std::count(text.begin(), text.end(), '.') <= 1 &&
                 std::all_of(text.begin(), text.end(),
                             [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  double value = decimal ? std::strtod(text.c_str(), nullptr) : -1;
  if (!decimal || value < 0 || value > 1) {
    ErrorAt(reader.errors(), node, path,
            "must be a score from 0 to 1 (e.g. 0.8), got " + QuoteBytes(text));
    return std::nullopt;
  }
  return value;
}

}  // namespace connwatch
