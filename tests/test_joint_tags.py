"""Joint tags: several CoNLL-U columns (data.tag_column=upos+xpos+feats) as one tag, read, scored
column by column, and written back each value to its column."""

import json

import pytest

from conftest import SMALL_MODEL, exported_and_spacy_tags, postag_cli, run
from postag.analysis.column_scores import column_per_tag, column_scores, column_summary
from postag.analysis.error_analysis import Token
from postag.app.tagger import Tagger
from postag.data import ConlluReader, CorpusFormatError, make_reader
from postag.data.conllu import format_sentence, parse, tag_column_indices
from postag.data.tag_columns import joint_values, outputs
from postag.data.corpus import numbered_lines

from treebank import token, with_cell, write_lines, write_treebank




def test_a_joint_tag_joins_the_columns_values(tmp_path):
    path = write_lines(tmp_path / "a.conllu", [with_cell(token(1, "Cats", "NOUN", "NNS"), 5, "Number=Plur"), token(2, "sleep", "VERB", "VBP")])
    assert ConlluReader("upos+xpos+feats").read(path) == [(["Cats", "sleep"], ["NOUN NNS Number=Plur", "VERB VBP _"])]
    assert ConlluReader("xpos+upos").read(path)[0][1] == ["NNS NOUN", "VBP VERB"]
    assert tag_column_indices("upos+xpos+feats") == [3, 4, 5] and make_reader("conllu", tag_column="upos+xpos").conllu_column == "upos+xpos"
    assert make_reader("conllu", tag_column=["upos", "xpos", "lemma"]).conllu_column == "upos+xpos+lemma"  # a list, from Hydra


