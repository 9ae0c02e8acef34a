"""EMAWeights: the average it keeps, what validation, checkpoints and tests see, and resuming."""

import json

import lightning as L
import pytest
import torch
from conftest import FIXTURES, SMALL_MODEL, run
from torch.optim.swa_utils import get_ema_multi_avg_fn
from torch.utils.data import DataLoader, TensorDataset

from postag.training.averaging import EMAWeights
from postag.training.interrupt import InterruptedCheckpoint

DECAY = 0.7  # far from 1, so that every step counts in the average


class Regression(L.LightningModule):
    """A linear layer fitted by plain SGD: no randomness once built, so runs can be compared exactly."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(3, 1)
        self.val_weights = []  # the weights each validation ran on

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        if batch_idx == 0:
            self.val_weights.append(self.layer.weight.detach().clone())

    def test_step(self, batch, batch_idx):
        pass

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class StepRecorder(L.Callback):
    """The weights after every optimizer step."""

    def __init__(self):
        self.weights = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.weights.append({k: v.detach().clone() for k, v in pl_module.state_dict().items()})


class ViewRecorder(L.Callback):
    """The weights a view drawn at the end of a validation epoch sees (postag.analysis.views)."""

    def __init__(self):
        self.weights = []

    def on_validation_epoch_end(self, trainer, pl_module):
        self.weights.append(pl_module.layer.weight.detach().clone())


def loader():
    torch.manual_seed(1)
    x = torch.randn(24, 3)
    return DataLoader(TensorDataset(x, x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3), batch_size=6)


def trainer(tmp_path, *callbacks, epochs=3, **kwargs):
    return L.Trainer(
        default_root_dir=tmp_path, max_epochs=epochs, callbacks=list(callbacks), logger=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, **kwargs,
    )


def ema(steps: list[dict]) -> dict:
    average = dict(steps[0])
    for weights in steps[1:]:
        average = {k: DECAY * average[k] + (1 - DECAY) * weights[k] for k in average}
    return average


def assert_weights_equal(actual: dict, expected: dict):
    assert actual.keys() == expected.keys()
    for k in expected:
        torch.testing.assert_close(actual[k], expected[k], rtol=1e-6, atol=1e-7)


def last_checkpoint(tmp_path):
    return L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "checkpoints", filename="last", monitor=None)


def test_the_average_is_validated_saved_and_left_in_the_model(tmp_path):
    model, steps, views = Regression(), StepRecorder(), ViewRecorder()
    fit = trainer(tmp_path, EMAWeights(DECAY), steps, views, last_checkpoint(tmp_path))
    fit.fit(model, loader(), loader())
    assert len(steps.weights) == 12  # 4 batches x 3 epochs
    # validation after each epoch, and the views drawn after it, saw the average of the steps so far
    assert len(model.val_weights) == len(views.weights) == 3
    for epoch, (validated, viewed) in enumerate(zip(model.val_weights, views.weights)):
        average = ema(steps.weights[: 4 * (epoch + 1)])["layer.weight"]
        torch.testing.assert_close(validated, average)
        torch.testing.assert_close(viewed, average)
    average = ema(steps.weights)
    assert not torch.allclose(average["layer.weight"], steps.weights[-1]["layer.weight"])  # not a no-op
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert_weights_equal(checkpoint["state_dict"], average)
    assert_weights_equal(checkpoint["current_model_state"], steps.weights[-1])  # what resuming goes on from
    assert_weights_equal(model.state_dict(), average)  # after fit the model holds the average


@pytest.mark.parametrize("callback", [EMAWeights, L.pytorch.callbacks.WeightAveraging], ids=["postag", "lightning"])
def test_testing_a_checkpoint_scores_its_average(callback, tmp_path):
    model, steps = Regression(), StepRecorder()
    averaging = EMAWeights(DECAY) if callback is EMAWeights else callback(multi_avg_fn=get_ema_multi_avg_fn(DECAY))
    fit = trainer(tmp_path, averaging, steps, last_checkpoint(tmp_path))
    fit.fit(model, loader(), loader())
    fit.test(model, loader(), ckpt_path=str(tmp_path / "checkpoints" / "last.ckpt"), verbose=False)
    if callback is EMAWeights:
        assert_weights_equal(model.state_dict(), ema(steps.weights))
    else:  # Lightning's own callback loads the weights trained on over the average: what EMAWeights mends
        assert_weights_equal(model.state_dict(), steps.weights[-1])


class StopInValidation(L.Callback):
    def on_validation_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise KeyboardInterrupt


def test_an_interruption_during_validation_keeps_each_set_of_weights_under_its_own_key(tmp_path):
    model, steps = Regression(), StepRecorder()
    fit = trainer(tmp_path, EMAWeights(DECAY), steps, StopInValidation(), InterruptedCheckpoint(str(tmp_path)))
    with pytest.raises(SystemExit):  # Lightning ends a fit stopped by Ctrl-C this way
        fit.fit(model, loader(), loader())
    assert len(steps.weights) == 8
    checkpoint = torch.load(tmp_path / "interrupted.ckpt", weights_only=True)
    assert_weights_equal(checkpoint["state_dict"], ema(steps.weights))
    assert_weights_equal(checkpoint["current_model_state"], steps.weights[-1])


def test_a_resumed_run_ends_with_the_average_of_an_uninterrupted_one(tmp_path):
    whole = Regression()
    trainer(tmp_path / "whole", EMAWeights(DECAY), epochs=4).fit(whole, loader(), loader())

    first = tmp_path / "first"
    trainer(first, EMAWeights(DECAY), last_checkpoint(first), epochs=2).fit(Regression(), loader(), loader())
    resumed, steps = Regression(), StepRecorder()
    trainer(tmp_path / "rest", EMAWeights(DECAY), steps, epochs=4).fit(
        resumed, loader(), loader(), ckpt_path=str(first / "checkpoints" / "last.ckpt")
    )
    assert len(steps.weights) == 8  # the last two epochs only
    assert_weights_equal(resumed.state_dict(), whole.state_dict())


def test_model_best_tests_the_average_that_evaluate_py_scores_from_its_checkpoint(tmp_path):
    out = tmp_path / "run"
    run(
        "train.py", "model=best", "self_distill=false", "min_steps=null", "debug=limit", "trainer.max_epochs=4", "seed=0",
        "model.warmup_steps=1", f"data.data_dir={FIXTURES}", "data.val_fraction=0.2", f"hydra.run.dir={out}",
        *SMALL_MODEL,
    )
    metrics = json.loads((out / "metrics.json").read_text())
    checkpoint = torch.load(metrics["tested_checkpoint"], weights_only=True)
    average, trained_on = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert any(not torch.equal(average[k], trained_on[k]) for k in average)  # two sets of weights
    scored = tmp_path / "eval"
    run("evaluate.py", f"ckpt_path={metrics['tested_checkpoint']}", f"data.data_dir={FIXTURES}", f"hydra.run.dir={scored}")
    # evaluate.py reads state_dict, the average: train.py's test scored the same weights
    assert json.loads((scored / "metrics.json").read_text())["test/loss"] == pytest.approx(metrics["test/loss"])


def test_a_decay_outside_0_1_is_an_error():
    with pytest.raises(ValueError, match=r"decay=1.0: expected a number in \(0, 1\)"):
        EMAWeights(1.0)
