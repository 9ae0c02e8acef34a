"""Looking inside: attention by offset, position similarity, attention weights through the module,
Tagger.explain and `postag explain`."""

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from postag.analysis.attention import OffsetProfile, position_similarity
from postag.data import Vocabularies, collate
from postag.network.model import SequenceTooLongError
from postag.training.build import tagger_module
from postag.app.tagger import Tagger


def _profile_by_loops(weights, mask, offsets):
    """The mean weight at each offset over pairs of real tokens, one pair at a time."""
    n, (batch, h, seq, _) = len(weights), weights[0].shape
    sums, counts = torch.zeros(n, h, len(offsets)), torch.zeros(len(offsets))
    for i, d in enumerate(offsets):
        for b in range(batch):
            for q in range(seq):
                k = q + d
                if 0 <= k < seq and mask[b, q] and mask[b, k]:
                    counts[i] += 1
                    for block in range(n):
                        sums[block, :, i] += weights[block][b, :, q, k]
    return sums / counts.clamp_min(1)


def test_offset_profile_matches_a_pair_by_pair_mean_over_batches():
    torch.manual_seed(0)
    profile = OffsetProfile(max_offset=3)
    batches = []
    for lengths, seq in (([5, 2, 4], 5), ([2, 1], 2)):  # the second batch is shorter than most offsets
        mask = torch.arange(seq)[None, :] < torch.tensor(lengths)[:, None]
        weights = [torch.rand(len(lengths), 2, seq, seq) for _ in range(3)]  # n=3 blocks, h=2 heads
        profile.update(weights, mask)
        batches.append((weights, mask))
    # both batches together, as one padded batch of 5
    joined_mask = torch.zeros(5, 5, dtype=torch.bool)
    joined = [torch.zeros(5, 2, 5, 5) for _ in range(3)]
    for row, (weights, mask) in zip((0, 3), batches):
        rows, seq = mask.shape
        joined_mask[row : row + rows, :seq] = mask
        for block in range(3):
            joined[block][row : row + rows, :, :seq, :seq] = weights[block]
    expected = _profile_by_loops(joined, joined_mask, profile.offsets)
    assert profile.offsets == [-3, -2, -1, 0, 1, 2, 3]
    torch.testing.assert_close(profile.mean(), expected)
    profile.reset()
    with pytest.raises(ValueError, match="no attention weights"):
        profile.mean()


def test_a_head_that_always_looks_at_the_previous_word_shows_as_one_at_minus_one():
    seq = 6
    previous = torch.zeros(1, 1, seq, seq)
    previous[0, 0, 0, 0] = 1.0  # the first word has no previous one: itself
    for q in range(1, seq):
        previous[0, 0, q, q - 1] = 1.0
    profile = OffsetProfile(max_offset=2)
    profile.update([previous], torch.ones(1, seq, dtype=torch.bool))
    assert profile.mean()[0, 0].tolist() == [0.0, 1.0, pytest.approx(1 / 6), 0.0, 0.0]


def test_position_similarity_is_the_cosine_of_every_pair():
    positions = torch.randn(7, 5)
    expected = F.cosine_similarity(positions[:, None, :], positions[None, :, :], dim=-1)
    torch.testing.assert_close(position_similarity(positions), expected)


def _vocab_and_batch():
    train = [(["the", "cat", "sat"], ["DT", "NN", "VB"]), (["a", "dog"], ["DT", "NN"])]
    vocab = Vocabularies.from_training(train, train, min_freq=1)
    return vocab, collate([vocab.encode(w, t) for w, t in train])


