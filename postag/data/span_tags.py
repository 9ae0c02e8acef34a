"""Tags of spans (chunks, entities: B-NP, I-NP, O): how a tag set is recognised, which column of a
joint tag holds them, and which tag may follow which. Pure Python: the ONNX runtime reads it
without torch.

A tag is a prefix and a type (``B-NP``: B and NP; ``O``: outside any span). A tag that continues
a span (I or E) continues it only after a B or I of its type; anywhere else ``conlleval`` reads it
as the start of a new span.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from postag.data.tag_columns import joint_values

_SPAN_TAG = re.compile(r"[BIE]-\S+")
# prefixes of a tag that continues the span of the tag before it
CONTINUING = ("I", "E")


def is_span_tagging(tag_names: Iterable[str]) -> bool:
    """True for a tag set of spans: every tag O or prefix-type (B-NP, I-NP, E-NP), and some span tags."""
    names = list(tag_names)
    return any(name != "O" for name in names) and all(name == "O" or _SPAN_TAG.fullmatch(name) for name in names)


def span_column(tag_names: Sequence[str], columns: int = 1) -> int | None:
    """The first column of ``columns``-column (joint) tags whose values are span tags, else None."""
    for column in range(columns):
        if is_span_tagging([joint_values(name, columns)[column] for name in tag_names]):
            return column
    return None


def span_column_names(tag_names: Sequence[str], columns: int = 1) -> list[str] | None:
    """Each tag's value in its span column (``span_column``), in the tags' order; None without one."""
    column = span_column(tag_names, columns)
    return None if column is None else [joint_values(name, columns)[column] for name in tag_names]


def split_tag(tag: str) -> tuple[str, str]:
    """(prefix, type) of a span tag; ("O", "") for O."""
    prefix, _, kind = tag.partition("-")
    return (prefix, kind) if kind else ("O", "")


def continues(previous: str, tag: str) -> bool:
    """Whether ``tag`` after ``previous`` (O at a sentence's start) is read as written: False for
    an I or E tag that does not follow a B or I of its own type, which conlleval reads as a new span."""
    prefix, kind = split_tag(tag)
    if prefix not in CONTINUING:
        return True
    previous_prefix, previous_kind = split_tag(previous)
    return previous_prefix in ("B", "I") and previous_kind == kind


def spans_open_with_b(sentences: Iterable[Sequence[str]], columns: int = 1) -> bool:
    """True when the span tags of ``sentences`` (each a list of tags; the span column of
    ``columns``-column joint tags) open every span with B (IOB2), so that a tagger can be
    kept to that; False for a tag set without spans, or where an I or E opens a span (IOB1)."""
    sentences = [list(tags) for tags in sentences]
    column = span_column(sorted({tag for tags in sentences for tag in tags}), columns)
    if column is None:
        return False
    for tags in sentences:
        previous = "O"
        for tag in tags:
            value = joint_values(tag, columns)[column]
            if not continues(previous, value):
                return False
            previous = value
    return True
