"""Score a checkpoint: `python evaluate.py ckpt_path=PATH [data=conllu] [data.test_file=FILE] [compare_to=OTHER]`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from postag.analysis.error_analysis import Token, add_comparison, error_report, write_error_report
from postag.analysis.column_scores import column_per_tag, column_scores, column_summary
from postag.analysis.report import (
    compare_rows, format_comparison, per_tag_of_test, print_comparison, print_per_tag, write_comparison_csv,
    write_reports,
)
from postag.analysis.spans import span_summary
from postag.app.tagger import tagged_test_tokens
from postag.app.console import USER_ERRORS, describe, quiet_library_noise
from postag.training.build import build_trainer, scalar_metrics
from postag.training.module import TaggerModule
from postag.data.formats import check_columns
from postag.training.config import validate


class Scored(NamedTuple):
    metrics: dict
    per_tag: list[dict]
    tokens: list[Token]  # every test token with its predicted tag
    sentences: list  # the test sentences, (words, gold tags) each
    columns: dict  # per-tag rows of a joint tag's columns, by column name, and of span types (spans)


def score(cfg: DictConfig, ckpt_path: str) -> Scored:
    """Test metrics, per-tag rows and tagged tokens of one checkpoint on the configured data."""
    model = TaggerModule.load_from_checkpoint(ckpt_path)
    vocab = model.vocab
    datamodule = instantiate(cfg.data)
    check_columns(ckpt_path, vocab.conllu_column, datamodule.reader)  # one line if they differ
    datamodule.vocab = vocab  # the checkpoint's, never rebuilt from data
    datamodule.prepare_data()
    datamodule.setup("test")
    trainer = build_trainer(cfg)
    trainer.test(model, datamodule=datamodule, verbose=False)
    metrics = scalar_metrics(trainer)
    metrics["ckpt_path"] = str(ckpt_path)
    per_tag = per_tag_of_test(model, datamodule)
    # The tags behind the scores, token by token, for the error analysis; a model of lemmas or
    # of a joint tag is also scored by column
    sentences, tokens = tagged_test_tokens(model, vocab, datamodule.sentences["test"])
    metrics.update(column_scores(tokens, vocab.conllu_column))
    return Scored(metrics, per_tag, tokens, sentences, column_per_tag(tokens, vocab.conllu_column, model.tag_names))


def evaluate(cfg: DictConfig) -> Scored:
    validate(cfg)
    scored = score(cfg, cfg.ckpt_path)
    write_reports(cfg.paths.output_dir, scored.metrics, scored.per_tag, columns=scored.columns)
    return scored


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> float:
    quiet_library_noise()
    try:
        return report(cfg)
    except USER_ERRORS as err:
        sys.exit(describe(err, cfg))


def report(cfg: DictConfig) -> float:
    scored = evaluate(cfg)
    metrics, per_tag = scored.metrics, scored.per_tag
    data_name = cfg.data.test_file or (
        "CoNLL-2000 test split" if cfg.data.format == "conll2000" else f"test split of {cfg.data.data_dir}"
    )
    print_per_tag(per_tag, title=f"per-tag results, {data_name}")
    tokens = sum(r["support"] for r in per_tag)
    print(f"test accuracy (micro, {tokens} tokens): {metrics['test/acc']:.4f}")
    for summary in (span_summary(metrics), column_summary(metrics)):
        if summary:
            print(summary)
    out = Path(cfg.paths.output_dir)
    errors = error_report(scored.tokens, scored.sentences, f"Errors of {cfg.ckpt_path} on the {data_name}")
    if cfg.get("compare_to"):
        other = score(cfg, cfg.compare_to)
        rows = compare_rows(per_tag, other.per_tag)
        overall = (metrics["test/acc"], other.metrics["test/acc"])
        names = (Path(cfg.ckpt_path).name, Path(cfg.compare_to).name)
        print_comparison(rows, names, overall, title=f"per-tag accuracy, A = ckpt_path, B = compare_to, {data_name}")
        (out / "compare.md").write_text(format_comparison(rows, (cfg.ckpt_path, cfg.compare_to), overall))
        write_comparison_csv(rows, out / "compare.csv")
        errors.title += f", beside B = {cfg.compare_to}"
        add_comparison(errors, scored.tokens, other.tokens, scored.sentences)
    write_error_report(errors, out)
    print(f"error analysis: {out / 'errors.md'} and errors.csv")
    return metrics["test/acc"]


if __name__ == "__main__":
    main()
