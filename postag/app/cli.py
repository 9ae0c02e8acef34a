"""The ``postag`` command.

    postag tag (--ckpt PATH | --onnx DIR) [FILE] [--tokenize] [--format tsv|inline|conllu] [--input-format text|conllu]
    postag export --ckpt PATH --output DIR
    postag explain --ckpt PATH [--output attention.png] [--top 3] [--tokenize] SENTENCE
    postag sweep-summary SWEEP_DIR
    postag score GOLD SYSTEM [--train TRAIN]
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from pathlib import Path
from typing import TextIO

from postag.app.stream import CHUNK_SENTENCES, TOKENS_A_SENTENCE
from postag.data.buckets import BATCH_SIZE, MAX_TOKENS
from postag.errors import InputError


def write_tagged(out: TextIO, words: list[str], tags: list[str], style: str, conllu_columns: list[int]) -> None:
    from postag.data.conllu import format_sentence
    from postag.data.tag_columns import joint_values

    count = len(conllu_columns)
    if style == "inline":  # word/TAG, a joint tag's values word/UPOS/XPOS/FEATS
        out.write(" ".join(f"{w}/{'/'.join(joint_values(t, count))}" for w, t in zip(words, tags)) + "\n")
    elif style == "conllu":
        if words:  # CoNLL-U has no empty sentences
            out.write(format_sentence(words, tags, conllu_columns))
    else:  # one token a line, a column for each value of a joint tag, a blank line after each sentence
        out.writelines(f"{w}\t{chr(9).join(joint_values(t, count))}\n" for w, t in zip(words, tags))
        out.write("\n")


def tag_command(args: argparse.Namespace) -> int:
    from postag.app.stream import Progress, decoded_lines, read_sentences, tag_stream

    if args.tokenize and args.input_format == "conllu":
        raise InputError("--tokenize is for plain text; CoNLL-U input is tokenised already")
    tagger = load_tagger(args)
    if args.file is None or args.file == "-":
        source, handle = "<stdin>", sys.stdin.buffer
    else:
        path = Path(args.file)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        # a gzipped file as treebanks ship them (.gz) is read through gzip
        source, handle = str(path), gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    from postag.data.conllu import parse, tag_column_indices

    columns = tag_column_indices(tagger.conllu_column)  # where the model's kind of tag goes in CoNLL-U
    style = args.format or ("conllu" if args.input_format == "conllu" else "tsv")
    out = sys.stdout
    with handle:
        if args.input_format == "conllu":
            sentences = parse(decoded_lines(handle, source), source)

            def words_of(sentence):
                return sentence.words

            def write(sentence, tags):
                if style == "conllu":  # the file as it was, the tags in the model's column of its syntactic words
                    out.write("\n".join(sentence.with_tags(tags, columns)) + "\n\n")
                else:
                    write_tagged(out, sentence.words, tags, style, columns)
        else:
            sentences = read_sentences(handle, source, args.tokenize)

            def words_of(words):
                return words

            def write(words, tags):
                write_tagged(out, words, tags, style, columns)

        tag_stream(tagger, sentences, words_of, write, out, Progress(), args.chunk)
    return 0


def load_tagger(args: argparse.Namespace):
    """The PyTorch ``Tagger`` of ``--ckpt``, or with ``--onnx`` the runtime of an exported model."""
    # Batch limits left unset keep the tagger's defaults; --max-tokens 0 lifts the token limit.
    limits = {} if args.batch_size is None else {"batch_size": args.batch_size}
    if args.max_tokens is not None:
        limits["max_tokens"] = args.max_tokens or None
    if (args.onnx is None) == (args.ckpt is None):
        raise InputError("postag tag needs either --ckpt (a checkpoint) or --onnx (an exported model)")
    if args.onnx is not None:
        from postag.portable.runtime import OnnxTagger

        return OnnxTagger.load(args.onnx, **limits)
    from postag.app.cpu import keep_freed_memory
    from postag.app.tagger import Tagger

    # A process of its own: batch after batch reuses the memory of the last (docs/benchmarks.md).
    keep_freed_memory()
    return Tagger.load(args.ckpt, device=args.device, bf16=args.bf16, compile=args.compile, **limits)


def explain_command(args: argparse.Namespace) -> int:
    from postag.analysis.figures import attention_figure
    from postag.app.tagger import Tagger
    from postag.app.tokenizer import tokenize

    text = " ".join(args.sentence)
    words = tokenize(text) if args.tokenize else text.split()
    if not words:
        raise InputError("explain: the sentence has no words")
    explanation = Tagger.load(args.ckpt, device=args.device).explain(words, top=args.top)
    width = max(len(w) for w in words)
    for word, best in zip(explanation.words, explanation.top):
        print(f"{word:<{width}}  " + "  ".join(f"{tag:<5} {p:.3f}" for tag, p in best))
    rows = [f"{w} {t}" for w, t in zip(explanation.words, explanation.tags)]
    blocks, heads = explanation.attention.shape[:2]
    title = f"attention of {Path(args.ckpt).name} (rows: word, tag)"
    attention_figure(rows, words, explanation.attention, title).savefig(args.output, dpi=120)
    print(f"attention maps, {blocks} x {heads} (blocks x heads): {args.output}")
    return 0


def sweep_command(args: argparse.Namespace) -> int:
    from postag.analysis.sweep import summarize

    print(summarize(args.sweep_dir))
    return 0


def score_command(args: argparse.Namespace) -> int:
    from postag.analysis.conllu_scores import format_scores, score_conllu

    for name in ("gold", "system", "train"):
        path = getattr(args, name)
        if path is not None and not Path(path).is_file():
            raise InputError(f"{path}: no such file")
    print(format_scores(score_conllu(args.gold, args.system, args.train)))
    return 0


def add_checkpoint_arguments(command: argparse.ArgumentParser, required: bool = True) -> None:
    """The options of every command that runs a checkpoint: which one, and where."""
    command.add_argument("--ckpt", required=required, help="checkpoint written by train.py")
    command.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")


def export_command(args: argparse.Namespace) -> int:
    from postag.portable.export import export

    files = export(args.ckpt, args.output)
    print(f"exported {args.ckpt} to {args.output}: " + ", ".join(path.name for path in files))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postag", description="Part-of-speech tagging with a trained postag checkpoint.")
    commands = parser.add_subparsers(dest="command", required=True)
    tag = commands.add_parser(
        "tag",
        help="tag sentences, one per line",
        description="Tag sentences read one per line from FILE or standard input; "
        "tokens are separated by whitespace unless --tokenize is given.",
    )
    tag.add_argument("file", nargs="?", help="input file (default: standard input)")
    add_checkpoint_arguments(tag, required=False)
    tag.add_argument(
        "--onnx",
        metavar="DIR",
        help="tag with a model exported by `postag export` instead of a checkpoint: needs only onnxruntime and numpy",
    )
    tag.add_argument(
        "--tokenize",
        action="store_true",
        help="plain English text: split punctuation and clitics off words and a line into its sentences "
        "(English only; other languages must come tokenised, one sentence a line, tokens separated by spaces)",
    )
    tag.add_argument(
        "--input-format",
        choices=("text", "conllu"),
        default="text",
        help="text: one sentence a line; conllu: a CoNLL-U file, whose syntactic words are tagged "
        "(multiword tokens, empty nodes and comments are kept as they are)",
    )
    tag.add_argument(
        "--format",
        choices=("tsv", "inline", "conllu"),
        default=None,
        help="word<TAB>tag lines, word/TAG, or CoNLL-U with the tag in the column the model was trained on "
        "(UPOS, XPOS, FEATS or LEMMA; default: conllu for CoNLL-U input, else tsv); CoNLL-U input comes back whole",
    )
    tag.add_argument("--batch-size", type=int, help=f"at most this many sentences a batch (default {BATCH_SIZE})")
    tag.add_argument(
        "--max-tokens", type=int, help=f"at most this many token slots a batch (default {MAX_TOKENS}; 0: no limit)"
    )
    tag.add_argument(
        "--chunk",
        type=int,
        default=CHUNK_SENTENCES,
        help=f"sentences read, tagged and written at a time, or {TOKENS_A_SENTENCE} tokens for each "
        f"(default {CHUNK_SENTENCES}): memory holds one chunk, whatever the input's size",
    )
    tag.add_argument("--bf16", action="store_true", help="bf16 autocast: faster on CPUs with bf16 support")
    tag.add_argument(
        "--compile", action="store_true", help="torch.compile the encoder: faster on large inputs, slow to start"
    )
    tag.set_defaults(run=tag_command)
    explain = commands.add_parser(
        "explain",
        help="one sentence's top tags and attention maps",
        description="Print each word of a sentence with its most likely tags and their probabilities, and "
        "write the attention weights of every block and head as one PNG.",
    )
    explain.add_argument("sentence", nargs="+", help="the sentence, its tokens separated by spaces")
    add_checkpoint_arguments(explain)
    explain.add_argument("--output", default="attention.png", help="PNG of the attention maps (default: attention.png)")
    explain.add_argument("--top", type=int, default=3, help="most likely tags shown for each word (default 3)")
    explain.add_argument(
        "--tokenize", action="store_true", help="split punctuation and clitics off words (English only)"
    )
    explain.set_defaults(run=explain_command)
    export = commands.add_parser(
        "export",
        help="write a checkpoint's network as ONNX, with its vocabularies, for tagging without torch",
        description="Write DIR/model.onnx and DIR/tagger.json: everything `postag tag --onnx DIR` needs.",
    )
    export.add_argument("--ckpt", required=True, help="checkpoint written by train.py")
    export.add_argument("--output", required=True, metavar="DIR", help="directory to write (created if missing)")
    export.set_defaults(run=export_command)
    sweep = commands.add_parser("sweep-summary", help="table of a multirun's jobs (summary.md and summary.csv)")
    sweep.add_argument("sweep_dir")
    sweep.set_defaults(run=sweep_command)
    score = commands.add_parser(
        "score",
        help="accuracy of a tagged CoNLL-U file against the gold one: UPOS, XPOS, UFeats, AllTags, Lemmas",
        description="Score SYSTEM against GOLD word by word, as the CoNLL 2018 shared task does with gold "
        "tokenisation; both files must have the same words.",
    )
    score.add_argument("gold", help="the gold CoNLL-U file")
    score.add_argument("system", help="the same words, tagged (for instance by postag tag --input-format conllu)")
    score.add_argument("--train", help="the training file: also score known and unseen words apart")
    score.set_defaults(run=score_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (InputError, FileNotFoundError, ValueError) as err:
        sys.stdout.flush()  # what was tagged before the error comes out first
        print(f"postag: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader stopped early (`postag tag ... | head`): not an error. Output still buffered
        # goes nowhere, so that Python's own flush at exit does not fail on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
