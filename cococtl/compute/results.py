"""Collecting ``results/``: copy to the user's directory and build a deterministic ``results.zip``.

Like Cocos' ``ZipDirectoryToMemory``: files only, sorted by relative path, stored (uncompressed),
unix mode in the external attributes, and a fixed timestamp (zip's epoch, 1980-01-01, since zip
cannot express 1970), so the same results always give the same bytes.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cococtl.fsutil import atomic_output

FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class CollectedResults:
    directory: Path
    zip_path: Path
    files: list[str]


def result_files(results_dir: Path) -> list[Path]:
    """Regular files under ``results_dir`` in sorted relative-path order; symlinks are not followed."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(results_dir, followlinks=False):
        dirnames.sort()
        for name in filenames:
            path = Path(dirpath) / name
            if stat.S_ISREG(path.lstat().st_mode):
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(results_dir).as_posix())


def write_results_zip(results_dir: Path, destination: Path, *, force: bool) -> list[str]:
    """Write the deterministic zip of ``results_dir``; return the entry names."""
    names: list[str] = []
    with atomic_output(destination, force=force, private=True) as raw, zipfile.ZipFile(raw, "w") as archive:
        for path in result_files(results_dir):
            name = path.relative_to(results_dir).as_posix()
            info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | (path.stat().st_mode & 0o777)) << 16
            with open(path, "rb") as source, archive.open(info, "w", force_zip64=True) as target:
                shutil.copyfileobj(source, target, 1 << 20)
            names.append(name)
    return names


def collect_results(results_dir: Path, destination: Path, *, force: bool) -> CollectedResults:
    """Copy ``results/`` into ``destination`` (created 0700) and write ``destination/results.zip``."""
    destination.mkdir(mode=0o700, parents=True, exist_ok=True)
    files: list[str] = []
    for path in result_files(results_dir):
        relative = path.relative_to(results_dir)
        target = destination / relative
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(path, "rb") as source, atomic_output(target, force=force, private=True) as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
        files.append(relative.as_posix())
    zip_path = destination / "results.zip"
    write_results_zip(results_dir, zip_path, force=force)
    return CollectedResults(destination, zip_path, files)
