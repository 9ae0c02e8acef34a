"""The errors a user can cause, and the one-line message each gets at the command line."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.utilities.exceptions import SIGTERMException

from postag.checkpoint import CheckpointError
from postag.config import ConfigError
from postag.data import CorpusFormatError, DownloadError, UnknownTagError
from postag.model import SequenceTooLongError
from postag.own_teacher import finished_teacher, teacher_dir

# Bad input and interruptions: reported in one line, exit status 1, no traceback.
USER_ERRORS = (
    ConfigError,
    CorpusFormatError,
    DownloadError,
    UnknownTagError,
    SequenceTooLongError,
    CheckpointError,
    FileNotFoundError,
    FloatingPointError,
    SIGTERMException,
)


def describe(err: BaseException, cfg=None) -> str:
    """``postag: error: ...`` with what to do next where there is something to do."""
    if isinstance(err, SIGTERMException):
        checkpoints = "<run>/checkpoints" if cfg is None else interrupted_checkpoints(cfg)
        return (
            f"postag: stopped by SIGTERM; the checkpoints in {checkpoints} are complete: resume with "
            f"ckpt_path={checkpoints}/last.ckpt (or ckpt_path=latest)"
        )
    return f"postag: error: {err}"


def interrupted_checkpoints(cfg) -> str:
    """The checkpoint folder of the model that was training: the run's own teacher's until it finished."""
    run = Path(cfg.paths.output_dir)
    training = teacher_dir(run) if cfg.get("self_distill") and finished_teacher(run) is None else run
    return str(training / "checkpoints")
