#!/usr/bin/env bash
# csd: the one entry point of the course (students, instructors and CI).
# `./csd help` says what it does; README.md explains the course.
set -euo pipefail

# The caller's directory: `./csd batch` takes paths relative to it.
CALLER_PWD=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

BIN="$ROOT/build/bin"
# For ccache (see configure): hash paths relative to the repository.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$ROOT} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
# The student release (./csd release DIR) has no solutions/: there ./csd
# builds and grades the skeletons only, and tests what a student's tree can pass.
RELEASE=0
[ -d "$ROOT/solutions" ] || RELEASE=1
LAB_SOURCES=solutions
[ "$RELEASE" -eq 0 ] || LAB_SOURCES=skeletons
# manifest_labs [KEY VALUE]: the ids of the labs of the lab manifest
# (labs/labs.txt, the one list of labs), in course order; with KEY VALUE
# only the ready labs whose field KEY is VALUE (`threads yes`).
manifest_labs() {
    awk -v key="${1:-}" -v value="${2:-}" '
        function flush() { if (id != "" && (key == "" || (ready && match_))) print id }
        /^lab[ \t]/ { flush(); id = $2; ready = 0; match_ = 0; next }
        /^[ \t]+status[ \t]+ready[ \t]*$/ { ready = 1 }
        key != "" && $1 == key && $2 == value { match_ = 1 }
        END { flush() }' "$ROOT/labs/labs.txt"
}
# The order the labs are taught in; labs not listed there come after, by name.
mapfile -t COURSE_ORDER < <(manifest_labs)
# Debian packages. doctest-dev is in the build list because the default
# configuration builds the unit tests too. The lab list has the tools the
# handouts use by hand (nc -N is netcat-openbsd's); the grader's zero-copy
# check (sendfile lab) watches a server with strace. The test suite is also
# built with clang++ (the clang-asan preset).
BUILD_PACKAGES=(cmake g++ ninja-build libfmt-dev libcli11-dev nlohmann-json3-dev doctest-dev)
# The uring lab builds on liburing, found by CMake with pkg-config (without
# it that lab alone is left out).
BUILD_PACKAGES+=(pkg-config liburing-dev)
LAB_PACKAGES=(netcat-openbsd strace)
# csd-trace counts each task's wakeups with perf where it may record
# (linux-perf is Debian's name; without it, it reads /proc every 2 ms).
TRACE_PACKAGES=(linux-perf)
# clang++ builds the suite a second time (the clang-asan preset), with the
# libFuzzer target of the protocol parser (its runtime: libclang-rt-14-dev).
# ccache, when installed, lets a build reuse what another build of the same
# sources compiled (e.g. the release test's build of the student tree).
# clang-format: the test format.check holds every C++ file to .clang-format.
TEST_PACKAGES=(clang libclang-rt-14-dev ccache clang-format)
DOCS_PACKAGES=(doxygen python3-sphinx python3-breathe python3-myst-parser furo graphviz)
# The docs' browser test (docs.browser) opens the built site in headless Chromium.
BROWSER_PACKAGES=(chromium)
# `./csd bench --plot` and `./csd bench --docs` draw their plots with matplotlib.
PLOT_PACKAGES=(python3-matplotlib)

