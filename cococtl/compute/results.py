"""Collecting ``results/``: copy to the user's directory and build ``results.zip``; zipping dataset trees.

Cocos zips a directory with ``internal.ZipDirectoryToMemory`` (internal/zip.go:13-61 at v0.8.2), for
``results.zip`` (agent/service.go:509) and before hashing a directory dataset (internal/file.go:54-77):
``filepath.Walk`` order (each directory's names sorted bytewise, depth first), regular entries only (no
directory entries), ``zip.FileInfoHeader`` + ``CreateHeader`` (method Store, a data descriptor after each
entry, the "extended timestamp" extra field, version 2.0 needed and made by Unix 2.0, the file's mode in
the external attributes) and Go ``archive/zip``'s central directory. :func:`go_zip_directory` writes those
exact bytes (tests/integration/test_cocos_peer.py compares them with Go's). Cocos takes each file's
modification time; cococtl's ``results.zip`` and dataset zips pin every time to 1980-01-01T00:00:00Z
instead, so the same files always give the same bytes -- Go's bytes for files with that mtime.
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cococtl.errors import InvalidInputError
from cococtl.fsutil import atomic_output

FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
FIXED_MTIME = 315532800  # 1980-01-01T00:00:00Z, zip's epoch (MS-DOS times cannot express 1970)

_UINT16MAX = 0xFFFF
_UINT32MAX = 0xFFFFFFFF
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class CollectedResults:
    directory: Path
    zip_path: Path
    files: list[str]


def _walk(root: bytes, relative: bytes = b"") -> Iterator[tuple[bytes, os.stat_result]]:
    """Go's ``filepath.Walk`` below ``root``: (relative path, lstat) of every non-directory, in Walk order.

    Like Walk (whose callback Cocos returns the error from), an unreadable entry fails the whole zip.
    """
    directory = os.path.join(root, relative) if relative else root
    try:
        names = sorted(os.listdir(directory))  # readDirNames sorts bytewise
    except OSError as error:
        raise InvalidInputError(f"cannot zip {os.fsdecode(directory)}: {error.strerror}") from None
    for name in names:
        path = relative + b"/" + name if relative else name
        try:
            info = os.lstat(os.path.join(root, path))
        except OSError as error:
            raise InvalidInputError(f"cannot zip {os.fsdecode(path)}: {error.strerror}") from None
        if stat.S_ISDIR(info.st_mode):
            yield from _walk(root, path)
        else:
            yield path, info


def _inside(root: bytes, relative: bytes) -> bool:
    """Whether a symlink below ``root`` resolves to a regular file that is itself below ``root``."""
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(root, relative))
    return os.path.commonpath([real_root, target]) == real_root and os.path.isfile(target)


def _walk_zippable(root: Path, *, escaping: str = "refuse") -> Iterator[tuple[bytes, os.stat_result]]:
    """Walk order: regular files, and symlinks to regular files inside ``root`` (Go stores their lstat header
    with the target's bytes). A link that leaves the tree, dangles or names a directory is refused (Go would
    read outside the tree, or fail), or with ``escaping="skip"`` left out with a warning (algorithm results)."""
    encoded = os.fsencode(root)
    for relative, info in _walk(encoded):
        if stat.S_ISREG(info.st_mode):
            yield relative, info
        elif stat.S_ISLNK(info.st_mode) and _inside(encoded, relative):
            yield relative, info
        elif stat.S_ISLNK(info.st_mode):
            message = f"{os.fsdecode(relative)} is a symlink that does not point to a file inside {root}"
            if escaping != "skip":
                raise InvalidInputError(f"cannot zip {message}", hint="replace the link with the file it names")
            from cococtl.notices import warn

            warn(f"left out of the results: {message}")


def result_files(results_dir: Path) -> list[Path]:
    """Files under ``results_dir`` in Go's ``filepath.Walk`` order; links leaving the tree are left out."""
    return [results_dir / os.fsdecode(relative) for relative, _ in _walk_zippable(results_dir, escaping="skip")]


def _needs_utf8_flag(name: bytes) -> bool:
    """``detectUTF8`` (archive/zip writer.go): set 0x800 only for valid UTF-8 outside CP-437's safe subset."""
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        return False
    return any(ord(char) < 0x20 or ord(char) > 0x7D or char == "\\" for char in text)


def _unix_mode(mode: int) -> int:
    """``fileModeToUnixMode(info.Mode())``, then SetMode's MS-DOS read-only bit (archive/zip struct.go)."""
    external = (stat.S_IFMT(mode) or stat.S_IFREG) | (mode & 0o7777)
    attrs = external << 16
    if stat.S_ISDIR(mode):
        attrs |= 0x10
    if mode & 0o200 == 0:
        attrs |= 0x01
    return attrs


