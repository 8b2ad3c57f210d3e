#!/usr/bin/python3
"""browser_test.py: the built docs, read in a real browser (CTest docs.browser).

    browser_test.py --site HTML_DIR --grade CSD_GRADE --out DIR
                    [--chromium PROGRAM] [--timeout SECONDS]

Serves HTML_DIR from a sub-path (http://127.0.0.1:PORT/course/) with a local
HTTP server, as a forge's pages would, and checks:

- every page opens in headless Chromium and renders its headings; the
  landing page and every lab page also render every figure (an SVG that
  loaded, with a size), and a lab page has at least two;
- no request the browser made failed (the server's log: no status >= 400,
  nothing requested outside /course/);
- no code line overflows its box at 1,400 px, and code stays readable in
  dark mode (contrast of every colour of a code block with its background),
  read on the landing page and on as few pages as together use every kind
  of highlighted token of the site (the theme is the same on every page:
  what a page adds in dark mode is the colours of its code);
- every internal link of every page resolves (the file, and its #anchor);
- every check id of each lab (`csd-grade --list`) has its row, #check-ID,
  on the lab's page, which has the section the grader's hints point at
  (#what-usually-goes-wrong);
- every figure's smallest text is drawn at least 12 px tall, and every
  figure is a link to its image (a click opens it full size);
- no man page reference (`epoll_ctl(2)`) and no mention of another lab
  ("the select lab") is left unlinked in a page's prose (docs/conf.py
  links them; code, headings and existing links do not count).

Screenshots of the landing page and the select lab page (light and dark)
are left in DIR as artifacts. Exit status 0: all good; 1: a failure (each
one printed); 77: Chromium cannot run here at all (CTest's skip code),
with the reason.

The browser runs each page's checks itself: the server adds a small script
to every HTML page it serves, which writes what it measured into the page,
and `chromium --dump-dom` prints the page. Nothing else is installed.
"""

import argparse
import concurrent.futures
import functools
import html.parser
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course  # noqa: E402  (docs/course.py: the labs, from csd-grade --list)

SKIP = 77
PREFIX = "/course/"
WIDTH, HEIGHT = 1400, 1000
# No figure text smaller, at any width (docs/conf.py gives each figure the
# least width that keeps it so: a wider figure scrolls in its box).
MIN_TEXT_PX = 12

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    f"--window-size={WIDTH},{HEIGHT}",
]

