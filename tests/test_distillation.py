"""Learning from a teacher's probabilities: the masked loss, the teacher's loading and its errors,
and a student trained end to end."""

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import OmegaConf

from conftest import FIXTURES, SMALL_MODEL, run
from postag.errors import CheckpointError
from postag.training.self_distill import load_teacher
from postag.data import CHECKPOINT_KEY, IGNORE_INDEX, Vocabularies, collate
from postag.app.console import describe
from postag.training.losses import distillation_loss
from postag.training.build import tagger_module
from postag.training.module import TaggerModule
from test_reliability import run_failing

TRAIN = [(["the", "cat", "sat"], ["DT", "NN", "VB"]), (["a"], ["DT"]), (["the", "cat"], ["DT", "NN"])]


def test_distillation_loss_is_the_soft_cross_entropy_over_the_scored_tokens():
    torch.manual_seed(0)
    logits, teacher = torch.randn(2, 4, 5), torch.randn(2, 4, 5).softmax(-1)
    targets = torch.tensor([[1, 2, IGNORE_INDEX, IGNORE_INDEX], [0, IGNORE_INDEX, 4, 3]])  # padding, an unseen tag
    expected, count = 0.0, 0
    for b in range(2):
        for s in range(4):
            if targets[b, s] != IGNORE_INDEX:
                expected -= sum(teacher[b, s, t] * F.log_softmax(logits[b, s], -1)[t] for t in range(5))
                count += 1
    loss = distillation_loss(logits, teacher, targets.flatten())
    torch.testing.assert_close(loss, expected / count)
    # a teacher sure of the gold tags gives the plain cross-entropy
    one_hot = F.one_hot(targets.clamp_min(0), 5).float()
    plain = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)
    torch.testing.assert_close(distillation_loss(logits, one_hot, targets.flatten()), plain)


def _module(vocab, **kwargs):
    return tagger_module(vocab_size=len(vocab.words), tag_names=vocab.tags.itos, hidden_n=8, n=1, h=2, dropout=0.0, **kwargs)


def test_training_loss_mixes_gold_and_teacher_and_the_teacher_stays_out_of_the_checkpoint():
    torch.manual_seed(0)
    vocab = Vocabularies.from_training(TRAIN, TRAIN, min_freq=1)
    batch = collate([vocab.encode(w, t) for w, t in TRAIN])
    teacher = _module(vocab, positional=True, ensemble=2)
    student = _module(vocab, distill_weight=0.25)
    student.attach_teacher(teacher)
    student.train()
    loss, _ = student.model_step(batch)
    logits = student.net.member_logits(batch)[0]
    targets = batch.labels.flatten()
    gold = F.cross_entropy(logits.flatten(0, 1), targets, ignore_index=IGNORE_INDEX)
    soft = distillation_loss(logits, teacher(batch).softmax(-1), targets)
    torch.testing.assert_close(loss, 0.75 * gold + 0.25 * soft)
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())  # the teacher does not learn
    student.eval()
    torch.testing.assert_close(student.model_step(batch)[0], gold)  # validation: the gold loss alone
    assert not any(name.startswith("_teacher") for name in student.state_dict())
    assert all(p is not q for p in student.parameters() for q in teacher.parameters())


@pytest.fixture(scope="module")
def teacher_checkpoint(trained_run):
    return trained_run / "checkpoints" / "last.ckpt"


def test_a_teacher_with_other_vocabularies_is_a_one_line_error(teacher_checkpoint):
    teacher = TaggerModule.load_from_checkpoint(teacher_checkpoint)
    vocab = teacher.vocab
    assert load_teacher(teacher_checkpoint, vocab).state_dict().keys() == teacher.state_dict().keys()
    other = Vocabularies.from_training(TRAIN, TRAIN, min_freq=1)
    with pytest.raises(CheckpointError, match=r"its vocabularies are not this run's \(words: \d+ against this run's 6;"):
        load_teacher(teacher_checkpoint, other)
    with pytest.raises(FileNotFoundError, match="model.teacher: no checkpoint file at"):
        load_teacher(teacher_checkpoint.parent / "missing.ckpt", vocab)


