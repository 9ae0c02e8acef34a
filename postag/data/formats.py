"""The data formats by name (``data.format``), each with its reader."""

from __future__ import annotations

from postag.data.conllu import ConlluReader
from postag.data.corpus import ColumnReader, CoNLL2000Reader

FORMATS = ("conll2000", "columns", "conllu")


def make_reader(format: str, word_column: int | None = None, tag_column: int | str | None = None):
    """The reader of a data format: ``conll2000``, ``columns`` or ``conllu``; a column left
    at None takes the format's default (word 0 and tag 1 for columns, UPOS for CoNLL-U)."""
    if format == "conll2000":
        return CoNLL2000Reader()
    if format == "columns":
        return ColumnReader(0 if word_column is None else word_column, 1 if tag_column is None else tag_column)
    if format == "conllu":
        return ConlluReader("upos" if tag_column is None else tag_column)
    raise ValueError(f"data.format={format!r}: expected {', '.join(FORMATS)}")
