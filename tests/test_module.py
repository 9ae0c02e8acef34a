"""The LightningModule: masked loss, per-tag reporting, optimiser settings, hyperparameters."""

import pytest
import torch
import torch.nn.functional as F

from postag.data import IGNORE_INDEX, Vocabularies, collate
from postag.training.build import tagger_module
from postag.training.module import TaggerModule
from postag.analysis.report import format_per_tag_table, per_tag_rows

TAGS = ["DT", "NN", "VB"]


def small_module(**kwargs) -> TaggerModule:
    args = dict(vocab_size=12, tag_names=TAGS, hidden_n=8, n=1, h=2, dropout=0.0)
    args.update(kwargs)
    return tagger_module(**args)


def test_per_tag_rows_tell_absent_from_always_wrong():
    # rows: true DT (2 right), true NN (0 right of 3), VB never occurs
    confusion = torch.tensor([[2, 0, 0], [1, 0, 2], [0, 0, 0]])
    rows = per_tag_rows(confusion, TAGS)
    # DT: predicted 3 times (2 right) -> precision 2/3; VB predicted twice, never right
    assert rows == [
        {"tag": "DT", "support": 2, "accuracy": 1.0, "precision": 2 / 3, "recall": 1.0, "f1": 0.8},
        {"tag": "NN", "support": 3, "accuracy": 0.0, "precision": None, "recall": 0.0, "f1": 0.0},
        {"tag": "VB", "support": 0, "accuracy": None, "precision": 0.0, "recall": None, "f1": None},
    ]
    table = format_per_tag_table(rows)
    assert "| NN | 3 | 0.0000 | - | 0.0000 | 0.0000 |" in table
    assert "| VB | 0 | absent | 0.0000 | absent | absent |" in table
    # worst first, absent last
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:]] == ["NN", "DT", "VB"]


def test_loss_ignores_padded_positions():
    torch.manual_seed(0)
    train = [(["the", "cat", "sat"], TAGS), (["a"], ["DT"])]
    vocab = Vocabularies.from_training(train, train, min_freq=1)
    module = small_module(
        vocab_size=len(vocab.words), char_vocab_size=len(vocab.chars), char_n=4, shape_features=True,
        suffix_vocab_size=len(vocab.suffixes),
    ).eval()
    batch = collate([vocab.encode(w, t) for w, t in train])
    loss, preds = module.model_step(batch)
    logits = module(batch)
    real = batch.mask
    expected = F.cross_entropy(logits[real], batch.labels[real])
    torch.testing.assert_close(loss, expected)
    assert preds.shape == batch.tokens.shape
    assert (batch.labels[~real] == IGNORE_INDEX).all()


def test_hyperparameters_are_plain_values():
    module = small_module(betas=[0.9, 0.98])
    hparams = dict(module.hparams)
    assert hparams["tag_names"] == TAGS and type(hparams["tag_names"]) is list
    assert hparams["betas"] == (0.9, 0.98)
    # What torch.load(weights_only=True) accepts: builtins only.
    for value in hparams.values():
        assert isinstance(value, (int, float, str, bool, list, tuple, type(None))), value


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hidden_n": -1}, "model.hidden_n"),
        ({"dropout": 1.0}, "model.dropout"),
        ({"lr_schedule": "step"}, "model.lr_schedule"),
        ({"h": 0}, "at least 1"),
        ({"n": 0}, "number of blocks"),
        ({"ensemble": 0}, "model.ensemble"),
    ],
)
def test_invalid_model_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small_module(**kwargs)


class _FakeTrainer:
    estimated_stepping_batches = 100


