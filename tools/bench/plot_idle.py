#!/usr/bin/python3
"""plot_idle.py: draws the cost plot of the select, poll and epoll handouts.

    tools/bench/plot_idle.py [CSV [SVG]]
        (default: docs/figures/idle-cost.csv -> docs/figures/idle-cost.svg)

CSV is what `CSV=FILE tools/bench/idle_conns.sh` writes: comment lines (#)
saying how and where it was measured, then `server,idle,us_per_reply` rows.
The plot has one line per server: µs of server CPU per reply (y) against
the number of idle connections held open (x), both on log scales, and the
CSV's "Measured ..." and "Note: ..." comment lines as its footnote. Needs Debian's python3-matplotlib.
`./csd bench --plot` measures and then runs this.
"""

import csv
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import FuncFormatter  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent
STYLES = {
    "select": dict(color="#d62728", marker="o"),
    "poll": dict(color="#ff7f0e", marker="s"),
    "epoll (LT)": dict(color="#1f77b4", marker="^"),
    "epoll -e (ET)": dict(color="#2ca02c", marker="v", linestyle="--"),
}


def read(path: Path):
    """(notes, {server: [(idle, µs per reply)]}) from the CSV."""
    notes, series = [], defaultdict(list)
    with path.open(encoding="utf-8") as f:
        rows = []
        for line in f:
            if line.startswith("#"):
                notes.append(line[1:].strip())
            elif line.strip():
                rows.append(line)
    for row in csv.DictReader(rows):
        series[row["server"]].append((int(row["idle"]), float(row["us_per_reply"])))
    if not series:
        raise SystemExit(f"plot_idle.py: no measurement in {path}")
    return notes, series


def plot(notes, series, out: Path):
    # Reproducible SVG: the same CSV gives the same file.
    plt.rcParams["svg.hashsalt"] = "csdesign"
    # Text stays text (small, searchable; the browser draws it).
    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["font.size"] = 10
    fig, ax = plt.subplots(figsize=(7.5, 4.6), facecolor="white")
    for server, points in series.items():
        points.sort()
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        ax.plot(xs, ys, label=server, linewidth=1.8, markersize=5, **STYLES.get(server, {}))
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:,.0f}")
    ax.xaxis.set_major_formatter(plain)
    ax.yaxis.set_major_formatter(plain)
    ax.set_xlabel("idle connections held open")
    ax.set_ylabel("server CPU per reply (µs)")
    ax.set_title("What idle connections cost each wakeup")
    ax.grid(True, which="major", linewidth=0.6, alpha=0.5)
    ax.grid(True, which="minor", linewidth=0.3, alpha=0.3)
    ax.legend(loc="upper left")
    footnote = [n for n in notes if n.startswith(("Measured", "Note"))]
    fig.text(0.01, 0.01, "\n".join(footnote), fontsize=7, color="#555555", va="bottom")
    fig.tight_layout(rect=(0, 0.025 * (1 + len(footnote)), 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="svg", metadata={"Date": None})
    plt.close(fig)
    # No trailing blanks: the SVG is committed, and diffs stay clean.
    lines = out.read_text(encoding="utf-8").splitlines()
    out.write_text("\n".join(line.rstrip() for line in lines) + "\n", encoding="utf-8")


def main(argv):
    if len(argv) > 3 or any(a in ("-h", "--help") for a in argv[1:]):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source = Path(argv[1]) if len(argv) > 1 else ROOT / "docs/figures/idle-cost.csv"
    out = Path(argv[2]) if len(argv) > 2 else source.with_suffix(".svg")
    notes, series = read(source)
    plot(notes, series, out)
    print(f"plot_idle.py: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
