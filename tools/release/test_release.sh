#!/usr/bin/env bash
# The release tests (tools/release/CMakeLists.txt, label `release`):
#
#   test_release.sh tree DIR [CMAKE ARGS...]
#       DIR/ becomes a fake /autograder whose source/ is what
#       `./csd gradescope sigpipe` zips, without the hidden checks: the student
#       release (source/csdesign) with setup.sh and run_autograder. The
#       release is staged for iterative, select and fdpass (make_release.sh
#       --labs): their library answers are there compiled only. setup.sh
#       (without apt) configures and builds it from scratch with the outer
#       build's compiler, launcher and flags (the CMAKE ARGS); then every
#       skeleton and csd-bench are built there, and csd-bench runs once on
#       the student's skeleton-iterative (the benchmarks ship in the release).
#   test_release.sh grade DIR REPO OUTER_CSD_GRADE
#       Nothing leaked (check_leaks.py), the release's csd-grade knows no
#       hidden check, every skeleton built; the staged labs' answers are not
#       in source (no protocol.cpp, serve.cpp, pump.cpp; no send_fd/recv_fd
#       anywhere), only compiled; and the skeletons of the staged labs, poll
#       (servers) and sigpipe (a program) score at most 25 %, graded whole by
#       the release's own csd-grade; csd-trace runs there on skeleton-fork.
#   test_release.sh gradescope DIR REPO
#       run_autograder against DIR with no submission, a file that does not
#       compile, the untouched skeleton and the reference solution;
#       check_results.py validates each results.json.
#   test_release.sh detect REPO
#       check_leaks.py fails on a tree holding a solution-only line, a copy of
#       a solution file or a hidden check id, and passes a clean one.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
say() { printf 'test_release: %s\n' "$*"; }
die() { printf 'test_release: FAILED: %s\n' "$*" >&2; exit 1; }

# The labs of the staged release the tests build.
STAGED=iterative,select,fdpass

cmd=$1
shift