@pytest.mark.parametrize("ensemble", [1, 2])
def test_forward_with_attention_gives_forwards_scores_and_the_first_taggers_weights(ensemble):
    torch.manual_seed(0)
    vocab, batch = _vocab_and_batch()
    module = tagger_module(
        vocab_size=len(vocab.words), tag_names=vocab.tags.itos, hidden_n=8, n=2, h=2, positional=True,
        char_vocab_size=len(vocab.chars), char_n=4, ensemble=ensemble,
    ).eval()
    scores, weights = module.net.forward_with_attention(batch)
    torch.testing.assert_close(scores, module(batch))
    extra = module.net.word_features(batch.chars, batch.shapes, batch.suffixes)
    _, expected = module.net.encoder(batch.tokens, batch.mask, extra, need_weights=True)
    assert len(weights) == 2 and weights[0].shape == (2, 2, 3, 3)
    for got, want in zip(weights, expected):
        torch.testing.assert_close(got, want)


@pytest.fixture(scope="module")
def checkpoint(trained_run):
    return trained_run / "checkpoints" / "last.ckpt"


def test_explain_gives_the_tags_top_probabilities_and_attention(checkpoint):
    tagger = Tagger.load(checkpoint, device="cpu")
    words = ["the", "dog", "sat", "on", "the", "mat", "."]
    explanation = tagger.explain(words, top=3)
    assert explanation.tags == tagger.tag(words)
    model = tagger.model
    blocks, heads = model.settings["n"], model.settings["h"]
    assert explanation.attention.shape == (blocks, heads, 7, 7)
    torch.testing.assert_close(explanation.attention.sum(-1), torch.ones(blocks, heads, 7))
    with torch.no_grad():
        probabilities = model(tagger.vocab.encode_batch([words]))[0].softmax(-1)  # (S, T)
    for i, best in enumerate(explanation.top):
        assert len(best) == 3 and best[0][0] == explanation.tags[i]
        values = [p for _, p in best]
        assert values == sorted(values, reverse=True)
        for tag, p in best:
            assert p == pytest.approx(float(probabilities[i, tagger.vocab.tags.stoi[tag]]), abs=1e-6)
    with pytest.raises(ValueError, match="non-empty list of words"):
        tagger.explain("the dog sat")
    with pytest.raises(SequenceTooLongError, match="up to max_len=256 tokens, got 300"):
        tagger.explain(["the"] * 300)  # tag() runs such a sentence in windows; its attention has no one map


def test_postag_explain_prints_top_tags_and_writes_the_attention_png(checkpoint, tmp_path):
    png = tmp_path / "maps.png"
    result = subprocess.run(
        [sys.executable, "-m", "postag.app.cli", "explain", "--ckpt", str(checkpoint), "--output", str(png),
         "--top", "2", "The", "old", "man", "the", "boats", "."],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    tagger = Tagger.load(checkpoint, device="cpu")
    explanation = tagger.explain(["The", "old", "man", "the", "boats", "."], top=2)
    for line, word, best in zip(lines, explanation.words, explanation.top):
        assert line.split() == [word] + [part for tag, p in best for part in (tag, f"{p:.3f}")]
    assert lines[-1].startswith("attention maps, ") and png.read_bytes().startswith(b"\x89PNG")


def test_views_are_drawn_every_n_epochs_and_after_the_last(tmp_path):
    from types import SimpleNamespace

    from lightning.pytorch.loggers import TensorBoardLogger

    from postag.analysis.views import ValidationView

    view = ValidationView(every_n_epochs=5)
    trainer = SimpleNamespace(is_global_zero=True, loggers=[TensorBoardLogger(tmp_path)], sanity_checking=False, max_epochs=12)
    drawn = [epoch + 1 for epoch in range(12) if view.due(SimpleNamespace(**{**vars(trainer), "current_epoch": epoch}))]
    assert drawn == [5, 10, 12]
    assert not view.due(SimpleNamespace(**{**vars(trainer), "current_epoch": 4, "sanity_checking": True}))
    assert not view.due(SimpleNamespace(**{**vars(trainer), "current_epoch": 4, "loggers": []}))  # no TensorBoard
    with pytest.raises(ValueError, match="at least 1"):
        ValidationView(every_n_epochs=0)
