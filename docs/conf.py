"""Sphinx configuration of the csdesign docs.

docs/BuildDocs.cmake runs sphinx-build with this directory as the
configuration directory (-c docs) on a staged copy of the pages, and sets:

- CSD_REPO: the repository root;
- CSD_DOXYGEN_XML: the Doxygen XML of the lab library (read by Breathe);
- CSD_DOCS_SRC: the staged source directory (a copy of docs/ plus the
  generated lab pages);
- CSD_GRADE: the grader, whose `--list` is the list of labs and checks
  (docs/course.py).

Build the docs with `./csd docs` (or `cmake --build --preset default
--target docs`), not by calling sphinx-build yourself.
"""

import os
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from docutils import nodes
from pygments.lexer import RegexLexer, bygroups
from pygments.token import Comment, Generic, Text
from sphinx.util import logging

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course  # noqa: E402  (docs/course.py, next to this file)

logger = logging.getLogger(__name__)

REPO = Path(os.environ.get("CSD_REPO", Path(__file__).resolve().parent.parent)).resolve()
DOCS_SRC = Path(os.environ.get("CSD_DOCS_SRC", Path(__file__).resolve().parent)).resolve()

project = "csdesign"
author = "the csdesign authors"
copyright = "the csdesign authors"

extensions = ["myst_parser", "breathe", "sphinx.ext.graphviz"]
source_suffix = {".md": "markdown"}
root_doc = "index"
# docs/figures/*.md are fragments the pages include (the design comparison's
# tables, written by `./csd bench --docs`), not pages of their own; the
# staging copies them to figures/ and docs/figures/.
exclude_patterns = ["_build", "figures/*.md", "docs/figures/*.md"]

myst_enable_extensions = ["colon_fence", "deflist", "fieldlist", "tasklist", "substitution"]
myst_heading_anchors = 3

# Code blocks without a language are shown as plain text, not guessed.
highlight_language = "none"

# Every cross-reference must resolve ({cpp:func}`csd::check` in a page...).
# The namespace itself is not declared on any page (see api_sections()).
nitpicky = True
# POSIX types (pid_t) are not declared on any page either.
nitpick_ignore = [("cpp:identifier", "csd"), ("cpp:identifier", "pid_t")]
# liburing's types (csd/uring.hpp) are liburing's, not declared here.
nitpick_ignore += [("cpp:identifier", "io_uring"), ("cpp:identifier", "io_uring_sqe")]

breathe_projects = {"csd": os.environ.get("CSD_DOXYGEN_XML", "")}
breathe_default_project = "csd"
breathe_domain_by_extension = {"hpp": "cpp"}
breathe_default_members = ("members",)

html_theme = "furo"
html_title = "csdesign"
html_short_title = "csdesign"
html_show_sourcelink = False
html_css_files = ["csd.css"]
html_favicon = str(Path(__file__).resolve().parent / "static" / "favicon.svg")
html_static_path = [str(Path(__file__).resolve().parent / "static")]

# Figures: Graphviz sources in the repository (labs/LAB/figures/*.dot), drawn
# as SVG on a white card so that they read the same in dark mode. A figure
# path that starts with / is from the repository root: BuildDocs.cmake stages
# every labs/LAB/figures/ and docs/figures/ at the same place in the sources.
graphviz_output_format = "svg"
graphviz_dot_args = [
    "-Gbgcolor=white",
    "-Gpad=0.15",
    "-Gfontname=DejaVu Sans",
    "-Nfontname=DejaVu Sans",
    "-Efontname=DejaVu Sans",
    "-Gfontsize=12",
    "-Nfontsize=12",
    "-Efontsize=11",
]

# The course outline and the lab lists come from the grader (docs/course.py).
LABS = course.read_labs(os.environ["CSD_GRADE"]) if os.environ.get("CSD_GRADE") else []


def _lab_page(prefix):
    def page_of(lab_id):
        return f"{prefix}{lab_id}.md" if (DOCS_SRC / "labs" / f"{lab_id}.md").exists() else None

    return page_of


