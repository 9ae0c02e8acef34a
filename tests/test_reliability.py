"""Nothing lost, nothing silent: bad input at the command line, interruption and resume,
determinism, a NaN loss, bucketed batches, and training with two processes."""

import gzip
import json
import random
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch

from conftest import FIXTURES, ROOT, SMALL_MODEL, run
from postag.app.tagger import Tagger
from postag.data import LengthBucketSampler, TaggingDataModule, read_conll

pytestmark = pytest.mark.filterwarnings("ignore")


def run_failing(script, *overrides):
    """Run an entry point that must fail; returns its last stderr line."""
    result = subprocess.run(
        [sys.executable, str(ROOT / script), *overrides], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


def assert_no_results(run_dir):
    assert not (run_dir / "metrics.json").exists()
    assert not list(run_dir.glob("checkpoints/*.ckpt"))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model.h=0"], "postag: error: model.h=0: expected an integer of at least 1 (number of heads)"),
        (["model.hidden_n=-1"], "postag: error: model.hidden_n=-1: expected an integer of at least 1"),
        (["model.n=0"], "postag: error: model.n=0: expected an integer of at least 1 (number of blocks)"),
        (["model.dropout=1.0"], "postag: error: model.dropout=1.0: expected a number in [0, 1)"),
        (["model.dropout=-0.1"], "postag: error: model.dropout=-0.1: expected a number in [0, 1)"),
        (["model.adversarial=-0.5"], "postag: error: model.adversarial=-0.5: expected 0 (off) or a positive number"),
        (
            ["model.column_weight=[1,-1]"],
            "postag: error: model.column_weight=[1, -1]: expected 0 (off), a positive number, "
            "or a list of one such number per column of data.tag_column",
        ),
        (
            ["model.column_weight=[1,0.5]"],
            "postag: error: model.column_weight=[1, 0.5] lists 2 weights for the 1 column(s) of data.tag_column "
            "(xpos); expected one per column, or a single number",
        ),
        (["data.batch_size=0"], "postag: error: data.batch_size=0: expected an integer of at least 1"),
        (
            ["data.unk_hide_spelling=-1"],
            "postag: error: data.unk_hide_spelling=-1: expected 0 (off) or a positive number",
        ),
        (
            ["model.hidden_n=2", "model.h=4"],
            "postag: error: model.hidden_n=2 with model.h=4: each head would get hidden_n // h = 0 dimensions; "
            "expected hidden_n >= h",
        ),
        (["model.attention=flash"], "postag: error: model.attention='flash': expected manual or sdpa"),
        (["model.ensemble=0"], "postag: error: model.ensemble=0: expected an integer of at least 1 (number of taggers)"),
        (
            ["model.char_kernels=[3,0]"],
            "postag: error: model.char_kernels=[3, 0]: expected a non-empty list of positive integers "
            "(character window widths)",
        ),
        (
            ["model.conv_kernel=4"],
            "postag: error: model.conv_kernel=4: expected 0 (off) or an odd positive integer (convolution width)",
        ),
        (["data.format=xml"], "postag: error: data.format='xml': expected conll2000 or columns or conllu"),
        (["min_steps=-1"], "postag: error: min_steps=-1: expected null or a non-negative integer"),
        (
            ["data.tag_column=ner"],
            "postag: error: data.tag_column='ner': expected pos, chunk or both (pos+chunk, [pos,chunk]) for CoNLL-2000",
        ),
        (
            ["data=columns", "data.tag_column=[1,2]"],
            "postag: error: data.tag_column=[1, 2]: name each column for data=columns, as "
            "'data.tag_column={xpos:1,chunk:2}' (one of upos, xpos, chunk each)",
        ),
        (
            ["data=columns", "data.tag_column={ner:2}"],
            "postag: error: data.tag_column: ner is not a column postag writes from a column file; expected upos, "
            "xpos, chunk (chunk: any B-/I-/O span tags; FEATS and lemmas: data=conllu)",
        ),
        (["test_checkpoint=latest"], "postag: error: test_checkpoint='latest': expected best or last"),
        (
            ["model=best", "callbacks.ema_weights.decay=1"],
            "postag: error: callbacks.ema_weights.decay=1: expected a number in (0, 1)",
        ),
        (
            ["test_checkpoint=last", "callbacks.last_checkpoint=null"],
            "postag: error: test_checkpoint=last needs callbacks.last_checkpoint, which saves the latest weights; "
            "keep it, or set test_checkpoint=best",
        ),
        pytest.param(
            ["trainer.accelerator=gpu"],
            "postag: error: trainer.accelerator=gpu: no GPU is visible to torch on this machine; "
            "use trainer.accelerator=cpu or auto",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"),
        ),
    ],
)
def test_invalid_config_is_reported_before_any_data_is_read(overrides, message, tmp_path):
    # The data directory does not exist and download is off: any data access would fail
    # with another message, so seeing this one proves the check came first.
    out = tmp_path / "run"
    last = run_failing(
        "train.py", *overrides, f"data.data_dir={tmp_path / 'absent'}", "data.download=false", f"hydra.run.dir={out}"
    )
    assert last == message
    assert_no_results(out)


