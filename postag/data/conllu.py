"""CoNLL-U (Universal Dependencies): reading sentences, and writing tags back into the file.

One word a line, 10 tab-separated columns (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC);
``#`` lines are comments; a blank line ends a sentence. A multiword token (ID ``3-4``) stands
before the syntactic words it is made of, which carry the tags; an empty node (ID ``8.1``)
is not a word of the sentence. Both are skipped for tagging and kept, unchanged, on output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from postag.data.corpus import Sentence, SplitFinder, numbered_lines
from postag.data.lemmas import LEMMA_COLUMN, lemma_rule
from postag.data.tag_columns import CHUNK_COLUMN, CONLLU_TAG_COLUMNS, TAG_SEPARATOR, joint_values, tag_column_names
from postag.errors import CorpusFormatError

COLUMNS = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")
FORM, MISC = COLUMNS.index("FORM"), COLUMNS.index("MISC")
# Where the values of the columns a model can learn (data.tag_column) stand in a line; a chunk
# tag, which CoNLL-U has no column for, is an attribute of MISC (CHUNK_ATTRIBUTE=B-NP)
TAG_COLUMNS = {**{name: COLUMNS.index(name.upper()) for name in CONLLU_TAG_COLUMNS}, CHUNK_COLUMN: MISC}
CHUNK_ATTRIBUTE = "Chunk"
# FEATS as UD writes it: _ or Name=Value pairs joined by |
_FEATS = re.compile(r"_|[^\s=|]+=[^\s=|]+(\|[^\s=|]+=[^\s=|]+)*")
_WORD_ID = re.compile(r"[1-9][0-9]*")
_SKIPPED_ID = re.compile(r"[1-9][0-9]*-[1-9][0-9]*|[0-9]+\.[1-9][0-9]*")  # multiword token, empty node


@dataclass
class ConlluSentence:
    """One sentence as it stands in the file: every line kept, the syntactic words marked."""

    lines: list[str] = field(default_factory=list)  # comments and token lines, without line ends
    word_lines: list[int] = field(default_factory=list)  # index into ``lines`` of each syntactic word
    line_numbers: list[int] = field(default_factory=list)  # file line number of each entry of ``lines``

    def cells(self, word: int) -> list[str]:
        return self.lines[self.word_lines[word]].split("\t")

    @property
    def words(self) -> list[str]:
        return [self.cells(i)[FORM] for i in range(len(self.word_lines))]

    def with_tags(self, tags: list[str], columns: int | Sequence[int]) -> list[str]:
        """The sentence's lines with ``tags`` in ``columns`` of its syntactic words (a joint tag's
        values each in its column), all else unchanged."""
        lines = list(self.lines)
        for index, tag in zip(self.word_lines, tags):
            cells = lines[index].split("\t")
            put_tag(cells, tag, columns)
            lines[index] = "\t".join(cells)
        return lines


def put_tag(cells: list[str], tag: str, columns: int | Sequence[int]) -> None:
    """``tag`` into ``cells`` at ``columns``: a joint tag's values one to a column."""
    columns = [columns] if isinstance(columns, int) else list(columns)
    for column, value in zip(columns, joint_values(tag, len(columns))):
        cells[column] = with_misc(cells[column], value) if column == MISC else value


def with_misc(misc: str, value: str) -> str:
    """A MISC cell with ``CHUNK_ATTRIBUTE=value`` in place of its own, its other attributes kept."""
    kept = [item for item in misc.split("|") if item != "_" and not item.startswith(f"{CHUNK_ATTRIBUTE}=")]
    return "|".join([*kept, f"{CHUNK_ATTRIBUTE}={value}"])


def parse(lines: Iterable[tuple[int, str]], source: str) -> Iterator[ConlluSentence]:
    """Sentences from numbered lines; a token line that is not 10 tab-separated columns, or
    whose ID is neither a word number, a range nor an empty node, raises CorpusFormatError."""
    sentence = ConlluSentence()
    for line_no, line in lines:
        if not line.strip():
            if sentence.lines:
                yield sentence
                sentence = ConlluSentence()
            continue
        if not line.startswith("#"):
            cells = line.split("\t")
            if len(cells) != len(COLUMNS):
                raise CorpusFormatError(
                    f"{source}:{line_no}: expected 10 tab-separated columns "
                    f"({' '.join(COLUMNS)}), found {len(cells)}: {line!r}"
                )
            if _WORD_ID.fullmatch(cells[0]):
                sentence.word_lines.append(len(sentence.lines))
            elif not _SKIPPED_ID.fullmatch(cells[0]):
                raise CorpusFormatError(
                    f"{source}:{line_no}: expected an ID such as 3, 3-4 (multiword token) or 3.1 "
                    f"(empty node) in column 1, found {cells[0]!r}"
                )
        sentence.lines.append(line)
        sentence.line_numbers.append(line_no)
    if sentence.lines:
        yield sentence


