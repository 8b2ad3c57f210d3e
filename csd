#!/usr/bin/env bash
# csd: the one entry point of the course (students, instructors and CI).
# `./csd help` says what it does; README.md explains the course.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

BIN="$ROOT/build/bin"
# The order the labs are taught in (labs/labs.txt, the one list of labs);
# labs not listed there come after, by name.
mapfile -t COURSE_ORDER < <(sed -n 's/^\([a-z][a-z0-9-]*\)[[:space:]].*/\1/p' labs/labs.txt)
# Debian packages. doctest-dev is in the build list because the default
# configuration builds the unit tests too. The lab list has the tools the
# handouts use by hand (nc -N is netcat-openbsd's); the grader's zero-copy
# check (sendfile lab) watches a server with strace. The test suite is also
# built with clang++ (the clang preset).
BUILD_PACKAGES=(cmake g++ ninja-build libfmt-dev libcli11-dev nlohmann-json3-dev doctest-dev)
LAB_PACKAGES=(netcat-openbsd strace)
# clang++ builds the suite a second time (the clang preset), with the
# libFuzzer target of the protocol parser (its runtime: libclang-rt-14-dev).
TEST_PACKAGES=(clang libclang-rt-14-dev)
DOCS_PACKAGES=(doxygen python3-sphinx python3-breathe python3-myst-parser furo graphviz)
# The docs' browser test (docs.browser) opens the built site in headless Chromium.
BROWSER_PACKAGES=(chromium)
# `./csd bench --plot` draws the cost plot with matplotlib.
PLOT_PACKAGES=(python3-matplotlib)

