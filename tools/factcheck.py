#!/usr/bin/env python3
"""The fact check of the pages (issue 23): docs/factcheck.toml records, for
every handout (labs/LAB/handout.md) and docs page (docs/*.md), each claim
that cites a book section (UNP, TLPI), a Linux or library version, or a
kernel behaviour, with its source. This test keeps that record honest:

- every recorded phrase still appears in its page (whitespace-insensitive),
  so that a page edit cannot leave the data describing text that is gone;
- every claim has a source, a `verified` flag, and, when not verified, why;
  a book claim names its sections and their titles, a kernel claim its
  Linux version;
- every `UNP N.N` / `TLPI N.N` citation in a page (the book's name followed
  by section, chapter or figure numbers) has a claim of that page whose
  `cites` lists it, so a new citation cannot go unchecked.

    tools/factcheck.py [--repo DIR] [--data FILE]   check (exit 1 on a problem)
    tools/factcheck.py --list-cites                  print every citation found
    tools/factcheck.py --self-test                   prove each rule can fail

Python 3.11 standard library only (tomllib).
"""

import argparse
import re
import sys
import tempfile
import tomllib
from pathlib import Path

BOOKS = ("UNP", "TLPI")
KINDS = ("book", "kernel", "library", "measurement")

# A citation: the book's name (maybe in *emphasis*), maybe "vol. 1,", maybe a
# word (section, sections, ch., chapter(s), figure, Fig.), then numbers
# joined by commas, "and", "to" or a dash: "UNP* vol. 1, sections 30.11 and
# 30.12", "TLPI 61.4", "*TLPI* sections 63.5.1 and 63.5.2".
_NUMBER = r"\d+(?:\.\d+)*"
_CITE = re.compile(
    r"\b(UNP|TLPI)\*?\s+(?:vol\.\s*1,\s*)?"
    r"(?:(?:sections?|ch\.|chapters?|figures?|Figures?|Fig\.)\s+)?"
    rf"({_NUMBER}(?:\s*(?:,|and|to|-|–)\s*{_NUMBER})*)"
)


def normalize(text: str) -> str:
    """Whitespace runs as one space, so that a phrase may span a line break."""
    return " ".join(text.split())


def pages(repo: Path):
    """The pages checked: every handout and every docs page."""
    found = sorted(repo.glob("labs/*/handout.md")) + sorted(repo.glob("docs/*.md"))
    return [p.relative_to(repo).as_posix() for p in found]


def citations(text: str):
    """The book citations of a page: ["UNP 30.5", "TLPI 60.3", ...], in order."""
    cites = []
    for match in _CITE.finditer(normalize(text)):
        for number in re.findall(_NUMBER, match.group(2)):
            cites.append(f"{match.group(1)} {number}")
    return cites


def load(data_path: Path):
    with open(data_path, "rb") as f:
        return tomllib.load(f)


def check(repo: Path, data: dict):
    """Every problem of the data against the pages of @p repo, as strings."""
    problems = []
    claims = data.get("claim", [])
    if not claims:
        problems.append("no [[claim]] at all")
    texts = {}
    covered = {}
    for number, claim in enumerate(claims, 1):
        where = f"claim {number} ({claim.get('page', '?')}: {claim.get('phrase', '?')!r})"
        page = claim.get("page", "")
        if page not in texts:
            path = repo / page
            texts[page] = normalize(path.read_text(encoding="utf-8")) if page and path.is_file() else None
        if texts[page] is None:
            problems.append(f"{where}: the page does not exist")
        elif normalize(claim.get("phrase", "")) == "":
            problems.append(f"{where}: no phrase")
        elif normalize(claim["phrase"]) not in texts[page]:
            problems.append(f"{where}: the phrase is no longer in the page")
        if not str(claim.get("source", "")).strip():
            problems.append(f"{where}: no source")
        kind = claim.get("kind")
        if kind not in KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(KINDS)}")
        if not isinstance(claim.get("verified"), bool):
            problems.append(f"{where}: verified must be true or false")
        elif not claim["verified"] and not str(claim.get("why", "")).strip():
            problems.append(f"{where}: not verified, and no `why`")
        elif claim["verified"] and not str(claim.get("evidence", "")).strip():
            problems.append(f"{where}: verified, but no `evidence`")
        if kind == "book":
            cites = claim.get("cites", [])
            titles = claim.get("titles", [])
            if not cites:
                problems.append(f"{where}: a book claim needs `cites`")
            if len(titles) != len(cites):
                problems.append(f"{where}: `titles` must give one title per entry of `cites`")
            for cite in cites:
                if not re.fullmatch(rf"({'|'.join(BOOKS)}) (ch\. |fig\. )?{_NUMBER}", cite):
                    problems.append(f"{where}: bad cite {cite!r} (\"UNP 30.5\", \"TLPI ch. 29\", \"UNP fig. 30.1\")")
            covered.setdefault(page, set()).update(c.replace("ch. ", "").replace("fig. ", "") for c in cites)
        if kind == "kernel" and not str(claim.get("linux", "")).strip():
            problems.append(f"{where}: a kernel claim needs `linux` (the version)")
    for page in pages(repo):
        text = (repo / page).read_text(encoding="utf-8")
        for cite in citations(text):
            if cite not in covered.get(page, set()):
                problems.append(f"{page}: cites {cite}, which no claim of the page records")
    return problems


