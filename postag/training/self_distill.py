"""Learning from a teacher: a trained tagger (``model.teacher``) whose tag probabilities the loss
also learns from (``model.distill_weight``, postag.training.losses), and a run that trains its own
teacher first (``self_distill=true``): the same config without a teacher, trained in
``<run>/teacher/``; the run's model then learns from that teacher.

A finished teacher is the one with a ``metrics.json``: a run resumed in place after its
teacher finished does not train it again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from postag.data import Vocabularies
from postag.data.vocab import differing_vocabularies
from postag.errors import CheckpointError, ConfigError
from postag.training.checkpoint_file import existing_checkpoint
from postag.training.module import TaggerModule

if TYPE_CHECKING:
    from postag.training.resume import Resume  # which imports this module

log = logging.getLogger(__name__)

TEACHER_DIR = "teacher"


def teacher_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / TEACHER_DIR


def training_dir(cfg: DictConfig) -> Path:
    """The run directory of the model that is training: the run's own teacher's until it finished."""
    run = Path(cfg.paths.output_dir)
    return teacher_dir(run) if cfg.get("self_distill") and finished_teacher(run) is None else run


def teacher_config(cfg: DictConfig) -> DictConfig:
    """The config the teacher trains with: this run's, in ``<run>/teacher``, without a teacher."""
    teacher = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    teacher.paths.output_dir = str(teacher_dir(cfg.paths.output_dir))
    teacher.self_distill = False
    teacher.model.teacher = None
    return teacher


def finished_teacher(run_dir: str | Path) -> dict | None:
    """The metrics of the run's teacher if it finished training (with the checkpoint it tested), else None."""
    path = teacher_dir(run_dir) / "metrics.json"
    if not path.is_file():
        return None
    metrics = json.loads(path.read_text())
    # Teachers written before test_checkpoint named their best checkpoint only
    checkpoint = metrics.get("tested_checkpoint", metrics.get("best_checkpoint", ""))
    if not Path(checkpoint).is_file():
        return None
    return {**metrics, "tested_checkpoint": checkpoint}


def teacher_metrics(teacher: dict, train_seconds: float) -> dict:
    """What the run's metrics say of its teacher: its test metrics and training time under
    ``teacher/``, and the training time of both (``train_seconds``: the run's model's own)."""
    kept = {f"teacher/{k}": v for k, v in teacher.items() if k.startswith("test/") or k == "train_seconds"}
    return {**kept, "train_seconds_with_teacher": round(train_seconds + teacher["train_seconds"], 1)}


def load_teacher(path: str | Path, vocab: Vocabularies) -> TaggerModule:
    """The tagger at ``path`` as a teacher for a run whose vocabularies are ``vocab``: the same
    words, tags, characters, suffixes and affixes, or a CheckpointError naming what differs."""
    teacher = TaggerModule.load_from_checkpoint(existing_checkpoint(path, key="model.teacher"))
    ours, theirs = vocab.state_dict(), teacher.vocab.state_dict()
    differ = [
        f"{name}: {len(theirs[name])} against this run's {len(ours[name])}"
        if len(theirs[name]) != len(ours[name]) else f"{name}: the same number, other entries"
        for name in differing_vocabularies(theirs, ours)
    ]
    if differ:
        raise CheckpointError(
            f"model.teacher={path}: its vocabularies are not this run's ({'; '.join(differ)}); "
            f"train the teacher on the same training data and data settings"
        )
    return teacher


def with_own_teacher(
    cfg: DictConfig, datamodule, resume: Resume | None, fit_and_test: Callable
) -> tuple[dict | None, Resume | None]:
    """(the teacher's metrics, the resume left for the run's model). With ``self_distill``, the
    run's own teacher is trained (``fit_and_test(config, datamodule, resume)``), or found finished,
    and named as ``cfg.model.teacher``; a ``resume`` of the teacher's checkpoint is the teacher's,
    and leaves none for the model. Without ``self_distill``: (None, ``resume``)."""
    if not cfg.get("self_distill"):
        return None, resume
    teacher_resume, resume = (resume, None) if resume is not None and resume.of_teacher else (None, resume)
    teacher = finished_teacher(cfg.paths.output_dir)
    if teacher is None:
        log.info("self_distill: training the teacher in %s", teacher_dir(cfg.paths.output_dir))
        teacher = fit_and_test(teacher_config(cfg), datamodule, teacher_resume)
        if not teacher.get("tested_checkpoint"):
            raise ConfigError(
                # a fast dev run, which saves none either, is stopped before this by the config check
                "self_distill=true: the teacher saved no checkpoint to learn from; train with the checkpoint "
                "callback test_checkpoint reads (best: callbacks.model_checkpoint, last: callbacks.last_checkpoint)"
            )
    cfg.model.teacher = teacher["tested_checkpoint"]
    log.info("self_distill: training on the probabilities of %s", cfg.model.teacher)
    return teacher, resume
