#!/usr/bin/python3
"""plot_designs.py: draws the plots and the table of the design comparison.

    tools/bench/plot_designs.py CSV DIR [JSON]

CSV is what `csd-bench --csv` writes (one row per server and profile).
Writes into DIR:
  designs-cpu.png, designs-cpu.svg            server CPU per connection of
                                              each design (profiles unp and
                                              concurrent);
  designs-overhead.png, designs-overhead.svg  CPU per connection over the
                                              iterative server's (profile unp);
  designs-table.md                            one row per server (MyST table),
                                              and, with JSON (`csd-bench
                                              --json`), the date, machine and
                                              load of the run above it.
csd-bench --plots DIR runs this. Needs Debian's python3-matplotlib.
"""

import csv
import json
import math
import sys
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

COLORS = {"unp": "#1f77b4", "concurrent": "#ff7f0e", "bulk": "#2ca02c"}


def number(text):
    """A float from a CSV field; NaN when empty."""
    return float(text) if text not in ("", None) else math.nan


def read(path: Path):
    """({(server, profile): row}, [servers in order]) from the CSV."""
    rows, servers = {}, []
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows[(row["server"], row["profile"])] = row
            if row["server"] not in servers:
                servers.append(row["server"])
    if not rows:
        raise SystemExit(f"plot_designs.py: no row in {path}")
    return rows, servers


def style():
    plt.rcParams["svg.hashsalt"] = "csdesign"  # the same CSV gives the same SVG
    plt.rcParams["svg.fonttype"] = "none"  # text stays text
    plt.rcParams["font.size"] = 10


def save(fig, out_dir: Path, stem: str):
    fig.tight_layout()
    fig.savefig(out_dir / f"{stem}.svg", metadata={"Date": None})
    fig.savefig(out_dir / f"{stem}.png", dpi=110, metadata={"Software": None})
    plt.close(fig)


def plot_cpu(rows, servers, out_dir: Path):
    profiles = [p for p in ("unp", "concurrent") if any((s, p) in rows for s in servers)]
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(servers) + 1.6), facecolor="white")
    height = 0.8 / max(len(profiles), 1)
    bars = []
    for k, profile in enumerate(profiles):
        ys, xs = [], []
        for i, server in enumerate(servers):
            row = rows.get((server, profile))
            if row and number(row["cpu_per_conn_us"]) > 0:
                ys.append(i + (k - (len(profiles) - 1) / 2) * height)
                xs.append(number(row["cpu_per_conn_us"]))
        connections = next(rows[(s, profile)]["connections"] for s in servers if (s, profile) in rows)
        bars.append((profile, ys, xs, connections))
    values = [x for _, _, xs, _ in bars for x in xs]
    # A log axis: a process per connection costs several times what the
    # cheap designs cost, which a linear axis squeezes against zero. The
    # bars start a little left of the cheapest (a log axis has no zero).
    low = min(values) / 1.6 if values else 1
    for profile, ys, xs, connections in bars:
        ax.barh(ys, [x - low for x in xs], left=low, height=height, color=COLORS[profile],
                label=f"{profile} ({connections} connections)")
    ax.set_xscale("log")
    ax.set_xlim(low, max(values) * 1.25 if values else 10)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
        lambda v, _: f"{v:g}" if str(int(v))[0] in "25" else ""))
    ax.set_yticks(range(len(servers)))
    ax.set_yticklabels(servers)
    ax.invert_yaxis()
    ax.set_xlabel("server CPU per connection, µs (log scale)")
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    save(fig, out_dir, "designs-cpu")


def plot_overhead(rows, servers, out_dir: Path):
    names, values = [], []
    for server in servers:
        row = rows.get((server, "unp"))
        if row and not math.isnan(number(row["overhead_vs_iterative"])):
            names.append(server)
            values.append(number(row["overhead_vs_iterative"]))
    if not names:
        return
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(names) + 1.4), facecolor="white")
    low = min(min(values) * 0.8, 0.5)
    ax.barh(range(len(names)), [v - low for v in values], left=low,
            color=["#d62728" if v >= 2 else "#1f77b4" for v in values])
    ax.axvline(1.0, color="black", linewidth=0.8)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:.2f}×", va="center")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.set_xlabel("CPU per connection / the iterative server's (unp, log scale; 1 = no overhead)")
    ax.set_xlim(low, max(values) * 1.6)
    ax.grid(axis="x", which="both", alpha=0.3)
    save(fig, out_dir, "designs-overhead")


def cell(row, column, digits):
    if row is None:
        return ""
    value = number(row[column])
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def table(rows, servers, run, out_dir: Path):
    lines = []
    if run:
        lines.append(
            f"Measured {run.get('date', '?')} on {run.get('cpu', '?')} ({run.get('cpus', '?')} CPUs,"
            f" {run.get('kernel', '?')}), load average {run.get('load_average_before', '?')}"
            f" before and {run.get('load_average_after', '?')} after the run; medians of"
            f" {run.get('repeat', '?')} runs; {run.get('seconds', 0):.0f} s in all.\n")
    lines += [
        "| server | unp µs/conn | × iter. | + µs/conn | concurrent µs/conn | × iter."
        " | bulk ms/conn | RSS MiB |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    failures = []
    for server in servers:
        unp, conc, bulk = (rows.get((server, p)) for p in ("unp", "concurrent", "bulk"))
        present = [r for r in (unp, conc, bulk) if r]
        if not present:
            continue
        name = server
        if unp and unp["client_bound"] == "1":
            name += " \\*"
        if any(r["count_only"] == "1" for r in present):
            name += " †"
        failed = sum(int(r["failed"]) for r in present)
        if failed:
            note = next((r["note"] for r in present if r["note"]), "")
            failures.append(f"- {server}: {failed} connections failed ({note})")
        rss = max(number(r["peak_rss_kib"]) for r in present) / 1024
        bulk_ms = f"{number(bulk['cpu_per_conn_us']) / 1000:,.1f}" if bulk else ""
        lines.append(
            f"| {name} | {cell(unp, 'cpu_per_conn_us', 1)} | {cell(unp, 'overhead_vs_iterative', 2)}"
            f" | {cell(unp, 'overhead_us_per_conn', 1)}"
            f" | {cell(conc, 'cpu_per_conn_us', 1)} | {cell(conc, 'overhead_vs_iterative', 2)}"
            f" | {bulk_ms} | {rss:.1f} |")
    lines.append("")
    lines.append("\\* client-bound under unp (the client used more CPU than the server);"
                 " † count-only (reply content not checked); + µs/conn: the difference with the"
                 " iterative server (UNP's process control); bulk: server CPU per 64 MiB reply;"
                 " RSS: the largest single process. Connections/s and latencies are in the CSV.")
    if failures:
        lines += ["", "Failures:", ""] + failures
    (out_dir / "designs-table.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv):
    if len(argv) not in (3, 4):
        raise SystemExit(__doc__)
    rows, servers = read(Path(argv[1]))
    out_dir = Path(argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    run = json.loads(Path(argv[3]).read_text(encoding="utf-8"))["run"] if len(argv) == 4 else None
    style()
    plot_cpu(rows, servers, out_dir)
    plot_overhead(rows, servers, out_dir)
    table(rows, servers, run, out_dir)


if __name__ == "__main__":
    main(sys.argv)
