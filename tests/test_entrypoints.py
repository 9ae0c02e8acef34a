"""train.py and evaluate.py end to end, as a user runs them, on the small fixture corpus."""

import json
import re
import math
from pathlib import Path

import pytest
import torch

from postag.data import CHECKPOINT_KEY
from postag.analysis.sweep import summarize

from conftest import FIXTURES, SMALL_MODEL, run


def test_fast_dev_run_of_train(tmp_path):
    out = tmp_path / "run"
    result = run("train.py", "debug=fast_dev_run", f"data.data_dir={FIXTURES}", f"hydra.run.dir={out}", *SMALL_MODEL)
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert "test accuracy:" in result.stdout
    assert (out / ".hydra" / "config.yaml").is_file()


def test_run_directory_holds_config_checkpoints_logs_and_reports(trained_run):
    out = trained_run
    assert (out / ".hydra" / "config.yaml").is_file()
    assert (out / "checkpoints" / "last.ckpt").is_file()
    best = [p for p in (out / "checkpoints").glob("epoch_*.ckpt")]
    assert len(best) == 1 and "val_acc_" in best[0].name  # no folder made from 'val/acc'
    # last.ckpt holds the final weights (15 epochs of 2 batches), whichever epoch was best
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 30
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"test/acc", "val/acc", "val/acc_best", "train_seconds"} <= metrics.keys()
    table = (out / "test_per_tag.md").read_text()
    assert table.startswith("| tag | support | accuracy | precision | recall | F1 |")
    # The fixture's test file has no MD: it is reported absent, not as 0.
    assert "| MD | 0 | absent |" in table
    csv_lines = (out / "test_per_tag.csv").read_text().splitlines()
    assert csv_lines[0] == "tag,support,accuracy,precision,recall,f1"
    assert len(csv_lines) == 1 + table.count("\n") - 2  # the same tags as the Markdown table


