"""Side-by-side speed and memory: postag's encoder against torch's nn.TransformerEncoder.

    python bench/benchmark.py [--device cuda] [--train-batches 120] [--rounds 3] [--bf16] [--compile]
                              [--stages train,tag] [--only NAME,...] [--malloc keep|glibc|both]
                              [--write docs/benchmarks.md]

Every measurement runs in a fresh child process (so peak memory is its own) on the
same sentences: the CoNLL-2000 training and test splits from $POSTAG_DATA_DIR, or,
without them, synthetic sentences whose lengths follow a log-normal fitted to
CoNLL-2000 (mean 23.7 tokens). Throughput counts real (non-padding) tokens. Every
child keeps freed memory for reuse, as `postag tag` does (postag.app.cpu.keep_freed_memory);
--malloc glibc leaves glibc's malloc as it is, and --malloc both measures every
configuration both ways, side by side.

Training: forward, masked cross-entropy, backward, gradient clipping and an AdamW
step, including batch collation. Tagging: forward and argmax under inference_mode,
in the batches postag's Tagger makes (at most 256 sentences and 2,048 token slots).
The "Tagger" rows time postag's whole tagging path instead, from words to tag names
(encoding, batching, the model built from conf/model, tags back in input order).
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing as mp
import os
import platform
import random
import resource
import shlex
import statistics
import sys
import time
import warnings
from queue import Empty
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from postag.data import (  # noqa: E402
    IGNORE_INDEX,
    LengthBucketSampler,
    Vocabularies,
    collate,
    CoNLL2000Reader,
    default_data_dir,
    padding_share,
    read_conll,
)
from postag.app.cpu import keep_freed_memory  # noqa: E402
from postag.network.model import Transformer  # noqa: E402
from postag.data.buckets import BATCH_SIZE, MAX_TOKENS  # noqa: E402  (the batches postag's Tagger makes)

TAGS = "NN IN NNP DT JJ NNS , . CD VBD RB VB CC TO VBZ VBN PRP VBG VBP MD POS PRP$ $ `` '' : WDT JJR NNPS RP WP WRB JJS RBR ) ( EX RBS PDT FW WP$ # UH SYM".split()


def load_sentences(seed: int = 0) -> tuple[list, list, str]:
    data_dir = default_data_dir()
    train_path, test_path = CoNLL2000Reader().find(data_dir, "train"), CoNLL2000Reader().find(data_dir, "test")
    if train_path and test_path:
        return read_conll(train_path), read_conll(test_path), f"CoNLL-2000 from {data_dir}"
    rng = random.Random(seed)

    def sentence() -> tuple[list[str], list[str]]:
        length = max(1, min(120, round(rng.lognormvariate(3.05, 0.5))))
        words = [f"w{int(rng.paretovariate(1.1)) % 20000}" for _ in range(length)]
        return words, [rng.choice(TAGS) for _ in words]

    train = [sentence() for _ in range(8936)]
    test = [sentence() for _ in range(2012)]
    return train, test, "synthetic sentences (CoNLL-2000 not found)"


class TorchEncoderTagger(nn.Module):
    """The reference: embeddings, torch's nn.TransformerEncoder, a linear tag head."""

    def __init__(
        self,
        vocab_size: int,
        tags: int,
        hidden_n: int,
        n: int,
        h: int,
        ff_dim: int,
        max_len: int = 256,
        torch_defaults: bool = False,
    ):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, hidden_n, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, hidden_n)
        # Pre-norm like postag's blocks; torch_defaults: torch's own defaults instead, post-norm,
        # where the encoder turns padded batches into nested tensors when tagging and skips the padding.
        layer = nn.TransformerEncoderLayer(
            hidden_n, h, ff_dim, dropout=0.1, activation="relu", batch_first=True, norm_first=not torch_defaults
        )
        self.encoder = nn.TransformerEncoder(layer, n, enable_nested_tensor=torch_defaults)
        self.head = nn.Linear(hidden_n, tags)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(tokens) + self.position_embedding(torch.arange(tokens.size(1), device=tokens.device))
        return self.head(self.encoder(x, src_key_padding_mask=~mask))


