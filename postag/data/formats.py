"""The data formats by name (``data.format``), each with its reader."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from postag.data.conllu import ConlluReader
from postag.data.corpus import ColumnReader, CoNLL2000Reader
from postag.data.tag_columns import COLUMN_FILE_NAMES, JOINT, tag_column_names
from postag.errors import UnknownTagError

FORMATS = ("conll2000", "columns", "conllu")


def make_reader(format: str, word_column: int | None = None, tag_column: int | str | Sequence | None = None):
    """The reader of a data format: ``conll2000``, ``columns`` or ``conllu``; a column left
    at None takes the reader's own default (POS for CoNLL-2000, word 0 and tag 1 for columns,
    UPOS for CoNLL-U). A list of columns (``data.tag_column=[upos,xpos]``, ``[pos,chunk]``) is
    their joint tag, as ``upos+xpos``. For ``columns``, several columns are a mapping from what each
    is to its number (``{xpos: 1, chunk: 2}``), in the joint tag's order."""
    names = None
    if isinstance(tag_column, Mapping):
        if format != "columns":
            raise ValueError(f"data.tag_column={dict(tag_column)}: columns by name and number are for data=columns; "
                             f"expected a name or a list of names for data={format}")
        names, tag_column = [str(name) for name in tag_column], list(tag_column.values())
    elif isinstance(tag_column, Sequence) and not isinstance(tag_column, str):
        if format == "columns":
            raise ValueError(f"data.tag_column={list(tag_column)}: name each column for data=columns, as "
                             f"'data.tag_column={{xpos:1,chunk:2}}' (one of {', '.join(COLUMN_FILE_NAMES)} each)")
        tag_column = JOINT.join(str(name) for name in tag_column)
    given = {name: value for name, value in (("word_column", word_column), ("tag_column", tag_column)) if value is not None}
    if format == "conll2000":
        return CoNLL2000Reader() if tag_column is None else CoNLL2000Reader(tag_column)
    if format == "columns":
        return ColumnReader(**given, names=names)
    if format == "conllu":
        return ConlluReader() if tag_column is None else ConlluReader(tag_column)
    raise ValueError(f"data.format={format!r}: expected {', '.join(FORMATS)}")


def check_columns(ckpt_path: str, trained: str, reader) -> None:
    """A checkpoint of other columns than the data asks for is an UnknownTagError naming both. For
    CoNLL-2000 and column files only the number of columns is compared: CoNLL-2000's chunk models of
    before the chunk column had a name of their own say xpos, and a column file's one column is any
    tag set."""
    asked = reader.conllu_column
    if reader.name == "conllu":
        wrong, advice = asked != trained, trained
    else:
        names = tag_column_names(trained)
        wrong = len(tag_column_names(asked)) != len(names)
        advice = (
            JOINT.join(map(reader.tag_column_of, names)) if reader.name == "conll2000"
            else "N" if len(names) == 1 else "{" + ",".join(f"{name}:N" for name in names) + "}"
        )
    if wrong:
        raise UnknownTagError(
            f"{ckpt_path}: a model of the {trained} column, but the data asks for {asked} (set data.tag_column={advice})"
        )
