"""Which columns a model's tags stand for (``data.tag_column``), and what a tagger gives from its
tags: one column's value, a lemma made by a lemma rule, or a joint tag's values, one per column
(``upos+xpos+feats+lemma``; CoNLL-2000's ``xpos+chunk``), as UDPipe 1's tagger predicts them
together. Pure Python: the ONNX runtime reads it without torch.
"""

from __future__ import annotations

from collections.abc import Sequence

from postag.data.lemmas import LEMMA_COLUMN, lemma_of

# The CoNLL-U columns a model can learn; a lemma model learns lemma rules (postag.data.lemmas).
CONLLU_TAG_COLUMNS = ("upos", "xpos", "feats", LEMMA_COLUMN)
# Chunk tags (B-NP, I-NP, O), read from CoNLL-2000, are written to CoNLL-U's MISC as Chunk=B-NP.
CHUNK_COLUMN = "chunk"
# The columns a column file's tags can stand for (data=columns), kept as read: FEATS and lemmas
# need CoNLL-U's checks and lemma rules
COLUMN_FILE_NAMES = ("upos", "xpos", CHUNK_COLUMN)
# Every column a model's tags can stand for
TAG_COLUMN_NAMES = (*CONLLU_TAG_COLUMNS[:-1], CHUNK_COLUMN, LEMMA_COLUMN)
# A model's column when nothing names one (vocabularies saved before they kept it): language-specific tags
DEFAULT_TAG_COLUMN = "xpos"
# How saved vocabularies (a checkpoint's, an export's) read the keys added after the first ones
SAVED_LATER_DEFAULTS = {"conllu_column": DEFAULT_TAG_COLUMN, "spans_open_with_b": False}
# A joint tag's column names are joined by JOINT, its values by TAG_SEPARATOR (no UPOS, XPOS or
# FEATS value holds a space; a lemma can, so it comes last, where splitting leaves it whole).
JOINT, TAG_SEPARATOR = "+", " "


def tag_column_names(tag_column: str, allowed: Sequence[str] = TAG_COLUMN_NAMES) -> list[str]:
    """The columns of ``data.tag_column``: one name, or several joined by ``+`` for a joint tag,
    each one of ``allowed``."""
    names = str(tag_column).split(JOINT)
    if any(name not in allowed for name in names):
        raise ValueError(f"data.tag_column={tag_column!r}: expected one of {', '.join(allowed)}, "
                         f"or several of them joined by {JOINT}")
    if len(set(names)) < len(names):
        raise ValueError(f"data.tag_column={tag_column!r}: a joint tag is made of different columns")
    if LEMMA_COLUMN in names[:-1]:
        raise ValueError(f"data.tag_column={tag_column!r}: lemma comes last in a joint tag")
    return names


def joint_values(tag: str, count: int) -> list[str]:
    """The ``count`` columns' values of a tag: a joint tag's, split; a one-column tag as it is."""
    return tag.split(TAG_SEPARATOR, count - 1) if count > 1 else [tag]


def outputs(words: Sequence[str], tags: Sequence[str], tag_column: str | None) -> list[str]:
    """What a tagger gives for ``words`` from its predicted ``tags``: where the tags hold lemma
    rules (a model of lemmas, or a joint tag that ends with one), the lemmas they make in their
    place; the tags themselves otherwise."""
    names = tag_column_names(tag_column) if tag_column else []
    if LEMMA_COLUMN not in names:
        return list(tags)
    if len(names) == 1:
        return [lemma_of(word, rule) for word, rule in zip(words, tags)]
    made = []
    for word, tag in zip(words, tags):
        *values, rule = joint_values(tag, len(names))
        made.append(TAG_SEPARATOR.join([*values, lemma_of(word, rule)]))
    return made
