"""Where a tagger goes wrong: its most frequent confusions with the words behind them, accuracy
per tag on known and unseen words, and the tokens one checkpoint gets right and another wrong.

evaluate.py writes these as ``errors.md`` and ``errors.csv`` in the run directory.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from postag.data.corpus import Sentence


@dataclass(frozen=True)
class Token:
    """One tagged token: where it is, its gold and predicted tags, and whether training saw the word."""

    sentence: int
    position: int
    word: str
    gold: str
    predicted: str
    known: bool

    @property
    def correct(self) -> bool:
        return self.gold == self.predicted


def tagged_tokens(sentences: Sequence[Sentence], predictions: Sequence[Sequence[str]], known_words) -> list[Token]:
    """Every token of ``sentences`` with its predicted tag; ``known_words``: the training vocabulary."""
    if len(sentences) != len(predictions):
        raise ValueError(f"{len(sentences)} sentences but {len(predictions)} predicted sentences")
    return [
        Token(i, j, word, gold, predicted, word in known_words)
        for i, ((words, tags), sentence_predictions) in enumerate(zip(sentences, predictions))
        for j, (word, gold, predicted) in enumerate(zip(words, tags, sentence_predictions))
    ]


def context(sentences: Sequence[Sentence], token: Token, width: int = 4) -> str:
    """The words around ``token``, the token itself in brackets: 'the [old] man the boats'."""
    words = sentences[token.sentence][0]
    start, end = max(0, token.position - width), min(len(words), token.position + width + 1)
    shown = [f"[{w}]" if k == token.position else w for k, w in enumerate(words[start:end], start)]
    return ("... " if start > 0 else "") + " ".join(shown) + (" ..." if end < len(words) else "")


def confusion_groups(
    errors: Sequence[Token], support: Counter, sentences: Sequence[Sentence], top: int = 20, words: int = 5
) -> list[dict]:
    """The ``top`` most frequent (gold, predicted) pairs among ``errors``: count, share of the gold
    tag's tokens (``support``: tokens per gold tag), the ``words`` words most often involved and a
    context of the first of them."""
    by_pair: dict[tuple[str, str], list[Token]] = defaultdict(list)
    for token in errors:
        by_pair[token.gold, token.predicted].append(token)
    ranked = sorted(by_pair.items(), key=lambda item: (-len(item[1]), item[0]))[:top]
    groups = []
    for (gold, predicted), tokens in ranked:
        word_counts = Counter(t.word for t in tokens).most_common(words)
        example = next(t for t in tokens if t.word == word_counts[0][0])
        groups.append(
            {
                "gold": gold,
                "predicted": predicted,
                "count": len(tokens),
                "share_of_gold": len(tokens) / support[gold],
                "words": word_counts,
                "example": context(sentences, example),
            }
        )
    return groups


def known_unseen_rows(tokens: Sequence[Token]) -> list[dict]:
    """Per gold tag, most frequent first: tokens and accuracy on known words and on unseen words
    (accuracy None where the tag has no such token)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for t in tokens:
        kind = "known" if t.known else "unseen"
        counts[t.gold][kind] += 1
        counts[t.gold][f"{kind}_correct"] += t.correct
    rows = []
    for tag, c in sorted(counts.items(), key=lambda item: (-(item[1]["known"] + item[1]["unseen"]), item[0])):
        row = {"tag": tag}
        for kind in ("known", "unseen"):
            row[kind] = c[kind]
            row[f"{kind}_accuracy"] = c[f"{kind}_correct"] / c[kind] if c[kind] else None
        rows.append(row)
    return rows


@dataclass
class ErrorReport:
    """What errors.md and errors.csv hold: sections of confusion groups, and the per-tag rows."""

    title: str
    sections: dict[str, list[dict]]  # section name -> confusion groups
    per_tag: list[dict]


def error_report(tokens: Sequence[Token], sentences: Sequence[Sentence], title: str, top: int = 20) -> ErrorReport:
    support = Counter(t.gold for t in tokens)
    errors = [t for t in tokens if not t.correct]
    groups = confusion_groups(errors, support, sentences, top)
    return ErrorReport(title, {"Most frequent confusions": groups}, known_unseen_rows(tokens))


def add_comparison(
    report: ErrorReport, a: Sequence[Token], b: Sequence[Token], sentences: Sequence[Sentence], top: int = 20
) -> None:
    """The tokens A (the report's tagger) gets right and B wrong, grouped by gold tag and B's
    prediction, and the other way round; ``a`` and ``b`` tag the same sentences."""
    if [(t.sentence, t.position) for t in a] != [(t.sentence, t.position) for t in b]:
        raise ValueError("the two taggers' tokens are not the same tokens")
    support = Counter(t.gold for t in a)
    b_only = [tb for ta, tb in zip(a, b) if ta.correct and not tb.correct]
    a_only = [ta for ta, tb in zip(a, b) if tb.correct and not ta.correct]
    sections = report.sections
    for name, tokens in ((f"A right, B wrong ({len(b_only)} tokens; B's tag shown)", b_only),
                         (f"B right, A wrong ({len(a_only)} tokens; A's tag shown)", a_only)):
        sections[name] = confusion_groups(tokens, support, sentences, top)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _words(group: dict) -> str:
    return ", ".join(f"{w} ({n})" for w, n in group["words"])


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def format_error_report(report: ErrorReport) -> str:
    lines = [f"# {report.title}", ""]
    for name, groups in report.sections.items():
        lines += [f"## {name}", "", "| gold | predicted | count | share of gold | words | example |"]
        lines.append("|---|---|---:|---:|---|---|")
        if not groups:
            lines[-2:] = ["None."]
        for g in groups:
            lines.append(
                f"| {_md(g['gold'])} | {_md(g['predicted'])} | {g['count']} | {_percent(g['share_of_gold'])}% "
                f"| {_md(_words(g))} | {_md(g['example'])} |"
            )
        lines.append("")
    lines += [
        "## Accuracy per tag, known and unseen words",
        "",
        "Unseen: words the training data never had (`<unk>` to the model).",
        "",
        "| tag | known | known accuracy | unseen | unseen accuracy |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in report.per_tag:
        known, unseen = _percent(r["known_accuracy"]), _percent(r["unseen_accuracy"])
        lines.append(f"| {_md(r['tag'])} | {r['known']} | {known} | {r['unseen']} | {unseen} |")
    return "\n".join(lines) + "\n"


CSV_FIELDS = ("section", "gold", "predicted", "count", "share_of_gold", "words", "example")


def write_error_csv(report: ErrorReport, path: str | Path) -> None:
    """One row per confusion group, the section named in the first column."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for name, groups in report.sections.items():
            for g in groups:
                writer.writerow({**g, "section": name, "words": _words(g)})


def write_error_report(report: ErrorReport, output_dir: str | Path) -> None:
    output_dir = Path(output_dir)
    (output_dir / "errors.md").write_text(format_error_report(report))
    write_error_csv(report, output_dir / "errors.csv")
