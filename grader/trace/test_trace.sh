#!/usr/bin/env bash
# The tests of csd-trace (grader/trace/CMakeLists.txt):
#
#   test_trace.sh fork SOLUTION_FORK OUT
#       every one of the 13 clients of the load served by a child of its
#       own, each handed over from the parent (a flow per connection in
#       trace.json), the trace's JSON a valid Trace Event Format file
#       (csd_trace.trace_problems), the timeline an SVG. Where perf may
#       record (csd_trace.perf_usable: ./csd test installs linux-perf),
#       every child has its own wakeups, and the slow client's child
#       (its request one byte per 100 ms) woke at least 4 times.
#   test_trace.sh herd SOLUTION_PREFORK OUT
#       prefork in mode accept: no wakeup found nothing (a blocking accept
#       never comes back empty); in mode select: some did (the herd). Both
#       traces valid, both timelines written. Mode accept counts its
#       wakeups without perf (--no-perf: /proc read every 2 ms), so that
#       fallback runs too: every worker has its wakeups.
#   test_trace.sh fdpass SOLUTION_FDPASS MODEL_FDPASS OUT
#       a broken server's trace shows its flaw: the fdpass solution hands
#       the burst (c6 to c13) only to the workers that are free, so the
#       workers serving the slow c4 and the stalling c5 serve none of it;
#       grader/broken's model-fdpass hands over in turn, busy or not, and
#       the summary shows a burst client on the row of c4 or c5.
#   test_trace.sh programs SOLUTION_SIGPIPE SOLUTION_SELFPIPE OUT
#       the program labs: sigpipe's recv fails with ECONNRESET, its send with
#       EPIPE, and SIGPIPE is delivered (ignored, it survives: exit 0);
#       selfpipe's SIGUSR1 cuts its window's sleep, the handler writes the
#       pipe, and the next wait returns with the pipe readable before
#       "got SIGUSR1". Both traces valid, both timelines written, and
#       labelled: the failed calls, the signals, the writes, the exit.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
trace() { python3 "$HERE/csd_trace.py" "$@"; }
die() { echo "test_trace: FAILED: $*" >&2; exit 1; }
views() {  # views DIR WHAT: DIR's trace.json is a valid trace, its timeline.svg an SVG
    python3 -c 'import json, sys; sys.path.insert(0, sys.argv[2]); import csd_trace
p = csd_trace.trace_problems(json.load(open(sys.argv[1]))); assert not p, p' \
        "$1/trace.json" "$HERE" || die "$2: trace.json is not a valid trace"
    grep -q '^<svg ' "$1/timeline.svg" || die "$2: no timeline"
}
column() {  # column FILE TASK N: field N of TASK's row of summary.txt
    awk -v t="$2" -v n="$3" 'index($0, t) == 1 {
        rest = substr($0, length(t) + 1); sub(/^ +/, "", rest); split(rest, f, / +/); print f[n] }' "$1"
}

case "$1" in
fork)
    trace --lab fork --server "$2" --out "$3" >/dev/null
    cat "$3/summary.txt"
    children=$(grep -c '^child [0-9]* *1 ' "$3/summary.txt" || true)
    [ "$children" -eq 13 ] || die "expected 13 children serving 1 connection each, got $children"
    python3 - "$3/trace.json" "$HERE" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[2])
import csd_trace
trace = json.load(open(sys.argv[1]))
problems = csd_trace.trace_problems(trace)
assert not problems, problems
events = trace["traceEvents"]
flows = [e for e in events if e["ph"] == "s"]
serves = [e for e in events if e.get("cat") == "serve"]
assert len(flows) == 13, f"{len(flows)} hand-overs, expected 13 (parent to each child)"
assert len(serves) == 13, f"{len(serves)} connections served, expected 13"
names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
assert "parent" in names and "child 12" in names, names
PY
    grep -q '^<svg ' "$3/timeline.svg" || die "timeline.svg is not an SVG"
    if python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import csd_trace
sys.exit(0 if csd_trace.perf_usable() else 1)' "$HERE"; then
        grep -q 'recorded by perf' "$3/summary.txt" || die "perf works here, but did not count"
        for n in $(seq 0 12); do
            woke=$(column "$3/summary.txt" "child $n " 2)
            [[ "$woke" =~ ^[0-9]+$ ]] || die "child $n: no wakeups counted ('$woke')"
        done
        # c4's or c5's (the two start 50 ms apart; a loaded machine may
        # swap them between the two runs, and wakeups follow the name).
        slow=$(awk '$1 == "child" && ($NF == "c4" || $NF == "c5") && $4 > m { m = $4 } END { print m + 0 }' \
            "$3/summary.txt")
        [ "$slow" -ge 4 ] || die "the slow client's child woke $slow times (expected 4 or more)"
    else
        echo "test_trace: perf cannot record here: per-child wakeups not checked"
    fi
    ;;
