#!/usr/bin/env python3
"""grade.same-flags: a student's server is compiled with the same flags by
`./csd grade` (the CMake target skeleton-LAB, as compile_commands.json
records it), by csd-batch and by the Gradescope autograder (both through
csd-build-submission, or the release's skeleton-LAB target built the same
way), and never with -Werror: a warning is shown, it never stops grading.

Compares, for every lab, the flags that change how code compiles or what it
warns about (-W..., -O..., -g, -std=..., -D..., -f...) of each skeleton
source in compile_commands.json with `csd-build-submission --print-flags LAB`.
Exits 1 with one line per difference.
"""

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

KEEP = ("-W", "-O", "-g", "-std=", "-D", "-f")


def relevant(flags):
    return sorted({f for f in flags if f.startswith(KEEP) and f != "-fdiagnostics-color=never"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", required=True, help="the build directory")
    parser.add_argument("--submission", required=True, help="csd-build-submission")
    parser.add_argument("--source", required=True, help="the repository")
    args = parser.parse_args()
    commands = json.loads((Path(args.build) / "compile_commands.json").read_text())
    skeletons = Path(args.source).resolve() / "skeletons"
    by_lab = {}
    for entry in commands:
        path = Path(entry["file"]).resolve()
        if skeletons not in path.parents:
            continue
        words = entry.get("arguments") or shlex.split(entry["command"])
        output = entry.get("output") or (words[words.index("-o") + 1] if "-o" in words else "")
        if ".strict.dir" in output:
            continue  # the course tree's strict compile of the skeleton, with -Werror
        lab = path.relative_to(skeletons).parts[0]
        by_lab.setdefault(lab, []).append((path.name, relevant(words[1:])))
    problems = []
    if not by_lab:
        problems.append("compile_commands.json has no skeleton source")
    for lab, sources in sorted(by_lab.items()):
        out = subprocess.run([args.submission, "--print-flags", lab], capture_output=True,
                             text=True, check=False)
        if out.returncode != 0:
            problems.append(f"{lab}: csd-build-submission --print-flags failed: {out.stderr}")
            continue
        batch = relevant(out.stdout.split())
        for name, flags in sources:
            if "-Werror" in flags:
                problems.append(f"{lab}: ./csd grade compiles {name} with -Werror")
            if flags != batch:
                only_grade = sorted(set(flags) - set(batch))
                only_batch = sorted(set(batch) - set(flags))
                problems.append(f"{lab}: {name}: only ./csd grade has {only_grade}, only "
                                f"csd-batch/Gradescope has {only_batch}")
        if "-Werror" in batch:
            problems.append(f"{lab}: csd-build-submission compiles with -Werror")
    for p in problems:
        print(f"same-flags: {p}")
    if problems:
        return 1
    print(f"same-flags: {len(by_lab)} labs, the same flags, no -Werror")
    return 0


if __name__ == "__main__":
    sys.exit(main())