case "$cmd" in
tree)
    dir=$1
    shift
    rm -rf "$dir"
    mkdir -p "$dir"
    bash "$HERE/gradescope.sh" --no-hidden --labs "$STAGED" --stage "$dir/source" sigpipe
    CSD_AUTOGRADER_ROOT=$dir CSD_SKIP_APT=1 bash "$dir/source/setup.sh" "$@"
    tree=$dir/source/csdesign
    targets=()
    for skel in "$tree"/skeletons/*/; do targets+=("skeleton-$(basename "$skel")"); done
    cmake --build "$tree/build" --target "${targets[@]}" csd-bench
    bash "$tree/csd" help >/dev/null
    say "the release tree builds: ${targets[*]} csd-bench"
    # The benchmarks run in the release on the student's builds (there are no
    # solutions): a tiny csd-bench run gives a row for skeleton-iterative.
    "$tree/build/bin/csd-bench" --student --labs iterative --profile unp --connections 10 \
        --repeat 1 --deadline 20 >"$dir/bench.txt" 2>&1 || true
    grep -q "iterative (yours)" "$dir/bench.txt" || { cat "$dir/bench.txt"; die "csd-bench in the release"; }
    for script in herd.sh idle_conns.sh sendfile.sh; do
        [ -f "$tree/tools/bench/$script" ] || die "the release has no tools/bench/$script"
    done
    say "csd-bench runs in the release on the student's builds"
    ;;
grade)
    dir=$1 repo=$2 outer=$3
    tree=$dir/source/csdesign
    bin=$tree/build/bin
    mapfile -t hidden < <("$outer" --list --hidden | sed -n 's/^  \([a-z0-9-]*\) .*\[hidden\]$/\1/p' | sort -u)
    ids=()
    for id in "${hidden[@]}"; do ids+=(--hidden-id "$id"); done
    "$PY" "$HERE/check_leaks.py" "$repo" "$tree" "${ids[@]}"
    inner=$("$bin/csd-grade" --list --hidden)
    for id in "${hidden[@]}"; do
        if grep -q -- " $id " <<<"$inner"; then die "the release's csd-grade lists the hidden check $id"; fi
    done
    grep -q '\[hidden\]' <<<"$inner" && die "the release's csd-grade has hidden checks"
    say "the release's csd-grade knows none of the ${#hidden[@]} hidden check(s): ${hidden[*]}"
    for skel in "$tree"/skeletons/*/; do
        lab=$(basename "$skel")
        [ -x "$bin/skeleton-$lab" ] || die "skeleton-$lab was not built"
    done
    # The staged labs' lesson-source files (labs/labs.txt), as make_release.sh reads them.
    mapfile -t withheld < <("$PY" - "$repo" "$STAGED" <<'PY'
import sys
sys.path.insert(0, sys.argv[1] + "/docs")
import course
manifest = course.parse_manifest(open(sys.argv[1] + "/labs/labs.txt").read())
for lab in sys.argv[2].split(","):
    for value in manifest[lab].get("lesson-source", []):
        print("\n".join(value.split()))
PY
    )
    [ ${#withheld[@]} -gt 0 ] || die "no lesson-source among the staged labs $STAGED"
    for source in "${withheld[@]}"; do
        name=csd_lab_$(basename "$source" .cpp)
        [ ! -e "$tree/$source" ] || die "the staged release has $source"
        [ -s "$tree/labs/lib/prebuilt/lib$name.a" ] || die "no prebuilt lib$name.a"
    done
    if grep -rIlE '\b(send_fd|recv_fd)\b' "$tree" --exclude-dir=build; then
        die "the staged release names send_fd/recv_fd (fdpass's lesson)"
    fi
    say "staged for $STAGED: the library's answers are compiled only"
    for lab in ${STAGED//,/ } poll sigpipe; do
        status=0
        "$bin/csd-grade" "$lab" "$bin/skeleton-$lab" --json "$dir/skeleton-$lab.json" >"$dir/skeleton-$lab.log" 2>&1 ||
            status=$?
        [ "$status" -le 1 ] || { cat "$dir/skeleton-$lab.log"; die "csd-grade $lab: exit status $status"; }
        "$PY" "$HERE/check_results.py" "$dir/skeleton-$lab.json" --max-percent 25 ||
            { cat "$dir/skeleton-$lab.log"; die "the untouched skeleton of $lab"; }
    done
    # csd-trace ships too (`./csd trace LAB` traces the student's build).
    rm -rf "$dir/trace"
    "$PY" "$tree/grader/trace/csd_trace.py" --lab fork --server "$bin/skeleton-fork" \
        --out "$dir/trace" >"$dir/trace.log" 2>&1 || { cat "$dir/trace.log"; die "csd-trace in the release"; }
    for file in trace.json timeline.svg summary.txt; do
        [ -s "$dir/trace/$file" ] || { cat "$dir/trace.log"; die "csd-trace in the release wrote no $file"; }
    done
    say "csd-trace runs in the release on the student's skeleton-fork"
    ;;
gradescope)
    dir=$1 repo=$2
    lab=sigpipe  # a program lab: its reference grades in half a second
    file=main.cpp
    run() {  # run NAME [FILE]: submits FILE (none: nothing) and runs run_autograder
        rm -rf "$dir/submission" "$dir/results"
        mkdir -p "$dir/submission"
        [ $# -lt 2 ] || cp "$2" "$dir/submission/$file"
        say "run_autograder: $1"
        CSD_AUTOGRADER_ROOT=$dir bash "$dir/source/run_autograder" >"$dir/$1.log" 2>&1 ||
            { cat "$dir/$1.log"; die "run_autograder ($1) exited with status $?"; }
        [ -s "$dir/results/results.json" ] || { cat "$dir/$1.log"; die "$1: no results.json"; }
        cp "$dir/results/results.json" "$dir/$1.json"
    }
    # The untouched skeleton, put back into the tree at the end, however it ends.
    skeleton=$repo/skeletons/$lab/$file
    trap 'cp "$skeleton" "$dir/source/csdesign/skeletons/$lab/$file"' EXIT
    run missing
    "$PY" "$HERE/check_results.py" "$dir/missing.json" --zero-saying "No $file in the submission"
    printf '#include "csd/lab.hpp"\nint main() { return not_declared_anywhere; }\n' >"$dir/broken.cpp"
    run broken "$dir/broken.cpp"
    "$PY" "$HERE/check_results.py" "$dir/broken.json" --zero-saying "does not compile"
    grep -q "not_declared_anywhere" "$dir/broken.json" || die "the compiler's error is not in results.json"
    run skeleton "$skeleton"
    "$PY" "$HERE/check_results.py" "$dir/skeleton.json" --max-percent 25
    run solution "$repo/solutions/$lab/$file"
    "$PY" "$HERE/check_results.py" "$dir/solution.json" --full
    # A repository submitted whole: skeletons/LAB/server.cpp is found in it.
    rm -rf "$dir/submission"
    mkdir -p "$dir/submission/repo/skeletons/$lab"
    cp "$dir/broken.cpp" "$dir/submission/repo/skeletons/$lab/$file"
    CSD_AUTOGRADER_ROOT=$dir bash "$dir/source/run_autograder" >"$dir/repo.log" 2>&1
    "$PY" "$HERE/check_results.py" "$dir/results/results.json" --zero-saying "does not compile"
    ;;
detect)
    repo=$1
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    expect() {  # expect STATUS NAME [TEXT]: check_leaks.py on $work/NAME exits with STATUS, saying TEXT
        local status=0
        "$PY" "$HERE/check_leaks.py" "$repo" "$work/$2" --hidden-id hidden-check-id >"$work/$2.log" 2>&1 ||
            status=$?
        cat "$work/$2.log"
        [ "$status" -eq "$1" ] || die "check_leaks.py on a tree with $2: exit status $status, expected $1"
        [ $# -lt 3 ] || grep -q -- "$3" "$work/$2.log" || die "check_leaks.py on a tree with $2 did not say '$3'"
    }
    mkdir -p "$work/clean/skeletons/x" "$work/line/skeletons/x" "$work/copy/docs" "$work/id/docs"
    cp "$repo/skeletons/poll/server.cpp" "$work/clean/skeletons/x/server.cpp"
    expect 0 clean
    line=$("$PY" "$HERE/check_leaks.py" "$repo" "$work" --sample)
    say "planting the solution-only line: $line"
    { cat "$repo/skeletons/poll/server.cpp"; printf '    %s\n' "$line"; } >"$work/line/skeletons/x/server.cpp"
    expect 1 line "a solution-only line"
    cp "$repo/grader/broken/test_server.hpp" "$work/copy/docs/notes.txt"
    expect 1 copy "a copy of grader/broken/test_server.hpp"
    echo "the check hidden-check-id is worth 5 points" >"$work/id/docs/notes.md"
    expect 1 id "names the hidden check hidden-check-id"
    ;;
*)
    die "unknown command $cmd"
    ;;
esac
