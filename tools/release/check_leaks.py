#!/usr/bin/python3
"""check_leaks.py REPO TREE [--hidden-id ID]...: fails (exit status 1) when
the student release TREE holds anything of the instructor's: a line that
only a solution has, a file of solutions/, grader/broken/ or
grader/grade/hidden/ (by path or by content), or the id of a hidden check.

A line "only a solution has" is a non-trivial line (at least 12 characters
once stripped, with a letter or digit in it, not a marker comment) inside a
BEGIN SOLUTION / END SOLUTION block of REPO's solutions/*/*, that appears in
none of REPO's other files (git ls-files, outside the instructor-only
directories): the skeletons, the handouts, the lab library, the docs, the
grader, the client, the tools (a handout may quote the solution on purpose;
a line such as `conn.reset();` or a waitpid() loop is common code). Lines are compared stripped of their indentation, in every text
file of TREE."""

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

SECRET_DIRS = ("solutions", "grader/broken", "grader/grade/hidden")


def text_lines(path):
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (UnicodeDecodeError, OSError):
        return []


def files(root):
    return [p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]


def nontrivial(line):
    s = line.strip()
    return len(s) >= 12 and any(c.isalnum() for c in s) and "SOLUTION" not in s and not s.startswith("// SKELETON")


def solution_lines(repo):
    lines = set()
    for path in sorted((repo / "solutions").glob("*/*")):
        inside = False
        for line in text_lines(path):
            if "BEGIN SOLUTION" in line:
                inside = True
            elif "END SOLUTION" in line:
                inside = False
            elif inside and nontrivial(line):
                lines.add(line.strip())
    public = set()
    for path in tracked_files(repo):
        if not any(path.is_relative_to(repo / s) for s in SECRET_DIRS):
            public.update(line.strip() for line in text_lines(path))
    return lines - public


def tracked_files(repo):
    """REPO's files under version control (build directories and other
    untracked files are not the course's text)."""
    names = subprocess.run(["git", "-C", str(repo), "ls-files", "-z"], check=True,
                           capture_output=True).stdout.decode().split("\0")
    return [repo / n for n in names if n and (repo / n).is_file()]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("tree", type=Path)
    parser.add_argument("--hidden-id", action="append", default=[])
    parser.add_argument("--sample", action="store_true",
                        help="print one solution-only line of REPO and exit (for the test "
                             "that plants it)")
    args = parser.parse_args()
    if args.sample:
        print(sorted(solution_lines(args.repo))[0])
        return 0

    secret_lines = solution_lines(args.repo)
    if not secret_lines:
        print("check_leaks: found no solution-only line in the solutions: nothing to look for?")
        return 2
    secret_files = {}
    for d in SECRET_DIRS:
        for path in files(args.repo / d):
            if path.stat().st_size > 0:
                secret_files[digest(path)] = path.relative_to(args.repo)

    problems = []
    # TREE's own build directory (made by the release test) is not part of the release.
    tree_files = [p for p in files(args.tree) if not p.is_relative_to(args.tree / "build")]
    for path in tree_files:
        rel = path.relative_to(args.tree)
        if any(str(rel) == d or str(rel).startswith(d + "/") for d in SECRET_DIRS):
            problems.append(f"{rel}: an instructor-only path")
            continue
        if path.stat().st_size > 0 and digest(path) in secret_files:
            problems.append(f"{rel}: a copy of {secret_files[digest(path)]}")
        for number, line in enumerate(text_lines(path), 1):
            s = line.strip()
            if s in secret_lines:
                problems.append(f"{rel}:{number}: a solution-only line: {s}")
            for hidden in args.hidden_id:
                if hidden in line:
                    problems.append(f"{rel}:{number}: names the hidden check {hidden}")
    print(f"check_leaks: {len(tree_files)} files of {args.tree} against {len(secret_lines)} "
          f"solution-only lines, {len(secret_files)} instructor-only files, "
          f"{len(args.hidden_id)} hidden check ids")
    for p in problems[:50]:
        print("  LEAK " + p)
    if problems:
        print(f"check_leaks: {len(problems)} leaks")
        return 1
    print("check_leaks: nothing leaked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
