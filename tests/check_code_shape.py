#!/usr/bin/env python3
"""Fails when a C or C++ file of exporter/ or tests/ is longer than 600 lines, or a function
of exporter/ longer than 80 (from the first line of its signature to its closing brace;
lambdas count with the function they are written in). Small files and short functions are
how connwatch stays readable (CONTRIBUTING.md, "How the code reads"); test tables may make
long test functions, so only the product's functions are measured.

The C++ is read as text: comments, string and character literals (raw strings included) are
blanked out, then braces are matched. A brace opens a function body when it follows a
parameter list at namespace or class scope.
"""
import argparse
import os
import re
import sys

MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80
SCOPE_HEADER = re.compile(r"^(?:template\s*<.*>\s*)?(?:namespace\b|extern\s*$|(?:class|struct|union|enum)\b)",
                          re.S)
CONTROL = re.compile(r"^(?:if|for|while|switch|catch|do|else|try)\b")
FUNCTION_TAIL = re.compile(
    r"\)\s*(?:const|noexcept(?:\([^)]*\))?|override|final|mutable|&|&&|\s)*"
    r"(?:->\s*[\w:<>,\s*&]+)?\s*(?::\s*[\w:]+\s*[({].*)?$", re.S)


def blank_literals(text):
    """Comments and literals become spaces (newlines kept), so braces in them do not count."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not text[i - 1].isalnum()):
            open_paren = text.find("(", i + 2)
            delimiter = text[i + 2:open_paren]
            j = text.find(")" + delimiter + '"', open_paren)
            j = n if j < 0 else j + len(delimiter) + 2
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (j - i - 1) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def blank_preprocessor(code):
    """Preprocessor lines (with their continuations) become blank lines."""
    lines, continued = [], False
    for line in code.split("\n"):
        directive = continued or line.lstrip().startswith("#")
        continued = directive and line.endswith("\\")
        lines.append("" if directive else line)
    return "\n".join(lines)


def functions(text):
    """(name, first line, last line) of every function body at namespace or class scope."""
    code = blank_preprocessor(blank_literals(text))
    stack = []  # kinds of the open braces: "scope", "function", "other"
    header_start = 0  # where the text before the next brace began
    found = []
    for i, c in enumerate(code):
        if c == "{":
            header = code[header_start:i].strip()
            in_scope = not stack or stack[-1][0] == "scope"
            kind = "other"
            if in_scope and SCOPE_HEADER.match(header):
                kind = "scope"
            elif in_scope and "(" in header and not CONTROL.match(header) \
                    and ("=" not in header.split("(")[0] or re.search(r"\boperator\b", header)) \
                    and FUNCTION_TAIL.search(header):
                kind = "function"
                start = header_start + (len(code[header_start:i]) -
                                        len(code[header_start:i].lstrip()))
                name = re.findall(r"([~\w:]+)\s*\(", header.split(")")[0] + ")")
                stack.append(("function", start, name[0] if name else "?"))
                header_start = i + 1
                continue
            stack.append((kind, 0, ""))
            header_start = i + 1
        elif c == "}":
            if stack:
                kind, start, name = stack.pop()
                if kind == "function":
                    first = code.count("\n", 0, start) + 1
                    last = code.count("\n", 0, i) + 1
                    found.append((name, first, last))
            header_start = i + 1
        elif c == ";" and (not stack or stack[-1][0] == "scope"):
            header_start = i + 1
        elif c == ":" and (not stack or stack[-1][0] == "scope"):
            # "public:", "private:" in a class: the next declaration starts after them.
            before = code[header_start:i].strip()
            if before in ("public", "private", "protected"):
                header_start = i + 1
    return found


def main(root, max_file_lines, max_function_lines):
    problems, files, bodies = [], 0, 0
    for top in ("exporter", "tests"):
        for directory, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if not name.endswith((".h", ".cpp", ".c")):
                    continue
                path = os.path.join(directory, name)
                relative = os.path.relpath(path, root)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                files += 1
                lines = text.count("\n")
                if lines > max_file_lines:
                    problems.append(f"{relative}: {lines} lines (at most {max_file_lines})")
                if top != "exporter":
                    continue
                for function, first, last in functions(text):
                    bodies += 1
                    length = last - first + 1
                    if length > max_function_lines:
                        problems.append(f"{relative}:{first}: {function} is {length} lines "
                                        f"(at most {max_function_lines})")
    for problem in sorted(problems):
        print(problem)
    if problems:
        print(f"check_code_shape: {len(problems)} problems")
        return 1
    print(f"check_code_shape: {files} files of at most {max_file_lines} lines, "
          f"{bodies} functions of exporter/ of at most {max_function_lines}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default=os.path.join(os.path.dirname(__file__), ".."))
    parser.add_argument("--max-file-lines", type=int, default=MAX_FILE_LINES)
    parser.add_argument("--max-function-lines", type=int, default=MAX_FUNCTION_LINES)
    args = parser.parse_args()
    sys.exit(main(args.root, args.max_file_lines, args.max_function_lines))
