"""A run that trains its own teacher first (``self_distill=true``): the teacher is the same
config without a teacher, trained in ``<run>/teacher/``; the run's model then learns from the
teacher's tag probabilities as well as from the gold tags (``model.distill_weight``).

A finished teacher is the one with a ``metrics.json``: a run resumed in place after its
teacher finished does not train it again.
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

TEACHER_DIR = "teacher"


def teacher_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / TEACHER_DIR


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
