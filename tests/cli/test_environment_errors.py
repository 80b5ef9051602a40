"""Environment failures are documented exit codes in words, never exit 1, and leave nothing partial."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (root only); otherwise a printed skip reason."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_exit_3_with_the_reason_and_nothing_left(tmp_path: Path, cli: Any, small_fs: Path) -> None:
    (tmp_path / "k").write_bytes(os.urandom(32))
    (tmp_path / "big").write_bytes(os.urandom(256 << 10))
    result = cli("encrypt", "file", tmp_path / "big", "-o", small_fs / "big.enc", "--key", tmp_path / "k", expect=3)
    assert "file system is full" in result.stderr and "Traceback" not in result.stderr
    assert list(small_fs.iterdir()) == []


def test_a_read_only_file_system_is_exit_3(tmp_path: Path, cli: Any, small_fs: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    (tmp_path / "k").write_bytes(os.urandom(32))
    (tmp_path / "p").write_bytes(b"x")
    result = cli("encrypt", "file", tmp_path / "p", "-o", small_fs / "c", "--key", tmp_path / "k", expect=3)
    assert "read-only" in result.stderr and str(small_fs) in result.stderr


def test_a_missing_optional_package_is_exit_8_with_the_pip_line(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` now raises ModuleNotFoundError
    document = {
        "algorithm": {"uri": "s3://bucket/algo", "algo_type": "bin", "hash": hashlib.sha3_256(b"x").hexdigest()}
    }
    (tmp_path / "m.json").write_text(json.dumps(document))
    result = cli("run", tmp_path / "m.json", "--results", tmp_path / "out", expect=8)
    assert "pip install 'cococtl[s3]'" in result.stderr and "Traceback" not in result.stderr