def _dos_time(seconds: int) -> tuple[int, int]:
    """``timeToMsDosTime`` of the UTC time (archive/zip struct.go): (date, time), wrapped like Go's uint16."""
    utc = time.gmtime(seconds)
    date = (utc.tm_mday + (utc.tm_mon << 5) + ((utc.tm_year - 1980) << 9)) & _UINT16MAX
    clock = (utc.tm_sec // 2 + (utc.tm_min << 5) + (utc.tm_hour << 11)) & _UINT16MAX
    return date, clock


@dataclass
class _Entry:
    name: bytes
    flags: int
    dos_date: int
    dos_time: int
    extra: bytes
    external_attrs: int
    offset: int
    crc: int = 0
    size: int = 0


class _CountingSink:
    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.count = 0

    def write(self, data: bytes) -> None:
        self.sink.write(data)
        self.count += len(data)


def _write_entry(out: _CountingSink, entry: _Entry, source: IO[bytes]) -> None:
    """CreateHeader's local header, the stored data, then fileWriter.close's data descriptor."""
    out.write(
        struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            20,
            entry.flags,
            0,
            entry.dos_time,
            entry.dos_date,
            0,
            0,
            0,
            len(entry.name),
            len(entry.extra),
        )
        + entry.name
        + entry.extra
    )
    crc = 0
    size = 0
    while chunk := source.read(_COPY_CHUNK):
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
        out.write(chunk)
    entry.crc, entry.size = crc, size
    if size >= _UINT32MAX:
        out.write(struct.pack("<IIQQ", 0x08074B50, crc, size, size))
    else:
        out.write(struct.pack("<IIII", 0x08074B50, crc, size, size))


def _write_central_directory(out: _CountingSink, entries: list[_Entry]) -> None:
    """``Writer.Close`` (archive/zip writer.go): central directory, zip64 records when needed, end record."""
    start = out.count
    for entry in entries:
        extra = entry.extra
        zip64 = entry.size >= _UINT32MAX
        if zip64 or entry.offset >= _UINT32MAX:
            sizes = (_UINT32MAX, _UINT32MAX)
            extra += struct.pack("<HHQQQ", 0x0001, 24, entry.size, entry.size, entry.offset)
        else:
            sizes = (entry.size, entry.size)
        out.write(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                0x0314,
                45 if zip64 else 20,
                entry.flags,
                0,
                entry.dos_time,
                entry.dos_date,
                entry.crc,
                *sizes,
                len(entry.name),
                len(extra),
                0,
                0,
                0,
                entry.external_attrs,
                _UINT32MAX if entry.offset > _UINT32MAX else entry.offset,
            )
            + entry.name
            + extra
        )
    end = out.count
    records, size, offset = len(entries), end - start, start
    if records >= _UINT16MAX or size >= _UINT32MAX or offset >= _UINT32MAX:
        out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, records, records, size, offset))
        out.write(struct.pack("<IIQI", 0x07064B50, 0, end, 1))
        records, size, offset = _UINT16MAX, _UINT32MAX, _UINT32MAX
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, records, records, size, offset, 0))


def go_zip_directory(
    root: Path, sink: IO[bytes], *, mtime: int | None = FIXED_MTIME, escaping: str = "refuse"
) -> list[str]:
    """Write Cocos' ``ZipDirectoryToMemory(root)`` bytes to ``sink``; return the entry names.

    ``mtime`` pins every entry's time (seconds since the epoch); None takes each file's own, as Cocos does.
    A symlink to a file inside ``root`` is stored as Go stores it (its lstat header, its target's bytes); one
    that leaves the tree is refused, or left out with a warning when ``escaping="skip"``.
    """
    out = _CountingSink(sink)
    entries: list[_Entry] = []
    for relative, info in _walk_zippable(root, escaping=escaping):
        seconds = info.st_mtime_ns // 1_000_000_000 if mtime is None else mtime
        dos_date, dos_time = _dos_time(seconds)
        entry = _Entry(
            name=relative,
            flags=0x8 | (0x800 if _needs_utf8_flag(relative) else 0),
            dos_date=dos_date,
            dos_time=dos_time,
            extra=struct.pack("<HHBI", 0x5455, 5, 1, seconds & _UINT32MAX),
            external_attrs=_unix_mode(info.st_mode),
            offset=out.count,
        )
        try:
            flags = os.O_RDONLY | (0 if stat.S_ISLNK(info.st_mode) else os.O_NOFOLLOW)
            fd = os.open(os.path.join(os.fsencode(root), relative), flags)
        except OSError as error:
            raise InvalidInputError(f"cannot zip {os.fsdecode(relative)}: {error.strerror}") from None
        with os.fdopen(fd, "rb") as source:
            _write_entry(out, entry, source)
        entries.append(entry)
    _write_central_directory(out, entries)
    return [os.fsdecode(entry.name) for entry in entries]


def write_results_zip(results_dir: Path, destination: Path, *, force: bool, escaping: str = "skip") -> list[str]:
    """Write the deterministic (Go byte-identical, fixed-time) zip of ``results_dir``; return the entry names."""
    with atomic_output(destination, force=force, private=True) as raw:
        return go_zip_directory(results_dir, raw, escaping=escaping)


def collect_results(results_dir: Path, destination: Path, *, force: bool) -> CollectedResults:
    """Copy ``results/`` into ``destination`` (created 0700) and write ``destination/results.zip``."""
    destination.mkdir(mode=0o700, parents=True, exist_ok=True)
    files: list[str] = []
    for path in result_files(results_dir):
        relative = path.relative_to(results_dir)
        target = destination / relative
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(path, "rb") as source, atomic_output(target, force=force, private=True) as sink:
            shutil.copyfileobj(source, sink, _COPY_CHUNK)
        files.append(relative.as_posix())
    zip_path = destination / "results.zip"
    write_results_zip(results_dir, zip_path, force=force)
    return CollectedResults(destination, zip_path, files)
