"""Directories that may hold plaintext name the process that owns them, so one killed with SIGKILL (which cannot
clean up) leaves nothing for long: the next cococtl that would create such a directory removes those whose owner
is gone. The owner is a PID and that process's start time, so a reused PID does not keep a leftover alive."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

OWNER_FILE = ".cococtl-owner"
KEPT = "kept\n"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def claim(directory: Path, *, kept: bool = False) -> None:
    """Record this process as the owner of ``directory`` (``kept``: the user keeps it on purpose)."""
    (directory / OWNER_FILE).write_text(KEPT if kept else f"{os.getpid()} {_start_time(os.getpid())}\n")


def _owner_alive(record: str) -> bool:
    parts = record.split()
    if parts[:1] == ["kept"]:
        return True
    if len(parts) != 2 or not parts[0].isdigit():
        return False
    return _start_time(int(parts[0])) == parts[1]


def remove_orphans(parent: Path, pattern: str) -> list[Path]:
    """Remove the directories matching ``pattern`` under ``parent`` that are ours and whose owner has died."""
    removed = []
    with contextlib.suppress(OSError):
        for candidate in parent.glob(pattern):
            if candidate.is_symlink() or not candidate.is_dir() or candidate.stat().st_uid != os.getuid():
                continue
            try:
                record = (candidate / OWNER_FILE).read_text()
            except OSError:
                continue  # not ours, or still being created
            if not _owner_alive(record):
                shutil.rmtree(candidate, ignore_errors=True)
                removed.append(candidate)
    return removed
