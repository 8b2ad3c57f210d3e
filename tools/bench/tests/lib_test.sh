#!/usr/bin/env bash
# bench.lib: csd_start_server of tools/bench/lib.sh starts a server that
# listens; starts it again on another port when its port was taken before
# it bound it (a real one: another server listens on it); and fails, saying
# why, for a server that ends at once or never listens.
#
#   lib_test.sh SERVER        (a lab server: build/bin/solution-iterative)
set -euo pipefail
server=$1
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
tmp=$(mktemp -d)
server_pid=""
other_pid=""
cleanup() {
    csd_stop_server
    if [[ -n $other_pid ]]; then
        kill "$other_pid" 2>/dev/null || true
        wait "$other_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "bench.lib: FAILED: $*" >&2
    exit 1
}

# 1. A server that listens.
csd_start_server "$tmp/out" "$tmp/err" "$server" || fail "the server did not start"
[[ -n $server_pid && -n $port ]] || fail "server_pid or port not set"
grep -qx "Listening on 127.0.0.1:$port" "$tmp/out" || fail "no announcement in $tmp/out"
csd_port_used "$port" || fail "nothing on port $port"
csd_stop_server
[[ -z $server_pid ]] || fail "csd_stop_server left server_pid set"
echo "bench.lib: a server that listens: started on port $port"

# 2. The first port is taken (by another server, started first) when the
# server binds it: it ends with "Address already in use" and is started
# again on another port.
csd_start_server "$tmp/other.out" "$tmp/other.err" "$server" || fail "the other server did not start"
other_pid=$server_pid
taken=$port
server_pid=""
eval "real_$(declare -f csd_free_port)"
csd_free_port() {  # (run in a subshell: the first pick is marked in a file)
    if [[ ! -e $tmp/picked ]]; then
        : >"$tmp/picked"
        echo "$taken"
    else
        real_csd_free_port
    fi
}
csd_start_server "$tmp/out" "$tmp/err" "$server" 2>"$tmp/messages" ||
    fail "no start after the taken port: $(cat "$tmp/messages")"
[[ $port != "$taken" ]] || fail "started on the taken port $taken"
grep -q "port $taken was taken" "$tmp/messages" || fail "no message about the taken port"
grep -qx "Listening on 127.0.0.1:$port" "$tmp/out" || fail "no announcement after the retry"
csd_stop_server
kill "$other_pid"
wait "$other_pid" || true
other_pid=""
eval "$(declare -f real_csd_free_port | sed '1s/real_//')"
echo "bench.lib: port $taken taken: started again on port $port"

# 3. A server that ends at once, not because of its port: no retry, a clear message.
if csd_start_server "$tmp/out" "$tmp/err" false 2>"$tmp/messages"; then
    fail "false started"
fi
grep -q "false ended (exit status 1) before it listened" "$tmp/messages" ||
    fail "unclear message: $(cat "$tmp/messages")"
! grep -q "again" "$tmp/messages" || fail "false was started again"
[[ -z $server_pid ]] || fail "server_pid still set"
echo "bench.lib: a server that ends: $(head -n 1 "$tmp/messages")"

# 4. A server that never listens: stopped after CSD_START_TIMEOUT seconds.
printf '#!/bin/sh\nexec sleep 30\n' >"$tmp/never"
chmod +x "$tmp/never"
start=$SECONDS
if CSD_START_TIMEOUT=1 csd_start_server "$tmp/out" "$tmp/err" "$tmp/never" 2>"$tmp/messages"; then
    fail "a server that never listens started"
fi
grep -q "did not print \"Listening on 127.0.0.1:[0-9]*\" within 1 s" "$tmp/messages" ||
    fail "unclear message: $(cat "$tmp/messages")"
[[ -z $server_pid ]] || fail "server_pid still set"
((SECONDS - start < 5)) || fail "the wait took $((SECONDS - start)) s"
echo "bench.lib: a server that never listens: $(head -n 1 "$tmp/messages")"
echo "bench.lib: OK"
