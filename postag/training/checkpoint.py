"""Checkpoints: written atomically, found for resuming, loaded as a tagger without training data."""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from postag.data import Vocabularies, vocabularies_from_checkpoint
from postag.errors import CheckpointError
from postag.network.tagging import VOCABULARY_SIZES, data_arguments
from postag.training.build import tagger_module
from postag.training.module import TaggerModule


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


def existing_checkpoint(path: str | Path, key: str = "ckpt_path") -> Path:
    """``path`` as a Path, or FileNotFoundError naming the config ``key`` when no file is there."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{key}: no checkpoint file at {path}")
    return path


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete what AtomicCheckpointIO leaves behind when killed mid-write (SIGKILL, power loss):
    its temporaries, never a finished checkpoint."""
    stale = sorted(Path(directory).glob(".*.ckpt.*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """A postag checkpoint's contents, loaded as data only (``weights_only=True``); anything else
    is a CheckpointError that says in one line what the file is instead."""
    path = existing_checkpoint(path)
    if not zipfile.is_zipfile(path):  # torch.save has written zip archives since torch 1.6
        raise CheckpointError(f"{path}: not a postag checkpoint (not a PyTorch checkpoint file, or a truncated one)")
    try:
        # weights_only=True: a checkpoint is data, never code to run.
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path}: not a postag checkpoint (it holds Python objects other than tensors and plain values; "
            f"postag loads checkpoints as data only and runs no code from them)"
        ) from None
    except Exception as err:  # a damaged archive
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: not a postag checkpoint (a damaged PyTorch file: {first_line})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint or "hyper_parameters" not in checkpoint:
        raise CheckpointError(f"{path}: not a postag checkpoint (no state_dict/hyper_parameters)")
    return checkpoint


def load_tagger(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[TaggerModule, Vocabularies]:
    """(model in eval mode, its vocabularies) from a Lightning checkpoint written by train.py."""
    checkpoint = read_checkpoint(path, map_location)
    try:
        vocab = vocabularies_from_checkpoint(checkpoint, str(path))
    except ValueError as err:
        raise CheckpointError(str(err)) from None
    # Checkpoints written before a joint tag could be scored by its columns have no joint_head: flat
    model = tagger_module(**{"joint_head": "flat", **checkpoint["hyper_parameters"]})
    saved = {"tag_names": model.tag_names, **{arg: model.hparams[arg] for arg in ("tag_columns", *VOCABULARY_SIZES)}}
    if saved != data_arguments(vocab):
        raise CheckpointError(f"{path}: the saved vocabularies do not match the saved model's sizes")
    model.load_state_dict(checkpoint["state_dict"])
    model.vocab = vocab
    model.eval()
    return model, vocab
