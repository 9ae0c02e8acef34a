"""The benchmark script runs and reports sane rows (its figures live in docs/benchmarks.md)."""

import queue
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import benchmark  # noqa: E402


@pytest.mark.parametrize(
    "encoder, attention, batching, mode",
    [
        ("postag", "manual", "bucketed", "train"),
        ("torch-defaults", None, "random", "tag"),
    ],
)
def test_one_benchmark_configuration_gives_a_row(encoder, attention, batching, mode):
    job = dict(
        name="test", encoder=encoder, h=4, attention=attention, batching=batching, mode=mode,
        device="cpu", bf16=False, compile=False, fused_optimizer=True, train_batches=2, tag_passes=1,
    )
    rows = queue.Queue()
    benchmark.measure(job, rows)
    row = rows.get_nowait()
    assert row["tokens_per_s"] > 0
    assert 0.0 <= row["padding"] < 1.0
    if batching == "bucketed":
        # postag's batches pad far less than random ones (about 4-5% here against 50-60%)
        assert row["padding"] < 0.2
    else:
        assert row["padding"] > 0.3
