#!/usr/bin/env bash
# idle_conns.sh: server CPU time per reply, with idle connections held open
# and one busy client, for the select, poll and epoll (LT and ET) solutions.
#
#   tools/bench/idle_conns.sh [BUILD_DIR]        (default: build)
#
# KIND=skeleton measures bin/skeleton-{select,poll,epoll} instead (your
# builds; the student release does). Needs, in BUILD_DIR: bin/solution-{select,poll,epoll}, bin/csd-client and
# bench/bench-idle (cmake --build BUILD_DIR --target solution-select
# solution-poll solution-epoll csd-client bench-idle).
# For each server: start it, open IDLE idle connections (bench-idle), read
# the server's utime+stime from /proc/PID/stat, run
# `csd-client -c 1 -t REPLIES -b BYTES` (REPLIES connections one after
# another, one request each), read the CPU time again, and print the
# difference divided by REPLIES; once with 1 idle connection, once with
# IDLE. Environment: IDLE (1000), REPLIES (10000), BYTES (4000), SERVERS
# (a subset of: select poll epoll epoll-et).
# /proc/PID/stat counts in clock ticks (usually 10 ms): the more REPLIES,
# the finer the result. One run on a shared machine varies by 10 % or more.
#
# With CSV=FILE, it measures each server at every count of COUNTS (default
# "1 10 100 300 1000 2000 5000"; select only up to 1000, the most its
# fd_set can hold) instead, and writes FILE: comment lines (#) saying how
# and where it was measured (NOTE adds a line of your own, e.g. "a quiet
# machine"), then `server,idle,us_per_reply` rows.
# tools/bench/plot_idle.py draws the plot of the docs from that file
# (`./csd bench --plot` does both).
set -euo pipefail

build=${1:-build}
idle=${IDLE:-1000}
replies=${REPLIES:-10000}
bytes=${BYTES:-4000}
servers=${SERVERS:-select poll epoll epoll-et}
counts=${COUNTS:-1 10 100 300 1000 2000 5000}
csv=${CSV:-}
ticks_per_s=$(getconf CLK_TCK)

for f in "$build/bin/csd-client" "$build/bench/bench-idle"; do
    [[ -x $f ]] || { echo "idle_conns.sh: $f is missing (build it first)" >&2; exit 2; }
done
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tmp=$(mktemp -d)
server_pid=""
idle_pid=""
result=""
# Ends what is still running (after an error too) and removes $tmp.
cleanup() {
    local pid
    for pid in $idle_pid $server_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

# utime + stime of process $1, in clock ticks (fields 14 and 15 of
# /proc/PID/stat; the command name in field 2 may hold spaces, so count
# from the last ')').
cpu_ticks() {
    local stat rest
    stat=$(<"/proc/$1/stat")
    rest=${stat##*) }
    read -r -a f <<<"$rest"
    echo $((f[11] + f[12]))
}

# Waits up to 5 s for a line matching $2 in file $1.
wait_for_line() {
    for _ in $(seq 50); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Starts "$@ -i 127.0.0.1 -p PORT" on a free port (lib.sh); sets server_pid and port.
start_server() {
    csd_start_server "$tmp/server.out" "$tmp/server.err" "$@" || exit 1
}

# Measures one server with $1 idle connections; sets `result` to the µs of
# server CPU per reply, with one decimal. (Not run in $(...): a subshell
# would keep server_pid from cleanup() if it failed.)
measure() {
    local idle_count=$1 attempt
    shift
    # A busy shared machine sometimes refuses one of thousands of connects:
    # try again with a fresh server (three times at most).
    for attempt in 1 2 3; do
        start_server "$@"
        "$build/bench/bench-idle" -p "$port" -n "$idle_count" -s 600 >"$tmp/idle.out" &
        idle_pid=$!
        if wait_for_line "$tmp/idle.out" "^holding"; then break; fi
        kill "$idle_pid" 2>/dev/null || true
        wait "$idle_pid" 2>/dev/null || true
        idle_pid=""
        csd_stop_server
        if [[ $attempt -eq 3 ]]; then
            echo "idle_conns.sh: $*: could not hold $idle_count idle connections" >&2
            exit 1
        fi
        echo "idle_conns.sh: $*: could not hold $idle_count idle connections; trying again" >&2
    done
    local before after
    before=$(cpu_ticks "$server_pid")
    "$build/bin/csd-client" -i 127.0.0.1 -p "$port" -c 1 -t "$replies" -b "$bytes" -q
    after=$(cpu_ticks "$server_pid")
    kill "$idle_pid"
    wait "$idle_pid" 2>/dev/null || true
    idle_pid=""
    kill "$server_pid"
    wait "$server_pid" || echo "idle_conns.sh: $* did not exit with status 0" >&2
    server_pid=""
    local tenths=$(((after - before) * 10000000 / ticks_per_s / replies))
    result="$((tenths / 10)).$((tenths % 10))"
}

# measure_server NAME IDLE: measure for the server NAME of SERVERS.
measure_server() {
    case $1 in
        select) measure "$2" "$build/bin/${KIND:-solution}-select" ;;
        poll) measure "$2" "$build/bin/${KIND:-solution}-poll" ;;
        epoll) measure "$2" "$build/bin/${KIND:-solution}-epoll" ;;
        epoll-et) measure "$2" "$build/bin/${KIND:-solution}-epoll" -e ;;
        *) echo "idle_conns.sh: unknown server '$1'" >&2; exit 2 ;;
    esac
}

# label NAME: how the table and the plot name the server NAME.
label() {
    case $1 in
        epoll) echo "epoll (LT)" ;;
        epoll-et) echo "epoll -e (ET)" ;;
        *) echo "$1" ;;
    esac
}

machine="$(nproc) CPUs, $(uname -sr), $(date +%F)"

if [[ -n $csv ]]; then
    {
        echo "# Server CPU time per reply (utime + stime from /proc/PID/stat), in µs:"
        echo "# one client making $replies connections one after another (one $bytes-byte"
        echo "# request each) while IDLE other connections are held open and idle."
        echo "# Measured by tools/bench/idle_conns.sh (CSV=...), $machine; one run."
        if [[ -n ${NOTE:-} ]]; then echo "# Note: $NOTE"; fi
        echo "server,idle,us_per_reply"
    } >"$tmp/out.csv"
    for s in $servers; do
        for n in $counts; do
            # select cannot watch descriptors >= FD_SETSIZE (1024).
            if [[ $s == select && $n -gt 1000 ]]; then continue; fi
            measure_server "$s" "$n"
            printf '%-14s %6s idle: %8s µs/reply\n' "$(label "$s")" "$n" "$result"
            echo "$(label "$s"),$n,$result" >>"$tmp/out.csv"
        done
    done
    cp "$tmp/out.csv" "$csv"
    echo "idle_conns.sh: wrote $csv"
    exit 0
fi

echo "Server CPU time per reply (µs), one client making $replies connections one"
echo "after another (one $bytes-byte request each), while 1 or $idle other"
echo "connections are held open and idle."
echo "($machine; one run: run it yourself)"
echo
printf '| %-13s | %14s | %17s |\n' server "1 idle" "$idle idle"
echo "| ------------- | -------------: | ----------------: |"
for s in $servers; do
    measure_server "$s" 1
    few=$result
    measure_server "$s" "$idle"
    printf '| %-13s | %14s | %17s |\n' "$(label "$s")" "$few" "$result"
done
