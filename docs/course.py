"""The course outline of the docs, read from the grader at docs build time.

The list of labs (ids, titles, order, whether a lab is written yet) and the
checks of each lab with their points come from one place: the grader's lab
table, printed by `csd-grade --list` (the grader reads the lab manifest,
labs/labs.txt, at build time); the system calls of each lab come from the
manifest itself (read_manifest()). `read_labs()` is the only function
that knows where that list lives; everything else in the docs (the outline
on the landing page and the labs index, the "coming" marks, the check
anchors of the lab pages, the browser test) is built on what it returns.
"""

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List


def manifest_path() -> Path:
    """labs/labs.txt, the lab manifest: beside docs/ in the repository
    (CSD_REPO when the docs are built from a staged copy)."""
    repo = Path(os.environ.get("CSD_REPO", Path(__file__).resolve().parent.parent))
    return repo / "labs" / "labs.txt"


def parse_manifest(text: str) -> Dict[str, Dict[str, List[str]]]:
    r"""Parses the lab manifest (labs/labs.txt; its header says what each
    field means): lab id -> field -> the values given for it, in order (a
    field such as `mode` may be given several times), labs in course order.

    >>> m = parse_manifest("# c\nlab epoll\n    status ready\n    mode lt\n"
    ...                    "    mode et -e : bytes\n\nlab fork\n    status coming\n")
    >>> list(m), m["epoll"]["mode"], m["fork"]["status"]
    (['epoll', 'fork'], ['lt', 'et -e : bytes'], ['coming'])
    """
    labs: Dict[str, Dict[str, List[str]]] = {}
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        lab = re.fullmatch(r"lab\s+([a-z][a-z0-9-]*)\s*", line)
        if lab:
            current = labs.setdefault(lab.group(1), {})
            continue
        field = re.fullmatch(r"\s+([a-z-]+)\s+(.+?)\s*", line)
        if not field or current is None:
            raise ValueError(f"labs.txt:{number}: not `lab ID` nor an indented `KEY VALUE`: {line}")
        current.setdefault(field.group(1), []).append(field.group(2))
    return labs


def read_manifest() -> Dict[str, Dict[str, List[str]]]:
    """The lab manifest of this repository (parse_manifest)."""
    return parse_manifest(manifest_path().read_text(encoding="utf-8"))


def manifest_field(manifest, lab_id: str, key: str) -> str:
    """The one value of field @p key of lab @p lab_id, or ""."""
    values = manifest.get(lab_id, {}).get(key, [])
    return values[0] if values else ""


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
    calls (from the lab manifest), points, status. page_of(lab_id) is the
    link to a lab's page, or None when it has none."""
    manifest = read_manifest()
    rows = [
        "| # | Lab | Design | System calls | Points | Status |",
        "| --: | --- | --- | --- | --: | --- |",
    ]
    for number, lab in enumerate(labs, 1):
        link = page_of(lab.id)
        name = f"[`{lab.id}`]({link})" if link else f"`{lab.id}`"
        points = str(lab.points) if lab.ready else ""
        calls = manifest_field(manifest, lab.id, "syscalls")
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


def check_table(labs: List[Lab]) -> str:
    r"""Every check of the grader as a Markdown table: id, what it verifies
    (the grader's own summary, as `csd-grade --list` prints it) and the labs
    that run it with its points in each, in the order the checks first
    appear in the course. Hidden checks are not in `--list`, so not here.
    docs/instructors.md shows it (substitution `check_table`), so that the
    table cannot drift from the grader.

    >>> labs = parse_list(
    ...     "fork       Concurrent server: one child (fork) (15 points)\n"
    ...     "  start           5  the server accepts within 5 s\n"
    ...     "  zombies        10  no zombie child remains\n"
    ...     "thread     One thread per client (10 points)\n"
    ...     "  start          10  the server accepts within 5 s\n"
    ...     "uring      io_uring (not yet available)\n")
    >>> print(check_table(labs), end="")
    | Check | What it verifies | Labs (points) |
    | --- | --- | --- |
    | `start` | the server accepts within 5 s | fork 5, thread 10 |
    | `zombies` | no zombie child remains | fork 10 |
    """
    rows = {}
    for lab in labs:
        for check in lab.checks:
            summary, uses = rows.setdefault(check.id, (check.summary, []))
            uses.append(f"{lab.id} {check.points}")
    lines = ["| Check | What it verifies | Labs (points) |", "| --- | --- | --- |"]
    for check_id, (summary, uses) in rows.items():
        cell = summary.replace("|", "\\|")
        lines.append(f"| `{check_id}` | {cell} | {', '.join(uses)} |")
    return "\n".join(lines) + "\n"
