"""The agent's work directory: ``algo`` (0700), ``requirements.txt``, ``datasets/``, ``results/``.

It lives in a fresh 0700 temporary directory that is removed on every exit path unless the user
asks to keep it; nothing decrypted survives outside ``--results``. A run killed with SIGKILL cannot clean
up: its directory names its owner (pid and start time), and the next run removes directories whose owner
is gone (:func:`remove_stale_workdirs`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WorkDir:
    root: Path

    @property
    def algorithm(self) -> Path:
        return self.root / "algo"

    @property
    def requirements(self) -> Path:
        return self.root / "requirements.txt"

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def downloads(self) -> Path:
        """Where encrypted downloads land before decryption (inside the private root)."""
        return self.root / ".downloads"

    @property
    def scratch(self) -> Path:
        """Private TMPDIR for the algorithm and its tools."""
        return self.root / ".tmp"


PREFIX = "cococtl-run-"
_OWNER = ".cococtl-owner"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _owner_alive(record: str) -> bool:
    parts = record.split()
    if parts[:1] == ["kept"]:
        return True  # --keep-workdir: the user keeps it on purpose
    if len(parts) != 2 or not parts[0].isdigit():
        return False
    return _start_time(int(parts[0])) == parts[1]


def remove_stale_workdirs(parent: Path | None = None) -> list[Path]:
    """Remove the work directories of runs that died without cleaning up; return what was removed."""
    base = Path(parent or tempfile.gettempdir())
    removed = []
    with contextlib.suppress(OSError):
        for candidate in base.glob(PREFIX + "*"):
            if candidate.is_symlink() or not candidate.is_dir() or candidate.stat().st_uid != os.getuid():
                continue
            try:
                record = (candidate / _OWNER).read_text()
            except OSError:
                continue  # not ours, or still being created
            if not _owner_alive(record):
                shutil.rmtree(candidate, ignore_errors=True)
                removed.append(candidate)
    return removed


@contextlib.contextmanager
def work_directory(parent: Path | None = None, *, keep: bool = False) -> Iterator[WorkDir]:
    """Create the work directory tree; remove it afterwards (Ctrl-C included) unless ``keep``."""
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    os.chmod(root, 0o700)
    (root / _OWNER).write_text("kept\n" if keep else f"{os.getpid()} {_start_time(os.getpid())}\n")
    work = WorkDir(root)
    for directory in (work.datasets, work.results, work.downloads, work.scratch):
        directory.mkdir(mode=0o700)
    try:
        yield work
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
