"""Lemmas as tags: rules derived and applied, the CoNLL-U columns lemma and feats, a lemma model
end to end (train.py, evaluate.py, postag tag, the ONNX runtime, spaCy)."""

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SMALL_MODEL, exported_and_spacy_tags, postag_cli, run
from postag.analysis.conllu_scores import score_conllu
from postag.analysis.error_analysis import Token
from postag.analysis.column_scores import column_scores
from postag.app.tagger import Tagger
from postag.data import ConlluReader, CorpusFormatError, make_reader
from postag.data.lemmas import is_lemma_rule, lemma_of, lemma_rule
from postag.data.tag_columns import outputs

from treebank import token, with_cell, write_lines, write_treebank

CASES = [  # form, lemma, rule
    ("cats", "cat", "lower|0|1|0|"),
    ("The", "the", "lower|0|0|0|"),
    ("went", "go", "lower|0|4|0|go"),
    ("studies", "study", "lower|0|3|0|y"),
    ("unhappier", "happy", "lower|2|3|0|y"),
    ("Paris", "Paris", "title|0|0|0|"),
    ("me", "I", "upper|0|2|0|i"),
    ("NASA's", "NASA", "upper|0|2|0|"),
    ("iPhones", "iPhone", "form|0|1|0|"),
    ("n't", "not", "lower|0|2|0|ot"),
    ("STRASSE", "Straße", "title|0|3|0|ße"),
    ("İstanbul", "İstanbul", "form|0|0|0|"),  # lowercased, İ becomes two characters that title() does not undo
    ("&", "and", "lower|0|1|0|and"),
]


@pytest.mark.parametrize("form,lemma,rule", CASES)
def test_a_rule_edits_the_form_into_its_lemma(form, lemma, rule):
    assert lemma_rule(form, lemma) == rule
    assert lemma_of(form, rule) == lemma
    assert is_lemma_rule(rule)


def test_a_rule_learned_on_one_word_lemmatises_others():
    assert lemma_of("dogs", lemma_rule("cats", "cat")) == "dog"
    assert lemma_of("Carries", lemma_rule("studies", "study")) == "carry"
    assert lemma_of("Berlin", lemma_rule("Paris", "Paris")) == "Berlin"


def test_a_rule_that_cuts_more_than_the_form_has_gives_the_form():
    rule = lemma_rule("studies", "study")  # cuts 3 characters at the end
    assert lemma_of("is", rule) == "is" and lemma_of("Ox", "lower|1|2|0|") == "Ox"


def test_added_text_may_hold_the_rules_own_separator():
    rule = lemma_rule("x", "|a|b|")
    assert lemma_of("x", rule) == "|a|b|" and is_lemma_rule(rule)
    assert not is_lemma_rule("lower|0|1") and not is_lemma_rule("lower|0|1|3|ab") and not is_lemma_rule("NOUN")


def treebank_words(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8") as handle:
        for line in handle:
            cells = line.rstrip("\n").split("\t")
            if len(cells) == 10 and cells[0].isdigit():
                yield cells[1], cells[2]


@pytest.mark.skipif(not os.environ.get("POSTAG_UD_DIR"), reason="needs POSTAG_UD_DIR (UD_English-LinES)")
def test_every_training_word_of_a_real_treebank_goes_form_to_rule_to_lemma_and_back():
    (train,) = Path(os.environ["POSTAG_UD_DIR"]).glob("*-ud-train.conllu*")
    pairs = list(treebank_words(train))
    rules = {lemma_rule(form, lemma) for form, lemma in pairs}
    assert len(pairs) > 50_000
    assert [lemma_of(form, lemma_rule(form, lemma)) for form, lemma in pairs] == [lemma for _, lemma in pairs]
    assert len(rules) < len({lemma for _, lemma in pairs}) / 20  # far fewer classes than lemmas





def test_the_lemma_column_reads_as_rules_and_feats_as_strings(tmp_path):
    lines = [with_cell(with_cell(token(1, "Cats", "NOUN"), 2, "cat"), 5, "Number=Plur"), token(2, "sleep", "VERB")]
    path = write_lines(tmp_path / "a.conllu", lines)
    assert ConlluReader("lemma").read(path) == [(["Cats", "sleep"], ["lower|0|1|0|", "lower|0|0|0|"])]
    assert ConlluReader("feats").read(path) == [(["Cats", "sleep"], ["Number=Plur", "_"])]
    assert make_reader("conllu", tag_column="lemma").conllu_column == "lemma"


@pytest.mark.parametrize("feats", ["Number", "Number=Plur|", "Number=Plur;Case=Nom", "=Plur", "Number=Plur Case=Nom"])
def test_a_malformed_feats_value_names_file_line_and_what_was_expected(tmp_path, feats):
    path = write_lines(tmp_path / "a.conllu", ["# c", token(1, "Cats", "NOUN"), with_cell(token(2, "sleep", "VERB"), 5, feats)])
    expected = rf"a.conllu:3: FEATS '{re.escape(feats)}' of 'sleep': expected _ or Name=Value pairs joined by \|$"
    with pytest.raises(CorpusFormatError, match=expected):
        ConlluReader("feats").read(path)


def test_a_lemma_column_without_any_lemma_is_an_error(tmp_path):
    path = write_lines(tmp_path / "a.conllu", [with_cell(token(1, "Cats", "NOUN"), 2, "_"), with_cell(token(2, "run", "VERB"), 2, "_")])
    with pytest.raises(CorpusFormatError, match=r"a.conllu:1: no tag in column 3 \(LEMMA\) for 'Cats' nor on any other line"):
        ConlluReader("lemma").read(path)


def test_lemma_accuracy_counts_known_and_unseen_words_apart():
    tokens = [Token(0, 0, "cats", "cat", "cat", True), Token(0, 1, "ran", "run", "ran", True),
              Token(0, 2, "oxen", "ox", "ox", False)]
    assert column_scores(tokens, "lemma") == {"test/lemma_acc": 2 / 3, "test/lemma_acc_known": 0.5, "test/lemma_acc_oov": 1.0}
    assert outputs(["Cats"], ["lower|0|1|0|"], "lemma") == ["cat"] and outputs(["Cats"], ["NNS"], "xpos") == ["NNS"]


LEMMAS = {"sleeps": "sleep", "n't": "not", "I": "I", "is": "be", "είναι": "είμαι"}


@pytest.fixture(scope="module")
def lemma_run(tmp_path_factory):
    """A lemma model trained on the test treebank, with a few lemmas that are not the lowercased form."""
    root = tmp_path_factory.mktemp("lemmas")
    folder = write_treebank(root / "UD_Test", long=False)
    for path in folder.glob("*.conllu"):
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join(
            with_cell(line, 2, LEMMAS[line.split("\t")[1]]) if line.count("\t") == 9 and line.split("\t")[1] in LEMMAS
            else line for line in lines) + "\n", encoding="utf-8")
    out = root / "run"
    result = run(
        "train.py", "data=conllu", f"data.data_dir={folder}", "data.tag_column=lemma", "model=pos",
        "trainer.max_epochs=3", "model.warmup_steps=1", "model.lr=0.01", f"hydra.run.dir={out}", *SMALL_MODEL,
    )
    return folder, out, result


