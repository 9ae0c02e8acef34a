"""The data formats by name (``data.format``), each with its reader."""

from __future__ import annotations

from collections.abc import Sequence

from postag.data.conllu import ConlluReader
from postag.data.corpus import ColumnReader, CoNLL2000Reader
from postag.data.tag_columns import JOINT

FORMATS = ("conll2000", "columns", "conllu")


def make_reader(format: str, word_column: int | None = None, tag_column: int | str | Sequence[str] | None = None):
    """The reader of a data format: ``conll2000``, ``columns`` or ``conllu``; a column left
    at None takes the reader's own default (POS for CoNLL-2000, word 0 and tag 1 for columns,
    UPOS for CoNLL-U). A list of CoNLL-U columns (``data.tag_column=[upos,xpos]``) is their joint
    tag, as ``upos+xpos``."""
    if isinstance(tag_column, Sequence) and not isinstance(tag_column, str):
        tag_column = JOINT.join(str(name) for name in tag_column)
    given = {name: value for name, value in (("word_column", word_column), ("tag_column", tag_column)) if value is not None}
    if format == "conll2000":
        return CoNLL2000Reader() if tag_column is None else CoNLL2000Reader(tag_column)
    if format == "columns":
        return ColumnReader(**given)
    if format == "conllu":
        return ConlluReader() if tag_column is None else ConlluReader(tag_column)
    raise ValueError(f"data.format={format!r}: expected {', '.join(FORMATS)}")
