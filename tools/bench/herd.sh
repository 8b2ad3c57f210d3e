#!/usr/bin/env bash
# herd.sh: the thundering herd of the prefork lab, measured. For each mode
# of solution-prefork's -m flag it starts `solution-prefork -n WORKERS -m
# MODE`, runs `csd-client -c CLIENTS -t CONNS -b BYTES` against it, reads the
# CPU time of the whole server (the parent and its workers, utime + stime
# from /proc/PID/stat) before and after, sends SIGTERM and sums the
# distribution report the server prints (docs/contract.md, section 2).
# Prints one table row per mode: connections accepted; the workers' wakeups
# as the scheduler counts them (the sum over every task of every worker of
# voluntary_ctxt_switches in /proc/PID/task/TID/status: each time a task
# blocked, so each time it was woken again), in all and per connection;
# the useless wakeups the workers counted themselves (a non-blocking accept
# that found nothing: only the modes that wait for readiness can see one);
# server CPU in ms. The scheduler's count includes what the server's code
# cannot see: a waiter the kernel woke and put back to sleep (a lock
# released to many waiters), and the waits of serving itself (for the
# request, a few per connection in every mode), so compare modes with each
# other, not with zero.
#
#   tools/bench/herd.sh [BUILD_DIR]        (default: build)
#
# KIND=skeleton measures bin/skeleton-prefork instead (your build; the
# student release does). Needs bin/solution-prefork and bin/csd-client in BUILD_DIR (`./csd bench
# herd` builds them and runs this). Environment: WORKERS (8), CLIENTS (4),
# CONNS (2000, per client), BYTES (100), MODES (accept select epoll
# epoll-exclusive lock fcntl reuseport), REPORT (1: print each server's distribution
# report under its row, with a bar of # per 2 % of the connections). /proc counts CPU in clock ticks (usually 10 ms),
# and one run on a shared machine varies: compare orders of magnitude.
set -euo pipefail

build=${1:-build}
workers=${WORKERS:-8}
clients=${CLIENTS:-4}
conns=${CONNS:-2000}
bytes=${BYTES:-100}
modes=${MODES:-accept select epoll epoll-exclusive lock fcntl reuseport}
ms_per_tick=$((1000 / $(getconf CLK_TCK)))

server=$build/bin/${KIND:-solution}-prefork
for f in "$server" "$build/bin/csd-client"; do
    [[ -x $f ]] || { echo "herd.sh: $f is missing (build it first)" >&2; exit 2; }
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

# utime + stime of process $1 and of its children, in clock ticks (fields
# 14 and 15 of /proc/PID/stat, counted from the last ')').
tree_ticks() {
    local total=0 pid stat rest
    for pid in "$1" $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
        stat=$(<"/proc/$pid/stat") || continue
        rest=${stat##*) }
        read -r -a f <<<"$rest"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# The voluntary context switches of every task of every child of process
# $1 (its workers), summed.
worker_switches() {
    local total=0 pid status line
    for pid in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
        for status in /proc/"$pid"/task/*/status; do
            while read -r line; do
                case "$line" in
                    voluntary_ctxt_switches:*) total=$((total + ${line##*:})) ;;
                esac
            done <"$status" 2>/dev/null || true
        done
    done
    echo "$total"
}

# Starts the server in mode $1 on a free port (lib.sh); sets server_pid and port.
start_server() {
    csd_start_server "$tmp/server.out" "$tmp/server.err" "$server" \
        -n "$workers" -m "$1" || exit 1
    sleep 0.2  # let the workers start waiting
}

printf '%-16s %11s %9s %10s %8s %8s\n' mode connections wakeups "per conn" useless "CPU ms"
for mode in $modes; do
    start_server "$mode"
    before=$(tree_ticks "$server_pid")
    switches_before=$(worker_switches "$server_pid")
    "$build/bin/csd-client" -i 127.0.0.1 -p "$port" -c "$clients" -t "$conns" -b "$bytes" -q
    switches_after=$(worker_switches "$server_pid")
    after=$(tree_ticks "$server_pid")
    kill -TERM "$server_pid"
    wait "$server_pid"
    server_pid=""
    read -r accepted useless < <(awk '/^worker / { c += $6; u += $8 } END { print c + 0, u + 0 }' \
        "$tmp/server.out")
    wakeups=$((switches_after - switches_before))
    per_conn=$(awk -v w="$wakeups" -v c="$accepted" 'BEGIN { printf "%.2f", c ? w / c : 0 }')
    printf '%-16s %11d %9d %10s %8d %8d\n' "$mode" "$accepted" "$wakeups" "$per_conn" "$useless" \
        $(((after - before) * ms_per_tick))
    if [[ ${REPORT:-0} == 1 ]]; then
        awk -v total="$accepted" '/^worker / {
            bar = ""; for (i = 0; i < 50 * $6 / total; i++) bar = bar "#"
            printf "    %s %s\n", $0, bar }' "$tmp/server.out"
    fi
done
