"""Unpack a ``decompress: true`` dataset (a zip file) into ``datasets/`` with the same guards as tar.

Bounds (:class:`cococtl.compute.extract.Limits`): entry count, total declared size and expansion ratio are
checked from the central directory before anything is written, and every entry is copied with a bound (a
declared size may lie). Symbolic links and other special entries are never created: they are skipped and
reported (Cocos' internal/zip.go writes every non-directory entry as a regular file, a link as a file holding its
target path). On any failure the files already written are removed.
"""

from __future__ import annotations

import logging
import os
import stat
import zipfile
import zlib
from pathlib import Path

from cococtl.compute.extract import Limits, safe_member_name
from cococtl.errors import InvalidInputError, printable

_LOG = logging.getLogger("cococtl.extract")
_KINDS = {stat.S_IFLNK: "symbolic link", stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
          stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket"}  # fmt: skip


def unzip_dataset(archive_path: Path, dest: Path, *, limits: Limits | None = None) -> list[Path]:
    """Extract regular files of a zip into ``dest``; refuse traversal and bombs (exit 3), skip and report links."""
    bounds = limits or Limits()
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidInputError(
            f"dataset {archive_path.name} is marked decompress but is not a zip file: {printable(exc, 200)}"
        ) from None
    written: list[Path] = []
    try:
        with archive:
            _extract(archive, archive_path, dest, bounds, written)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def _extract(archive: zipfile.ZipFile, archive_path: Path, dest: Path, bounds: Limits, written: list[Path]) -> None:
    infos = archive.infolist()
    if len(infos) > bounds.max_entries:
        raise InvalidInputError(f"zip dataset holds more than {bounds.max_entries} entries")
    compressed = archive_path.stat().st_size
    bounds.check(sum(info.file_size for info in infos), compressed, f"the zip dataset {archive_path.name}", "expands")
    total = 0
    for info in infos:
        mode = info.external_attr >> 16
        if info.is_dir() or stat.S_ISDIR(mode):
            continue
        if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
            kind = _KINDS.get(stat.S_IFMT(mode), "special file")
            _LOG.warning(
                "warning: zip dataset %s: skipped %s (%s): cococtl extracts only regular files",
                archive_path.name,
                printable(info.filename, 120),
                kind,
            )
            continue
        target = dest / safe_member_name(info.filename)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        written.append(target)
        try:
            with archive.open(info) as source, os.fdopen(fd, "wb") as sink:
                # Bounded copy: the declared size may lie, the limit may not be exceeded.
                copied = 0
                while chunk := source.read(1 << 20):
                    copied += len(chunk)
                    total += len(chunk)
                    if copied > info.file_size:
                        raise InvalidInputError(f"zip entry {printable(info.filename, 120)} is larger than it declares")
                    bounds.check(total, compressed, f"the zip dataset {archive_path.name}", "expands")
                    sink.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
            # RuntimeError: an encrypted entry; NotImplementedError: a compression method Python lacks
            raise InvalidInputError(
                f"zip dataset entry {printable(info.filename, 120)} cannot be extracted: {printable(exc, 200)}"
            ) from None