myst_substitutions = {
    "course_outline": course.outline_table(LABS, _lab_page("labs/")),
    "course_outline_labs": course.outline_table(LABS, _lab_page("")),
    "lab_ids": course.id_sentence(LABS),
    # docs/instructors.md: every check, from the grader itself.
    "check_table": course.check_table(LABS),
}


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
            # A heading's anchor as the forge writes it (#1-wire-protocol)
            # becomes the id Sphinx gave that section (MyST records both).
            label = env.get_domain("std").anonlabels.get(f"{env.doc2path(docname, base=False)}#{anchor}")
            if label is None:
                logger.warning(f"{target}: no heading with the anchor #{anchor}", location=node)
            else:
                anchor = label[1]
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


def _api_entries(xml_dir: Path):
    """The lab library headers (sorted) and, per header, its declarations in
    header order: ({"csd/x.hpp"}, {"csd/x.hpp": [(line, directive, name)]})."""
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
    return headers, {h: sorted(e) for h, e in entries.items()}


# The summary by task: which headers serve which task, in the order a
# student meets them. A header not listed here gets a row of its own.
_TASKS = [
    ("Descriptors", "own a descriptor, raise the descriptor limit", ["fd.hpp", "limits.hpp"]),
    ("Errors", "failed calls as exceptions; would block, peer gone, out of descriptors", ["error.hpp"]),
    ("Sockets", "listen, accept, read and write without surprises", ["net.hpp"]),
    ("Protocol", "the wire protocol with no I/O, and serving it on a blocking socket",
     ["protocol.hpp", "serve.hpp"]),
    ("Pumping", "move bytes between a non-blocking socket and its session", ["pump.hpp"]),
    ("Signals", "SIGTERM, SIGINT and SIGCHLD as readable events (the self-pipe)", ["signals.hpp"]),
    ("Options", "the server command line and its announcement", ["options.hpp"]),
]


def api_summary(headers, entries) -> str:
    """A table: task, what it is for, and a link to each of its entries."""
    names = {Path(h).name: [] for h in headers}
    for header, items in entries.items():
        for _, _, entity in items:
            base = entity.split("(")[0]
            if base not in names.setdefault(Path(header).name, []):
                names[Path(header).name].append(base)
    rows = []
    listed = set()
    for task, what, task_headers in _TASKS:
        found = [h for h in task_headers if names.get(h)]
        listed.update(task_headers)
        if found:
            rows.append((task, what, [n for h in found for n in names[h]]))
    for header, items in names.items():
        if header not in listed and items:
            rows.append((f"`csd/{header}`", "", items))
    text = "\n## By task\n\n| Task | For | Entries |\n| --- | --- | --- |\n"
    for task, what, items in rows:
        text += f"| {task} | {what} | " + ", ".join(f"`{n}`" for n in items) + " |\n"
    return text


def api_sections(xml_dir: Path) -> str:
    """The summary by task, then one section per lab library header: its
    description, then each of its declarations in the order of the header
    (Breathe directives).

    Breathe's doxygenfile would declare namespace csd once per header, which
    Sphinx reports as duplicates; this lists the declarations one by one.
    """
    headers, entries = _api_entries(xml_dir)
    text = api_summary(headers, entries)
    for header in headers:
        name = Path(header).name
        text += f"\n## `csd/{name}`\n\n"
        text += f"```{{doxygenfile}} {name}\n:sections: briefdescription detaileddescription\n```\n"
        for _, directive, entity in entries.get(f"csd/{name}", []):
            options = ":members:\n" if directive in ("doxygenclass", "doxygenstruct") else ""
            text += f"\n```{{{directive}}} {entity}\n{options}```\n"
    return text


def add_api_sections(app, docname, source):
    """Appends the generated sections to the api page."""
    if docname == "api":
        source[0] += api_sections(Path(breathe_projects["csd"]))


# --- Links that write themselves -----------------------------------------------

# An inline `csd::name` (or `csd::name(args)`) in any page is a library name:
# it links to its API entry. A name the API does not have is a warning, so a
# page cannot keep naming a function that was renamed or removed.
_LIBRARY_NAME = re.compile(r"^(csd::[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*)(?:\(.*)?$", re.DOTALL)
# Written as `csd::...` but not a C++ name of the library.
_NOT_LIBRARY_NAMES = {"csd::lab", "csd::lab_core", "csd::lab_base", "csd::lab_protocol", "csd::lab_serve", "csd::lab_pump", "csd::lab_process"}  # CMake targets
_NOT_LIBRARY_NAMES.add("csd::lab_uring")  # the uring lab's part (labs/lib/CMakeLists.txt)