def test_missing_data_without_download(tmp_path):
    out = tmp_path / "run"
    last = run_failing("train.py", f"data.data_dir={tmp_path}", "data.download=false", f"hydra.run.dir={out}")
    assert last == (
        f"postag: error: no train.txt.gz or train.txt in {tmp_path}; set data.download=true "
        f"or POSTAG_DATA_DIR to a directory holding the CoNLL-2000 files"
    )
    assert_no_results(out)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"The DT B-NP\ncat NN\n", "train.txt:2: expected 3 columns 'WORD POS CHUNK', found 2: 'cat NN'"),
        (b"", "train.txt: no sentences found"),
        (b"caf\xe9 NN B-NP\n", "train.txt:1: not UTF-8 text"),
    ],
)
def test_bad_training_file_names_file_and_line(content, message, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.txt").write_bytes(content)
    (data / "test.txt").write_bytes((FIXTURES / "test.txt").read_bytes())
    out = tmp_path / "run"
    last = run_failing("train.py", f"data.data_dir={data}", f"hydra.run.dir={out}", *SMALL_MODEL)
    assert last.startswith("postag: error: ") and message in last, last
    assert_no_results(out)


def test_corrupt_gzip_is_reported(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    whole = gzip.compress((FIXTURES / "train.txt").read_bytes())
    (data / "train.txt.gz").write_bytes(whole[: len(whole) // 2])  # truncated download
    (data / "test.txt").write_bytes((FIXTURES / "test.txt").read_bytes())
    last = run_failing("train.py", f"data.data_dir={data}", f"hydra.run.dir={tmp_path / 'run'}", *SMALL_MODEL)
    assert last.startswith(f"postag: error: {data / 'train.txt.gz'}") and "not a complete gzip file" in last, last


def test_bad_checkpoints_and_mismatched_data_at_evaluation(trained_run, tmp_path):
    out = tmp_path / "eval"
    last = run_failing("evaluate.py", f"ckpt_path={tmp_path / 'missing.ckpt'}", f"hydra.run.dir={out}")
    assert last == f"postag: error: ckpt_path: no checkpoint file at {tmp_path / 'missing.ckpt'}"

    not_a_checkpoint = tmp_path / "notes.ckpt"
    not_a_checkpoint.write_text("just some text\n")
    last = run_failing("evaluate.py", f"ckpt_path={not_a_checkpoint}", f"hydra.run.dir={out}")
    assert last == (
        f"postag: error: {not_a_checkpoint}: not a postag checkpoint (not a PyTorch checkpoint file, or a truncated one)"
    )

    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}}, other)  # a Lightning checkpoint, not ours
    last = run_failing("evaluate.py", f"ckpt_path={other}", f"hydra.run.dir={out}")
    assert last == f"postag: error: {other}: no postag vocabulary in this checkpoint (is it a postag checkpoint?)"

    # data whose tags the checkpoint's vocabulary does not know
    foreign = tmp_path / "foreign.conll"
    foreign.write_text("Le DET B-NP\nchat NOUN I-NP\n\n")
    last = run_failing(
        "evaluate.py", f"ckpt_path={trained_run / 'checkpoints' / 'last.ckpt'}", f"data.test_file={foreign}",
        f"hydra.run.dir={out}",
    )
    assert last.startswith(f"postag: error: {foreign}: 2 of 2 tokens have tags the model never learned (DET, NOUN)")
    assert not (out / "metrics.json").exists()


def test_evaluation_scores_a_sentence_longer_than_the_models_positions(trained_run, tmp_path):
    long_file = tmp_path / "long.conll"
    long_file.write_text("the DT B-NP\n" * 300 + "\n")
    out = tmp_path / "eval"
    run(
        "evaluate.py", f"ckpt_path={trained_run / 'checkpoints' / 'last.ckpt'}", f"data.test_file={long_file}",
        f"hydra.run.dir={out}",
    )
    metrics = json.loads((out / "metrics.json").read_text())
    per_tag = (out / "test_per_tag.md").read_text()
    assert 0.0 <= metrics["test/acc"] <= 1.0 and "| DT | 300 |" in per_tag


def test_evaluation_gives_a_sentence_longer_than_the_positions_a_batch_of_its_own():
    """Windows are planned for a batch's length: a sentence longer than the model's positions is
    evaluated alone, as Tagger tags it; training batches are not changed."""
    datamodule = TaggingDataModule(data_dir=str(FIXTURES), val_fraction=0.2, batch_size=4, download=False)
    datamodule.setup("fit")
    datamodule.setup("test")
    lengths = [len(e.words) for e in datamodule.test_set]

    def test_batches(window):
        net = SimpleNamespace(encoder=SimpleNamespace(window=window))
        datamodule.trainer = SimpleNamespace(lightning_module=SimpleNamespace(net=net), world_size=1, global_rank=0)
        return [sorted(lengths[i] for i in batch) for batch in datamodule.test_dataloader().batch_sampler]

    assert sorted(lengths) == [5, 6, 8]
    assert test_batches(None) == [[5, 6, 8]]
    assert test_batches(6) == [[8], [5, 6]]
    assert test_batches(4) == [[8], [6], [5]]
    assert len(datamodule.train_dataloader().batch_sampler) == len(test_batches(None)) * 2  # 8 sentences, 4 a batch


def test_a_model_of_fewer_positions_than_its_sentences_trains_and_scores_as_it_tags(tmp_path):
    """With 4 positions every sentence runs in windows (the attention maps then draw none): the
    test accuracy is Tagger's, sentence by sentence, to the last token."""
    out = tmp_path / "run"
    run("train.py", "model=pos", "model.max_len=4", "trainer.max_epochs=15", f"data.data_dir={FIXTURES}",
        "data.val_fraction=0.2", f"hydra.run.dir={out}", *SMALL_MODEL)
    metrics = json.loads((out / "metrics.json").read_text())
    sentences = read_conll(FIXTURES / "test.txt")
    assert min(len(words) for words, _ in sentences) > 4
    predicted = Tagger.load(metrics["tested_checkpoint"], device="cpu").tag_sentences([w for w, _ in sentences])
    pairs = [(g, p) for (_, gold), guess in zip(sentences, predicted) for g, p in zip(gold, guess)]
    assert metrics["test/acc"] == pytest.approx(sum(g == p for g, p in pairs) / len(pairs), abs=1e-7)


def test_train_with_a_missing_ckpt_path(tmp_path):
    last = run_failing("train.py", f"ckpt_path={tmp_path / 'nope.ckpt'}", f"hydra.run.dir={tmp_path / 'run'}")
    assert last == f"postag: error: ckpt_path: no checkpoint file at {tmp_path / 'nope.ckpt'}"


class _NotData:
    """Pickled into a file, it is code that loading would have to run."""


def test_a_file_that_is_not_a_checkpoint_gets_one_line_everywhere(tmp_path):
    """README.md, a pickle with objects, a truncated checkpoint: train.py, evaluate.py and postag tag say what
    the file is, in one line, with none of torch's advice about weights_only."""
    readme = ROOT / "README.md"
    pickled = tmp_path / "objects.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}, "extra": _NotData()}, pickled)
    whole = (ROOT / "tests" / "fixtures" / "checkpoint-8dd5c96.ckpt").read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(whole[: len(whole) // 2])
    expected = {
        readme: f"{readme}: not a postag checkpoint (not a PyTorch checkpoint file, or a truncated one)",
        truncated: f"{truncated}: not a postag checkpoint (not a PyTorch checkpoint file, or a truncated one)",
        pickled: f"{pickled}: not a postag checkpoint (it holds Python objects other than tensors and plain values; "
        "postag loads checkpoints as data only and runs no code from them)",
    }
    for path, message in expected.items():
        for script in ("train.py", "evaluate.py"):
            last = run_failing(script, f"ckpt_path={path}", f"hydra.run.dir={tmp_path / 'run'}")
            assert last == f"postag: error: {message}", (script, last)
        result = subprocess.run(
            [sys.executable, "-m", "postag.app.cli", "tag", "--ckpt", str(path)], input=b"a\n", capture_output=True, timeout=120
        )
        assert result.returncode == 2 and result.stderr.decode().strip() == f"postag: error: {message}"


def test_nan_loss_stops_training_naming_the_step():
    from postag.data import Vocabularies, collate
    from postag.training.build import tagger_module

    train = [(["the", "cat"], ["DT", "NN"])]
    vocab = Vocabularies.from_training(train, train, min_freq=1)
    module = tagger_module(vocab_size=len(vocab.words), tag_names=vocab.tags.itos, hidden_n=8, n=1, h=2)
    with torch.no_grad():
        module.net.head.weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"training loss is nan at epoch 0, step 0 \(batch 0\)"):
        module.training_step(collate([vocab.encode(*train[0])]), 0)


# ---------------------------------------------------------------- bucketing


def test_bucketed_batches_are_reproducible_cover_every_sentence_and_pad_little():
    lengths = [random.Random(i).randint(1, 60) for i in range(1000)]
    sampler = LengthBucketSampler(lengths, 32, shuffle=True, seed=7)
    first = list(sampler)
    assert first == list(LengthBucketSampler(lengths, 32, shuffle=True, seed=7))  # same seed, same batches
    sampler.set_epoch(1)
    assert list(sampler) != first  # a new order each epoch
    assert sorted(i for batch in first for i in batch) == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first) / len(first)
    assert spread < 5  # similar lengths in a batch (random batches of 32 would spread ~55)

    # evaluation: sorted, and with two processes every sentence exactly once
    shares = [list(LengthBucketSampler(lengths, 32, shuffle=False, num_replicas=2, rank=r)) for r in (0, 1)]
    assert sorted(i for share in shares for b in share for i in b) == list(range(1000))
    # training with two processes: the same number of steps on each
    steps = [len(LengthBucketSampler(lengths, 32, shuffle=True, seed=7, num_replicas=2, rank=r)) for r in (0, 1)]
    assert steps[0] == steps[1] == 16


# ---------------------------------------------------------------- determinism, interruption, resume


@pytest.fixture(scope="module")
def larger_corpus(tmp_path_factory):
    """1,200 sentences recombined from the fixture's, so that an epoch takes a second or two."""
    sentences = read_conll(FIXTURES / "train.txt")
    rng = random.Random(0)
    data = tmp_path_factory.mktemp("larger")
    lines = []
    for _ in range(1200):
        words, tags = [], []
        for _ in range(rng.randint(1, 3)):
            w, t = rng.choice(sentences)
            words += w
            tags += t
        lines += [f"{w} {t} O" for w, t in zip(words, tags)] + [""]
    (data / "train.txt").write_text("\n".join(lines) + "\n")
    (data / "test.txt").write_bytes((FIXTURES / "test.txt").read_bytes())
    return data


# Five short epochs: a signal sent just after the first leaves several to do, however fast the machine.
RESUME_RUN = ["model=pos", "trainer.max_epochs=5", "seed=3", "callbacks.progress_bar=null", *SMALL_MODEL, "data.batch_size=8"]


def scores(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {k: metrics[k] for k in ("val/acc_best", "test/acc", "test/loss", "train/loss_epoch")}


@pytest.fixture(scope="module")
def uninterrupted(larger_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    run("train.py", *RESUME_RUN, f"data.data_dir={larger_corpus}", f"hydra.run.dir={out}")
    return out


def test_same_seed_and_config_give_identical_metrics(uninterrupted, larger_corpus, tmp_path):
    again = tmp_path / "again"
    run("train.py", *RESUME_RUN, f"data.data_dir={larger_corpus}", f"hydra.run.dir={again}")
    assert scores(again) == scores(uninterrupted)


def tensorboard_steps(run_dir) -> dict:
    """Every scalar and image tag of a run's TensorBoard log with the steps it was written at."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    return {
        **{t: [e.step for e in events.Scalars(t)] for t in tags["scalars"]},
        **{t: [e.step for e in events.Images(t)] for t in tags["images"]},
    }


def interrupt_after_first_epoch(out, larger_corpus, sig):
    """Start a run, send ``sig`` early in its second epoch; (process, stderr)."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *RESUME_RUN, f"data.data_dir={larger_corpus}", f"hydra.run.dir={out}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell that starts pytest in the background hands it SIGINT ignored, and an ignored
        # signal stays ignored across exec: give the run Ctrl-C back, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    last = out / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 240
    while not last.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert last.exists(), "the first epoch never finished"
    time.sleep(0.2)  # into the next epoch
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0, "the run finished before the signal arrived"
    return process, stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm", "sigkill"])
def test_interrupted_run_resumes_in_its_own_directory_to_the_same_result(sig, uninterrupted, larger_corpus, tmp_path):
    out = tmp_path / "interrupted"
    _, stderr = interrupt_after_first_epoch(out, larger_corpus, sig)
    assert not (out / "metrics.json").exists()
    if sig == signal.SIGTERM:
        assert stderr.strip().splitlines()[-1].startswith("postag: stopped by SIGTERM; the checkpoints")
    checkpoints = out / "checkpoints"
    if sig == signal.SIGKILL:
        # No handler runs under SIGKILL. Killed while a checkpoint was being written, a run leaves the
        # temporary AtomicCheckpointIO writes and the previous checkpoint whole: leave one such temporary.
        (checkpoints / ".last.ckpt.k1ll3d.tmp").write_bytes(b"half a checkpoint")
        assert not (checkpoints / "interrupted.ckpt").exists()
    else:  # the interruption left a checkpoint of its own as well, and no temporary files
        assert (checkpoints / "interrupted.ckpt").is_file()
        assert not list(checkpoints.glob(".*.tmp"))
    last = checkpoints / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["epoch"] < 4 and "rng_states" in checkpoint  # an epoch was left to do
    config_then = (out / ".hydra" / "config.yaml").read_text()

    # No hydra.run.dir: the resumed run finds its directory from the checkpoint.
    run("train.py", *RESUME_RUN, f"data.data_dir={larger_corpus}", f"ckpt_path={last}")
    assert scores(out) == scores(uninterrupted)
    assert not list(checkpoints.glob(".*.tmp"))  # what a kill mid-write left is cleared
    # One TensorBoard run whose curves continue where they stopped: every tag at the steps of
    # the uninterrupted run, none twice.
    assert tensorboard_steps(out) == tensorboard_steps(uninterrupted)
    assert (out / ".hydra" / "config.yaml").read_text() == config_then  # the original config is kept
    (resumed,) = (out / ".hydra").glob("resumed_*")
    assert f"ckpt_path={last}" in (resumed / "overrides.yaml").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["interrupted"]  # no second run directory


def test_a_resume_with_other_settings_names_them(uninterrupted, larger_corpus, tmp_path):
    last = uninterrupted / "checkpoints" / "last.ckpt"
    common = [*RESUME_RUN, f"data.data_dir={larger_corpus}", f"ckpt_path={last}"]
    message = run_failing("train.py", *common, "model.h=1", "data.unk_replace=0.2")
    assert message == (
        f"postag: error: ckpt_path={last}: the checkpoint was trained with model.h=2 (now 1), "
        f"data.unk_replace=0.1 (now 0.2); resume with the settings it was trained with, or start a new run"
    )
    other_data = tmp_path / "data"
    other_data.mkdir()
    (other_data / "train.txt").write_bytes((FIXTURES / "train.txt").read_bytes())
    (other_data / "test.txt").write_bytes((FIXTURES / "test.txt").read_bytes())
    message = run_failing("train.py", *RESUME_RUN, f"data.data_dir={other_data}", f"ckpt_path={last}",
                          f"hydra.run.dir={tmp_path / 'elsewhere'}")
    assert message.startswith(f"postag: error: ckpt_path={last}: the training data gives other words")


def test_ckpt_path_latest_finds_the_newest_run(uninterrupted, larger_corpus, tmp_path):
    logs = tmp_path / "logs"
    older = logs / "train" / "runs" / "older" / "checkpoints"
    older.mkdir(parents=True)
    (older / "last.ckpt").write_bytes((uninterrupted / "checkpoints" / "last.ckpt").read_bytes())
    result = run(
        "train.py", *RESUME_RUN, "trainer.max_epochs=6", f"paths.log_dir={logs}", "ckpt_path=latest",
        f"data.data_dir={larger_corpus}", f"hydra.run.dir={tmp_path / 'continued'}",
    )
    assert "Restoring states from the checkpoint path at" in result.stdout + result.stderr
    assert str(older / "last.ckpt") in result.stdout + result.stderr
    assert json.loads((tmp_path / "continued" / "metrics.json").read_text())["test/acc"] > 0



def test_ckpt_path_latest_without_a_run_is_a_one_line_error_naming_what_it_looked_for(tmp_path):
    from omegaconf import OmegaConf

    from postag.errors import CheckpointError
    from postag.training.resume import resume_from

    cfg = OmegaConf.create({"ckpt_path": "latest", "paths": {"log_dir": str(tmp_path)}, "task_name": "train"})
    runs = tmp_path / "train" / "runs"
    with pytest.raises(CheckpointError) as raised:
        resume_from(cfg)
    assert str(raised.value) == (
        f"ckpt_path=latest: no <run>/checkpoints/last.ckpt or <run>/teacher/checkpoints/last.ckpt under {runs}"
    )


# ---------------------------------------------------------------- two processes


def test_ddp_on_cpu_with_two_processes_aggregates_metrics(trained_run, tmp_path):
    out = tmp_path / "ddp"
    run(
        "train.py", "debug=limit", "model=pos", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp",
        f"data.data_dir={FIXTURES}", "data.val_fraction=0.3", f"hydra.run.dir={out}", *SMALL_MODEL,
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(list(out.glob("*/.hydra"))) == 0 and (out / ".hydra").is_dir()  # one run directory
    assert len(list((out / "tensorboard").glob("events.out.tfevents.*"))) >= 1
    assert not list((out / "tensorboard").glob("version_*"))  # one TensorBoard log, not one per process
    # The test split was shared between the two processes; the synced accuracy must be
    # the accuracy over all of it, as one process scoring the same checkpoint finds.
    single = tmp_path / "single"
    run(
        "evaluate.py", f"ckpt_path={metrics['best_checkpoint']}", f"data.test_file={FIXTURES / 'test.txt'}",
        f"hydra.run.dir={single}",
    )
    assert json.loads((single / "metrics.json").read_text())["test/acc"] == pytest.approx(metrics["test/acc"])
