"""How far postag's eager encoder is from torch's fused one when tagging, and why.

    python bench/tagging_ceiling.py [--rounds 7] [--profile]

One process tags the CoNLL-2000 test split (or synthetic sentences, as in
bench/benchmark.py) in the batches postag's Tagger makes, fp32, under
inference_mode, with three encoders of the same size (128 dimensions, 3 pre-norm
blocks, 4 heads, feed-forward 512), in turn, round after round:

- torch's nn.TransformerEncoder (its fused inference fast path);
- postag's Transformer with manual attention;
- the same postag weights with torch's fused layer norm and softmax kernels in place
  of the hand-built ones: a ceiling for what rewriting those two could gain.

Each row gives the median pass and the sum over batches of each batch's fastest time
over the rounds: a slow spell of a shared machine raises the first, rarely the second.
--profile adds torch.profiler's table of the operators that took the most time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import postag.network.model  # noqa: E402
from benchmark import PostagTagger, TorchEncoderTagger, batches_of, load_sentences  # noqa: E402
from postag.app.cpu import keep_freed_memory  # noqa: E402
from postag.data import Vocabularies, collate  # noqa: E402
from postag.data.buckets import BATCH_SIZE, MAX_TOKENS  # noqa: E402

MATRIX_PRODUCTS = ("aten::addmm", "aten::mm", "aten::bmm", "aten::_addmm_activation")


@contextlib.contextmanager
def torch_kernels(model: torch.nn.Module):
    """Within the block, postag's LayerNorm and softmax run torch's fused kernels."""
    norms = [m for m in model.modules() if isinstance(m, postag.network.model.LayerNorm)]
    for norm in norms:
        norm.forward = lambda x, norm=norm: F.layer_norm(x, norm.norm_shape, norm.weight, norm.bias, norm.eps)
    hand_built = postag.network.model.softmax
    postag.network.model.softmax = lambda x: torch.softmax(x, dim=-1)
    try:
        yield
    finally:
        postag.network.model.softmax = hand_built
        for norm in norms:
            del norm.forward  # back to the class's forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="also print the operators that took the most time")
    args = parser.parse_args()

    keep_freed_memory()  # as bench/benchmark.py and `postag tag` do
    torch.manual_seed(0)
    train_sents, test_sents, source = load_sentences()
    vocab = Vocabularies.from_training(train_sents, train_sents, min_freq=1)
    test = [vocab.encode(w, t) for w, t in test_sents]
    lengths = [len(e.words) for e in test]
    batches = [
        collate([test[i] for i in ids])
        for ids in batches_of(lengths, BATCH_SIZE, "bucketed", shuffle=False, seed=1, max_tokens=MAX_TOKENS)
    ]
    real_tokens = sum(int(b.mask.sum()) for b in batches)
    sizes = dict(vocab_size=len(vocab.words), tags=len(vocab.tags), hidden_n=128, n=3, h=4, ff_dim=512)
    reference = TorchEncoderTagger(**sizes).eval()
    ours = PostagTagger(**sizes, attention="manual").eval()
    configs = {
        "torch encoder (fused fast path)": (reference, contextlib.nullcontext),
        "postag, manual attention": (ours, contextlib.nullcontext),
        "postag, with torch's layer norm and softmax kernels": (ours, lambda: torch_kernels(ours)),
    }

    def tag_pass(model, kernels) -> list[float]:
        seconds = []
        with torch.inference_mode(), kernels():
            for batch in batches:
                started = time.perf_counter()
                model(batch.tokens, batch.mask).argmax(-1)
                seconds.append(time.perf_counter() - started)
        return seconds

    with torch.inference_mode(), torch_kernels(ours):  # the ceiling computes what postag computes
        batch = batches[len(batches) // 2]
        fused = ours(batch.tokens, batch.mask)
    with torch.inference_mode():
        gap = float((fused - ours(batch.tokens, batch.mask)).abs().max())

    times: dict[str, list[list[float]]] = {name: [] for name in configs}
    for model, kernels in configs.values():
        tag_pass(model, kernels)  # warm-up
    for _ in range(args.rounds):
        for name, (model, kernels) in configs.items():
            times[name].append(tag_pass(model, kernels))

    median_rate = {n: statistics.median(real_tokens / sum(p) for p in t) for n, t in times.items()}
    best_rate = {n: real_tokens / sum(min(b) for b in zip(*t)) for n, t in times.items()}
    first = next(iter(configs))
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {platform.processor() or platform.machine()}"
        f" ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads), torch {torch.__version__},"
        f" data: {source}; {len(batches)} batches, {real_tokens:,} real tokens, {args.rounds} rounds.",
        f"Command: `python bench/tagging_ceiling.py {' '.join(sys.argv[1:])}`".rstrip(),
        f"The two postag rows differ by at most {gap:.1e} in their logits.",
        "",
        "| encoder | median pass (tokens/s) | vs torch | fastest time of each batch, summed (tokens/s) | vs torch |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in configs:
        lines.append(
            f"| {name} | {median_rate[name]:,.0f} | {median_rate[name] / median_rate[first]:.2f}x "
            f"| {best_rate[name]:,.0f} | {best_rate[name] / best_rate[first]:.2f}x |"
        )
    print("\n".join(lines))

    if args.profile:
        from torch.profiler import profile

        for name, (model, kernels) in configs.items():
            with profile() as prof:
                tag_pass(model, kernels)
            events = prof.key_averages()
            total = sum(e.self_cpu_time_total for e in events)
            products = sum(e.self_cpu_time_total for e in events if e.key in MATRIX_PRODUCTS)
            print(f"\n{name}: matrix products {products / total:.0%} of the operators' own time")
            print(events.table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
