"""Rewrite a CoNLL-U treebank in a script without case, with some sentences joined into long ones,
to try a recipe on another script and on sentences longer than the model's positions when no
such treebank is at hand.

    python bench/caseless_treebank.py SRC_DIR OUT_DIR [--join 16] [--every 40]
    python bench/caseless_treebank.py ../shared/ud-english-lines /tmp/caseless

SRC_DIR holds ``*-ud-{train,dev,test}.conllu(.gz)``. In FORM and LEMMA every Latin letter becomes
a Hebrew letter (a script without case: Unicode category Lo), upper and lower case alike; tags
and every other column stay. Of every ``--every`` sentences written, the first is ``--join``
consecutive source sentences made one: word, multiword-token and empty-node IDs and HEAD are
renumbered, DEPS is cleared. OUT_DIR gets ``caseless-ud-{train,dev,test}.conllu``.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

LATIN = "abcdefghijklmnopqrstuvwxyz"
# 26 letters of a script without case (Georgian's, say, would not do: Unicode gives them capitals)
HEBREW = "".join(chr(code) for code in range(0x05D0, 0x05D0 + 26))
TO_CASELESS = str.maketrans(LATIN + LATIN.upper(), HEBREW + HEBREW)
SPLITS = ("train", "dev", "test")


def read_sentences(path: Path) -> list[list[str]]:
    """The sentences of a CoNLL-U file, each as its lines (comments included)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        blocks = f.read().split("\n\n")
    return [block.strip("\n").split("\n") for block in blocks if block.strip()]


def shifted(node_id: str, offset: int) -> str:
    """A word ID (``3``), multiword-token range (``3-4``) or empty node (``3.1``) moved by ``offset``."""
    if "-" in node_id:
        first, last = node_id.split("-")
        return f"{int(first) + offset}-{int(last) + offset}"
    if "." in node_id:
        word, sub = node_id.split(".")
        return f"{int(word) + offset}.{sub}"
    return str(int(node_id) + offset)


def joined(sentences: list[list[str]], sent_id: str) -> list[str]:
    """One sentence of ``sentences`` in turn, in the caseless script."""
    lines, offset = [f"# sent_id = {sent_id}"], 0
    for sentence in sentences:
        words = 0
        for line in sentence:
            if line.startswith("#"):
                continue
            cols = line.split("\t")
            cols[0] = shifted(cols[0], offset)
            cols[1], cols[2] = cols[1].translate(TO_CASELESS), cols[2].translate(TO_CASELESS)
            if cols[6] not in ("_", "0"):  # HEAD 0 is the root of each joined sentence
                cols[6] = str(int(cols[6]) + offset)
            cols[8] = "_"
            words += cols[0].isdigit()
            lines.append("\t".join(cols))
        offset += words
    return lines


def convert(source: Path, out: Path, join: int, every: int) -> list[int]:
    """Write ``out`` from ``source``; the number of words of each sentence written."""
    sentences = read_sentences(source)
    lengths, start, written = [], 0, []
    while start < len(sentences):
        size = join if len(written) % every == 0 else 1
        block = joined(sentences[start : start + size], f"caseless-{len(written) + 1}")
        start += size
        written.append("\n".join(block))
        lengths.append(sum(line.split("\t")[0].isdigit() for line in block))
    out.write_text("\n\n".join(written) + "\n\n", encoding="utf-8")
    return lengths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--join", type=int, default=16, help="source sentences in each long sentence")
    parser.add_argument("--every", type=int, default=40, help="one long sentence in this many written")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        (source,) = sorted(args.source.glob(f"*-ud-{split}.conllu*"))
        lengths = convert(source, args.out / f"caseless-ud-{split}.conllu", args.join, args.every)
        long = sum(n > 256 for n in lengths)
        print(f"{split}: {len(lengths)} sentences, the longest {max(lengths)} words, {long} over 256")


if __name__ == "__main__":
    main()