herd)
    trace --lab prefork --server "$2" --out "$3/accept" --no-perf -- -m accept >/dev/null
    grep -q 'read from /proc every 2 ms' "$3/accept/summary.txt" || die "--no-perf: not sampled"
    for n in 0 1 2 3; do
        woke=$(column "$3/accept/summary.txt" "worker $n " 2)
        [[ "$woke" =~ ^[0-9]+$ ]] || die "--no-perf: worker $n has no wakeups ('$woke')"
    done
    trace --lab prefork --server "$2" --out "$3/select" -- -m select >/dev/null
    cat "$3/accept/summary.txt" "$3/select/summary.txt"
    accept=$(column "$3/accept/summary.txt" "(whole server)" 3)
    select=$(column "$3/select/summary.txt" "(whole server)" 3)
    [ "$accept" = 0 ] || die "mode accept: $accept wakeups found nothing (expected 0)"
    [ "$select" -gt 0 ] || die "mode select: no wakeup found nothing (expected the herd)"
    for mode in accept select; do views "$3/$mode" "mode $mode"; done
    ;;
fdpass)
    # The burst clients served by the task that also served c4 or c5.
    beside_stalled() {
        awk '/^worker/ { slow = 0; for (i = 1; i <= NF; i++) { c = $i; sub(/,$/, "", c)
                                 if (c == "c4" || c == "c5") slow = 1 }
                         if (!slow) next
                         for (i = 1; i <= NF; i++) { c = $i; sub(/,$/, "", c)
                                 if (c ~ /^c([6-9]|1[0-3])$/) print c } }' "$1"
    }
    trace --lab fdpass --server "$2" --out "$4/solution" >/dev/null
    trace --lab fdpass --server "$3" --out "$4/round-robin" >/dev/null
    cat "$4/solution/summary.txt" "$4/round-robin/summary.txt"
    wrong=$(beside_stalled "$4/solution/summary.txt" | tr '\n' ' ')
    [ -z "$wrong" ] || die "solution: burst clients $wrong were handed to a worker busy with c4 or c5"
    seen=$(beside_stalled "$4/round-robin/summary.txt" | tr '\n' ' ')
    [ -n "$seen" ] || die "round-robin: no burst client on the row of c4 or c5: the flaw does not show"
    for run in solution round-robin; do views "$4/$run" "$run"; done
    ;;
programs)
    trace --lab sigpipe --server "$2" --out "$4/sigpipe" >/dev/null
    trace --lab selfpipe --server "$3" --out "$4/selfpipe" >/dev/null
    cat "$4/sigpipe/summary.txt" "$4/selfpipe/summary.txt"
    s="$4/sigpipe/summary.txt"
    grep -q 'recvfrom(.*= -1 ECONNRESET' "$s" || die "sigpipe: no recv failing with ECONNRESET"
    grep -q 'sendto(.*= -1 EPIPE' "$s" || die "sigpipe: no send failing with EPIPE"
    grep -q 'signal SIGPIPE' "$s" || die "sigpipe: no SIGPIPE delivered"
    grep -q 'exited with 0' "$s" || die "sigpipe: the program did not exit with 0"
    python3 - "$4/selfpipe/summary.txt" <<'PY' || die "selfpipe: not the self-pipe's sequence"
import sys
lines = open(sys.argv[1]).read().splitlines()
at = lambda text: next(i for i, l in enumerate(lines) if text in l)
signal = at("signal SIGUSR1")
pipe_write = next(i for i, l in enumerate(lines) if i > signal and '"\\1"' in l)
answer = at('"got SIGUSR1')
wait = next(i for i, l in enumerate(lines) if pipe_write < i < answer and "pselect6(" in l)
assert signal < pipe_write < wait < answer, (signal, pipe_write, wait, answer)
PY
    for lab in sigpipe selfpipe; do views "$4/$lab" "$lab"; done
    # The timelines label what happened, in the handouts' figures too.
    for label in "recv: ECONNRESET" "sendto: EPIPE" ">SIGPIPE<" "exit 0"; do
        grep -q "$label" "$4/sigpipe/timeline.svg" || die "sigpipe: the timeline has no '$label'"
    done
    for label in ">SIGUSR1<" "write(fd " "pselect6: in [" "exit 0"; do
        grep -qF "$label" "$4/selfpipe/timeline.svg" || die "selfpipe: the timeline has no '$label'"
    done
    ;;
*) die "usage: test_trace.sh fork|herd|fdpass|programs PROGRAM... OUT" ;;
esac
echo "test_trace $1: OK"
