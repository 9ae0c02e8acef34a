"""Where a training step's time goes: `train.py`'s own trainer, model and data, profiled.

    python bench/profile_step.py [--steps 30] [--warmup 10] [--top 15] [--write FILE] [train.py overrides ...]
    python bench/profile_step.py model=best trainer.accelerator=gpu

Runs `--warmup` and then `--steps` optimizer steps of the run the overrides describe (the same
config, callbacks and data as `python train.py`, without validation, test, logger or checkpoints)
and prints two Markdown tables:

- the phases of a step, timed between Lightning's hooks (the batch from the data loader,
  forward and loss, backward, the optimizer step, what runs after it: logging, metrics, callbacks
  such as the weight average), in ms per step; on a GPU the device is synchronised at each
  boundary, so that each phase holds its own kernels;
- the operators that took the most time over the profiled steps (torch.profiler; self time on the
  host and, on a GPU, on the device), and the calls per step that read a tensor's value on the
  host (`aten::item`, `aten::nonzero`: a wait for the device when the tensor is on the GPU; AdamW
  reads its step counters, kept on the CPU, this way) and that wait for the device
  (`cudaStreamSynchronize`, `cudaDeviceSynchronize`, copies to the host).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lightning as L  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

from postag.training.build import build_model, instantiate_all  # noqa: E402

PHASES = ("data", "forward and loss", "backward", "optimizer step", "after the step")
# Calls that read a tensor's value on the host, and calls that wait for the device
HOST_READS = ("aten::item", "aten::nonzero")
DEVICE_WAITS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaMemcpyAsync")
# Callbacks that write files or draw figures: left out, so that a profile times training only
LEFT_OUT = ("model_checkpoint", "last_checkpoint", "on_exception", "progress_bar", "tag_figures", "attention_maps",
            "attention_by_offset", "position_similarity", "embedding_projector", "lr_monitor")


class StepPhases(L.Callback):
    """Wall time between Lightning's hooks, per phase, over the steps after ``warmup``."""

    def __init__(self, warmup: int, sync):
        self.warmup, self.sync = warmup, sync
        self.totals: dict[str, float] = defaultdict(float)
        self.steps = 0
        self._last: float | None = None
        self._batch = 0

    def _mark(self, phase: str | None) -> None:
        self.sync()
        now = time.perf_counter()
        if phase is not None and self._last is not None and self._batch >= self.warmup:
            self.totals[phase] += now - self._last
        self._last = now

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._mark("data" if self._batch > 0 else None)

    def on_before_backward(self, trainer, pl_module, loss):
        self._mark("forward and loss")

    def on_after_backward(self, trainer, pl_module):
        self._mark("backward")

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self._mark("backward")  # gradient clipping, unscaling

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._mark("optimizer step")
        self.steps += self._batch >= self.warmup
        self._batch += 1


class LastCallback(L.Callback):
    """Closes the step's 'after the step' phase once every other callback's batch end has run."""

    def __init__(self, phases: StepPhases, profiler: torch.profiler.profile):
        self.phases, self.profiler = phases, profiler

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.phases._mark("after the step")
        self.profiler.step()


def profile(overrides: list[str], steps: int, warmup: int) -> dict:
    output_dir = tempfile.mkdtemp(prefix="postag-profile-")  # Hydra sets it for train.py; nothing is written there
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"paths.output_dir={output_dir}", *overrides])
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = build_model(cfg.model, datamodule.vocab)
    cuda = str(cfg.trainer.get("accelerator")) in ("gpu", "cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    phases = StepPhases(warmup, sync)
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])
    schedule = torch.profiler.schedule(wait=0, warmup=warmup, active=steps, repeat=1)
    with torch.profiler.profile(activities=activities, schedule=schedule) as profiler:
        callbacks = {k: v for k, v in (cfg.get("callbacks") or {}).items() if k not in LEFT_OUT}
        trainer = instantiate(
            cfg.trainer, callbacks=[phases, *instantiate_all(callbacks), LastCallback(phases, profiler)],
            logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            max_steps=warmup + steps, max_epochs=-1, limit_val_batches=0, num_sanity_val_steps=0,
        )
        started = time.perf_counter()
        trainer.fit(model, datamodule=datamodule)
        wall = time.perf_counter() - started
    return {"phases": phases, "events": profiler.key_averages(), "cuda": cuda, "wall": wall}


def phase_table(phases: StepPhases) -> str:
    total = sum(phases.totals.values())
    lines = ["| phase | ms per step | share |", "|---|---:|---:|"]
    for phase in PHASES:
        seconds = phases.totals.get(phase, 0.0)
        lines.append(f"| {phase} | {1000 * seconds / max(1, phases.steps):.2f} | {100 * seconds / total:.1f}% |")
    lines.append(f"| **a step** | **{1000 * total / max(1, phases.steps):.2f}** | |")
    return "\n".join(lines)


def operator_table(events, steps: int, cuda: bool, top: int) -> str:
    device_time = "self_device_time_total" if hasattr(events[0], "self_device_time_total") else "self_cuda_time_total"
    key = device_time if cuda else "self_cpu_time_total"
    rows = sorted(events, key=lambda e: getattr(e, key), reverse=True)[:top]
    header = "| operator | calls per step | host ms per step |" + (" device ms per step |" if cuda else "")
    lines = [header, "|---|---:|---:|" + ("---:|" if cuda else "")]
    for event in rows:
        cells = [event.key, f"{event.count / steps:.1f}", f"{event.self_cpu_time_total / 1000 / steps:.2f}"]
        if cuda:
            cells.append(f"{getattr(event, device_time) / 1000 / steps:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    counts = {e.key: e.count for e in events}
    for title, names in (("Host reads of tensor values", HOST_READS), ("Waits for the device", DEVICE_WAITS)):
        if title.startswith("Waits") and not cuda:
            continue
        lines.append("")
        lines.append(f"{title}, per step: " + ", ".join(f"`{n}` {counts.get(n, 0) / steps:.1f}" for n in names))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="profiled optimizer steps (default 30)")
    parser.add_argument("--warmup", type=int, default=10, help="steps run first and not profiled (default 10)")
    parser.add_argument("--top", type=int, default=15, help="operators listed (default 15)")
    parser.add_argument("--write", help="append the tables to this Markdown file")
    args, overrides = parser.parse_known_args(argv)
    result = profile(overrides, args.steps, args.warmup)
    device = torch.cuda.get_device_name() if result["cuda"] else platform.processor() or platform.machine()
    command = " ".join(["python bench/profile_step.py", *(argv if argv is not None else sys.argv[1:])])
    report = "\n\n".join([
        f"`{command}`: {args.steps} steps after {args.warmup}, {device}, torch {torch.__version__}, "
        f"{datetime.date.today()}, {result['wall']:.1f} s in all",
        phase_table(result["phases"]),
        operator_table(result["events"], args.steps, result["cuda"], args.top),
    ])
    print(report)
    if args.write:
        with open(args.write, "a") as out:
            out.write("\n" + report + "\n")
    return report


if __name__ == "__main__":
    main()
