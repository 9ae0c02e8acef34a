"""postag score: a tagged CoNLL-U file against the gold one, counted as the CoNLL 2018 shared task counts."""

import subprocess
import sys

import pytest

from postag.analysis.conllu_scores import score_conllu, universal_features
from postag.errors import InputError


def row(i, form, lemma, upos, xpos, feats):
    return f"{i}\t{form}\t{lemma}\t{upos}\t{xpos}\t{feats}\t0\tdep\t_\t_"


GOLD = [
    "# sent_id = 1",
    row(1, "Dogs", "dog", "NOUN", "NNS", "Number=Plur"),
    "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_",
    row(2, "do", "do", "AUX", "VBP", "Mood=Ind|Tense=Pres"),
    row(3, "n't", "not", "PART", "RB", "Polarity=Neg"),
    row(4, "bark", "bark", "VERB", "VB", "VerbForm=Inf|ExtPos=X"),
    "",
    row(1, "Yes", "_", "INTJ", "UH", "_"),
]
# Dogs: all right. do: FEATS in another order (right). n't: XPOS wrong. bark: only a language-specific
# feature differs (UFeats right), lemma wrong. Yes: gold lemma _, so any lemma is right; UPOS wrong.
SYSTEM = [
    "# sent_id = 1",
    row(1, "Dogs", "dog", "NOUN", "NNS", "Number=Plur"),
    "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_",
    row(2, "do", "do", "AUX", "VBP", "Tense=Pres|Mood=Ind"),
    row(3, "n't", "not", "PART", "CC", "Polarity=Neg"),
    row(4, "bark", "barks", "VERB", "VB", "VerbForm=Inf"),
    "",
    row(1, "Yes", "yes", "X", "UH", "_"),
]


def write(path, lines):
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path


def test_each_metric_counts_as_the_shared_task_does(tmp_path):
    gold, system = write(tmp_path / "gold.conllu", GOLD), write(tmp_path / "system.conllu", SYSTEM)
    scores = score_conllu(gold, system)
    assert scores["words"] == {"all": 5}
    assert scores["all"] == {"UPOS": 4 / 5, "XPOS": 4 / 5, "UFeats": 5 / 5, "AllTags": 3 / 5, "Lemmas": 4 / 5}


def test_known_and_unseen_words_apart(tmp_path):
    gold, system = write(tmp_path / "gold.conllu", GOLD), write(tmp_path / "system.conllu", SYSTEM)
    train = write(tmp_path / "train.conllu", [row(1, "Dogs", "dog", "NOUN", "NNS", "_"), row(2, "bark", "bark", "VERB", "VB", "_")])
    scores = score_conllu(gold, system, train)
    assert scores["words"] == {"all": 5, "known": 2, "unseen": 3}
    assert scores["known"]["Lemmas"] == 1 / 2 and scores["unseen"]["UPOS"] == 2 / 3


def test_universal_features_leave_out_the_rest_and_ignore_order():
    assert universal_features("Tense=Pres|Mood=Ind|ExtPos=ADP") == "Mood=Ind|Tense=Pres"
    assert universal_features("_") == ""


@pytest.mark.parametrize("change,message", [
    (lambda lines: lines[:5] + [row(4, "barked", "bark", "VERB", "VB", "_")] + lines[6:],
     r"system.conllu: expected the words of .*gold.conllu \(gold tokenisation\); its line 6 has 'bark', this file 'barked' at line 6"),
    (lambda lines: lines[:6], r"its line 8 has 'Yes', this file the end of the file"),
    (lambda lines: lines + ["", row(1, "More", "more", "ADJ", "JJR", "_")], r"system.conllu:10: 'More' past the last word of"),
])
def test_a_file_with_other_words_is_refused_at_its_first_difference(tmp_path, change, message):
    gold, system = write(tmp_path / "gold.conllu", GOLD), write(tmp_path / "system.conllu", change(list(SYSTEM)))
    with pytest.raises(InputError, match=message):
        score_conllu(gold, system)


def test_the_score_command_prints_the_table(tmp_path):
    gold, system = write(tmp_path / "gold.conllu", GOLD), write(tmp_path / "system.conllu", SYSTEM)
    result = subprocess.run([sys.executable, "-m", "postag.app.cli", "score", str(gold), str(system)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "| AllTags | 60.00 |" in result.stdout and "| metric | all (5 words) |" in result.stdout
    missing = subprocess.run([sys.executable, "-m", "postag.app.cli", "score", str(gold), str(tmp_path / "none")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and missing.stderr.strip().endswith("none: no such file")