def test_optimizer_settings_and_warmup_then_cosine_decay():
    module = small_module(lr=0.01, warmup_steps=10, weight_decay=0.1)
    module._trainer = _FakeTrainer()  # configure_optimizers reads the step count from the trainer
    config = module.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert isinstance(optimizer, torch.optim.AdamW)
    decay_group, no_decay_group = optimizer.param_groups
    assert decay_group["weight_decay"] == 0.1 and no_decay_group["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay_group["params"]) and all(p.dim() < 2 for p in no_decay_group["params"])
    assert decay_group["betas"] == (0.9, 0.98) and decay_group["eps"] == 1e-8
    assert decay_group["fused"] is True  # one kernel for the update on the CPU
    lrs = []
    for _ in range(100):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(0.001)  # 1/10 of the peak on the first step
    assert max(lrs) == pytest.approx(0.01) and lrs.index(max(lrs)) == 9
    assert lrs[-1] < 0.0001  # decayed to almost nothing by the last step


@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_no_fused_optimizer_under_mixed_precision(precision):
    module = small_module()
    module._trainer = _FakeTrainer()
    module._trainer.precision = precision  # Lightning will not clip a fused optimizer's gradients there
    assert not module.configure_optimizers()["optimizer"].param_groups[0]["fused"]


def _tiny_batch():
    train = [(["the", "cat", "sat"], TAGS), (["a"], ["DT"]), (["the", "cat"], ["DT", "NN"])]
    vocab = Vocabularies.from_training(train, train, min_freq=1)
    return vocab, collate([vocab.encode(w, t) for w, t in train])


def test_compiled_module_matches_eager_and_keeps_parameter_names():
    torch.manual_seed(0)
    vocab, batch = _tiny_batch()
    eager = small_module(vocab_size=len(vocab.words), positional=True).eval()
    compiled = small_module(vocab_size=len(vocab.words), positional=True, compile=True).eval()
    compiled.load_state_dict(eager.state_dict())
    compiled.configure_model()
    assert list(compiled.state_dict()) == list(eager.state_dict())  # checkpoints stay interchangeable
    torch.testing.assert_close(compiled(batch), eager(batch), rtol=1e-4, atol=1e-5)
    loss, _ = compiled.model_step(batch)
    loss.backward()
    assert compiled.net.encoder.token_embedding.weight.grad is not None


def test_bf16_autocast_keeps_the_loss_finite_with_padding():
    torch.manual_seed(0)
    vocab, batch = _tiny_batch()
    module = small_module(
        vocab_size=len(vocab.words), positional=True, char_vocab_size=len(vocab.chars), char_n=4,
        shape_features=True, suffix_vocab_size=len(vocab.suffixes),
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _ = module.model_step(batch)
    assert batch.mask.sum() < batch.mask.numel()  # the batch has padding (masked with -inf)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in module.parameters() if p.grad is not None)


def test_ensemble_averages_the_probabilities_of_independently_initialised_taggers():
    torch.manual_seed(0)
    vocab, batch = _tiny_batch()
    kwargs = dict(vocab_size=len(vocab.words), positional=True, char_vocab_size=len(vocab.chars), char_n=4)
    single = small_module(**kwargs)
    module = small_module(**kwargs, ensemble=3).eval()
    # The first tagger keeps a single tagger's parameter names, so one-tagger checkpoints load as before.
    names = set(module.state_dict())
    assert set(single.state_dict()) <= names
    assert {name.split(".")[2] for name in names - set(single.state_dict())} == {"0", "1"}
    members = module.net.members()
    assert len(members) == 3
    first, second = members[0][1].token_embedding.weight, members[1][1].token_embedding.weight
    assert not torch.equal(first, second)  # each tagger starts from its own random weights
    member_logits = module.net.member_logits(batch)
    averaged = torch.stack([logits.softmax(-1) for logits in member_logits]).mean(0)  # (B, S, T)
    torch.testing.assert_close(module(batch).exp(), averaged)
    loss, preds = module.model_step(batch)
    real = batch.mask
    expected = torch.stack([F.cross_entropy(logits[real], batch.labels[real]) for logits in member_logits]).mean()
    torch.testing.assert_close(loss, expected)
    assert torch.equal(preds[real], averaged.argmax(-1)[real])
    loss.backward()
    for word_features, encoder, head in members:  # every tagger learns
        assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
        assert encoder.token_embedding.weight.grad.abs().sum() > 0
        assert word_features.chars.out.weight.grad.abs().sum() > 0


def test_single_tagger_forward_is_its_raw_logits():
    torch.manual_seed(0)
    vocab, batch = _tiny_batch()
    module = small_module(vocab_size=len(vocab.words)).eval()
    hidden = module.net.encoder(batch.tokens, batch.mask, module.net.word_features(batch.chars, batch.shapes, batch.suffixes))
    torch.testing.assert_close(module(batch), module.net.head(hidden))


def test_parameters_named_as_before_the_network_was_a_module_of_its_own_load_under_net():
    """Checkpoints of the earlier layout name the network's parts at the module's top level
    (``encoder.``, ``head.``, ``extra_members.``); they load, alone and inside the weight
    average's AveragedModel (``module.`` before every name), as resuming such a run does."""
    from torch.optim.swa_utils import AveragedModel

    torch.manual_seed(0)
    trained = small_module(ensemble=2)
    earlier = {name.removeprefix("net."): value for name, value in trained.state_dict().items()}
    assert any(name.startswith("extra_members.") for name in earlier) and not any("net." in n for n in earlier)
    fresh = small_module(ensemble=2)
    assert not torch.equal(fresh.net.head.weight, trained.net.head.weight)
    fresh.load_state_dict(earlier)
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[name], value, rtol=0, atol=0)
    average = AveragedModel(small_module(ensemble=2))
    average.load_state_dict({"n_averaged": torch.tensor(3), **{f"module.{n}": v for n, v in earlier.items()}})
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(average.module.state_dict()[name], value, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="Missing key"):  # names of neither layout still fail
        small_module(ensemble=2).load_state_dict({f"other.{n}": v for n, v in earlier.items()})
