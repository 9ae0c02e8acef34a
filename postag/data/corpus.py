"""Corpora: sentences read from files, one reader per format behind one interface.

A reader turns a file into (words, tags) sentences and knows how that format's
splits are named in a folder:

- ``conll2000``: ``WORD POS CHUNK`` lines, exactly three columns (``train.txt(.gz)``, ``test.txt(.gz)``);
- ``columns``: one token a line in whitespace- or tab-separated columns, word and tag at
  given column numbers (``train``, ``dev``, ``test`` with any of the usual suffixes);
- ``conllu``: Universal Dependencies (``postag/data/conllu.py``; ``*-ud-train.conllu(.gz)``, ...).

A blank line ends a sentence in every format; ``postag/data/formats.py`` picks the reader by name.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from postag.data.tag_columns import CHUNK_COLUMN, COLUMN_FILE_NAMES, DEFAULT_TAG_COLUMN, JOINT, TAG_SEPARATOR
from postag.errors import CorpusFormatError

Sentence = tuple[list[str], list[str]]  # (words, tags)


def open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line without its end) of a plain or gzipped UTF-8 file; bad bytes and
    truncated archives become a CorpusFormatError naming the file (and the line)."""
    line_no = 0
    try:
        with open_text(path) as handle:
            for line_no, raw in enumerate(handle, start=1):
                yield line_no, raw.rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise CorpusFormatError(f"{path}:{line_no + 1}: not UTF-8 text ({err.reason})") from err
    except (gzip.BadGzipFile, EOFError) as err:
        raise CorpusFormatError(f"{path}: not a complete gzip file ({err})") from err


def find_file(data_dir: Path, names: tuple[str, ...]) -> Path | None:
    """The first of ``names`` (glob patterns) that matches exactly one file in ``data_dir``;
    several matches for one pattern are an error, since picking one would be a guess."""
    for pattern in names:
        found = sorted(p for p in data_dir.glob(pattern) if p.is_file())
        if len(found) > 1:
            raise CorpusFormatError(
                f"{data_dir}: {len(found)} files match {pattern} ({', '.join(p.name for p in found)}); "
                f"name the one to use with data.train_file, data.dev_file or data.test_file"
            )
        if found:
            return found[0]
    return None


class SplitFinder:
    """Finding a format's splits in a folder, by the names ``split_names`` gives."""

    def split_names(self, split: str) -> tuple[str, ...]:
        raise NotImplementedError

    def find(self, data_dir: Path, split: str) -> Path | None:
        """The file of ``split`` in ``data_dir``, or None."""
        return find_file(Path(data_dir), self.split_names(split)) if Path(data_dir).is_dir() else None


