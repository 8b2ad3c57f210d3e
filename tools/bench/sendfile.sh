#!/usr/bin/env bash
# sendfile.sh: the server's CPU time per GiB sent with sendfile(2), with a
# read/write copy and with splice(2) through a pipe, and what /proc/PID/io
# counts for each.
#
#   tools/bench/sendfile.sh [BUILD_DIR]        (default: build)
#
# Needs BUILD_DIR/bin/solution-sendfile and nc (netcat-openbsd). Makes a
# random file of SIZE_MIB MiB (default 64) in a temporary directory it
# removes, then for each mode of the lab (its `mode` lines in labs/labs.txt:
# sendfile, copy, splice):
# starts it, reads utime+stime from /proc/PID/stat and the counters of
# /proc/PID/io, has nc ask for GIB replies of 1 GiB on one connection
# (default 4) and throw them away, reads both again, and prints one row per
# mode: CPU seconds per GiB, and rchar, wchar, syscr, syscw per GiB.
# /proc/PID/stat counts in clock ticks (usually 10 ms); one run on a
# shared machine varies by 10 % or more.
set -euo pipefail

build=${1:-build}
size_mib=${SIZE_MIB:-64}
gib=${GIB:-4}
server=$build/bin/${KIND:-solution}-sendfile  # KIND=skeleton: your build
ticks_per_s=$(getconf CLK_TCK)

[[ -x $server ]] || { echo "sendfile.sh: $server is missing (build it first)" >&2; exit 2; }
command -v nc >/dev/null || { echo "sendfile.sh: nc is missing (apt-get install netcat-openbsd)" >&2; exit 2; }

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dir=$(mktemp -d)
server_pid=""
cleanup() {
    csd_stop_server
    rm -rf "$dir"
}
trap cleanup EXIT
head -c "$((size_mib << 20))" /dev/urandom > "$dir/file"
cat "$dir/file" > /dev/null  # in the page cache before the first mode

cpu_ticks() {  # utime + stime of process $1
    local stat
    stat=$(< "/proc/$1/stat")
    stat=${stat##*) }
    read -r -a f <<< "$stat"
    echo $((f[11] + f[12]))
}
io_field() {  # field $2 of /proc/$1/io
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/io"
}

echo "# sendfile.sh: $gib GiB in replies of 1 GiB, file of $size_mib MiB, $(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%d)"
printf '%-9s %12s %12s %12s %10s %10s\n' mode cpu_s_per_gib rchar_gib wchar_gib syscr syscw
# The lab's modes, as the manifest declares them.
modes=$(awk '$1 == "lab" { lab = $2 } lab == "sendfile" && $1 == "mode" { print $2 }' \
    "$(dirname "${BASH_SOURCE[0]}")/../../labs/labs.txt")
[ -n "$modes" ] || { echo "sendfile.sh: no mode of sendfile in labs/labs.txt" >&2; exit 1; }
for mode in $modes; do
    # On a free port (lib.sh), started again on another when it was taken;
    # it listens or we stop here.
    csd_start_server "$dir/out" "$dir/err" "$server" -f "$dir/file" -m "$mode" || exit 1
    t0=$(cpu_ticks "$server_pid")
    r0=$(io_field "$server_pid" rchar); w0=$(io_field "$server_pid" wchar)
    sr0=$(io_field "$server_pid" syscr); sw0=$(io_field "$server_pid" syscw)
    for _ in $(seq "$gib"); do echo 1073741824; done | nc -N 127.0.0.1 "$port" > /dev/null
    t1=$(cpu_ticks "$server_pid")
    r1=$(io_field "$server_pid" rchar); w1=$(io_field "$server_pid" wchar)
    sr1=$(io_field "$server_pid" syscr); sw1=$(io_field "$server_pid" syscw)
    csd_stop_server
    awk -v mode="$mode" -v t=$((t1 - t0)) -v hz="$ticks_per_s" -v g="$gib" \
        -v r=$((r1 - r0)) -v w=$((w1 - w0)) -v sr=$((sr1 - sr0)) -v sw=$((sw1 - sw0)) \
        'BEGIN { printf "%-9s %12.3f %12.2f %12.2f %10d %10d\n", mode, t / hz / g,
                 r / g / 2^30, w / g / 2^30, sr, sw }'
done
