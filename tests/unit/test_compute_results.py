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