class PostagTagger(nn.Module):
    """postag's Transformer and the same head (what TaggerModule runs for model=pos)."""

    def __init__(self, vocab_size: int, tags: int, hidden_n: int, n: int, h: int, ff_dim: int, attention: str):
        super().__init__()
        self.encoder = Transformer(vocab_size, hidden_n, n, h, ff_dim=ff_dim, positional=True, attention=attention)
        self.head = nn.Linear(hidden_n, tags)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(tokens, mask))




def batches_of(
    lengths: list[int], batch_size: int, batching: str, shuffle: bool, seed: int, max_tokens: int | None = None
) -> list[list[int]]:
    if batching == "bucketed":
        return list(LengthBucketSampler(lengths, batch_size, shuffle=shuffle, seed=seed, max_tokens=max_tokens))
    order = list(range(len(lengths)))
    if shuffle:
        random.Random(seed).shuffle(order)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def tag_with_tagger(job: dict, vocab: Vocabularies, test_sents: list) -> dict:
    """postag's Tagger from words to tag names: encoding, batching, the model, tags in input order.

    The model is built from the project's own config (the overrides ``job["model"]``) and left
    untrained: its speed does not depend on its weights. ``job["chars_per_type"]``: the character
    CNN encodes each distinct word of a batch once (postag's way), or every token.
    ``job["runtime"]``: "onnx" exports the model (``postag export``) and tags with the torch-free
    runtime instead (its export is not timed). ``job["fresh"]``: every pass starts with no word
    encoded, as ``postag tag`` starts; otherwise one tagger tags every pass, keeping what it
    worked out for each word (its record, a known word's features) from the passes before, as
    in a long stream.
    """
    from hydra import compose, initialize_config_dir

    from postag.network.word_features import CharCNN
    from postag.training.build import build_model
    from postag.app.tagger import Tagger

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        cfg = compose(config_name="train", overrides=job["model"])
    model = build_model(cfg.model, vocab)
    for module in model.modules():
        if isinstance(module, CharCNN):
            module.per_type = job["chars_per_type"]
    sentences = [words for words, _ in test_sents]
    lengths = [len(words) for words in sentences]
    batches = batches_of(lengths, BATCH_SIZE, "bucketed", shuffle=False, seed=1, max_tokens=MAX_TOKENS)
    sync = torch.cuda.synchronize if job["device"] == "cuda" else (lambda: None)
    if job["runtime"] == "onnx":
        import tempfile

        from postag.portable.export import export_network
        from postag.portable.runtime import OnnxTagger

        exported = tempfile.mkdtemp(prefix="postag-bench-onnx-")
        export_network(model.net, vocab, exported)
        runtime = OnnxTagger(exported)  # the session, like the PyTorch model, built once
    rates = []
    tagger = None
    for _ in range(job["tag_passes"] + 1):  # the first pass warms up
        # A freshly loaded vocabulary every pass, as `postag tag` starts with: no word encoded yet.
        if job["runtime"] == "onnx":
            tagger = runtime
            tagger.forget_words()
        elif job["fresh"] or tagger is None:
            fresh = Vocabularies.from_state_dict(vocab.state_dict())
            tagger = Tagger(model, fresh, device=job["device"], bf16=job["bf16"])
        sync()
        started = time.perf_counter()
        tagger.tag_sentences(sentences)
        sync()
        rates.append(sum(lengths) / (time.perf_counter() - started))
    return {"tokens_per_s": statistics.median(rates[1:]), "padding": padding_share(batches, lengths)}


