#!/usr/bin/env python3
"""Fails when a source file of exporter/src has no unit test file of its own.

Tests mirror sources (CONTRIBUTING.md): exporter/src/**/NAME.cpp is tested by
tests/unit/NAME_test.cpp. main.cpp, which only dispatches to the subcommands, is run by the
end-to-end tests instead.
"""
import os
import sys

EXEMPT = {"main.cpp"}


def main(root):
    src = os.path.join(root, "exporter", "src")
    unit = os.path.join(root, "tests", "unit")
    missing, sources = [], 0
    for directory, _, names in os.walk(src):
        for name in sorted(names):
            if not name.endswith(".cpp") or name in EXEMPT:
                continue
            sources += 1
            test = name[:-len(".cpp")] + "_test.cpp"
            if not os.path.exists(os.path.join(unit, test)):
                missing.append(f"{os.path.relpath(os.path.join(directory, name), root)}: "
                               f"no tests/unit/{test}")
    for line in sorted(missing):
        print(line)
    if missing:
        print(f"check_tests_mirror: {len(missing)} sources without a test file")
        return 1
    print(f"check_tests_mirror: all {sources} sources have a test file")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")))
