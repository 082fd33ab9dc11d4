// Writing connwatch's state files so that a crash or a full disk never leaves a torn one:
// temp file, fsync, rename, directory fsync.
#pragma once

#include <string>
#include <string_view>

namespace connwatch {

// Writes `text` to `path` atomically, creating missing parent directories (0700); the file
// is 0600. On failure returns false with `error` = "cannot save SUBJECT PATH: step: reason"
// and leaves no temp file behind.
bool WriteFileAtomically(const std::string& subject, const std::string& path, std::string_view text,
                         std::string& error);

}  // namespace connwatch
