"""Checks of a composed config, run before any data is read or any model is built."""

from __future__ import annotations

from omegaconf import DictConfig, ListConfig, OmegaConf

from postag.training.averaging import DECAY_EXPECTED, valid_decay
from postag.data.formats import FORMATS, make_reader
from postag.data.tag_columns import tag_column_names
from postag.errors import ConfigError
from postag.network.model import ATTENTION_IMPLEMENTATIONS


# Which weights a run tests and hands on (metrics.json's "tested_checkpoint", the teacher of
# self_distill): the checkpoint of the best val/acc, or the weights after the last epoch.
TEST_CHECKPOINTS = ("best", "last")


LAST_NEEDS_SAVER = (
    "test_checkpoint=last needs callbacks.last_checkpoint, which saves the latest weights; "
    "keep it, or set test_checkpoint=best"
)


def _check(cfg: DictConfig, key: str, ok, expected: str) -> None:
    node, _, name = key.rpartition(".")
    section = OmegaConf.select(cfg, node) if node else cfg
    if section is None or name not in section:
        return
    value = section.get(name)
    if not ok(value):
        raise ConfigError(f"{key}={value!r}: expected {expected}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_weight(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for the first value that cannot work."""
    if cfg.get("model") is not None:
        _check(cfg, "model.hidden_n", lambda v: _is_int(v) and v >= 1, "an integer of at least 1")
        _check(cfg, "model.h", lambda v: _is_int(v) and v >= 1, "an integer of at least 1 (number of heads)")
        _check(cfg, "model.n", lambda v: _is_int(v) and v >= 1, "an integer of at least 1 (number of blocks)")
        hidden, heads = cfg.model.get("hidden_n"), cfg.model.get("h")
        if _is_int(hidden) and _is_int(heads) and hidden // heads < 1:
            raise ConfigError(
                f"model.hidden_n={hidden} with model.h={heads}: each head would get hidden_n // h = 0 dimensions; "
                f"expected hidden_n >= h"
            )
        for key in ("model.dropout", "model.feature_dropout", "model.label_smoothing"):
            _check(cfg, key, lambda v: isinstance(v, (int, float)) and 0.0 <= v < 1.0, "a number in [0, 1)")
        _check(cfg, "model.distill_weight", lambda v: isinstance(v, (int, float)) and 0.0 <= v <= 1.0, "a number in [0, 1]")
        _check(cfg, "model.adversarial", lambda v: isinstance(v, (int, float)) and v >= 0, "0 (off) or a positive number")
        _check(
            cfg,
            "model.column_weight",
            lambda v: _is_weight(v) or (isinstance(v, (list, tuple, ListConfig)) and len(v) > 0 and all(_is_weight(w) for w in v)),
            "0 (off), a positive number, or a list of one such number per column of data.tag_column",
        )
        _check(cfg, "model.lr", lambda v: isinstance(v, (int, float)) and v > 0, "a positive number")
        _check(cfg, "model.max_len", lambda v: _is_int(v) and v >= 1, "an integer of at least 1")
        _check(cfg, "model.ensemble", lambda v: _is_int(v) and v >= 1, "an integer of at least 1 (number of taggers)")
        _check(cfg, "model.max_offset", lambda v: _is_int(v) and v >= 0, "0 (off) or a positive integer")
        _check(
            cfg, "model.conv_kernel", lambda v: _is_int(v) and v >= 0 and (v == 0 or v % 2 == 1),
            "0 (off) or an odd positive integer (convolution width)",
        )
        _check(cfg, "model.char_n", lambda v: _is_int(v) and v >= 0, "0 (off) or a positive integer")
        _check(
            cfg,
            "model.char_kernels",
            lambda v: isinstance(v, (list, tuple, ListConfig)) and len(v) > 0 and all(_is_int(k) and k >= 1 for k in v),
            "a non-empty list of positive integers (character window widths)",
        )
        _check(cfg, "model.ff_dim", lambda v: v is None or (_is_int(v) and v >= 1), "null or a positive integer")
        _check(cfg, "model.warmup_steps", lambda v: _is_int(v) and v >= 0, "a non-negative integer")
        _check(cfg, "model.attention", lambda v: v in ATTENTION_IMPLEMENTATIONS, " or ".join(ATTENTION_IMPLEMENTATIONS))
        _check(cfg, "model.lr_schedule", lambda v: v in ("cosine", "constant"), "cosine or constant")
    if cfg.get("data") is not None:
        _check(cfg, "data.format", lambda v: v in FORMATS, " or ".join(FORMATS))
        _check(cfg, "data.batch_size", lambda v: _is_int(v) and v >= 1, "an integer of at least 1")
        _check(cfg, "data.val_fraction", lambda v: isinstance(v, (int, float)) and 0.0 < v < 1.0, "a number in (0, 1)")
        _check(cfg, "data.unk_replace", lambda v: isinstance(v, (int, float)) and 0.0 <= v < 1.0, "a number in [0, 1)")
        for key in ("data.unk_rare_alpha", "data.unk_hide_spelling"):
            _check(cfg, key, lambda v: isinstance(v, (int, float)) and v >= 0, "0 (off) or a positive number")
        _check(cfg, "data.min_freq", lambda v: _is_int(v) and v >= 1, "an integer of at least 1")
        _check(cfg, "data.num_workers", lambda v: _is_int(v) and v >= 0, "a non-negative integer")
        reader = check_columns_asked(cfg.data)
        weights = cfg.model.get("column_weight") if cfg.get("model") is not None else None
        columns = len(tag_column_names(reader.conllu_column))
        if isinstance(weights, ListConfig) and len(weights) != columns:
            raise ConfigError(
                f"model.column_weight={list(weights)!r} lists {len(weights)} weights for the {columns} column(s) "
                f"of data.tag_column ({reader.conllu_column}); expected one per column, or a single number"
            )
    _check(cfg, "min_steps", lambda v: v is None or (_is_int(v) and v >= 0), "null or a non-negative integer")
    _check(cfg, "self_distill", lambda v: isinstance(v, bool), "true or false")
    _check(cfg, "test_checkpoint", lambda v: v in TEST_CHECKPOINTS, " or ".join(TEST_CHECKPOINTS))
    _check(cfg, "callbacks.ema_weights.decay", valid_decay, DECAY_EXPECTED)
    callbacks = cfg.get("callbacks")
    if cfg.get("test_checkpoint") == "last" and callbacks is not None and not callbacks.get("last_checkpoint"):
        raise ConfigError(LAST_NEEDS_SAVER)
    if cfg.get("self_distill") is True:
        if cfg.get("model") is not None and cfg.model.get("teacher"):
            raise ConfigError(
                f"self_distill=true with model.teacher={cfg.model.teacher}: self_distill trains the run's own teacher; "
                f"leave model.teacher unset, or set self_distill=false"
            )
        if cfg.get("trainer") is not None and cfg.trainer.get("fast_dev_run"):
            raise ConfigError(
                f"self_distill=true with trainer.fast_dev_run={cfg.trainer.fast_dev_run}: a fast dev run saves no "
                f"checkpoint to hand the teacher on; set self_distill=false, or use debug=fast_dev_run, which does"
            )
    if cfg.get("trainer") is not None:
        check_gpus(cfg.trainer)
        _check(cfg, "trainer.max_epochs", lambda v: v is None or (_is_int(v) and v >= -1), "an integer (-1: no limit)")
        _check(cfg, "trainer.accumulate_grad_batches", lambda v: _is_int(v) and v >= 1, "an integer of at least 1")


def check_columns_asked(data: DictConfig):
    """The format's word and tag columns (``data.tag_column``), checked by building its reader; the reader."""
    columns = {key: OmegaConf.to_object(v) if OmegaConf.is_config(v := data.get(key)) else v
               for key in ("word_column", "tag_column")}
    try:
        return make_reader(data.get("format"), **columns)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def check_gpus(trainer: DictConfig) -> None:
    """trainer.accelerator=gpu (or cuda) needs a GPU that torch can see, and trainer.devices=N
    that many; said here, in one line, rather than by Lightning after the data is read."""
    import torch

    accelerator, devices = trainer.get("accelerator"), trainer.get("devices")
    if accelerator not in ("gpu", "cuda"):
        return
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if available == 0:
        raise ConfigError(
            f"trainer.accelerator={accelerator}: no GPU is visible to torch on this machine; "
            f"use trainer.accelerator=cpu or auto"
        )
    wanted = len(devices) if isinstance(devices, (list, ListConfig)) else devices
    if _is_int(wanted) and wanted > available:
        raise ConfigError(
            f"trainer.devices={devices}: {available} GPU{'s are' if available > 1 else ' is'} visible to torch "
            f"on this machine; use trainer.devices={available} or fewer"
        )
