"""The fast paths of file crypto: the threaded read/cipher/write pipeline and the --force replacement
whose old data is released by a detached process. Same guarantees as the plain paths."""

from __future__ import annotations

import io
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cococtl import fsutil
from cococtl.crypto import files, gcm
from cococtl.errors import IntegrityError, OutputExistsError

SMALL_CHUNK = 4096


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a few tens of KiB enough to go through the pipeline (and its buffer pools) many times."""
    monkeypatch.setattr(gcm, "CHUNK_SIZE", SMALL_CHUNK)
    monkeypatch.setattr(gcm, "PIPELINE_MIN", 2 * SMALL_CHUNK)


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != "home")  # conftest puts HOME here


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _no_pipeline_threads() -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not any(t.name.startswith(("cococtl-io", "cococtl-read", "cococtl-write")) for t in threading.enumerate()):
            return True
        time.sleep(0.01)
    return False


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("size", [2 * SMALL_CHUNK + 1, 10 * SMALL_CHUNK, 37 * SMALL_CHUNK + 5])
def test_pipeline_round_trip_matches_one_shot_aesgcm(tmp_path: Path, size: int) -> None:
    key, plain = os.urandom(32), os.urandom(size)
    (tmp_path / "p").write_bytes(plain)
    seen = bytearray()
    result = files.encrypt_file(key, tmp_path / "p", tmp_path / "c", digests=True)
    blob = (tmp_path / "c").read_bytes()
    assert result.bytes == size
    assert AESGCM(key).decrypt(blob[:12], blob[12:], None) == plain
    with open(tmp_path / "c", "rb") as handle:
        assert gcm.decrypt_seekable(key, handle, None, on_plaintext=seen.extend) == size
    assert bytes(seen) == plain
    files.decrypt_file(key, tmp_path / "c", tmp_path / "d")
    assert (tmp_path / "d").read_bytes() == plain
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o600
    assert _no_pipeline_threads()


@pytest.mark.usefixtures("small_chunks")
def test_pipeline_modified_byte_publishes_nothing(tmp_path: Path) -> None:
    key = os.urandom(32)
    (tmp_path / "p").write_bytes(os.urandom(20 * SMALL_CHUNK))
    files.encrypt_file(key, tmp_path / "p", tmp_path / "c")
    blob = bytearray((tmp_path / "c").read_bytes())
    blob[len(blob) // 2] ^= 1
    (tmp_path / "c").write_bytes(bytes(blob))
    with pytest.raises(IntegrityError):
        files.decrypt_file(key, tmp_path / "c", tmp_path / "d")
    assert _names(tmp_path) == ["c", "p"]


@pytest.mark.usefixtures("small_chunks")
def test_pipeline_truncated_file_is_integrity_error(tmp_path: Path) -> None:
    key = os.urandom(32)
    (tmp_path / "p").write_bytes(os.urandom(20 * SMALL_CHUNK))
    files.encrypt_file(key, tmp_path / "p", tmp_path / "c")
    blob = (tmp_path / "c").read_bytes()
    (tmp_path / "short").write_bytes(blob[: 12 + 10 * SMALL_CHUNK])
    with open(tmp_path / "short", "rb") as handle:
        handle.seek(12)
        with pytest.raises(IntegrityError, match="truncated"):
            gcm.decrypt_range(key, blob[:12], blob[-16:], handle, len(blob) - 28, io.BytesIO())
    assert _no_pipeline_threads()


class _ShortWriter:
    """A raw file's behaviour at its worst: every write accepts at most 1000 bytes."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        piece = bytes(data[:1000])
        self.data += piece
        return len(piece)


@pytest.mark.usefixtures("small_chunks")
def test_pipeline_completes_short_writes(tmp_path: Path) -> None:
    key, plain = os.urandom(32), os.urandom(9 * SMALL_CHUNK + 7)
    (tmp_path / "p").write_bytes(plain)
    out = _ShortWriter()
    with open(tmp_path / "p", "rb") as handle:
        gcm.encrypt_stream(key, handle, out)
    blob = bytes(out.data)
    assert AESGCM(key).decrypt(blob[:12], blob[12:], None) == plain


class _FailingWriter:
    def __init__(self, after: int) -> None:
        self.left = after

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        if self.left <= 0:
            raise OSError(28, "No space left on device")
        self.left -= 1
        return len(data)


