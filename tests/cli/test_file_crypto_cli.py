"""encrypt file / decrypt file through the CLI (in-process): exit codes, messages, no leftovers."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

GO = Path(__file__).parents[1] / "vectors" / "aesgcm-go"


@pytest.fixture
def work(tmp_path: Path, cli: Any) -> Path:
    cli("keys", "new", tmp_path / "k")
    (tmp_path / "plain").write_bytes(os.urandom(300_000))
    return tmp_path


def _leftovers(directory: Path, *names: str) -> list[str]:
    """Files that should not exist: the named outputs and any temp file."""
    return sorted(p.name for p in directory.iterdir() if p.name in names or p.name.endswith(".part"))


def test_round_trip_and_json_report(work: Path, cli: Any) -> None:
    plain = (work / "plain").read_bytes()
    enc = cli("--json", "encrypt", "file", work / "plain", "-o", work / "c", "--key", work / "k").json
    assert set(enc) == {"input", "output", "bytes", "sha256", "sha3_256", "key_file"}
    assert enc["bytes"] == len(plain)
    assert enc["sha256"] == hashlib.sha256(plain).hexdigest()
    assert enc["sha3_256"] == hashlib.sha3_256(plain).hexdigest()
    blob = (work / "c").read_bytes()
    assert AESGCM((work / "k").read_bytes()).decrypt(blob[:12], blob[12:], None) == plain
    dec = cli("--json", "decrypt", "file", work / "c", "-o", work / "p2", "--key", work / "k").json
    assert dec["sha3_256"] == enc["sha3_256"]
    assert (work / "p2").read_bytes() == plain
    assert stat.S_IMODE((work / "p2").stat().st_mode) == 0o600


@pytest.mark.parametrize("n", [0, 1, 100, 65536])
def test_go_vectors_through_cli(tmp_path: Path, cli: Any, n: int) -> None:
    cli("decrypt", "file", GO / f"cipher-{n}.bin", "-o", tmp_path / "out", "--key", GO / f"key-{n}.bin")
    assert (tmp_path / "out").read_bytes() == (GO / f"plain-{n}.bin").read_bytes()


def test_new_key_creates_private_key_and_refuses_overwrite(work: Path, cli: Any) -> None:
    cli("encrypt", "file", work / "plain", "-o", work / "c", "--new-key", work / "k2")
    assert stat.S_IMODE((work / "k2").stat().st_mode) == 0o600
    cli("decrypt", "file", work / "c", "-o", work / "p2", "--key", work / "k2")
    before = (work / "k2").read_bytes()
    result = cli("encrypt", "file", work / "plain", "-o", work / "c3", "--new-key", work / "k2", expect=3)
    assert "already exists" in result.stderr
    assert (work / "k2").read_bytes() == before
    assert not (work / "c3").exists()


def test_key_options_are_exclusive(work: Path, cli: Any) -> None:
    result = cli("encrypt", "file", work / "plain", "-o", work / "c", expect=3)
    assert "exactly one of --key" in result.stderr
    cli("encrypt", "file", work / "plain", "-o", work / "c", "--key", work / "k", "--new-key", work / "x", expect=3)


def test_outputs_are_not_overwritten_without_force(work: Path, cli: Any) -> None:
    (work / "c").write_bytes(b"keep me")
    result = cli("encrypt", "file", work / "plain", "-o", work / "c", "--key", work / "k", expect=3)
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert (work / "c").read_bytes() == b"keep me"
    cli("encrypt", "file", work / "plain", "-o", work / "c", "--key", work / "k", "--force")
    assert (work / "c").stat().st_size == 300_000 + 28


def _encrypted(work: Path, cli: Any) -> bytearray:
    cli("encrypt", "file", work / "plain", "-o", work / "c", "--key", work / "k")
    return bytearray((work / "c").read_bytes())


@pytest.mark.parametrize("position", [0, 11, 12, 5000, -17, -16, -1])
def test_tampered_byte_fails_with_7_and_leaves_nothing(work: Path, cli: Any, position: int) -> None:
    blob = _encrypted(work, cli)
    blob[position] ^= 0x01
    (work / "c").write_bytes(bytes(blob))
    result = cli("decrypt", "file", work / "c", "-o", work / "out", "--key", work / "k", expect=7)
    assert result.stderr.startswith("error: decryption failed (authentication error)")
    assert "Traceback" not in result.stderr
    assert _leftovers(work, "out") == []


def test_truncated_file_fails_with_7(work: Path, cli: Any) -> None:
    blob = _encrypted(work, cli)
    (work / "c").write_bytes(bytes(blob[:-100]))
    cli("decrypt", "file", work / "c", "-o", work / "out", "--key", work / "k", expect=7)
    assert _leftovers(work, "out") == []


def test_wrong_key_fails_with_7(work: Path, cli: Any) -> None:
    _encrypted(work, cli)
    cli("keys", "new", work / "other")
    cli("decrypt", "file", work / "c", "-o", work / "out", "--key", work / "other", expect=7)
    assert _leftovers(work, "out") == []


@pytest.mark.parametrize("size", [0, 11])
def test_short_files_fail_with_3(work: Path, cli: Any, size: int) -> None:
    (work / "c").write_bytes(os.urandom(size))
    result = cli("decrypt", "file", work / "c", "-o", work / "out", "--key", work / "k", expect=3)
    assert f"{size} bytes" in result.stderr and "at least 28" in result.stderr
    assert _leftovers(work, "out") == []


def test_base64_key_file_is_explained(work: Path, cli: Any) -> None:
    (work / "k64").write_bytes(base64.b64encode((work / "k").read_bytes()))
    result = cli("encrypt", "file", work / "plain", "-o", work / "c", "--key", work / "k64", expect=3)
    assert "base64" in result.stderr and "base64 -d" in result.stderr
    assert not (work / "c").exists()


def test_missing_input_is_not_found(work: Path, cli: Any) -> None:
    result = cli("encrypt", "file", work / "nope", "-o", work / "c", "--key", work / "k", expect=6)
    assert "does not exist" in result.stderr


def test_stdin_to_stdout_round_trip(work: Path, cli: Any) -> None:
    plain = (work / "plain").read_bytes()
    blob = cli("encrypt", "file", "-", "-o", "-", "--key", work / "k", input=plain).stdout_bytes
    assert len(blob) == len(plain) + 28
    assert cli("decrypt", "file", "-", "-o", "-", "--key", work / "k", input=blob).stdout_bytes == plain


def test_tampered_stdin_emits_no_plaintext(work: Path, cli: Any) -> None:
    blob = _encrypted(work, cli)
    blob[-1] ^= 1
    result = cli("decrypt", "file", "-", "-o", "-", "--key", work / "k", input=bytes(blob), expect=7)
    assert result.stdout_bytes == b""


def test_tampered_file_to_stdout_emits_no_plaintext(work: Path, cli: Any) -> None:
    blob = _encrypted(work, cli)
    blob[20] ^= 1
    (work / "c").write_bytes(bytes(blob))
    result = cli("decrypt", "file", work / "c", "-o", "-", "--key", work / "k", expect=7)
    assert result.stdout_bytes == b""


def test_output_directory_must_exist(work: Path, cli: Any) -> None:
    result = cli("encrypt", "file", work / "plain", "-o", work / "no" / "c", "--key", work / "k", expect=3)
    assert "does not exist" in result.stderr


def test_debug_shows_traceback_and_keeps_the_exit_code(work: Path, cli: Any) -> None:
    shutil.copy(work / "plain", work / "c")
    result = cli("--debug", "decrypt", "file", work / "c", "-o", work / "out", "--key", work / "k", expect=None)
    assert result.exit_code in (3, 7) and "Traceback" in result.stderr and "error:" in result.stderr


def test_json_errors_are_one_document_on_stderr(work: Path, cli: Any) -> None:
    import json

    result = cli("--json", "decrypt", "file", work / "nothing", "-o", work / "out", "--key", work / "k", expect=6)
    assert result.stdout == ""
    document = json.loads(result.stderr)
    assert document["error"]["code"] == 6 and document["error"]["kind"] == "not_found"
    assert "nothing" in document["error"]["message"] and set(document["error"]) == {"code", "kind", "message", "hint"}
