"""The course outline of the docs, read from the grader at docs build time.

The list of labs (ids, titles, order, whether a lab is written yet) and the
checks of each lab with their points come from one place: the grader's lab
table, printed by `csd-grade --list`. `read_labs()` is the only function
that knows where that list lives; everything else in the docs (the outline
on the landing page and the labs index, the "coming" marks, the check
anchors of the lab pages, the browser test) is built on what it returns.
"""

import re
import subprocess
from dataclasses import dataclass, field
from typing import List

# What each design is built from: the system calls a lab exercises. The
# grader's list has no such column; this is the docs' own wording.
SYSTEM_CALLS = {
    "iterative": "socket, bind, listen, accept4, read, write, close",
    "fork": "fork, waitpid, close, kill; SIGCHLD through a self-pipe",
    "select": "select, non-blocking sockets (O_NONBLOCK), accept4",
    "poll": "poll, setrlimit (RLIMIT_NOFILE)",
    "epoll": "epoll_create1, epoll_ctl, epoll_wait; level and edge triggered",
    "thread": "std::thread (pthread_create), pthread_detach",
    "prethread": "a pool of threads, each blocking in accept",
    "prefork": "fork a pool of -n children, each blocking in accept",
    "fdpass": "socketpair, sendmsg/recvmsg with SCM_RIGHTS",
    "rst": "setsockopt SO_LINGER, close",
    "sigpipe": "SIGPIPE, EPIPE, MSG_NOSIGNAL",
    "selfpipe": "pipe2, sigaction, select; pselect, signalfd",
    "sendfile": "sendfile",
    "cork": "setsockopt TCP_CORK",
    "uring": "io_uring_enter through liburing: multishot accept, provided buffers, cancel",
}


@dataclass
class Check:
    """One check of a lab: its id, its points and what it verifies."""

    id: str
    points: int
    summary: str


@dataclass
class Lab:
    """One lab of the course, in course order."""

    id: str
    title: str
    ready: bool
    checks: List[Check] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(c.points for c in self.checks)

    @property
    def status(self) -> str:
        return "ready" if self.ready else "coming"


_LAB_READY = re.compile(r"^(\S+)\s+(.*) \((\d+) points\)$")
_LAB_COMING = re.compile(r"^(\S+)\s+(.*) \(not yet available\)$")
_CHECK = re.compile(r"^\s+(\S+)\s+(\d+)\s+(.*)$")


def parse_list(text: str) -> List[Lab]:
    r"""Parses the output of `csd-grade --list` (grader/grade/report.cpp,
    format_list): a line per lab, then one indented line per check.

    >>> labs = parse_list(
    ...     "fork       Concurrent server: one child (fork) (15 points)\n"
    ...     "  start           5  the server accepts within 5 s\n"
    ...     "  zombies        10  no zombie child remains\n"
    ...     "thread     Concurrent server: one thread per client (not yet available)\n")
    >>> [(lab.id, lab.title, lab.status, lab.points) for lab in labs]
    [('fork', 'Concurrent server: one child (fork)', 'ready', 15), ('thread', 'Concurrent server: one thread per client', 'coming', 0)]
    >>> [(c.id, c.points) for c in labs[0].checks]
    [('start', 5), ('zombies', 10)]
    >>> parse_list("fork  Fork server (5 pts)\n")
    Traceback (most recent call last):
    ...
    ValueError: csd-grade --list: unexpected lab line: 'fork  Fork server (5 pts)'
    """
    labs: List[Lab] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace():
            m = _CHECK.match(line)
            if not m or not labs:
                raise ValueError(f"csd-grade --list: unexpected check line: {line!r}")
            labs[-1].checks.append(Check(m.group(1), int(m.group(2)), m.group(3)))
            continue
        m = _LAB_READY.match(line)
        if m:
            labs.append(Lab(m.group(1), m.group(2), True))
            continue
        m = _LAB_COMING.match(line)
        if m:
            labs.append(Lab(m.group(1), m.group(2), False))
            continue
        raise ValueError(f"csd-grade --list: unexpected lab line: {line!r}")
    for lab in labs:
        if lab.ready and sum(c.points for c in lab.checks) == 0:
            raise ValueError(f"csd-grade --list: lab {lab.id} has no checks")
    return labs


def read_labs(csd_grade: str) -> List[Lab]:
    """The labs in course order, from the grader's table (`csd-grade --list`)."""
    out = subprocess.run([csd_grade, "--list"], check=True, capture_output=True, text=True, timeout=30)
    labs = parse_list(out.stdout)
    if not labs:
        raise ValueError(f"{csd_grade} --list printed no lab")
    return labs


def outline_table(labs: List[Lab], page_of) -> str:
    """The course outline as a Markdown table: number, lab, design, system
    calls, points, status. page_of(lab_id) is the link to a lab's page, or
    None when it has none."""
    rows = [
        "| # | Lab | Design | System calls | Points | Status |",
        "| --: | --- | --- | --- | --: | --- |",
    ]
    for number, lab in enumerate(labs, 1):
        link = page_of(lab.id)
        name = f"[`{lab.id}`]({link})" if link else f"`{lab.id}`"
        points = str(lab.points) if lab.ready else ""
        calls = SYSTEM_CALLS.get(lab.id, "")
        rows.append(f"| {number} | {name} | {lab.title} | {calls} | {points} | {lab.status} |")
    return "\n".join(rows) + "\n"


def id_list(labs: List[Lab], ready: bool) -> str:
    """The ids of the ready (or coming) labs, as inline code, comma separated."""
    return ", ".join(f"`{lab.id}`" for lab in labs if lab.ready == ready)


def id_sentence(labs: List[Lab]) -> str:
    """The lab ids for a sentence: the ready ones, then "; coming: ..." when
    some lab is still coming."""
    coming = id_list(labs, False)
    return id_list(labs, True) + (f"; coming: {coming}" if coming else "")
