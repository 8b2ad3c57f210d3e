#!/usr/bin/env python3
"""run_experiments: every shell experiment of the handouts and docs is run.

    run_experiments.py --build DIR [--only NAME] [FILE.md ...]
    run_experiments.py --self-test

A shell experiment is a fenced block whose language is `console`, or any
fenced block with a `$ command` line. Each one is either

- marked: the line `<!-- experiment: NAME -->` right before its fence (blank
  lines allowed in between; an HTML comment, so Sphinx/MyST and GitHub render
  nothing, like the `<!-- snippet: compile -->` marks of tools/snippets.cpp).
  The runner runs its `$ ` commands against the reference solutions and
  checks the output the block shows; or
- listed in NOT_RUNNABLE below (file, first command), with the reason it
  cannot run in a test.

A block that is neither fails the test, so a new experiment cannot slip in
unchecked; so does a NOT_RUNNABLE entry that matches no block, or a block
both marked and listed.

How a marked block is run (one bash, so `$!`, `%2` and `jobs` work as in a
terminal, with job control on: each job has its own process group):

- in a temporary directory holding `build` -> the build directory, with
  `skeleton-` replaced by `solution-` (the reference stands for the
  student's server) and `/tmp/` by the temporary directory;
- as root, in fresh network, PID and mount namespaces (unshare), so port
  2000 is free, `pgrep`/`pidof` see only the experiment's processes, and
  everything left dies with it; without unshare, in the host's namespaces;
- stdin is a pipe nobody writes to (a quiet terminal);
- a command that runs until Ctrl-C in a terminal (a lab server in the
  foreground, `strace -p`) is started as a job; the next such command, or
  the end of the block, sends its process group SIGINT (the reader's
  Ctrl-C); jobs of `&` are likewise stopped with SIGINT at the end;
- before the next command, the runner waits as a reader does: until the
  output the handout shows for this command has appeared (at most 10 s),
  and after a command left running (`&`, or a server) until every process
  of its group sleeps and, when it has `-p PORT`, the port listens (at most
  5 s); sleeps are real, none is scaled;
- commands in SKIPPED_COMMANDS (`./csd ...`, a PID the reader copies from
  the screen) are not run; the report prints each with its reason;
- SETUP[NAME] runs first what the prose around the block says is already
  running (a server); its output is not checked;
- STAND_INS[NAME] gives the server the prose describes where it is not a
  lab program ("a server that takes each read for a line"): a program of
  the test build (a deliberately broken server) replaces the one named.

What is checked:

- every command that was run in the foreground exits with status 0 (or the
  status ALLOWED_STATUS gives it);
- the output lines the handout shows under a command appear, in order, in
  what the block printed (stdout and stderr, the jobs' too) from that
  command on; other lines may come in between (the handouts show excerpts
  of strace and ps).
- One line matches another when, with runs of blanks collapsed to one
  blank and trailing blanks dropped, they are equal, where `...` in the
  handout's line matches any text (the handout's own elision: PIDs,
  addresses, timings). A handout line that is only `...` is skipped.

Exit status 0 when every marked block passes and every block is marked or
listed; 1 otherwise; 2 on a usage error. Python 3.11 stdlib only.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Blocks that cannot run in a test: (file, its first command) -> the reason.
NOT_RUNNABLE: dict[tuple[str, str], str] = {
    ("labs/select/handout.md", "cmake --build build --target solution-select solution-poll solution-epoll \\"):
        "builds in the source tree's build/ and benchmarks 1 to 5,000 idle connections for minutes",
    ("labs/sigpipe/handout.md", "./csd grade sigpipe                             # build, then grade your program"):
        "only ./csd commands: they build in the source tree's build/ and grade for minutes",
    ("docs/designs.md", "./csd bench --docs          # writes docs/figures/designs.*, then: ./csd docs"):
        "the design comparison benchmark: minutes on 2 cores, and it rewrites docs/figures",
    ("docs/designs.md", "./csd bench --labs fork,select --profile unp --count-only \\"):
        "needs the Python servers of Spivak's csdesign, fetched from the network",
    ("docs/index.md", "./csd                 # install, build, grade every reference solution"):
        "./csd installs packages, builds in the source tree and grades everything (minutes; CI runs it)",
    ("docs/instructors.md", "./csd release DIR --labs iterative,select"):
        "DIR is a placeholder; the release is tested by the release.* tests",
    ("docs/instructors.md", "./csd flaky [ROUNDS]"):
        "runs the whole test suite many times (hours)",
    ("docs/instructors.md", "build/bin/csd-grade LAB build/bin/skeleton-LAB --check ID"):
        "LAB and ID are placeholders; grading is tested by the solution.* tests",
    ("docs/instructors.md", "ctest --preset default -L broken"):
        "runs a part of this very test suite in the source tree's build/ (minutes)",
    ("docs/instructors.md", "./csd test"):
        "the whole test suite, this test included (20 minutes)",
    ("docs/instructors.md", "cmake --preset tsan && cmake --build --preset tsan && ctest --preset tsan -L solution"):
        "a ThreadSanitizer build in the source tree and its tests (minutes)",
    ("docs/start.md", "./csd"):
        "./csd installs packages, builds in the source tree and grades everything (minutes; CI runs it)",
    ("docs/start.md", "docker run -it --cap-add=SYS_PTRACE debian:12"):
        "needs Docker and the network (a second machine, in effect)",
    ("docs/workflow.md", "./csd"):
        "./csd installs packages, builds in the source tree and grades everything (minutes; CI runs it)",
    ("docs/workflow.md", "./csd grade fork"):
        "builds in the source tree's build/ and grades for minutes",
    ("docs/workflow.md", "cmake --build --preset default --target grade-fork   # the CMake target"):
        "builds in the source tree's build/ and grades the fork lab in full (minutes)",
    ("docs/workflow.md", "build/bin/csd-grade fork build/bin/skeleton-fork --json results.json"):
        "grades the fork lab in full (minutes)",
}

# Commands of marked blocks that are not run: a regex on the command -> why.
SKIPPED_COMMANDS: list[tuple[str, str]] = [
    (r"^\./csd\b", "./csd builds in the source tree's build/ and grades for minutes (CI runs it)"),
    (r"\bWORKER_PID\b|/proc/PID/", "a PID the reader copies from the previous output"),
]

# What the prose says is already running before the block (not checked).
SETUP: dict[str, list[str]] = {
    "cork-segments": ["build/bin/solution-cork -p 2000"],
    "fork-look": ["build/bin/solution-fork -p 2000", "nc 127.0.0.1 2000 &"],
    "thread-look": ["build/bin/solution-thread -p 2000", "nc 127.0.0.1 2000 &", "nc 127.0.0.1 2000 &"],
    "rst-time-wait": ["build/bin/solution-rst -p 2000"],
    "sigpipe-strace": [
        "python3 -c '\nimport socket, struct\ns = socket.create_server((\"127.0.0.1\", 9000))\n"
        "c, _ = s.accept(); c.recv(100)\n"
        "c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack(\"ii\", 1, 0))\n"
        "c.close()' &"
    ],
    "workflow-client": ["build/bin/solution-fork -p 2000"],
}

# The server a block's prose describes, where it is not a lab program: NAME
# -> (the program the block names, the test build's program that stands in
# for it; build/tests/broken/ holds the deliberately broken servers).
STAND_INS: dict[str, tuple[str, str]] = {
    # "a server that takes the end of each read for a whole line"
    "workflow-grade-split": ("build/bin/skeleton-iterative", "build/tests/broken/broken-partial-line"),
}

# Marked blocks known to fail, with the issue: they are run and reported, a
# failure does not fail the test, a pass does (remove the entry then).
KNOWN_FAILING: dict[str, str] = {}

# Exit statuses other than 0 a command may have: NAME -> {command index: status}.
ALLOWED_STATUS: dict[str, dict[int, int]] = {
    # strace re-raises the SIGPIPE that killed its tracee: 128 + 13.
    "sigpipe-strace": {0: 141},
    # csd-grade below full score.
    "workflow-grade-split": {0: 1},
}

# Programs that run until Ctrl-C when started in the foreground.
LONG_RUNNING = re.compile(
    r"^(strace\b[^|;&]*\s)?build/bin/solution-(?!sigpipe\b)[a-z]+\b(?![^|;&]*\|)"
    r"|^strace\b[^|;&]*\s-p\s"
)
# A program that attaches to a running one (strace -p): it runs until
# Ctrl-C beside the server it watches, which stays up.
ATTACH = re.compile(r"^strace\b[^|;&]*\s-p\s")
MARK = re.compile(r"^<!--\s*experiment:\s*([A-Za-z0-9_.-]+)\s*-->$")
BLOCK_TIMEOUT = 45.0


@dataclass
class Command:
    text: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    path: str  # relative to the repository, or as given
    line: int  # of the opening fence
    name: str | None
    commands: list[Command]

    @property
    def first(self) -> str:
        return self.commands[0].text.split("\n")[0] if self.commands else ""


def complete(text: str) -> bool:
    """Whether bash sees @p text as a whole command (no open quote or `\\`)."""
    if text.endswith("\\"):
        return False
    r = subprocess.run(["bash", "-n", "-c", text], capture_output=True, text=True)
    return "unexpected end of file" not in r.stderr and "unexpected EOF" not in r.stderr


def parse(md_path: Path, rel: str) -> list[Block]:
    lines = md_path.read_text().split("\n")
    blocks: list[Block] = []
    previous = ""
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith("```") and stripped.strip("`").strip():
            indent = len(lines[i]) - len(lines[i].lstrip())
            lang = stripped[3:].strip()
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith("```"):
                end += 1
            body = [ln[indent:] if ln[:indent].strip() == "" else ln.lstrip() for ln in lines[i + 1:end]]
            if lang.startswith("console") or any(ln.startswith("$ ") for ln in body):
                m = MARK.match(previous)
                commands: list[Command] = []
                j = 0
                while j < len(body):
                    if body[j].startswith("$ "):
                        text = body[j][2:]
                        while not complete(text) and j + 1 < len(body):
                            j += 1
                            text += "\n" + body[j]
                        commands.append(Command(text))
                    elif commands and body[j].strip():
                        commands[-1].expected.append(body[j])
                    j += 1
                blocks.append(Block(rel, i + 1, m.group(1) if m else None, commands))
            i = end + 1
            previous = ""
            continue
        if stripped:
            previous = stripped
        i += 1
    return blocks


def squash(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def line_matches(expected: str, actual: str) -> bool:
    parts = [re.escape(p) for p in squash(expected).split("...")]
    return re.fullmatch(".*".join(parts), squash(actual), re.DOTALL) is not None


def skip_reason(cmd: str) -> str | None:
    for pattern, reason in SKIPPED_COMMANDS:
        if re.search(pattern, cmd):
            return reason
    return None


PRELUDE = r"""
set -m
__settle() {  # $1: a job's last process; $2: a port or empty. The reader waits.
  local i
  set -- "$(ps -o pgid= -p "$1" | tr -d ' ')" "$2"  # its group: a pipeline's first process
  for i in $(seq 50); do
    if ps -e -o pgid=,stat= | awk -v g="$1" '$1==g{n++; if ($2 !~ /^[StTZ]/) b++} END{exit !(n>0 && b==0)}' &&
       { [ -z "$2" ] || ss -Hltn "sport = :$2" | grep -q .; }; then
      sleep 0.2; return 0
    fi
    sleep 0.1
  done
  echo "experiment: the job did not settle in 5 s" >&2
}
__stop() {  # $1: a process group: the reader's Ctrl-C.
  local i
  kill -INT -- "-$1" 2>/dev/null || return 0
  for i in $(seq 30); do kill -0 -- "-$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}
__wait_for() {  # $1: a file of expected lines: wait until the log shows them (10 s at most).
  local end=$((SECONDS + 10))
  [ -n "$(jobs -p)" ] || return 0  # nothing left running: all of it is printed
  while [ "$SECONDS" -le "$end" ]; do
    python3 "$__runner" --check-log "$__log" "$__from" "$1" && { sleep 0.2; return 0; }
    sleep 0.1
  done
}
__fg=""
if [ -n "$__netns" ]; then ip link set lo up; fi
"""


def strip_comment(cmd: str) -> str:
    """@p cmd without a trailing `# comment` on its last line (quotes respected)."""
    head, _, last = cmd.rpartition("\n")
    quote = ""
    for i, c in enumerate(last):
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or last[i - 1] in " \t"):
            last = last[:i]
            break
    return (head + "\n" if head else "") + last.rstrip()


def port_of(cmd: str) -> str:
    m = re.search(r"\s-p\s+(\d+)", cmd)
    return m.group(1) if m else ""


def expected_of(block: Block, cmd: Command) -> list[str]:
    """The lines the handout shows under @p cmd, with the stand-in's path where
    the block names the program it stands for (STAND_INS)."""
    stand_in = STAND_INS.get(block.name or "")
    if not stand_in:
        return cmd.expected
    return [line.replace(stand_in[0], stand_in[1]) for line in cmd.expected]


def script_for(block: Block, work: Path) -> tuple[str, list[int]]:
    """The bash script of @p block, and the indices of the commands it runs."""
    out = [PRELUDE]
    ran: list[int] = []
    setup = [Command(c) for c in SETUP.get(block.name or "", [])]
    commands = [(-1 - k, c) for k, c in enumerate(setup)] + list(enumerate(block.commands))
    stand_in = STAND_INS.get(block.name or "")
    for index, cmd in commands:
        text = cmd.text
        if stand_in:
            text = text.replace(stand_in[0], stand_in[1])
        text = re.sub(r"\bskeleton-(?=[a-z])", "solution-", strip_comment(text))
        text = text.replace("/tmp/", f"{work}/")
        if index >= 0 and skip_reason(cmd.text):
            continue
        if index >= 0:
            ran.append(index)
        out.append(f"printf '@@cmd {index}\\n'")
        out.append(f"__from=$(wc -l < \"$__log\")")
        background = text.rstrip().endswith("&") and not text.rstrip().endswith("&&")
        if background:
            out.append(text)
            out.append(f"__settle $! '{port_of(text)}'")
        elif ATTACH.search(text):
            # strace -p on the server started before: both run on, the
            # server is not stopped (the end of the script stops both).
            out.append(f"{{ {text}\n}} &")
            out.append("__settle $! ''")
        elif LONG_RUNNING.search(text):
            out.append('[ -n "$__fg" ] && __stop "$__fg"')
            out.append(f"{{ {text}\n}} &")
            out.append("__fg=$!")
            out.append(f"__settle $__fg '{port_of(text)}'")
        else:
            out.append(text)
            out.append(f"printf '@@status {index} %d\\n' $?")
        if cmd.expected and index >= 0:
            exp = work / f"expected-{index}.txt"
            exp.write_text("\n".join(expected_of(block, cmd)) + "\n")
            out.append(f"__wait_for '{exp}'")
    out.append('for __j in $(jobs -p); do __stop "$__j"; done')
    out.append("printf '@@end\\n'")
    return "\n".join(out) + "\n", ran


def find_in(expected: list[str], log: list[str], start: int) -> tuple[int, str | None]:
    """Matches @p expected in order in @p log from @p start: (next position, first missing line)."""
    pos = start
    for e in expected:
        if squash(e) == "...":
            continue
        while pos < len(log) and not line_matches(e, log[pos]):
            pos += 1
        if pos >= len(log):
            return pos, e
        pos += 1
    return pos, None


def run_block(block: Block, build: Path, use_ns: bool) -> tuple[bool, list[str]]:
    """Runs a marked block; (passed, report lines)."""
    report: list[str] = []
    with tempfile.TemporaryDirectory(prefix="csd-exp-") as tmp:
        work = Path(tmp)
        (work / "build").symlink_to(build.resolve())
        script, ran = script_for(block, work)
        (work / "script.sh").write_text(script)
        log = work / "log.txt"
        log.touch()
        env = dict(os.environ, __log=str(log), __runner=str(Path(__file__).resolve()),
                   __netns="1" if use_ns else "")
        argv = ["bash", str(work / "script.sh")]
        if use_ns:
            argv = ["unshare", "--net", "--pid", "--mount", "--mount-proc", "--fork", "--kill-child"] + argv
        stdin_r, stdin_w = os.pipe()  # a quiet terminal: open, nothing typed
        with open(log, "w") as out:
            proc = subprocess.Popen(argv, cwd=work, env=env, stdin=stdin_r, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            os.close(stdin_r)
            try:
                proc.wait(timeout=BLOCK_TIMEOUT)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            kill_session(proc.pid)
            proc.wait()
            os.close(stdin_w)
        lines = log.read_text(errors="replace").split("\n")
    ok = True
    if timed_out:
        ok = False
        report.append(f"timed out after {BLOCK_TIMEOUT:.0f} s")
    # A job's unfinished line may come before a marker: "epoll_wait(7, @@cmd 5".
    markers = {int(m.group(1)): n for n, ln in enumerate(lines) if (m := re.search(r"@@cmd (-?\d+)$", ln))}
    statuses = {int(m.group(1)): int(m.group(2)) for ln in lines if (m := re.search(r"@@status (-?\d+) (\d+)$", ln))}
    content = [re.sub(r"@@(cmd|status|end)\b.*$", "", ln) for ln in lines]
    pos = 0
    for index, cmd in enumerate(block.commands):
        reason = skip_reason(cmd.text)
        head = cmd.text.split("\n")[0]
        if reason:
            report.append(f"  skipped  $ {head}\n           ({reason})")
            continue
        if index not in markers:
            ok = False
            report.append(f"  not run  $ {head}")
            continue
        problems = []
        want = ALLOWED_STATUS.get(block.name or "", {}).get(index, 0)
        if index in statuses and statuses[index] != want:
            problems.append(f"exit status {statuses[index]}, want {want}")
        pos, missing = find_in(expected_of(block, cmd), content, max(pos, markers[index]))
        if missing is not None:
            problems.append(f"the handout shows {missing!r}, not printed")
            pos = markers[index]
        ok = ok and not problems
        report.append(f"  {'FAIL' if problems else 'ok'.ljust(4)}     $ {head}")
        report.extend(f"           {p}" for p in problems)
    if not ok:
        report.append("  --- what the block printed ---")
        report.extend(f"  | {ln}" for ln in lines if ln)
    return ok, report


def kill_session(sid: int) -> None:
    """SIGKILL every process of session @p sid (the one the runner started)."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid:
                os.kill(int(d.name), 9)
        except (OSError, ValueError):
            pass


def namespaces_work() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    r = subprocess.run(["unshare", "--net", "--pid", "--mount", "--mount-proc", "--fork", "true"],
                       capture_output=True)
    return r.returncode == 0


def default_files() -> list[Path]:
    return sorted(ROOT.glob("labs/*/handout.md")) + sorted(ROOT.glob("docs/*.md"))


def rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def run(files: list[Path], build: Path | None, only: str | None, not_runnable: dict, jobs: int = 2) -> int:
    blocks = [b for f in files for b in parse(f, rel(f))]
    failures = 0
    seen: set[tuple[str, str]] = set()
    names: dict[str, Block] = {}
    use_ns = namespaces_work()
    if build is not None:
        print(f"run_experiments: namespaces {'on' if use_ns else 'off (not root, or no unshare)'}")
    marked = listed = 0
    to_run: list[Block] = []
    for b in blocks:
        key = (b.path, b.first)
        where = f"{b.path}:{b.line}"
        if b.name and b.name in names:
            print(f"FAIL {where}: experiment name {b.name!r} used twice")
            failures += 1
        if b.name:
            names[b.name] = b
        if key in not_runnable:
            seen.add(key)
            if b.name:
                print(f"FAIL {where}: marked {b.name!r} and listed as not runnable")
                failures += 1
            else:
                listed += 1
                if build is not None and only is None:
                    print(f"not run  {where} $ {b.first}\n         ({not_runnable[key]})")
            continue
        if not b.name:
            print(f"FAIL {where}: shell experiment neither marked (<!-- experiment: NAME -->) "
                  f"nor listed in NOT_RUNNABLE of tools/run_experiments.py: $ {b.first}")
            failures += 1
            continue
        marked += 1
        if build is None or (only and b.name != only):
            continue
        to_run.append(b)

    def timed(b: Block) -> tuple[bool, list[str], float]:
        t0 = time.monotonic()
        ok, report = run_block(b, build, use_ns)
        return ok, report, time.monotonic() - t0

    # Each block has namespaces of its own when it can: then blocks run side
    # by side, `jobs` at a time; in the host's namespaces, one at a time.
    with ThreadPoolExecutor(max_workers=jobs if use_ns else 1) as pool:
        for b, (ok, report, secs) in zip(to_run, pool.map(timed, to_run)):
            known = KNOWN_FAILING.get(b.name or "")
            state = "ok  " if ok else "FAIL"
            if known:
                state = "FAIL (passes, remove it from KNOWN_FAILING)" if ok else "known failure"
            print(f"{state} {b.path}:{b.line} experiment {b.name} ({secs:.1f} s)")
            if known:
                print(f"  known issue: {known}")
            print("\n".join(report))
            failures += ok if known else not ok
    for key in not_runnable:
        if key not in seen and any(rel(f) == key[0] for f in files):
            print(f"FAIL NOT_RUNNABLE lists {key[0]} `$ {key[1]}`, which no block starts with")
            failures += 1
    print(f"run_experiments: {marked} marked, {listed} listed as not runnable, {failures} failure(s)")
    return 1 if failures else 0


def check_log(log: str, start: str, expected_file: str) -> int:
    """--check-log: whether the log shows the expected lines from line @p start (the reader's wait)."""
    lines = Path(log).read_text(errors="replace").split("\n")
    content = [re.sub(r"@@(cmd|status|end)\b.*$", "", ln) for ln in lines]
    expected = [ln for ln in Path(expected_file).read_text().split("\n") if ln.strip()]
    return 0 if find_in(expected, content, int(start or 0))[1] is None else 1


def self_test() -> int:
    """The runner can fail: fake handouts whose experiments are wrong must fail."""
    cases = {
        "pass": ("<!-- experiment: good -->\n\n```console\n$ echo hello world; echo x 1234 y\n"
                 "hello world\nx ... y\n$ sleep 5 &\n$ jobs\n[1]+  Running ...\n```\n", 0),
        "wrong-output": ("<!-- experiment: bad -->\n```console\n$ echo hello\ngoodbye\n```\n", 1),
        "wrong-order": ("<!-- experiment: order -->\n```console\n$ printf 'b\\na\\n'\na\nb\n```\n", 1),
        "bad-status": ("<!-- experiment: status -->\n```console\n$ false\n```\n", 1),
        "unmarked": ("```console\n$ echo hello\nhello\n```\n", 1),
        "stale-listing": ("<!-- experiment: fine -->\n```console\n$ true\n```\n", 1),
        "skipped-only": ("<!-- experiment: csd -->\n```console\n$ ./csd grade x\n$ echo a\na\n```\n", 0),
    }
    failed = 0
    with tempfile.TemporaryDirectory(prefix="csd-exp-self-") as tmp:
        build = Path(tmp) / "build"
        build.mkdir()
        for name, (text, want) in cases.items():
            f = Path(tmp) / f"{name}.md"
            f.write_text(text)
            listing = {(str(f), "no such command"): "stale"} if name == "stale-listing" else {}
            print(f"--- self-test {name}: want exit status {want}")
            got = run([f], build, None, listing)
            if got != want:
                print(f"SELF-TEST FAILED: {name} gave {got}, want {want}")
                failed += 1
    print(f"run_experiments --self-test: {len(cases) - failed}/{len(cases)} cases as expected")
    return 1 if failed else 0


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--check-log":
        return check_log(*sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", type=Path, help="the build directory (its bin/solution-LAB)")
    ap.add_argument("--only", help="run only the experiment NAME")
    ap.add_argument("--jobs", type=int, default=2, help="blocks run at once (default 2)")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("files", nargs="*", type=Path)
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if args.build is None or not (args.build / "bin").is_dir():
        print("run_experiments: --build DIR (with DIR/bin) is required", file=sys.stderr)
        return 2
    return run(args.files or default_files(), args.build, args.only, NOT_RUNNABLE, args.jobs)


if __name__ == "__main__":
    sys.exit(main())
