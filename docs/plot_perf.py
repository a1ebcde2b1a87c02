#!/usr/bin/env python3
"""Draws docs/perf.png from docs/perf-data.csv (written by `resetgate-bench loadtest`).

One line per series (pool, unbounded, and any --extra-pool build).
Left: goodput / C against offered load / C, with the ideal min(load, 1).
Right: p50 and p99 latency of admitted (200) requests against offered load, log scale.

Usage: python3 docs/plot_perf.py [CSV] [PNG]   (defaults: beside this script)
"""

import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed: the output is a file
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STYLE = {"pool": ("tab:blue", "o"), "unbounded": ("tab:red", "s")}
EXTRA = [("tab:green", "^"), ("tab:purple", "D"), ("tab:orange", "v"), ("tab:brown", "P")]


def number(text):
    """A CSV cell as a float, or None when the value does not exist (empty cell)."""
    return float(text) if text not in ("", None) else None


def read(path):
    """Rows grouped by series (in file order), each sorted by the offered multiplier."""
    groups = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            groups.setdefault(row.get("series") or row["mode"], []).append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: float(r["multiplier"]))
    return groups


def styles(names):
    """Fixed colours for the two main series, a cycle for the others."""
    extra = iter(EXTRA * 3)
    return {n: STYLE.get(n) or next(extra) for n in names}


def series(rows, column):
    points = [(float(r["multiplier"]), number(r[column])) for r in rows]
    points = [(x, y) for x, y in points if y is not None]
    return [x for x, _ in points], [y for _, y in points]


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "perf-data.csv")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "perf.png")
    series_rows = read(src)
    if not series_rows:
        sys.exit(f"{src}: no rows")
    first = next(iter(series_rows.values()))[0]
    capacity = float(first["capacity_rps"])
    budget = float(first["queue_budget_ms"])

    fig, (good, lat) = plt.subplots(1, 2, figsize=(12, 6))
    loads = sorted({float(r["multiplier"]) for rows in series_rows.values() for r in rows})
    good.plot(loads, [min(x, 1.0) for x in loads], color="grey", linestyle=":", label="ideal min(load, 1)")
    good.axhline(0.9, color="grey", linewidth=0.8, linestyle="--", label="target 0.9 C (0.95 C at 1x)")
    style = styles(series_rows)
    for name, rows in series_rows.items():
        color, marker = style[name]
        x, y = series(rows, "goodput_ratio")
        good.plot(x, y, color=color, marker=marker, label=name)
        for column, dash, stat in (("ok_p50_ms", "-", "p50"), ("ok_p99_ms", "--", "p99")):
            x, y = series(rows, column)
            lat.plot(x, y, color=color, marker=marker, linestyle=dash, label=f"{name} {stat}")
    good.set(xscale="log", xlabel="offered load / C", ylabel="goodput / C",
             title=f"Goodput (C = {capacity:.1f} logins/s)")
    good.set_ylim(bottom=0)
    hash_ms = float(first["workers"]) / capacity * 1e3  # one hash while all W workers run
    lat.axhline(budget, color="grey", linewidth=0.8, linestyle="--", label=f"queue budget {budget:.0f} ms")
    lat.axhline(budget + 2 * hash_ms, color="black", linewidth=0.8, linestyle=":",
                label=f"target p99 at 10x: budget + 2 hash times ({budget + 2 * hash_ms:.0f} ms)")
    lat.set(xscale="log", yscale="log", xlabel="offered load / C", ylabel="latency of 200s (ms)",
            title="Admitted latency, from scheduled send")
    for ax in (good, lat):
        ax.set_xticks(loads)
        ax.set_xticklabels([f"{x:g}x" for x in loads])
        ax.grid(True, which="both", alpha=0.3)
        # Below the axes: inside, the legend would hide the baseline's lines.
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