def self_test(data_path: Path) -> int:
    """Plants each kind of rot in a fake repository; each must be caught."""
    page = ("# Lab\n\nThis is *UNP* section 30.5 (a concurrent server), as\n"
            "Kerrisk says (*TLPI* section\n60.3). `SO_REUSEPORT` (Linux 3.9).\n")
    good = """
[[claim]]
page = "labs/x/handout.md"
phrase = "*UNP* section 30.5"
kind = "book"
cites = ["UNP 30.5"]
titles = ["TCP Concurrent Server, One Child per Client"]
source = "UNP 3rd ed., table of contents"
verified = true
evidence = "a table of contents"

[[claim]]
page = "labs/x/handout.md"
phrase = "(*TLPI* section 60.3)"
kind = "book"
cites = ["TLPI 60.3"]
titles = ["A Concurrent TCP echo Server"]
source = "TLPI table of contents"
verified = true
evidence = "a table of contents"

[[claim]]
page = "labs/x/handout.md"
phrase = "`SO_REUSEPORT` (Linux 3.9)"
kind = "kernel"
linux = "3.9"
source = "socket(7)"
verified = false
why = "a test"
"""
    cases = {
        "clean": (page, good, None),
        "phrase gone": (page.replace("section 30.5", "section 30.4"), good, "no longer in the page"),
        "no source": (page, good.replace('source = "socket(7)"\n', ""), "no source"),
        "uncited section": (page + "See *TLPI* section 61.4.\n", good, "cites TLPI 61.4"),
        "unverified without why": (page, good.replace('why = "a test"\n', ""), "no `why`"),
        "kernel claim without version": (page, good.replace('linux = "3.9"\n', ""), "needs `linux`"),
    }
    failures = 0
    for name, (text, data_text, expected) in cases.items():
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp)
            (repo / "labs" / "x").mkdir(parents=True)
            (repo / "labs" / "x" / "handout.md").write_text(text, encoding="utf-8")
            problems = check(repo, tomllib.loads(data_text))
        if expected is None:
            ok = not problems
        else:
            ok = any(expected in p for p in problems)
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {problems if problems else 'no problem'}")
        failures += not ok
    # And the real data loads and is well formed.
    load(data_path)
    return 1 if failures else 0


def main() -> int:
    here = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=here)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--list-cites", action="store_true")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    data_path = args.data or args.repo / "docs" / "factcheck.toml"
    if args.self_test:
        return self_test(data_path)
    if args.list_cites:
        for page in pages(args.repo):
            for cite in citations((args.repo / page).read_text(encoding="utf-8")):
                print(f"{page}: {cite}")
        return 0
    data = load(data_path)
    problems = check(args.repo, data)
    for problem in problems:
        print(f"factcheck: {problem}", file=sys.stderr)
    claims = data.get("claim", [])
    verified = sum(1 for c in claims if c.get("verified") is True)
    print(f"factcheck: {len(claims)} claims ({verified} verified, {len(claims) - verified} not), "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