# Runs in the page once it has loaded (figures included) and writes its
# findings, as JSON, into an attribute of <html>, which --dump-dom prints.
PROBE = r"""
<script>
window.addEventListener("load", function () {
  function rgba(text) {
    var m = text.match(/rgba?\(([^)]*)\)/);
    if (!m) return null;
    var p = m[1].split(",").map(function (x) { return parseFloat(x); });
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  }
  function background(el) {
    for (; el && el.nodeType === 1; el = el.parentElement) {
      var c = rgba(getComputedStyle(el).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  }
  function luminance(c) {
    function ch(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
    return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
  }
  function contrast(a, b) {
    var x = luminance(a), y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }
  var r = {
    dark: window.matchMedia("(prefers-color-scheme: dark)").matches,
    title: document.title,
    headings: [], figures: [], overflow: [], low_contrast: [], unlinked: []
  };
  // Prose that names a man page or another lab without linking it.
  var labIds = __LAB_IDS__;
  var own = (location.pathname.match(/labs\/([a-z0-9-]+)\.html$/) || [])[1];
  var man = /(^|[^\w-])([a-z][a-z0-9_-]*\([1-8]\))/g;
  var lab = labIds.length ? new RegExp("\\b(?:the )?(" + labIds.join("|") + ") lab\\b", "g") : null;
  var article = document.querySelector("article") || document.body;
  var walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  for (var node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest("a, pre, code, h1, h2, h3, h4, script, style, object")) continue;
    var text = node.textContent, m;
    man.lastIndex = 0;
    while ((m = man.exec(text))) r.unlinked.push("man page " + m[2]);
    if (!lab) continue;
    lab.lastIndex = 0;
    while ((m = lab.exec(text))) if (m[1] !== own) r.unlinked.push("lab mention '" + m[0] + "'");
  }
  r.page_luminance = luminance(background(document.querySelector("article") || document.body));
  document.querySelectorAll("article h1, article h2, article h3").forEach(function (h) {
    var box = h.getBoundingClientRect();
    r.headings.push({text: h.textContent.replace(/\s+/g, " ").trim(), height: box.height});
  });
  // The smallest text of an SVG figure as drawn, in CSS px: an <object>'s
  // own document is laid out (font size times the text's scale to the
  // screen); an <img>'s SVG is fetched and read (font sizes in its user
  // units, times the drawn width over its viewBox width).
  function smallestText(f, box) {
    var least = null;
    if (f.tagName !== "IMG") {
      var doc = f.contentDocument;
      if (!doc) return null;
      doc.querySelectorAll("text").forEach(function (t) {
        if (!t.textContent.trim()) return;
        var size = parseFloat(doc.defaultView.getComputedStyle(t).fontSize);
        var ctm = t.getScreenCTM();
        if (!size || !ctm) return;
        var px = size * Math.sqrt(ctm.a * ctm.a + ctm.b * ctm.b);
        if (least === null || px < least) least = px;
      });
      return least;
    }
    var src = f.getAttribute("src") || "";
    if (!/\.svg$/.test(src)) return null;
    var xhr = new XMLHttpRequest();
    xhr.open("GET", f.src, false);
    xhr.send();
    if (xhr.status !== 200 || xhr.responseText.indexOf("<text") < 0) return null;
    var root = (xhr.responseText.match(/<svg\b[^>]*>/) || [""])[0];
    var vb = (root.match(/viewBox="([^"]*)"/) || [null, ""])[1].split(/[\s,]+/);
    var userWidth = vb.length === 4 ? parseFloat(vb[2])
                                    : parseFloat((root.match(/width="([0-9.]+)/) || [0, 0])[1]);
    // font-size="12", font-size: 12px, or the shorthand font: [bold] 9px ...
    var fontSize = /font(?:-size)?(?:="|:\s*)(?:(?:normal|italic|oblique|bold|bolder|lighter|[1-9]00)\s+)*([0-9.]+)/g;
    var sizes = [], m;
    while ((m = fontSize.exec(xhr.responseText))) {
      var v = parseFloat(m[1]);
      if (v > 0) sizes.push(v);
    }
    if (!userWidth || !sizes.length) return null;
    return Math.min.apply(null, sizes) * box.width / userWidth;
  }
  document.querySelectorAll("article object, article img").forEach(function (f) {
    var box = f.getBoundingClientRect();
    var ok;
    if (f.tagName === "IMG") {
      ok = f.complete && f.naturalWidth > 0;
    } else {
      var doc = f.contentDocument;
      ok = !!(doc && doc.documentElement && doc.documentElement.nodeName.toLowerCase() === "svg");
    }
    var link = f.closest("a[href]");
    r.figures.push({src: f.getAttribute("src") || f.getAttribute("data"), loaded: ok,
                    width: box.width, height: box.height,
                    smallest_text: ok ? smallestText(f, box) : null,
                    opens: !!link && /\.(svg|png)$/.test(link.getAttribute("href"))});
  });
  document.querySelectorAll("article pre").forEach(function (pre) {
    if (pre.scrollWidth > pre.clientWidth + 1) {
      r.overflow.push({text: pre.textContent.split("\n").reduce(function (a, b) {
        return b.length > a.length ? b : a; }, ""), scroll: pre.scrollWidth, client: pre.clientWidth});
    }
    var bg = background(pre);
    var seen = {};
    [pre].concat(Array.prototype.slice.call(pre.querySelectorAll("span"))).forEach(function (el) {
      if (!el.textContent.trim()) return;
      var color = getComputedStyle(el).color;
      if (seen[color]) return;
      seen[color] = true;
      var c = rgba(color);
      var ratio = c ? contrast(c, bg) : 21;
      if (ratio < 3) {
        r.low_contrast.push({text: el.textContent.slice(0, 40), color: color,
                             background: "rgb(" + bg.r + "," + bg.g + "," + bg.b + ")",
                             ratio: Math.round(ratio * 100) / 100});
      }
    });
  });
  document.documentElement.setAttribute("data-csd-probe", JSON.stringify(r));
});
</script>
"""