def measure(job: dict, queue: mp.Queue) -> None:
    """One configuration in its own process; puts a result row on the queue."""
    # torch warns that nested tensors (its defaults' fast path) are a prototype API
    warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors")
    if job["keep_freed_memory"]:
        keep_freed_memory()  # as `postag tag` does; for every configuration alike
    torch.manual_seed(0)
    device = torch.device(job["device"])
    train_sents, test_sents, _ = load_sentences()
    vocab = Vocabularies.from_training(train_sents, train_sents, min_freq=1)
    if job["encoder"] == "tagger":  # the Tagger encodes the words itself
        rss_before = start_memory_measurement(job["device"])
        row = {**job, **tag_with_tagger(job, vocab, test_sents)}
        queue.put({**row, **peak_memory(job["device"], rss_before)})
        return
    train = [vocab.encode(w, t) for w, t in train_sents]
    test = [vocab.encode(w, t) for w, t in test_sents]
    sizes = dict(vocab_size=len(vocab.words), tags=len(vocab.tags), hidden_n=128, n=3, h=job["h"], ff_dim=512)
    if job["encoder"] in ("torch", "torch-defaults"):
        model = TorchEncoderTagger(**sizes, torch_defaults=job["encoder"] == "torch-defaults")
    else:
        model = PostagTagger(**sizes, attention=job["attention"])
    model.to(device)
    if job["compile"]:
        # Shapes change from batch to batch: compile for dynamic shapes once, not once a shape.
        model.encoder.compile(dynamic=True)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=job["bf16"])
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rss_before = start_memory_measurement(device.type)

    def to_device(batch):
        return batch.tokens.to(device), batch.labels.to(device), batch.mask.to(device)

    row = dict(job)
    if job["mode"] == "train":
        lengths = [len(e.words) for e in train]
        all_batches = batches_of(lengths, 32, job["batching"], shuffle=True, seed=1)
        batches = all_batches[: job["train_batches"]]
        row["padding"] = padding_share(all_batches, lengths)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=job["fused_optimizer"])
        model.train()

        def step(ids):
            tokens, labels, mask = to_device(collate([train[i] for i in ids]))
            with autocast:
                logits = model(tokens, mask)
            loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            return int(mask.sum())

        # Warm-up on batches not timed; a compiled model first sees every timed batch shape too.
        for ids in all_batches[-5:] + (batches if job["compile"] else []):
            step(ids)
        sync()
        started = time.perf_counter()
        tokens = sum(step(ids) for ids in batches)
        sync()
        row["tokens_per_s"] = tokens / (time.perf_counter() - started)
    else:
        lengths = [len(e.words) for e in test]
        batches = batches_of(lengths, BATCH_SIZE, job["batching"], shuffle=False, seed=1, max_tokens=MAX_TOKENS)
        row["padding"] = padding_share(batches, lengths)
        model.eval()
        predictions: list = [None] * len(test)

        def tag(ids):
            tokens, _, mask = to_device(collate([test[i] for i in ids]))
            with torch.inference_mode(), autocast:  # as postag's Tagger does
                best = model(tokens, mask).argmax(-1).cpu()
            for row_id, i in enumerate(ids):  # back to input order
                predictions[i] = best[row_id, : lengths[i]]
            return int(mask.sum())

        for ids in batches if job["compile"] else batches[:2]:  # warm-up (and compilation)
            tag(ids)
        # One pass over the test split takes about a second: the median of several passes
        # is far steadier on a shared machine than any one of them.
        rates = []
        for _ in range(job["tag_passes"]):
            sync()
            started = time.perf_counter()
            tokens = sum(tag(ids) for ids in batches)
            sync()
            rates.append(tokens / (time.perf_counter() - started))
        row["tokens_per_s"] = statistics.median(rates)
    queue.put({**row, **peak_memory(device.type, rss_before)})


def start_memory_measurement(device_type: str) -> int:
    """Resets CUDA's peak counter; returns the process's peak RSS so far (KiB), for peak_memory."""
    if device_type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_memory(device_type: str, rss_before: int) -> dict:
    if device_type == "cuda":
        return {"peak_mib": torch.cuda.max_memory_allocated() / 2**20, "memory_kind": "GPU allocated"}
    # ru_maxrss is in KiB on Linux; the growth over the process before the measurement
    return {
        "peak_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
        "memory_kind": "RSS growth",
    }


def run_job(job: dict) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=measure, args=(job, queue))
    process.start()
    while True:
        try:
            row = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(f"{job['name']} ({job['mode']}): the measuring process died (exit {process.exitcode})")
    process.join()
    return row


JOBS = [
    # (name, encoder, heads, attention, batching, fused AdamW)
    ("torch encoder, random batches (reference)", "torch", 4, None, "random", False),
    ("torch encoder, bucketed batches", "torch", 4, None, "bucketed", False),
    ("torch encoder, torch's defaults (post-norm, nested tensors), random batches", "torch-defaults", 4, None, "random", False),
    ("postag manual attention, random batches", "postag", 4, "manual", "random", False),
    ("postag manual attention, bucketed batches", "postag", 4, "manual", "bucketed", False),
    ("postag sdpa attention, random batches", "postag", 4, "sdpa", "random", False),
    ("postag sdpa attention, bucketed batches", "postag", 4, "sdpa", "bucketed", False),
    # postag's whole pipeline: its batches and its optimizer (TaggerModule uses fused AdamW)
    ("model=pos (3 heads, manual), bucketed batches, fused AdamW", "postag", 3, "manual", "bucketed", True),
]
# With --compile: torch.compile(dynamic=True) of postag's encoder; compilation is not timed.
COMPILED_JOBS = [
    ("postag manual attention, compiled, bucketed batches", "postag", 4, "manual", "bucketed", False),
    ("model=pos (3 heads, manual), compiled, bucketed batches, fused AdamW", "postag", 3, "manual", "bucketed", True),
]


