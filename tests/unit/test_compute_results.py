from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path

from cococtl.compute.results import collect_results, write_results_zip
from cococtl.compute.states import State, StateLog, Status
from cococtl.compute.workdir import work_directory


def _populate(root: Path) -> None:
    (root / "b").mkdir()
    (root / "b" / "z.txt").write_text("z")
    (root / "a.txt").write_text("a")
    (root / "b" / "c.bin").write_bytes(os.urandom(1000))
    os.symlink("/etc/passwd", root / "link")


def test_zip_is_deterministic_sorted_stored(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    _populate(results)
    first = write_results_zip(results, tmp_path / "one.zip", force=False)
    os.utime(results / "a.txt", (1, 1))
    write_results_zip(results, tmp_path / "two.zip", force=False)
    assert first == ["a.txt", "b/c.bin", "b/z.txt"]
    assert (
        hashlib.sha256((tmp_path / "one.zip").read_bytes()).digest()
        == hashlib.sha256((tmp_path / "two.zip").read_bytes()).digest()
    )
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == first
        assert all(i.compress_type == zipfile.ZIP_STORED and i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
        assert archive.read("a.txt") == b"a"


def test_collect_copies_files_privately(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    _populate(results)
    collected = collect_results(results, tmp_path / "out", force=False)
    assert collected.files == ["a.txt", "b/c.bin", "b/z.txt"]
    assert (tmp_path / "out" / "b" / "c.bin").read_bytes() == (results / "b" / "c.bin").read_bytes()
    assert not (tmp_path / "out" / "link").exists()
    assert stat.S_IMODE((tmp_path / "out" / "a.txt").stat().st_mode) == 0o600


def test_work_directory_is_private_and_removed(tmp_path: Path) -> None:
    with work_directory(tmp_path) as work:
        assert stat.S_IMODE(work.root.stat().st_mode) == 0o700
        assert work.datasets.is_dir() and work.results.is_dir()
        root = work.root
    assert not root.exists()
    try:
        with work_directory(tmp_path) as work:
            root = work.root
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert not root.exists()
    with work_directory(tmp_path, keep=True) as work:
        root = work.root
    assert root.exists()


def test_state_sequence() -> None:
    log = StateLog()
    log.enter(State.RECEIVING_MANIFEST, Status.IN_PROGRESS)
    log.enter(State.RUNNING, Status.STARTING)
    log.enter(State.RUNNING, Status.COMPLETED)
    log.enter(State.COMPLETE, Status.COMPLETED)
    assert log.sequence() == ["Idle", "ReceivingManifest", "Running", "Complete"]


def test_go_zip_layout_walk_order_descriptors_and_extended_time(tmp_path: Path) -> None:
    """The Go archive/zip layout (checked byte for byte against Cocos in tests/integration/test_cocos_peer.py)."""
    import io

    from cococtl.compute.results import go_zip_directory

    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    (root / "a" / "b").write_text("b")
    (root / "a.txt").write_text("a")
    (root / "é.csv").write_text("e")
    (root / "ro").write_text("r")
    (root / "ro").chmod(0o444)
    os.utime(root / "a.txt", (1_700_000_001, 1_700_000_001))
    out = io.BytesIO()
    names = go_zip_directory(root, out, mtime=None)
    assert names == ["a/b", "a.txt", "ro", "é.csv"]  # filepath.Walk: "a" sorts before "a.txt"
    data = out.getvalue()
    assert data[:4] == b"PK\x03\x04" and data[6:8] == b"\x08\x00"  # a data descriptor follows each entry
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = {i.filename: i for i in archive.infolist()}
        assert [i.filename for i in archive.infolist()] == names
        assert infos["é.csv"].flag_bits & 0x800 and not infos["a.txt"].flag_bits & 0x800
        assert infos["a.txt"].extra == b"UT\x05\x00\x01" + (1_700_000_001).to_bytes(4, "little")
        assert infos["a.txt"].date_time == (2023, 11, 14, 22, 13, 20)
        assert infos["ro"].external_attr == (stat.S_IFREG | 0o444) << 16 | 0x01
        assert all(i.create_version == 20 and i.create_system == 3 and i.extract_version == 20 for i in infos.values())
        assert archive.read("a/b") == b"b"
    (root / "ro").chmod(0o644)


def test_go_zip_of_an_empty_tree_is_an_end_record(tmp_path: Path) -> None:
    import io

    from cococtl.compute.results import go_zip_directory

    (tmp_path / "empty" / "sub").mkdir(parents=True)
    out = io.BytesIO()
    assert go_zip_directory(tmp_path / "empty", out) == []
    assert out.getvalue() == b"PK\x05\x06" + bytes(18)


def test_unreadable_results_fail_cleanly(tmp_path: Path) -> None:
    import pytest

    from cococtl.errors import InvalidInputError

    results = tmp_path / "results"
    (results / "locked").mkdir(parents=True)
    (results / "locked" / "x").write_text("x")
    (results / "locked").chmod(0)
    try:
        if os.access(results / "locked", os.R_OK):  # root reads anything
            return
        with pytest.raises(InvalidInputError, match="cannot zip"):
            write_results_zip(results, tmp_path / "r.zip", force=False)
    finally:
        (results / "locked").chmod(0o700)
