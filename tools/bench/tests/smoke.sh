#!/usr/bin/env bash
# bench.smoke: csd-bench runs one tiny profile on two servers (the
# iterative solution and the minimal C fork server as an external) and
# writes a CSV; its header must be csd-bench's columns and it must hold
# one row per server. No figure is checked (they depend on the machine).
#
#   smoke.sh CSD_BENCH MINIMAL_FORK_SERVER
set -euo pipefail
bench=$1
minimal=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bench" --labs iterative --profile unp --connections 50 --repeat 1 \
    --csv "$tmp/out.csv" --json "$tmp/out.json" "minimal-fork=$minimal" >"$tmp/stdout"
cat "$tmp/stdout"
expected="server,profile,connections,repeats,server_cpu_s,cpu_per_conn_us,overhead_vs_iterative,overhead_us_per_conn,conn_per_s,conn_per_s_vs_iterative,p50_ms,p99_ms,p99_vs_iterative,peak_rss_kib,peak_rss_vs_iterative,client_cpu_s,client_bound,count_only,failed,note"
header=$(head -n 1 "$tmp/out.csv")
[[ $header == "$expected" ]] || { echo "bad CSV header: $header"; exit 1; }
rows=$(tail -n +2 "$tmp/out.csv" | wc -l)
[[ $rows == 2 ]] || { echo "expected 2 rows, got $rows"; cat "$tmp/out.csv"; exit 1; }
grep -q '^iterative,unp,50,1,' "$tmp/out.csv" || { echo "no iterative row"; exit 1; }
grep -q '^minimal-fork,unp,50,1,' "$tmp/out.csv" || { echo "no minimal-fork row"; exit 1; }
# Every connection of both servers was served (column failed is 0).
awk -F, 'NR > 1 && $19 != 0 { print "failures: " $0; bad = 1 } END { exit bad }' "$tmp/out.csv"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert len(d["rows"]) == 2, d' \
    "$tmp/out.json"
echo "bench.smoke: OK"
