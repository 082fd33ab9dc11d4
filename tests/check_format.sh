#!/usr/bin/env bash
# Fails when any tracked C/C++ file is not clang-formatted (.clang-format, Google-based).
set -euo pipefail
cd "$1"
files=$(git ls-files '*.cpp' '*.h' '*.c' 2>/dev/null || find exporter tests -name '*.cpp' -o -name '*.h' -o -name '*.c')
[ -n "$files" ] || { echo "no sources found" >&2; exit 1; }
echo "$files" | xargs clang-format --dry-run --Werror
echo "clang-format: $(echo "$files" | wc -l) files clean"
