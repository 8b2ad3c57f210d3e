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
#
# --labs LAB[,LAB...] writes a staged release for the labs being assigned:
# the lab library's sources that answer any of them (their `lesson-source`
# in labs/labs.txt: the iterative lab's parser and serve_connection(), the
# select lab's pumps) are left out, and their parts of the library ship
# compiled instead (labs/lib/prebuilt/libNAME.a, built here with the
# project's compiler and stripped of debug information), so that the later
# labs that link them build and behave as before (labs/lib/CMakeLists.txt,
# csd_lab_part). docs/instructors.md, "Staged releases".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

usage() { echo "usage: make_release.sh [--hidden] [--labs LAB[,LAB...]] DIR" >&2; exit 2; }
hidden=0
labs=""
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --hidden) hidden=1 ;;
        --labs) [ $# -ge 2 ] || usage; labs=$2; shift ;;
        --labs=*) labs=${1#--labs=} ;;
        -*) echo "make_release.sh: unknown option $1" >&2; exit 2 ;;
        *) out=$1 ;;
    esac
    shift
done
[ -n "$out" ] || usage

# withheld: the sources that answer the assigned labs (their lesson-source).
withheld=()
if [ -n "$labs" ]; then
    # A command substitution, not mapfile < <(...): an unknown lab must stop here.
    sources=$(python3 - "$ROOT" "$labs" <<'PY'
import sys
sys.path.insert(0, sys.argv[1] + "/docs")
import course  # docs/course.py: the manifest's parser
manifest = course.parse_manifest(open(sys.argv[1] + "/labs/labs.txt").read())
for lab in sys.argv[2].split(","):
    if lab not in manifest:
        sys.exit(f"make_release.sh: --labs: no lab {lab!r} in labs/labs.txt")
    for value in manifest[lab].get("lesson-source", []):
        print("\n".join(value.split()))
PY
    )
    [ -z "$sources" ] || mapfile -t withheld <<<"$sources"
fi
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
    echo "make_release.sh: $out exists and is not empty" >&2
    exit 2
fi

# What the release leaves out (git pathspecs), and why:
EXCLUDE=(
    ':!solutions'           # the reference solutions
    ':!grader/broken'        # broken servers (one is a complete poll server), models, hostile servers
    ':!tools'               # skelgen, the snippet checker, this script (tools/bench: added below)
    ':!.ci'                 # the project's CI
    ':!docs/instructors.md' # how grading works, the hidden checks, the release itself
    ':!README.md'           # replaced by tools/release/README.md
)
if [ "$hidden" -eq 0 ]; then
    EXCLUDE+=(':!grader/grade/hidden')  # instructor-only checks (grader/grade/hidden.hpp)
fi
for source in "${withheld[@]}"; do
    EXCLUDE+=(":!$source")  # answers an assigned lab: shipped compiled (below)
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
count=0
while IFS= read -r -d '' file; do
    [ -e "$ROOT/$file" ] || continue  # deleted in the work tree, not yet committed
    mkdir -p "$out/$(dirname "$file")"
    cp -p "$ROOT/$file" "$out/$file"
    count=$((count + 1))
done < <(
    git -C "$ROOT" ls-files -z -- . "${EXCLUDE[@]}"
    # The benchmarks the handouts have students run on their own servers
    # (./csd bench --student, bench herd, bench idle): tools/bench without
    # its tests, which need the solutions.
    git -C "$ROOT" ls-files -z -- tools/bench ':!tools/bench/tests'
)

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

# The withheld sources' parts of the library, compiled: a build of the
# library only, in build/release-lib/ (ccache when there is one).
if [ ${#withheld[@]} -gt 0 ]; then
    build=$ROOT/build/release-lib
    launcher=()
    if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
    cmake -S "$ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCSD_WERROR=OFF \
        -DCSD_BUILD_TESTS=OFF -DCSD_BUILD_DOCS=OFF -DCSD_FUZZ=OFF \
        -DCMAKE_POSITION_INDEPENDENT_CODE=ON "${launcher[@]}" >/dev/null
    mkdir -p "$out/labs/lib/prebuilt"
    for source in "${withheld[@]}"; do
        name=csd_lab_$(basename "$source" .cpp)  # labs/lib/src/pump.cpp: csd_lab_pump
        cmake --build "$build" --target "$name" >/dev/null
        archive=$(find "$build/labs/lib" -maxdepth 1 -name "lib$name.a")
        [ -n "$archive" ] || { echo "make_release.sh: no lib$name.a in $build/labs/lib" >&2; exit 1; }
        strip --strip-debug -o "$out/labs/lib/prebuilt/lib$name.a" "$archive"
    done
fi

staged=""
[ ${#withheld[@]} -eq 0 ] || staged=" (staged for $labs: ${withheld[*]} compiled only)"
echo "make_release.sh: $count files into $out$([ "$hidden" -eq 1 ] && echo ' (with the hidden checks)')$staged"
