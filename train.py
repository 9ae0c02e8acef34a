"""Train the tagger: `python train.py [hydra overrides]`, or `python train.py -m ...` to sweep."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig

from postag.checkpoint import latest_checkpoint, load_tagger
from postag.config import validate
from postag.console import quiet_library_noise
from postag.errors import USER_ERRORS, describe
from postag.report import with_unseen_tags
from postag.runs import build_model, build_trainer, epochs_for, log_hparams_with_metrics, scalar_metrics, write_reports

log = logging.getLogger(__name__)


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """The checkpoint to resume from, checked to be a postag checkpoint; ``ckpt_path=latest``:
    the newest ``last.ckpt`` of the runs in this project's log directory."""
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is None:
        return None
    path = latest_checkpoint(Path(cfg.paths.log_dir) / cfg.task_name / "runs") if ckpt_path == "latest" else ckpt_path
    # Loaded once here, so that a file that is not a postag checkpoint stops the run in one line
    # before any data is read, rather than in Lightning's restore.
    load_tagger(path)
    return str(path)


def train(cfg: DictConfig) -> dict:
    validate(cfg)  # before any data is read
    ckpt_path = resolve_ckpt_path(cfg)
    if cfg.get("seed") is not None:  # `if cfg.seed:` would skip seed 0
        L.seed_everything(cfg.seed, workers=True)

    # The model's sizes come from the data: build the vocabularies before the model.
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    if cfg.get("min_steps"):
        batches = len(datamodule.train_dataloader())
        cfg.trainer.max_epochs = epochs_for(cfg.trainer.max_epochs, cfg.min_steps, batches, cfg.trainer.accumulate_grad_batches)
        log.info("min_steps=%d: %d epochs of %d batches", cfg.min_steps, cfg.trainer.max_epochs, batches)
    model = build_model(cfg.model, datamodule.vocab)
    trainer = build_trainer(cfg)

    started = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = scalar_metrics(trainer)
    metrics["train_seconds"] = round(time.perf_counter() - started, 1)
    checkpoint = trainer.checkpoint_callback
    if checkpoint is not None and checkpoint.best_model_score is not None:
        metrics["val/acc_best"] = float(checkpoint.best_model_score)

    per_tag = None
    if cfg.get("test"):
        # fast_dev_run saves no checkpoint: test the weights in memory then
        best = "best" if checkpoint is not None and checkpoint.best_model_path else None
        trainer.test(model, datamodule=datamodule, ckpt_path=best, verbose=False)
        metrics.update(scalar_metrics(trainer))
        per_tag = with_unseen_tags(model.test_per_tag, datamodule.unseen_tags.get("test", {}))
        if best:
            metrics["best_checkpoint"] = checkpoint.best_model_path
    if trainer.is_global_zero:
        log_hparams_with_metrics(trainer, cfg, metrics)
        write_reports(cfg.paths.output_dir, metrics, per_tag)
    return metrics


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    quiet_library_noise()
    try:
        metrics = train(cfg)
    except USER_ERRORS as err:
        sys.exit(describe(err, cfg))
    if "test/acc" in metrics:
        print(f"test accuracy: {metrics['test/acc']:.4f}")
    return metrics.get(cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
