#!/usr/bin/env python3
r"""csd-trace: see a lab server's design at work (docs/contract.md, section 8).

It starts a lab server, drives a short scripted load against it (a few
clients one after another, a slow client, a client that stalls before its
request, a burst of concurrent clients, then SIGTERM), and writes into the
output directory what each process and thread of the server did:

- ``trace.json``: a Chrome trace (Trace Event Format: open it in
  https://ui.perfetto.dev or chrome://tracing), one track per process and
  thread, named by the lab's design (parent, worker 2, loop 1, thread 3...);
  a slice per connection served (labelled with the client), slices for the
  waits (accept, select/poll/epoll, a futex or record lock, io_uring_enter,
  a sleep), an instant for each wakeup that found nothing, for each fork,
  clone and exit, and a flow arrow where a connection moves from the task
  that accepted it to another that serves it (fork's child, fdpass's worker,
  the reactor's loop, a pool thread);
- ``timeline.svg``: the same on one page;
- ``summary.txt``: per process or thread, the connections it served, its
  wakeups, the wakeups that found nothing, its time waiting and serving;
- ``strace/``: strace's own record, one file per task (``strace.TID``).

Recording. The timeline comes from strace (``strace -ff -ttt -T -yy``): it
works for any user on any program the user may run, and it names every
descriptor (``-yy``: the client's port of a TCP socket), which is what ties
a system call to a client. strace stops the traced program at each system
call, and each stop is a context switch, so the wakeups are not counted in
that run: the same load is run first without strace, and each task's
``voluntary_ctxt_switches`` (``/proc/PID/task/TID/status``: the times it
blocked, so the times it had to be woken) is read as it goes, then matched
to the traced run's tasks by their names. A "wakeup that found nothing" is
counted from the traced run: a system call that came back with EAGAIN, or
a wait that timed out with nothing ready.

Usage (``./csd trace`` builds what it needs and runs it)::

    csd_trace.py --lab LAB --server PROGRAM [--out DIR] [--workers N]
                 [-- FLAG...]
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "docs"))
import course  # noqa: E402  (docs/course.py: the lab manifest's parser)

# --------------------------------------------------------------------------
# strace lines


@dataclass
class Call:
    """One system call of one task, as strace -ttt -T -yy printed it."""

    start: float  # seconds since the epoch, at entry
    name: str
    args: str
    result: str  # what follows "= ": "5<TCP:[...]>", "-1 EAGAIN (...)", "?"
    duration: float  # seconds in the call (-T)

    @property
    def end(self) -> float:
        return self.start + self.duration

    @property
    def failed(self) -> bool:
        return self.result.startswith("-1 ") or self.result.startswith("?")

    @property
    def errno(self) -> str:
        m = re.match(r"(?:-1|\?) (E[A-Z0-9_]+)", self.result)
        return m.group(1) if m else ""

    @property
    def value(self) -> Optional[int]:
        m = re.match(r"(-?\d+)", self.result)
        return int(m.group(1)) if m else None


@dataclass
class Event:
    """A line that is not a call: a signal, or the end of the task."""

    time: float
    text: str


_CALL = re.compile(r"^(\d+\.\d+) (\w+)\((.*)\)\s+= (.*?)(?: <(\d+\.\d+)>)?$")
_EVENT = re.compile(r"^(\d+\.\d+) (---|\+\+\+) (.*?) (?:---|\+\+\+)$")


def parse_line(line: str):
    r"""One line of ``strace -ttt -T -yy`` (one task's file of -ff): a Call,
    an Event, or None (a line this tool does not use).

    >>> c = parse_line('1796554070.356872 accept4(6<TCP:[127.0.0.1:24001]>, NULL, NULL, '
    ...                'SOCK_CLOEXEC) = 9<TCP:[127.0.0.1:24001->127.0.0.1:36866]> <0.000043>')
    >>> c.name, c.value, round(c.duration, 6), client_port(c.result)
    ('accept4', 9, 4.3e-05, 36866)
    >>> c = parse_line('1796554070.364184 poll([...], 4, -1)    = ? ERESTART_RESTARTBLOCK '
    ...                '(Interrupted by signal) <1.332953>')
    >>> c.name, c.failed, c.errno, round(c.end, 6)
    ('poll', True, 'ERESTART_RESTARTBLOCK', 1796554071.697137)
    >>> c = parse_line('1.5 accept4(3<TCP:[127.0.0.1:80]>, NULL, NULL, SOCK_NONBLOCK) = -1 '
    ...                'EAGAIN (Resource temporarily unavailable) <0.000010>')
    >>> c.errno, c.value
    ('EAGAIN', -1)
    >>> parse_line('1796554071.698745 +++ killed by SIGTERM +++').text
    'killed by SIGTERM'
    >>> parse_line('1796554071.697326 --- SIGTERM {si_signo=SIGTERM} ---').text
    'SIGTERM {si_signo=SIGTERM}'
    """
    m = _CALL.match(line)
    if m:
        return Call(float(m.group(1)), m.group(2), m.group(3), m.group(4),
                    float(m.group(5) or 0.0))
    m = _EVENT.match(line)
    if m:
        return Event(float(m.group(1)), m.group(3))
    return None


def client_port(text: str) -> Optional[int]:
    """The remote port of the first connected TCP socket named in @p text
    (``5<TCP:[127.0.0.1:2000->127.0.0.1:40312]>``: 40312), or None."""
    m = re.search(r"TCP6?:\[[^\]]*->[^\]]*:(\d+)\]", text)
    return int(m.group(1)) if m else None


def first_fd_port(call: Call) -> Optional[int]:
    """The client port of the descriptor a call works on (its first
    argument), or None when that is not a connection."""
    m = re.match(r"\d+<(TCP6?:\[[^\]]*\])>", call.args)
    return client_port(m.group(1)) if m else None


# What a task may block in, and how a wait is named on its track.
WAIT_CALLS = {
    "accept": "accept", "accept4": "accept",
    "select": "select", "pselect6": "select",
    "poll": "poll", "ppoll": "poll",
    "epoll_wait": "epoll_wait", "epoll_pwait": "epoll_wait", "epoll_pwait2": "epoll_wait",
    "futex": "futex (a lock or condition)", "fcntl": "record lock",
    "io_uring_enter": "io_uring_enter", "recvmsg": "recvmsg", "read": "read",
    "recvfrom": "recv", "wait4": "waitpid", "clock_nanosleep": "sleep", "nanosleep": "sleep",
}
# A wait shorter than this is not drawn (the call did not block).
MIN_WAIT = 0.0005
# The calls that move a connection's bytes.
IO_CALLS = {"read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg",
            "sendfile", "splice", "send", "recv"}


def is_wait(call: Call) -> bool:
    if call.name not in WAIT_CALLS or call.duration < MIN_WAIT:
        return False
    if call.name == "futex":
        return "FUTEX_WAIT" in call.args or "FUTEX_LOCK_PI" in call.args
    if call.name == "fcntl":
        return "SETLKW" in call.args
    return True


_POLLING = {"select", "pselect6", "poll", "ppoll", "epoll_wait", "epoll_pwait", "epoll_pwait2"}


def found_nothing(call: Call, previous: Optional[Call]) -> bool:
    """A wakeup that found nothing: a wait that came back with nothing
    ready (a timeout), or an accept or a read that failed with EAGAIN right
    after a wait said it was ready (another task took it first). An EAGAIN
    that ends a drain, or that comes before any wait, is not a wakeup.

    >>> wait = parse_line("1.0 epoll_wait(4<anon_inode:[eventpoll]>, [...], 8, -1) = 1 <0.2>")
    >>> eagain = parse_line("1.2 accept4(3<TCP:[127.0.0.1:80]>, NULL, NULL, 0) = -1 EAGAIN "
    ...                     "(Resource temporarily unavailable) <0.00001>")
    >>> found_nothing(eagain, wait), found_nothing(eagain, eagain), found_nothing(eagain, None)
    (True, False, False)
    >>> found_nothing(parse_line("2.0 poll([...], 1, 100) = 0 (Timeout) <0.1>"), None)
    True
    """
    if call.name in _POLLING:
        return call.value == 0 and call.duration >= MIN_WAIT
    return (call.errno == "EAGAIN" and call.name in {"accept", "accept4", "read", "recvfrom",
                                                      "recvmsg"}
            and previous is not None and previous.name in _POLLING
            and (previous.value or 0) > 0)


# --------------------------------------------------------------------------
# Tasks and their names


@dataclass
class Task:
    """A process or thread of the traced server."""

    tid: int
    parent: Optional[int]  # the task whose clone made it
    thread: bool  # a thread of its parent's process (CLONE_THREAD)
    born: float
    calls: List[Call] = field(default_factory=list)
    events: List[Event] = field(default_factory=list)
    name: str = ""


def read_trace(directory: Path, prefix: str) -> Dict[int, Task]:
    """The tasks of strace -ff's files PREFIX.TID in @p directory."""
    tasks: Dict[int, Task] = {}
    for path in sorted(directory.glob(prefix + ".*")):
        tid = int(path.suffix[1:])
        task = tasks.setdefault(tid, Task(tid, None, False, 0.0))
        for line in path.read_text(errors="replace").splitlines():
            item = parse_line(line)
            if isinstance(item, Call):
                task.calls.append(item)
            elif isinstance(item, Event):
                task.events.append(item)
    for task in tasks.values():
        times = [c.start for c in task.calls] + [e.time for e in task.events]
        task.born = min(times) if times else 0.0
        for c in task.calls:
            if c.name in {"clone", "clone3", "fork", "vfork"} and c.value and c.value > 0:
                child = tasks.get(c.value)
                if child is not None:
                    child.parent = task.tid
                    child.thread = "CLONE_THREAD" in c.args
    return tasks


def role(model: str, process: bool, depth: int) -> str:
    """How a lab of @p model calls a task: the root process, a child
    process or a thread (of the root process when @p depth is 1)."""
    if depth == 0:
        processes = {"process-per-connection", "process-pool", "descriptor-passing"}
        return "parent" if model in processes else "main"
    if process:
        return {"process-per-connection": "child", "process-pool": "worker",
                "descriptor-passing": "worker"}.get(model, "process")
    return {"thread-per-connection": "thread", "thread-pool": "pool thread",
            "reactor": "loop"}.get(model, "thread")


def name_tasks(tasks: Dict[int, Task], model: str) -> List[Task]:
    """Names every task by its role and birth order (worker 0, worker 1...;
    a worker's own threads: worker 0 / thread 1); returns them in order."""
    roots = [t for t in tasks.values() if t.parent is None]
    counters: Dict[str, int] = defaultdict(int)
    ordered: List[Task] = []

    def visit(task: Task, depth: int, process_name: str):
        ordered.append(task)
        children = sorted((t for t in tasks.values() if t.parent == task.tid),
                          key=lambda t: (t.born, t.tid))
        for child in children:
            if child.thread:
                base = role(model, False, depth + 1) if depth == 0 else "thread"
                key = base if depth == 0 else f"{process_name}/{base}"
                index = counters[key]
                counters[key] += 1
                child.name = (f"{base} {index}" if depth == 0
                              else f"{process_name} / {base} {index}")
                visit(child, depth, process_name)  # a thread: same process depth
            else:
                base = role(model, True, depth + 1)
                index = counters[base]
                counters[base] += 1
                child.name = f"{base} {index}"
                visit(child, depth + 1, child.name)

    for root in sorted(roots, key=lambda t: (t.born, t.tid)):
        root.name = role(model, True, 0)
        visit(root, 0, root.name)
    return ordered


# --------------------------------------------------------------------------
# What each task did


@dataclass
class Served:
    """A connection served by a task: from its first byte moved to its close."""

    tid: int
    port: int
    start: float
    end: float
    via_ring: bool = False  # no system call moved its bytes: io_uring did


@dataclass
class Analysis:
    served: List[Served]
    waits: List[Tuple[int, Call]]
    nothing: List[Tuple[int, Call]]
    flows: List[Tuple[int, float, int, float, int]]  # from tid, time, to tid, time, port
    lifecycle: List[Tuple[int, float, str]]  # tid, time, what (fork, clone, exit)


def analyse(tasks: Dict[int, Task], connected: Optional[Dict[int, float]] = None) -> Analysis:
    """What the tasks did. @p connected: when each client (by port) was
    connected, from the client's side: the start of a connection whose
    bytes no system call moved (io_uring moved them), closed by a task."""
    served: Dict[Tuple[int, int], Served] = {}
    accepted: Dict[int, Tuple[int, float]] = {}  # port -> (tid, time) of its accept
    first_use: Dict[int, Tuple[float, int]] = {}  # port -> (time, tid) of its first use
    waits, nothing, lifecycle = [], [], []
    closes: List[Tuple[int, int, float]] = []  # (tid, port, time) of each close
    for task in tasks.values():
        previous: Optional[Call] = None
        for c in task.calls:
            if c.name in {"accept", "accept4"} and not c.failed:
                port = client_port(c.result)
                if port is not None:
                    accepted.setdefault(port, (task.tid, c.end))
            port = first_fd_port(c)
            if port is not None and c.name in IO_CALLS:
                s = served.get((task.tid, port))
                if s is None:
                    served[(task.tid, port)] = Served(task.tid, port, c.start, c.end)
                else:
                    s.end = max(s.end, c.end)
            elif port is not None and c.name == "close":
                closes.append((task.tid, port, c.end))
                if (task.tid, port) in served:
                    served[(task.tid, port)].end = c.end
            if c.name == "epoll_ctl" and "EPOLL_CTL_ADD" in c.args:
                port = client_port(c.args)
            if port is not None and c.name != "close":
                first_use[port] = min(first_use.get(port, (c.start, task.tid)), (c.start, task.tid))
            if is_wait(c):
                waits.append((task.tid, c))
            if found_nothing(c, previous):
                nothing.append((task.tid, c))
            previous = c
            if c.name in {"clone", "clone3", "fork", "vfork"} and c.value and c.value > 0:
                kind = "thread" if "CLONE_THREAD" in c.args else "fork"
                lifecycle.append((task.tid, c.end, f"{kind} {c.value}"))
        for e in task.events:
            if e.text.startswith("exited") or e.text.startswith("killed"):
                lifecycle.append((task.tid, e.time, e.text))
            elif e.text.startswith("SIG"):  # a signal delivered to the task
                lifecycle.append((task.tid, e.time, "signal " + e.text.split()[0]))
    moved = {s.port for s in served.values()}
    for tid, port, at in closes:
        if port not in moved and connected and port in connected:
            served[(tid, port)] = Served(tid, port, min(connected[port], at), at, via_ring=True)
    # A connection moved when the first task to use it (read, write, or add
    # it to an epoll set) is not the one that accepted it.
    flows = []
    for port, (tid, at) in accepted.items():
        use = first_use.get(port)
        if use is not None and use[1] != tid:
            flows.append((tid, at, use[1], use[0], port))
    return Analysis(sorted(served.values(), key=lambda s: s.start), waits, nothing,
                    sorted(flows, key=lambda f: f[1]), lifecycle)


# --------------------------------------------------------------------------
# The load


@dataclass
class Client:
    """One client of the scripted load."""

    label: str
    kind: str  # quick, slow, stall, burst
    bytes: int
    port: int = 0
    outcome: str = ""
    connected_at: float = 0.0


def run_client(client: Client, port: int, deadline: float):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            client.port = s.getsockname()[1]
            client.connected_at = time.time()
            request = f"{client.bytes}\n".encode()
            if client.kind == "slow":
                for byte in request:
                    s.sendall(bytes([byte]))
                    time.sleep(0.1)
            else:
                if client.kind == "stall":
                    time.sleep(0.6)
                s.sendall(request)
            got = 0
            s.settimeout(max(0.1, deadline - time.time()))
            while got < client.bytes:
                data = s.recv(65536)
                if not data:
                    break
                got += len(data)
            client.outcome = f"{got} bytes"
    except OSError as e:
        client.outcome = f"error: {e}"


def drive_load(port: int) -> List[Client]:
    """The scripted load: 3 quick clients one after another, a slow client
    (its request one byte per 100 ms) and a stalling one (0.6 s before its
    request) 50 ms apart, then a burst of 8 at once. About 2 s."""
    clients: List[Client] = []
    deadline = time.time() + 10
    for i in range(3):
        c = Client(f"c{len(clients) + 1}", "quick", 4000)
        clients.append(c)
        run_client(c, port, deadline)
        time.sleep(0.05)
    background = []
    for kind in ("slow", "stall"):
        c = Client(f"c{len(clients) + 1} ({kind})", kind, 20000)
        clients.append(c)
        t = threading.Thread(target=run_client, args=(c, port, deadline))
        t.start()
        background.append(t)
        # One after the other, so that both runs create their tasks in the
        # same order (tasks are matched across the runs by their names).
        time.sleep(0.05)
    time.sleep(0.15)
    burst = []
    for _ in range(8):
        c = Client(f"c{len(clients) + 1}", "burst", 100000)
        clients.append(c)
        t = threading.Thread(target=run_client, args=(c, port, deadline))
        burst.append(t)
    for t in burst:
        t.start()
    for t in burst + background:
        t.join()
    time.sleep(0.2)
    return clients


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """Whether a socket listens on 127.0.0.1:@p port (/proc/net/tcp: state 0A)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A" and fields[1].endswith(f":{port:04X}"):
                return True
    return False


def wait_listening(process: subprocess.Popen, port: int, seconds: float = 10.0):
    """Waits until the server listens (without connecting: a probe would be
    one more client in the trace)."""
    end = time.time() + seconds
    while time.time() < end:
        if process.poll() is not None:
            raise SystemExit(f"csd-trace: the server exited ({process.returncode}) "
                             "before listening")
        if listening(port):
            time.sleep(0.1)  # a pool's workers start waiting
            return
        time.sleep(0.02)
    raise SystemExit(f"csd-trace: nothing listens on port {port} after {seconds:.0f} s")


def children(pid: int) -> List[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def stop(process: subprocess.Popen, traced: bool = False):
    """SIGTERM to the server (under strace: to strace's child, the server;
    strace ends with it), then waits 5 s for it to end."""
    target = process.pid
    if traced:
        kids = children(process.pid)
        target = kids[0] if kids else process.pid
    os.kill(target, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --------------------------------------------------------------------------
# Wakeups, from the scheduler, in a run without strace


def task_tree(pid: int) -> List[Tuple[int, int, bool, float]]:
    """(tid, parent tid or 0, is a thread, start time) of every task of
    process @p pid and of its descendants, as /proc has them now."""
    out = []

    def start_of(tid: int) -> float:
        try:
            stat = Path(f"/proc/{tid}/stat").read_text()
            return float(stat.rsplit(")", 1)[1].split()[19])
        except (OSError, IndexError, ValueError):
            return 0.0

    def visit(process: int, parent: int):
        try:
            tids = sorted(int(t) for t in os.listdir(f"/proc/{process}/task"))
        except OSError:
            return
        out.append((process, parent, False, start_of(process)))
        for tid in tids:
            if tid != process:
                out.append((tid, process, True, start_of(tid)))
        for tid in tids:
            try:
                children = Path(f"/proc/{process}/task/{tid}/children").read_text().split()
            except OSError:
                continue
            for child in children:
                visit(int(child), tid)

    visit(pid, 0)
    return out


def switches(tid: int) -> Optional[int]:
    try:
        for line in Path(f"/proc/{tid}/status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    """Reads every task's voluntary context switches every 2 ms (a task
    that lives less than that may be missed: its count is then only in the
    whole server's, from getrusage())."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.tasks: Dict[int, Tuple[int, bool, float]] = {}
        self.count: Dict[int, int] = {}
        self.comm: Dict[int, str] = {}
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            for tid, parent, thread, start in task_tree(self.pid):
                if tid not in self.tasks:
                    self.tasks[tid] = (parent, thread, start)
                    try:
                        self.comm[tid] = Path(f"/proc/{tid}/comm").read_text().strip()
                    except OSError:
                        self.comm[tid] = "?"
                n = switches(tid)
                if n is not None:
                    self.count[tid] = n
            time.sleep(0.002)


def named_counts(found: Dict[int, Tuple[int, bool, float, str, Optional[int]]], model: str,
                 whole: int) -> Dict[str, int]:
    """Each task's count by its name (name_tasks), from @p found: tid to
    (its creator's tid or 0, is a thread, birth time, comm, its count or
    None); the kernel's io_uring workers (io-wq: iou-wrk-TID, iou-sqp-TID,
    threads of the server that strace cannot see) are named apart, and
    @p whole is the whole server's count."""
    kernel = {tid for tid, f in found.items() if f[3].startswith("iou-")}
    tasks = {tid: Task(tid, parent or None, thread, born)
             for tid, (parent, thread, born, _, _) in found.items() if tid not in kernel}
    for task in tasks.values():  # /proc names the thread's process, not its creator
        if task.parent not in tasks:
            task.parent = None
    name_tasks(tasks, model)
    counts = {t.name: found[t.tid][4] for t in tasks.values() if found[t.tid][4] is not None}
    for n, tid in enumerate(sorted(kernel)):
        counts[f"{KERNEL} {n} ({found[tid][3]})"] = found[tid][4] or 0
    counts[WHOLE] = whole
    return counts


def sampled_wakeups(command: List[str], port: int, model: str) -> Dict[str, int]:
    """Runs the load against the server without strace; returns each task's
    voluntary context switches during the whole run, by task name, and
    under WHOLE those of the whole server: every task of it, short-lived
    ones too (getrusage() of this program's children: the server, and
    every descendant it reaped)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_nvcsw
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(process, port)
        sampler = Sampler(process.pid)
        sampler.start()
        drive_load(port)
        stop(process)
    finally:
        if process.poll() is None:
            process.kill()
    sampler.done.set()
    sampler.join()
    return named_counts({tid: (parent, thread, start, sampler.comm[tid], sampler.count.get(tid))
                         for tid, (parent, thread, start) in sampler.tasks.items()}, model,
                        resource.getrusage(resource.RUSAGE_CHILDREN).ru_nvcsw - before)


# --------------------------------------------------------------------------
# Wakeups from perf's scheduler events, when perf may record them


_PERF_FORK = re.compile(r"PERF_RECORD_FORK\((\d+):(\d+)\):\((\d+):(\d+)\)")
_PERF_LINE = re.compile(r"^\s*(.*?)\s+(\d+)/(\d+)\s+(\d+\.\d+):\s+(PERF_RECORD_\w+)(.*)$")


@dataclass
class PerfTask:
    """A task as perf recorded it: its creator, whether it is a thread,
    when it was born, its name, and its voluntary switches out."""

    parent: int
    thread: bool
    born: float
    comm: str = "?"
    switches: int = 0


def perf_tasks(text: str, root: int) -> Dict[int, PerfTask]:
    r"""The tasks in ``perf script --show-task-events --show-switch-events
    -F comm,pid,tid,time`` output, from @p root (the server) down, with
    their voluntary context switches: a switch out without ``preempt``
    (the task blocked; a preempted task was still runnable).

    >>> out = '''
    ...  srv 10/10 1.0: PERF_RECORD_COMM exec: srv:10/10
    ...  srv 10/10 1.1: PERF_RECORD_FORK(11:11):(10:10)
    ...  srv 10/10 1.2: PERF_RECORD_FORK(10:12):(10:10)
    ...  srv 10/10 1.3: PERF_RECORD_SWITCH OUT
    ...  srv 11/11 1.4: PERF_RECORD_SWITCH OUT preempt
    ...  srv 11/11 1.5: PERF_RECORD_SWITCH IN
    ...  srv 11/11 1.6: PERF_RECORD_SWITCH OUT
    ...  srv 11/11 1.7: PERF_RECORD_EXIT(11:11):(10:10)
    ...  srv 12/12 1.8: PERF_RECORD_SWITCH OUT
    ...  srv 12/12 1.9: PERF_RECORD_SWITCH OUT
    ... '''
    >>> tasks = perf_tasks(out, 10)
    >>> [(tid, t.parent, t.thread, t.switches) for tid, t in sorted(tasks.items())]
    [(10, 0, False, 1), (11, 10, False, 1), (12, 10, True, 2)]
    """
    tasks: Dict[int, PerfTask] = {root: PerfTask(0, False, 0.0)}
    for line in text.splitlines():
        m = _PERF_LINE.match(line)
        if not m:
            continue
        comm, tid, at, kind, rest = m.group(1), int(m.group(3)), float(m.group(4)), \
            m.group(5), m.group(6)
        if kind == "PERF_RECORD_FORK":
            f = _PERF_FORK.search(line)
            if f and int(f.group(4)) in tasks:
                pid, child, parent = int(f.group(1)), int(f.group(2)), int(f.group(4))
                tasks[child] = PerfTask(parent, pid != child, at, tasks[parent].comm)
            continue
        task = tasks.get(tid)
        if task is None:
            continue
        if not task.born:
            task.born = at
        task.comm = comm
        if kind == "PERF_RECORD_SWITCH" and rest.split()[:1] == ["OUT"] and "preempt" not in rest:
            task.switches += 1
    return tasks


_PERF_USABLE: Optional[bool] = None


def perf_usable() -> bool:
    """Whether perf is installed and may record this user's programs'
    scheduler events here (perf_event_paranoid, a container's seccomp)."""
    global _PERF_USABLE
    if _PERF_USABLE is None:
        try:
            probe = subprocess.run(PERF_RECORD + ["-o", "/dev/null", "--", "true"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   timeout=20)
            _PERF_USABLE = shutil.which("perf") is not None and probe.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _PERF_USABLE = False
    return _PERF_USABLE


# perf record of context switches only: no sampling, no counters (the
# dummy event), the scheduler's switch records of the program and of every
# task it creates, and their fork, exec and exit.
PERF_RECORD = ["perf", "record", "-q", "--switch-events", "-e", "dummy"]


def perf_wakeups(command: List[str], port: int, model: str, tmp: Path) -> Dict[str, int]:
    """Runs the load against the server under perf record; returns each
    task's voluntary context switches, by task name (short-lived tasks
    too: perf follows every task the server creates), and under WHOLE
    those of all of them."""
    data = tmp / "perf.data"
    process = subprocess.Popen(PERF_RECORD + ["-o", str(data), "--"] + command,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = None
    try:
        wait_listening(process, port)
        kids = children(process.pid)  # perf's child: the server
        server = kids[0] if kids else None
        drive_load(port)
        stop(process, traced=True)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if server is None:
        raise SystemExit("csd-trace: perf record started no server")
    script = subprocess.run(["perf", "script", "-i", str(data), "--show-task-events",
                             "--show-switch-events", "-F", "comm,pid,tid,time"],
                            capture_output=True, text=True, check=True)
    found = perf_tasks(script.stdout, server)
    return named_counts({tid: (t.parent, t.thread, t.born, t.comm, t.switches)
                         for tid, t in found.items()}, model,
                        sum(t.switches for t in found.values()))


WHOLE = "(whole server)"
KERNEL = "kernel io worker"


# --------------------------------------------------------------------------
# Outputs


def chrome_trace(tasks: List[Task], analysis: Analysis, labels: Dict[int, str],
                 origin: float) -> dict:
    def us(t: float) -> float:
        return round((t - origin) * 1e6, 1)

    pid_of: Dict[int, int] = {}
    for task in tasks:
        pid_of[task.tid] = pid_of.get(task.parent, task.tid) if task.thread else task.tid
    events = []
    for task in tasks:
        pid = pid_of[task.tid]
        if pid == task.tid:
            events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": task.tid,
                           "args": {"name": f"{task.name} (pid {task.tid})"}})
        events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": task.tid,
                       "args": {"name": task.name}})
    for s in analysis.served:
        events.append({"ph": "X", "cat": "serve", "name": f"serve {labels.get(s.port, s.port)}",
                       "pid": pid_of[s.tid], "tid": s.tid, "ts": us(s.start),
                       "dur": max(1.0, us(s.end) - us(s.start)),
                       "args": {"client port": s.port}})
    for tid, c in analysis.waits:
        events.append({"ph": "X", "cat": "wait", "name": f"wait: {WAIT_CALLS[c.name]}",
                       "pid": pid_of[tid], "tid": tid, "ts": us(c.start),
                       "dur": round(c.duration * 1e6, 1),
                       "args": {"call": f"{c.name}({c.args[:120]})", "result": c.result[:120]}})
    for tid, c in analysis.nothing:
        events.append({"ph": "i", "s": "t", "cat": "nothing", "name": f"found nothing ({c.name})",
                       "pid": pid_of[tid], "tid": tid, "ts": us(c.end),
                       "args": {"result": c.result[:120]}})
    for tid, at, what in analysis.lifecycle:
        events.append({"ph": "i", "s": "t", "cat": "task", "name": what, "pid": pid_of[tid],
                       "tid": tid, "ts": us(at)})
    for n, (src, at, dst, start, port) in enumerate(analysis.flows):
        name = f"{labels.get(port, port)} handed over"
        events.append({"ph": "s", "id": n, "cat": "handover", "name": name, "pid": pid_of[src],
                       "tid": src, "ts": us(at)})
        events.append({"ph": "f", "bp": "e", "id": n, "cat": "handover", "name": name,
                       "pid": pid_of[dst], "tid": dst, "ts": us(start)})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"recorded with": "strace -ff -ttt -T -yy", "tool": "csd-trace"}}


