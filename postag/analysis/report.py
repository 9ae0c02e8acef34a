"""Per-tag reports: tables (Markdown, CSV, console) and comparisons of two runs.

A row is a dict with tag, support, accuracy, precision, recall, f1. A tag with no
occurrence in the data has support 0 and accuracy/recall/f1 None ("absent"):
torchmetrics would report 0.0 for it, which reads as "always wrong".
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch

FIELDS = ("tag", "support", "accuracy", "precision", "recall", "f1")
# The label class of every gold tag the training data never had (one past the model's tags)
UNSEEN_TAGS = "<not in training>"


def tag_row(name: str, support: int, predicted: int, correct: float) -> dict:
    """One tag's row (FIELDS) from its gold count, predicted count and right predictions."""
    recall = correct / support if support else None  # per-tag accuracy: the share of this tag's tokens tagged right
    precision = correct / predicted if predicted else None  # undefined when the tag is never predicted
    if recall is None:
        f1 = None
    elif precision is None or precision + recall == 0:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return {"tag": name, "support": support, "accuracy": recall, "precision": precision, "recall": recall, "f1": f1}


def per_tag_rows(confusion: torch.Tensor, tag_names: list[str]) -> list[dict]:
    """Per-tag figures from a confusion matrix (rows = true tags, columns = predicted)."""
    confusion = confusion.double()
    support = confusion.sum(dim=1)
    predicted = confusion.sum(dim=0)
    correct = confusion.diagonal()
    return [
        tag_row(name, int(support[i]), int(predicted[i]), float(correct[i])) for i, name in enumerate(tag_names)
    ]


def with_unseen_tags(rows: list[dict], unseen: dict[str, int]) -> list[dict]:
    """``rows`` with the UNSEEN_TAGS class replaced by a row for each such tag and its count:
    never predicted, so accuracy 0, and marked as not in training."""
    kept = [r for r in rows if r["tag"] != UNSEEN_TAGS]
    return kept + [
        {"tag": f"{tag} (not in training)", "support": n, "accuracy": 0.0, "precision": None, "recall": 0.0, "f1": 0.0}
        for tag, n in sorted(unseen.items())
    ]


def worst_first(rows: list[dict]) -> list[dict]:
    """Lowest accuracy first, ties by larger support; absent tags last."""
    return sorted(rows, key=lambda r: (r["accuracy"] is None, r["accuracy"] or 0.0, -r["support"]))


def _fmt(value: float | None, absent: str = "absent") -> str:
    return absent if value is None else f"{value:.4f}"


def per_tag_cells(row: dict) -> list[str]:
    """accuracy, precision, recall, F1 as printed: 'absent' for a tag not in the data, '-' for a precision never defined."""
    return [_fmt(row["accuracy"]), _fmt(row["precision"], "-"), _fmt(row["recall"]), _fmt(row["f1"])]


def format_per_tag_table(rows: list[dict]) -> str:
    """Markdown table, worst tags first; absent tags are written as 'absent'."""
    lines = ["| tag | support | accuracy | precision | recall | F1 |", "|---|---:|---:|---:|---:|---:|"]
    for row in worst_first(rows):
        lines.append(f"| {row['tag']} | {row['support']} | " + " | ".join(per_tag_cells(row)) + " |")
    return "\n".join(lines) + "\n"


