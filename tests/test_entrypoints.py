"""train.py and evaluate.py end to end, as a user runs them, on the small fixture corpus."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from postag.sweep import summarize

ROOT = Path(__file__).resolve().parent.parent
from tiny_corpus import TINY_DIR as FIXTURES
SMALL_MODEL = ["model.hidden_n=16", "model.h=2", "model.n=1", "data.batch_size=4"]


def run(script, *overrides, cwd=ROOT):
    result = subprocess.run(
        [sys.executable, str(ROOT / script), *overrides],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_fast_dev_run_of_train(tmp_path):
    out = tmp_path / "run"
    result = run("train.py", "debug=fast_dev_run", f"data.data_dir={FIXTURES}", f"hydra.run.dir={out}", *SMALL_MODEL)
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert "test accuracy:" in result.stdout
    assert (out / ".hydra" / "config.yaml").is_file()


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A short real run (debug=limit) with checkpoints and TensorBoard logs."""
    out = tmp_path_factory.mktemp("train") / "run"
    run(
        "train.py",
        "debug=limit",
        "trainer.max_epochs=15",
        "trainer.log_every_n_steps=1",
        "model=pos",
        "model.lr=0.01",
        "model.warmup_steps=1",
        "seed=0",
        f"data.data_dir={FIXTURES}",
        "data.val_fraction=0.2",
        f"hydra.run.dir={out}",
        *SMALL_MODEL,
    )
    return out


def test_run_directory_holds_config_checkpoints_logs_and_reports(trained_run):
    out = trained_run
    assert (out / ".hydra" / "config.yaml").is_file()
    assert (out / "checkpoints" / "last.ckpt").is_file()
    best = [p for p in (out / "checkpoints").glob("epoch_*.ckpt")]
    assert len(best) == 1 and "val_acc_" in best[0].name  # no folder made from 'val/acc'
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"test/acc", "val/acc", "val/acc_best", "train_seconds"} <= metrics.keys()
    table = (out / "test_per_tag.md").read_text()
    assert "| tag | support | accuracy |" in table
    # The fixture's test file has no MD: it is reported absent, not as 0.
    assert "| MD | 0 | absent |" in table


def test_tensorboard_logs_curves_per_tag_accuracy_and_charts(trained_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(trained_run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss_step", "train/acc", "val/loss", "val/acc", "test/acc", "lr-AdamW/pg1"} <= scalars
    assert "val/acc_per_tag/NN" in scalars and "test/acc_per_tag/DT" in scalars
    assert "test/acc_per_tag/MD" not in scalars  # absent from the test file: not logged as 0
    assert len(events.Scalars("val/acc")) == 15  # one a validation epoch
    assert {"val/acc_per_tag_chart", "test/acc_per_tag_chart"} <= set(events.Tags()["images"])


def test_checkpoint_loads_with_weights_only_and_carries_vocabularies(trained_run):
    checkpoint = torch.load(trained_run / "checkpoints" / "last.ckpt", weights_only=True)
    hparams = checkpoint["hyper_parameters"]
    assert hparams["positional"] is True and hparams["hidden_n"] == 16
    state = checkpoint["CoNLL2000DataModule"]
    assert state["words"][:2] == ["<pad>", "<unk>"]
    assert state["tags"] == hparams["tag_names"]


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


def test_two_job_multirun_gives_a_directory_each(tmp_path):
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
