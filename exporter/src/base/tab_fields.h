// Lines of tab-separated fields that hold hostile text (process names, pod names): '\',
// tab and newline inside a field are written as \\, \t and \n, every other byte as it is, so
// a name with any bytes at all, invalid UTF-8 included, comes back exactly as it was. The
// beacon tracker's state file and the held findings file use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace connwatch {

// Appends `text` escaped; the caller writes the tabs between fields and the newline.
void AppendTabField(std::string_view text, std::string& out);

// The fields of one line (without its newline), unescaped. nullopt for what AppendTabField
// never writes: a raw newline, a backslash followed by anything but '\', 't' or 'n', or a
// backslash at the end.
std::optional<std::vector<std::string>> SplitTabFields(std::string_view line);

}  // namespace connwatch