# Tagging only: postag's whole tagging path, from words to tag names
# (name, config overrides, character vectors once per distinct word of a batch, runtime: the
# PyTorch Tagger or the exported model in onnxruntime, fp32 only, and whether every pass starts
# afresh, as `postag tag` starts, or goes on with the tagger of the pass before, as a stream does).
TAGGER_JOBS = [
    ("postag Tagger from words to tags, model=pos", ["model=pos"], True, "torch", True),
    ("postag Tagger from words to tags, model=best (one tagger), characters per token", ["model=best"], False, "torch",
     True),
    ("postag Tagger from words to tags, model=best (one tagger)", ["model=best"], True, "torch", True),
    ("postag Tagger from words to tags, model=best without convolutions", ["model=best", "model.conv_kernel=0"], True,
     "torch", True),
    ("postag Tagger from words to tags, model=best model.ff_dim=256", ["model=best", "model.ff_dim=256"], True, "torch",
     True),
    ("postag Tagger from words to tags, model=best model.ensemble=3", ["model=best", "model.ensemble=3"], True, "torch",
     True),
    ("postag Tagger from words to tags, model=pos, one tagger for every pass", ["model=pos"], True, "torch", False),
    ("postag Tagger from words to tags, model=best (one tagger), one tagger for every pass", ["model=best"], True,
     "torch", False),
    ("ONNX runtime (postag export) from words to tags, model=pos", ["model=pos"], True, "onnx", True),
    ("ONNX runtime (postag export) from words to tags, model=best (one tagger)", ["model=best"], True, "onnx", True),
]


# --malloc: whether the measuring processes call keep_freed_memory
KEEP_FREED_MEMORY = {"keep": [True], "glibc": [False], "both": [True, False]}


def label(row: dict) -> str:
    """Tagging keeps sentences in file order where training shuffles them, and has no optimizer."""
    name = row["name"]
    if row["mode"] == "tag":
        name = name.replace("random batches", "file order").replace(", fused AdamW", "")
    return name if row["keep_freed_memory"] else f"{name}, glibc malloc defaults"