def trace_problems(trace: dict) -> List[str]:
    """What makes @p trace not a valid Chrome trace (Trace Event Format,
    JSON object form) of the kinds this tool writes; [] when it is valid.

    >>> ok = {"traceEvents": [
    ...     {"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "main"}},
    ...     {"ph": "X", "name": "serve c1", "pid": 1, "tid": 1, "ts": 0.0, "dur": 5.0},
    ...     {"ph": "i", "s": "t", "name": "fork 2", "pid": 1, "tid": 1, "ts": 1.0},
    ...     {"ph": "s", "id": 0, "name": "c1 handed over", "pid": 1, "tid": 1, "ts": 1.0},
    ...     {"ph": "f", "bp": "e", "id": 0, "name": "c1 handed over", "pid": 2, "tid": 2,
    ...      "ts": 2.0}]}
    >>> trace_problems(ok)
    []
    >>> trace_problems({"traceEvents": [{"ph": "X", "name": "x", "pid": 1, "tid": 1, "ts": 0},
    ...                                 {"ph": "s", "id": 3, "name": "y", "pid": 1, "tid": 1,
    ...                                  "ts": 1}]})
    ['event 0 (X): no dur', 'flow 3: a start without its end']
    """
    problems: List[str] = []
    events = trace.get("traceEvents")
    if not isinstance(events, list):
        return ["no traceEvents list"]
    flows: Dict[object, List[str]] = defaultdict(list)
    for n, e in enumerate(events):
        ph = e.get("ph")
        if ph not in {"M", "X", "i", "s", "f"}:
            problems.append(f"event {n}: phase {ph!r}")
            continue
        for key in ("name", "pid", "tid"):
            if key not in e:
                problems.append(f"event {n} ({ph}): no {key}")
        if not all(isinstance(e.get(k), int) for k in ("pid", "tid") if k in e):
            problems.append(f"event {n} ({ph}): pid and tid must be integers")
        if ph == "M":
            if e.get("name") not in {"process_name", "thread_name"} or "name" not in e.get(
                    "args", {}):
                problems.append(f"event {n} (M): not a process or thread name")
            continue
        if not isinstance(e.get("ts"), (int, float)):
            problems.append(f"event {n} ({ph}): no ts")
        if ph == "X" and not (isinstance(e.get("dur"), (int, float)) and e["dur"] >= 0):
            problems.append(f"event {n} (X): no dur")
        if ph == "i" and e.get("s") not in {"t", "p", "g"}:
            problems.append(f"event {n} (i): no scope")
        if ph in {"s", "f"}:
            flows[e.get("id")].append(ph)
    for flow_id, phases in flows.items():
        if sorted(phases) != ["f", "s"]:
            problems.append(f"flow {flow_id}: a start without its end" if phases == ["s"]
                            else f"flow {flow_id}: phases {phases}")
    return problems


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg_timeline(tasks: List[Task], analysis: Analysis, labels: Dict[int, str], origin: float,
                 end: float, title: str,
                 marks: Optional[List[Tuple[int, float, str]]] = None) -> str:
    """One row per task: waits in grey, connections served in green with
    the client's label, red ticks where a wakeup found nothing, blue arrows
    where a connection is handed over; @p marks (task, time, text: what a
    program lab's calls and signals did, at most 16) as black ticks, each
    labelled on a line of its own below the rows, the last mark on the
    first line, so that no tick's line crosses a label. 760 px wide (the
    docs' column): with marks, the time axis leaves room on its right for
    the longest label."""
    shown = tasks[:24]
    left, width, row, top, lane_height, char = 130, 620, 22, 34, 16, 7
    ticked = {t.tid for t in shown}
    marks = sorted((m for m in marks or [] if m[0] in ticked), key=lambda m: m[1])[:16]
    if marks:
        width = max(300, width - char * max(len(text) for _, _, text in marks))
    span = max(end - origin, 1e-3)

    def x(t: float) -> float:  # clamped: a wait may start before the load
        return left + min(max(t - origin, 0.0), span) / span * width

    y_of = {t.tid: top + i * row for i, t in enumerate(shown)}
    lanes = list(range(len(marks) - 1, -1, -1))
    marks_top = top + row * len(shown) + 20  # under the time axis's line
    height = marks_top + lane_height * len(marks) + 36 if marks else top + row * len(shown) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="760" '
           f'height="{height}" viewBox="0 0 760 {height}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    for task in shown:
        y = y_of[task.tid]
        out.append(f'<text x="4" y="{y + 15}">{escape(task.name)}</text>')
        out.append(f'<line x1="{left}" y1="{y + 10}" x2="{left + width}" y2="{y + 10}" '
                   'stroke="#ddd"/>')
    for tid, c in analysis.waits:
        if tid in y_of:
            out.append(f'<rect x="{x(c.start):.1f}" y="{y_of[tid] + 6}" '
                       f'width="{max(0.5, x(c.end) - x(c.start)):.1f}" height="8" fill="#c8c8c8">'
                       f'<title>wait: {escape(WAIT_CALLS[c.name])}</title></rect>')
    for s in analysis.served:
        if s.tid in y_of:
            w = max(1.5, x(s.end) - x(s.start))
            label = labels.get(s.port, str(s.port))
            out.append(f'<rect x="{x(s.start):.1f}" y="{y_of[s.tid] + 2}" width="{w:.1f}" '
                       f'height="16" fill="#5cb85c"><title>serve {escape(label)}</title></rect>')
            if w > 7 * len(label):
                out.append(f'<text x="{x(s.start) + 2:.1f}" y="{y_of[s.tid] + 15}" '
                           f'fill="white">{escape(label.split()[0])}</text>')
    for tid, c in analysis.nothing:
        if tid in y_of:
            out.append(f'<line x1="{x(c.end):.1f}" y1="{y_of[tid] + 1}" x2="{x(c.end):.1f}" '
                       f'y2="{y_of[tid] + 19}" stroke="#d9534f" stroke-width="1.5"/>')
    for src, at, dst, start, _ in analysis.flows:
        if src in y_of and dst in y_of:
            out.append(f'<line x1="{x(at):.1f}" y1="{y_of[src] + 10}" x2="{x(start):.1f}" '
                       f'y2="{y_of[dst] + 10}" stroke="#337ab7" stroke-width="1"/>')
    for (tid, at, text), lane in zip(marks, lanes):
        y = marks_top + lane * lane_height + 12
        out.append(f'<line x1="{x(at):.1f}" y1="{y_of[tid] + 1}" x2="{x(at):.1f}" y2="{y - 10}" '
                   'stroke="black" stroke-width="1"/>')
        out.append(f'<text x="{x(at):.1f}" y="{y}">{escape(text)}</text>')
    legend = height - 22
    axis = marks_top - 6 if marks else legend
    out.append(f'<text x="{left}" y="{axis}">0 s</text>')
    out.append(f'<text x="{left + width - 40}" y="{axis}">{span:.2f} s</text>')
    if marks:
        items = [("#c8c8c8", "waiting"), ("#5cb85c", "a connection in use"),
                 ("black", "a call or a signal")]
        lx = left
    else:
        items = [("#5cb85c", "serving a client"), ("#c8c8c8", "waiting"),
                 ("#d9534f", "woke, found nothing"), ("#337ab7", "handed over")]
        lx = left + 60
    for colour, text in items:
        out.append(f'<rect x="{lx}" y="{legend - 10}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{lx + 16}" y="{legend}">{escape(text)}</text>')
        lx += 26 + 7 * len(text)
    if len(tasks) > len(shown):
        out.append(f'<text x="4" y="{height - 4}">(and {len(tasks) - len(shown)} more tasks: '
                   'see trace.json)</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def summary(tasks: List[Task], analysis: Analysis, wakeups: Dict[str, int],
            labels: Dict[int, str], end: float, counted_by: str = "perf") -> str:
    rows = [f"{'task':<26} {'served':>6} {'wakeups':>8} {'nothing':>8} {'waiting s':>10} "
            f"{'serving s':>10}  clients"]
    for task in tasks:
        mine = [s for s in analysis.served if s.tid == task.tid]
        waiting = sum(c.duration for tid, c in analysis.waits if tid == task.tid)
        serving = sum(s.end - s.start for s in mine)
        nothing = sum(1 for tid, _ in analysis.nothing if tid == task.tid)
        clients = ", ".join(labels.get(s.port, str(s.port)).split()[0] + ("*" if s.via_ring else "")
                            for s in mine)
        woke = wakeups.get(task.name)
        rows.append(f"{task.name:<26} {len(mine):>6} {woke if woke is not None else '-':>8} "
                    f"{nothing:>8} {waiting:>10.3f} {serving:>10.3f}  {clients}")
    for name, count in sorted(wakeups.items()):
        if name.startswith(KERNEL):
            rows.append(f"{name:<26} {'-':>6} {count:>8} {'-':>8} {'-':>10} {'-':>10}  "
                        "(not traced: the kernel's thread)")
    served = len({s.port for s in analysis.served})
    whole = wakeups.get(WHOLE, 0)
    rows.append(f"{WHOLE:<26} {served:>6} {whole:>8} {len(analysis.nothing):>8}"
                f"{'':>22}  {whole / served if served else 0:.1f} wakeups per connection")
    rows.append("")
    if any(s.via_ring for s in analysis.served):
        rows.append("io_uring moved the bytes of the connections marked *: no system call "
                    "of the task did; they count from the client's connect to the task's "
                    "close.")
    how = ("recorded by perf (its scheduler switch events: every task, short-lived ones too)"
           if counted_by == "perf" else
           "read from /proc every 2 ms (perf cannot record here); '-' for a task too "
           "short-lived to sample, counted in the whole server's line")
    rows.append("served: connections whose bytes the task moved. wakeups: its voluntary "
                "context switches (the times it blocked, so had to be woken) in a run of the "
                f"same load without strace, {how}. nothing: wakeups that found nothing (a wait "
                "that timed out, EAGAIN right after a wait said ready) in the traced run.")
    return "\n".join(rows) + "\n"


