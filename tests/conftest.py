"""Shared by the end-to-end tests: running the entry points, and one short trained run."""

import subprocess
import sys
from pathlib import Path

import pytest

from tiny_corpus import TINY_DIR as FIXTURES

ROOT = Path(__file__).resolve().parent.parent
SMALL_MODEL = ["model.hidden_n=16", "model.h=2", "model.n=1", "data.batch_size=4"]


def run(script, *overrides, cwd=ROOT, timeout=300, check=True):
    """A script of the project run as a user runs it; with ``check``, it must succeed."""
    result = subprocess.run(
        [sys.executable, str(ROOT / script), *overrides],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert not check or result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def postag_cli(*args, stdin=None, timeout=300):
    """The postag command, as a user runs it; its CompletedProcess, output as bytes."""
    return subprocess.run([sys.executable, "-m", "postag.app.cli", *map(str, args)], input=stdin, capture_output=True,
                          timeout=timeout)


def exported_and_spacy_tags(ckpt, directory, sentences):
    """(the ONNX runtime's tags of ``sentences`` after ``postag export`` of ``ckpt`` into ``directory``,
    the spaCy component's outputs of the first sentence as "pos_ tag_ lemma_ morph" per token)."""
    spacy = pytest.importorskip("spacy")
    from spacy.tokens import Doc

    from postag.app.spacy_component import PostagComponent
    from postag.app.tagger import Tagger
    from postag.portable.runtime import OnnxTagger

    exported = postag_cli("export", "--ckpt", ckpt, "--output", directory)
    assert exported.returncode == 0, exported.stderr.decode()
    doc = Doc(spacy.blank("en").vocab, words=sentences[0])
    PostagComponent(Tagger.load(ckpt, device="cpu"))(doc)
    return OnnxTagger.load(directory).tag_sentences(sentences), doc


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A short real run (debug=limit) with checkpoints and TensorBoard logs."""
    out = tmp_path_factory.mktemp("train") / "run"
    run(
        "train.py",
        "debug=limit",
        "trainer.max_epochs=15",
        "trainer.log_every_n_steps=1",
        "model=pos",
        "model.lr=0.01",
        "model.warmup_steps=1",
        "seed=0",
        f"data.data_dir={FIXTURES}",
        "data.val_fraction=0.2",
        f"hydra.run.dir={out}",
        *SMALL_MODEL,
    )
    return out


def assert_exported_tags_match(checkpoint, sentences, directory):
    """`postag export` of a checkpoint tags at least 99.99% of the tokens of ``sentences`` as the
    checkpoint's Tagger does, and a sentence longer than its positions alike."""
    from postag.app.tagger import Tagger
    from postag.portable.export import export
    from postag.portable.runtime import OnnxTagger

    export(checkpoint, directory)
    tagger, exported = Tagger.load(checkpoint, device="cpu"), OnnxTagger.load(directory)
    long = [word for words in sentences[:60] for word in words][:700]
    assert len(long) == 700 and tagger.model.encoder.max_len < 700
    sentences = [*sentences, long]
    pairs = [(a, b) for x, y in zip(tagger.tag_sentences(sentences), exported.tag_sentences(sentences)) for a, b in zip(x, y)]
    assert len(pairs) == sum(map(len, sentences))
    differing = sum(a != b for a, b in pairs)
    assert differing <= 1e-4 * len(pairs), f"{differing} of {len(pairs)} tokens tagged differently"
    assert tagger.tag(long) == exported.tag(long)
