#!/usr/bin/env bash
# make_release.sh [--hidden] DIR: writes the student release of the course
# into DIR (which must not exist, or be an empty directory): the files git
# tracks (git ls-files, so build outputs and untracked files never leak),
# minus what only instructors have (the EXCLUDE list below), plus the
# student README (tools/release/README.md). ./csd release DIR runs it;
# docs/instructors.md ("Student release") says what it holds.
#
# --hidden keeps the hidden checks (grader/grade/hidden/): for the Gradescope
# autograder (tools/release/gradescope.sh), never for students.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

hidden=0
out=""
for arg in "$@"; do
    case "$arg" in
        --hidden) hidden=1 ;;
        -*) echo "make_release.sh: unknown option $arg" >&2; exit 2 ;;
        *) out=$arg ;;
    esac
done
[ -n "$out" ] || { echo "usage: make_release.sh [--hidden] DIR" >&2; exit 2; }
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
    echo "make_release.sh: $out exists and is not empty" >&2
    exit 2
fi

# What the release leaves out (git pathspecs), and why:
EXCLUDE=(
    ':!solutions'           # the reference solutions
    ':!grader/broken'        # broken servers (one is a complete poll server), models, hostile servers
    ':!tools'               # skelgen, the snippet checker and the benchmarks (they need solutions/), this script
    ':!.ci'                 # the project's CI
    ':!docs/instructors.md' # how grading works, the hidden checks, the release itself
    ':!README.md'           # replaced by tools/release/README.md
)
if [ "$hidden" -eq 0 ]; then
    EXCLUDE+=(':!grader/grade/hidden')  # instructor-only checks (grader/grade/hidden.hpp)
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
count=0
while IFS= read -r -d '' file; do
    [ -e "$ROOT/$file" ] || continue  # deleted in the work tree, not yet committed
    mkdir -p "$out/$(dirname "$file")"
    cp -p "$ROOT/$file" "$out/$file"
    count=$((count + 1))
done < <(git -C "$ROOT" ls-files -z -- . "${EXCLUDE[@]}")

cp "$HERE/README.md" "$out/README.md"

# The docs without docs/instructors.md: its toctree entry and its one link go.
# replace FILE OLD NEW: fails when OLD is not in FILE (the docs changed: fix this).
replace() {
    local file=$out/$1 old=$2 new=$3 text
    text=$(<"$file")
    [[ "$text" == *"$old"* ]] || { echo "make_release.sh: '$old' not in $1" >&2; exit 1; }
    printf '%s\n' "${text//"$old"/"$new"}" >"$file"
}
replace docs/index.md $'\ninstructors\n' $'\n'
replace docs/workflow.md '[Instructors](instructors.md)' '`CMakePresets.json`'

echo "make_release.sh: $count files into $out$([ "$hidden" -eq 1 ] && echo ' (with the hidden checks)')"
