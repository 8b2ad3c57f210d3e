#!/usr/bin/env bash
# clients.sh: csd-client against the minimal C fork client (UNP's client.c
# in spirit, tools/bench/minimal/fork_client.c), the same load against the
# same server: connections/s (wall time) and the client's CPU time, the
# median of RUNS runs each. Prints a MyST table (the design comparison page
# includes it, `./csd bench --docs` writes it to docs/figures/designs-clients.md).
#
#   tools/bench/clients.sh [BUILD_DIR]        (default: build)
#
# Environment: SERVER (epoll: solution-SERVER serves both), CLIENTS (5),
# CONNS (500, per client), BYTES (4000), RUNS (5).
set -euo pipefail

build=${1:-build}
server=${SERVER:-epoll}
clients=${CLIENTS:-5}
conns=${CONNS:-500}
bytes=${BYTES:-4000}
runs=${RUNS:-5}
for f in "$build/bin/solution-$server" "$build/bin/csd-client" "$build/bench/minimal-fork_client"; do
    [[ -x $f ]] || { echo "clients.sh: $f is missing (build it first)" >&2; exit 2; }
done
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tmp=$(mktemp -d)
server_pid=""
cleanup() {
    csd_stop_server
    rm -rf "$tmp"
}
trap cleanup EXIT

# On a free port, started again on another when it was taken; it listens or we stop here.
csd_start_server "$tmp/server.out" "$tmp/server.err" "$build/bin/solution-$server" || exit 1

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure NAME COMMAND...: RUNS runs; one table row (median conn/s, median client CPU).
# A run whose client reports a failure is said so in the row (its time still counts).
measure() {
    local name=$1 rate cpu failed=0
    shift
    : >"$tmp/rates"
    : >"$tmp/cpus"
    for _ in $(seq "$runs"); do
        # bash's time: wall, user and system time of the client and its reaped children.
        { TIMEFORMAT='%R %U %S'; time "$@" >"$tmp/out" 2>"$tmp/err"; } 2>"$tmp/time" || failed=$((failed + 1))
        read -r wall user sys <"$tmp/time"
        awk -v n=$((clients * conns)) -v w="$wall" 'BEGIN { print n / w }' >>"$tmp/rates"
        awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }' >>"$tmp/cpus"
    done
    rate=$(median <"$tmp/rates")
    cpu=$(median <"$tmp/cpus")
    if [[ $failed -gt 0 ]]; then name="$name ($failed of $runs runs had failures)"; fi
    printf '| %s | %.0f | %.3f |\n' "$name" "$rate" "$cpu"
}

echo "Both clients: $clients processes × $conns connections × $bytes bytes against"
echo "solution-$server, medians of $runs runs (connections/s from the wall time of the whole run)."
echo
echo "| client | connections/s | client CPU s |"
echo "|---|--:|--:|"
measure "csd-client (checks every byte)" "$build/bin/csd-client" -i 127.0.0.1 -p "$port" \
    -c "$clients" -t "$conns" -b "$bytes" -q
measure "csd-client --count-only" "$build/bin/csd-client" -i 127.0.0.1 -p "$port" \
    -c "$clients" -t "$conns" -b "$bytes" -q --count-only
measure "minimal C fork client (counts bytes)" "$build/bench/minimal-fork_client" \
    -i 127.0.0.1 -p "$port" -c "$clients" -t "$conns" -b "$bytes"