def table_rows(rows: list[dict]) -> list[str]:
    """Markdown rows, grouped by stage and precision in the order measured, with their ratios.

    A row is compared with the reference (torch encoder, random batches) and with torch's
    encoder on the same batches, each measured with the same malloc setting; a ratio whose
    row --only left out stays empty.
    """
    lines = []
    for mode, bf16 in dict.fromkeys((r["mode"], r["bf16"]) for r in rows):
        group = [r for r in rows if r["mode"] == mode and r["bf16"] == bf16]
        references = {r["keep_freed_memory"]: r["tokens_per_s"] for r in group if "(reference)" in r["name"]}
        torch_rates = {
            (r["batching"], r["h"], r["keep_freed_memory"]): r["tokens_per_s"] for r in group if r["encoder"] == "torch"
        }
        for r in group:
            # postag's encoder against torch's of the same size (4 heads) on the same batches
            key = (r["batching"], r["h"], r["keep_freed_memory"])
            torch_rate = torch_rates.get(key) if r["encoder"] == "postag" else None
            reference = references.get(r["keep_freed_memory"])
            same_batches = f"{r['tokens_per_s'] / torch_rate:.2f}x" if torch_rate else ""
            vs_reference = f"{r['tokens_per_s'] / reference:.2f}x" if reference else ""
            lines.append(
                f"| {'training' if mode == 'train' else 'tagging'} | {'bf16' if bf16 else 'fp32'} | {label(r)} "
                f"| {r['padding']:.1%} | {r['tokens_per_s']:,.0f} | {vs_reference} "
                f"| {same_batches} | {r['peak_mib']:.0f} ({r['memory_kind']}) |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--train-batches", type=int, default=120, help="timed training batches of 32 sentences")
    parser.add_argument("--tag-passes", type=int, default=5, help="timed passes over the test split (median)")
    parser.add_argument("--bf16", action="store_true", help="also measure bf16 autocast")
    parser.add_argument("--compile", action="store_true", help="also measure postag's encoder under torch.compile")
    parser.add_argument(
        "--stages", default="train,tag", help="what to measure: train, tag or both (comma-separated)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="run every configuration this many times (median)")
    parser.add_argument(
        "--only", help="measure only the configurations whose name contains one of these (comma-separated)"
    )
    parser.add_argument(
        "--malloc",
        choices=list(KEEP_FREED_MEMORY),
        default="keep",
        help="keep: freed memory is kept for reuse (postag.app.cpu.keep_freed_memory, as `postag tag` does); "
        "glibc: glibc's defaults, which hand freed memory back; both: every configuration both ways",
    )
    parser.add_argument("--write", type=Path, help="append the table to this Markdown file")
    args = parser.parse_args()

    _, _, source = load_sentences()
    precisions = [False, True] if args.bf16 else [False]
    specs = [(spec, False) for spec in JOBS] + ([(spec, True) for spec in COMPILED_JOBS] if args.compile else [])
    stages = [stage for stage in ("train", "tag") if stage in args.stages.split(",")]
    keep_settings = KEEP_FREED_MEMORY[args.malloc]
    jobs = []
    for mode in stages:
        for bf16 in precisions:
            for (name, encoder, h, attention, batching, fused), compiled in specs:
                if bf16 and encoder == "torch-defaults":
                    continue  # torch's nested-tensor fast path fails under bf16 autocast (Float vs BFloat16)
                jobs.extend(
                    dict(
                        name=name, encoder=encoder, h=h, attention=attention, batching=batching, mode=mode,
                        device=args.device, bf16=bf16,
                        compile=compiled, fused_optimizer=fused, train_batches=args.train_batches,
                        tag_passes=args.tag_passes, keep_freed_memory=keep,
                    )
                    for keep in keep_settings
                )
            if mode == "tag":
                for name, model, chars_per_type, runtime, fresh in TAGGER_JOBS:
                    if bf16 and runtime == "onnx":
                        continue  # the exported graph is fp32
                    jobs.extend(
                        dict(
                            name=name, encoder="tagger", model=model, chars_per_type=chars_per_type, runtime=runtime,
                            fresh=fresh, h=None,
                            attention=None, batching="bucketed",
                            mode=mode, device=args.device, bf16=bf16, compile=False, tag_passes=args.tag_passes,
                            keep_freed_memory=keep,
                        )
                        for keep in keep_settings
                    )
    if args.only:
        wanted = [part.strip() for part in args.only.split(",")]
        jobs = [job for job in jobs if any(part in job["name"] for part in wanted)]
    # Rounds run every configuration once each, in turn, so that a slow spell of a shared
    # machine falls on all of them alike; each row is the median over the rounds.
    results: list[list[dict]] = [[] for _ in jobs]
    for round_number in range(1, args.rounds + 1):
        for i, job in enumerate(jobs):
            row = run_job(job)
            results[i].append(row)
            precision = "bf16" if job["bf16"] else "fp32"
            print(
                f"round {round_number} {job['mode']:5s} {precision} {label(row):56s} {row['tokens_per_s']:9.0f} tok/s",
                flush=True,
            )
    rows = [
        {
            **runs[0],
            "tokens_per_s": statistics.median(r["tokens_per_s"] for r in runs),
            "peak_mib": statistics.median(r["peak_mib"] for r in runs),
        }
        for runs in results
    ]

    lines = [
        f"Measured {datetime.date.today().isoformat()} on {platform.processor() or platform.machine()}"
        f" ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads), torch {torch.__version__},"
        f" device {args.device}, data: {source}; unless a row says otherwise, freed memory is kept for reuse"
        " (postag.app.cpu.keep_freed_memory).",
        f"Command: `python bench/benchmark.py {shlex.join(sys.argv[1:])}`".rstrip(),
        "",
        "| stage | precision | configuration | padding | real tokens/s | vs reference | vs torch encoder, same batches "
        "| peak memory (MiB) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    lines += table_rows(rows)
    table = "\n".join(lines) + "\n"
    print()
    print(table)
    if args.write:
        with args.write.open("a") as out:
            out.write("\n" + table)


if __name__ == "__main__":
    main()
