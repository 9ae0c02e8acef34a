"""Span scores of checkpoints tagged both ways, side by side on the same test sentences: each
token's best tag, and the span decoder's best sequence whose spans open with B
(postag.network.span_decoder), which `postag tag` and evaluation use.

    python bench/span_decoding.py TEST_FILE CKPT [CKPT ...] [--format conll2000] [--tag-column pos+chunk]
    python bench/span_decoding.py ../shared/conll2000/test.txt.gz logs/train/runs/*/checkpoints/last.ckpt

Prints one Markdown row per checkpoint and decoding: span F1, precision and recall as conlleval
counts them, the predicted tags that conlleval reads as opening a span with I or E, each
column's accuracy, and the seconds the tagging took.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from postag.analysis.spans import scores, span_counts  # noqa: E402
from postag.app.tagger import Tagger  # noqa: E402
from postag.data import make_reader  # noqa: E402
from postag.data.span_tags import continues, span_column  # noqa: E402
from postag.data.tag_columns import joint_values, tag_column_names  # noqa: E402

DECODINGS = ("token by token", "span decoder")


def rows(ckpt: str, sentences: list) -> list[list[str]]:
    tagger = Tagger.load(ckpt, device="cpu")
    names = tag_column_names(tagger.conllu_column)
    column = span_column(tagger.vocab.tags.itos, len(names))
    if column is None:
        raise SystemExit(f"{ckpt}: a model of {tagger.conllu_column}, with no column of span tags")
    words = [w for w, _ in sentences]
    out = []
    for decoding in DECODINGS:
        vocab = replace(tagger.vocab, spans_open_with_b=decoding == DECODINGS[1])
        start = time.perf_counter()
        predicted = Tagger(tagger.model, vocab).tag_sentences(words)
        seconds = time.perf_counter() - start
        counts, opened_by_i, right, total = Counter(), 0, Counter(), 0
        for (_, gold), guess in zip(sentences, predicted):
            gold_values = [joint_values(t, len(names)) for t in gold]
            guess_values = [joint_values(t, len(names)) for t in guess]
            spans_of = [v[column] for v in guess_values]
            counts += span_counts([v[column] for v in gold_values], spans_of)
            opened_by_i += sum(not continues(p, t) for p, t in zip(["O", *spans_of], spans_of))
            for g, p in zip(gold_values, guess_values):
                right.update(k for k in range(len(names)) if g[k] == p[k])
            total += len(gold)
        score = scores(counts)
        accuracy = " / ".join(f"{100 * right[k] / total:.2f}" for k in range(len(names)))
        out.append([ckpt, decoding, f"{100 * score['f1']:.2f}", f"{100 * score['precision']:.2f}",
                    f"{100 * score['recall']:.2f}", str(opened_by_i), accuracy, f"{seconds:.1f}"])
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("test_file")
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--format", default="conll2000", help="the data format (data=...): conll2000, columns, conllu")
    parser.add_argument("--tag-column", default="pos+chunk", help="data.tag_column of the checkpoints' model")
    args = parser.parse_args(argv)
    sentences = make_reader(args.format, tag_column=args.tag_column).read(args.test_file)
    print("| checkpoint | decoding | span F1 | precision | recall | spans opened by I | accuracy by column | tagging s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for ckpt in args.checkpoints:
        for row in rows(ckpt, sentences):
            print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
