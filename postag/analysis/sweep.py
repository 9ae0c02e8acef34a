"""Summarise a Hydra multirun: `python -m postag.analysis.sweep DIR` writes summary.md and summary.csv there.

Each job directory holds `.hydra/overrides.yaml` and `metrics.json` (written by train.py).
Jobs that differ only in their seed are grouped, with the mean and standard deviation.
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path

import yaml

COLUMNS = ("val/acc_best", "test/acc", "test/acc_known", "test/acc_oov", "train_seconds")


def read_jobs(sweep_dir: Path) -> list[dict]:
    jobs = []
    for job_dir in sorted((p for p in sweep_dir.iterdir() if (p / "metrics.json").is_file()), key=lambda p: p.name):
        overrides = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
        metrics = json.loads((job_dir / "metrics.json").read_text())
        jobs.append({"job": job_dir.name, "overrides": overrides, **{c: metrics.get(c) for c in COLUMNS}})
    return jobs


def group_by_config(jobs: list[dict]) -> list[dict]:
    """Jobs grouped by their overrides, leaving out the seed and overrides every job shares."""
    shared = set.intersection(*(set(job["overrides"]) for job in jobs))
    groups: dict[str, list[dict]] = {}
    for job in jobs:
        key = " ".join(o for o in job["overrides"] if not o.startswith("seed=") and o not in shared)
        groups.setdefault(key, []).append(job)
    rows = []
    for key, members in groups.items():
        row = {"config": key or "(defaults)", "runs": len(members)}
        for column in COLUMNS:
            values = [m[column] for m in members if m[column] is not None]
            row[column] = (statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0) if values else None
        rows.append(row)
    return rows


def _cell(value, column) -> str:
    if value is None:
        return "-"
    mean, std = value
    if column == "train_seconds":
        return f"{mean:.0f} ± {std:.0f}"
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def summarize(sweep_dir: str | Path) -> str:
    sweep_dir = Path(sweep_dir)
    jobs = read_jobs(sweep_dir)
    if not jobs:
        raise FileNotFoundError(f"{sweep_dir}: no job directories with metrics.json")
    with open(sweep_dir / "summary.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["job", "overrides", *COLUMNS])
        for job in jobs:
            writer.writerow([job["job"], " ".join(job["overrides"]), *(job[c] for c in COLUMNS)])
    header = "| config | runs | " + " | ".join(COLUMNS) + " |"
    lines = [header, "|---|---:|" + "---:|" * len(COLUMNS)]
    for row in group_by_config(jobs):
        lines.append(f"| {row['config']} | {row['runs']} | " + " | ".join(_cell(row[c], c) for c in COLUMNS) + " |")
    table = "\n".join(lines) + "\n\nAccuracies in %, mean ± standard deviation over the runs (seeds) of each config.\n"
    (sweep_dir / "summary.md").write_text(table)
    return table


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m postag.analysis.sweep SWEEP_DIR")
    print(summarize(sys.argv[1]))