# --------------------------------------------------------------------------


def server_command(lab: str, program: str, port: int, workers: Optional[int],
                   extra: List[str], tmp: Path) -> List[str]:
    manifest = course.read_manifest()
    command = [program, "-p", str(port)]
    if workers is None and course.manifest_field(manifest, lab, "workers"):
        workers = 4
    if workers is not None:
        command += ["-n", str(workers)]
    bench_args = course.manifest_field(manifest, lab, "bench-args")
    if bench_args and not any(a.startswith("-f") for a in extra):
        alphabet = tmp / "alphabet.txt"
        alphabet.write_text("abcdefghijklmnopqrstuvwxyz" * 4096)
        command += [a.replace("{alphabet}", str(alphabet)) for a in bench_args.split()]
    return command + extra


def keep_trace(tmp: Path, out: Path) -> Dict[int, Task]:
    """Reads strace's files (``strace.TID`` in @p tmp) and copies them into
    OUT/strace/ (the record itself)."""
    tasks_by_tid = read_trace(tmp, "strace")
    raw = out / "strace"
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir()
    for path in tmp.glob("strace.*"):
        shutil.copy(path, raw / path.name)
    return tasks_by_tid


def write_views(args, out: Path, tasks: List[Task], analysis: Analysis, labels: Dict[int, str],
                origin: float, end: float, marks: Optional[List[Tuple[int, float, str]]] = None):
    """Writes trace.json and timeline.svg (and --svg's copy)."""
    title = args.title or f"csd-trace {args.lab}: {Path(args.server).name}"
    trace = chrome_trace(tasks, analysis, labels, origin)
    problems = trace_problems(trace)
    if problems:  # a bug of this tool: say so rather than write a file no viewer opens
        raise SystemExit("csd-trace: the trace is not valid: " + "; ".join(problems[:5]))
    (out / "trace.json").write_text(json.dumps(trace))
    svg = svg_timeline(tasks, analysis, labels, origin, end, title, marks)
    (out / "timeline.svg").write_text(svg)
    if args.svg:
        Path(args.svg).write_text(svg)


