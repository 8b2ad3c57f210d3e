#!/usr/bin/env python3
"""The drift test (manifest.drift): every copy of the lab manifest and of
the grader's table of checks that a person reads must agree with them.

The lab manifest is labs/labs.txt (docs/course.py parses it); the grader's
labs and checks, with each check's points in each lab, are what
`csd-grade --list` prints. This checks

- the README's table of labs: one row per lab of the manifest, in course
  order, with its design, references and status;
- the tree: every ready lab has its handout, solution and skeleton, and no
  lab directory exists that the manifest does not declare; every ready
  lab's handout shows its design at work: the figure
  docs/figures/trace-LAB.svg that `./csd trace --docs` draws, which exists;
- with --grade: the grader lists the manifest's labs, in order, with their
  titles and status; and every ready lab's handout has a check table
  (`| Check | Points | What it checks |`) with exactly the lab's checks, in
  the grader's order, with the grader's points; and every bullet of its
  "What usually goes wrong" section names, in its bold lead, at least one
  check of the lab (`` `check` ``): a mistake is listed there only when a
  check catches it (its broken program is in grader/broken/).

Prints one line per disagreement and exits 1 if there is any; 0 otherwise.
"""

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))
import course  # noqa: E402  (docs/course.py: the manifest's parser, csd-grade --list)


def field(manifest, lab: str, key: str) -> str:
    return course.manifest_field(manifest, lab, key)


def readme_rows(text: str):
    """The rows of the README's table of labs: (id, design, references, status)."""
    section = text.split("## The labs", 1)
    if len(section) < 2:
        return None
    rows = []
    for line in section[1].splitlines():
        m = re.fullmatch(r"\| `([a-z0-9-]+)` \| (.*) \| (.*) \| (ready|coming) \|", line)
        if m:
            rows.append(m.groups())
        elif rows and not line.startswith("|"):
            break
    return rows


def check_readme(manifest, problems, text=None):
    if text is None:
        text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = readme_rows(text)
    if rows is None:
        problems.append("README.md: no '## The labs' section")
        return
    expected = [(lab, field(manifest, lab, "design"), field(manifest, lab, "references"),
                 field(manifest, lab, "status")) for lab in manifest]
    if [r[0] for r in rows] != [e[0] for e in expected]:
        problems.append("README.md: the table of labs lists " + " ".join(r[0] for r in rows) +
                        "; labs/labs.txt declares " + " ".join(manifest))
    for row in rows:
        want = next((e for e in expected if e[0] == row[0]), None)
        if want and row != want:
            problems.append(f"README.md: the row of lab {row[0]} is {row[1:]}, "
                            f"labs/labs.txt says {want[1:]}")


def check_trace_figure(lab: str, text: str, problems):
    """A ready lab's handout shows the trace figure of its reference solution."""
    figure = f"docs/figures/trace-{lab}.svg"
    if f"```{{figure}} /{figure}" not in text:
        problems.append(f"labs/{lab}/handout.md: no figure of {figure} (./csd trace --docs)")
    elif not (ROOT / figure).exists():
        problems.append(f"labs/{lab}/handout.md shows {figure}, which does not exist")


def check_tree(manifest, problems):
    for lab in manifest:
        if field(manifest, lab, "status") != "ready":
            continue
        for path in (f"labs/{lab}/handout.md", f"solutions/{lab}", f"skeletons/{lab}"):
            if not (ROOT / path).exists():
                problems.append(f"lab {lab} is ready but {path} does not exist")
        handout = ROOT / "labs" / lab / "handout.md"
        if handout.exists():
            check_trace_figure(lab, handout.read_text(encoding="utf-8"), problems)
    for top in ("solutions", "skeletons"):
        for d in sorted((ROOT / top).iterdir()) if (ROOT / top).is_dir() else []:
            if d.is_dir() and d.name not in manifest:
                problems.append(f"{top}/{d.name}: no such lab in labs/labs.txt")


