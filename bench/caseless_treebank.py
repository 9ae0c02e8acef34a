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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from postag.data.conllu import COLUMNS, ConlluSentence, parse  # noqa: E402
from postag.data.corpus import numbered_lines  # noqa: E402

LATIN = "abcdefghijklmnopqrstuvwxyz"
# 26 letters of a script without case (Georgian's, say, would not do: Unicode gives them capitals)
HEBREW = "".join(chr(code) for code in range(0x05D0, 0x05D0 + 26))
TO_CASELESS = str.maketrans(LATIN + LATIN.upper(), HEBREW + HEBREW)
SPLITS = ("train", "dev", "test")
ID, FORM, LEMMA, HEAD, DEPS = (COLUMNS.index(name) for name in ("ID", "FORM", "LEMMA", "HEAD", "DEPS"))


def shifted(node_id: str, offset: int) -> str:
    """A word ID (``3``), multiword-token range (``3-4``) or empty node (``3.1``) moved by ``offset``."""
    if "-" in node_id:
        first, last = node_id.split("-")
        return f"{int(first) + offset}-{int(last) + offset}"
    if "." in node_id:
        word, sub = node_id.split(".")
        return f"{int(word) + offset}.{sub}"
    return str(int(node_id) + offset)


def joined(sentences: list[ConlluSentence], sent_id: str) -> list[str]:
    """One sentence of ``sentences`` in turn, in the caseless script."""
    lines, offset = [f"# sent_id = {sent_id}"], 0
    for sentence in sentences:
        for line in sentence.lines:
            if line.startswith("#"):
                continue
            cols = line.split("\t")
            cols[ID] = shifted(cols[ID], offset)
            cols[FORM], cols[LEMMA] = cols[FORM].translate(TO_CASELESS), cols[LEMMA].translate(TO_CASELESS)
            if cols[HEAD] not in ("_", "0"):  # HEAD 0 is the root of each joined sentence
                cols[HEAD] = str(int(cols[HEAD]) + offset)
            cols[DEPS] = "_"
            lines.append("\t".join(cols))
        offset += len(sentence.word_lines)
    return lines


def convert(source: Path, out: Path, join: int, every: int) -> list[int]:
    """Write ``out`` from ``source``; the number of words of each sentence written."""
    sentences = list(parse(numbered_lines(source), str(source)))
    lengths, start, written = [], 0, []
    while start < len(sentences):
        group = sentences[start : start + (join if len(written) % every == 0 else 1)]
        start += len(group)
        written.append("\n".join(joined(group, f"caseless-{len(written) + 1}")))
        lengths.append(sum(len(sentence.word_lines) for sentence in group))
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