class Failures:
    """Collects what went wrong; printed at the end."""

    def __init__(self):
        self.items = []

    def add(self, text):
        self.items.append(text)
        print(f"FAIL {text}", flush=True)


# --- The HTTP server --------------------------------------------------------


class Handler(SimpleHTTPRequestHandler):
    """Serves the site directory under PREFIX, adds PROBE to HTML pages, and
    records every request with its status."""

    log = None  # list of (path, status), set by serve()
    lab_ids = []  # the labs' ids, for the probe's unlinked lab mentions (serve())
    lock = threading.Lock()

    def do_GET(self):  # noqa: N802  (http.server's name)
        path = urllib.parse.urlsplit(self.path).path
        if path.endswith("/"):
            path += "index.html"
        local = self.translate_path(path)
        if path.endswith(".html") and os.path.isfile(local):
            probe = PROBE.replace("__LAB_IDS__", json.dumps(self.lab_ids))
            body = Path(local).read_bytes().replace(b"</body>", probe.encode() + b"</body>", 1)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_request(self, code="-", size="-"):
        with self.lock:
            self.log.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, *args):
        pass


def serve(root: Path, lab_ids=()):
    """Starts the server on a free loopback port; returns (server, log)."""
    log = []
    handler = functools.partial(type("H", (Handler,), {"log": log, "lab_ids": list(lab_ids)}),
                                directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, log


# --- Chromium ---------------------------------------------------------------


class Browser:
    """Runs Chromium; each run takes one of PARALLEL profile directories
    (two instances cannot share one), so that PARALLEL pages load at once."""

    PARALLEL = 2

    def __init__(self, program, profile: Path, timeout):
        self.program = program
        self.timeout = timeout
        self.profiles = queue.Queue()
        for i in range(self.PARALLEL):
            self.profiles.put(profile.with_name(f"{profile.name}-{i}"))

    def run(self, args, dark=False):
        profile = self.profiles.get()
        try:
            return self._run(args, dark, profile)
        finally:
            self.profiles.put(profile)

    def _run(self, args, dark, profile: Path):
        flags = CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]
        if dark:
            flags += ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]
        return subprocess.run(
            [self.program] + flags + args,
            capture_output=True,
            text=True,
            timeout=self.timeout,
        )

    def dom(self, url, dark=False):
        out = self.run(["--virtual-time-budget=10000", "--dump-dom", url], dark)
        if out.returncode != 0:
            raise RuntimeError(f"chromium exit status {out.returncode}: {out.stderr.strip()[-500:]}")
        return out.stdout

    def screenshot(self, url, path: Path, dark=False):
        out = self.run(["--virtual-time-budget=10000", f"--screenshot={path}", url], dark)
        if out.returncode != 0 or not path.exists():
            raise RuntimeError(f"no screenshot of {url}: {out.stderr.strip()[-500:]}")


def probe_of(dom: str):
    m = re.search(r'<html[^>]*\sdata-csd-probe="([^"]*)"', dom)
    if not m:
        return None
    return json.loads(html.unescape(m.group(1)))


# --- Static link check ------------------------------------------------------