def _library_entries(env):
    """csd::name -> (docname, anchor) of its API entry (the first overload)."""
    entries = {}
    for name, _, _, docname, anchor, _ in env.get_domain("cpp").get_objects():
        entries.setdefault(name, (docname, anchor))
    return entries


def _lab_of(docname):
    if docname.startswith("labs/") and docname != "labs/index":
        lab_id = docname[len("labs/") :]
        return next((lab for lab in LABS if lab.id == lab_id), None)
    return None


def _first_cell_text(row):
    entry = next(iter(row.findall(nodes.entry)), None)
    return entry.astext().strip() if entry is not None else ""


def _link(literal, refuri, title):
    reference = nodes.reference("", "", internal=True, refuri=refuri, reftitle=title)
    literal.replace_self(reference)
    reference += literal


# A man page reference, `name(N)`: linked to its page on man7.org (the Linux
# man-pages project, which also carries liburing's pages). A plain link: the
# offline build needs no network.
# `man N name` (the command that opens it) is linked the same way.
_MAN_PAGE = re.compile(
    r"(?<![\w-])([a-z][a-z0-9_-]*)\(([1-8])\)|\bman ([1-8]) ([a-z][a-z0-9_-]*[a-z0-9])\b"
)


def _man_url(match):
    name, section = match.group(1, 2) if match.group(1) else match.group(4, 3)
    return f"https://man7.org/linux/man-pages/man{section}/{name}.{section}.html"


def _in_text(text):
    """Whether a Text node is prose: not in a link, code, a title or raw HTML."""
    parent = text.parent
    return parent is not None and not any(
        isinstance(p, (nodes.reference, nodes.literal, nodes.literal_block, nodes.raw,
                       nodes.title, nodes.FixedTextElement))
        for p in [parent, *_ancestors(parent)]
    )


def _link_in_text(doctree, pattern, target):
    """Turns every match of @p pattern in the prose into a link:
    target(match) gives (refuri, title), or None to leave it as text."""
    for text in list(doctree.findall(nodes.Text)):
        if not _in_text(text):
            continue
        source = str(text)
        pieces, last = [], 0
        for match in pattern.finditer(source):
            found = target(match)
            if found is None:
                continue
            refuri, title = found
            pieces.append(nodes.Text(source[last:match.start()]))
            pieces.append(nodes.reference(match.group(0), match.group(0), refuri=refuri,
                                          reftitle=title))
            last = match.end()
        if pieces:
            pieces.append(nodes.Text(source[last:]))
            parent = text.parent
            index = parent.index(text)
            parent.remove(text)
            for offset, piece in enumerate(pieces):
                parent.insert(index + offset, piece)


def link_man_pages(doctree):
    """Turns every man page reference `name(N)` or `man N name` of the text (inline code or
    prose, never a code block or an existing link) into a link to the page."""
    for literal in list(doctree.findall(nodes.literal)):
        if any(isinstance(p, nodes.reference) for p in _ancestors(literal)):
            continue
        match = _MAN_PAGE.fullmatch(literal.astext())
        if match:
            reference = nodes.reference("", "", refuri=_man_url(match),
                                        reftitle=f"the man page {match.group(0)}")
            literal.replace_self(reference)
            reference += literal
    _link_in_text(doctree, _MAN_PAGE,
                  lambda m: (_man_url(m), f"the man page {m.group(0)}"))


def link_labs(app, doctree, docname):
    """Turns every mention of another lab in the prose ("the select lab",
    "prefork lab") into a link to its page."""
    ids = [lab.id for lab in LABS]
    if not ids:
        return
    here = _lab_of(docname)
    pattern = re.compile(r"\b(?:the )?(%s) lab\b" % "|".join(map(re.escape, ids)))

    def target(match):
        lab_id = match.group(1)
        if here is not None and here.id == lab_id:
            return None  # this page's own lab
        return (app.builder.get_relative_uri(docname, f"labs/{lab_id}"), f"the {lab_id} lab")

    _link_in_text(doctree, pattern, target)


