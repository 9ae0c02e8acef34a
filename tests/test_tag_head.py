"""The tag head of a joint tag scored by its columns (model.joint_head=columns) and the loss that
also trains each column (model.column_weight), against direct computations; one-column tags keep
the plain linear head."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from postag.data import IGNORE_INDEX, Vocabularies, collate
from postag.network.tag_head import ColumnsHead, tag_head
from postag.training.build import tagger_module

TAGS = ["NOUN NN", "NOUN NNS", "VERB VBZ", "DET DT", "VERB NN"]
TRAIN = [
    (["the", "cat", "sleeps", "."], ["DET DT", "NOUN NN", "VERB VBZ", "PUNCT ."]),
    (["cats", "sleep"], ["NOUN NNS", "VERB VBP"]),
    (["a", "dog", "barks", "at", "the", "cats", "."], ["DET DT", "NOUN NN", "VERB VBZ", "ADP IN", "DET DT", "NOUN NNS", "PUNCT ."]),
]


def test_a_joint_tags_score_is_the_sum_of_its_columns_scores_and_its_own_bias():
    torch.manual_seed(0)
    head = ColumnsHead(6, TAGS, columns=2)
    assert head.values == [["DET", "NOUN", "VERB"], ["DT", "NN", "NNS", "VBZ"]]
    with torch.no_grad():
        head.bias.normal_()
    hidden = torch.randn(2, 3, 6)
    upos, xpos = head.column_logits(hidden)  # (B, S, 3), (B, S, 4)
    assert upos.shape == (2, 3, 3) and xpos.shape == (2, 3, 4)
    expected = torch.stack(
        [upos[..., head.values[0].index(u)] + xpos[..., head.values[1].index(x)] + head.bias[t]
         for t, (u, x) in enumerate(tag.split() for tag in TAGS)],
        dim=-1,
    )  # (B, S, T)
    torch.testing.assert_close(head(hidden), expected)


def test_each_column_target_is_the_gold_joint_tags_value_and_padding_stays_ignored():
    head = ColumnsHead(4, TAGS, columns=2)
    labels = torch.tensor([[4, 0, len(TAGS), IGNORE_INDEX]])  # VERB NN, NOUN NN, a tag training never saw, padding
    upos, xpos = head.column_targets(labels)
    assert upos.tolist() == [[2, 1, IGNORE_INDEX, IGNORE_INDEX]]
    assert xpos.tolist() == [[1, 1, IGNORE_INDEX, IGNORE_INDEX]]


def test_one_column_and_the_flat_head_are_the_linear_layer():
    for head in (tag_head(8, ["NN", "VB"]), tag_head(8, TAGS, tag_columns=2), tag_head(8, ["NN", "VB"], 1, "columns")):
        assert type(head) is nn.Linear and head.out_features == len(head.weight)
    assert isinstance(tag_head(8, TAGS, 2, "columns"), ColumnsHead)
    with pytest.raises(ValueError, match="model.joint_head must be one of flat, columns, got 'sum'"):
        tag_head(8, TAGS, 2, "sum")
    with pytest.raises(ValueError, match="tag 'NOUN' does not have the 2 columns' values of a joint tag"):
        ColumnsHead(8, ["NOUN", "VERB VB"], columns=2)


def _module(vocab, **kwargs):
    settings = dict(vocab_size=len(vocab.words), tag_names=vocab.tags.itos, tag_columns=2, hidden_n=8, n=1, h=2, dropout=0.0)
    return tagger_module(**{**settings, **kwargs})


@pytest.mark.parametrize(
    "ensemble,max_len,column_weight",
    # one tagger; two, in windows of long sentences; a weight of its own for each column
    [(1, 256, 0.7), (2, 4, 0.7), (1, 256, [0.7, 0.2])],
)
def test_the_loss_adds_each_columns_cross_entropy_at_column_weight(ensemble, max_len, column_weight):
    torch.manual_seed(0)
    vocab = Vocabularies.from_training(TRAIN, TRAIN, min_freq=1)
    batch = collate([vocab.encode(w, t) for w, t in TRAIN])
    model = _module(vocab, joint_head="columns", column_weight=column_weight, ensemble=ensemble, positional=True, max_len=max_len)
    weights = column_weight if isinstance(column_weight, list) else [column_weight] * 2
    loss, preds = model.train().model_step(batch)
    assert preds.shape == batch.tokens.shape

    joint = model.net.member_logits(batch)  # the joint tags' logits, as without the column losses
    plain = torch.stack([F.cross_entropy(x.flatten(0, 1), batch.labels.flatten(), ignore_index=IGNORE_INDEX) for x in joint])
    columns = []
    with_columns = model.net.member_logits(batch, columns=columns)
    for a, b in zip(joint, with_columns):
        torch.testing.assert_close(a, b)
    targets = model.net.head.column_targets(batch.labels)
    by_hand = []
    for values in columns:
        assert [v.shape[-1] for v in values] == [len(v) for v in model.net.head.values]
        by_hand.append(sum(
            w * F.cross_entropy(v.flatten(0, 1), t.flatten(), ignore_index=IGNORE_INDEX)
            for w, v, t in zip(weights, values, targets)
        ))
    torch.testing.assert_close(loss, (plain + torch.stack(by_hand)).mean())
    assert model.hparams.column_weight == column_weight  # a plain value, as the checkpoint keeps it
    # validation and test score the joint cross-entropy alone
    torch.testing.assert_close(model.eval().model_step(batch)[0], plain.mean())


def test_column_weight_leaves_a_one_column_model_as_it_was():
    torch.manual_seed(0)
    train = [(words, [tag.split()[0] for tag in tags]) for words, tags in TRAIN]
    vocab = Vocabularies.from_training(train, train, min_freq=1)
    batch = collate([vocab.encode(w, t) for w, t in train])
    torch.manual_seed(1)
    plain = _module(vocab, tag_columns=1)
    torch.manual_seed(1)
    weighted = _module(vocab, tag_columns=1, joint_head="columns", column_weight=0.7)
    assert [n for n, _ in plain.named_parameters()] == [n for n, _ in weighted.named_parameters()]
    torch.testing.assert_close(plain.train().model_step(batch)[0], weighted.train().model_step(batch)[0])
    with pytest.raises(ValueError, match=r"model.column_weight must be 0 \(off\), a positive number or a list of one per column, got -1"):
        _module(vocab, tag_columns=1, column_weight=-1.0)


def test_a_list_of_column_weights_names_one_per_column():
    vocab = Vocabularies.from_training(TRAIN, TRAIN, min_freq=1)
    with pytest.raises(ValueError, match="model.column_weight lists 3 weights for a tag of 2 columns"):
        _module(vocab, joint_head="columns", column_weight=[1.0, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"must be 0 \(off\), a positive number or a list of one per column, got \[1.0, -0.5\]"):
        _module(vocab, joint_head="columns", column_weight=[1.0, -0.5])
