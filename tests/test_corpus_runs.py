"""Corpora other than CoNLL-2000 end to end: a CoNLL-U treebank with a 300-word sentence (train.py,
evaluate.py, postag tag), and a column file."""

import gzip
import json
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, SMALL_MODEL, postag_cli, run
from postag.data import CHECKPOINT_KEY
from postag.app.tagger import Tagger

from treebank import write_treebank


@pytest.fixture(scope="module")
def treebank_run(tmp_path_factory):
    """model=pos (256 positions) trained on a treebank whose train and test splits hold a 300-word sentence."""
    root = tmp_path_factory.mktemp("treebank")
    folder = write_treebank(root / "UD_Test")
    out = root / "run"
    run(
        "train.py", "data=conllu", f"data.data_dir={folder}", "model=pos", "trainer.max_epochs=3",
        "model.warmup_steps=1", "model.lr=0.01", f"hydra.run.dir={out}", *SMALL_MODEL,
    )
    return folder, out


def test_training_on_a_treebank_validates_on_dev_and_scores_test(treebank_run):
    folder, out = treebank_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test/acc"] <= 1.0 and "val/acc_best" in metrics
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint[CHECKPOINT_KEY]["conllu_column"] == "upos"
    assert "PROPN" in checkpoint[CHECKPOINT_KEY]["tags"]


def test_evaluate_scores_any_conllu_file_with_the_checkpoint_alone(treebank_run, tmp_path):
    folder, out = treebank_run
    test_file = folder / "xx_test-ud-test.conllu"
    run(
        "evaluate.py", f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}", "data=conllu", f"data.test_file={test_file}",
        f"data.data_dir={tmp_path / 'nothing'}", f"hydra.run.dir={tmp_path / 'eval'}",
    )
    scored = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    # evaluate.py scored last.ckpt; on the same file, Tagger's argmax gives its accuracy
    tagger = Tagger.load(out / "checkpoints" / "last.ckpt", device="cpu")
    from postag.data import ConlluReader

    sentences = ConlluReader("upos").read(test_file)
    predicted = tagger.tag_sentences([words for words, _ in sentences])
    pairs = [(p, g) for (_, gold), pred in zip(sentences, predicted) for p, g in zip(pred, gold)]
    assert len(pairs) == 4 + 5 + 5 + 4 + 300  # en, mwt, el, zh, the long one
    assert scored["test/acc"] == pytest.approx(sum(p == g for p, g in pairs) / len(pairs))


def test_an_xpos_dev_tag_unseen_in_training_is_scored_wrong_and_listed(tmp_path):
    folder = write_treebank(tmp_path / "UD_Test", long=False)
    dev = folder / "xx_test-ud-dev.conllu"
    dev.write_text(dev.read_text().replace("\tPRP\t", "\tPRP-NEW\t"))
    test = folder / "xx_test-ud-test.conllu"
    test.write_text(test.read_text().replace("\tPRP\t", "\tPRP-NEW\t"))
    out = tmp_path / "run"
    result = run(
        "train.py", "data=conllu", f"data.data_dir={folder}", "data.tag_column=xpos", "trainer.max_epochs=1",
        f"hydra.run.dir={out}", *SMALL_MODEL,
    )
    warnings = [line for line in result.stdout.splitlines() + result.stderr.splitlines() if "never seen in training" in line]
    assert len(warnings) == 2 and all("(PRP-NEW); they are scored as wrong" in w for w in warnings)  # dev, then test
    table = (out / "test_per_tag.md").read_text()
    assert "| PRP-NEW (not in training) | 2 | 0.0000 |" in table


def test_tag_conllu_input_writes_the_file_back_with_predicted_tags_only(treebank_run):
    folder, out = treebank_run
    ckpt = out / "checkpoints" / "last.ckpt"
    source = folder / "xx_test-ud-test.conllu"
    result = postag_cli("tag", "--ckpt", ckpt, "--input-format", "conllu", source)
    assert result.returncode == 0, result.stderr.decode()
    original = source.read_text(encoding="utf-8").splitlines()
    tagged = result.stdout.decode("utf-8").splitlines()
    assert len(tagged) == len(original)
    tagger = Tagger.load(ckpt, device="cpu")
    from postag.data.conllu import parse
    from postag.data.corpus import numbered_lines

    sentences = list(parse(numbered_lines(source), str(source)))
    expected_tags = [t for tags in tagger.tag_sentences([s.words for s in sentences]) for t in tags]
    got_tags = []
    for before, after in zip(original, tagged):
        a, b = before.split("\t"), after.split("\t")
        if len(a) == 10 and a[0].isdigit():
            assert a[:3] + a[4:] == b[:3] + b[4:]  # only UPOS changes
            got_tags.append(b[3])
        else:
            assert before == after  # comments, multiword tokens, empty nodes, blank lines
    assert got_tags == expected_tags and len(got_tags) == 318


