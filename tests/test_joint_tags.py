"""Joint tags: several CoNLL-U columns (data.tag_column=upos+xpos+feats) as one tag, read, scored
column by column, and written back each value to its column."""

import json

import pytest

from conftest import SMALL_MODEL, exported_and_spacy_tags, postag_cli, run
from postag.analysis.column_scores import column_scores, column_summary
from postag.analysis.error_analysis import Token
from postag.app.tagger import Tagger
from postag.data import ConlluReader, CorpusFormatError, make_reader
from postag.data.conllu import format_sentence, parse, tag_column_indices
from postag.data.corpus import numbered_lines

from treebank import token, with_cell, write_lines, write_treebank




def test_a_joint_tag_joins_the_columns_values(tmp_path):
    path = write_lines(tmp_path / "a.conllu", [with_cell(token(1, "Cats", "NOUN", "NNS"), 5, "Number=Plur"), token(2, "sleep", "VERB", "VBP")])
    assert ConlluReader("upos+xpos+feats").read(path) == [(["Cats", "sleep"], ["NOUN NNS Number=Plur", "VERB VBP _"])]
    assert ConlluReader("xpos+upos").read(path)[0][1] == ["NNS NOUN", "VBP VERB"]
    assert tag_column_indices("upos+xpos+feats") == [3, 4, 5] and make_reader("conllu", tag_column="upos+xpos").conllu_column == "upos+xpos"


@pytest.mark.parametrize("tag_column,message", [
    ("upos+lemma", "a joint tag is made of different columns among upos, xpos and feats; lemmas train in a model of their own"),
    ("upos+upos", "a joint tag is made of different columns"),
    ("upos+deprel", r"expected one of upos, xpos, feats, lemma for CoNLL-U, or several of upos, xpos, feats joined by \+"),
])
def test_a_joint_tag_of_other_columns_is_refused(tag_column, message):
    with pytest.raises(ValueError, match=rf"data.tag_column='{tag_column.replace('+', chr(92) + '+')}': {message}"):
        make_reader("conllu", tag_column=tag_column)


def test_a_joint_tags_columns_are_each_checked(tmp_path):
    noxpos = write_lines(tmp_path / "noxpos.conllu", [token(1, "The", "DET"), token(2, "cat", "NOUN")])
    with pytest.raises(CorpusFormatError, match=r"noxpos.conllu:1: no tag in column 5 \(XPOS\) for 'The' nor on any other line"):
        ConlluReader("upos+xpos").read(noxpos)
    spaced = write_lines(tmp_path / "spaced.conllu", [token(1, "The", "DET", "D T")])
    with pytest.raises(CorpusFormatError, match=r"spaced.conllu:1: XPOS 'D T' of 'The': expected a value without spaces"):
        ConlluReader("upos+xpos").read(spaced)
    assert ConlluReader("xpos").read(spaced)[0][1] == ["D T"]  # alone, a value may hold a space


def test_a_joint_tags_values_go_each_to_its_column(tmp_path):
    text = format_sentence(["Cats"], ["NOUN NNS Number=Plur"], tag_column_indices("upos+xpos+feats"))
    assert text.split("\t")[3:6] == ["NOUN", "NNS", "Number=Plur"]
    path = write_lines(tmp_path / "a.conllu", ["# c", token(1, "Cats", "X")])
    (sentence,) = parse(numbered_lines(path), str(path))
    assert sentence.with_tags(["NOUN NNS"], [3, 4])[1].split("\t")[3:5] == ["NOUN", "NNS"]


def test_each_column_of_a_joint_tag_is_scored_on_its_own():
    tokens = [Token(0, 0, "Cats", "NOUN NNS", "NOUN NNS", True), Token(0, 1, "sleep", "VERB VBP", "VERB VB", True),
              Token(0, 2, "oxen", "NOUN NNS", "PROPN NNS", False)]
    scores = column_scores(tokens, "upos+xpos")
    assert scores["test/upos_acc"] == 2 / 3 and scores["test/xpos_acc"] == 2 / 3
    assert scores["test/upos_acc_known"] == 1.0 and scores["test/xpos_acc_known"] == 0.5 and scores["test/upos_acc_oov"] == 0.0
    assert column_summary({**scores, "test/acc": 1 / 3}).splitlines()[0].startswith("test upos accuracy: 0.6667 (known words 1.0000")
    assert column_scores(tokens, "upos") == {}


@pytest.fixture(scope="module")
def joint_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("joint")
    folder = write_treebank(root / "UD_Test", long=False)
    out = root / "run"
    result = run(
        "train.py", "data=conllu", f"data.data_dir={folder}", "data.tag_column=upos+xpos", "model=pos",
        "trainer.max_epochs=3", "model.warmup_steps=1", "model.lr=0.01", f"hydra.run.dir={out}", *SMALL_MODEL,
    )
    return folder, out, result


def test_training_on_a_joint_tag_scores_each_column(joint_run):
    folder, out, result = joint_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test/acc"] <= min(metrics["test/upos_acc"], metrics["test/xpos_acc"]) + 1e-6  # acc is float32
    sentences = ConlluReader("upos+xpos").read(folder / "xx_test-ud-test.conllu")
    predicted = Tagger.load(out / "checkpoints" / "last.ckpt", device="cpu").tag_sentences([w for w, _ in sentences])
    pairs = [(p.split(), g.split()) for (_, gold), pred in zip(sentences, predicted) for p, g in zip(pred, gold)]
    assert metrics["test/xpos_acc"] == pytest.approx(sum(p[1] == g[1] for p, g in pairs) / len(pairs))
    assert "test upos accuracy: " in result.stdout and "test xpos accuracy: " in result.stdout


def test_postag_tag_writes_each_value_to_its_column(joint_run, tmp_path):
    folder, out, _ = joint_run
    ckpt = out / "checkpoints" / "last.ckpt"
    source = folder / "xx_test-ud-test.conllu"
    tagged = postag_cli("tag", "--ckpt", ckpt, "--input-format", "conllu", source)
    assert tagged.returncode == 0, tagged.stderr.decode()
    tags = [t for s in Tagger.load(ckpt, device="cpu").tag_sentences([w for w, _ in ConlluReader("upos").read(source)]) for t in s]
    rows = [line.split("\t") for line in tagged.stdout.decode().splitlines() if line.count("\t") == 9 and line.split("\t")[0].isdigit()]
    assert [f"{r[3]} {r[4]}" for r in rows] == tags
    tsv = postag_cli("tag", "--ckpt", ckpt, stdin=b"The cat sleeps .\n")
    lines = tsv.stdout.decode().splitlines()
    assert len(lines) == 5 and lines[-1] == "" and all(len(line.split("\t")) == 3 for line in lines[:4])  # word, UPOS, XPOS


def test_the_onnx_runtime_and_spacy_serve_a_joint_tag(joint_run, tmp_path):
    folder, out, _ = joint_run
    ckpt = out / "checkpoints" / "last.ckpt"
    sentences = [words for words, _ in ConlluReader("upos").read(folder / "xx_test-ud-test.conllu")]
    expected = Tagger.load(ckpt, device="cpu").tag_sentences(sentences)
    runtime_tags, doc = exported_and_spacy_tags(ckpt, tmp_path / "exported", sentences)
    assert runtime_tags == expected
    assert [f"{t.pos_} {t.tag_}" for t in doc] == expected[0]
