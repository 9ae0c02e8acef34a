"""Streaming `postag tag`: chunks, batches, progress, errors after partial output, an early-closed pipe;
and the tokenizer's sentences and abbreviations."""

import io
import subprocess
import sys

import pytest

from postag.app.stream import Progress, in_chunks, tag_stream
from postag.app.tokenizer import split_sentences, tokenize
from postag.errors import InputError


def test_chunks_close_at_the_sentence_or_token_limit():
    sentences = [["w"] * n for n in (3, 3, 3, 10, 1, 1)]
    chunks = list(in_chunks(sentences, len, max_items=2, max_tokens=12))
    assert [[len(s) for s in chunk] for chunk in chunks] == [[3, 3], [3, 10], [1, 1]]
    assert sum(chunks, []) == sentences  # input order, nothing lost
    long = [["w"] * 40] * 3  # the default token limit: TOKENS_A_SENTENCE for each sentence a chunk
    assert [len(chunk) for chunk in in_chunks(long, len, max_items=3)] == [2, 1]


def test_an_error_while_reading_comes_after_the_chunk_read_before_it():
    def lines():
        yield ["a"]
        yield ["b", "c"]
        raise InputError("input.txt:3: not UTF-8 text")

    handed, chunks = [], in_chunks(lines(), len, max_items=10)
    with pytest.raises(InputError, match="input.txt:3"):
        for chunk in chunks:
            handed.append(chunk)
    assert handed == [[["a"], ["b", "c"]]]


class RecordingTagger:
    """Tags every word with its length, and records the sizes of the calls it gets."""

    def __init__(self):
        self.calls = []

    def tag_sentences(self, sentences):
        self.calls.append(len(sentences))
        return [[str(len(w)) for w in words] for words in sentences]


def test_tag_stream_writes_every_chunk_in_input_order_and_counts_progress():
    sentences = [["a"] * (i % 4 + 1) for i in range(4500)]
    tagger, out, terminal = RecordingTagger(), io.StringIO(), io.StringIO()
    terminal.isatty = lambda: True
    progress = Progress(terminal, every=0.0)
    written = []
    tag_stream(tagger, sentences, lambda words: words, lambda words, tags: written.append((words, tags)), out, progress)
    assert [words for words, _ in written] == sentences
    assert tagger.calls == [2000, 2000, 500]  # CHUNK_SENTENCES a call
    assert progress.sentences == 4500 and progress.tokens == sum(map(len, sentences))
    assert terminal.getvalue().endswith("tagged 4,500 sentences, 11,250 tokens (" + terminal.getvalue().split("(")[-1])
    silent = Progress(io.StringIO())  # not a terminal
    silent.update(3, 10)
    silent.close()
    assert silent.stream.getvalue() == ""


@pytest.mark.parametrize(
    "text, sentences",
    [
        ("Mr. Smith met Dr. J. Jones of Acme Inc. in the U.S. last Oct. 5.",
         ["Mr. Smith met Dr. J. Jones of Acme Inc. in the U.S. last Oct. 5 ."]),
        ("He works for Acme Inc. The firm grew.", ["He works for Acme Inc. .", "The firm grew ."]),
        ("Shares of U.S. Steel rose. Ms. Lee sold them!", ["Shares of U.S. Steel rose .", "Ms. Lee sold them !"]),
        ('"Why?" she asked. (It rained.) We left.', ["`` Why ? '' she asked .", "( It rained . )", "We left ."]),
        ("He said no. Then he left.", ["He said no .", "Then he left ."]),
        ("Room No. 5 is in Calif. and Mass. now.", ["Room No. 5 is in Calif. and Mass. now ."]),
        ("They sold it to Acme Corp.", ["They sold it to Acme Corp. ."]),
        ("It is 5 p.m. in Washington. Yes it is", ["It is 5 p.m. in Washington .", "Yes it is"]),
        ('She said "No." Then she left.', ["She said `` No . ''", "Then she left ."]),
        ("", [""]),
    ],
)
def test_sentences_and_abbreviations_follow_the_penn_treebank(text, sentences):
    assert [" ".join(s) for s in split_sentences(tokenize(text))] == sentences


def test_a_lowercase_word_after_a_period_does_not_start_a_sentence():
    assert split_sentences(tokenize("The index fell 1.5 points. and then rose.")) == [
        ["The", "index", "fell", "1.5", "points", ".", "and", "then", "rose", "."]
    ]


def cli(*args, stdin=b""):
    return subprocess.run([sys.executable, "-m", "postag.app.cli", *map(str, args)], input=stdin, capture_output=True,
                          timeout=300)


def test_tag_needs_one_of_a_checkpoint_and_an_exported_model(tmp_path):
    result = cli("tag", stdin=b"a b\n")
    assert result.returncode == 2 and "either --ckpt (a checkpoint) or --onnx" in result.stderr.decode()
    result = cli("tag", "--onnx", tmp_path, stdin=b"a b\n")
    assert result.returncode == 2 and f"{tmp_path / 'model.onnx'}: no such file" in result.stderr.decode()
