#!/usr/bin/env bash
# gradescope.sh [--no-hidden] [--labs LAB,...] [--stage DIR] LAB [ZIP]: the Gradescope
# autograder of LAB. Stages into DIR (default: a temporary directory) what
# Gradescope unpacks into /autograder/source:
#   setup.sh         installs the Debian packages, builds the tree (once)
#   run_autograder   builds the submitted file as skeleton-LAB and grades it
#   csdesign/        the student release WITH the hidden checks
# and zips it into ZIP (files at the zip's root, as Gradescope wants them).
# --no-hidden leaves the hidden checks out (the release test's tree);
# --labs LAB,... stages the release (make_release.sh --labs).
# ./csd gradescope LAB runs it into build/gradescope/LAB.zip.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
hidden=--hidden
stage=""
staged=()
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-hidden) hidden="" ;;
        --stage) stage=$2; shift ;;
        --labs) staged=(--labs "$2"); shift ;;
        -*) echo "gradescope.sh: unknown option $1" >&2; exit 2 ;;
        *) args+=("$1") ;;
    esac
    shift
done
lab=${args[0]:-}
zip=${args[1]:-}
[[ "$lab" =~ ^[a-z0-9-]+$ ]] || { echo "usage: gradescope.sh [--no-hidden] [--labs LAB,...] [--stage DIR] LAB [ZIP]" >&2; exit 2; }
[ -d "$HERE/../../skeletons/$lab" ] || { echo "gradescope.sh: no lab $lab" >&2; exit 2; }

cleanup=""
if [ -z "$stage" ]; then
    stage=$(mktemp -d)
    cleanup=$stage
fi
trap '[ -z "$cleanup" ] || rm -rf "$cleanup"' EXIT

bash "$HERE/make_release.sh" $hidden "${staged[@]}" "$stage/csdesign"
# A lab with a leaderboard (labs/labs.txt `leaderboard yes`) ships the
# reference solution's program (built in the instructor's build/, a static
# program where the build links the labs statically), never its source:
# run_autograder measures the submission's speed beside it.
board=$(awk -v lab="$lab" '/^lab[ \t]/ { id = $2 } id == lab && $1 == "leaderboard" { print $2 }' \
    "$HERE/../../labs/labs.txt")
if [ "$board" = yes ]; then
    reference=${CSD_REFERENCE_BIN:-$HERE/../../build/bin}/solution-$lab
    [ -x "$reference" ] || { echo "gradescope.sh: $reference is missing (build it first: ./csd builds it)" >&2; exit 2; }
    mkdir -p "$stage/csdesign/reference"
    cp "$reference" "$stage/csdesign/reference/"
fi
for script in setup.sh run_autograder; do
    sed "s/@LAB@/$lab/g" "$HERE/$script" >"$stage/$script"
    chmod 755 "$stage/$script"
done

if [ -n "$zip" ]; then
    mkdir -p "$(dirname "$zip")"
    zip=$(cd "$(dirname "$zip")" && pwd)/$(basename "$zip")
    rm -f "$zip"
    (cd "$stage" && cmake -E tar cf "$zip" --format=zip setup.sh run_autograder csdesign)
    echo "gradescope.sh: $zip (Gradescope: upload it as the autograder of lab $lab; base image Ubuntu 24.04)"
fi
