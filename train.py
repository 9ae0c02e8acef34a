"""Train the tagger: `python train.py [hydra overrides]`, or `python train.py -m ...` to sweep."""

from __future__ import annotations

import logging
import sys
import time

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig

from postag.analysis.report import per_tag_of_test, write_reports
from postag.analysis.column_scores import column_per_tag, column_scores, column_summary, scored_by_column
from postag.analysis.spans import span_summary
from postag.app.tagger import tagged_test_tokens
from postag.app.console import USER_ERRORS, describe, quiet_library_noise
from postag.training.build import (
    build_model, build_trainer, checkpoint_to_test, epochs_for, log_hparams_with_metrics, scalar_metrics,
)
from postag.training.config import validate
from postag.training.resume import Resume, check_vocabularies, register_resolvers, resume_from
from postag.training.self_distill import teacher_metrics, with_own_teacher

log = logging.getLogger(__name__)
register_resolvers()  # before Hydra composes the config: the run directory depends on ckpt_path


def train(cfg: DictConfig) -> dict:
    validate(cfg)  # before any data is read
    resume = resume_from(cfg)  # checked before any data is read, too
    if cfg.get("seed") is not None:  # `if cfg.seed:` would skip seed 0
        L.seed_everything(cfg.seed, workers=True)

    # The model's sizes come from the data: build the vocabularies before the model.
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    check_vocabularies(resume, datamodule.vocab)
    if cfg.get("test"):
        datamodule.split_path("test")  # a missing test split stops the run now, not after training
    if cfg.get("min_steps"):
        batches = len(datamodule.train_dataloader())
        cfg.trainer.max_epochs = epochs_for(cfg.trainer.max_epochs, cfg.min_steps, batches, cfg.trainer.accumulate_grad_batches)
        log.info("min_steps=%d: %d epochs of %d batches", cfg.min_steps, cfg.trainer.max_epochs, batches)

    # self_distill: the run's own teacher first, unless it finished before this run was stopped
    teacher, resume = with_own_teacher(cfg, datamodule, resume, fit_and_test)
    return fit_and_test(cfg, datamodule, resume, teacher)


def fit_and_test(cfg: DictConfig, datamodule, resume: Resume | None, teacher: dict | None = None) -> dict:
    """Build, fit and test one model; its reports go to cfg.paths.output_dir. The metrics name
    the best checkpoint and the tested one (test_checkpoint), and with ``teacher`` (the metrics of
    the run's own teacher) add its."""
    model = build_model(cfg.model, datamodule.vocab)
    # Resumed in place, the TensorBoard run continues too: what the stopped run logged after its
    # checkpoint is dropped, as the resumed run logs those steps again.
    trainer = build_trainer(cfg, purge_step=resume.step + 1 if resume is not None and resume.in_place else None)

    started = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=resume and str(resume.checkpoint))
    metrics = scalar_metrics(trainer)
    metrics["train_seconds"] = round(time.perf_counter() - started, 1)
    checkpoint = trainer.checkpoint_callback
    if checkpoint is not None and checkpoint.best_model_score is not None:
        metrics["val/acc_best"] = float(checkpoint.best_model_score)
    best = checkpoint_to_test(trainer, "best")
    if best:
        metrics["best_checkpoint"] = best
    tested = checkpoint_to_test(trainer, cfg.get("test_checkpoint", "best"))
    if tested:
        metrics["tested_checkpoint"] = tested

    per_tag, columns = None, None
    if cfg.get("test"):
        # fast_dev_run saves no checkpoint: test the weights in memory then. A checkpoint by its path,
        # not "best", which Lightning calls ambiguous beside the second ModelCheckpoint (last.ckpt).
        trainer.test(model, datamodule=datamodule, ckpt_path=tested, verbose=False)
        metrics.update(scalar_metrics(trainer))
        per_tag = per_tag_of_test(model, datamodule)
        column = datamodule.vocab.conllu_column
        if scored_by_column(column, model.tag_names):
            tokens = tagged_test_tokens(model, datamodule.vocab, datamodule.sentences["test"])[1]
            metrics.update(column_scores(tokens, column))
            columns = column_per_tag(tokens, column, model.tag_names)
    if teacher is not None:
        metrics.update(teacher_metrics(teacher, metrics["train_seconds"]))
    if trainer.is_global_zero:
        log_hparams_with_metrics(trainer, cfg, metrics)
        write_reports(cfg.paths.output_dir, metrics, per_tag, columns=columns)
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
        for summary in (span_summary(metrics), column_summary(metrics)):
            if summary:
                print(summary)
    return metrics.get(cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
