"""A checkpoint of the moment training stopped by an exception or Ctrl-C."""

from __future__ import annotations

from pathlib import Path

from lightning import Callback, LightningModule, Trainer


class InterruptedCheckpoint(Callback):
    """Saves ``dirpath/filename.ckpt`` when fit ends in an exception (Ctrl-C included).

    A plain Callback, unlike Lightning's OnExceptionCheckpoint: that one is a Checkpoint, so its
    presence makes Lightning turn ``fit(ckpt_path=None)`` into a search for a checkpoint to resume
    from, and ``test(ckpt_path="best")`` see two checkpoint callbacks, with a warning each time.
    postag resumes only from the checkpoint a user names (``ckpt_path``).
    """

    def __init__(self, dirpath: str, filename: str = "interrupted"):
        if not filename:
            raise ValueError("callbacks.on_exception.filename must not be empty")
        self.path = Path(dirpath) / f"{filename}.ckpt"

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        trainer.save_checkpoint(self.path)
