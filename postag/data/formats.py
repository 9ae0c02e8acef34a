"""The data formats by name (``data.format``), each with its reader."""

from __future__ import annotations

from collections.abc import Sequence

from postag.data.conllu import ConlluReader
from postag.data.corpus import ColumnReader, CoNLL2000Reader
from postag.data.tag_columns import JOINT, tag_column_names
from postag.errors import UnknownTagError

FORMATS = ("conll2000", "columns", "conllu")


def make_reader(format: str, word_column: int | None = None, tag_column: int | str | Sequence | None = None):
    """The reader of a data format: ``conll2000``, ``columns`` or ``conllu``; a column left
    at None takes the reader's own default (POS for CoNLL-2000, word 0 and tag 1 for columns,
    UPOS for CoNLL-U). A list of columns (``data.tag_column=[upos,xpos]``, ``[pos,chunk]``) is
    their joint tag, as ``upos+xpos``."""
    if isinstance(tag_column, Sequence) and not isinstance(tag_column, str):
        if format == "columns":
            raise ValueError(f"data.tag_column={list(tag_column)}: expected one column number for data=columns "
                             f"(data=conll2000 data.tag_column=[pos,chunk] tags CoNLL-2000's two together)")
        tag_column = JOINT.join(str(name) for name in tag_column)
    given = {name: value for name, value in (("word_column", word_column), ("tag_column", tag_column)) if value is not None}
    if format == "conll2000":
        return CoNLL2000Reader() if tag_column is None else CoNLL2000Reader(tag_column)
    if format == "columns":
        return ColumnReader(**given)
    if format == "conllu":
        return ConlluReader() if tag_column is None else ConlluReader(tag_column)
    raise ValueError(f"data.format={format!r}: expected {', '.join(FORMATS)}")


def check_columns(ckpt_path: str, trained: str, reader) -> None:
    """A checkpoint of other columns than the data asks for is an UnknownTagError naming both. For
    CoNLL-2000 only the number of columns is compared: its chunk models of before the chunk column
    had a name of their own say xpos."""
    asked = reader.conllu_column
    if reader.name == "conllu":
        wrong, advice = asked != trained, trained
    elif reader.name == "conll2000":
        wrong = len(tag_column_names(asked)) != len(tag_column_names(trained))
        advice = None if not wrong else JOINT.join(map(reader.tag_column_of, tag_column_names(trained)))
    else:
        return
    if wrong:
        raise UnknownTagError(
            f"{ckpt_path}: a model of the {trained} column, but the data asks for {asked} (set data.tag_column={advice})"
        )
