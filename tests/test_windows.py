"""Sentences longer than the position table: windows, checked against running each window directly."""

import pytest
import torch

from postag.data import IGNORE_INDEX, Batch, Example, Vocabularies, collate
from postag.training.build import tagger_module
from postag.network.windows import window_plan, windowed


@pytest.mark.parametrize("length, size", [(10, 4), (9, 5), (7, 1), (3, 2), (300, 256), (513, 256), (4, 4), (2, 8)])
def test_every_token_is_read_from_a_window_that_holds_it_with_context_on_both_sides(length, size):
    count, step, owner, offset = window_plan(length, size)
    assert owner.shape == offset.shape == (length,)
    assert ((offset >= 0) & (offset < size)).all()
    assert (owner * step + offset == torch.arange(length)).all()  # the window's token is the sentence's
    assert (count - 1) * step + size >= length  # the windows cover the sentence
    for p in range(length):
        context = min(size // 4, p, length - 1 - p)
        assert offset[p] >= context and size - 1 - offset[p] >= min(context, length - 1 - p)


def _batch(lengths, vocab_size=20, seed=0):
    generator = torch.Generator().manual_seed(seed)
    examples = []
    for n in lengths:
        words = torch.randint(2, vocab_size, (n,), generator=generator)
        chars = torch.randint(2, 9, (n, 3), generator=generator)
        examples.append((words, torch.randint(0, 3, (n,), generator=generator), chars, torch.ones(n, dtype=torch.long), words % 5))
    return collate([Example(*e) for e in examples])


def test_windowed_equals_running_each_tokens_own_window():
    batch = _batch([11, 6, 0, 9])
    size = 4
    torch.manual_seed(0)
    embed = torch.nn.Embedding(20, 3)

    def run(part: Batch) -> torch.Tensor:
        # depends on the whole window (its sum over real tokens), so a wrong window shows
        x = embed(part.tokens) * part.mask[..., None]
        return x + x.sum(dim=1, keepdim=True) + part.chars.sum(-1, keepdim=True)  # (B, S, 3)

    out = windowed(run, batch, size)
    assert out.shape == (4, 11, 3)
    _, step, owner, offset = window_plan(11, size)
    for b in range(4):
        for p in range(11):
            start = int(owner[p]) * step
            part = Batch(**{k: v[b : b + 1, start : start + size] for k, v in vars(batch).items()})
            expected = run(part)[0, int(offset[p])]
            assert torch.allclose(out[b, p], expected), (b, p)
    assert torch.equal(windowed(run, batch, 11), run(batch))  # short enough: one ordinary run


def test_windowed_pads_every_field_as_collate_does():
    batch = _batch([7, 2])
    seen = []

    def run(part: Batch) -> torch.Tensor:
        seen.append(part)
        return part.tokens[..., None].float()

    windowed(run, batch, 4)
    part = seen[0]  # 3 windows x 2 sentences, each 4 long
    assert part.tokens.shape == (6, 4) and part.chars.shape[:2] == (6, 4)
    padding = ~part.mask
    assert (part.tokens[padding] == 0).all() and (part.labels[padding] == IGNORE_INDEX).all()
    assert (part.shapes[padding] == 0).all() and (part.chars[padding] == 0).all()


def test_a_model_with_positions_trains_and_tags_sentences_longer_than_them():
    train = [(["the", "cat", "sat", "on", "the", "mat", "."] * 3, ["DT", "NN", "VBD", "IN", "DT", "NN", "."] * 3)]
    vocab = Vocabularies.from_training(train, train, min_freq=1)
    model = tagger_module(
        vocab_size=len(vocab.words), tag_names=vocab.tags.itos, char_vocab_size=len(vocab.chars),
        suffix_vocab_size=len(vocab.suffixes), hidden_n=8, n=1, h=2, positional=True, max_len=8, char_n=4,
        shape_features=True,
    )
    batch = collate([vocab.encode(*train[0]), vocab.encode(["the", "cat"], ["DT", "NN"])])  # 21 tokens, 8 positions
    loss, preds = model.model_step(batch)
    assert preds.shape == (2, 21) and torch.isfinite(loss)
    loss.backward()
    assert model.net.encoder.position_embedding.weight.grad.abs().sum() > 0
