#!/usr/bin/env bash
# tools/flaky.sh BUILD [ROUNDS]: the flakiness run (docs/instructors.md,
# "The flakiness run"). Grades every reference solution of BUILD/bin ROUNDS
# times (default 20) while a spinning process keeps one core busy, then
# prints per lab how many runs scored full marks and the slowest check: its
# time, its own deadline and how much of that deadline it used (from the
# extra_data of csd-grade's --json results). LABS="a b" limits the labs.
# Exit status 0 only when every run of every lab scored full marks.
set -euo pipefail

build=${1:?usage: tools/flaky.sh BUILD [ROUNDS]}
rounds=${2:-20}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "flaky.sh: ROUNDS must be a positive number" >&2; exit 2; }
bin=$(cd "$build/bin" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$build/flaky"
rm -rf "$out"
mkdir -p "$out"

if [ -z "${LABS:-}" ]; then
    # The lab manifest's `lab ID` lines, in course order.
    LABS=$(sed -n 's/^lab[[:space:]]\{1,\}\([a-z][a-z0-9-]*\).*/\1/p' "$root/labs/labs.txt")
fi
labs=()
for lab in $LABS; do
    [ -x "$bin/solution-$lab" ] && labs+=("$lab")
done
[ ${#labs[@]} -gt 0 ] || { echo "flaky.sh: no solution built in $bin" >&2; exit 2; }

# The other core kept busy, for the whole run.
bash -c 'while :; do :; done' &
spinner=$!
trap 'kill "$spinner" 2>/dev/null || true' EXIT

echo "flaky: ${#labs[@]} labs x $rounds rounds, one core kept busy (pid $spinner); logs in $out/"
for ((round = 1; round <= rounds; round++)); do
    printf 'round %d/%d:' "$round" "$rounds"
    for lab in "${labs[@]}"; do
        status=0
        "$bin/csd-grade" "$lab" "$bin/solution-$lab" --json "$out/$lab.$round.json" \
            >"$out/$lab.$round.log" 2>&1 || status=$?
        if [ "$status" -eq 0 ]; then printf ' %s' "$lab"; else printf ' %s(FAILED)' "$lab"; fi
    done
    echo
done

python3 - "$out" "$rounds" "${labs[@]}" <<'EOF'
import json, sys
out, rounds, labs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(f"\n{'lab':<11} {'full':>7}  slowest check (its time, its deadline, deadline used)")
bad = 0
for lab in labs:
    full, slow = 0, None
    for r in range(1, rounds + 1):
        try:
            with open(f"{out}/{lab}.{r}.json") as f:
                results = json.load(f)
        except (OSError, ValueError):
            continue
        if results["score"] == results["max_score"]:
            full += 1
        for t in results["tests"]:
            extra = t.get("extra_data", {})
            s, d = extra.get("seconds", 0), extra.get("deadline_seconds", 0)
            if slow is None or s > slow[1]:
                slow = (t["name"], s, d, r)
    bad += full != rounds
    if slow is None:
        print(f"{lab:<11} {full:>3}/{rounds:<3}  (no results)")
        continue
    used = f"{100 * slow[1] / slow[2]:.0f} %" if slow[2] else "-"
    print(f"{lab:<11} {full:>3}/{rounds:<3}  {slow[0]} {slow[1]:.2f} s of {slow[2]:g} s"
          f" ({used}, round {slow[3]})")
for lab in labs:
    for r in range(1, rounds + 1):
        try:
            with open(f"{out}/{lab}.{r}.json") as f:
                results = json.load(f)
        except (OSError, ValueError):
            print(f"\n{lab} round {r}: no results (see {out}/{lab}.{r}.log)")
            continue
        for t in results["tests"]:
            if t.get("status") == "failed":  # a skipped check has no status
                print(f"\n{lab} round {r}: {t['name']} failed:\n{t['output']}")
sys.exit(1 if bad else 0)
EOF
