"""The errors a user can cause, and the one-line message each gets at the command line."""

from __future__ import annotations

from lightning.pytorch.utilities.exceptions import SIGTERMException

from postag.checkpoint import CheckpointError
from postag.config import ConfigError
from postag.data import CorpusFormatError, DownloadError, UnknownTagError
from postag.model import SequenceTooLongError

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
        where = f" in {cfg.paths.output_dir}/checkpoints" if cfg is not None else ""
        return (
            f"postag: stopped by SIGTERM; the checkpoints{where} are complete: resume with "
            f"ckpt_path=<run>/checkpoints/last.ckpt (or ckpt_path=latest)"
        )
    return f"postag: error: {err}"