usage() {
    cat <<'EOF'
csd: build, grade, test and document the concurrent server labs.

Usage: ./csd [COMMAND [ARGS...]]

  demo (the default)  Install what the build lacks, build everything (build/),
                      grade every lab's reference solution and print a score
                      table. Exit status 0 only if every reference scores full.
  grade LAB [OPTS]    Build and grade YOUR server for LAB (skeletons/LAB/, the
                      program build/bin/skeleton-LAB). OPTS go to csd-grade:
                      --check ID (one check), --list (lab ids), --json FILE
                      (Gradescope results.json). Exit status 0 at full score.
  grade-solution LAB [OPTS]
                      The same for the reference solution (solution-LAB).
  test                Install what the tests need; build four times and test:
                      g++ (build/, the whole suite with the docs), clang++
                      (build-clang/: unit tests, solutions, fuzzer), ASan+UBSan
                      (build-asan/: unit tests, solutions) and TSan
                      (build-tsan/: unit tests, thread labs); warnings are
                      errors. Prints the time of each. This is what CI runs.
  docs                Build the HTML docs (Doxygen + Sphinx) and print where
                      index.html is.
  bench [--plot]      Measure server CPU per reply with 1,000 idle connections
                      (tools/bench/idle_conns.sh): select, poll, epoll. With
                      --plot: measure from 1 to 5,000 idle connections into
                      docs/figures/idle-cost.csv and redraw the plot of the
                      handouts, docs/figures/idle-cost.svg (plot_idle.py).
  bench herd          The thundering herd of the prefork lab
                      (tools/bench/herd.sh): connections, useless wakeups
                      and server CPU for each -m mode of solution-prefork.
  bench sendfile      The sendfile lab (tools/bench/sendfile.sh): server CPU
                      and /proc/PID/io counters per GiB, -m sendfile and -m copy.
  flaky [ROUNDS]      The flakiness run (tools/flaky.sh; not in ./csd test):
                      grade every reference solution ROUNDS times (20) with
                      one core kept busy; print per lab the full-marks runs
                      and the slowest check against its deadline.
  help                This text.

Examples:
  ./csd                   # first run: see that every reference passes
  ./csd grade fork        # grade your skeletons/fork/server.cpp
  ./csd grade fork --check pipeline
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

# want_packages PKG...: need_packages for tools that only the handouts use:
# when they cannot be installed, says so and goes on.
want_packages() {
    (need_packages "$@") ||
        echo "csd: could not install $*; the handouts use them by hand, the build does not" >&2
}

# --- Build --------------------------------------------------------------------

# configure PRESET: (re)configures the build directory of a CMake preset.
configure() {
    say "Configuring (cmake --preset $1)"
    cmake --preset "$1"
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

# Lab ids that have a reference solution in solutions/, in course order.
known_labs() {
    local all=() lab dir
    for dir in solutions/*/; do
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
    [ -d "solutions/$lab" ] || die "no lab '$lab'; the labs are: $(known_labs | tr '\n' ' ')"
}

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# --- Commands -----------------------------------------------------------------

cmd_demo() {
    need_packages "${BUILD_PACKAGES[@]}"
    want_packages "${LAB_PACKAGES[@]}"
    configure default
    build default
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
    build default "$kind-$lab" csd-grade csd-client
    say "Grading build/bin/$kind-$lab (csd-grade $lab)"
    exec "$BIN/csd-grade" "$lab" "$BIN/$kind-$lab" "$@"
}

# test_preset PRESET WHAT [CTEST ARGS...]: configures and builds PRESET, runs
# its CTest suite (the tests the extra ctest arguments select, e.g. -L
# REGEX, when given); adds to the caller's `failed` and `phases`.
test_preset() {
    local preset=$1 what=$2 start
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
    if configure "$preset" && build "$preset" "${targets[@]}"; then
        say "Testing $what (ctest --preset $preset ${select[*]})"
        ctest --preset "$preset" -j2 --output-on-failure "${select[@]}" ||
            failed+=("ctest $preset")
    else
        failed+=("build $preset")
    fi
    phases+=("$(printf '  %-8s %7s s  %s' "$preset" "$(seconds "$start" "$(now)")" "$what")")
}

# What ./csd test runs, in four builds. The whole suite once, with g++; the
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
    local failed=() phases=() start
    start=$(now)

    test_preset default "g++, the whole suite with the docs"
    # Everything builds warning-free with clang++ too (skeletons, broken
    # servers, tools); the clang build also runs the libFuzzer target.
    test_preset clang "clang++, unit tests, solutions graded, fuzzing" \
        -- -L '^(unit|solution|fuzz)$' -LE '^split$' -E '^mode[.]'
    test_preset asan "g++ with ASan+UBSan, unit tests, solutions graded" \
        core -- -L '^(unit|solution)$' -LE '^split$' -E '^mode[.]'
    # The threaded labs under ThreadSanitizer (the preset sets
    # TSAN_OPTIONS=halt_on_error=1: a race fails the grading), and their
    # hammers: only what those tests run is built.
    test_preset tsan "g++ with ThreadSanitizer, unit tests, the thread labs graded and hammered" \
        csd-grade csd-client solution-thread solution-prethread csd_lab_tests \
        csd_grade_tests csd_client_tests stop_hammer \
        -- -R '^(unit[.]|(solution|hammer)[.](thread|prethread)($|[.]))'

    echo
    echo "csd test: time (configure, build and test) of each build:"
    printf '%s\n' "${phases[@]}"
    printf '  %-8s %7s s\n' total "$(seconds "$start" "$(now)")"
    if [ ${#failed[@]} -eq 0 ]; then
        echo "csd test: OK (the whole suite with g++; unit tests and solutions with" \
            "clang++, under ASan+UBSan and, for the thread labs, under TSan)"
    else
        local joined
        joined=$(printf '%s, ' "${failed[@]}")
        echo "csd test: FAILED: ${joined%, }"
        exit 1
    fi
}

cmd_docs() {
    need_packages "${BUILD_PACKAGES[@]}" "${DOCS_PACKAGES[@]}"
    configure default
    build default docs
    echo
    echo "Docs: $ROOT/build/docs/html/index.html"
}

cmd_bench() {
    local plot=0
    case "${1:-}" in
        "") ;;
        --plot) plot=1 ;;
        herd)
            # The thundering herd of the prefork lab: one row per -m mode.
            need_packages "${BUILD_PACKAGES[@]}"
            configured default
            build default solution-prefork csd-client
            exec bash tools/bench/herd.sh build
            ;;
        sendfile)
            # The sendfile lab: server CPU per GiB, sendfile(2) against read/write.
            need_packages "${BUILD_PACKAGES[@]}" netcat-openbsd
            configured default
            build default solution-sendfile
            exec bash tools/bench/sendfile.sh build
            ;;
        *) die "bench: unknown option '$1' (./csd bench [--plot | herd | sendfile])" ;;
    esac
    need_packages "${BUILD_PACKAGES[@]}"
    [ "$plot" -eq 0 ] || need_packages "${PLOT_PACKAGES[@]}"
    configured default
    build default solution-select solution-poll solution-epoll csd-client bench-idle
    # Server CPU per reply with idle connections held open (select, poll,
    # epoll). IDLE, REPLIES, BYTES, SERVERS and COUNTS tune it (see the script).
    if [ "$plot" -eq 0 ]; then
        exec bash tools/bench/idle_conns.sh build
    fi
    say "Measuring from 1 to 5,000 idle connections (a few minutes)"
    CSV=docs/figures/idle-cost.csv REPLIES=${REPLIES:-5000} bash tools/bench/idle_conns.sh build
    /usr/bin/python3 tools/bench/plot_idle.py docs/figures/idle-cost.csv docs/figures/idle-cost.svg
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
        grade-solution) grade_program solution "$@" ;;
        test) cmd_test ;;
        docs) cmd_docs ;;
        bench) cmd_bench "$@" ;;
        flaky) cmd_flaky "$@" ;;
        help | -h | --help) usage ;;
        *) die "unknown command '$command' (./csd help lists the commands)" ;;
    esac
}

main "$@"
