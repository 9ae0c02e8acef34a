"""Adversarial training (model.adversarial): the perturbation, and the loss it adds, against a
direct computation."""

import pytest
import torch
import torch.nn.functional as F

from postag.training.losses import adversarial_perturbation
from postag.data import IGNORE_INDEX, Vocabularies, collate
from postag.network.tagging import features_of
from postag.training.build import tagger_module

TRAIN = [
    (["the", "cat", "sat", "on", "the", "mat", "."], ["DT", "NN", "VBD", "IN", "DT", "NN", "."]),
    (["a", "dog"], ["DT", "NN"]),
    (["dogs", "sat", "."], ["NNS", "VBD", "."]),
]


def test_perturbation_moves_each_token_by_epsilon_on_average_along_the_gradient():
    torch.manual_seed(0)
    grad = torch.randn(4, 5, 3)
    grad[3] = 0.0  # a sentence the loss does not depend on
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 0, 0]], dtype=torch.bool)
    step = adversarial_perturbation(grad.requires_grad_(), mask, epsilon=0.5)
    assert not step.requires_grad
    assert (step[~mask] == 0).all()  # nothing on padding
    assert (step[2] == 0).all() and (step[3] == 0).all()  # all padding; a zero gradient
    for b, real in ((0, 5), (1, 2)):
        torch.testing.assert_close(torch.linalg.vector_norm(step[b]), torch.tensor(0.5 * real**0.5))
        # the direction of the gradient over the real tokens
        direction = grad[b, :real].detach()
        torch.testing.assert_close(step[b, :real], direction * (0.5 * real**0.5 / direction.norm()))


def _module(vocab, **kwargs):
    return tagger_module(
        vocab_size=len(vocab.words), tag_names=vocab.tags.itos, hidden_n=8, n=1, h=2, dropout=0.0, **kwargs
    )


def test_training_loss_adds_the_loss_at_inputs_moved_along_the_gradient():
    torch.manual_seed(0)
    vocab = Vocabularies.from_training(TRAIN, TRAIN, min_freq=1)
    batch = collate([vocab.encode(w, t) for w, t in TRAIN])
    model = _module(vocab, positional=True, char_vocab_size=len(vocab.chars), char_n=4, adversarial=0.3).train()
    loss, _ = model.model_step(batch)

    # by hand: the plain loss, its gradient at the word features, the loss at the moved inputs
    targets = batch.labels.flatten()

    def loss_at(extra):
        logits = model.net.head(model.net.encoder(batch.tokens, batch.mask, extra))
        return F.cross_entropy(logits.flatten(0, 1), targets, ignore_index=IGNORE_INDEX)

    extra = features_of(model.net.word_features, batch)
    clean = loss_at(extra)
    (grad,) = torch.autograd.grad(clean, extra, retain_graph=True)
    real = batch.mask.sum(1, keepdim=True).unsqueeze(-1)  # (B, 1, 1)
    step = 0.3 * real.sqrt() * grad / torch.linalg.vector_norm(grad, dim=(1, 2), keepdim=True)
    moved = loss_at(extra + step)
    torch.testing.assert_close(loss, clean + moved)
    assert moved > clean  # the step raises the loss
    loss.backward()
    assert model.net.word_features.chars.embedding.weight.grad.abs().sum() > 0

    # validation and test: the plain loss alone
    model.eval()
    torch.testing.assert_close(model.model_step(batch)[0], clean)


def test_adversarial_training_without_word_features_and_in_windows():
    # No word features: the step is taken on the embeddings themselves. Sentences longer than
    # the position table run in windows, and the step follows them.
    torch.manual_seed(0)
    vocab = Vocabularies.from_training(TRAIN, TRAIN, min_freq=1)
    batch = collate([vocab.encode(w, t) for w, t in TRAIN])
    assert batch.tokens.size(1) == 7
    model = _module(vocab, positional=True, max_len=4, adversarial=0.3, ensemble=2).train()
    loss, preds = model.model_step(batch)
    assert preds.shape == batch.tokens.shape
    plain = model.eval().model_step(batch)[0]
    assert loss > 2 * plain  # the moved inputs' loss is above the plain one
    model.train()
    model.zero_grad()
    model.model_step(batch)[0].backward()
    assert model.net.encoder.token_embedding.weight.grad.abs().sum() > 0


def test_adversarial_must_not_be_negative():
    vocab = Vocabularies.from_training(TRAIN, TRAIN, min_freq=1)
    with pytest.raises(ValueError, match="model.adversarial must be 0 \\(off\\) or positive, got -1"):
        _module(vocab, adversarial=-1.0)
