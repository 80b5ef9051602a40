"""``file://`` resources (a cococtl extra for local runs and tests)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cococtl.errors import InvalidInputError, NotFoundError
from cococtl.sources.base import FetchSettings, Transfer, download_name, open_private


def fetch_file(uri: str, directory: Path, settings: FetchSettings) -> Path:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise InvalidInputError(f"file URI {uri!r} names a host; only file:///absolute/path is supported")
    source = Path(unquote(parts.path))
    target = directory / download_name(uri)
    try:
        # Non-blocking open and fstat first: a FIFO, /dev/zero or a socket is refused at once instead of blocking
        # or filling the disk; a regular file is copied up to the size it had when opened.
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise NotFoundError(f"{uri}: no such file") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{uri} is a directory") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, FIFO or socket)"
        raise InvalidInputError(f"{uri} is {kind}: a dataset or algorithm must be a regular file")
    os.set_blocking(fd, True)
    remaining = info.st_size
    try:
        transfer = Transfer(uri, settings, total=remaining)
    except BaseException:
        os.close(fd)
        raise
    try:
        with os.fdopen(fd, "rb") as reader, os.fdopen(open_private(target), "wb") as writer:
            while remaining > 0 and (chunk := reader.read(min(1 << 20, remaining))):
                remaining -= len(chunk)
                writer.write(chunk)
                transfer.add(len(chunk))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target
