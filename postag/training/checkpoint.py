"""Checkpoints written atomically, and what a write killed halfway leaves behind cleared away
(reading a checkpoint and the network in it: checkpoint_file.py; the LightningModule it holds:
TaggerModule.load_from_checkpoint)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO



class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file beside it, then renames it into place.

    A run killed while saving leaves the previous checkpoint whole, never a truncated one.
    """

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                torch.save(checkpoint, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete what AtomicCheckpointIO leaves behind when killed mid-write (SIGKILL, power loss):
    its temporaries, never a finished checkpoint."""
    stale = sorted(Path(directory).glob(".*.ckpt.*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
