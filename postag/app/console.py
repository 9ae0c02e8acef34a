"""What a user sees on the console: each error they can cause as one line, and none of the
few library messages they can do nothing about (a filter a message, never a blanket one)."""

from __future__ import annotations

import logging
import warnings

from lightning.pytorch.utilities.exceptions import SIGTERMException

from postag.errors import (
    CheckpointError, ConfigError, CorpusFormatError, DownloadError, SequenceTooLongError, UnknownTagError,
)
from postag.training.self_distill import training_dir

# Lightning's advertisement for a hosted logger, printed by every Trainer that has no LitLogger.
_TIP_LOGGER = "lightning.pytorch.utilities.rank_zero"
_TIP_PREFIX = "💡 Tip:"
# Lightning's own use of a torch pytree API that torch has deprecated (Lightning internals, not ours).
_LEAFSPEC_DEPRECATION = r"`isinstance\(treespec, LeafSpec\)` is deprecated"


class _DropTip(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_TIP_PREFIX)


def quiet_library_noise() -> None:
    """Install the filters; calling it again adds nothing."""
    tip_logger = logging.getLogger(_TIP_LOGGER)
    if not any(isinstance(f, _DropTip) for f in tip_logger.filters):
        tip_logger.addFilter(_DropTip())
    warnings.filterwarnings("ignore", message=_LEAFSPEC_DEPRECATION)


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
    return str(training_dir(cfg) / "checkpoints")
