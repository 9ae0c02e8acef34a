"""Process settings for fast work on the CPU."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameters, from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(trim_threshold: int = 1 << 30, mmap_threshold: int = 32 << 20) -> bool:
    """Have glibc's malloc keep freed memory for reuse rather than hand it back to the system.

    By default, glibc gives blocks of a few MB (one layer's activations for a batch) back to
    the system when they are freed, so the next batch's tensors fault their pages in afresh:
    tens of thousands of page faults a pass over the CoNLL-2000 test split. Keeping them makes
    tagging faster (docs/benchmarks.md).
    With this, blocks under ``mmap_threshold`` come from the heap, and the heap keeps up to
    ``trim_threshold`` bytes of free memory.

    The process's resident memory then stays near its peak. Returns False, and changes
    nothing, where malloc is not glibc's (macOS, Windows, musl).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018  (glibc only; musl has a mallopt that does nothing)
    except (OSError, AttributeError):
        return False
    # mallopt(int, int) returns 1 on success; ctypes passes Python ints as C ints
    return mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1