@pytest.mark.parametrize("name, size", [("affixes", "affix_vocab_size"), ("norms", "norm_vocab_size")])
def test_a_teacher_from_before_affix_or_norm_vocabularies_still_teaches(teacher_checkpoint, tmp_path, name, size):
    teacher = TaggerModule.load_from_checkpoint(teacher_checkpoint)
    vocab = teacher.vocab
    checkpoint = torch.load(teacher_checkpoint, weights_only=True)
    del checkpoint[CHECKPOINT_KEY][name]  # as checkpoints written before affix (or lowercase-form) features
    del checkpoint["hyper_parameters"][size]
    older = tmp_path / "older.ckpt"
    torch.save(checkpoint, older)
    assert load_teacher(older, vocab).state_dict().keys() == teacher.state_dict().keys()
    checkpoint[CHECKPOINT_KEY][name] = getattr(vocab, name).itos[:-1]  # but other entries do not match
    checkpoint["hyper_parameters"][size] = len(getattr(vocab, name)) - 1
    torch.save(checkpoint, older)
    with pytest.raises(CheckpointError, match=f"{name}: "):
        load_teacher(older, vocab)


def test_a_student_trains_from_a_teacher_checkpoint_and_tags_without_it(teacher_checkpoint, tmp_path):
    # the teacher's data settings (conftest.trained_run), so that the vocabularies match
    data = [f"data.data_dir={FIXTURES}", "data.val_fraction=0.2", *SMALL_MODEL]
    out = tmp_path / "student"
    run(
        "train.py", "debug=limit", "trainer.max_epochs=1", "model=base", f"model.teacher={teacher_checkpoint}",
        "model.distill_weight=0.7", f"hydra.run.dir={out}", *data,
    )
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["hyper_parameters"]["teacher"] == str(teacher_checkpoint)
    assert not any("teacher" in name for name in checkpoint["state_dict"])
    student = TaggerModule.load_from_checkpoint(out / "checkpoints" / "last.ckpt")  # the teacher is not loaded again
    assert student._teacher == ()
    message = run_failing(
        "train.py", "debug=limit", "model=base", f"model.teacher={teacher_checkpoint}",
        f"data.data_dir={FIXTURES}", "data.val_fraction=0.5", f"hydra.run.dir={tmp_path / 'other'}", *SMALL_MODEL,
    )
    assert message.startswith(f"postag: error: model.teacher={teacher_checkpoint}: its vocabularies are not this run's")


# ---------------------------------------------------------------- self_distill: the run's own teacher

SELF_DISTILL = ["self_distill=true", "model=base", f"data.data_dir={FIXTURES}", "data.val_fraction=0.2", *SMALL_MODEL]


