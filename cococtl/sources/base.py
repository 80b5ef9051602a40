"""What every fetcher shares: the request, the result, and writing a download safely."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from cococtl.errors import InvalidInputError

# A download larger than this is refused (a server streaming forever must not fill the disk): 64 GiB.
DEFAULT_MAX_DOWNLOAD = 64 << 30


class Progress(Protocol):
    """Where fetchers report downloads (several may run at once): ``start`` announces one by name and size (when
    known) and returns the function that is told each chunk's byte count."""

    def start(self, name: str, total: int | None, done: int = 0) -> Callable[[int], None]: ...


@dataclass(frozen=True)
class FetchSettings:
    """Knobs shared by all fetchers."""

    timeout: float = 30.0
    retries: int = 3
    cert_file: str | None = None
    tls_verify: bool = True
    progress: Progress | None = None
    max_bytes: int | None = DEFAULT_MAX_DOWNLOAD


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``64GiB``, ``500M``, ``1.5g`` or a byte count: binary multiples, as ``--max-download-size`` takes them."""
    match = _SIZE.fullmatch(text)
    if not match:
        raise InvalidInputError(f"{text[:40]!r} is not a size: give bytes, or a number with K, M, G or T (binary)")
    number, unit = float(match.group(1)), match.group(2).lower()
    size = int(number * (1 << (10 * " kmgt".index(unit or " "))))
    if size < 1:
        raise InvalidInputError(f"{text[:40]!r}: a size must be at least 1 byte")
    return size


def binary_size(n: int) -> str:
    """``n`` bytes in binary units (``1.5 GiB``), for messages."""
    value, unit = float(n), "bytes"
    for name in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, name
    return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


class Transfer:
    """One download's byte accounting: the size limit (``max_bytes``) and the progress display."""

    def __init__(self, uri: str, settings: FetchSettings, *, total: int | None, done: int = 0) -> None:
        self.uri, self.settings, self.received = uri, settings, done
        self._check(total if total is not None else done, announced=total is not None)
        self._advance = settings.progress.start(download_name(uri), total, done) if settings.progress else None

    def _check(self, size: int, *, announced: bool = False) -> None:
        limit = self.settings.max_bytes
        if limit is not None and size > limit:
            what = f"is {binary_size(size)}" if announced else f"sent more than {binary_size(limit)}"
            raise InvalidInputError(
                f"{self.uri} {what}: over the download limit of {binary_size(limit)}",
                hint="raise --max-download-size (COCOCTL_MAX_DOWNLOAD_SIZE) if this size is expected",
            )

    def add(self, n: int) -> None:
        self.received += n
        self._check(self.received)
        if self._advance is not None:
            self._advance(n)


def download_name(uri: str) -> str:
    """A safe local file name for ``uri`` (its last path segment, or ``download``)."""
    name = unquote(urlsplit(uri).path.rstrip("/").rsplit("/", 1)[-1])
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        return "download"
    return name[:200]


def open_private(path: Path, *, append: bool = False) -> int:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC) | os.O_NOFOLLOW
    return os.open(path, flags, 0o600)
