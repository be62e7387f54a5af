#!/usr/bin/env python3
"""Every integration test is split into what it does and what it checks.

Each TEST / TEST_F / TEST_P in the given *_test.cpp files must hold a
`// TRIGGER` comment (the real thing the test does) and an `// ASSERT`
comment (where it checks the agent's output), optionally followed by
`: <what>`. A test whose body is a call to a function of the same file (one
shared scenario run with other arguments) may carry the markers in that
function.

Usage: test_shape.py FILE_OR_DIRECTORY...   (a directory: its *_test.cpp)
Exit status 1 names every test without its markers.
"""

import pathlib
import re
import sys

TEST_START = re.compile(r"^(TEST|TEST_F|TEST_P)\(\s*(\w+)\s*,\s*(\w+)\s*\)", re.MULTILINE)
FUNCTION_START = re.compile(r"^[A-Za-z_][\w:<>,\s\*&]*?\b(\w+)\s*\(", re.MULTILINE)
CALL = re.compile(r"\b(\w+)\s*\(")
MARKERS = {
    "TRIGGER": re.compile(r"^\s*// TRIGGER(:|$)", re.MULTILINE),
    "ASSERT": re.compile(r"^\s*// ASSERT(:|$)", re.MULTILINE),
}


def code_only(text):
    """text with comments, string and character literals blanked (same length,
    same line breaks), so that braces in them do not count."""
    out = list(text)
    i, n = 0, len(text)

    def blank(start, end):
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            blank(i, end)
            i = end
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            open_paren = text.find("(", i + 2)
            delimiter = text[i + 2 : open_paren]
            end = text.find(")" + delimiter + '"', open_paren)
            end = n if end < 0 else end + len(delimiter) + 2
            blank(i, end)
            i = end
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():
                i += 1  # a digit separator: 1'000
                continue
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            blank(i, min(j + 1, n))
            i = j + 1
        else:
            i += 1
    return "".join(out)


def body_span(code, start):
    """(open, close) of the first brace block at or after start, or None if a
    ';' comes first (a declaration)."""
    depth_paren = 0
    i = start
    while i < len(code):
        c = code[i]
        if c == "(":
            depth_paren += 1
        elif c == ")":
            depth_paren -= 1
        elif c == ";" and depth_paren == 0:
            return None
        elif c == "{" and depth_paren == 0:
            break
        i += 1
    else:
        return None
    depth, j = 0, i
    while j < len(code):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return i, j + 1
        j += 1
    return i, len(code)


def check_file(path):
    text = path.read_text()
    code = code_only(text)
    functions = {}
    for m in FUNCTION_START.finditer(code):
        if m.group(1) in ("TEST", "TEST_F", "TEST_P"):
            continue
        span = body_span(code, m.end() - 1)
        if span:
            functions.setdefault(m.group(1), []).append(text[span[0] : span[1]])
    problems = []
    for m in TEST_START.finditer(code):
        span = body_span(code, m.end())
        name = f"{m.group(2)}.{m.group(3)}"
        line = text.count("\n", 0, m.start()) + 1
        if not span:
            problems.append(f"{path}:{line}: {name}: no body found")
            continue
        body = text[span[0] : span[1]]
        scope = [body]
        for call in set(CALL.findall(code[span[0] : span[1]])):
            scope.extend(functions.get(call, []))
        missing = [marker for marker, pattern in MARKERS.items() if not any(pattern.search(s) for s in scope)]
        if missing:
            problems.append(f"{path}:{line}: {name}: no " + " and no ".join(f"// {m}" for m in missing))
    return problems


def main(arguments):
    if not arguments:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    files = []
    for argument in arguments:
        p = pathlib.Path(argument)
        files.extend(sorted(p.glob("*_test.cpp")) if p.is_dir() else [p])
    if not files:
        print(f"no *_test.cpp in {' '.join(arguments)}", file=sys.stderr)
        return 2
    problems = [problem for f in files for problem in check_file(f)]
    for problem in problems:
        print(problem)
    tests = sum(len(TEST_START.findall(code_only(f.read_text()))) for f in files)
    print(f"{tests} tests in {len(files)} files, {len(problems)} without their TRIGGER/ASSERT markers")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