def test_train_and_evaluate_score_the_lemmas_the_rules_make(lemma_run, tmp_path):
    folder, out, result = lemma_run
    metrics = json.loads((out / "metrics.json").read_text())
    # a right rule makes the right lemma, and a wrong one may too
    assert metrics["test/acc"] <= metrics["test/lemma_acc"] + 1e-6 and metrics["test/lemma_acc"] <= 1.0  # acc is float32
    assert "test lemma accuracy: " in result.stdout
    tagger = Tagger.load(out / "checkpoints" / "last.ckpt", device="cpu")
    test_file = folder / "xx_test-ud-test.conllu"
    pairs = list(treebank_words(test_file))
    predicted = [lemma for lemmas in tagger.tag_sentences([words for words, _ in ConlluReader("lemma").read(test_file)])
                 for lemma in lemmas]
    assert metrics["test/lemma_acc"] == pytest.approx(sum(p == g for p, (_, g) in zip(predicted, pairs)) / len(pairs))
    evaluated = run("evaluate.py", f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}", "data=conllu",
                    "data.tag_column=lemma", f"data.data_dir={folder}", f"hydra.run.dir={tmp_path / 'eval'}")
    scored = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert scored["test/lemma_acc"] == pytest.approx(metrics["test/lemma_acc"])
    assert "test lemma accuracy: " in evaluated.stdout
    mismatched = subprocess.run(
        [sys.executable, "evaluate.py", f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}", "data=conllu",
         f"data.data_dir={folder}", f"hydra.run.dir={tmp_path / 'eval2'}"],
        cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=300,
    )
    assert mismatched.returncode != 0
    assert mismatched.stderr.strip().splitlines()[-1].endswith(
        "last.ckpt: a model of the lemma column, but the data asks for upos (set data.tag_column=lemma)")


def test_postag_tag_writes_lemmas_into_the_lemma_column_and_leaves_the_rest(lemma_run):
    folder, out, _ = lemma_run
    ckpt = out / "checkpoints" / "last.ckpt"
    source = folder / "xx_test-ud-test.conllu"
    result = postag_cli("tag", "--ckpt", ckpt, "--input-format", "conllu", source)
    assert result.returncode == 0, result.stderr.decode()
    original, tagged = source.read_text(encoding="utf-8").splitlines(), result.stdout.decode().splitlines()
    assert len(original) == len(tagged)
    expected = [lemma for lemmas in Tagger.load(ckpt, device="cpu").tag_sentences(
        [words for words, _ in ConlluReader("lemma").read(source)]) for lemma in lemmas]
    got = []
    for before, after in zip(original, tagged):
        a, b = before.split("\t"), after.split("\t")
        if len(a) == 10 and a[0].isdigit():
            assert a[:2] + a[3:] == b[:2] + b[3:]  # only LEMMA changes
            got.append(b[2])
        else:
            assert before == after
    assert got == expected and all(not is_lemma_rule(lemma) for lemma in got)
    # postag score reads the file back as the shared task would: the lemma accuracy train.py reported
    tagged_file = out.parent / "tagged.conllu"
    tagged_file.write_bytes(result.stdout)
    metrics = json.loads((out / "metrics.json").read_text())
    assert score_conllu(source, tagged_file)["all"]["Lemmas"] == pytest.approx(metrics["test/lemma_acc"])


def test_the_onnx_runtime_and_spacy_give_the_checkpoints_lemmas(lemma_run, tmp_path):
    folder, out, _ = lemma_run
    ckpt = out / "checkpoints" / "last.ckpt"
    sentences = [words for words, _ in ConlluReader("lemma").read(folder / "xx_test-ud-test.conllu")]
    expected = Tagger.load(ckpt, device="cpu").tag_sentences(sentences)
    runtime_tags, doc = exported_and_spacy_tags(ckpt, tmp_path / "exported", sentences)
    assert runtime_tags == expected
    assert [t.lemma_ for t in doc] == expected[0]