# --------------------------------------------------------------------------
# The program labs (kind program: sigpipe, selfpipe): no server, one run of
# the program in its lab's scenario, under strace.


def resetting_server(listener: socket.socket, done: threading.Event):
    """The sigpipe lab's peer: takes one connection, reads its line, then
    closes with SO_LINGER {on, 0}: an RST (docs/contract.md, sigpipe)."""
    listener.settimeout(5)
    try:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            got = b""
            while b"\n" not in got:
                chunk = conn.recv(256)
                if not chunk:
                    break
                got += chunk
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    finally:
        done.set()


def traced_child(process: subprocess.Popen, seconds: float = 3.0) -> int:
    """The pid of the program strace started (strace's child)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        kids = children(process.pid)
        if kids:
            return kids[0]
        time.sleep(0.005)
    raise SystemExit("csd-trace: strace did not start the program")


def run_program(lab: str, command: List[str], strace: Optional[List[str]]) -> Dict[int, str]:
    """One run of a program lab's scenario: sigpipe talks to a server that
    resets it; selfpipe gets a line on stdin, then SIGUSR1 inside its -w
    window. Returns labels of the ports it used, for the timeline."""
    labels: Dict[int, str] = {}
    prefix = strace or []
    if lab == "sigpipe":
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        labels[port] = "the peer (resets)"
        done = threading.Event()
        peer = threading.Thread(target=resetting_server, args=(listener, done), daemon=True)
        peer.start()
        process = subprocess.Popen(prefix + command + ["-p", str(port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
            listener.close()
        return labels
    # selfpipe: -w widens the window between the look at the flag and the wait.
    process = subprocess.Popen(prefix + command + ["-w", "200000"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        process.stdout.readline()  # ready (strace's own test children are gone by then)
        pid = traced_child(process) if strace else process.pid
        process.stdin.write("hello\n")
        process.stdin.flush()
        process.stdout.readline()  # line: hello
        time.sleep(0.05)  # inside the next window
        os.kill(pid, signal.SIGUSR1)
        process.stdout.readline()  # got SIGUSR1
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    return labels


# The calls a program lab's summary lists (the rest is start-up noise).
PROGRAM_CALLS = set(WAIT_CALLS) | IO_CALLS | {
    "socket", "connect", "setsockopt", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
    "pipe2", "signalfd4", "close", "shutdown"}


def program_marks(tasks: List[Task], analysis: Analysis) -> List[Tuple[int, float, str]]:
    """What a program lab's timeline labels (task, time, text): each signal
    delivered, each call that failed (but EAGAIN, rt_sigreturn's EINTR,
    which is the interrupted call's, and stdio's ioctl asking whether the
    output is a terminal), each wait that said ready, each write
    or send that worked on a descriptor other than 0 to 2, and the exit."""
    out = []
    for tid, at, what in analysis.lifecycle:
        if what.startswith("signal "):
            out.append((tid, at, what.split()[1]))
        elif what.startswith("exited") or what.startswith("killed"):
            out.append((tid, at, what.replace("exited with", "exit")))
    for task in tasks:
        for c in task.calls:
            name = WAIT_CALLS.get(c.name, c.name) if c.name in {"recvfrom", "clock_nanosleep",
                                                               "nanosleep"} else c.name
            fd = re.match(r"(\d+)<", c.args)
            if c.failed and c.errno and c.errno != "EAGAIN" and \
                    c.name not in {"rt_sigreturn", "ioctl"}:
                out.append((task.tid, c.end, f"{name}: {c.errno}"))
            elif c.name in {"select", "pselect6", "poll", "ppoll", "epoll_wait", "epoll_pwait"} \
                    and (c.value or 0) > 0:
                ready = re.search(r"\((.*)\)$", c.result)
                out.append((task.tid, c.end, f"{c.name}: {ready.group(1) if ready else c.value}"))
            elif c.name in {"write", "sendto", "send", "sendmsg"} and fd and int(fd.group(1)) > 2 \
                    and not c.failed:
                out.append((task.tid, c.end, f"{c.name}(fd {fd.group(1)}) = {c.value}"))
    return out


def program_summary(tasks: List[Task], analysis: Analysis, wakeups: int, origin: float) -> str:
    """What a program lab's run did, in order: its waits (what it blocked
    in, for how long, how it ended), the signals delivered and its exit;
    then its wakeups in a run without strace."""
    rows = []
    for task in tasks:
        items = [(at, what) for tid, at, what in analysis.lifecycle if tid == task.tid]
        for c in task.calls:
            if c.name not in PROGRAM_CALLS:
                continue
            args = c.args if len(c.args) <= 48 else c.args[:45] + "..."
            took = f" ({c.duration * 1000:.1f} ms)" if c.duration >= MIN_WAIT else ""
            items.append((c.start, f"{c.name}({args}) = {c.result}{took}"))
        rows.append(f"{task.name} (pid {task.tid}):")
        for at, what in sorted(items):
            rows.append(f"  {(at - origin) * 1000:9.1f} ms  {what}")
    rows.append("")
    rows.append(f"wakeups: {wakeups} (voluntary context switches of the program in a run of the "
                "same scenario without strace: the times it blocked, so had to be woken)")
    return "\n".join(rows) + "\n"


def trace_program(args) -> int:
    """csd-trace for a program lab: its one run, traced."""
    out = Path(args.out or ROOT / "build" / "trace" / args.lab)
    out.mkdir(parents=True, exist_ok=True)
    command = [args.server] + args.flags
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_nvcsw
    run_program(args.lab, command, None)
    wakeups = {WHOLE: resource.getrusage(resource.RUSAGE_CHILDREN).ru_nvcsw - before}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        origin = time.time()
        labels = run_program(args.lab, command,
                             ["strace", "-ff", "-ttt", "-T", "-yy", "-q", "-s", "16",
                              "-o", str(tmp / "strace")])
        end = time.time()
        tasks_by_tid = keep_trace(tmp, out)
    tasks_by_tid = {tid: t for tid, t in tasks_by_tid.items() if t.calls}
    if not tasks_by_tid:
        raise SystemExit("csd-trace: strace recorded nothing")
    tasks = name_tasks(tasks_by_tid, "")
    for task in tasks:  # one process: its main thread is the program
        if task.name == "process":
            task.name = "main"
    wakeups["main"] = wakeups[WHOLE]
    analysis = analyse(tasks_by_tid)
    write_views(args, out, tasks, analysis, labels, origin, end, program_marks(tasks, analysis))
    text = program_summary(tasks, analysis, wakeups[WHOLE], origin)
    (out / "summary.txt").write_text(text)
    print(text, end="")
    print(f"csd-trace: {out}/trace.json (ui.perfetto.dev), {out}/timeline.svg, "
          f"{out}/summary.txt")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", required=True, help="the lab (labs/labs.txt): its design")
    parser.add_argument("--server", required=True, help="the server program to trace")
    parser.add_argument("--out", help="output directory (default build/trace/LAB)")
    parser.add_argument("--workers", type=int, help="-n for a pool (default 4 in pool labs)")
    parser.add_argument("--title", help="the timeline's title")
    parser.add_argument("--svg", help="also copy the timeline to this path")
    parser.add_argument("--no-perf", action="store_true",
                        help="count wakeups by reading /proc every 2 ms, even where perf works")
    parser.add_argument("flags", nargs="*", help="more server flags (after --)")
    args = parser.parse_args()
    manifest = course.read_manifest()
    if args.lab not in manifest:
        parser.error(f"no lab {args.lab} in labs/labs.txt")
    if shutil.which("strace") is None:
        raise SystemExit("csd-trace: strace is not installed (Debian: apt-get install strace)")
    if course.manifest_field(manifest, args.lab, "kind") == "program":
        return trace_program(args)
    model = course.manifest_field(manifest, args.lab, "model")
    out = Path(args.out or ROOT / "build" / "trace" / args.lab)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        command = server_command(args.lab, args.server, port, args.workers, args.flags, tmp)
        if perf_usable() and not args.no_perf:
            wakeups, counted_by = perf_wakeups(command, port, model, tmp), "perf"
        else:
            wakeups, counted_by = sampled_wakeups(command, port, model), "proc"
        port = free_port()
        command = server_command(args.lab, args.server, port, args.workers, args.flags, tmp)
        traced = ["strace", "-ff", "-ttt", "-T", "-yy", "-q", "-s", "8",
                  "-o", str(tmp / "strace")] + command
        process = subprocess.Popen(traced, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_listening(process, port)
            origin = time.time()
            clients = drive_load(port)
            stop(process, traced=True)
        finally:
            if process.poll() is None:
                process.kill()
        end = time.time()
        tasks_by_tid = keep_trace(tmp, out)
    tasks = name_tasks(tasks_by_tid, model)
    analysis = analyse(tasks_by_tid, {c.port: c.connected_at for c in clients if c.port})
    labels = {c.port: c.label for c in clients if c.port}
    write_views(args, out, tasks, analysis, labels, origin, end)
    text = summary(tasks, analysis, wakeups, labels, end, counted_by)
    (out / "summary.txt").write_text(text)
    print(text, end="")
    failed = [c for c in clients if not c.outcome.endswith("bytes")]
    for c in failed:
        print(f"csd-trace: client {c.label}: {c.outcome}", file=sys.stderr)
    print(f"csd-trace: {out}/trace.json (ui.perfetto.dev), {out}/timeline.svg, "
          f"{out}/summary.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
