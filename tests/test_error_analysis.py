"""The error analysis evaluate.py writes: confusions, their words and contexts, known and unseen words."""

import csv
from collections import Counter

import pytest

from postag.analysis.error_analysis import (
    add_comparison,
    confusion_groups,
    context,
    error_report,
    format_error_report,
    known_unseen_rows,
    tagged_tokens,
    write_error_csv,
)

SENTENCES = [
    (["the", "old", "man", "the", "boats", "."], ["DT", "NN", "VBP", "DT", "NNS", "."]),
    (["old", "man", "runs"], ["JJ", "NN", "VBZ"]),
    (["man", "up"], ["VB", "RP"]),
]
PREDICTED = [
    ["DT", "JJ", "NN", "DT", "NNS", "."],  # old NN>JJ, man VBP>NN
    ["JJ", "NN", "NNS"],  # runs VBZ>NNS
    ["NN", "RB"],  # man VB>NN, up RP>RB
]
KNOWN = {"the", "old", "man", "."}  # boats, runs and up unseen in training


def test_tokens_keep_their_place_tags_and_whether_training_saw_the_word():
    tokens = tagged_tokens(SENTENCES, PREDICTED, KNOWN)
    assert len(tokens) == 11
    boats = tokens[4]
    assert (boats.sentence, boats.position, boats.word, boats.gold, boats.predicted) == (0, 4, "boats", "NNS", "NNS")
    assert boats.correct and not boats.known
    assert sum(not t.correct for t in tokens) == 5
    with pytest.raises(ValueError, match="3 sentences but 2"):
        tagged_tokens(SENTENCES, PREDICTED[:2], KNOWN)


def test_context_brackets_the_word_and_marks_cut_ends():
    tokens = tagged_tokens(SENTENCES, PREDICTED, KNOWN)
    assert context(SENTENCES, tokens[2], width=1) == "... old [man] the ..."
    assert context(SENTENCES, tokens[0], width=2) == "[the] old man ..."
    assert context(SENTENCES, tokens[10]) == "man [up]"


def test_confusions_count_share_of_the_gold_tag_words_and_example():
    tokens = tagged_tokens(SENTENCES, PREDICTED, KNOWN)
    support = Counter(t.gold for t in tokens)
    errors = [t for t in tokens if not t.correct]
    groups = confusion_groups(errors, support, SENTENCES)
    # every error is in exactly one group, most frequent pair first (all single here: by name)
    assert sum(g["count"] for g in groups) == 5
    assert [(g["gold"], g["predicted"]) for g in groups] == [
        ("NN", "JJ"), ("RP", "RB"), ("VB", "NN"), ("VBP", "NN"), ("VBZ", "NNS")
    ]
    old = groups[0]
    assert old["share_of_gold"] == pytest.approx(1 / 2)  # two gold NN: 'old' (wrong), 'man' in sentence 2
    assert old["words"] == [("old", 1)] and old["example"] == "the [old] man the boats ."
    # two errors of one pair: one group, its words counted
    twice = confusion_groups(errors + [errors[0]], support, SENTENCES)
    assert twice[0]["count"] == 2 and twice[0]["words"] == [("old", 2)]


def test_known_and_unseen_accuracy_per_tag():
    rows = {r["tag"]: r for r in known_unseen_rows(tagged_tokens(SENTENCES, PREDICTED, KNOWN))}
    assert rows["NN"] == {"tag": "NN", "known": 2, "known_accuracy": 0.5, "unseen": 0, "unseen_accuracy": None}
    assert rows["VBZ"]["unseen"] == 1 and rows["VBZ"]["unseen_accuracy"] == 0.0
    assert rows["NNS"]["unseen_accuracy"] == 1.0 and rows["NNS"]["known_accuracy"] is None


def test_comparison_groups_the_tokens_one_tagger_gets_right_and_the_other_wrong(tmp_path):
    a = tagged_tokens(SENTENCES, PREDICTED, KNOWN)
    better = [list(tags) for _, tags in SENTENCES]
    better[2] = ["NN", "RP"]  # B: right everywhere but 'man' in the last sentence
    b = tagged_tokens(SENTENCES, better, KNOWN)
    report = error_report(a, SENTENCES, "A beside B")
    add_comparison(report, a, b, SENTENCES)
    a_only, b_only = list(report.sections)[1:]
    assert a_only.startswith("A right, B wrong (0 tokens") and report.sections[a_only] == []
    assert b_only.startswith("B right, A wrong (4 tokens")
    assert {(g["gold"], g["predicted"]) for g in report.sections[b_only]} == {
        ("NN", "JJ"), ("RP", "RB"), ("VBP", "NN"), ("VBZ", "NNS")
    }
    text = format_error_report(report)
    assert text.startswith("# A beside B")
    assert "| NN | JJ | 1 | 50.00% | old (1) | the [old] man the boats . |" in text
    assert "None." in text  # the empty section
    write_error_csv(report, tmp_path / "errors.csv")
    rows = list(csv.DictReader(open(tmp_path / "errors.csv")))
    assert len(rows) == 5 + 4 and {r["section"] for r in rows} == {"Most frequent confusions", b_only}
    with pytest.raises(ValueError, match="not the same tokens"):
        add_comparison(report, a, b[:-1], SENTENCES)

