"""An exponential moving average of the weights: validated, saved and tested in their place."""

from __future__ import annotations

from typing import Any

from lightning import LightningModule, Trainer
from lightning.pytorch.callbacks import WeightAveraging
from lightning.pytorch.trainer.states import TrainerFn
from torch.optim.swa_utils import get_ema_multi_avg_fn


DECAY_EXPECTED = "a number in (0, 1)"


def valid_decay(decay) -> bool:
    return isinstance(decay, (int, float)) and not isinstance(decay, bool) and 0.0 < decay < 1.0


class EMAWeights(WeightAveraging):
    """After every optimizer step, average = decay * average + (1 - decay) * weights (the first
    step's weights start it). Lightning's WeightAveraging does the rest: validation runs on the
    average, a checkpoint's ``state_dict`` holds it (the weights trained on go to
    ``current_model_state``, so that a resumed run goes on from them), and after fitting the model
    holds it. Buffers are not averaged: postag's hold no trained state.

    Two changes to Lightning's callback:
    - Testing or validating a checkpoint scores its ``state_dict``, the average: Lightning's
      callback would load the weights trained on into the model over it.
    - The average stays in the model until validation has ended, not only until its epoch has
      ended, so that the views drawn after validation (postag.analysis.views) show the model validated;
      and a checkpoint written while the average is in the model (an interruption during
      validation) still keeps each set of weights under its own key.
    """

    def __init__(self, decay: float):
        if not valid_decay(decay):
            raise ValueError(f"EMAWeights: decay={decay!r}: expected {DECAY_EXPECTED}")
        super().__init__(use_buffers=False, multi_avg_fn=get_ema_multi_avg_fn(decay))
        self._average_in_model = False

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        fitting = trainer.state.fn == TrainerFn.FITTING  # not trainer.validate after fit
        if fitting and self._average_model is not None and not self._average_in_model:
            self._swap_models(pl_module)
            self._average_in_model = True

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        pass  # swapped back in on_validation_end, after every callback's epoch-end view

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Checkpoint callbacks run after every other callback, so the weights are back before they save.
        if self._average_in_model:
            self._swap_models(pl_module)
            self._average_in_model = False

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(trainer, pl_module, checkpoint)
        if self._average_in_model:
            # Mid-validation the model holds the average and the averaged model the weights trained
            # on, so Lightning has put each under the other's key.
            checkpoint["state_dict"], checkpoint["current_model_state"] = (
                checkpoint["current_model_state"],
                checkpoint["state_dict"],
            )

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        if trainer.state.fn == TrainerFn.FITTING:  # resuming: the weights trained on, and the average
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
