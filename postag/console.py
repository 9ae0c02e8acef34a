"""A quiet console: the few messages of the libraries that a postag user can do nothing about,
each silenced on its own (a filter a message, never a blanket one)."""

from __future__ import annotations

import logging
import warnings

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
