"""The exported tagger: ONNX scores against the PyTorch network, its tags against `Tagger`'s (windows
included), `postag export` and `postag tag --onnx`, and the runtime in an environment without torch."""

import json
import os
import subprocess
import sys
import venv
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from conftest import FIXTURES, ROOT
from postag.app.tagger import Tagger
from postag.data import Vocabularies, make_reader, read_conll
from postag.data.span_tags import continues
from postag.network.tagging import TaggingNetwork, data_arguments
from postag.errors import InputError
from postag.portable import FORMAT_VERSION, MODEL_FILE, SETTINGS_FILE
from postag.portable.export import export_network, graph_inputs
from postag.portable.runtime import OnnxTagger

TRAIN = read_conll(FIXTURES / "train.txt")
TEST = [words for words, _ in read_conll(FIXTURES / "test.txt")]


def every_part(**settings) -> tuple[TaggingNetwork, Vocabularies]:
    """An untrained network with every word feature, offsets, convolutions, positions and two taggers."""
    torch.manual_seed(0)
    vocab = Vocabularies.from_training(TRAIN, TRAIN, min_freq=1)
    net = TaggingNetwork(
        **data_arguments(vocab), hidden_n=24, n=2, h=3, positional=True, max_len=8, max_offset=2, conv_kernel=3,
        char_n=8, char_kernels=(3, 5), shape_features=True, affix_features=True, norm_features=True, ensemble=2,
        **settings,
    ).eval()
    return net, vocab


def cli(*args, python=sys.executable, stdin=None):
    return subprocess.run([python, "-m", "postag.app.cli", *map(str, args)], input=stdin, capture_output=True,
                          timeout=300)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    net, vocab = every_part()
    directory = tmp_path_factory.mktemp("exported")
    assert export_network(net, vocab, directory) == [directory / MODEL_FILE, directory / SETTINGS_FILE]
    return net, vocab, directory


def test_the_onnx_graph_gives_the_networks_scores_for_every_batch_shape(exported):
    net, vocab, directory = exported
    session = onnxruntime.InferenceSession(str(directory / MODEL_FILE), providers=["CPUExecutionProvider"])
    inputs = [i.name for i in session.get_inputs()]
    assert inputs == ["tokens", "mask", "char_ids", "char_word", "char_index", "char_slots", "shapes", "suffixes", "affixes",
                      "norms"]
    for sentences in (TEST, TEST[1:2], [["An", "unseen", "Word-form", "1,234"]] + TEST[:5]):
        sentences = [words[:8] for words in sentences]  # within the positions: the graph holds no windows
        batch = vocab.encode_batch(sentences)
        with torch.no_grad():
            expected = net(batch)  # (B, S, T)
        scores = session.run(None, {name: value.numpy() for name, value in graph_inputs(batch, inputs).items()})[0]
        mask = batch.mask.numpy()
        np.testing.assert_allclose(scores[mask], expected.numpy()[mask], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("threads", [1, 3])
def test_the_runtime_tags_as_the_tagger_does_windows_and_empty_sentences_included(exported, threads):
    """One batch after another, or batches side by side: the same tags in input order."""
    net, vocab, directory = exported
    long = ([w for words in TEST for w in words] * 3)[:50]  # 11 windows of the 8 positions
    sentences = [*TEST, [], long]
    runtime = OnnxTagger.load(directory, batch_size=3, threads=threads)
    assert runtime.workers == threads
    tags = runtime.tag_sentences(sentences)
    assert tags == Tagger(net, vocab).tag_sentences(sentences)
    assert tags == [runtime.tag(words) for words in sentences]  # each sentence as on its own
    assert runtime.tag([]) == [] and runtime.conllu_column == "xpos"
    with pytest.raises(TypeError, match="lists of words"):
        runtime.tag_sentences(["a sentence as one string"])


def test_an_export_of_another_format_is_refused_in_one_line(exported, tmp_path):
    _, _, directory = exported
    settings = json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
    (tmp_path / MODEL_FILE).write_bytes((directory / MODEL_FILE).read_bytes())
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({**settings, "format": FORMAT_VERSION - 1}), encoding="utf-8")
    with pytest.raises(InputError, match=f"format {FORMAT_VERSION - 1}, expected {FORMAT_VERSION} .*postag export"):
        OnnxTagger.load(tmp_path)


def test_a_network_reading_words_alone_exports_two_inputs(tmp_path):
    torch.manual_seed(0)
    vocab = Vocabularies.from_training(TRAIN, TRAIN, min_freq=1)
    net = TaggingNetwork(**data_arguments(vocab), hidden_n=16, n=1, h=2).eval()  # no positions: no windows
    export_network(net, vocab, tmp_path)
    runtime = OnnxTagger.load(tmp_path)
    assert runtime.inputs == ["tokens", "mask"] and runtime.max_len is None
    long = [w for words in TEST for w in words] * 16  # 304 words
    assert runtime.tag_sentences([*TEST, long]) == Tagger(net, vocab).tag_sentences([*TEST, long])


