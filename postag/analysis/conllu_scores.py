"""A tagged CoNLL-U file scored against the gold one, column by column, as the CoNLL 2018 shared
task's evaluation script scores them with gold tokenisation (both files have the same words):

- UPOS, XPOS: the tag;
- UFeats: the universal features only (``UNIVERSAL_FEATURES``), in any order;
- AllTags: UPOS, XPOS and UFeats all right;
- Lemmas: the lemma, where the gold one is ``_`` any lemma counts as right.

``postag score GOLD SYSTEM [--train TRAIN]`` prints the table; with the training file, also
known and unseen words apart (a word is known when its form occurs in the training file).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from postag.data.conllu import COLUMNS, FORM, parse
from postag.data.corpus import numbered_lines
from postag.errors import InputError

# The features of the UD guidelines that the shared task's UFeats counts; others (language-specific) are left out
UNIVERSAL_FEATURES = frozenset({
    "PronType", "NumType", "Poss", "Reflex", "Foreign", "Abbr", "Gender", "Animacy", "Number", "Case", "Definite",
    "Degree", "VerbForm", "Mood", "Tense", "Aspect", "Voice", "Evident", "Polarity", "Person", "Polite",
})
METRICS = ("UPOS", "XPOS", "UFeats", "AllTags", "Lemmas")
LEMMA, UPOS, XPOS, FEATS = (COLUMNS.index(name) for name in ("LEMMA", "UPOS", "XPOS", "FEATS"))


def universal_features(feats: str) -> str:
    return "|".join(sorted(f for f in feats.split("|") if f.split("=", 1)[0] in UNIVERSAL_FEATURES))


def word_scores(gold: list[str], system: list[str]) -> dict[str, bool]:
    """Which metrics one word gets right; ``gold`` and ``system``: its CoNLL-U cells."""
    ufeats = universal_features(gold[FEATS]) == universal_features(system[FEATS])
    upos, xpos = gold[UPOS] == system[UPOS], gold[XPOS] == system[XPOS]
    return {
        "UPOS": upos, "XPOS": xpos, "UFeats": ufeats, "AllTags": upos and xpos and ufeats,
        "Lemmas": gold[LEMMA] == "_" or gold[LEMMA] == system[LEMMA],
    }


def words_of(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each syntactic word of a CoNLL-U file."""
    for sentence in parse(numbered_lines(path), str(path)):
        for word, index in enumerate(sentence.word_lines):
            yield sentence.line_numbers[index], sentence.cells(word)


def score_conllu(gold_path: str | Path, system_path: str | Path, train_path: str | Path | None = None) -> dict:
    """{group: {metric: accuracy}} with group ``all`` and, given ``train_path``, ``known`` and
    ``unseen``; also {group: word count} under ``words``. A system file whose words are not the
    gold file's (another tokenisation, a missing sentence) raises InputError at its first difference."""
    gold_path, system_path = Path(gold_path), Path(system_path)
    known = {cells[FORM] for _, cells in words_of(Path(train_path))} if train_path else None
    right = {group: dict.fromkeys(METRICS, 0) for group in ("all", "known", "unseen")}
    counts = dict.fromkeys(right, 0)
    system_words = words_of(system_path)
    for line_no, gold in words_of(gold_path):
        system_line, system = next(system_words, (None, None))
        if system is None or system[FORM] != gold[FORM]:
            found = "the end of the file" if system is None else f"{system[FORM]!r} at line {system_line}"
            raise InputError(
                f"{system_path}: expected the words of {gold_path} (gold tokenisation); its line {line_no} "
                f"has {gold[FORM]!r}, this file {found}"
            )
        groups = ["all"] if known is None else ["all", "known" if gold[FORM] in known else "unseen"]
        for group in groups:
            counts[group] += 1
            for metric, correct in word_scores(gold, system).items():
                right[group][metric] += correct
    extra = next(system_words, None)
    if extra is not None:
        raise InputError(f"{system_path}:{extra[0]}: {extra[1][FORM]!r} past the last word of {gold_path}")
    scores = {group: {m: right[group][m] / counts[group] for m in METRICS} for group in right if counts[group]}
    scores["words"] = {group: count for group, count in counts.items() if count}
    return scores


def format_scores(scores: dict) -> str:
    groups = [g for g in ("all", "known", "unseen") if g in scores]
    header = "| metric | " + " | ".join(f"{g} ({scores['words'][g]} words)" for g in groups) + " |"
    rows = [header, "|---|" + "---:|" * len(groups)]
    rows += [f"| {m} | " + " | ".join(f"{100 * scores[g][m]:.2f}" for g in groups) + " |" for m in METRICS]
    return "\n".join(rows)
