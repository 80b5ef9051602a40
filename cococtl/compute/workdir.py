"""The agent's work directory: ``algo`` (0700), ``requirements.txt``, ``datasets/``, ``results/``.

It lives in a fresh 0700 temporary directory that is removed on every exit path unless the user
asks to keep it; nothing decrypted survives outside ``--results``.
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


@contextlib.contextmanager
def work_directory(parent: Path | None = None, *, keep: bool = False) -> Iterator[WorkDir]:
    """Create the work directory tree; remove it afterwards (Ctrl-C included) unless ``keep``."""
    root = Path(tempfile.mkdtemp(prefix="cococtl-run-", dir=parent))
    os.chmod(root, 0o700)
    work = WorkDir(root)
    for directory in (work.datasets, work.results, work.downloads, work.scratch):
        directory.mkdir(mode=0o700)
    try:
        yield work
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