def link_names(app, doctree, docname):
    """Turns inline library names into links to the API, and, on a lab page,
    gives each row of the checks table the anchor check-ID and turns every
    other inline check id into a link to it."""
    entries = _library_entries(app.env)
    lab = _lab_of(docname)
    check_ids = {c.id for c in lab.checks} if lab else set()
    rows = {}
    for row in doctree.findall(nodes.row):
        text = _first_cell_text(row)
        if text in check_ids and text not in rows:
            row["ids"].append(f"check-{text}")
            rows[text] = row
    if lab is not None and lab.ready:
        for check_id in sorted(check_ids - rows.keys()):
            logger.warning(f"lab {lab.id}: check {check_id} has no row in the page's checks table",
                           location=docname)
    link_man_pages(doctree)
    link_labs(app, doctree, docname)
    for literal in list(doctree.findall(nodes.literal)):
        if isinstance(literal.parent, nodes.reference):
            continue
        text = literal.astext()
        match = _LIBRARY_NAME.match(text)
        if match and match.group(1) not in _NOT_LIBRARY_NAMES:
            name = match.group(1)
            if name not in entries:
                logger.warning(f"{name} is not in the lab library's API (docs/api.md)", location=literal)
                continue
            target, anchor = entries[name]
            _link(literal, app.builder.get_relative_uri(docname, target) + "#" + anchor, name)
        elif text in rows and not any(p is rows[text] for p in _ancestors(literal)):
            _link(literal, f"#check-{text}", f"check {text}")


def _ancestors(node):
    while node.parent is not None:
        node = node.parent
        yield node


# --- Console blocks --------------------------------------------------------------


class ConsoleLexer(RegexLexer):
    """`console` blocks: the prompt, the command as plain text (a lab named
    select is not the shell keyword), its trailing # comment, and the output."""

    name = "csd console"
    aliases = ["console"]
    tokens = {
        "root": [
            # Every rule consumes a whole line (the lexer ends the text with
            # a newline): an empty match would never advance.
            (r"^(\$ )([^#\n]*?)([ \t]*#[^\n]*)?(\n)", bygroups(Generic.Prompt, Text, Comment.Single, Text)),
            (r"^[^\n]*\n", Generic.Output),
        ]
    }


# --- Works from any sub-path -------------------------------------------------------

_ABSOLUTE_IMPORT = re.compile(r"@import url\((/javascript/[^)]+)\);")


def inline_absolute_imports(app, exception):
    """Debian's furo.css imports /javascript/normalize.css/normalize.css, an
    absolute URL that only a Debian web server has. Inline the file (from
    /usr/share, where Debian installs it) so that the site works anywhere."""
    if exception is not None or app.builder.format != "html":
        return
    for css in Path(app.outdir, "_static").rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        if "@import url(/" not in text:
            continue

        def inline(match):
            local = Path("/usr/share") / match.group(1).lstrip("/")
            if not local.exists():
                logger.warning(f"{css.name}: {match.group(1)} is not installed; import dropped")
                return ""
            return local.read_text(encoding="utf-8")

        css.write_text(_ABSOLUTE_IMPORT.sub(inline, text), encoding="utf-8")


# Figures readable at any width (issue 23): a figure is never drawn smaller
# than the width at which its smallest text is 12 px; a wider one scrolls
# sideways in its box (csd.css), and a click opens it full size.
MIN_FIGURE_TEXT_PX = 12
# font-size="12", font-size: 12px, and the shorthand font: [bold] 9px ... (matplotlib).
_FONT_SIZE = re.compile(
    r'font(?:-size)?(?:="|:\s*)(?:(?:normal|italic|oblique|bold|bolder|lighter|[1-9]00)\s+)*'
    r'([0-9.]+)')
_SVG_ROOT = re.compile(r"<svg\b[^>]*>", re.S)
_GRAPHVIZ_OBJECT = re.compile(
    r'(<object data="([^"]+\.svg)" type="image/svg\+xml" class="graphviz")>(.*?</object>)', re.S)
_SVG_IMG = re.compile(r'<img ([^>]*?)src="([^"]+\.svg)"([^>]*?)/?>')


