"""Loading a trained tagger from a checkpoint alone (no training data needed)."""

from __future__ import annotations

from pathlib import Path

import torch

from postag.data import Vocabularies, vocabularies_from_checkpoint
from postag.module import TaggerModule


def load_tagger(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[TaggerModule, Vocabularies]:
    """(model in eval mode, its vocabularies) from a Lightning checkpoint written by train.py."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path: no checkpoint file at {path}")
    # weights_only=True: a checkpoint is data, never code to run.
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint or "hyper_parameters" not in checkpoint:
        raise ValueError(f"{path}: not a postag checkpoint (no state_dict/hyper_parameters)")
    vocab = vocabularies_from_checkpoint(checkpoint, str(path))
    model = TaggerModule(**checkpoint["hyper_parameters"])
    sizes = (model.tag_names, model.hparams.vocab_size, model.hparams.char_vocab_size, model.hparams.suffix_vocab_size)
    if sizes != (vocab.tags.itos, len(vocab.words), len(vocab.chars), len(vocab.suffixes)):
        raise ValueError(f"{path}: the saved vocabularies do not match the saved model's sizes")
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    return model, vocab
