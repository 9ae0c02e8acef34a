"""The best tags of sentences whose span tags open every span with B (IOB2).

A tagger scores each token's tags on its own, so its best tag of each token can make a sequence
its training data never had: ``O I-NP``, which conlleval reads as a span that opens with I. Where
the training tags never do that (``postag.data.span_tags.spans_open_with_b``), the decoder picks
the sequence of the highest total score among those that do not either (Viterbi), a token's
scores being its tag scores (log-probabilities up to a constant per token). A sequence that is
well-formed already is what the token-by-token best gives.

Only a tag's span value (a joint tag's span column) decides what may follow it, so the search runs
over the K span values, each token's score of a value being that of its best tag with that value.
numpy only: the ONNX runtime decodes with it too.

Shapes: B = sentences, S = tokens, T = tags, K = span values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from postag.data.span_tags import continues, span_column_names
from postag.data.tag_columns import tag_column_names


class SpanDecoder:
    """Decodes the tag scores of a tag set whose ``span_values`` (each tag's value in its span
    column) open every span with B."""

    def __init__(self, span_values: Sequence[str]):
        values = sorted(set(span_values))
        group = np.array([values.index(v) for v in span_values])  # (T,)
        self.members = [np.flatnonzero(group == k) for k in range(len(values))]  # the tags of each value
        allowed = np.array([[continues(previous, value) for value in values] for previous in values])
        self.transitions = np.where(allowed, 0.0, -np.inf).astype(np.float32)  # (K previous, K)
        self.start = np.where([continues("O", value) for value in values], 0.0, -np.inf).astype(np.float32)  # (K,)

    def best(self, scores: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Tag ids (B, S) of tag scores (B, S, T) of sentences of ``lengths`` (B,) tokens; the ids
        past a sentence's length are of no tag in particular."""
        scores = np.asarray(scores, dtype=np.float32)
        batch, length = scores.shape[:2]
        rows = np.arange(batch)
        # each span value's best tag at each token, and its score
        best_tag = np.stack([m[scores[..., m].argmax(-1)] for m in self.members], axis=-1)  # (B, S, K)
        emission = np.take_along_axis(scores, best_tag, axis=-1)  # (B, S, K)
        total = emission[:, 0] + self.start  # (B, K): the best total of a sequence ending in each value
        back = np.zeros(best_tag.shape, dtype=np.int64)  # (B, S, K): the value before, on that sequence
        for s in range(1, length):
            candidates = total[:, :, None] + self.transitions  # (B, K previous, K)
            back[:, s] = candidates.argmax(axis=1)
            within = (s < lengths)[:, None]  # past its end a sentence's totals stay as they were
            total = np.where(within, candidates.max(axis=1) + emission[:, s], total)
        path = np.zeros((batch, length), dtype=np.int64)  # (B, S)
        value = total.argmax(axis=-1)  # (B,)
        for s in range(length - 1, -1, -1):
            path[:, s] = value
            value = np.where(s < lengths, back[rows, s, value], value)
        return np.take_along_axis(best_tag, path[..., None], axis=-1)[..., 0]


def span_decoder(tag_names: Sequence[str], tag_column: str, spans_open_with_b: bool) -> SpanDecoder | None:
    """The decoder of a model's tags (``tag_column``: the columns they join, ``data.tag_column``),
    where its training tags open every span with B; None, for the best tag token by token, otherwise."""
    if not spans_open_with_b:
        return None
    values = span_column_names(tag_names, len(tag_column_names(tag_column)))
    return None if values is None else SpanDecoder(values)
