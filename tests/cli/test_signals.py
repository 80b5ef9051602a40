"""SIGINT and SIGTERM during `decrypt file` and `decrypt image`: exit 130, and nothing new in the destination
or in $TMPDIR (issue #16)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cococtl.crypto import gcm


def _snapshot(*roots: Path) -> set[Path]:
    return {p for root in roots for p in root.rglob("*")}


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_an_interrupted_decrypt_file_leaves_nothing(tmp_path: Path, signal_name: str) -> None:
    key = os.urandom(32)
    (tmp_path / "k").write_bytes(key)
    scratch, out = tmp_path / "tmp", tmp_path / "out"
    scratch.mkdir()
    out.mkdir()
    # The ciphertext arrives on a pipe that we feed slowly: cococtl spools it, and is interrupted meanwhile.
    import io

    sealed = io.BytesIO()
    gcm.encrypt_stream(key, io.BytesIO(os.urandom(8 << 20)), sealed)
    before = _snapshot(scratch, out)
    proc = subprocess.Popen(
        ["cococtl", "decrypt", "file", "-", "-o", str(out / "plain"), "--key", str(tmp_path / "k")],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert proc.stdin is not None
    data = sealed.getvalue()
    proc.stdin.write(data[: len(data) // 2])
    proc.stdin.flush()
    time.sleep(1.0)
    proc.send_signal(getattr(signal, signal_name))
    try:
        _, stderr = proc.communicate(timeout=30)
    except BrokenPipeError:
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert b"Traceback" not in stderr
    assert _snapshot(scratch, out) == before


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_an_interrupted_decrypt_image_leaves_nothing(tmp_path: Path, signal_name: str) -> None:
    from cococtl.oci.image import encrypt_image
    from cococtl.oci.layout import parse_reference
    from tests.oci_images import build_image

    kek = os.urandom(32)
    (tmp_path / "kek").write_bytes(kek)
    build_image(tmp_path / "src", [{"big": os.urandom(96 << 20)}], gzip_layers=False)
    encrypt_image(
        parse_reference(f"oci:{tmp_path / 'src'}"), parse_reference(f"oci:{tmp_path / 'enc'}"), kek, "kbs:///a/b/c"
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    before = _snapshot(scratch, tmp_path)
    proc = subprocess.Popen(
        ["cococtl", "decrypt", "image", f"oci:{tmp_path / 'enc'}", f"oci:{tmp_path / 'dec'}", "--key",
         str(tmp_path / "kek")],
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(scratch)},
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not list(tmp_path.glob(".dec.cococtl-*")):
        time.sleep(0.01)
    proc.send_signal(getattr(signal, signal_name))
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert not (tmp_path / "dec").exists()
    assert _snapshot(scratch, tmp_path) == before
