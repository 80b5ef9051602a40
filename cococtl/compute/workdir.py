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

from cococtl.ownership import claim, remove_orphans


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


def remove_stale_workdirs(parent: Path | None = None) -> list[Path]:
    """Remove the work directories of runs that died without cleaning up; return what was removed."""
    return remove_orphans(Path(parent or tempfile.gettempdir()), PREFIX + "*")


@contextlib.contextmanager
def work_directory(parent: Path | None = None, *, keep: bool = False) -> Iterator[WorkDir]:
    """Create the work directory tree; remove it afterwards (Ctrl-C included) unless ``keep``."""
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    os.chmod(root, 0o700)
    claim(root, kept=keep)
    work = WorkDir(root)
    for directory in (work.datasets, work.results, work.downloads, work.scratch):
        directory.mkdir(mode=0o700)
    try:
        yield work
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