usage() {
    cat <<'EOF'
csd: build, grade, test and document the concurrent server labs.

Usage: ./csd [COMMAND [ARGS...]]

  demo (the default)  Install what the build lacks, build everything (build/),
                      grade every lab's reference solution and print a score
                      table. Exit status 0 only if every reference scores full.
                      (In the student release: build, then list the labs
                      and how to grade each; nothing is graded.)
  grade LAB [OPTS]    Build and grade YOUR server for LAB (skeletons/LAB/, the
                      program build/bin/skeleton-LAB). OPTS go to csd-grade:
                      --check ID (one check), --list (lab ids), --json FILE
                      (Gradescope results.json), --autolab (Autolab's score
                      line last). Exit status 0 at full score. For a lab
                      with threads (thread, prethread, reactor) it also
                      builds your server with ThreadSanitizer (build-tsan/)
                      for the races check (--tsan).
  grade-solution LAB [OPTS]
                      The same for the reference solution (solution-LAB).
  batch LAB DIR [OPTS]
                      (instructors) Build and grade every submission in DIR
                      (a directory per student: a checkout of the course or
                      the lab's sources; or NAME.cpp files), each by its own
                      csd-grade, N at a time: csd-batch LAB DIR [--jobs N]
                      [--out DIR (default LAB-results)] [--timeout SECONDS]
                      [--check ID]. Writes OUT/summary.csv, OUT/summary.json
                      and per-student logs (docs/instructors.md, "Batch
                      grading").
  test                Install what the tests need; build three times and test:
                      g++ (build/, the whole suite with the docs), clang++
                      with ASan+UBSan (build-clang-asan/: unit tests,
                      solutions, fuzzer) and g++ with TSan (build-tsan/: unit
                      tests, thread labs); warnings are errors. The two
                      sanitizer builds build while the g++ tests run. Prints
                      the time of each. This is what CI runs.
  release DIR [--labs LAB,...]
                      (Instructors) Write the student release into DIR: the
                      tracked files without solutions/, grader/broken/, tools/,
                      the hidden checks and docs/instructors.md, with a
                      student README (tools/release/make_release.sh). With
                      --labs, a staged release for the labs being assigned:
                      the library sources that answer them ship compiled only.
  gradescope LAB      (Instructors) Make build/gradescope/LAB.zip, the
                      Gradescope autograder of LAB: the release with the
                      hidden checks, setup.sh and run_autograder.
  docs                Build the HTML docs (Doxygen + Sphinx) and print where
                      index.html is.
  bench [ARGS...]     The design comparison (UNP Fig. 30.1): csd-bench runs every
                      lab server, in each mode of its flag, under three loads
                      (unp, concurrent, bulk) and prints server CPU per
                      connection, overhead against the iterative server,
                      connections/s, latency, peak RSS and client CPU. ARGS go
                      to csd-bench (--labs, --profile, --connections, --repeat,
                      --csv, --json, --plots, --student, NAME=COMMAND: see
                      docs/contract.md); a few minutes on 2 cores.
  bench --docs        The same, written into docs/figures/designs.* (CSV, JSON,
                      PNG and SVG plots, the table) with the client comparison
                      (tools/bench/clients.sh): regenerates the docs' design
                      comparison page.
  bench idle [--plot] Server CPU per reply with 1,000 idle connections
                      (tools/bench/idle_conns.sh): select, poll, epoll. With
                      --plot (also `./csd bench --plot`): measure from 1 to
                      5,000 idle connections into docs/figures/idle-cost.csv
                      and redraw the plot of the handouts,
                      docs/figures/idle-cost.svg (plot_idle.py).
  bench herd          The thundering herd of the prefork lab
                      (tools/bench/herd.sh): connections, the workers'
                      wakeups as the scheduler counts them (per connection),
                      the useless wakeups they counted themselves and server
                      CPU, for each -m mode of solution-prefork.
  bench sendfile      The sendfile lab (tools/bench/sendfile.sh): server CPU
                      and /proc/PID/io counters per GiB, in each -m mode.
                      (In the student release every bench measures YOUR
                      builds, skeleton-LAB: there are no solutions; --docs
                      and --plot are the instructors'.)
  trace LAB [PROGRAM] [--student] [--out DIR] [--docs] [-- FLAGS...]
                      See a server's design at work (grader/trace/csd_trace.py):
                      runs a short scripted load against the reference
                      solution of LAB (your skeleton-LAB with --student, or
                      PROGRAM), records every process and thread with strace
                      and writes into DIR (build/trace/LAB/) a Chrome trace
                      (trace.json: ui.perfetto.dev), a timeline (timeline.svg)
                      and a summary per task: connections served, wakeups
                      (counted by perf where it may record, else read from
                      /proc), wakeups that found nothing, time waiting and
                      serving. --docs (instructors): the timeline of every
                      lab's solution into docs/figures/trace-LAB.svg.
  flaky [ROUNDS]      The flakiness run (tools/flaky.sh; not in ./csd test):
                      grade every reference solution ROUNDS times (20) with
                      one core kept busy; print per lab the full-marks runs
                      and the slowest check against its deadline.
  help                This text.

Examples:
  ./csd                   # first run: see that every reference passes
  ./csd grade fork        # grade your skeletons/fork/server.cpp
  ./csd grade fork --check pipeline
  ./csd batch fork ~/submissions --jobs 2   # (instructors) grade a folder
  ctest --preset default -L fork    # (instructors) the project's tests of one lab
EOF
}

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'csd: %s\n' "$*" >&2; exit 2; }

# --- Packages -----------------------------------------------------------------

APT_UPDATED=0

# need_packages PKG...: installs the Debian packages that are not installed.
need_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        echo "csd: not a Debian-like system: make sure these are installed: $*" >&2
        return 0
    fi
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 ||
            die "missing packages ${missing[*]}, and no sudo to install them: install them as root"
        sudo=(sudo)
    fi
    say "Installing ${missing[*]}"
    if [ "$APT_UPDATED" -eq 0 ]; then
        "${sudo[@]}" apt-get update -q
        APT_UPDATED=1
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# want_packages PKG...: need_packages for tools the build does not need
# (the handouts' tools, csd-trace's perf): when they cannot be installed,
# says so and goes on.
want_packages() {
    (need_packages "$@") ||
        echo "csd: could not install $*; going on without (the build does not need them)" >&2
}

# --- Build --------------------------------------------------------------------

# configure PRESET: (re)configures the build directory of a CMake preset.
configure() {
    say "Configuring (cmake --preset $1)"
    # With ccache installed, every build goes through it; paths below the
    # repository are hashed relative to it, so two trees of the same sources
    # (build/ and the release test's student tree) share what they compile.
    if command -v ccache >/dev/null; then
        CMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER:-ccache} cmake --preset "$1"
    else
        cmake --preset "$1"
    fi
}

# configured PRESET: configures only when the build directory is not yet
# configured (once configured, the build re-runs CMake by itself when a
# CMakeLists.txt changes).
configured() {
    local dir
    case "$1" in
        default) dir=build ;;
        *) dir=build-$1 ;;
    esac
    if [ -f "$dir/CMakeCache.txt" ] && [ -f "$dir/build.ninja" ]; then
        return 0
    fi
    configure "$1"
}

