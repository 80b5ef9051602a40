"""Unpack a ``decompress: true`` dataset (a zip file) into ``datasets/`` with the same guards as tar."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

from cococtl.compute.extract import Limits, safe_member_name
from cococtl.errors import InvalidInputError


def unzip_dataset(archive_path: Path, dest: Path, *, limits: Limits | None = None) -> list[Path]:
    """Extract regular files of a zip into ``dest``; refuse traversal, links and bombs (exit 3)."""
    bounds = limits or Limits()
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInputError(
            f"dataset {archive_path.name} is marked decompress but is not a zip file: {exc}"
        ) from None
    written: list[Path] = []
    with archive:
        infos = archive.infolist()
        if len(infos) > bounds.max_entries:
            raise InvalidInputError(f"zip dataset holds more than {bounds.max_entries} entries")
        if sum(info.file_size for info in infos) > bounds.max_total_bytes:
            raise InvalidInputError(f"zip dataset expands to more than {bounds.max_total_bytes} bytes")
        for info in infos:
            mode = info.external_attr >> 16
            if info.is_dir() or (mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG)):
                continue
            target = dest / safe_member_name(info.filename)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            try:
                with archive.open(info) as source, os.fdopen(fd, "wb") as sink:
                    # Bounded copy: the declared size may lie, the limit may not be exceeded.
                    copied = 0
                    while chunk := source.read(1 << 20):
                        copied += len(chunk)
                        if copied > info.file_size or copied > bounds.max_total_bytes:
                            raise InvalidInputError(f"zip entry {info.filename!r} is larger than it declares")
                        sink.write(chunk)
            except zipfile.BadZipFile as exc:
                raise InvalidInputError(f"zip dataset entry {info.filename!r} is corrupt: {exc}") from None
            written.append(target)
    return written
