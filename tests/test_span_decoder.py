"""The span decoder: the best well-formed sequence, against every sequence enumerated; what it
decodes and what it leaves to the best tag token by token; the flag the vocabularies keep."""

from itertools import product

import numpy as np
import pytest
import torch

from postag.data import Vocabularies
from postag.data.span_tags import continues, spans_open_with_b
from postag.network.span_decoder import SpanDecoder, span_decoder
from postag.network.tagging import best_tags

# joint tags of a POS column and a chunk column, as CoNLL-2000's pos+chunk
JOINT = ["DT B-NP", "NN I-NP", "NN B-NP", "VBZ B-VP", "VBZ I-VP", "IN B-PP", "IN O", ". O", "NN O"]


def span_value(tag: str) -> str:
    return tag.split()[1]


def well_formed(tags: list[str]) -> bool:
    return all(continues(previous, tag) for previous, tag in zip(["O", *tags], tags))


def best_by_enumeration(scores: np.ndarray) -> tuple[float, tuple[int, ...]]:
    """The highest total of a well-formed sequence of one sentence's scores (S, T), and the sequence."""
    candidates = (
        (sum(scores[s, t] for s, t in enumerate(path)), path)
        for path in product(range(scores.shape[1]), repeat=scores.shape[0])
        if well_formed([span_value(JOINT[t]) for t in path])
    )
    return max(candidates)


@pytest.mark.parametrize("seed", range(6))
def test_the_decoder_finds_the_best_well_formed_sequence_of_every_sentence_of_a_padded_batch(seed):
    rng = np.random.default_rng(seed)
    lengths = np.array([4, 1, 3])
    scores = rng.normal(size=(3, 4, len(JOINT))).astype(np.float32)
    scores[:, :, 1] += 1.5  # NN I-NP likely everywhere: the best tag token by token is often ill-formed
    decoded = SpanDecoder([span_value(t) for t in JOINT]).best(scores, lengths)
    assert decoded.shape == (3, 4)
    for row, length in enumerate(lengths):
        path = decoded[row, :length]
        assert well_formed([span_value(JOINT[t]) for t in path])
        total, _ = best_by_enumeration(scores[row, :length])
        assert scores[row, np.arange(length), path].sum() == pytest.approx(total, abs=1e-5)
        alone = SpanDecoder([span_value(t) for t in JOINT]).best(scores[row : row + 1, :length], lengths[row : row + 1])
        assert alone[0].tolist() == path.tolist()  # padding changes nothing


def test_a_well_formed_best_sequence_token_by_token_is_kept_and_an_ill_formed_one_is_not():
    names = ["B-NP", "I-NP", "O"]
    decoder = SpanDecoder(names)
    good = np.log(np.array([[[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.1, 0.7]]], dtype=np.float32))
    assert decoder.best(good, np.array([3])).tolist() == [[0, 1, 2]]
    # O then I-NP by a hair: the best well-formed reading opens the span with B
    bad = np.log(np.array([[[0.1, 0.3, 0.6], [0.45, 0.5, 0.05]]], dtype=np.float32))
    assert bad.argmax(-1).tolist() == [[2, 1]]
    assert decoder.best(bad, np.array([2])).tolist() == [[2, 0]]
    # a sentence never opens with I
    assert decoder.best(np.log(np.array([[[0.3, 0.6, 0.1]]], dtype=np.float32)), np.array([1])).tolist() == [[0]]


def test_best_tags_decodes_torch_scores_on_their_device_and_argmaxes_without_a_decoder():
    scores = torch.log(torch.tensor([[[0.1, 0.3, 0.6], [0.45, 0.5, 0.05], [0.2, 0.2, 0.6]]]))  # (1, 3, 3)
    mask = torch.tensor([[True, True, False]])
    assert best_tags(scores, mask).tolist() == [[2, 1, 2]]
    decoded = best_tags(scores, mask, SpanDecoder(["B-NP", "I-NP", "O"]))
    assert decoded[0, :2].tolist() == [2, 0] and decoded.dtype == torch.long and decoded.device == scores.device


@pytest.mark.parametrize(
    "sentences, columns, expected",
    [
        ([["B-NP", "I-NP", "O"], ["B-VP", "B-NP"]], 1, True),  # IOB2
        ([["O", "I-NP", "I-NP"]], 1, False),  # IOB1: an I opens a span
        ([["B-NP", "I-VP"]], 1, False),  # a type change under I
        ([["I-NP"]], 1, False),  # a sentence opened by I
        ([["DT B-NP", "NN I-NP"], ["IN O"]], 2, True),  # the span column of a joint tag
        ([["DT O", "NN I-NP"]], 2, False),
        ([["NN", "VB"]], 1, False),  # no spans
        ([["B-NP", "E-NP", "O"]], 1, True),  # an E closing the span its B opened
    ],
)
def test_spans_open_with_b_reads_the_training_tags(sentences, columns, expected):
    assert spans_open_with_b(sentences, columns) is expected


def test_the_vocabularies_keep_whether_spans_open_with_b_and_a_decoder_follows_from_it():
    iob2 = [(["The", "cat", "sat"], ["DT B-NP", "NN I-NP", "VBD B-VP"])]
    vocab = Vocabularies.from_training(iob2, iob2, min_freq=1, conllu_column="xpos+chunk")
    assert vocab.spans_open_with_b
    restored = Vocabularies.from_state_dict(vocab.state_dict())
    assert restored.spans_open_with_b
    assert isinstance(span_decoder(restored.tags.itos, restored.conllu_column, restored.spans_open_with_b), SpanDecoder)
    older = {k: v for k, v in vocab.state_dict().items() if k != "spans_open_with_b"}  # a checkpoint from before
    assert not Vocabularies.from_state_dict(older).spans_open_with_b
    iob1 = [(["The", "cat"], ["DT I-NP", "NN I-NP"])]
    assert not Vocabularies.from_training(iob1, iob1, min_freq=1, conllu_column="xpos+chunk").spans_open_with_b
    pos = [(["The", "cat"], ["DT", "NN"])]
    plain = Vocabularies.from_training(pos, pos, min_freq=1)
    assert span_decoder(plain.tags.itos, plain.conllu_column, True) is None  # no span column: token by token
    assert span_decoder(vocab.tags.itos, vocab.conllu_column, False) is None