@pytest.mark.usefixtures("small_chunks")
def test_pipeline_write_error_is_raised_and_threads_stop(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(os.urandom(40 * SMALL_CHUNK))
    with open(tmp_path / "p", "rb") as handle, pytest.raises(OSError, match="No space"):
        gcm.encrypt_stream(os.urandom(32), handle, _FailingWriter(after=5))
    assert _no_pipeline_threads()


@pytest.mark.usefixtures("small_chunks")
def test_pipeline_sink_error_is_raised_and_threads_stop(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(os.urandom(40 * SMALL_CHUNK))
    calls = []

    def sink(chunk: memoryview) -> None:
        calls.append(len(chunk))
        if len(calls) == 3:
            raise KeyboardInterrupt

    with open(tmp_path / "p", "rb") as handle, pytest.raises(KeyboardInterrupt):
        gcm.encrypt_stream(os.urandom(32), handle, io.BytesIO(), on_plaintext=sink)
    assert _no_pipeline_threads()


@pytest.fixture
def background_release(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fsutil, "RELEASE_IN_BACKGROUND_MIN", 1)


@pytest.mark.usefixtures("background_release")
def test_force_replaces_only_once_complete_and_frees_the_old_file(tmp_path: Path) -> None:
    key = os.urandom(32)
    (tmp_path / "p").write_bytes(os.urandom(50_000))
    out = tmp_path / "out"
    out.write_bytes(b"old contents")
    old_inode = out.stat().st_ino
    before = _open_fds()
    files.encrypt_file(key, tmp_path / "p", out, force=True)
    files.decrypt_file(key, out, tmp_path / "d")
    assert (tmp_path / "d").read_bytes() == (tmp_path / "p").read_bytes()
    assert out.stat().st_ino != old_inode
    assert _open_fds() <= before  # our hold on the old file was handed off, not leaked
    assert _names(tmp_path) == ["d", "out", "p"]


@pytest.mark.usefixtures("background_release")
def test_failed_decrypt_with_force_keeps_the_old_file(tmp_path: Path) -> None:
    key = os.urandom(32)
    (tmp_path / "c").write_bytes(os.urandom(100))
    (tmp_path / "d").write_bytes(b"keep me")
    with pytest.raises(IntegrityError):
        files.decrypt_file(key, tmp_path / "c", tmp_path / "d", force=True)
    assert (tmp_path / "d").read_bytes() == b"keep me"
    assert _names(tmp_path) == ["c", "d"]


@pytest.mark.usefixtures("background_release")
def test_force_over_a_hard_linked_file_leaves_the_other_name_intact(tmp_path: Path) -> None:
    (tmp_path / "out").write_bytes(b"shared data")
    os.link(tmp_path / "out", tmp_path / "other")
    fsutil.write_private_file(tmp_path / "out", b"new", force=True)
    assert (tmp_path / "out").read_bytes() == b"new"
    assert (tmp_path / "other").read_bytes() == b"shared data"
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o600


@pytest.mark.usefixtures("background_release")
def test_force_over_a_symlink_replaces_the_link_not_its_target(tmp_path: Path) -> None:
    (tmp_path / "target").write_bytes(b"target data")
    (tmp_path / "out").symlink_to(tmp_path / "target")
    fsutil.write_private_file(tmp_path / "out", b"new", force=True)
    assert not (tmp_path / "out").is_symlink()
    assert (tmp_path / "out").read_bytes() == b"new"
    assert (tmp_path / "target").read_bytes() == b"target data"


@pytest.mark.usefixtures("background_release")
def test_hold_is_closed_when_the_rename_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "out").write_bytes(b"old")
    (tmp_path / "new").write_bytes(b"new")
    before = _open_fds()

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    monkeypatch.setattr(fsutil, "_exchange", refuse)
    with pytest.raises(PermissionError):
        fsutil.replace_releasing_in_background(tmp_path / "new", tmp_path / "out")
    assert _open_fds() <= before
    assert (tmp_path / "out").read_bytes() == b"old"


@pytest.mark.usefixtures("background_release")
def test_exchange_keeps_the_new_file_and_leaves_no_old_name(tmp_path: Path) -> None:
    (tmp_path / "out").write_bytes(b"old data")
    (tmp_path / "new").write_bytes(b"new data")
    old_inode = (tmp_path / "out").stat().st_ino
    fsutil.replace_releasing_in_background(tmp_path / "new", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"new data"
    assert (tmp_path / "out").stat().st_ino != old_inode
    assert _names(tmp_path) == ["out"]


@pytest.mark.usefixtures("background_release")
def test_without_rename_exchange_it_falls_back_to_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fsutil, "_exchange", lambda src, dst: False)
    (tmp_path / "out").write_bytes(b"old data")
    (tmp_path / "new").write_bytes(b"new data")
    fsutil.replace_releasing_in_background(tmp_path / "new", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"new data"
    assert _names(tmp_path) == ["out"]


def test_small_files_are_replaced_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "out").write_bytes(b"old")

    def no_handoff(*args: object) -> None:
        raise AssertionError("a small file needs no exchange and no background release")

    monkeypatch.setattr(fsutil, "_release_in_background", no_handoff)
    monkeypatch.setattr(fsutil, "_exchange", no_handoff)
    fsutil.write_private_file(tmp_path / "out", b"new", force=True)
    assert (tmp_path / "out").read_bytes() == b"new"


def test_without_force_an_existing_output_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").write_bytes(b"old")
    with pytest.raises(OutputExistsError):
        fsutil.write_private_file(tmp_path / "out", b"new", force=False)
    assert (tmp_path / "out").read_bytes() == b"old"


def _unnamed_staging_available(directory: Path) -> bool:
    fd = fsutil._open_unnamed(directory)
    if fd is None:
        return False
    os.close(fd)
    return True


@pytest.mark.parametrize("force", [False, True])
def test_output_has_no_name_until_it_is_complete(tmp_path: Path, force: bool) -> None:
    if not _unnamed_staging_available(tmp_path):
        pytest.skip("no O_TMPFILE here")
    out = tmp_path / "out"
    if force:
        out.write_bytes(b"old")
    before = _names(tmp_path)
    with fsutil.atomic_output(out, force=force, private=True) as handle:
        handle.write(b"new data")
        assert _names(tmp_path) == before  # no staging name, and ``out`` untouched
        if force:
            assert out.read_bytes() == b"old"
    assert out.read_bytes() == b"new data"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert _names(tmp_path) == ["out"]


def test_unnamed_output_never_replaces_a_file_that_appeared(tmp_path: Path) -> None:
    out = tmp_path / "out"

    def write_while_another_appears() -> None:
        with fsutil.atomic_output(out, force=False, private=False) as handle:
            handle.write(b"new")
            out.write_bytes(b"someone else's")

    with pytest.raises(OutputExistsError):
        write_while_another_appears()
    assert out.read_bytes() == b"someone else's"
    assert _names(tmp_path) == ["out"]


def test_without_o_tmpfile_a_named_staging_file_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fsutil, "_open_unnamed", lambda directory: None)
    key, plain = os.urandom(32), os.urandom(50_000)
    (tmp_path / "p").write_bytes(plain)
    files.encrypt_file(key, tmp_path / "p", tmp_path / "c")
    with fsutil.atomic_output(tmp_path / "x", force=False, private=True) as handle:
        handle.write(b"x")
        assert any(name.startswith(".x.") and name.endswith(".part") for name in _names(tmp_path))
    files.decrypt_file(key, tmp_path / "c", tmp_path / "d")
    assert (tmp_path / "d").read_bytes() == plain
    (tmp_path / "d").write_bytes(b"keep me")
    blob = bytearray((tmp_path / "c").read_bytes())
    blob[-1] ^= 1
    (tmp_path / "c").write_bytes(bytes(blob))
    with pytest.raises(IntegrityError):
        files.decrypt_file(key, tmp_path / "c", tmp_path / "d", force=True)
    assert (tmp_path / "d").read_bytes() == b"keep me"
    assert _names(tmp_path) == ["c", "d", "p", "x"]


