"""Tagging a stream of any length: input read a chunk at a time, each chunk tagged in
length-sorted batches and written, in input order, before the next chunk is read.

Memory holds one chunk, whatever the input's size, and the first lines come out once the
first chunk is tagged. Works with any tagger that has ``tag_sentences`` (the PyTorch
``Tagger`` or the ONNX runtime), and imports neither torch nor numpy.
"""

from __future__ import annotations

import gzip
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

from postag.errors import InputError

Item = TypeVar("Item")

# A chunk ends at CHUNK_SENTENCES sentences, or at as many tokens as that many sentences of
# TOKENS_A_SENTENCE would have, whichever comes first: big enough for batches of sentences of
# similar lengths, small enough that the first lines come out within a second or two.
CHUNK_SENTENCES = 2000
TOKENS_A_SENTENCE = 25


def decoded_lines(lines: Iterable[bytes], source: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, decoded one at a time so that a bad byte is reported on its
    own line; a gzipped input that breaks off is an InputError too."""
    line_number = 0
    try:
        for line_number, raw in enumerate(lines, start=1):
            try:
                yield line_number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise InputError(f"{source}:{line_number}: not UTF-8 text ({err.reason} at byte {err.start} of the line)") from None
    except (gzip.BadGzipFile, EOFError) as err:
        raise InputError(f"{source}:{line_number + 1}: not a complete gzip file ({err})") from None


def read_sentences(lines: Iterable[bytes], source: str, tokenize: bool) -> Iterator[list[str]]:
    """The sentences of plain text, one a line, tokens separated by whitespace; with ``tokenize``,
    English text split into Penn Treebank tokens and a line into its sentences. An empty line is
    an empty sentence, so that blank lines stay in the output."""
    from postag.app.tokenizer import split_sentences, tokenize as split

    for _, text in decoded_lines(lines, source):
        if tokenize:
            yield from split_sentences(split(text))
        else:
            yield text.split()


def in_chunks(
    items: Iterable[Item], size: Callable[[Item], int], max_items: int = CHUNK_SENTENCES, max_tokens: int | None = None
) -> Iterator[list[Item]]:
    """Lists of consecutive items, each closed once it holds ``max_items`` items or ``max_tokens``
    tokens (``size`` of each item; default ``max_items * TOKENS_A_SENTENCE``). An error while
    reading is raised after the items read before it have been handed on: what came before a bad
    line is still tagged and written."""
    if max_tokens is None:
        max_tokens = max_items * TOKENS_A_SENTENCE
    chunk: list[Item] = []
    tokens = 0
    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            break
        except Exception:
            if chunk:
                yield chunk
            raise
        chunk.append(item)
        tokens += size(item)
        if len(chunk) >= max_items or tokens >= max_tokens:
            yield chunk
            chunk, tokens = [], 0
    if chunk:
        yield chunk


class Progress:
    """Sentences, tokens and tokens per second on one line of stderr, when it is a terminal."""

    def __init__(self, stream: TextIO | None = None, every: float = 0.5):
        self.stream = sys.stderr if stream is None else stream
        self.shown = self.stream.isatty()
        self.every = every
        self.sentences = self.tokens = 0
        self.start = self.last = time.perf_counter()

    def update(self, sentences: int, tokens: int) -> None:
        self.sentences += sentences
        self.tokens += tokens
        now = time.perf_counter()
        if self.shown and now - self.last >= self.every:
            self.last = now
            self.stream.write("\r" + self.line(now))
            self.stream.flush()

    def line(self, now: float) -> str:
        rate = self.tokens / max(now - self.start, 1e-9)
        return f"tagged {self.sentences:,} sentences, {self.tokens:,} tokens ({rate:,.0f} tokens/s)"

    def close(self) -> None:
        if self.shown and self.sentences:
            self.stream.write("\r" + self.line(time.perf_counter()) + "\n")
            self.stream.flush()


def tag_stream(
    tagger,
    items: Iterable[Item],
    words_of: Callable[[Item], list[str]],
    write: Callable[[Item, list[str]], None],
    out: TextIO,
    progress: Progress | None = None,
    chunk_sentences: int = CHUNK_SENTENCES,
) -> None:
    """Tag ``items`` chunk by chunk (``tagger.tag_sentences`` of their words) and ``write`` each
    item with its tags, flushing ``out`` after every chunk."""
    try:
        for chunk in in_chunks(items, lambda item: len(words_of(item)), chunk_sentences):
            sentences = [words_of(item) for item in chunk]
            for item, tags in zip(chunk, tagger.tag_sentences(sentences)):
                write(item, tags)
            out.flush()
            if progress is not None:
                progress.update(len(chunk), sum(map(len, sentences)))
    finally:
        if progress is not None:
            progress.close()