class PageParser(html.parser.HTMLParser):
    """The ids of a page and the URLs it refers to."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key) and (key == "id" or tag == "a"):
                self.ids.add(a[key])
        for key in ("href", "src", "data"):
            if a.get(key) and not (tag == "meta"):
                self.urls.append((tag, a[key]))


def parse(path: Path):
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def check_links(site: Path, failures: Failures):
    """Every relative URL of every page resolves, anchors included."""
    pages = {p: parse(p) for p in site.rglob("*.html")}
    count = 0
    for page, parsed in pages.items():
        for tag, url in parsed.urls:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme or parts.netloc or url.startswith(("mailto:", "javascript:", "data:")):
                continue
            count += 1
            where = page.relative_to(site)
            if parts.path.startswith("/"):
                failures.add(f"{where}: absolute URL {url} (breaks under a sub-path)")
                continue
            target = (page.parent / urllib.parse.unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            try:
                target.relative_to(site.resolve())
            except ValueError:
                failures.add(f"{where}: {url} leaves the site")
                continue
            if not target.exists():
                failures.add(f"{where}: broken link {url} ({tag})")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if urllib.parse.unquote(parts.fragment) not in ids:
                    failures.add(f"{where}: {url}: no #{parts.fragment} in {target.relative_to(site.resolve())}")
    print(f"links: {count} internal URLs in {len(pages)} pages checked", flush=True)
    return pages


# --- Main -------------------------------------------------------------------


def dark_pages(site: Path, pages):
    """The pages read in dark mode too: the landing page, then, greedily, the
    page that adds the most kinds of highlighted token (Pygments' span
    classes in the code blocks; plain code text counts as one kind) until
    every kind used by one of @p pages is on a page read."""
    kinds = {}
    for page in pages:
        text = (site / page).read_text(encoding="utf-8")
        found = set()
        for block in re.findall(r'<div class="highlight"><pre>(.*?)</pre>', text, re.S):
            found |= set(re.findall(r'<span class="([^"]+)"', block)) | {"(text)"}
        kinds[page] = found
    chosen = ["index.html"]
    covered = set(kinds.get("index.html", ()))
    while True:
        best = max(pages, key=lambda p: len(kinds[p] - covered))
        if not kinds[best] - covered:
            return chosen
        chosen.append(best)
        covered |= kinds[best]


def find_chromium(given):
    for name in [given] if given else ["chromium", "chromium-browser", "google-chrome"]:
        path = shutil.which(name) if name else None
        if path:
            return path
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", required=True, type=Path)
    ap.add_argument("--grade", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--chromium")
    ap.add_argument("--timeout", type=float, default=30, help="seconds per Chromium run")
    args = ap.parse_args()

    site = args.site.resolve()
    if not (site / "index.html").exists():
        print(f"browser_test.py: no built site in {site}", file=sys.stderr)
        return 1
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("SKIP: no Chromium (apt-get install chromium; ./csd test installs it)")
        return SKIP
    args.out.mkdir(parents=True, exist_ok=True)
    labs = course.read_labs(args.grade)
    failures = Failures()

    with tempfile.TemporaryDirectory(prefix="csd-browser-") as tmp:
        root = Path(tmp, "root")
        root.mkdir()
        os.symlink(site, root / PREFIX.strip("/"))
        browser = Browser(chromium, Path(tmp, "profile"), args.timeout)
        try:
            smoke = browser.run(["--dump-dom", "about:blank"])
        except (OSError, subprocess.TimeoutExpired) as e:
            print(f"SKIP: Chromium cannot run here: {e}")
            return SKIP
        if smoke.returncode != 0 or "<html" not in smoke.stdout:
            print(f"SKIP: Chromium cannot run here (exit status {smoke.returncode}): "
                  f"{smoke.stderr.strip()[-400:]}")
            return SKIP

        server, log = serve(root, [lab.id for lab in labs])
        base = f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
        print(f"serving {site} at {base}", flush=True)
        try:
            pages = ["index.html", "labs/index.html"]
            lab_pages = [f"labs/{lab.id}.html" for lab in labs if (site / "labs" / f"{lab.id}.html").exists()]
            pages += lab_pages
            pages += sorted(p.relative_to(site).as_posix() for p in site.glob("*.html")
                            if p.name not in ("index.html", "genindex.html", "search.html"))

            def load(job):
                page, dark = job
                start = time.monotonic()
                dom = browser.dom(base + page, dark)
                return page, dark, probe_of(dom), time.monotonic() - start

            pages = list(dict.fromkeys(pages))
            in_dark = dark_pages(site, pages)
            print(f"dark mode: {', '.join(in_dark)}", flush=True)
            jobs = [(page, False) for page in pages] + [(page, True) for page in in_dark]
            # Two at once: in the test suite it runs at the lowest priority,
            # on the CPU the grader's tests leave idle (cmake/TestLocks.cmake).
            with concurrent.futures.ThreadPoolExecutor(Browser.PARALLEL) as pool:
                loaded = list(pool.map(load, jobs))
            for page, dark, probe, seconds in loaded:
                mode = "dark" if dark else "light"
                if probe is None:
                    failures.add(f"{page} ({mode}): the page did not finish loading")
                    continue
                if dark and not probe["dark"]:
                    failures.add(f"{page}: Chromium did not switch to dark mode")
                elif probe["page_luminance"] > 0.5 if dark else probe["page_luminance"] < 0.5:
                    failures.add(f"{page} ({mode}): the page's background does not follow the "
                                 f"reader's colour scheme (luminance {probe['page_luminance']:.2f})")
                headings = [h for h in probe["headings"] if h["height"] > 0]
                if not headings:
                    failures.add(f"{page} ({mode}): no heading rendered")
                figures = probe["figures"]
                for f in figures:
                    if not f["loaded"] or f["width"] < 50 or f["height"] < 30:
                        failures.add(f"{page}: figure {f['src']} not rendered ({f})")
                    elif not dark:
                        if f["smallest_text"] is not None and f["smallest_text"] < MIN_TEXT_PX - 0.05:
                            failures.add(f"{page}: figure {f['src']}: text {f['smallest_text']:.1f} px "
                                         f"tall at {WIDTH} px, under {MIN_TEXT_PX} px")
                        if not f["opens"]:
                            failures.add(f"{page}: figure {f['src']} does not open full size "
                                         "on click (no link to the image around it)")
                if figures and not dark:
                    sizes = [f["smallest_text"] for f in figures if f["smallest_text"] is not None]
                    if sizes:
                        print(f"{page}: smallest figure text {min(sizes):.1f} px", flush=True)
                if page in lab_pages and len(figures) < 2:
                    failures.add(f"{page}: {len(figures)} figure(s); a lab page has at least two")
                for o in probe["overflow"]:
                    failures.add(f"{page}: code line wider than its box at {WIDTH} px "
                                 f"({o['scroll']} > {o['client']} px): {o['text']!r}")
                if not dark:
                    for u in probe["unlinked"]:
                        failures.add(f"{page}: an unlinked {u}")
                for c in probe["low_contrast"]:
                    failures.add(f"{page} ({mode}): code hard to read, contrast {c['ratio']}: "
                                 f"{c['text']!r} {c['color']} on {c['background']}")
                print(f"{page} ({mode}): {len(headings)} headings, {len(figures)} figures "
                      f"({seconds:.1f} s)", flush=True)

            shots = [("landing", "index.html", False)]
            if lab_pages:
                lab_page = "labs/select.html" if "labs/select.html" in lab_pages else lab_pages[0]
                shots += [("lab", lab_page, False), ("lab-dark", lab_page, True)]
            for name, page, dark in shots:
                path = args.out / f"{name}.png"
                path.unlink(missing_ok=True)
                browser.screenshot(base + page, path, dark)
                print(f"screenshot: {path}", flush=True)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            failures.add(str(e))
        finally:
            server.shutdown()

    requests = 0
    for path, status in log:
        requests += 1
        if not path.startswith(PREFIX):
            failures.add(f"request outside the site's sub-path: {path} ({status})")
        elif status >= 400:
            failures.add(f"request failed: {path} ({status})")
    print(f"requests: {requests} made by the browser", flush=True)

    parsed = check_links(site, failures)
    for lab in labs:
        page = site / "labs" / f"{lab.id}.html"
        if not lab.ready:
            continue
        if page not in parsed:
            failures.add(f"lab {lab.id}: no page labs/{lab.id}.html")
            continue
        # The section the grader's "see:" line points at (grader/grade/report.cpp).
        if "what-usually-goes-wrong" not in parsed[page].ids:
            failures.add(f"labs/{lab.id}.html: no #what-usually-goes-wrong, where the grader's hints point")
        for check in lab.checks:
            if f"check-{check.id}" not in parsed[page].ids:
                failures.add(f"labs/{lab.id}.html: check {check.id} has no row #check-{check.id}")

    if failures.items:
        print(f"browser_test.py: {len(failures.items)} failure(s)")
        return 1
    print("browser_test.py: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