@pytest.mark.parametrize("unnamed", [True, False])
def test_preallocated_blocks_past_a_short_output_are_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unnamed: bool
) -> None:
    if not unnamed:
        monkeypatch.setattr(fsutil, "_open_unnamed", lambda directory: None)
    out = tmp_path / "out"
    with fsutil.atomic_output(out, force=False, private=False, size=64 << 20) as handle:
        handle.write(b"a" * (1 << 20))
    assert out.stat().st_size == 1 << 20
    assert out.stat().st_blocks * 512 < 8 << 20  # not the 64 MiB reserved up front


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("offset", [0, 1, 12, 4095])
def test_pipeline_from_any_file_position(tmp_path: Path, offset: int) -> None:
    """Buffers follow the file position's alignment within a page: any start must give the same bytes."""
    key, plain = os.urandom(32), os.urandom(13 * SMALL_CHUNK + 3)
    (tmp_path / "p").write_bytes(os.urandom(offset) + plain)
    out = io.BytesIO(b"z" * 5)
    out.seek(5)
    with open(tmp_path / "p", "rb") as handle:
        handle.seek(offset)
        assert gcm.encrypt_stream(key, handle, out) == len(plain)
        assert handle.tell() == offset + len(plain)
    blob = out.getvalue()[5:]
    assert AESGCM(key).decrypt(blob[:12], blob[12:], None) == plain
