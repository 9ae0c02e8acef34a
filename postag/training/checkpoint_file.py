"""A checkpoint of train.py read as data, and the network and vocabularies it holds, without
Lightning: tagging (``postag tag``, ``Tagger.load``) starts without importing it."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from postag.data import Vocabularies, vocabularies_from_checkpoint
from postag.errors import CheckpointError
from postag.network.tagging import SETTINGS as NETWORK_SETTINGS
from postag.network.tagging import TaggingNetwork, data_arguments

# Parameter names of the network's parts in checkpoints written before the network was a module
# of its own (the fixture tests/fixtures/checkpoint-8dd5c96.ckpt is one); since, they are under NET
NETWORK_PARTS = ("encoder.", "word_features.", "head.", "extra_members.")
NET = "net."


def existing_checkpoint(path: str | Path, key: str = "ckpt_path") -> Path:
    """``path`` as a Path, or FileNotFoundError naming the config ``key`` when no file is there."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{key}: no checkpoint file at {path}")
    return path


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


def saved_settings(checkpoint: dict) -> dict:
    """The flat settings a checkpoint's model was built with (postag.training.build.tagger_module)."""
    # Checkpoints written before a joint tag could be scored by its columns have no joint_head: flat
    return {"joint_head": "flat", **checkpoint["hyper_parameters"]}


def load_network(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[TaggingNetwork, Vocabularies, dict]:
    """(the network in eval mode, its vocabularies, the checkpoint's settings) of a checkpoint
    written by train.py."""
    checkpoint = read_checkpoint(path, map_location)
    try:
        vocab = vocabularies_from_checkpoint(checkpoint, str(path))
    except ValueError as err:
        raise CheckpointError(str(err)) from None
    settings = saved_settings(checkpoint)
    net = TaggingNetwork(**{name: settings[name] for name in NETWORK_SETTINGS if name in settings})
    expected = data_arguments(vocab)
    if {arg: net.settings[arg] for arg in expected} != expected:
        raise CheckpointError(f"{path}: the saved vocabularies do not match the saved model's sizes")
    state = {}
    for key, value in checkpoint["state_dict"].items():
        if key.startswith(NET):
            state[key[len(NET):]] = value
        elif key.startswith(NETWORK_PARTS):
            state[key] = value
    net.load_state_dict(state)
    return net.eval(), vocab, settings
