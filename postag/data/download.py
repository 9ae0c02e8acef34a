"""Fetching a corpus: atomic downloads checked against known checksums."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from postag.errors import DownloadError

DATA_DIR_ENV = "POSTAG_DATA_DIR"

# CoNLL-2000, the default corpus: the official archives and their MD5 sums
# (as torchtext's CoNLL2000Chunking dataset checked them).
BASE_URL = "https://www.clips.uantwerpen.be/conll2000/chunking/"
SPLITS = {
    "train": ("train.txt.gz", "6969c2903a1f19a83569db643e43dcc8"),
    "test": ("test.txt.gz", "a916e1c2d83eb3004b38fc6fcd628939"),
}


def default_data_dir() -> Path:
    """``$POSTAG_DATA_DIR`` when set, else ``data/`` in the project."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data"


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, target: Path, md5: str | None, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``target`` through a temporary file in the same directory.

    The file appears under its final name only once complete and, when ``md5`` is
    given, matching it; on any failure nothing is left behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(1 << 16), b""):
                out.write(chunk)
        if md5 is not None:
            actual = md5sum(tmp)
            if actual != md5:
                raise DownloadError(f"checksum mismatch for {url}: expected MD5 {md5}, got {actual}")
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(
            f"could not download {url} into {target.parent} ({err}). Without internet access, "
            f"put {target.name} there yourself or set {DATA_DIR_ENV} to a directory holding "
            f"train.txt(.gz) and test.txt(.gz)"
        ) from err
    finally:
        tmp.unlink(missing_ok=True)
    return target
