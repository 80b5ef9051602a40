"""SIGKILL during `decrypt file`: no handler runs, yet no plaintext may be left behind (issue #16).

The output is staged as an unnamed file (O_TMPFILE) that the kernel frees with the killed process, so
neither the destination directory nor $TMPDIR gains anything, at any point of the write.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cococtl import fsutil
from cococtl.crypto import files

SIZE = 256 << 20  # large enough that the write loop lasts well beyond the moment we catch it in


def _snapshot(*roots: Path) -> set[Path]:
    return {p for root in roots for p in root.rglob("*")}


def _written(pid: int) -> int:
    """Bytes the process has passed to write() so far (``wchar`` in /proc/PID/io)."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _staging_fds(pid: int, directory: Path) -> list[str]:
    """The open files of ``pid`` that live in ``directory`` (an unnamed file shows as ``#INODE (deleted)``)."""
    found = []
    with os.scandir(f"/proc/{pid}/fd") as entries:
        for entry in entries:
            try:
                target = os.readlink(entry.path)
            except OSError:
                continue
            if target.startswith(f"{directory}/"):
                found.append(target)
    return found


def test_a_killed_decrypt_file_leaves_no_plaintext(tmp_path: Path) -> None:
    out, scratch = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    scratch.mkdir()
    probe = fsutil._open_unnamed(out)
    if probe is None:
        pytest.skip("this file system has no O_TMPFILE: outputs are staged under a name there")
    os.close(probe)
    key = os.urandom(32)
    (tmp_path / "k").write_bytes(key)
    block = os.urandom(1 << 20)
    with open(tmp_path / "plain", "wb") as handle:
        for _ in range(SIZE >> 20):
            handle.write(block)
    files.encrypt_file(key, tmp_path / "plain", tmp_path / "sealed")
    (tmp_path / "plain").unlink()
    before = _snapshot(out, scratch)
    proc = subprocess.Popen(
        ["cococtl", "-q", "decrypt", "file", str(tmp_path / "sealed"), "-o", str(out / "plain"), "--key",
         str(tmp_path / "k")],
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(scratch)},
    )  # fmt: skip
    try:
        # Wait until it is in its write loop: several MiB of plaintext written, the rest still to come.
        deadline = time.monotonic() + 60
        while _written(proc.pid) < (8 << 20) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        proc.send_signal(signal.SIGSTOP)
        assert proc.poll() is None, "decrypt finished before it could be caught writing: raise SIZE"
        staged = _staging_fds(proc.pid, out)
        assert staged and all(t.endswith("(deleted)") for t in staged), staged
        assert _written(proc.pid) < SIZE
        assert _snapshot(out, scratch) == before  # mid-write, the plaintext has no name anywhere
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert _snapshot(out, scratch) == before
