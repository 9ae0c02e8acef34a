"""Building a run from its config: the tagger, the trainer with its callbacks and loggers, the epochs."""

from __future__ import annotations

import inspect
import math

from hydra.utils import instantiate
from lightning import Callback, Trainer
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig

from postag.data import Vocabularies
from postag.errors import ConfigError
from postag.network.tagging import SETTINGS as NETWORK_SETTINGS
from postag.network.tagging import TaggingNetwork, data_arguments
from postag.training.config import LAST_NEEDS_SAVER
from postag.training.losses import TaggingLoss
from postag.training.module import TaggerModule
from postag.training.self_distill import load_teacher


def checkpoint_to_test(trainer: Trainer, which: str) -> str | None:
    """The path of the checkpoint ``which`` (one of postag.training.config.TEST_CHECKPOINTS) names, or None
    where the run saved none (fast_dev_run): its weights in memory are then the ones tested."""
    if which == "best":
        saver = trainer.checkpoint_callback  # the first: the one that monitors val/acc
    else:  # the one without a monitor, overwritten after every epoch (callbacks.last_checkpoint)
        saver = next((c for c in trainer.checkpoint_callbacks if c.monitor is None), None)
        if saver is None and trainer.checkpoint_callbacks:
            raise ConfigError(LAST_NEEDS_SAVER)
    return saver.best_model_path if saver is not None and saver.best_model_path else None


def _nodes(group: DictConfig | None) -> list[DictConfig]:
    """The nodes of a group such as ``callbacks`` or ``logger`` that build something; null entries are skipped."""
    return [node for node in (group or {}).values() if node is not None and "_target_" in node]


def instantiate_all(group: DictConfig | None) -> list:
    """Instantiate every node of a group such as ``callbacks`` or ``logger``."""
    return [instantiate(node) for node in _nodes(group)]


def tagger_module(**settings) -> TaggerModule:
    """A TaggerModule from the flat settings of the ``model`` config group (and of checkpoints):
    each goes to the part whose argument it is, the network, its loss or the module."""
    net = TaggingNetwork(**{k: settings.pop(k) for k in NETWORK_SETTINGS if k in settings})
    return TaggerModule.around(net, **settings)


# The settings tagger_module takes, with their defaults: the parts' own arguments (help() and the
# config check read them)
tagger_module.__signature__ = inspect.Signature(
    [
        parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for part in (TaggingNetwork, TaggingLoss, TaggerModule)
        for name, parameter in inspect.signature(part).parameters.items()
        if name not in ("net", "loss")
    ]
)


def build_model(model_cfg: DictConfig, vocab: Vocabularies) -> TaggerModule:
    """The model config plus the sizes only the data knows; the model keeps the vocabularies, and
    takes its teacher (``model.teacher``) when it has one."""
    model = instantiate(model_cfg, **data_arguments(vocab))
    model.vocab = vocab
    if model_cfg.get("teacher"):
        model.attach_teacher(load_teacher(model_cfg.teacher, vocab))
    return model


def epochs_for(max_epochs: int, min_steps: int | None, batches_per_epoch: int, accumulate: int = 1) -> int:
    """``max_epochs``, raised where needed so that training takes at least ``min_steps`` optimizer
    steps: 10 epochs of a small treebank are a few hundred updates, of CoNLL-2000 a few thousand."""
    if not min_steps or max_epochs is None or max_epochs < 0:
        return max_epochs
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / accumulate))
    return max(max_epochs, math.ceil(min_steps / steps_per_epoch))


def build_trainer(cfg: DictConfig, purge_step: int | None = None) -> Trainer:
    """The trainer with its callbacks and loggers; ``purge_step``: TensorBoard drops the events a
    stopped run wrote from that step on (a run resumed in its own directory logs them again)."""
    callbacks: list[Callback] = instantiate_all(cfg.get("callbacks"))
    purge = {} if purge_step is None else {"purge_step": purge_step}
    loggers: list[Logger] = [
        instantiate(node, **(purge if node._target_.endswith("TensorBoardLogger") else {}))
        for node in _nodes(cfg.get("logger"))
    ]
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def scalar_metrics(trainer: Trainer) -> dict:
    """The trainer's logged metrics as plain floats, per-tag entries left out."""
    return {k: float(v) for k, v in trainer.callback_metrics.items() if "acc_per_tag" not in k}


HPARAM_METRICS = ("val/acc_best", "test/acc", "test/acc_known", "test/acc_oov")


def log_hparams_with_metrics(trainer: Trainer, cfg: DictConfig, metrics: dict) -> None:
    """The run's settings and final metrics into TensorBoard's HParams tab.

    Written once, at the end, so every run of a sweep shows up there with its
    results; ``logger.default_hp_metric`` is off so no placeholder is written at the start.
    """
    from lightning.pytorch.loggers import TensorBoardLogger
    from omegaconf import OmegaConf

    params = {
        "model": {k: v for k, v in OmegaConf.to_container(cfg.model, resolve=True).items() if k != "_target_"},
        "data": {
            k: cfg.data.get(k)
            for k in ("batch_size", "unk_replace", "unk_rare_alpha", "unk_hide_spelling", "min_freq", "bucketing")
        },
        "trainer": {k: cfg.trainer.get(k) for k in ("max_epochs", "precision", "accumulate_grad_batches")},
        "seed": cfg.get("seed"),
    }
    final = {f"hparams/{k.replace('/', '_')}": metrics[k] for k in HPARAM_METRICS if k in metrics}
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger) and final:
            logger.log_hyperparams(params, metrics=final)
            logger.finalize("success")
