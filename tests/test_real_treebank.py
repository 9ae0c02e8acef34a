"""UD_English-LinES from $POSTAG_UD_DIR: the CoNLL-U reader on a real treebank, and a short real run."""

import json
import os

import pytest

from conftest import assert_exported_tags_match, run
from postag.data import ConlluReader, TaggingDataModule

UD_DIR = os.environ.get("POSTAG_UD_DIR")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not UD_DIR or ConlluReader().find(UD_DIR, "train") is None,
        reason="set POSTAG_UD_DIR to a folder with a UD treebank (UD_English-LinES)",
    ),
]


def test_lines_has_its_published_sizes_and_tag_sets():
    reader = ConlluReader("upos")
    sizes = {}
    for split in ("train", "dev", "test"):
        sentences = reader.read(reader.find(UD_DIR, split))
        sizes[split] = (len(sentences), sum(len(words) for words, _ in sentences))
    assert sizes == {"train": (3457, 64684), "dev": (1118, 21637), "test": (1121, 19984)}
    train = reader.read(reader.find(UD_DIR, "train"))
    assert len({t for _, tags in train for t in tags}) == 17


def test_xpos_tags_unseen_in_training_are_counted_not_fatal():
    dm = TaggingDataModule(format="conllu", data_dir=UD_DIR, tag_column="xpos")
    dm.setup("fit")
    dm.setup("test")
    assert len(dm.unseen_tags["val"]) == 13 and len(dm.unseen_tags["test"]) == 6
    assert dm.vocab.conllu_column == "xpos" and len(dm.val_set) == 1118  # the dev split validates


def test_a_short_run_on_lines_learns_upos(tmp_path):
    out = tmp_path / "run"
    run(
        "train.py", "data=conllu", f"data.data_dir={UD_DIR}", "model=char", "trainer.max_epochs=3",
        "model.warmup_steps=50", "callbacks.progress_bar=null", f"hydra.run.dir={out}", timeout=600,
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test/acc"] >= 0.88, metrics  # most frequent tag: 88.06
    # exported to ONNX, the checkpoint tags the test split as it does in PyTorch
    reader = ConlluReader()
    test = [words for words, _ in reader.read(reader.find(UD_DIR, "test"))]
    assert_exported_tags_match(out / "checkpoints" / "last.ckpt", test, tmp_path / "exported")