def test_export_and_tag_onnx_commands_give_the_checkpoints_tags(trained_run, tmp_path):
    checkpoint = trained_run / "checkpoints" / "last.ckpt"
    result = cli("export", "--ckpt", checkpoint, "--output", tmp_path / "model")
    assert result.returncode == 0, result.stderr.decode()
    assert "model.onnx, tagger.json" in result.stdout.decode() and result.stderr.decode() == ""
    text = "\n".join([" ".join(words) for words in TEST] + ["", "word " * 300]).encode()  # 300 > 256 positions
    exported = cli("tag", "--onnx", tmp_path / "model", "--format", "inline", stdin=text)
    original = cli("tag", "--ckpt", checkpoint, "--format", "inline", stdin=text)
    assert exported.returncode == 0, exported.stderr.decode()
    assert exported.stdout == original.stdout and len(exported.stdout.splitlines()) == len(TEST) + 2
    # CoNLL-U in, CoNLL-U out: the file as it was, the tags in the model's column
    conllu = "".join(
        "# sent_id = %d\n" % i + "".join(f"{j}\t{w}\t_\t_\t_\t_\t_\t_\t_\t_\n" for j, w in enumerate(words, 1)) + "\n"
        for i, words in enumerate(TEST, 1)
    ).encode()
    exported = cli("tag", "--onnx", tmp_path / "model", "--input-format", "conllu", stdin=conllu)
    original = cli("tag", "--ckpt", checkpoint, "--input-format", "conllu", stdin=conllu)
    assert exported.returncode == 0 and exported.stdout == original.stdout
    assert exported.stdout.decode().splitlines()[:2] == ["# sent_id = 1", "1\t" + TEST[0][0] + "\t_\t_\t" +
                                                          Tagger.load(checkpoint, device="cpu").tag(TEST[0])[0] + "\t_\t_\t_\t_\t_"]


def test_the_runtime_runs_where_torch_is_not_installed(trained_run, tmp_path):
    """pip install --no-deps postag beside onnxruntime and numpy alone: `postag tag --onnx` works."""
    checkpoint = trained_run / "checkpoints" / "last.ckpt"
    assert cli("export", "--ckpt", checkpoint, "--output", tmp_path / "model").returncode == 0
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "onnxruntime", "numpy"], check=True, timeout=600)
    subprocess.run([*pip, "--no-deps", str(ROOT)], check=True, timeout=600, cwd=tmp_path)
    missing = subprocess.run([str(python), "-c", "import torch"], capture_output=True)
    assert missing.returncode != 0 and b"No module named 'torch'" in missing.stderr
    text = "\n".join(" ".join(words) for words in TEST).encode()
    env = {**os.environ, "PYTHONPATH": ""}
    tagged = subprocess.run(
        [str(env_dir / "bin" / "postag"), "tag", "--onnx", str(tmp_path / "model"), "--format", "inline"],
        input=text, capture_output=True, timeout=300, cwd=tmp_path, env=env,
    )
    assert tagged.returncode == 0, tagged.stderr.decode()
    expected = Tagger.load(checkpoint, device="cpu").tag_sentences(TEST)
    assert tagged.stdout.decode() == "".join(
        " ".join(f"{w}/{t}" for w, t in zip(words, tags)) + "\n" for words, tags in zip(TEST, expected)
    )
    assert Path(tmp_path / "model" / SETTINGS_FILE).stat().st_size > 0


def test_the_runtime_and_the_tagger_keep_chunks_opening_with_b_windows_included(tmp_path):
    train = make_reader("conll2000", tag_column="chunk").read(FIXTURES / "train.txt")
    torch.manual_seed(0)
    vocab = Vocabularies.from_training(train, train, min_freq=1, conllu_column="chunk")
    assert vocab.spans_open_with_b
    net = TaggingNetwork(**data_arguments(vocab), hidden_n=16, n=1, h=2, positional=True, max_len=8).eval()
    with torch.no_grad():  # I-NP the best tag of every token: ill-formed wherever a sentence opens
        net.head.bias[vocab.tags.stoi["I-NP"]] += 5.0
    export_network(net, vocab, tmp_path)
    sentences = [*TEST, [w for words in TEST for w in words]]  # the last one in windows of 8
    tagged = Tagger(net, vocab).tag_sentences(sentences)
    assert all(continues(previous, tag) for tags in tagged for previous, tag in zip(["O", *tags], tags))
    assert sum(tag == "I-NP" for tags in tagged for tag in tags) > len(sentences)  # decoded, not replaced
    assert OnnxTagger.load(tmp_path).tag_sentences(sentences) == tagged
    token_by_token = Tagger(net, replace(vocab, spans_open_with_b=False)).tag_sentences(sentences)
    assert [tags[0] for tags in token_by_token] == ["I-NP"] * len(sentences)
