"""A tiny hand-written corpus laid out as a CoNLL-2000 data directory (train.txt, test.txt).

The sentences live in tests/fixtures/tiny-*.conll; they are copied into a temporary
directory under the names the data module looks for.
"""

import atexit
import shutil
import tempfile
from pathlib import Path

_SOURCE = Path(__file__).parent / "fixtures"

TINY_DIR = Path(tempfile.mkdtemp(prefix="postag-tiny-corpus-"))
atexit.register(shutil.rmtree, TINY_DIR, ignore_errors=True)
for split in ("train", "test"):
    shutil.copyfile(_SOURCE / f"tiny-{split}.conll", TINY_DIR / f"{split}.txt")