def test_tensorboard_logs_curves_per_tag_accuracy_charts_and_hparams(trained_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    events = EventAccumulator(str(trained_run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss_step", "train/acc", "val/loss", "val/acc", "test/acc", "lr-AdamW/pg1"} <= scalars
    assert "val/acc_per_tag/NN" in scalars and "test/acc_per_tag/DT" in scalars
    assert "test/acc_per_tag/MD" not in scalars  # absent from the test file: not logged as 0
    assert len(events.Scalars("val/acc")) == 15  # one a validation epoch
    images = set(events.Tags()["images"])
    assert {"val/acc_per_tag_chart", "test/acc_per_tag_chart", "val/confusion_matrix", "test/confusion_matrix"} <= images
    # epochs 5, 10 and 15 (every_n_epochs: 5, and the last), none for the sanity check
    assert len(events.Images("val/confusion_matrix")) == 3
    png = events.Images("test/confusion_matrix")[0].encoded_image_string
    assert png.startswith(b"\x89PNG")

    # HParams tab: the run's settings, with its final metrics as the metrics to compare
    hparams = events.PluginTagToContent("hparams")
    session = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/session_start_info"]).session_start_info
    assert session.hparams["model/positional"].number_value == 1  # Lightning writes booleans as 0/1
    assert session.hparams["model/hidden_n"].number_value == 16
    experiment = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/experiment"]).experiment
    metric_tags = {m.name.tag for m in experiment.metric_infos}
    assert {"hparams/val_acc_best", "hparams/test_acc"} <= metric_tags <= scalars
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert events.Scalars("hparams/test_acc")[0].value == pytest.approx(metrics["test/acc"])


def test_tensorboard_shows_attention_positions_and_the_word_embeddings(trained_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(trained_run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    images = set(events.Tags()["images"])
    assert {"attention/sentence_1", "attention/by_offset", "positions/similarity"} <= images
    for tag in ("attention/sentence_1", "attention/by_offset", "positions/similarity"):
        assert [image.step for image in events.Images(tag)] == [10, 20, 30]  # epochs 5, 10, 15 of 2 steps
        assert events.Images(tag)[-1].encoded_image_string.startswith(b"\x89PNG")

    # The Projector: every training word's embedding as the checkpoint holds it, most frequent first
    (metadata,) = (trained_run / "tensorboard").glob("*/word_embeddings/metadata.tsv")
    rows = [line.split("\t") for line in metadata.read_text().splitlines()]
    assert rows[0] == ["word", "tag", "frequency"]
    checkpoint = torch.load(trained_run / "checkpoints" / "last.ckpt", weights_only=True)
    words = checkpoint[CHECKPOINT_KEY]["words"]
    assert sorted(r[0] for r in rows[1:]) == sorted(words[2:])  # all of them: fewer than 2,000
    frequencies = [int(r[2]) for r in rows[1:]]
    assert frequencies == sorted(frequencies, reverse=True) and frequencies[0] > 1
    assert all(r[1] in checkpoint[CHECKPOINT_KEY]["tags"] for r in rows[1:])
    vectors = [[float(v) for v in line.split("\t")] for line in (metadata.parent / "tensors.tsv").read_text().splitlines()]
    embedding = checkpoint["state_dict"]["net.encoder.token_embedding.weight"]
    expected = embedding[[words.index(r[0]) for r in rows[1:]]]
    torch.testing.assert_close(torch.tensor(vectors), expected, rtol=1e-4, atol=1e-5)


def test_checkpoint_loads_with_weights_only_and_carries_vocabularies(trained_run):
    checkpoint = torch.load(trained_run / "checkpoints" / "last.ckpt", weights_only=True)
    hparams = checkpoint["hyper_parameters"]
    assert hparams["positional"] is True and hparams["hidden_n"] == 16
    state = checkpoint[CHECKPOINT_KEY]
    assert state["words"][:2] == ["<pad>", "<unk>"]
    assert state["tags"] == hparams["tag_names"]
    assert state["conllu_column"] == "xpos"  # CoNLL-2000's tags are the Penn Treebank's own
    assert set(checkpoint["TaggingDataModule"]) == {"batch_seed"}


def test_evaluate_scores_a_checkpoint_without_training_data(trained_run, tmp_path):
    out = tmp_path / "eval"
    empty = tmp_path / "no-data"
    empty.mkdir()
    train_metrics = json.loads((trained_run / "metrics.json").read_text())
    result = run(
        "evaluate.py",
        f"ckpt_path={train_metrics['best_checkpoint']}",
        f"data.data_dir={empty}",
        f"data.test_file={FIXTURES / 'test.txt'}",
        f"hydra.run.dir={out}",
    )
    metrics = json.loads((out / "metrics.json").read_text())
    # The same checkpoint on the same data: the score train.py reported.
    assert metrics["test/acc"] == pytest.approx(train_metrics["test/acc"])
    assert metrics["test/acc"] > 0.1  # it learned something, so equality means something
    assert "test accuracy (micro, 19 tokens)" in result.stdout
    assert "absent" in result.stdout
    assert (out / "test_per_tag.md").is_file()


def test_test_checkpoint_last_tests_and_names_the_weights_after_the_last_epoch(tmp_path):
    out = tmp_path / "run"
    run(
        "train.py", "debug=limit", "trainer.max_epochs=4", "model=pos", "seed=0", "test_checkpoint=last",
        f"data.data_dir={FIXTURES}", "data.val_fraction=0.2", f"hydra.run.dir={out}", *SMALL_MODEL,
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["tested_checkpoint"] == str(out / "checkpoints" / "last.ckpt")
    assert Path(metrics["best_checkpoint"]).name.startswith("epoch_")  # the best is still named
    assert torch.load(metrics["tested_checkpoint"], weights_only=True)["epoch"] == 3  # the last of 4 epochs
    scored = tmp_path / "eval"
    run("evaluate.py", f"ckpt_path={metrics['tested_checkpoint']}", f"data.data_dir={FIXTURES}", f"hydra.run.dir={scored}")
    assert json.loads((scored / "metrics.json").read_text())["test/acc"] == pytest.approx(metrics["test/acc"])


def test_checkpoint_to_test_takes_the_monitored_saver_for_best_and_the_unmonitored_one_for_last():
    from types import SimpleNamespace

    from postag.errors import ConfigError
    from postag.training.build import checkpoint_to_test

    best = SimpleNamespace(monitor="val/acc", best_model_path="run/checkpoints/epoch_002-val_acc_0.9000.ckpt")
    last = SimpleNamespace(monitor=None, best_model_path="run/checkpoints/last.ckpt")
    trainer = SimpleNamespace(checkpoint_callback=best, checkpoint_callbacks=[best, last])
    assert checkpoint_to_test(trainer, "best") == best.best_model_path
    assert checkpoint_to_test(trainer, "last") == last.best_model_path
    with pytest.raises(ConfigError, match="callbacks.last_checkpoint"):
        checkpoint_to_test(SimpleNamespace(checkpoint_callback=best, checkpoint_callbacks=[best]), "last")
    nothing = SimpleNamespace(checkpoint_callback=None, checkpoint_callbacks=[])  # fast_dev_run
    assert checkpoint_to_test(nothing, "best") is None and checkpoint_to_test(nothing, "last") is None


def test_fast_dev_run_of_evaluate(trained_run, tmp_path):
    out = tmp_path / "eval"
    run(
        "evaluate.py",
        "debug=fast_dev_run",
        f"ckpt_path={trained_run / 'checkpoints' / 'last.ckpt'}",
        f"data.test_file={FIXTURES / 'test.txt'}",
        f"hydra.run.dir={out}",
    )
    assert "test/acc" in json.loads((out / "metrics.json").read_text())


def test_two_job_multirun_gives_a_directory_each(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    run(
        "train.py",
        "-m",
        "model=base,pos",
        "debug=limit",
        "trainer.max_epochs=1",
        f"data.data_dir={FIXTURES}",
        f"hydra.sweep.dir={sweep}",
        *SMALL_MODEL,
    )
    for job, positional in (("0", False), ("1", True)):
        job_dir = sweep / job
        assert f"positional: {str(positional).lower()}" in (job_dir / ".hydra" / "config.yaml").read_text()
        assert (job_dir / "metrics.json").is_file()
        assert list((job_dir / "tensorboard").rglob("events.out.tfevents.*"))

    table = summarize(sweep)
    rows = [line for line in table.splitlines() if line.startswith("| model=")]
    assert [row.split(" | ")[0] for row in rows] == ["| model=base", "| model=pos"]  # shared overrides left out
    assert (sweep / "summary.md").read_text() == table
    csv_lines = (sweep / "summary.csv").read_text().splitlines()
    assert csv_lines[0].startswith("job,overrides,val/acc_best,test/acc") and len(csv_lines) == 3

    from postag.app.cli import main as postag_main

    capsys.readouterr()
    assert postag_main(["sweep-summary", str(sweep)]) == 0
    assert capsys.readouterr().out.strip() == table.strip()


def test_a_two_job_multirun_runs_its_jobs_side_by_side_with_the_parallel_launcher(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher", reason="the optional 'parallel' extra is not installed")
    sweep = tmp_path / "sweep"
    result = run(
        "train.py",
        "-m",
        "hydra/launcher=parallel",
        "seed=1,2",
        "model=pos",
        "debug=limit",
        "trainer.max_epochs=1",
        "callbacks.progress_bar=null",
        f"data.data_dir={FIXTURES}",
        f"hydra.sweep.dir={sweep}",
        *SMALL_MODEL,
    )
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr
    for job, seed in (("0", 1), ("1", 2)):
        assert f"seed: {seed}" in (sweep / job / ".hydra" / "config.yaml").read_text()
        assert "test/acc" in json.loads((sweep / job / "metrics.json").read_text())


def test_bf16_mixed_training_on_cpu_gives_finite_metrics(tmp_path):
    out = tmp_path / "run"
    run(
        "train.py", "debug=limit", "model=pos", "trainer.precision=bf16-mixed", f"data.data_dir={FIXTURES}",
        f"hydra.run.dir={out}", *SMALL_MODEL,
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert all(math.isfinite(metrics[k]) for k in ("train/loss_epoch", "val/loss", "test/loss", "test/acc"))


WARNING_LINE = re.compile(r"warn|deprecat|\.py:\d+: |💡|tip:", re.IGNORECASE)


def test_a_short_run_and_its_evaluation_print_no_warning_line(tmp_path):
    out = tmp_path / "run"
    trained = run(
        "train.py", "debug=limit", "model=pos", "trainer.log_every_n_steps=1", f"data.data_dir={FIXTURES}",
        f"hydra.run.dir={out}", *SMALL_MODEL,
    )
    evaluated = run("evaluate.py", f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}", f"data.data_dir={FIXTURES}",
                    f"hydra.run.dir={tmp_path / 'eval'}")
    for result in (trained, evaluated):
        noisy = [line for line in result.stderr.splitlines() if WARNING_LINE.search(line)]
        assert noisy == [], noisy
    assert (out / "checkpoints" / "last.ckpt").is_file() and not (out / "checkpoints" / "interrupted.ckpt").exists()
