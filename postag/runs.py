"""Helpers shared by the entry points: building Lightning objects from config, writing reports."""

from __future__ import annotations

import json
import math
from pathlib import Path

from hydra.utils import instantiate
from lightning import Callback, Trainer
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig

from postag.checkpoint import load_teacher
from postag.config import LAST_NEEDS_SAVER, ConfigError
from postag.data import Vocabularies
from postag.module import TaggerModule, data_arguments
from postag.report import (
    comparison_cells,
    format_per_tag_table,
    overall_difference,
    per_tag_cells,
    with_unseen_tags,
    worst_first,
    write_per_tag_csv,
)


def checkpoint_to_test(trainer: Trainer, which: str) -> str | None:
    """The path of the checkpoint ``which`` (one of postag.config.TEST_CHECKPOINTS) names, or None
    where the run saved none (fast_dev_run): its weights in memory are then the ones tested."""
    if which == "best":
        saver = trainer.checkpoint_callback  # the first: the one that monitors val/acc
    else:  # the one without a monitor, overwritten after every epoch (callbacks.last_checkpoint)
        saver = next((c for c in trainer.checkpoint_callbacks if c.monitor is None), None)
        if saver is None and trainer.checkpoint_callbacks:
            raise ConfigError(LAST_NEEDS_SAVER)
    return saver.best_model_path if saver is not None and saver.best_model_path else None


def _nodes(group: DictConfig | None) -> list[DictConfig]:
    """The nodes of a group such as ``callbacks`` or ``logger`` that build something; null entries are skipped."""
    return [node for node in (group or {}).values() if node is not None and "_target_" in node]


def instantiate_all(group: DictConfig | None) -> list:
    """Instantiate every node of a group such as ``callbacks`` or ``logger``."""
    return [instantiate(node) for node in _nodes(group)]


def build_model(model_cfg: DictConfig, vocab: Vocabularies) -> TaggerModule:
    """The model config plus the sizes only the data knows; the model keeps the vocabularies, and
    takes its teacher (``model.teacher``) when it has one."""
    model = instantiate(model_cfg, **data_arguments(vocab))
    model.vocab = vocab
    if model_cfg.get("teacher"):
        model.attach_teacher(load_teacher(model_cfg.teacher, vocab))
    return model


def epochs_for(max_epochs: int, min_steps: int | None, batches_per_epoch: int, accumulate: int = 1) -> int:
    """``max_epochs``, raised where needed so that training takes at least ``min_steps`` optimizer
    steps: 10 epochs of a small treebank are a few hundred updates, of CoNLL-2000 a few thousand."""
    if not min_steps or max_epochs is None or max_epochs < 0:
        return max_epochs
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / accumulate))
    return max(max_epochs, math.ceil(min_steps / steps_per_epoch))


def build_trainer(cfg: DictConfig, purge_step: int | None = None) -> Trainer:
    """The trainer with its callbacks and loggers; ``purge_step``: TensorBoard drops the events a
    stopped run wrote from that step on (a run resumed in its own directory logs them again)."""
    callbacks: list[Callback] = instantiate_all(cfg.get("callbacks"))
    purge = {} if purge_step is None else {"purge_step": purge_step}
    loggers: list[Logger] = [
        instantiate(node, **(purge if node._target_.endswith("TensorBoardLogger") else {}))
        for node in _nodes(cfg.get("logger"))
    ]
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def per_tag_of_test(model: TaggerModule, datamodule) -> list[dict]:
    """The per-tag rows of the last test, with a row for each gold tag training never had."""
    return with_unseen_tags(model.per_tag["test"], datamodule.unseen_tags.get("test", {}))


def write_reports(output_dir: str | Path, metrics: dict, per_tag: list[dict] | None, prefix: str = "test") -> None:
    """metrics.json and the per-tag table (Markdown and CSV) in the run directory."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    if per_tag is not None:
        (output_dir / f"{prefix}_per_tag.md").write_text(format_per_tag_table(per_tag))
        write_per_tag_csv(per_tag, output_dir / f"{prefix}_per_tag.csv")


def scalar_metrics(trainer: Trainer) -> dict:
    """The trainer's logged metrics as plain floats, per-tag entries left out."""
    return {k: float(v) for k, v in trainer.callback_metrics.items() if "acc_per_tag" not in k}


def print_per_tag(rows: list[dict], title: str) -> None:
    """The per-tag table on the console, worst tags first, absent tags last."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("tag")
    for column in ("support", "accuracy", "precision", "recall", "F1"):
        table.add_column(column, justify="right")
    for row in worst_first(rows):
        table.add_row(row["tag"], str(row["support"]), *per_tag_cells(row))
    Console().print(table)


def print_comparison(rows: list[dict], names: tuple[str, str], overall: tuple[float, float], title: str) -> None:
    """Per-tag accuracy of two checkpoints and the difference, largest gain of A first."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, caption=f"A: {names[0]}   B: {names[1]}")
    table.add_column("tag")
    for column in ("support", "A", "B", "A - B"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r["tag"], str(r["support"]), *comparison_cells(r))
    console = Console()
    console.print(table)
    console.print(f"overall accuracy: {overall_difference(overall, sep='  ')}")


HPARAM_METRICS = ("val/acc_best", "test/acc", "test/acc_known", "test/acc_oov")


def log_hparams_with_metrics(trainer: Trainer, cfg: DictConfig, metrics: dict) -> None:
    """The run's settings and final metrics into TensorBoard's HParams tab.

    Written once, at the end, so every run of a sweep shows up there with its
    results; ``logger.default_hp_metric`` is off so no placeholder is written at the start.
    """
    from lightning.pytorch.loggers import TensorBoardLogger
    from omegaconf import OmegaConf

    params = {
        "model": {k: v for k, v in OmegaConf.to_container(cfg.model, resolve=True).items() if k != "_target_"},
        "data": {
            k: cfg.data.get(k)
            for k in ("batch_size", "unk_replace", "unk_rare_alpha", "unk_hide_spelling", "min_freq", "bucketing")
        },
        "trainer": {k: cfg.trainer.get(k) for k in ("max_epochs", "precision", "accumulate_grad_batches")},
        "seed": cfg.get("seed"),
    }
    final = {f"hparams/{k.replace('/', '_')}": metrics[k] for k in HPARAM_METRICS if k in metrics}
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger) and final:
            logger.log_hyperparams(params, metrics=final)
            logger.finalize("success")
