#!/usr/bin/env bash
# bench.herd: tools/bench/herd.sh runs modes accept and select of the prefork
# solution with one client and 8 workers, so that every connection finds 7
# idle workers. Each row must count every connection, and the scheduler's
# wakeups per connection must show the herd: waiting in select() wakes every
# idle worker for each connection, blocking in accept() one. A count of
# context switches, not a time: the same on a loaded machine.
#
#   herd_smoke.sh BUILD_DIR
set -euo pipefail
out=$(MODES="accept select" WORKERS=8 CLIENTS=1 CONNS=100 bash "$(dirname "$0")/../herd.sh" "$1")
echo "$out"
row() { awk -v m="$1" '$1 == m { print }' <<<"$out"; }
read -r _ accept_conns _ accept_per _ <<<"$(row accept)"
read -r _ select_conns _ select_per _ <<<"$(row select)"
[[ $accept_conns == 100 && $select_conns == 100 ]] || { echo "herd: not every connection counted"; exit 1; }
awk -v a="$accept_per" -v s="$select_per" 'BEGIN { exit !(s >= a + 2) }' ||
    { echo "herd: select's wakeups per connection ($select_per) do not show the herd against accept's ($accept_per)"; exit 1; }
echo "bench.herd: OK"