def handout_table(text: str):
    """The (check, points) rows of a handout's check table, or None."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\| Check \| Points \|", line):
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                m = re.match(r"\| `([a-z0-9-]+)` \| (\d+) \|", row)
                rows.append((m.group(1), int(m.group(2))) if m else (row, -1))
            return rows
    return None


def wrong_bullets(text: str):
    """The bold leads of the bullets of a handout's "What usually goes
    wrong" section, or None when it has no such section."""
    m = re.search(r"^## What usually goes wrong\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        return None
    leads = []
    for bullet in re.split(r"\n(?=- )", m.group(1)):
        bullet = bullet.strip()
        if bullet.startswith("- "):
            lead = re.match(r"- \*\*(.*?)\*\*", bullet, re.S)
            leads.append(" ".join((lead.group(1) if lead else bullet).split()))
    return leads


def check_wrong_bullets(lab_id: str, checks, text: str, problems):
    """Every "What usually goes wrong" bullet names a check of the lab."""
    leads = wrong_bullets(text)
    if leads is None:
        problems.append(f"labs/{lab_id}/handout.md: no '## What usually goes wrong' section")
        return
    for lead in leads:
        if not set(re.findall(r"`([a-z0-9-]+)`", lead)) & set(checks):
            problems.append(f"labs/{lab_id}/handout.md: 'What usually goes wrong' bullet "
                            f"'{lead[:60]}' names no check of the lab in its bold lead")


def check_grader(manifest, grade: str, problems):
    labs = course.read_labs(grade)
    listed = [lab.id for lab in labs]
    if listed != list(manifest):
        problems.append(f"csd-grade --list: {' '.join(listed)}; labs/labs.txt: {' '.join(manifest)}")
    for lab in labs:
        if lab.id not in manifest:
            continue
        if lab.title != field(manifest, lab.id, "title"):
            problems.append(f"csd-grade --list: lab {lab.id} is titled '{lab.title}', "
                            f"labs/labs.txt says '{field(manifest, lab.id, 'title')}'")
        if lab.status != field(manifest, lab.id, "status"):
            problems.append(f"csd-grade --list: lab {lab.id} is {lab.status}, "
                            f"labs/labs.txt says {field(manifest, lab.id, 'status')}")
        if not lab.ready:
            continue
        handout = ROOT / "labs" / lab.id / "handout.md"
        if not handout.exists():
            continue
        text = handout.read_text(encoding="utf-8")
        check_wrong_bullets(lab.id, [c.id for c in lab.checks], text, problems)
        rows = handout_table(text)
        expected = [(c.id, c.points) for c in lab.checks]
        if rows is None:
            problems.append(f"labs/{lab.id}/handout.md: no `| Check | Points |` table")
        elif rows != expected:
            got = {r[0]: r[1] for r in rows}
            want = dict(expected)
            for check, points in expected:
                if check not in got:
                    problems.append(f"labs/{lab.id}/handout.md: the check table has no row "
                                    f"for {check} ({points} points)")
                elif got[check] != points:
                    problems.append(f"labs/{lab.id}/handout.md: {check} is worth {got[check]} "
                                    f"points in the table, {points} in the grader")
            for check, _ in rows:
                if check not in want:
                    problems.append(f"labs/{lab.id}/handout.md: the check table has a row "
                                    f"for {check}, which is no check of the lab")
            if not any(p.startswith(f"labs/{lab.id}/handout.md") for p in problems):
                problems.append(f"labs/{lab.id}/handout.md: the check table's order is "
                                f"{[r[0] for r in rows]}; the grader runs {[e[0] for e in expected]}")


def self_test(grade: str) -> int:
    """Proves the checks can fail: a README with one row removed or changed,
    a handout table with a row removed or a point changed, a "What
    usually goes wrong" bullet that names no check, and a handout without
    its trace figure, each give a disagreement."""
    manifest = course.read_manifest()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = readme.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("| `epoll` |"))
    failures = []
    for name, text in (("a README row removed", "\n".join(lines[:row] + lines[row + 1:])),
                       ("a README row changed", readme.replace("| `epoll` | the same", "| `epoll` | a"))):
        problems = []
        check_readme(manifest, problems, text)
        if not problems:
            failures.append(name)
    labs = course.read_labs(grade)
    lab = next(lab for lab in labs if lab.id == "epoll")
    handout = (ROOT / "labs" / "epoll" / "handout.md").read_text(encoding="utf-8")
    rows = handout_table(handout)
    expected = [(c.id, c.points) for c in lab.checks]
    if rows != expected:
        failures.append("the real epoll table already differs")
    for name, text in (("a handout row removed", re.sub(r"\n\| `split` \|[^\n]*", "", handout)),
                       ("a handout point changed", handout.replace("| `split` | 2 |", "| `split` | 3 |"))):
        if handout_table(text) == expected:
            failures.append(name)
    checks = [c.id for c in lab.checks]
    problems = []
    check_wrong_bullets("epoll", checks, handout, problems)
    if problems:
        failures.append("the real epoll bullets already fail")
    planted = handout.replace("## What usually goes wrong\n\n",
                              "## What usually goes wrong\n\n- **The server is slow:** "
                              "something is wrong (`epoll_wait`).\n", 1)
    problems = []
    check_wrong_bullets("epoll", checks, planted, problems)
    if not problems:
        failures.append("a bullet that names no check")
    problems = []
    check_trace_figure("epoll", handout, problems)
    if problems:
        failures.append("the real epoll handout already lacks its trace figure")
    problems = []
    check_trace_figure("epoll", handout.replace("/docs/figures/trace-epoll.svg", "/x.svg"), problems)
    if not problems:
        failures.append("a handout without its trace figure")
    for failure in failures:
        print(f"manifest_check --self-test: not caught: {failure}")
    print(f"manifest_check --self-test: {6 - len(failures)} of 6 planted drifts caught")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grade", help="csd-grade, to compare its list and the handouts")
    parser.add_argument("--self-test", action="store_true",
                        help="plant drifts in copies and check that each is caught (needs --grade)")
    args = parser.parse_args()
    if args.self_test:
        return self_test(args.grade)
    manifest = course.read_manifest()
    problems = []
    check_readme(manifest, problems)
    check_tree(manifest, problems)
    if args.grade:
        check_grader(manifest, args.grade, problems)
    for problem in problems:
        print(f"drift: {problem}")
    if problems:
        print(f"manifest_check: {len(problems)} disagreement(s) with labs/labs.txt or csd-grade")
        return 1
    print(f"manifest_check: {len(manifest)} labs, README, tree"
          + (" and handout check tables" if args.grade else "") + " agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
