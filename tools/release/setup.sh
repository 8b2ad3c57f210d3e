#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image of
# lab @LAB@ (made by `./csd gradescope @LAB@`; docs/instructors.md,
# "Gradescope"): it installs the Debian packages the build needs (the lists
# of ./csd), then configures the course tree (source/csdesign) and builds the
# library, csd-grade, csd-client and skeleton-@LAB@ once, so that
# run_autograder only rebuilds the submitted file.
#
# Environment (for tests): CSD_AUTOGRADER_ROOT (default /autograder),
# CSD_SKIP_APT=1 (install nothing). Arguments are extra CMake arguments.
set -euo pipefail

LAB=@LAB@
AG=${CSD_AUTOGRADER_ROOT:-/autograder}
TREE=$AG/source/csdesign

# BUILD_PACKAGES and LAB_PACKAGES: the one list, in ./csd.
eval "$(grep -E '^(BUILD|LAB)_PACKAGES=' "$TREE/csd")"
if [ "${CSD_SKIP_APT:-0}" != 1 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${BUILD_PACKAGES[@]}" "${LAB_PACKAGES[@]}"
fi

# Warnings are not errors here: a server that builds is graded, whatever
# the compiler of the image thinks of it (students build with -Werror).
cmake -S "$TREE" -B "$TREE/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCSD_WERROR=OFF -DCSD_BUILD_TESTS=OFF -DCSD_BUILD_DOCS=OFF "$@"
cmake --build "$TREE/build" --target csd-grade csd-client "skeleton-$LAB"

# A lab with threads (labs/labs.txt: `threads yes`): a ThreadSanitizer build
# of the skeleton too, in build-tsan/, which run_autograder rebuilds with
# the submission and passes to csd-grade (--tsan) for the races check.
if awk -v lab="$LAB" '/^lab[ \t]/ { in_lab = ($2 == lab) }
        in_lab && $1 == "threads" && $2 == "yes" { found = 1 }
        END { exit !found }' "$TREE/labs/labs.txt"; then
    cmake -S "$TREE" -B "$TREE/build-tsan" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
        -DCSD_SANITIZE=ON -DCSD_SANITIZE_KIND=thread \
        -DCSD_WERROR=OFF -DCSD_BUILD_TESTS=OFF -DCSD_BUILD_DOCS=OFF "$@"
    cmake --build "$TREE/build-tsan" --target "skeleton-$LAB"
fi
