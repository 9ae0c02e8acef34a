"""`postag tag` on inputs of growing size: time to the first line, total time and peak memory.

    python bench/stream.py --ckpt PATH [--onnx DIR] [--sizes 10000,40000,160000] [--write docs/benchmarks.md]

The input is the CoNLL-2000 test split ($POSTAG_DATA_DIR), its 2,012 sentences repeated to each
size, one sentence a line. Every run is the `postag` command in a process of its own, its output
read through a pipe as a user's next program would; peak memory is the process's maximum
resident set. "whole input" runs read everything before tagging (a chunk as large as the input),
as `postag tag` did before it streamed, for the throughput to compare with.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from postag.data import CoNLL2000Reader, default_data_dir, read_conll  # noqa: E402


def run(command: list[str]) -> dict:
    """Time to the first line of output, total time and peak resident memory of one command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = None
    lines = 0
    for _ in process.stdout:
        if first is None:
            first = time.perf_counter() - started
        lines += 1
    _, status, usage = os.wait4(process.pid, 0)
    total = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    return {"first_s": first, "total_s": total, "peak_mib": usage.ru_maxrss / 1024, "lines": lines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, help="checkpoint to tag with")
    parser.add_argument("--onnx", help="also the same model exported by `postag export` to this directory")
    parser.add_argument("--sizes", default="10000,40000,160000", help="input sizes in sentences")
    parser.add_argument("--whole", default="40000", help="sizes also tagged as one chunk, for comparison")
    parser.add_argument("--write", type=Path, help="append the table to this Markdown file")
    args = parser.parse_args()

    test = read_conll(CoNLL2000Reader().find(default_data_dir(), "test"))
    postag = [sys.executable, "-m", "postag.app.cli", "tag"]
    runtimes = [("PyTorch `Tagger`", ["--ckpt", args.ckpt])] + ([("ONNX runtime", ["--onnx", args.onnx])] if args.onnx else [])
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in map(int, args.sizes.split(",")):
            path = Path(scratch) / f"{size}.txt"
            with open(path, "w", encoding="utf-8") as out:
                for i in range(size):
                    out.write(" ".join(test[i % len(test)][0]) + "\n")
            tokens = sum(len(test[i % len(test)][0]) for i in range(size))
            for name, source in runtimes:
                modes = [("streamed", [])] + ([("whole input", ["--chunk", str(size)])] if str(size) in args.whole.split(",") else [])
                for mode, extra in modes:
                    row = run([*postag, *source, *extra, str(path)])
                    row.update(name=name, mode=mode, size=size, tokens=tokens)
                    print(row, flush=True)
                    rows.append(row)
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {platform.processor() or platform.machine()} ({os.cpu_count()} cores).",
        f"Command: `python bench/stream.py {shlex.join(sys.argv[1:])}`",
        "",
        "| runtime | input | sentences | tokens | first line after | total | tokens/s | peak memory (MiB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['mode']} | {r['size']:,} | {r['tokens']:,} | {r['first_s']:.1f} s | {r['total_s']:.1f} s "
            f"| {r['tokens'] / r['total_s']:,.0f} | {r['peak_mib']:.0f} |"
        )
    table = "\n".join(lines) + "\n"
    print()
    print(table)
    if args.write:
        with open(args.write, "a", encoding="utf-8") as out:
            out.write("\n" + table)


if __name__ == "__main__":
    main()
