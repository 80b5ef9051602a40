"""SIGKILL during `decrypt image` (issue #16): no handler runs, so its staging layout beside the destination is
left with decrypted layers in it. It names its owner, and the next write to that destination removes it (and
says so); a staging layout whose owner is alive, or that is not ours, is never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cococtl.ownership import OWNER_FILE, claim, remove_orphans
from tests.oci_images import build_image


def _stagings(parent: Path, name: str) -> list[Path]:
    return sorted(parent.glob(f".{name}.cococtl-*"))


def test_a_killed_decrypt_image_is_cleaned_by_the_next_one(cli: Any, tmp_path: Path) -> None:
    build_image(tmp_path / "img", [{"app/blob": os.urandom(96 << 20)}], gzip_layers=False)
    kek = tmp_path / "kek"
    cli("keys", "new", kek)
    cli("-q", "encrypt", "image", f"oci:{tmp_path / 'img'}", f"oci:{tmp_path / 'enc'}", "--keyid", "kbs:///a/b/c",
        "--key", kek)  # fmt: skip
    argv = [sys.executable, "-m", "cococtl", "-q", "decrypt", "image", f"oci:{tmp_path / 'enc'}",
            f"oci:{tmp_path / 'dec'}", "--key", str(kek)]  # fmt: skip
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        staged = _stagings(tmp_path, "dec")
        if staged and any((staged[0] / "blobs" / "sha256").glob("*")):
            break  # decrypted bytes are being written into the staging layout
        time.sleep(0.01)
    assert child.poll() is None, "decrypt image finished before it could be killed: use a larger layer"
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    left = _stagings(tmp_path, "dec")
    assert len(left) == 1 and (left[0] / OWNER_FILE).read_text().split()[0] == str(child.pid)
    assert not (tmp_path / "dec").exists()

    again = cli("decrypt", "image", f"oci:{tmp_path / 'enc'}", f"oci:{tmp_path / 'dec'}", "--key", kek)
    assert "removed 1 staging layout(s)" in again.stderr and "left by a killed cococtl" in again.stderr
    assert _stagings(tmp_path, "dec") == [] and not (tmp_path / "dec" / OWNER_FILE).exists()


def test_only_orphans_of_dead_owners_are_removed(tmp_path: Path) -> None:
    alive, dead, foreign, reused = (tmp_path / f".x.cococtl-{n}" for n in ("alive", "dead", "foreign", "reused"))
    for directory in (alive, dead, foreign, reused):
        directory.mkdir()
    claim(alive)  # this process
    sleeper = subprocess.Popen(["sleep", "0"])
    sleeper.wait()
    (dead / OWNER_FILE).write_text(f"{sleeper.pid} 1\n")  # a process that has exited
    (reused / OWNER_FILE).write_text(f"{os.getpid()} 1\n")  # our PID, but another start time: a reused PID
    removed = remove_orphans(tmp_path, ".x.cococtl-*")
    assert sorted(removed) == sorted([dead, reused])
    assert alive.exists() and foreign.exists()  # no owner file: not ours to judge
