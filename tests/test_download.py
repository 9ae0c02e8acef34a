"""Downloading the corpus, against an HTTP server on 127.0.0.1 that serves a fixture."""

import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

import postag.data as data
import postag.data.datamodule as datamodule
from postag.data import TaggingDataModule, DownloadError, download

from tiny_corpus import TINY_DIR as FIXTURES


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/served over HTTP on a free loopback port; yields (base URL, served dir)."""
    served = tmp_path / "served"
    served.mkdir()
    for split in ("train", "test"):
        (served / f"{split}.txt.gz").write_bytes(gzip.compress((FIXTURES / f"{split}.txt").read_bytes()))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/", served
    finally:
        httpd.shutdown()
        httpd.server_close()


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_download_writes_file_with_matching_checksum(server, tmp_path):
    base, served = server
    target = tmp_path / "out" / "train.txt.gz"
    download(base + "train.txt.gz", target, md5_of(served / "train.txt.gz"))
    assert target.read_bytes() == (served / "train.txt.gz").read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["train.txt.gz"]  # no temporary left


def test_checksum_mismatch_leaves_no_file(server, tmp_path):
    base, _ = server
    out = tmp_path / "out"
    with pytest.raises(DownloadError, match="checksum mismatch.*expected MD5 0{32}"):
        download(base + "train.txt.gz", out / "train.txt.gz", "0" * 32)
    assert list(out.iterdir()) == []


def test_unreachable_url_names_url_directory_and_env_variable(server, tmp_path):
    base, _ = server
    out = tmp_path / "out"
    url = base + "missing.txt.gz"  # the server answers 404
    with pytest.raises(DownloadError) as err:
        download(url, out / "train.txt.gz", None)
    message = str(err.value)
    assert url in message and str(out) in message and "POSTAG_DATA_DIR" in message
    assert list(out.iterdir()) == []


def test_prepare_data_downloads_missing_splits_then_reads_them(server, tmp_path, monkeypatch):
    base, served = server
    monkeypatch.setattr(
        datamodule,
        "SPLITS",
        {split: (f"{split}.txt.gz", md5_of(served / f"{split}.txt.gz")) for split in ("train", "test")},
    )
    target = tmp_path / "data"
    dm = TaggingDataModule(data_dir=str(target), val_fraction=0.2, base_url=base)
    dm.prepare_data()
    assert sorted(p.name for p in target.iterdir()) == ["test.txt.gz", "train.txt.gz"]
    dm.setup()
    assert len(dm.train_set) + len(dm.val_set) == 10 and len(dm.test_set) == 3


def test_data_dir_defaults_to_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("POSTAG_DATA_DIR", str(tmp_path))
    assert TaggingDataModule().data_dir == tmp_path
    monkeypatch.delenv("POSTAG_DATA_DIR")
    assert TaggingDataModule().data_dir.name == "data"


def test_official_checksums_are_the_published_ones():
    assert data.SPLITS["train"] == ("train.txt.gz", "6969c2903a1f19a83569db643e43dcc8")
    assert data.SPLITS["test"] == ("test.txt.gz", "a916e1c2d83eb3004b38fc6fcd628939")
    assert data.BASE_URL == "https://www.clips.uantwerpen.be/conll2000/chunking/"


def _train_cli(*overrides):
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    return subprocess.run(
        [sys.executable, str(root / "train.py"), *overrides], cwd=root, capture_output=True, text=True, timeout=300
    )


def test_train_py_reports_a_failed_download_in_one_line_and_leaves_nothing(server, tmp_path):
    base, _ = server
    target = tmp_path / "data"
    run_dir = tmp_path / "run"
    result = _train_cli(f"data.data_dir={target}", f"data.base_url={base}nothing-here/", f"hydra.run.dir={run_dir}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"postag: error: could not download {base}nothing-here/train.txt.gz into {target}")
    assert "POSTAG_DATA_DIR" in last
    assert not target.exists() or list(target.iterdir()) == []
    assert not (run_dir / "metrics.json").exists()


def test_train_py_reports_a_checksum_mismatch_and_keeps_no_file(server, tmp_path):
    base, _ = server  # serves the fixture, whose MD5 is not the official one
    target = tmp_path / "data"
    result = _train_cli(f"data.data_dir={target}", f"data.base_url={base}", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"postag: error: checksum mismatch for {base}train.txt.gz: expected MD5 6969c2903a1f19a83569db643e43dcc8, got ")
    assert list(target.iterdir()) == []