# build PRESET [TARGET...]: builds the preset's directory (everything, or TARGETs).
build() {
    local preset=$1
    shift
    if [ $# -eq 0 ]; then
        say "Building (cmake --build --preset $preset)"
        cmake --build --preset "$preset"
    else
        say "Building $* (cmake --build --preset $preset)"
        cmake --build --preset "$preset" --target "$@"
    fi
}

# build_student LAB: builds YOUR server, skeleton-LAB, with the flags
# csd-batch and the Gradescope autograder use: warnings on and shown, never
# errors (cmake/Warnings.cmake). When it does not compile, shows the first
# error with its file and line and stops; else says how many warnings your
# code has (the first three). The warnings of the last compile are kept in
# build/student-LAB.warnings: a build that compiles nothing shows them again.
build_student() {
    local lab=$1 log="$ROOT/build/student-$1.log" kept="$ROOT/build/student-$1.warnings"
    say "Building your server, skeleton-$lab (skeletons/$lab/)"
    if ! LC_ALL=C cmake --build --preset default --target "skeleton-$lab" >"$log" 2>&1; then
        local first
        first=$(grep -m1 -n -E ':[0-9]+:([0-9]+:)? (fatal )?error' "$log" | cut -d: -f1 || true)
        echo "csd: your server does not compile. The first error:" >&2
        if [ -n "$first" ]; then
            sed -n "$((first > 1 ? first - 1 : 1)),$((first + 6))p" "$log" |
                sed -e "s|$ROOT/||g" -e 's|^\.\./||' >&2
        else
            tail -n 20 "$log" >&2
        fi
        echo "csd: fix it (the compiler's whole output: build/student-$lab.log), then run" \
            "./csd grade $lab again" >&2
        exit 1
    fi
    if grep -q -E "Building CXX object .*skeleton-$lab[.]dir" "$log"; then
        grep -E ':[0-9]+:[0-9]+: warning:' "$log" | grep -F "skeletons/$lab/" |
            sed -e "s|$ROOT/||g" -e 's|^\.\./||' | sort -u >"$kept" || true
    fi
    if [ -s "$kept" ]; then
        local count
        count=$(wc -l <"$kept")
        echo "csd: $count compiler warning(s) in your code (shown, not errors; graded anyway)" \
            "- the first $((count < 3 ? count : 3)):"
        head -n 3 "$kept" | sed 's/^/  /'
        echo "  (all of them: build/student-$lab.warnings; to make them errors:" \
            "cmake --preset default -DCSD_STUDENT_WERROR=ON)"
    fi
}

# Lab ids that have a reference solution in solutions/ (in the student
# release: a skeleton in skeletons/), in course order.
known_labs() {
    local all=() lab dir
    for dir in "$LAB_SOURCES"/*/; do
        if [ -d "$dir" ]; then all+=("$(basename "$dir")"); fi
    done
    for lab in "${COURSE_ORDER[@]}"; do
        if [[ " ${all[*]} " == *" $lab "* ]]; then echo "$lab"; fi
    done
    for lab in "${all[@]}"; do
        if [[ " ${COURSE_ORDER[*]} " != *" $lab "* ]]; then echo "$lab"; fi
    done
}

# Lab ids whose solution-LAB program was built, in course order.
built_labs() {
    local lab
    for lab in $(known_labs); do
        if [ -x "$BIN/solution-$lab" ]; then echo "$lab"; fi
    done
}

check_lab() {
    local lab=${1:-}
    [ -n "$lab" ] || die "which lab? one of: $(known_labs | tr '\n' ' ')"
    [[ "$lab" =~ ^[a-z0-9_-]+$ ]] || die "not a lab id: '$lab'"
    [ -d "$LAB_SOURCES/$lab" ] || die "no lab '$lab'; the labs are: $(known_labs | tr '\n' ' ')"
}

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# --- Commands -----------------------------------------------------------------

# The student release's ./csd: builds everything (the skeletons build as
# they are) and lists the labs; nothing is graded, no code is the student's yet.
student_demo() {
    local lab
    echo
    build/bin/csd-grade --list | grep -v '^  ' || true
    echo
    echo "Build done. Edit skeletons/LAB/ (server.cpp, or main.cpp), then grade it:"
    for lab in $(known_labs); do
        printf '  ./csd grade %-10s # labs/%s/handout.md\n' "$lab" "$lab"
    done
    echo "(./csd help for more; README.md)"
}

cmd_demo() {
    need_packages "${BUILD_PACKAGES[@]}"
    want_packages "${LAB_PACKAGES[@]}"
    configure default
    build default
    if [ "$RELEASE" -eq 1 ]; then
        student_demo
        return
    fi
    local labs
    labs=$(built_labs)
    [ -n "$labs" ] || { echo "csd: no reference solution was built (build/bin/solution-*)" >&2; exit 1; }

    local logs="$ROOT/build/demo"
    mkdir -p "$logs"
    say "Grading every reference solution (logs in build/demo/)"
    local lab start end status score failed=()
    local rows=()
    for lab in $labs; do
        printf '  %-12s ' "$lab"
        start=$(now)
        status=0
        "$BIN/csd-grade" "$lab" "$BIN/solution-$lab" --json "$logs/$lab.json" \
            >"$logs/$lab.log" 2>&1 || status=$?
        end=$(now)
        score=$(grep -o 'Score: [0-9]*/[0-9]*' "$logs/$lab.log" | tail -n 1 | cut -d' ' -f2)
        score=${score:-none}
        # Exit status 3: the lab cannot be graded here (io_uring disabled).
        if [ "$status" -eq 3 ]; then
            rows+=("$(printf '%-12s %-9s %7s' "$lab" skipped "$(seconds "$start" "$end")")")
            echo "skipped: $(grep -o 'io_uring is not available here.*' "$logs/$lab.log" | head -n 1)"
            continue
        fi
        [ "$status" -eq 0 ] || failed+=("$lab")
        rows+=("$(printf '%-12s %-9s %7s' "$lab" "$score" "$(seconds "$start" "$end")")")
        if [ "$status" -eq 0 ]; then echo "ok"; else echo "FAILED (exit status $status)"; fi
    done

    echo
    printf '%-12s %-9s %7s\n' lab score seconds
    printf '%s\n' "${rows[@]}"
    for lab in "${failed[@]}"; do
        printf '\n--- %s: build/demo/%s.log ---\n' "$lab" "$lab"
        cat "$logs/$lab.log"
    done

    echo
    echo "Now grade your own code: edit skeletons/LAB/ (server.cpp, or main.cpp), then"
    for lab in $labs; do
        printf '  ./csd grade %-10s # labs/%s/handout.md\n' "$lab" "$lab"
    done
    echo "(./csd help for more)"
    if [ ${#failed[@]} -gt 0 ]; then
        echo "csd: reference solutions below full score: ${failed[*]}" >&2
        exit 1
    fi
}

# grade_program KIND LAB [csd-grade options]: KIND is skeleton or solution.
grade_program() {
    local kind=$1 lab=${2:-}
    check_lab "$lab"
    shift 2
    need_packages "${BUILD_PACKAGES[@]}"
    want_packages "${LAB_PACKAGES[@]}"
    configured default
    if [ "$kind" = skeleton ]; then
        build default csd-grade csd-client
        build_student "$lab"
    else
        build default "$kind-$lab" csd-grade csd-client
    fi
    local tsan=()
    if [ -n "$(manifest_labs threads yes | grep -x -F -- "$lab")" ]; then
        # The races check runs a ThreadSanitizer build of the same server.
        if tsan_build "$kind-$lab"; then
            tsan=(--tsan "$ROOT/build-tsan/bin/$kind-$lab")
        else
            echo "csd: the ThreadSanitizer build of $kind-$lab failed" \
                "(build-tsan/tsan-$lab.log): check races is skipped" >&2
        fi
    fi
    say "Grading build/bin/$kind-$lab (csd-grade $lab)"
    exec "$BIN/csd-grade" "$lab" "$BIN/$kind-$lab" "${tsan[@]}" "$@"
}

# tsan_build PROGRAM: builds PROGRAM (skeleton-LAB or solution-LAB) with
# ThreadSanitizer in build-tsan/ (cmake --preset tsan), quietly: what the
# races check of a lab with threads runs. The first one builds the lab
# library too (a minute or two). False when it does not build.
tsan_build() {
    local program=$1 log
    log="$ROOT/build-tsan/tsan-${program#*-}.log"
    say "Building $program with ThreadSanitizer too (build-tsan/), for check races"
    mkdir -p "$ROOT/build-tsan"
    { configured tsan && cmake --build --preset tsan --target "$program"; } >"$log" 2>&1
}

# build_now PRESET [TARGETS...]: configures and builds PRESET (TARGETS, or
# everything) now; test_preset PRESET then only tests. Sets the caller's
# `build_done`.
build_now() {
    local preset=$1 start
    shift
    start=$(now)
    build_done[$preset]=0
    if configure "$preset" && build "$preset" "$@"; then build_done[$preset]=1; fi
    phases+=("$(printf '  %-10s %7s s  configure and build' "$preset" "$(seconds "$start" "$(now)")")")
}

# build_beside PRESET [TARGETS...]: the same in the background, at the
# lowest CPU priority, while the caller goes on (./csd test: beside the g++
# suite's tests, which leave about half of the two cores idle);
# test_preset PRESET then waits for it and shows its output. Sets the
# caller's `beside_pid` and `beside_log`.
build_beside() {
    local preset=$1
    shift
    beside_log[$preset]=$(mktemp "${TMPDIR:-/tmp}/csd-build-$preset.XXXXXX")
    (
        renice -n 19 -p "$BASHPID" >/dev/null 2>&1 || true
        configure "$preset" && build "$preset" "$@"
    ) >"${beside_log[$preset]}" 2>&1 &
    beside_pid[$preset]=$!
}

# test_preset PRESET WHAT [CTEST ARGS...]: configures and builds PRESET (or
# takes its build_now build, or waits for its build_beside one), runs its
# CTest suite (the tests the
# extra ctest arguments select, e.g. -L REGEX, when given); adds to the
# caller's `failed` and `phases`.
test_preset() {
    local preset=$1 what=$2 start built=0
    shift 2
    # Up to "--": the targets to build (none: everything); after it, what
    # ctest runs (none: every test).
    local targets=() select=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        targets+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift
    select=("$@")
    start=$(now)
    if [ -n "${build_done[$preset]:-}" ]; then
        built=${build_done[$preset]}
    elif [ -n "${beside_pid[$preset]:-}" ]; then
        wait "${beside_pid[$preset]}" && built=1
        say "Configured and built $preset beside the tests before (its output follows)"
        cat "${beside_log[$preset]}"
        rm -f "${beside_log[$preset]}"
    elif configure "$preset" && build "$preset" "${targets[@]}"; then
        built=1
    fi
    if [ "$built" -eq 1 ]; then
        say "Testing $what (ctest --preset $preset ${select[*]})"
        # (Each preset says how many tests run at once: CMakePresets.json.)
        ctest --preset "$preset" --output-on-failure "${select[@]}" || {
            failed+=("ctest $preset")
            digests+=("$(failure_digest "$preset")")
        }
    else
        failed+=("build $preset")
    fi
    phases+=("$(printf '  %-10s %7s s  %s' "$preset" "$(seconds "$start" "$(now)")" "$what")")
}

# failure_digest PRESET: the name and the last lines of the output of each
# test that failed in PRESET's last ctest run (from its
# Testing/Temporary/LastTest.log), for the end of ./csd test, where a log
# that only keeps its tail (CI) still shows why.
failure_digest() {
    local dir=build log
    [ "$1" = default ] || dir=build-$1
    log=$dir/Testing/Temporary/LastTest.log
    [ -f "$dir/Testing/Temporary/LastTestsFailed.log" ] && [ -f "$log" ] || return 0
    local name
    while IFS=: read -r _ name; do
        echo "--- $1: $name (the end of its output; all of it: $log)"
        awk -v t="$name" '
            $0 ~ "^[0-9]+/[0-9]+ Test: " && $3 == t { on = 1; next }
            on && /^<end of output>/ { exit }
            on && /^-+$/ && !started { started = 1; next }
            on && started { print }' "$log" | tail -n 25
    done <"$dir/Testing/Temporary/LastTestsFailed.log"
}

# What ./csd test runs, in three builds. The whole suite once, with g++; the
# other builds prove what depends on the compiler or needs a sanitizer: the
# library's, the client's and the grader's unit tests, and every reference
# solution graded (which runs the grader and the client too). The
# broken-server, model, skeleton, docs, split and hammer tests, and the
# solutions' other modes (mode.*), check the grader's verdicts, the course
# text and the stop logic, which do not change with the compiler: they run
# once. (2 cores: under 20 minutes in all; each phase prints its time.)
cmd_test() {
    need_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${DOCS_PACKAGES[@]}" \
        "${BROWSER_PACKAGES[@]}"
    want_packages "${TRACE_PACKAGES[@]}"
    local failed=() phases=() digests=() start
    local -A build_done=() beside_pid=() beside_log=()
    start=$(now)

    if [ "$RELEASE" -eq 1 ]; then
        # The student release has no solutions to grade and no sync or
        # skeleton tests: the unit tests and the docs, once, with g++.
        test_preset default "g++: unit tests of the library, client and grader; the docs"
        printf '%s\n' "${phases[@]}"
        [ ${#failed[@]} -eq 0 ] || { echo "csd test: FAILED: ${failed[*]}"; exit 1; }
        echo "csd test: OK"
        return
    fi

    # The threaded labs under ThreadSanitizer (the preset sets
    # TSAN_OPTIONS=halt_on_error=1: a race fails the grading), and their
    # hammers: only what those tests run is built (not the uring lab's
    # unit tests: one thread, nothing for TSan to see).
    # (The labs with `threads yes` in labs/labs.txt.)
    local threaded=() lab
    mapfile -t threaded < <(manifest_labs threads yes)
    local tsan_targets=() tsan_labs
    for lab in "${threaded[@]}"; do
        tsan_targets+=("solution-$lab")
    done
    tsan_targets+=(csd-grade csd-client csd_lab_tests csd_grade_tests csd_client_tests
        csd_launch_tests stop_hammer)
    tsan_labs=$(IFS='|'; echo "${threaded[*]}")

    # The g++ build first; the two sanitizer builds then build beside its
    # tests (the tests of each build run one build after the other: the
    # sanitizers' servers next to the g++ suite's deadlines fail them).
    build_now default
    build_beside clang-asan
    build_beside tsan "${tsan_targets[@]}"
    test_preset default "g++, the whole suite with the docs"
    # Everything builds warning-free with clang++ too (skeletons, tools;
    # not the broken servers of grader/broken, whose verdicts the g++ build
    # proves), under ASan+UBSan (one build proves both: another
    # compiler, and no memory error or undefined behaviour in the unit tests
    # and the graded solutions); it also runs the libFuzzer target.
    test_preset clang-asan "clang++ with ASan+UBSan, unit tests, solutions graded, fuzzing" \
        -- -L '^(unit|solution|fuzz)$' -LE '^split$' -E '^mode[.]'
    test_preset tsan "g++ with ThreadSanitizer, unit tests, the thread labs graded and hammered" \
        "${tsan_targets[@]}" \
        -- -R "^(unit[.]|(solution|hammer)[.]($tsan_labs)(\$|[.]))" -E '^unit[.]uring$'

    echo
    echo "csd test: time of each build (the sanitizer builds: built beside the g++ tests," \
        "then their own tests):"
    printf '%s\n' "${phases[@]}"
    printf '  %-10s %7s s\n' total "$(seconds "$start" "$(now)")"
    if [ ${#failed[@]} -eq 0 ]; then
        echo "csd test: OK (the whole suite with g++; unit tests and solutions with" \
            "clang++ under ASan+UBSan and, for the thread labs, under TSan)"
    else
        local joined
        if [ ${#digests[@]} -gt 0 ]; then
            echo
            echo "csd test: the tests that failed, the end of each one's output:"
            printf '%s\n' "${digests[@]}"
        fi
        joined=$(printf '%s, ' "${failed[@]}")
        echo "csd test: FAILED: ${joined%, }"
        exit 1
    fi
}

# cmd_batch LAB DIR [csd-batch options]: builds csd-batch (and what it runs)
# and grades a folder of submissions; paths are the caller's.
cmd_batch() {
    [ $# -ge 2 ] || die "usage: ./csd batch LAB DIR [--jobs N] [--out DIR] [--timeout SECONDS] [--check ID]..."
    need_packages "${BUILD_PACKAGES[@]}"
    configured default
    build default csd-batch
    cd "$CALLER_PWD"
    exec "$BIN/csd-batch" "$@"
}

cmd_docs() {
    need_packages "${BUILD_PACKAGES[@]}" "${DOCS_PACKAGES[@]}"
    configure default
    build default docs
    echo
    echo "Docs: $ROOT/build/docs/html/index.html"
}

# cmd_release DIR [--labs LAB,...]: the student release
# (tools/release/make_release.sh), staged for LABs with --labs.
cmd_release() {
    [ "$RELEASE" -eq 0 ] || die "this is already a student release"
    [ $# -ge 1 ] || die "usage: ./csd release DIR [--labs LAB,...] (DIR: a new or empty directory)"
    bash tools/release/make_release.sh "$@"
}

# cmd_gradescope LAB: build/gradescope/LAB.zip (tools/release/gradescope.sh).
cmd_gradescope() {
    [ "$RELEASE" -eq 0 ] || die "gradescope: run it in the instructor's tree"
    check_lab "${1:-}"
    # A lab with a leaderboard ships the reference solution's program.
    need_packages "${BUILD_PACKAGES[@]}"
    configured default
    build default "solution-$1"
    bash tools/release/gradescope.sh "$1" "$ROOT/build/gradescope/$1.zip"
}

# Every solution-LAB target, for csd-bench.
solution_targets() {
    local lab
    for lab in $(known_labs); do echo "solution-$lab"; done
}
# What the benchmarks measure: the reference solutions (solution-LAB), or in
# the student release, which has none, the student's builds (skeleton-LAB).
bench_kind() {
    if [ "$RELEASE" -eq 1 ]; then echo skeleton; else echo solution; fi
}

# ./csd bench [ARGS] and ./csd bench --docs: csd-bench on every solution.
bench_designs() {
    need_packages "${BUILD_PACKAGES[@]}"
    configured default
    local targets
    if [ "$RELEASE" -eq 1 ]; then
        # The student release: your builds only (there are no solutions).
        [ "${1:-}" != "--docs" ] || die "bench --docs measures the reference solutions: not in the student release"
        mapfile -t targets < <(solution_targets | sed 's/^solution-/skeleton-/')
        build default csd-bench csd-client "${targets[@]}"
        if [[ " $* " == *" --plots"* ]]; then need_packages "${PLOT_PACKAGES[@]}"; fi
        if [[ " $* " == *" --student "* ]]; then exec "$BIN/csd-bench" "$@"; fi
        exec "$BIN/csd-bench" --student "$@"
    fi
    mapfile -t targets < <(solution_targets)
    # --student benches your builds too (skeleton-LAB).
    if [[ " $* " == *" --student "* ]]; then
        mapfile -t -O "${#targets[@]}" targets < <(solution_targets | sed 's/^solution-/skeleton-/')
    fi
    build default csd-bench csd-client minimal-fork_server minimal-fork_client "${targets[@]}"
    if [ "${1:-}" != "--docs" ]; then
        if [[ " $* " == *" --plots"* ]]; then need_packages "${PLOT_PACKAGES[@]}"; fi
        exec "$BIN/csd-bench" "$@"
    fi
    need_packages "${PLOT_PACKAGES[@]}"
    say "Measuring every design (a few minutes) into docs/figures/designs.*"
    "$BIN/csd-bench" --csv docs/figures/designs.csv --json docs/figures/designs.json \
        --plots docs/figures "minimal-fork=build/bench/minimal-fork_server"
    say "csd-client against the minimal C fork client"
    bash tools/bench/clients.sh build | tee docs/figures/designs-clients.md
    echo
    echo "csd bench --docs: docs/figures/designs.* written; ./csd docs shows the page (docs/designs.md)"
}

cmd_bench() {
    local plot=0 kind
    kind=$(bench_kind)
    case "${1:-}" in
        --plot) plot=1 ;;
        idle)
            if [ "${2:-}" = --plot ]; then plot=1; fi
            ;;
        "" | --* | *=*)
            bench_designs "$@"
            return
            ;;
        herd)
            # The thundering herd of the prefork lab: one row per -m mode.
            need_packages "${BUILD_PACKAGES[@]}"
            configured default
            build default "$kind-prefork" csd-client
            KIND=$kind exec bash tools/bench/herd.sh build
            ;;
        sendfile)
            # The sendfile lab: server CPU per GiB, sendfile(2) against read/write.
            need_packages "${BUILD_PACKAGES[@]}" netcat-openbsd
            configured default
            build default "$kind-sendfile"
            KIND=$kind exec bash tools/bench/sendfile.sh build
            ;;
        *) die "bench: unknown option '$1' (./csd bench [ARGS | --docs | idle [--plot] | --plot | herd | sendfile])" ;;
    esac
    need_packages "${BUILD_PACKAGES[@]}"
    [ "$plot" -eq 0 ] || need_packages "${PLOT_PACKAGES[@]}"
    configured default
    build default "$kind-select" "$kind-poll" "$kind-epoll" csd-client bench-idle
    # Server CPU per reply with idle connections held open (select, poll,
    # epoll). IDLE, REPLIES, BYTES, SERVERS and COUNTS tune it (see the script).
    if [ "$plot" -eq 0 ]; then
        KIND=$kind exec bash tools/bench/idle_conns.sh build
    fi
    [ "$RELEASE" -eq 0 ] || die "bench idle --plot redraws the handouts' plot of the reference solutions: not in the student release"
    say "Measuring from 1 to 5,000 idle connections (a few minutes)"
    CSV=docs/figures/idle-cost.csv REPLIES=${REPLIES:-5000} bash tools/bench/idle_conns.sh build
    /usr/bin/python3 tools/bench/plot_idle.py docs/figures/idle-cost.csv docs/figures/idle-cost.svg
}

# cmd_trace LAB [PROGRAM] [--student] [--out DIR] [-- FLAGS...], or --docs.
cmd_trace() {
    need_packages "${BUILD_PACKAGES[@]}" strace
    want_packages "${TRACE_PACKAGES[@]}"
    configured default
    if [ "${1:-}" = --docs ]; then
        [ "$RELEASE" -eq 0 ] || die "trace --docs draws the reference solutions: not in the student release"
        local lab programs load
        programs=" $(manifest_labs kind program | tr '\n' ' ') "
        for lab in $(known_labs); do
            load=load
            [[ "$programs" != *" $lab "* ]] || load=scenario  # a program: its own
            build default "solution-$lab"
            say "Tracing solution-$lab into docs/figures/trace-$lab.svg"
            /usr/bin/python3 grader/trace/csd_trace.py --lab "$lab" --server "$BIN/solution-$lab" \
                --out "build/trace/$lab" --svg "docs/figures/trace-$lab.svg" \
                --title "$lab: the reference solution under csd-trace's $load" >/dev/null
        done
        # The herd of the prefork lab, beside its default mode.
        /usr/bin/python3 grader/trace/csd_trace.py --lab prefork --server "$BIN/solution-prefork" \
            --out build/trace/prefork-select --svg docs/figures/trace-prefork-select.svg \
            --title "prefork -m select: the reference solution under csd-trace's load" \
            -- -m select >/dev/null
        return
    fi
    local lab=${1:-} program="" student=0 out="" flags=()
    [ -n "$lab" ] || die "usage: ./csd trace LAB [PROGRAM] [--student] [--out DIR] [-- FLAGS...]"
    check_lab "$lab"
    shift
    while [ $# -gt 0 ]; do
        case "$1" in
            --student) student=1 ;;
            --out) out=$2; shift ;;
            --) shift; flags=("$@"); break ;;
            -*) die "trace: unknown option '$1'" ;;
            *) program=$1 ;;
        esac
        shift
    done
    if [ -z "$program" ]; then
        if [ "$student" -eq 1 ] || [ "$RELEASE" -eq 1 ]; then
            build default "skeleton-$lab"
            program=$BIN/skeleton-$lab
        else
            build default "solution-$lab"
            program=$BIN/solution-$lab
        fi
    fi
    exec /usr/bin/python3 grader/trace/csd_trace.py --lab "$lab" --server "$program" \
        --out "${out:-build/trace/$lab}" -- "${flags[@]}"
}

cmd_flaky() {
    need_packages "${BUILD_PACKAGES[@]}"
    want_packages "${LAB_PACKAGES[@]}"
    configure default
    build default
    exec bash tools/flaky.sh build "$@"
}

main() {
    local command=${1:-demo}
    [ $# -gt 0 ] && shift
    case "$command" in
        demo) cmd_demo ;;
        grade) grade_program skeleton "$@" ;;
        grade-solution)
            [ "$RELEASE" -eq 0 ] || die "no reference solutions in the student release"
            grade_program solution "$@"
            ;;
        batch) cmd_batch "$@" ;;
        test) cmd_test ;;
        docs) cmd_docs ;;
        bench) cmd_bench "$@" ;;
        release) cmd_release "$@" ;;
        gradescope) cmd_gradescope "$@" ;;
        trace) cmd_trace "$@" ;;
        flaky) cmd_flaky "$@" ;;
        help | -h | --help) usage ;;
        *) die "unknown command '$command' (./csd help lists the commands)" ;;
    esac
}

main "$@"
