# shellcheck shell=bash
# lib.sh: what the bench scripts of tools/bench/ share, sourced by them
# (scripts with `set -euo pipefail`; this file sets no option of its own):
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# csd_start_server OUT ERR PROGRAM [ARGS...]
#     Starts `PROGRAM -i 127.0.0.1 -p PORT ARGS...` in the background on a
#     free loopback port (csd_free_port), stdout into the file OUT and
#     stderr into the file ERR (the same file: both into it), and waits up
#     to CSD_START_TIMEOUT seconds (default 10) until OUT has the line
#     `Listening on 127.0.0.1:PORT` (docs/contract.md, section 2). Sets
#     `server_pid` (as soon as the server runs, so that the caller's EXIT
#     trap can end it) and `port`. When the server ended because the port
#     was taken between its choice and the server's bind ("Address already
#     in use" or EADDRINUSE on ERR), it starts it again on another port, 3
#     times at most (as csd-grade, the stop hammer and csd-bench do:
#     grader/launch/launch.hpp). Otherwise, when it ended or did not listen
#     in time, it says so on stderr with the end of ERR, ends it, clears
#     `server_pid` and returns 1.
# csd_stop_server
#     Sends SIGTERM to `server_pid` (when set), waits for it, clears it.
#     Its exit status is not checked.
# csd_free_port
#     Prints a port of the ephemeral range (ip_local_port_range) that no
#     socket uses now (none in /proc/net/tcp or tcp6, any address or state).
#
# Messages start with the name of the script that sourced this file.

# csd_port_used PORT: true when a socket of /proc/net/tcp or tcp6 has local port PORT.
csd_port_used() {
    local tables=() table
    for table in /proc/net/tcp /proc/net/tcp6; do
        [[ -r $table ]] && tables+=("$table")
    done
    awk -v suffix="$(printf ':%04X' "$1")" '
        FNR > 1 && substr($2, length($2) - 4) == suffix { used = 1; exit }
        END { exit !used }' "${tables[@]}"
}

# csd_tail_of FILE: "; its stderr ended with:" and the last lines of FILE, or nothing when it is empty.
csd_tail_of() {
    if [[ -s $1 ]]; then
        printf '; its stderr ended with:\n%s' "$(tail -n 5 "$1")"
    fi
}

csd_free_port() {
    local low high candidate
    read -r low high </proc/sys/net/ipv4/ip_local_port_range
    for _ in $(seq 100); do
        candidate=$((low + (RANDOM * 32768 + RANDOM) % (high - low + 1)))
        if ! csd_port_used "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    echo "${0##*/}: no free port in $low-$high" >&2
    return 1
}

csd_stop_server() {
    if [[ -n ${server_pid:-} ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}

csd_start_server() {
    local out=$1 err=$2 program=$3 attempt status deadline
    local timeout=${CSD_START_TIMEOUT:-10}
    shift 3
    for attempt in 1 2 3 4; do
        port=$(csd_free_port) || return 1
        : >"$out"
        : >"$err"
        if [[ $err == "$out" ]]; then
            "$program" -i 127.0.0.1 -p "$port" "$@" >"$out" 2>&1 &
        else
            "$program" -i 127.0.0.1 -p "$port" "$@" >"$out" 2>"$err" &
        fi
        server_pid=$!
        deadline=$((SECONDS + timeout))
        # Until it listens, ends (bash reaps it: kill -0 fails) or the time is up.
        while ! grep -qsE "^Listening on 127\.0\.0\.1:$port"$'\r?$' "$out"; do
            if ! kill -0 "$server_pid" 2>/dev/null; then
                status=0
                wait "$server_pid" || status=$?
                server_pid=""
                if grep -qsE "Address already in use|EADDRINUSE" "$err" && [[ $attempt -lt 4 ]]; then
                    echo "${0##*/}: port $port was taken before ${program##*/} bound it; again on another port" >&2
                    continue 2
                fi
                echo "${0##*/}: ${program##*/} ended (exit status $status) before it listened on 127.0.0.1:$port$(csd_tail_of "$err")" >&2
                return 1
            fi
            if ((SECONDS >= deadline)); then
                csd_stop_server
                echo "${0##*/}: ${program##*/} did not print \"Listening on 127.0.0.1:$port\" within $timeout s; stopped it$(csd_tail_of "$err")" >&2
                return 1
            fi
            sleep 0.05
        done
        return 0
    done
}