def _weights(path):
    return torch.load(path, weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def self_distilled_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("self_distill") / "run"
    run("train.py", "debug=limit", f"hydra.run.dir={out}", *SELF_DISTILL)
    return out


def test_self_distill_trains_a_teacher_first_then_the_model_on_its_probabilities(self_distilled_run):
    out = self_distilled_run
    teacher = json.loads((out / "teacher" / "metrics.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert Path(teacher["best_checkpoint"]).parent == out / "teacher" / "checkpoints"
    assert Path(metrics["best_checkpoint"]).parent == out / "checkpoints"
    student = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert student["hyper_parameters"]["teacher"] == teacher["best_checkpoint"]
    assert not any("teacher" in name for name in student["state_dict"])
    # the model starts afresh (not from the teacher's weights) and is a tagger of its own
    teacher_weights = _weights(out / "teacher" / "checkpoints" / "last.ckpt")
    assert any(not torch.equal(student["state_dict"][k], v) for k, v in teacher_weights.items())
    assert metrics["teacher/test/acc"] == teacher["test/acc"]
    assert metrics["train_seconds_with_teacher"] == pytest.approx(metrics["train_seconds"] + teacher["train_seconds"], abs=0.11)
    assert (out / "teacher" / "tensorboard").is_dir() and (out / "teacher" / "test_per_tag.md").is_file()


def test_a_self_distilled_run_resumed_after_its_teacher_finished_does_not_train_it_again(self_distilled_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(self_distilled_run, out)
    # the copy's files name the original's paths: point the teacher's metrics at the copy
    teacher_metrics = out / "teacher" / "metrics.json"
    teacher_metrics.write_text(teacher_metrics.read_text().replace(str(self_distilled_run), str(out)))
    before = {p.name: p.stat().st_mtime_ns for p in (out / "teacher" / "checkpoints").iterdir()}
    steps = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    run("train.py", "debug=limit", "trainer.max_epochs=3", f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}", *SELF_DISTILL)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "teacher" / "checkpoints").iterdir()} == before
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] > steps


@pytest.mark.parametrize("resume_with", ["path", "latest"])
def test_a_self_distilled_run_stopped_in_its_teacher_resumes_the_teacher_then_trains_the_model(
    self_distilled_run, tmp_path, resume_with
):
    runs = tmp_path / "logs" / "train" / "runs"
    out = runs / "run"
    shutil.copytree(self_distilled_run, out)
    for stale in ("metrics.json", "teacher/metrics.json"):  # as if stopped before the teacher finished
        (out / stale).unlink()
    shutil.rmtree(out / "checkpoints")
    teacher_last = out / "teacher" / "checkpoints" / "last.ckpt"
    # an older run's last.ckpt, which ckpt_path=latest must not prefer to the teacher's
    older = runs / "older" / "checkpoints" / "last.ckpt"
    older.parent.mkdir(parents=True)
    shutil.copy(self_distilled_run / "checkpoints" / "last.ckpt", older)
    os.utime(older, (teacher_last.stat().st_mtime - 60,) * 2)
    steps = torch.load(teacher_last, weights_only=True)["global_step"]
    ckpt_path = teacher_last if resume_with == "path" else "latest"
    run("train.py", "debug=limit", "trainer.max_epochs=3", f"ckpt_path={ckpt_path}", f"paths.log_dir={tmp_path / 'logs'}", *SELF_DISTILL)
    assert torch.load(teacher_last, weights_only=True)["global_step"] > steps
    teacher = json.loads((out / "teacher" / "metrics.json").read_text())
    student = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert student["hyper_parameters"]["teacher"] == teacher["best_checkpoint"]
    assert student["epoch"] == 2  # three epochs of its own, from the start


def test_self_distill_with_a_teacher_given_or_a_teacher_checkpoint_without_it_is_a_one_line_error(
    self_distilled_run, tmp_path
):
    message = run_failing("train.py", "model.teacher=x.ckpt", f"hydra.run.dir={tmp_path / 'a'}", *SELF_DISTILL)
    assert message.startswith("postag: error: self_distill=true with model.teacher=x.ckpt: self_distill trains the run's own teacher")
    teacher_last = self_distilled_run / "teacher" / "checkpoints" / "last.ckpt"
    plain = [arg for arg in SELF_DISTILL if arg != "self_distill=true"]
    message = run_failing("train.py", f"ckpt_path={teacher_last}", *plain)
    assert message.startswith(f"postag: error: ckpt_path={teacher_last}: the checkpoint is of a run's own teacher")


def test_sigterm_names_the_checkpoints_of_the_model_that_was_training(self_distilled_run, tmp_path):
    out = tmp_path / "run"
    cfg = OmegaConf.create({"paths": {"output_dir": str(out)}, "self_distill": True})
    teacher_checkpoints = out / "teacher" / "checkpoints"
    assert describe(SIGTERMException(), cfg) == (
        f"postag: stopped by SIGTERM; the checkpoints in {teacher_checkpoints} are complete: "
        f"resume with ckpt_path={teacher_checkpoints}/last.ckpt (or ckpt_path=latest)"
    )
    # once the teacher finished, the run's model is what trains
    shutil.copytree(self_distilled_run / "teacher", out / "teacher")
    finished = json.loads((self_distilled_run / "teacher" / "metrics.json").read_text())
    finished["tested_checkpoint"] = str(teacher_checkpoints / "last.ckpt")
    (out / "teacher" / "metrics.json").write_text(json.dumps(finished))
    assert f"the checkpoints in {out}/checkpoints are complete" in describe(SIGTERMException(), cfg)
    cfg.self_distill = False
    (out / "teacher" / "metrics.json").unlink()
    assert f"resume with ckpt_path={out}/checkpoints/last.ckpt" in describe(SIGTERMException(), cfg)