def tag_column_indices(tag_column: str) -> list[int]:
    """Where the values of a model's tags go in a CoNLL-U line (``conllu_column``)."""
    return [TAG_COLUMNS[name] for name in tag_column_names(tag_column)]


class ConlluReader(SplitFinder):
    """(words, tags) of each sentence's syntactic words, the tags from the UPOS, XPOS or FEATS
    column, for ``lemma`` the rule that makes each word's lemma from its form, or for a joint
    tag (``upos+xpos+feats``) the columns' values joined by TAG_SEPARATOR."""

    name = "conllu"

    def __init__(self, tag_column: str = "upos"):
        self.names = tag_column_names(tag_column, CONLLU_TAG_COLUMNS)
        self.columns = [TAG_COLUMNS[name] for name in self.names]
        self.tag_column = str(tag_column)
        self.conllu_column = self.tag_column  # a model trained on these columns writes its tags there

    def split_names(self, split: str) -> tuple[str, ...]:
        return (f"*-ud-{split}.conllu.gz", f"*-ud-{split}.conllu", f"{split}.conllu.gz", f"{split}.conllu")

    def read(self, path: str | os.PathLike) -> list[Sentence]:
        """An empty tag cell, or a tag column that is ``_`` for every word (some treebanks have no
        XPOS at all), is a CorpusFormatError naming file, line and column. Where the column has
        tags, a ``_`` among them is a tag of its own (UD_English-LinES leaves a fifth of its XPOS so)."""
        path = Path(path)
        sentences: list[Sentence] = []
        first_word_line, with_values = None, set()
        for sentence in parse(numbered_lines(path), str(path)):
            if not sentence.word_lines:
                continue  # comments only
            words, tags = [], []
            for word, index in enumerate(sentence.word_lines):
                cells, line_no = sentence.cells(word), sentence.line_numbers[index]
                first_word_line = first_word_line or line_no
                values = [self._value(cells, name, column, path, line_no) for name, column in zip(self.names, self.columns)]
                with_values.update(column for column in self.columns if cells[column] != "_")
                words.append(cells[FORM])
                tags.append(TAG_SEPARATOR.join(values))
            sentences.append((words, tags))
        if not sentences:
            raise CorpusFormatError(f"{path}: no sentences found (expected CoNLL-U: 10 tab-separated columns)")
        for column in self.columns:
            if column not in with_values:
                self._no_tag(path, first_word_line, column, sentences[0][0][0], " nor on any other line")
        return sentences

    def _value(self, cells: list[str], name: str, column: int, path: Path, line_no: int) -> str:
        """The word's value of one column: a lemma as its rule, FEATS checked, no space in a joint tag."""
        value = cells[column]
        if not value.strip():
            self._no_tag(path, line_no, column, cells[FORM])
        if name == LEMMA_COLUMN:
            return lemma_rule(cells[FORM], value)
        if name == "feats" and not _FEATS.fullmatch(value):
            raise CorpusFormatError(
                f"{path}:{line_no}: FEATS {value!r} of {cells[FORM]!r}: expected _ or Name=Value pairs joined by |"
            )
        if len(self.columns) > 1 and TAG_SEPARATOR in value:
            raise CorpusFormatError(
                f"{path}:{line_no}: {COLUMNS[column]} {value!r} of {cells[FORM]!r}: expected a value without spaces"
            )
        return value

    def _no_tag(self, path: Path, line_no: int, column: int, word: str, elsewhere: str = "") -> None:
        name = COLUMNS[column]
        raise CorpusFormatError(
            f"{path}:{line_no}: no tag in column {column + 1} ({name}) for {word!r}{elsewhere}; "
            f"expected a tag there (data.tag_column={self.tag_column}; this file may have no {name})"
        )


def format_sentence(words: list[str], tags: list[str], columns: int | Sequence[int]) -> str:
    """A tagged sentence as CoNLL-U: ID, FORM, the tag in ``columns`` (a joint tag's values one
    to a column), ``_`` elsewhere; a blank line after."""
    rows = []
    for number, (word, tag) in enumerate(zip(words, tags), start=1):
        cells = ["_"] * len(COLUMNS)
        cells[0], cells[FORM] = str(number), word
        put_tag(cells, tag, columns)
        rows.append("\t".join(cells) + "\n")
    return "".join(rows) + "\n"
