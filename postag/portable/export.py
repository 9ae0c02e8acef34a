"""``postag export``: a checkpoint's network as ONNX (``model.onnx``) and what turns words into
its inputs and its outputs into tags (``tagger.json``): the vocabularies, the record fields the
network reads, its tag names and, for a model with positions, their number.

The graph takes one batch of at most ``max_len`` tokens a sentence; the runtime cuts longer
sentences into windows itself (``postag.network.window_plan``), as the PyTorch network does.
A network with a character CNN takes the real characters of the batch's distinct words
(``char_ids``, ``char_word``), each token's word among them (``char_index``) and where each
word's characters lie (``char_slots``): the runtime
finds them from the words, and the graph encodes each distinct word once, over its real
characters only, as the PyTorch network does (``PackedChars``).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from postag.data import Batch
from postag.data.vocab import Vocabularies
from postag.portable import FORMAT_VERSION, MODEL_FILE, SETTINGS_FILE
from postag.network.tagging import TaggingNetwork
from postag.network.word_features import PackedChars
from postag.training.checkpoint_file import load_network

# The graph's inputs for each record field the network reads, after tokens and mask, in this order
FEATURE_INPUTS = {
    "chars": ("char_ids", "char_word", "char_index", "char_slots"), "shapes": ("shapes",), "suffixes": ("suffixes",),
    "affixes": ("affixes",), "norms": ("norms",),
}
OPSET = 18


@contextlib.contextmanager
def quiet_exporter():
    """The exporter's progress lines, and warnings about operators of packages postag does not use, held back."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


class ExportedNetwork(nn.Module):
    """TaggingNetwork.forward on plain tensors: (tokens, mask, the features read) -> log-probabilities
    or logits (B, S, T), for sentences that fit the position table."""

    def __init__(self, net: TaggingNetwork):
        super().__init__()
        self.net = net

    def forward(
        self,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        char_ids: torch.Tensor | None = None,
        char_word: torch.Tensor | None = None,
        char_index: torch.Tensor | None = None,
        char_slots: torch.Tensor | None = None,
        shapes: torch.Tensor | None = None,
        suffixes: torch.Tensor | None = None,
        affixes: torch.Tensor | None = None,
        norms: torch.Tensor | None = None,
    ) -> torch.Tensor:
        chars = None if char_ids is None else PackedChars(char_ids, char_word, char_index, char_slots)
        named = {"chars": chars, "shapes": shapes, "suffixes": suffixes, "affixes": affixes, "norms": norms}
        return self.net(_FeatureBatch(tokens, mask, named))  # (B, S, T)


class _FeatureBatch:
    """What the network reads of a Batch: a network's unread features are None."""

    def __init__(self, tokens: torch.Tensor, mask: torch.Tensor, named: dict):
        self.tokens, self.mask = tokens, mask
        for name, value in named.items():
            setattr(self, name, value)


def graph_inputs(batch: Batch, inputs: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The graph's inputs of a batch."""
    named = {name: getattr(batch, name) for name in ("tokens", "mask", "shapes", "suffixes", "affixes", "norms")}
    if "char_ids" in inputs:
        packed = PackedChars.of(batch.chars)
        named.update(char_ids=packed.ids, char_word=packed.word, char_index=packed.index, char_slots=packed.slots)
    return {name: named[name] for name in inputs}


def export(checkpoint: str | Path, output: str | Path) -> list[Path]:
    """Write ``output/model.onnx`` and ``output/tagger.json`` for ``checkpoint``; returns their paths."""
    net, vocab, _ = load_network(checkpoint, map_location="cpu")
    return export_network(net, vocab, output)


def export_network(net: TaggingNetwork, vocab: Vocabularies, output: str | Path) -> list[Path]:
    """``export`` of a network and its vocabularies."""
    net = copy.deepcopy(net).cpu().eval()
    read = net.record_fields()
    vocab = vocab.for_fields(read)
    features = tuple(name for field, names in FEATURE_INPUTS.items() if field in read for name in names)
    encoder = net.encoder
    max_len = encoder.window
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    inputs = ("tokens", "mask", *features)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=max_len or 100_000)
    shapes = {"tokens": {0: batch, 1: seq}, "mask": {0: batch, 1: seq}}
    for name in features:
        shapes[name] = {0: batch, 1: seq}
    if "char_ids" in features:
        characters = torch.export.Dim("characters")
        shapes["char_ids"], shapes["char_word"] = {0: characters}, {0: characters}
        shapes["char_slots"] = {0: torch.export.Dim("words"), 1: torch.export.Dim("letters")}
    with quiet_exporter():
        program = torch.onnx.export(
            ExportedNetwork(net),
            (),
            kwargs=graph_inputs(vocab.encode_batch([["The", "example", "runs", "."], ["Two", "words"]]), inputs),
            dynamo=True,
            output_names=["scores"],
            dynamic_shapes=shapes,
            opset_version=OPSET,
            external_data=False,
            verbose=False,
        )
    model_path = output / MODEL_FILE
    program.save(str(model_path))
    settings = {
        "format": FORMAT_VERSION,
        "inputs": list(inputs),
        "max_len": max_len,
        "vocabularies": vocab.state_dict(),
        "unread": sorted(vocab.unread),
    }
    settings_path = output / SETTINGS_FILE
    settings_path.write_text(json.dumps(settings, ensure_ascii=False))
    return [model_path, settings_path]