def _svg_units(value):
    """A length of an SVG root attribute in CSS px (pt: 4/3 px)."""
    m = re.match(r"\s*([0-9.]+)\s*(pt|px)?", value or "")
    if not m:
        return None
    return float(m.group(1)) * (4 / 3 if m.group(2) == "pt" else 1)


def figure_min_width(svg_path):
    """The least width, in CSS px, at which every text of the SVG figure at
    @svg_path is at least MIN_FIGURE_TEXT_PX tall; None when it has no text
    (or no size to scale from)."""
    try:
        text = Path(svg_path).read_text(encoding="utf-8")
    except OSError:
        return None
    root = _SVG_ROOT.search(text)
    if not root:
        return None
    attrs = dict(re.findall(r'([\w:-]+)="([^"]*)"', root.group(0)))
    view_box = attrs.get("viewBox", "").replace(",", " ").split()
    user_width = float(view_box[2]) if len(view_box) == 4 else _svg_units(attrs.get("width"))
    sizes = [float(v) for v in _FONT_SIZE.findall(text) if float(v) > 0]
    if not user_width or not sizes or "<text" not in text:
        return None
    return int(-(-MIN_FIGURE_TEXT_PX * user_width // min(sizes)))


def make_figures_legible(app, exception):
    """Gives every SVG figure of the HTML pages its least width (no text
    under MIN_FIGURE_TEXT_PX) and makes a Graphviz figure a link to its SVG
    (an image figure already is one: Sphinx's image-reference)."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    for page in out.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        if ".svg" not in html:
            continue

        def style_for(src):
            width = figure_min_width((page.parent / src).resolve())
            return f' style="min-width: {width}px"' if width else ""

        def graphviz(m):
            return (f'<a class="csd-figure-open" href="{m.group(2)}" '
                    f'title="Open the figure full size">{m.group(1)}{style_for(m.group(2))}>'
                    f"{m.group(3)}</a>")

        def image(m):
            if "style=" in m.group(1) + m.group(3):
                return m.group(0)
            return f'<img {m.group(1)}src="{m.group(2)}"{m.group(3)}{style_for(m.group(2))} />'

        new = _SVG_IMG.sub(image, _GRAPHVIZ_OBJECT.sub(graphviz, html))
        if new != html:
            page.write_text(new, encoding="utf-8")


def _block_end(text, open_brace):
    """The index just past the } that closes the { at open_brace."""
    depth = 0
    for i in range(open_brace, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    raise ValueError("unbalanced braces")


def restore_auto_dark_mode(app, exception):
    """Debian's compiled furo.css lost the rule that turns dark mode on when
    the reader's system asks for it (furo's _theme.sass: `@media
    (prefers-color-scheme: dark)` around `body:not([data-theme="light"])`):
    only the code blocks went dark, on a light page. Put it back, made from
    the explicit dark-mode rules (`body[data-theme="dark"]`) it mirrors."""
    if exception is not None or app.builder.format != "html":
        return
    css = Path(app.outdir, "_static", "styles", "furo.css")
    if not css.exists():
        return
    text = css.read_text(encoding="utf-8")
    if "prefers-color-scheme" in text:
        return
    start = text.find("@media not print {")
    if start < 0 or 'body[data-theme="dark"]' not in text[start:]:
        logger.warning("furo.css: no dark-mode rules found; dark mode left as it is")
        return
    brace = text.index("{", start)
    end = _block_end(text, brace)
    inner = text[brace + 1 : end - 1]
    auto = inner.replace('body[data-theme="dark"]', 'body:not([data-theme="light"])')
    text = text[: end - 1] + "\n@media (prefers-color-scheme: dark) {" + auto + "}\n" + text[end - 1 :]
    css.write_text(text, encoding="utf-8")


def setup(app):
    app.connect("missing-reference", resolve_repository_link)
    app.connect("source-read", add_api_sections)
    app.connect("doctree-resolved", link_names)
    app.connect("build-finished", inline_absolute_imports)
    app.connect("build-finished", restore_auto_dark_mode)
    app.connect("build-finished", make_figures_legible)
    app.add_lexer("console", ConsoleLexer)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
