#include "base/tab_fields.h"

namespace connwatch {

void AppendTabField(std::string_view text, std::string& out) {
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

std::optional<std::vector<std::string>> SplitTabFields(std::string_view line) {
  std::vector<std::string> fields(1);
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\t') {
      fields.emplace_back();
    } else if (c == '\n') {
      return std::nullopt;
    } else if (c == '\\') {
      if (++i == line.size()) return std::nullopt;
      char next = line[i];
      if (next == '\\')
        fields.back() += '\\';
      else if (next == 't')
        fields.back() += '\t';
      else if (next == 'n')
        fields.back() += '\n';
      else
        return std::nullopt;
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

}  // namespace connwatch