def test_tag_reads_a_gzipped_file_and_stops_in_one_line_where_it_breaks_off(treebank_run, tmp_path):
    folder, out = treebank_run
    ckpt = out / "checkpoints" / "last.ckpt"
    source = folder / "xx_test-ud-test.conllu"
    packed = tmp_path / "test.conllu.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    plain = postag_cli("tag", "--ckpt", ckpt, "--input-format", "conllu", source)
    result = postag_cli("tag", "--ckpt", ckpt, "--input-format", "conllu", packed)
    assert result.returncode == 0 and result.stdout == plain.stdout
    cut = tmp_path / "cut.conllu.gz"
    cut.write_bytes(packed.read_bytes()[:-20])
    result = postag_cli("tag", "--ckpt", ckpt, "--input-format", "conllu", cut)
    (line,) = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and line.startswith(f"postag: error: {cut}:") and "not a complete gzip file" in line


def test_tag_text_as_conllu_and_refuse_tokenize_on_conllu(treebank_run, tmp_path):
    _, out = treebank_run
    ckpt = out / "checkpoints" / "last.ckpt"
    result = postag_cli("tag", "--ckpt", ckpt, "--format", "conllu", stdin="Η Αθήνα είναι\n\n我 爱 北京\n".encode())
    assert result.returncode == 0, result.stderr.decode()
    blocks = result.stdout.decode().split("\n\n")
    assert blocks[-1] == "" and len(blocks) == 3  # two sentences; the empty line writes none
    rows = [line.split("\t") for line in blocks[0].splitlines()]
    assert [r[:2] for r in rows] == [["1", "Η"], ["2", "Αθήνα"], ["3", "είναι"]]
    assert all(r[3] != "_" and r[4] == "_" and len(r) == 10 for r in rows)  # a UPOS model fills UPOS
    result = postag_cli("tag", "--ckpt", ckpt, "--input-format", "conllu", "--tokenize", stdin=b"")
    assert result.returncode == 2 and "--tokenize is for plain text" in result.stderr.decode()


def test_a_column_file_trains_with_its_word_and_tag_columns(tmp_path):
    from tiny_corpus import TINY_DIR

    def as_columns(source, target):
        # "ID<TAB>WORD<TAB>CHUNK<TAB>TAG": the word in column 1, the tag in column 3
        rows = []
        for number, line in enumerate(source.read_text().splitlines()):
            word, tag, chunk = line.split() if line.strip() else ("", "", "")
            rows.append(f"{number}\t{word}\t{chunk}\t{tag}" if word else "")
        target.write_text("\n".join(rows) + "\n")
        return target

    train = as_columns(TINY_DIR / "train.txt", tmp_path / "mine-train.tsv")
    test = as_columns(TINY_DIR / "test.txt", tmp_path / "mine-test.tsv")
    out = tmp_path / "run"
    run(
        "train.py", "data=columns", f"data.train_file={train}", f"data.test_file={test}", "data.word_column=1",
        "data.tag_column=3", "data.val_fraction=0.2", "trainer.max_epochs=2", f"data.data_dir={tmp_path / 'none'}",
        f"hydra.run.dir={out}", *SMALL_MODEL,
    )
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    vocab = checkpoint[CHECKPOINT_KEY]
    assert {"cat", "sat"} <= set(vocab["words"]) and {"NN", "VBD", "DT"} <= set(vocab["tags"])
    assert not set(vocab["tags"]) & {"B-NP", "I-NP"}  # the chunk column is not the tag
    assert vocab["conllu_column"] == "xpos"
    assert 0.0 <= json.loads((out / "metrics.json").read_text())["test/acc"] <= 1.0


def test_a_missing_test_split_stops_training_before_it_starts(tmp_path):
    folder = write_treebank(tmp_path / "UD_Test", long=False)
    (folder / "xx_test-ud-test.conllu").unlink()
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "train.py", "data=conllu", f"data.data_dir={folder}", f"hydra.run.dir={out}", *SMALL_MODEL],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"postag: error: no test split in {folder}")
    assert not (out / "checkpoints").exists()  # nothing was trained
