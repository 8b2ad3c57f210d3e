"""Sphinx configuration of the csdesign docs.

docs/BuildDocs.cmake runs sphinx-build with this directory as the
configuration directory (-c docs) on a staged copy of the pages, and sets:

- CSD_REPO: the repository root;
- CSD_DOXYGEN_XML: the Doxygen XML of the lab library (read by Breathe);
- CSD_DOCS_SRC: the staged source directory (a copy of docs/ plus the
  generated lab pages).

Build the docs with `./csd docs` (or `cmake --build --preset default
--target docs`), not by calling sphinx-build yourself.
"""

import os
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from docutils import nodes

REPO = Path(os.environ.get("CSD_REPO", Path(__file__).resolve().parent.parent)).resolve()
DOCS_SRC = Path(os.environ.get("CSD_DOCS_SRC", Path(__file__).resolve().parent)).resolve()

project = "csdesign"
author = "the csdesign authors"
copyright = "the csdesign authors"

extensions = ["myst_parser", "breathe"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

myst_enable_extensions = ["colon_fence", "deflist", "fieldlist", "tasklist"]
myst_heading_anchors = 3

# Code blocks without a language are shown as plain text, not guessed.
highlight_language = "none"

# Every cross-reference must resolve ({cpp:func}`csd::check` in a page...).
# The namespace itself is not declared on any page (see api_sections()).
nitpicky = True
# POSIX types (pid_t) are not declared on any page either.
nitpick_ignore = [("cpp:identifier", "csd"), ("cpp:identifier", "pid_t")]

breathe_projects = {"csd": os.environ.get("CSD_DOXYGEN_XML", "")}
breathe_default_project = "csd"
breathe_domain_by_extension = {"hpp": "cpp"}
breathe_default_members = ("members",)

html_theme = "furo"
html_title = "csdesign"
html_short_title = "csdesign"
html_show_sourcelink = False


def _docname(rel: Path):
    """The page a repository file is rendered as, or None."""
    parts = rel.parts
    if len(parts) == 3 and parts[0] == "labs" and parts[2] == "handout.md":
        return f"labs/{parts[1]}"
    if len(parts) >= 2 and parts[0] == "docs" and rel.suffix == ".md":
        return rel.relative_to("docs").with_suffix("").as_posix()
    return None


def _source_in_repo(source: str):
    """Where the file a link was written in lives in the repository.

    A handout included by a lab page reports its own path; a page of the
    staged copy stands for the same page in docs/.
    """
    path = Path(source).resolve()
    try:
        return REPO / "docs" / path.relative_to(DOCS_SRC)
    except ValueError:
        return path


def resolve_repository_link(app, env, node, contnode):
    """Resolves a relative link the way it works when the Markdown file is
    read in the repository (labs/LAB/handout.md links to ../LAB2/handout.md,
    ../../docs/contract.md, ../../skeletons/LAB/server.cpp...).

    A link to a handout or a docs page becomes a link to its page; a link to
    another file of the repository becomes its text and its path (the file
    is in the reader's checkout). Anything else stays unresolved, so Sphinx
    warns.
    """
    if node.get("reftype") not in ("any", "myst"):
        return None
    source = node.source or node.get("source")
    target = node.get("reftarget", "")
    path_part, _, anchor = target.partition("#")
    if not source or not path_part or "://" in path_part:
        return None
    resolved = (_source_in_repo(source).parent / path_part).resolve()
    try:
        rel = resolved.relative_to(REPO)
    except ValueError:
        return None
    docname = _docname(rel)
    if docname is not None and docname in env.all_docs:
        uri = app.builder.get_relative_uri(node["refdoc"], docname)
        if anchor:
            uri += "#" + anchor
        reference = nodes.reference("", "", internal=True, refuri=uri)
        reference += contnode
        return reference
    if docname is None and resolved.exists():
        path = rel.as_posix()
        if contnode.astext() == path:
            return nodes.literal(path, path)
        return nodes.inline("", "", contnode, nodes.Text(" ("), nodes.literal(path, path), nodes.Text(")"))
    return None


_DIRECTIVES = {
    "class": "doxygenclass",
    "struct": "doxygenstruct",
    "function": "doxygenfunction",
    "variable": "doxygenvariable",
    "enum": "doxygenenum",
    "typedef": "doxygentypedef",
}


def _line(location):
    return int(location.get("line", "0")) if location is not None else 0


def api_sections(xml_dir: Path) -> str:
    """One section per lab library header: its description, then each of
    its declarations in the order of the header (Breathe directives).

    Breathe's doxygenfile would declare namespace csd once per header, which
    Sphinx reports as duplicates; this lists the declarations one by one.
    """
    namespace = ET.parse(xml_dir / "namespacecsd.xml").getroot().find("compounddef")
    entries = {}  # header -> [(line, directive, name)]

    def add(location, directive, name):
        header = location.get("file", "") if location is not None else ""
        entries.setdefault(header, []).append((_line(location), directive, name))

    for inner in namespace.findall("innerclass"):
        compound = ET.parse(xml_dir / f"{inner.get('refid')}.xml").getroot().find("compounddef")
        add(compound.find("location"), _DIRECTIVES[compound.get("kind")], inner.text)
    members = [m for s in namespace.findall("sectiondef") for m in s.findall("memberdef")]
    overloads = Counter(m.findtext("name") for m in members if m.get("kind") == "function")
    for member in members:
        directive = _DIRECTIVES.get(member.get("kind"))
        if directive is None:
            continue
        name = "csd::" + member.findtext("name")
        if member.get("kind") == "function" and overloads[member.findtext("name")] > 1:
            name += member.findtext("argsstring")
        add(member.find("location"), directive, name)

    headers = sorted(
        c.findtext("name")
        for c in ET.parse(xml_dir / "index.xml").getroot().findall("compound")
        if c.get("kind") == "file" and c.findtext("name", "").endswith(".hpp")
    )
    text = ""
    for header in headers:
        name = Path(header).name
        text += f"\n## `csd/{name}`\n\n"
        text += f"```{{doxygenfile}} {name}\n:sections: briefdescription detaileddescription\n```\n"
        for _, directive, entity in sorted(entries.get(f"csd/{name}", [])):
            options = ":members:\n" if directive in ("doxygenclass", "doxygenstruct") else ""
            text += f"\n```{{{directive}}} {entity}\n{options}```\n"
    return text


def add_api_sections(app, docname, source):
    """Appends the generated sections to the api page."""
    if docname == "api":
        source[0] += api_sections(Path(breathe_projects["csd"]))


def setup(app):
    app.connect("missing-reference", resolve_repository_link)
    app.connect("source-read", add_api_sections)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
