"""postag.app.cpu.keep_freed_memory: the malloc settings it asks for, and where it changes nothing."""

import platform
import subprocess
import sys

import pytest

import postag.app.cpu
from postag.app.cpu import keep_freed_memory


class FakeLibc:
    """Records mallopt calls; ``glibc=False`` stands for a C library without glibc's extensions."""

    def __init__(self, glibc: bool = True, result: int = 1):
        self.calls = []
        self.result = result
        if glibc:
            self.gnu_get_libc_version = lambda: b"2.99"

    def mallopt(self, parameter, value):
        self.calls.append((parameter, value))
        return self.result


def use_libc(monkeypatch, libc):
    monkeypatch.setattr(postag.app.cpu.sys, "platform", "linux")
    monkeypatch.setattr(postag.app.cpu.ctypes, "CDLL", lambda name: libc)


def test_glibc_is_asked_for_a_fixed_mmap_threshold_and_a_high_trim_threshold(monkeypatch):
    libc = FakeLibc()
    use_libc(monkeypatch, libc)
    assert keep_freed_memory() is True
    # M_MMAP_THRESHOLD (-3): 32 MiB, which also stops glibc moving it; M_TRIM_THRESHOLD (-1): 1 GiB
    assert libc.calls == [(-3, 32 << 20), (-1, 1 << 30)]


def test_a_refused_setting_is_reported(monkeypatch):
    use_libc(monkeypatch, FakeLibc(result=0))
    assert keep_freed_memory() is False


def test_a_c_library_other_than_glibc_is_left_alone(monkeypatch):
    libc = FakeLibc(glibc=False)
    use_libc(monkeypatch, libc)
    assert keep_freed_memory() is False
    assert libc.calls == []


def test_other_systems_are_left_alone(monkeypatch):
    def no_library(name):
        raise AssertionError("no C library should be loaded off Linux")

    monkeypatch.setattr(postag.app.cpu.sys, "platform", "darwin")
    monkeypatch.setattr(postag.app.cpu.ctypes, "CDLL", no_library)
    assert keep_freed_memory() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="needs glibc")
def test_the_real_glibc_accepts_the_settings():
    # In a process of its own: the settings last for the life of the process.
    out = subprocess.run(
        [sys.executable, "-c", "from postag.app.cpu import keep_freed_memory; print(keep_freed_memory())"],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == "True"
