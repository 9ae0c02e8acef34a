"""Resuming in place: a run resumed from ``<run>/checkpoints/*.ckpt`` continues in ``<run>``.

Hydra picks a run's directory before train.py starts, so the choice is made in the config
(``conf/hydra/train.yaml``) through two resolvers registered here: ``resume_dir`` gives the
checkpoint's run directory (or a fresh one), ``resume_subdir`` the folder for the resumed
invocation's own config and overrides, beside the original ones and not over them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from postag.errors import ConfigError
from postag.data.vocab import differing_vocabularies
from postag.training.self_distill import TEACHER_DIR, teacher_dir

CONFIG_DIR = ".hydra"
# Data settings a resumed run may change: where the files are, and how they are loaded.
FREE_DATA_KEYS = ("data_dir", "train_file", "dev_file", "test_file", "num_workers", "download", "base_url")
# What ckpt_path=latest looks for under the runs directory
LATEST_PATTERNS = ("*/checkpoints/last.ckpt", f"*/{TEACHER_DIR}/checkpoints/last.ckpt")


def checkpoint_to_resume(ckpt_path: str | None, runs_dir: str) -> Path | None:
    """The file ``ckpt_path`` names (``latest``: the newest ``<run>/checkpoints/last.ckpt`` under
    ``runs_dir``, or ``<run>/teacher/checkpoints/last.ckpt`` of a ``self_distill`` run stopped while
    its teacher trained), or None when there is none; train.py reports that in one line."""
    if ckpt_path is None:
        return None
    if ckpt_path == "latest":
        candidates = sorted(
            (path for pattern in LATEST_PATTERNS for path in Path(runs_dir).glob(pattern)), key=lambda p: p.stat().st_mtime
        )
        return candidates[-1] if candidates else None
    path = Path(ckpt_path)
    return path if path.is_file() else None


def run_of(checkpoint: Path | None) -> Path | None:
    """The run directory a checkpoint belongs to: ``<run>/checkpoints/X.ckpt`` with ``<run>/.hydra``,
    or ``<run>/teacher/checkpoints/X.ckpt``, the run's own teacher (``self_distill``)."""
    if checkpoint is None or checkpoint.parent.name != "checkpoints":
        return None
    run = checkpoint.parent.parent
    if run.name == TEACHER_DIR and not (run / CONFIG_DIR).is_dir():
        run = run.parent
    return run if (run / CONFIG_DIR).is_dir() else None


def resume_dir(ckpt_path: str | None, runs_dir: str, fresh_dir: str) -> str:
    run = run_of(checkpoint_to_resume(ckpt_path, runs_dir))
    return str(run) if run is not None else fresh_dir


def resume_subdir(ckpt_path: str | None, runs_dir: str, stamp: str) -> str:
    run = run_of(checkpoint_to_resume(ckpt_path, runs_dir))
    return CONFIG_DIR if run is None else f"{CONFIG_DIR}/resumed_{stamp}"


def register_resolvers() -> None:
    for name, function in (("resume_dir", resume_dir), ("resume_subdir", resume_subdir)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)


@dataclass
class Resume:
    """A run to continue: its checkpoint, whether it continues in that checkpoint's run directory,
    the step it stopped at, the vocabularies it was trained with, and whether the checkpoint is
    of the run's own teacher (``self_distill``: the teacher is resumed, then the model trained)."""

    checkpoint: Path
    in_place: bool
    step: int
    vocab: dict
    of_teacher: bool = False


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def _differences(section: str, now: dict, then: dict, skip: tuple[str, ...] = ()) -> list[str]:
    return [
        f"{section}.{key}={_plain(then[key])!r} (now {_plain(value)!r})"
        for key, value in now.items()
        if key in then and key not in skip and key != "_target_" and _plain(value) != _plain(then[key])
    ]


def resume_from(cfg: DictConfig) -> Resume | None:
    """The run that ``ckpt_path`` continues, checked: a postag checkpoint (one line if not), trained
    with the model settings (and, resuming in place, the data settings) of this invocation."""
    from postag.errors import CheckpointError
    from postag.training.checkpoint import remove_stale_temporaries
    from postag.training.checkpoint_file import read_checkpoint
    from postag.data import vocabularies_from_checkpoint

    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is None:
        return None
    runs_dir = Path(cfg.paths.log_dir) / cfg.task_name / "runs"
    path = checkpoint_to_resume(ckpt_path, str(runs_dir))
    if path is None:
        if ckpt_path == "latest":
            looked_for = " or ".join(pattern.replace("*", "<run>", 1) for pattern in LATEST_PATTERNS)
            raise CheckpointError(f"ckpt_path=latest: no {looked_for} under {runs_dir}")
        raise FileNotFoundError(f"ckpt_path: no checkpoint file at {ckpt_path}")
    checkpoint = read_checkpoint(path)
    try:
        vocab = vocabularies_from_checkpoint(checkpoint, str(path)).state_dict()
    except ValueError as err:
        raise CheckpointError(str(err)) from None
    model_now = OmegaConf.to_container(cfg.model, resolve=True)
    # With self_distill the teacher is the run's own, which its model checkpoints name by path.
    differing = _differences("model", model_now, checkpoint["hyper_parameters"], ("teacher",) if cfg.get("self_distill") else ())
    run = run_of(path)
    in_place = run is not None and run.resolve() == Path(cfg.paths.output_dir).resolve()
    of_teacher = run is not None and path.parent.parent.resolve() == teacher_dir(run).resolve()
    if of_teacher and not cfg.get("self_distill"):
        raise ConfigError(f"ckpt_path={path}: the checkpoint is of a run's own teacher; resume it with self_distill=true")
    if in_place:
        original = OmegaConf.load(run / CONFIG_DIR / "config.yaml")
        data_then = OmegaConf.to_container(original.data, resolve=False) if "data" in original else {}
        differing += _differences("data", OmegaConf.to_container(cfg.data, resolve=True), data_then, FREE_DATA_KEYS)
    if differing:
        raise ConfigError(
            f"ckpt_path={path}: the checkpoint was trained with {', '.join(differing)}; "
            f"resume with the settings it was trained with, or start a new run"
        )
    if in_place:
        remove_stale_temporaries(path.parent)
        # The directory is the run's own, full of its checkpoints: that is the point of resuming in place.
        warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    return Resume(path, in_place, int(checkpoint.get("global_step", 0)), vocab, of_teacher)


def check_vocabularies(resume: Resume | None, vocab) -> None:
    """The training data of a resumed run must give the vocabularies the checkpoint was trained with."""
    if resume is None:
        return
    differing = differing_vocabularies(resume.vocab, vocab.state_dict())
    if differing:
        raise ConfigError(
            f"ckpt_path={resume.checkpoint}: the training data gives other {', '.join(differing)} vocabularies "
            f"than the checkpoint was trained with; resume on the same data, or start a new run"
        )
