#!/usr/bin/env python3
"""Draws docs/waiting-room-sim.png from docs/waiting-room-sim-data.csv (written by
`resetgate-bench waiting-room`).

Top: users served per second, per strategy (10-second moving average).
Bottom: the backlog (arrived, neither served nor gone), per strategy.

Usage: python3 docs/plot_waiting_room.py [CSV] [PNG]   (defaults: beside this script)
"""

import csv
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # no display needed: the output is a file
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
COLOURS = {"ticket": "tab:blue", "every-second": "tab:red", "backoff": "tab:orange"}


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "waiting-room-sim-data.csv")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "waiting-room-sim.png")
    served = defaultdict(list)
    backlog = defaultdict(list)
    with open(src, newline="") as f:
        for row in csv.DictReader(f):
            served[row["strategy"]].append(int(row["completions"]))
            backlog[row["strategy"]].append(int(row["backlog"]))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for name, per_sec in served.items():
        avg = [sum(per_sec[max(0, i - 9): i + 1]) / len(per_sec[max(0, i - 9): i + 1]) for i in range(len(per_sec))]
        top.plot(avg, label=name, color=COLOURS.get(name))
        bottom.plot(backlog[name], label=name, color=COLOURS.get(name))
    top.set_ylabel("served per second (10 s average)")
    top.legend()
    top.grid(alpha=0.3)
    bottom.set_ylabel("not yet served (incl. gave up)")
    bottom.set_xlabel("seconds since the breach email")
    bottom.grid(alpha=0.3)
    fig.suptitle("Waiting room: goodput and backlog per retry strategy")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
