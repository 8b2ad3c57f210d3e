#!/usr/bin/env python3
"""How much of each lab's lesson the student writes (the lesson.share test).

For every ready lab of the manifest (labs/labs.txt) it reads the marked
reference solution (solutions/LAB/*.cpp, *.hpp) and counts:

- code lines: lines that are neither blank nor only a comment (the
  `// SKELETON:` lines and the markers are comments);
- student lines: code lines inside `// BEGIN SOLUTION` ... `// END SOLUTION`,
  which the skeleton leaves out (tools/skelgen.cpp) and the student writes;
  a block marked `// BEGIN SOLUTION ONLY` ... `// END SOLUTION ONLY` is
  left out of the skeleton too, but no TODO asks for it (a mode of the
  solution's own, for a benchmark): its lines count nowhere;
- the share: student lines / code lines;
- spelled calls: TODO comments that dictate a call with its arguments
  (`mmap(nullptr, size, ...)`, `waitpid(-1, &status, WNOHANG)`): a name
  followed by parentheses holding at least two arguments. A TODO says what
  must happen, why and where to read, never the call.

- steps: the numbered steps of the handout's "What to build" section
  (labs/LAB/handout.md) against the `handout step N` its TODOs name: a
  TODO may only name a step the handout has.

It prints one table row per lab (`--markdown`: the table of
docs/instructors.md). No TODO of any lab may spell a call or name a step
its handout does not have; a lab whose
manifest entry declares `lesson-share PERCENT` must also reach that share
(labs without the field are reported only: not yet rewritten). The exit
status is 1 when either rule is broken.
"""

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))
import course  # noqa: E402  (docs/course.py: the manifest's parser)

# A call with two or more arguments, the name right before the parenthesis:
# `name(a, b...)`, `ns::name(...)`, arguments with one level of parentheses
# (`sizeof(Board)`). Prose in parentheses ("(it sent EOF, ...)") has a space.
_ARG = r"(?:[^()]|\([^()]*\))*"
CALL = re.compile(r"\b[A-Za-z_][A-Za-z0-9_:.]*\(" + _ARG + "," + _ARG + r"\)")


def is_comment(line: str) -> bool:
    s = line.strip()
    return s.startswith("//") or s.startswith("/*") or s.startswith("*")


def measure(paths):
    """(code lines, student lines, spelled calls) of the marked sources."""
    code = student = 0
    spelled = []
    for path in paths:
        inside = False
        only = False  # inside a SOLUTION ONLY block: counted nowhere
        todo = []  # the comment text of the TODO being read, and where it starts
        todo_at = 0

        def end_todo():
            # A call may run over several comment lines: search them joined.
            if todo:
                for call in CALL.findall(" ".join(todo)):
                    spelled.append(f"{path.relative_to(ROOT)}:{todo_at}: {call}")
            todo.clear()

        for number, line in enumerate(path.read_text().splitlines(), 1):
            s = line.strip()
            if "BEGIN SOLUTION" in s or "END SOLUTION" in s:
                end_todo()
                inside = "BEGIN SOLUTION" in s
                only = inside and "SOLUTION ONLY" in s
                continue
            if is_comment(s):
                text = s.lstrip("/* ")
                if text.startswith("TODO"):
                    end_todo()
                    todo.append(text)
                    todo_at = number
                elif todo and not text.startswith("SKELETON:"):
                    todo.append(text)
                continue
            end_todo()
            if not s or only:
                continue
            code += 1
            if inside:
                student += 1
        end_todo()
    return code, student, spelled


_WHAT_TO_BUILD = re.compile(r"^## What to build\n(.*?)(?=^## |\Z)", re.S | re.M)


def steps(lab, sources):
    """(the handout's step numbers, the step numbers the TODOs name)."""
    handout = (ROOT / "labs" / lab / "handout.md").read_text()
    section = _WHAT_TO_BUILD.search(handout)
    listed = set()
    if section:
        listed = {int(n) for n in re.findall(r"^(\d+)\. ", section.group(1), re.M)}
    named = set()
    for path in sources:
        named |= {int(n) for n in re.findall(r"handout steps? (\d+)", path.read_text())}
    return listed, named


def rows():
    manifest = course.read_manifest()
    out = []
    for lab in manifest:
        if course.manifest_field(manifest, lab, "status") != "ready":
            continue
        sources = sorted((ROOT / "solutions" / lab).glob("*.[ch]pp"))
        code, student, spelled = measure(sources)
        target = course.manifest_field(manifest, lab, "lesson-share")
        listed, named = steps(lab, sources)
        out.append(
            {
                "lab": lab,
                "code": code,
                "student": student,
                "share": 100.0 * student / code if code else 0.0,
                "spelled": spelled,
                "target": int(target) if target else None,
                "unknown_steps": sorted(named - listed),
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true", help="print the docs' table")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the spelled calls")
    parser.add_argument(
        "--docs",
        metavar="MD",
        help="also fail unless the table in MD is the --markdown table of today",
    )
    args = parser.parse_args()
    problems = []
    table = rows()
    markdown = [
        "| Lab | Code lines | The student's | Share | Target | TODOs spelling a call |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in table:
        target = f"{r['target']} %" if r["target"] is not None else "not yet"
        markdown.append(
            f"| {r['lab']} | {r['code']} | {r['student']} | {r['share']:.0f} % | {target} "
            f"| {len(r['spelled'])} |"
        )
    if args.markdown:
        print("\n".join(markdown))
    if args.docs and "\n".join(markdown) + "\n" not in Path(args.docs).read_text():
        problems.append(
            f"{args.docs}: its table of lesson shares is not today's: replace it with the "
            "output of `python3 tools/lesson_share.py --markdown`"
        )
    for r in table:
        target = f"{r['target']} %" if r["target"] is not None else "not yet"
        if args.markdown:
            pass
        else:
            print(
                f"{r['lab']:<10} {r['code']:>5} code lines, {r['student']:>4} the student's "
                f"({r['share']:3.0f} %), target {target}, {len(r['spelled'])} TODO lines "
                "spelling a call"
            )
        if args.verbose:
            for s in r["spelled"]:
                print(f"    {s}")
        for s in r["spelled"]:
            problems.append(f"{r['lab']}: a TODO spells a call with its arguments: {s}")
        for n in r["unknown_steps"]:
            problems.append(
                f"{r['lab']}: a TODO names handout step {n}, which the handout's "
                f"\"What to build\" does not have (labs/{r['lab']}/handout.md)"
            )
        if r["target"] is not None and r["share"] < r["target"]:
            problems.append(
                f"{r['lab']}: the student writes {r['share']:.0f} % of the solution's code "
                f"lines, below its target of {r['target']} % (labs/labs.txt lesson-share)"
            )
    for p in problems:
        print(f"lesson-share: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