class ColumnReader(SplitFinder):
    """One token a line in whitespace-separated columns; word and tag at the given columns.

    ``columns``: the exact number of columns each line must have (None: at least enough
    for the word and tag columns). ``layout`` names the columns in error messages. ``names``:
    what each tag column is (``COLUMN_FILE_NAMES``), where the model writes it in CoNLL-U and
    spaCy; None: one column of language-specific tags, XPOS.
    """

    name = "columns"
    # Where a model trained on these tags writes them in CoNLL-U: language-specific tags go to XPOS.
    conllu_column = DEFAULT_TAG_COLUMN

    def __init__(
        self,
        word_column: int = 0,
        tag_column: int | Sequence[int] = 1,
        columns: int | None = None,
        layout: str | None = None,
        names: Sequence[str] | None = None,
    ):
        tag_columns = [tag_column] if isinstance(tag_column, int) and not isinstance(tag_column, bool) else tag_column
        if names is not None:
            # each tag column's name: where the model writes its values in CoNLL-U and spaCy
            unknown = [str(name) for name in names if name not in COLUMN_FILE_NAMES]
            if unknown:
                raise ValueError(
                    f"data.tag_column: {', '.join(unknown)} is not a column postag writes from a column file; expected "
                    f"{', '.join(COLUMN_FILE_NAMES)} (chunk: any B-/I-/O span tags; FEATS and lemmas: data=conllu)"
                )
            self.conllu_column = JOINT.join(names)
        for key, value in (("data.word_column", word_column), *(("data.tag_column", c) for c in tag_columns)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key}={value!r}: expected a column number (0 is the first column)")
        if word_column in tag_columns:
            raise ValueError(f"data.word_column and data.tag_column are both {word_column}: expected two different columns")
        self.word_column = word_column
        # several tag columns (CoNLL-2000's POS and chunks) make a joint tag, their values joined by TAG_SEPARATOR
        self.tag_columns = list(tag_columns)
        self.columns = columns
        needed = max(word_column, *tag_columns) + 1
        tags_in = (f"tag in column {tag_columns[0]}" if len(tag_columns) == 1
                   else f"tags in columns {', '.join(map(str, tag_columns))}")
        self.expected = (
            f"{columns} columns '{layout}'" if columns is not None and layout else
            f"{columns} columns" if columns is not None else
            f"at least {needed} columns (word in column {word_column}, {tags_in})"
        )
        self.needed = columns if columns is not None else needed

    def split_names(self, split: str) -> tuple[str, ...]:
        return tuple(f"{split}{ext}" for ext in (".txt.gz", ".txt", ".conll.gz", ".conll", ".tsv.gz", ".tsv"))

    def read(self, path: str | os.PathLike) -> list[Sentence]:
        """Sentences of ``path``; a line with too few (or, for a fixed layout, other) columns,
        or a file without sentences, is a CorpusFormatError naming file and line."""
        path = Path(path)
        sentences: list[Sentence] = []
        words: list[str] = []
        tags: list[str] = []
        for line_no, line in numbered_lines(path):
            if not line.strip():
                if words:
                    sentences.append((words, tags))
                    words, tags = [], []
                continue
            columns = line.split()
            wrong = len(columns) != self.columns if self.columns is not None else len(columns) < self.needed
            if wrong:
                raise CorpusFormatError(f"{path}:{line_no}: expected {self.expected}, found {len(columns)}: {line!r}")
            words.append(columns[self.word_column])
            tags.append(TAG_SEPARATOR.join(columns[c] for c in self.tag_columns))
        if words:  # last sentence without a trailing blank line
            sentences.append((words, tags))
        if not sentences:
            raise CorpusFormatError(f"{path}: no sentences found (expected lines of {self.expected})")
        return sentences


class CoNLL2000Reader(ColumnReader):
    """CoNLL-2000: ``WORD POS CHUNK``, exactly three columns; the tag is the POS column, with
    ``tag_column="chunk"`` the chunk column (B-NP, I-NP, O, ...), which is scored as spans too,
    or with ``pos+chunk`` both as a joint tag. POS tags are Penn Treebank tags, which CoNLL-U
    keeps in XPOS: a model's ``conllu_column`` names them ``xpos``."""

    name = "conll2000"
    TAG_COLUMNS = {"pos": 1, "chunk": 2}
    CONLLU_NAMES = {"pos": "xpos", "chunk": CHUNK_COLUMN}

    def __init__(self, tag_column: str = "pos"):
        names = str(tag_column).split(JOINT)
        if any(name not in self.TAG_COLUMNS for name in names) or len(set(names)) < len(names):
            raise ValueError(f"data.tag_column={tag_column!r}: expected pos, chunk or both (pos+chunk, "
                             f"[pos,chunk]) for CoNLL-2000")
        super().__init__(word_column=0, tag_column=[self.TAG_COLUMNS[name] for name in names], columns=3,
                         layout="WORD POS CHUNK")
        self.conllu_column = JOINT.join(self.CONLLU_NAMES[name] for name in names)

    @classmethod
    def tag_column_of(cls, conllu_name: str) -> str:
        """The ``data.tag_column`` name of a column of ``conllu_column`` (xpos: pos); a column
        CoNLL-2000 lacks (upos, of a treebank's model) keeps its own name."""
        return next((name for name, known in cls.CONLLU_NAMES.items() if known == conllu_name), conllu_name)

    def split_names(self, split: str) -> tuple[str, ...]:
        return (f"{split}.txt.gz", f"{split}.txt")


def read_conll(path: str | os.PathLike) -> list[Sentence]:
    """A CoNLL-2000 file (``WORD POS CHUNK``) as (words, tags) sentences."""
    return CoNLL2000Reader().read(path)
