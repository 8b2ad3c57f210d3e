#!/usr/bin/env bash
# leaderboard_test.sh BIN_DIR CHECK_RESULTS_PY: csd-grade --leaderboard
# writes a leaderboard list that Gradescope's format accepts
# (check_results.py), with the server's and the reference's figures, and
# the same score as without the flag.
set -euo pipefail
bin=$1
check=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin/csd-grade" epoll "$bin/solution-epoll" --check start --check bytes --json "$tmp/plain.json" >/dev/null
"$bin/csd-grade" epoll "$bin/solution-epoll" --check start --check bytes --json "$tmp/board.json" \
    --leaderboard --reference "$bin/solution-epoll" >"$tmp/out.txt"
cat "$tmp/out.txt"
python3 "$check" "$tmp/board.json" --full
python3 - "$tmp/plain.json" "$tmp/board.json" <<'PY'
import json, sys
plain, board = (json.load(open(p)) for p in sys.argv[1:3])
assert "leaderboard" not in plain, "a leaderboard without --leaderboard"
assert plain["score"] == board["score"] and plain["max_score"] == board["max_score"], \
    f"--leaderboard changed the score: {plain['score']} against {board['score']}"
names = [e["name"] for e in board["leaderboard"]]
assert len(names) == 4, names
for e in board["leaderboard"]:
    assert e["value"] > 0, e
ratio = board["leaderboard"][3]["value"]
assert 0.2 < ratio < 5, f"the same program measured {ratio}x itself"
print("leaderboard:", board["leaderboard"])
PY
grep -q "server CPU .*x the reference solution's" "$tmp/out.txt"
# A server that does not start gets no leaderboard, and no crash.
printf '#!/bin/sh\nexit 3\n' >"$tmp/dead"
chmod +x "$tmp/dead"
status=0
"$bin/csd-grade" epoll "$tmp/dead" --check start --json "$tmp/dead.json" --leaderboard \
    >"$tmp/dead.txt" || status=$?
[ "$status" -eq 1 ] || { echo "exit status $status for a dead server"; exit 1; }
grep -q "leaderboard: not measured" "$tmp/dead.txt"
python3 - "$tmp/dead.json" <<'PY'
import json, sys
assert "leaderboard" not in json.load(open(sys.argv[1]))
PY
echo "leaderboard_test: OK"
