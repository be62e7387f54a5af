#!/usr/bin/env python3
"""What is public, and who may include it.

The rule (README "Source layout"):
- a stage's public header is include/shimwatch/<stage>.hpp, one per stage;
  every other header in include/shimwatch/ belongs to the common layer;
- a stage's own headers stay in its folder (src/<stage>/), and only that
  stage includes them (its unit tests may, to reach what is not public);
- a stage (its public header and everything in src/<stage>/) includes only
  the common layer's headers, its own, and the public headers of the stages
  it links (the STAGES of its shimwatch_stage() in CMakeLists.txt, and
  theirs), so that even a header-only use of a stage above it is refused;
- the common layer's headers include only each other.

The link step already refuses a call into a stage not linked (the layering
check executables); this check covers what the linker cannot see: types,
inline functions and headers.

Usage: header_layering.py SOURCE_ROOT
Exit status 1 names every include that breaks the rule.
"""

import pathlib
import re
import sys

STAGE_CALL = re.compile(r"shimwatch_stage\(\s*(\w+)(.*?)\)\s*$", re.MULTILINE | re.DOTALL)
KEYWORDS = {"SOURCES", "STAGES", "LINKS", "PUBLIC_LINKS"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def declared_stages(cmake_text):
    """{stage: [stages it links]} from the shimwatch_stage() calls."""
    stages = {}
    for match in STAGE_CALL.finditer(cmake_text):
        name, body = match.group(1), match.group(2)
        words = re.findall(r'"[^"]*"|[^\s]+', body)
        linked, section = [], None
        for word in words:
            if word in KEYWORDS:
                section = word
            elif section == "STAGES":
                linked.append(word)
        stages[name] = linked
    return stages


def reachable(stages, name):
    """Every stage name links, directly or through another."""
    seen, todo = set(), list(stages.get(name, []))
    while todo:
        stage = todo.pop()
        if stage not in seen:
            seen.add(stage)
            todo.extend(stages.get(stage, []))
    return seen


def check(root):
    root = pathlib.Path(root)
    stages = declared_stages((root / "CMakeLists.txt").read_text())
    if "common" not in stages or len(stages) < 2:
        return ["CMakeLists.txt: no shimwatch_stage() calls found"], 0
    public = {p.stem for p in (root / "include" / "shimwatch").glob("*.hpp")}
    common_headers = public - set(stages)
    problems, checked = [], 0

    def includes(path):
        text = path.read_text()
        return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in INCLUDE.finditer(text)]

    def check_file(path, stage):
        nonlocal checked
        checked += 1
        allowed_public = common_headers | {stage} | reachable(stages, stage)
        if stage == "common":
            allowed_public = common_headers | {"common"}
        for line, target in includes(path):
            where = f"{path.relative_to(root)}:{line}"
            if target.startswith("shimwatch/"):
                header = pathlib.PurePosixPath(target).stem
                if header not in public:
                    problems.append(f"{where}: {target} does not exist")
                elif header not in allowed_public:
                    problems.append(
                        f"{where}: the {stage} stage includes {target}, the public header of "
                        f"the {header} stage, which it does not link")
            elif "/" in target:
                folder = target.split("/", 1)[0]
                if folder in stages and folder != stage:
                    problems.append(
                        f"{where}: {target} is a header of the {folder} stage's own, "
                        f"not public; only {folder} includes it")

    for header in sorted((root / "include" / "shimwatch").glob("*.hpp")):
        check_file(header, header.stem if header.stem in stages else "common")
    for stage in sorted(stages):
        folder = root / "src" / stage
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.suffix in {".hpp", ".cpp", ".h", ".in"} and path.is_file():
                    check_file(path, stage)
    return problems, checked


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    problems, checked = check(sys.argv[1])
    for problem in problems:
        print(problem)
    print(f"{checked} files checked, {len(problems)} includes break the layering")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