@pytest.mark.parametrize("tag_column,message", [
    ("lemma+upos", "lemma comes last in a joint tag"),
    ("upos+upos", "a joint tag is made of different columns"),
    ("upos+deprel", r"expected one of upos, xpos, feats, lemma, or several of them joined by \+"),
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


def test_a_chunk_tag_goes_to_misc_beside_its_other_attributes(tmp_path):
    assert tag_column_indices("xpos+chunk") == [4, 9]
    path = write_lines(tmp_path / "a.conllu", [with_cell(token(1, "Cats", "X"), 9, "SpaceAfter=No|Chunk=O"), token(2, "sleep", "X")])
    (sentence,) = parse(numbered_lines(path), str(path))
    rows = [line.split("\t") for line in sentence.with_tags(["NNS B-NP", "VBP B-VP"], [4, 9])]
    assert [(r[4], r[9]) for r in rows] == [("NNS", "SpaceAfter=No|Chunk=B-NP"), ("VBP", "Chunk=B-VP")]
    with pytest.raises(ValueError, match="data.tag_column='upos\\+chunk': expected one of upos, xpos, feats, lemma,"):
        make_reader("conllu", tag_column="upos+chunk")  # CoNLL-U has no chunk column to read


def test_each_column_of_a_joint_tag_is_scored_on_its_own():
    tokens = [Token(0, 0, "Cats", "NOUN NNS", "NOUN NNS", True), Token(0, 1, "sleep", "VERB VBP", "VERB VB", True),
              Token(0, 2, "oxen", "NOUN NNS", "PROPN NNS", False)]
    scores = column_scores(tokens, "upos+xpos")
    assert scores["test/upos_acc"] == 2 / 3 and scores["test/xpos_acc"] == 2 / 3
    assert scores["test/upos_acc_known"] == 1.0 and scores["test/xpos_acc_known"] == 0.5 and scores["test/upos_acc_oov"] == 0.0
    assert column_summary({**scores, "test/acc": 1 / 3}).splitlines()[0].startswith("test upos accuracy: 0.6667 (known words 1.0000")
    assert column_scores(tokens, "upos") == {}
    tables = column_per_tag(tokens, "upos+xpos")
    noun, verb = {r["tag"]: r for r in tables["upos"]}["NOUN"], {r["tag"]: r for r in tables["upos"]}["VERB"]
    assert noun["support"] == 2 and noun["accuracy"] == 0.5 and noun["precision"] == 1.0 and noun["f1"] == pytest.approx(2 / 3)
    assert verb["support"] == 1 and verb["accuracy"] == 1.0 and "PROPN" not in {r["tag"] for r in tables["upos"]}
    assert {r["tag"]: r["support"] for r in tables["xpos"]} == {"NNS": 2, "VBP": 1}
    assert column_per_tag(tokens, "upos") == {} and list(column_per_tag(tokens, "upos+lemma")) == ["upos"]


# A joint tag scored as one class (flat) and by its columns (columns), and every column, lemma rules last
RUNS = {
    "flat": ("upos+xpos", ["model.joint_head=flat"]),
    "columns": ("upos+xpos", ["model.joint_head=columns", "model.column_weight=0.5"]),
    "every": ("upos+xpos+feats+lemma", ["model.joint_head=columns", "model.column_weight=0.5"]),
}
SPACY_ATTRIBUTES = {"upos": "pos_", "xpos": "tag_", "feats": "morph", "lemma": "lemma_"}


@pytest.fixture(scope="module", params=list(RUNS))
def joint_run(tmp_path_factory, request):
    tag_column, overrides = RUNS[request.param]
    root = tmp_path_factory.mktemp("joint")
    folder = write_treebank(root / "UD_Test", long=False)
    for split in folder.iterdir():  # features for nouns, so that FEATS has values
        split.write_text(split.read_text(encoding="utf-8").replace("\tNOUN\tNN\t_\t", "\tNOUN\tNN\tNumber=Sing\t"), encoding="utf-8")
    out = root / "run"
    result = run(
        "train.py", "data=conllu", f"data.data_dir={folder}", f"data.tag_column={tag_column}", "model=pos",
        "trainer.max_epochs=3", "model.warmup_steps=1", "model.lr=0.01", f"hydra.run.dir={out}", *SMALL_MODEL, *overrides,
    )
    return folder, out, result, tag_column


def _gold_and_words(path, tag_column):
    """(the words of each sentence, each word's values of the columns of tag_column as the file has them)."""
    indices = tag_column_indices(tag_column)
    sentences = list(parse(numbered_lines(path), str(path)))
    words = [sentence.words for sentence in sentences]
    gold = [[s.cells(i)[c] for c in indices] for s in sentences for i in range(len(s.word_lines))]
    return words, gold


def test_training_on_a_joint_tag_scores_each_column(joint_run):
    folder, out, result, tag_column = joint_run
    names = tag_column.split("+")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test/acc"] <= min(metrics[f"test/{name}_acc"] for name in names) + 1e-6  # acc is float32
    words, gold = _gold_and_words(folder / "xx_test-ud-test.conllu", tag_column)
    predicted = Tagger.load(metrics["tested_checkpoint"], device="cpu").tag_sentences(words)
    predicted = [joint_values(tag, len(names)) for tags in predicted for tag in tags]
    for k, name in enumerate(names):  # lemmas as the rules make them
        assert metrics[f"test/{name}_acc"] == pytest.approx(sum(p[k] == g[k] for p, g in zip(predicted, gold)) / len(gold))
        assert f"test {name} accuracy: " in result.stdout
        if name != "lemma":  # each column's per-tag table, its supports summing to the test words
            table = (out / f"test_{name}_per_tag.md").read_text().splitlines()[2:]
            assert sum(int(row.split(" | ")[1]) for row in table) == len(gold)


def test_postag_tag_writes_each_value_to_its_column(joint_run, tmp_path):
    folder, out, _, tag_column = joint_run
    ckpt = out / "checkpoints" / "last.ckpt"
    source = folder / "xx_test-ud-test.conllu"
    tagged = postag_cli("tag", "--ckpt", ckpt, "--input-format", "conllu", source)
    assert tagged.returncode == 0, tagged.stderr.decode()
    words, _ = _gold_and_words(source, tag_column)
    tags = [t for s in Tagger.load(ckpt, device="cpu").tag_sentences(words) for t in s]
    rows = [line.split("\t") for line in tagged.stdout.decode().splitlines() if line.count("\t") == 9 and line.split("\t")[0].isdigit()]
    assert [" ".join(r[c] for c in tag_column_indices(tag_column)) for r in rows] == tags
    tsv = postag_cli("tag", "--ckpt", ckpt, stdin=b"The cat sleeps .\n")
    lines = tsv.stdout.decode().splitlines()
    assert len(lines) == 5 and lines[-1] == "" and all(len(line.split("\t")) == 1 + len(tag_column.split("+")) for line in lines[:4])


def test_the_onnx_runtime_and_spacy_serve_a_joint_tag(joint_run, tmp_path):
    folder, out, _, tag_column = joint_run
    ckpt = out / "checkpoints" / "last.ckpt"
    sentences, _ = _gold_and_words(folder / "xx_test-ud-test.conllu", tag_column)
    expected = Tagger.load(ckpt, device="cpu").tag_sentences(sentences)
    runtime_tags, doc = exported_and_spacy_tags(ckpt, tmp_path / "exported", sentences)
    assert runtime_tags == expected
    attributes = [SPACY_ATTRIBUTES[name] for name in tag_column.split("+")]
    assert [" ".join(str(getattr(t, a)) or "_" for a in attributes) for t in doc] == expected[0]


def test_a_joint_tag_that_ends_with_a_lemma_rule_gives_the_lemma(tmp_path):
    path = write_lines(tmp_path / "a.conllu", [with_cell(token(1, "Cats", "NOUN", "NNS"), 2, "cat"), token(2, "sleep", "VERB", "VBP")])
    ((words, tags),) = ConlluReader("upos+lemma").read(path)
    assert tags == ["NOUN lower|0|1|0|", "VERB lower|0|0|0|"]
    assert outputs(words, tags, "upos+lemma") == ["NOUN cat", "VERB sleep"]
    assert outputs(["New York"], ["PROPN form|0|0|0|"], "upos+lemma") == ["PROPN New York"]  # a lemma may hold a space
    assert joint_values("PROPN New York", 2) == ["PROPN", "New York"]


def test_a_flat_checkpoint_written_before_joint_head_existed_loads_as_flat(joint_run, tmp_path):
    import torch

    _, out, _, tag_column = joint_run
    ckpt = out / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(ckpt, weights_only=True)
    if checkpoint["hyper_parameters"]["joint_head"] != "flat":
        pytest.skip("a flat head's checkpoint only")
    del checkpoint["hyper_parameters"]["joint_head"]
    older = tmp_path / "older.ckpt"
    torch.save(checkpoint, older)
    words, _ = _gold_and_words(out.parent / "UD_Test" / "xx_test-ud-test.conllu", tag_column)
    assert Tagger.load(older, device="cpu").tag_sentences(words) == Tagger.load(ckpt, device="cpu").tag_sentences(words)