def write_per_tag_csv(rows: list[dict], path: str | Path) -> None:
    """CSV with the same rows; an absent value is an empty cell."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for row in worst_first(rows):
            writer.writerow({k: ("" if row[k] is None else row[k]) for k in FIELDS})


def compare_rows(ours: list[dict], theirs: list[dict]) -> list[dict]:
    """Per-tag accuracy of two runs on the same data, largest gain of ``ours`` first.

    Each row: tag, support, a (accuracy of ``ours``), b (of ``theirs``), delta = a - b
    (None where the tag is absent from the data).
    """
    theirs_by_tag = {r["tag"]: r for r in theirs}
    rows = []
    for row in ours:
        other = theirs_by_tag.get(row["tag"])
        b = other["accuracy"] if other else None
        a = row["accuracy"]
        rows.append(
            {"tag": row["tag"], "support": row["support"], "a": a, "b": b,
             "delta": None if a is None or b is None else a - b}
        )
    return sorted(rows, key=lambda r: (r["delta"] is None, -(r["delta"] or 0.0), -r["support"]))


def comparison_cells(row: dict) -> list[str]:
    """A and B in % ('absent' where the tag is not in the data) and A - B in points."""
    cells = ["absent" if row[k] is None else f"{100 * row[k]:.2f}" for k in ("a", "b")]
    return cells + ["-" if row["delta"] is None else f"{100 * row['delta']:+.2f}"]


def overall_difference(overall: tuple[float, float], sep: str = ", ") -> str:
    a, b = overall
    return f"A {100 * a:.2f}{sep}B {100 * b:.2f}{sep}A - B {100 * (a - b):+.2f} points"


def format_comparison(rows: list[dict], names: tuple[str, str], overall: tuple[float, float]) -> str:
    """Markdown: per-tag accuracy of A and B (in %) and A - B, largest gain first."""
    lines = [
        f"A: `{names[0]}`  ",
        f"B: `{names[1]}`",
        "",
        f"Overall (micro) accuracy: {overall_difference(overall)}.",
        "",
        "| tag | support | A | B | A - B |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['tag']} | {r['support']} | " + " | ".join(comparison_cells(r)) + " |")
    return "\n".join(lines) + "\n"


def write_comparison_csv(rows: list[dict], path: str | Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=("tag", "support", "a", "b", "delta"))
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if r[k] is None else r[k]) for k in ("tag", "support", "a", "b", "delta")})


def per_tag_of_test(model, datamodule) -> list[dict]:
    """The per-tag rows of the last test, with a row for each gold tag training never had."""
    return with_unseen_tags(model.per_tag["test"], datamodule.unseen_tags.get("test", {}))


def write_reports(
    output_dir: str | Path, metrics: dict, per_tag: list[dict] | None, prefix: str = "test",
    columns: dict[str, list[dict]] | None = None,
) -> None:
    """metrics.json and the per-tag table (Markdown and CSV) in the run directory; also each of
    ``columns`` (name -> rows: a joint tag's columns, span types) as ``{prefix}_{name}_per_tag.md`` and .csv."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    if per_tag is not None:
        (output_dir / f"{prefix}_per_tag.md").write_text(format_per_tag_table(per_tag))
        write_per_tag_csv(per_tag, output_dir / f"{prefix}_per_tag.csv")
    for name, rows in (columns or {}).items():
        (output_dir / f"{prefix}_{name}_per_tag.md").write_text(format_per_tag_table(rows))
        write_per_tag_csv(rows, output_dir / f"{prefix}_{name}_per_tag.csv")


def print_per_tag(rows: list[dict], title: str) -> None:
    """The per-tag table on the console, worst tags first, absent tags last."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("tag")
    for column in ("support", "accuracy", "precision", "recall", "F1"):
        table.add_column(column, justify="right")
    for row in worst_first(rows):
        table.add_row(row["tag"], str(row["support"]), *per_tag_cells(row))
    Console().print(table)


def print_comparison(rows: list[dict], names: tuple[str, str], overall: tuple[float, float], title: str) -> None:
    """Per-tag accuracy of two checkpoints and the difference, largest gain of A first."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, caption=f"A: {names[0]}   B: {names[1]}")
    table.add_column("tag")
    for column in ("support", "A", "B", "A - B"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r["tag"], str(r["support"]), *comparison_cells(r))
    console = Console()
    console.print(table)
    console.print(f"overall accuracy: {overall_difference(overall, sep='  ')}")
