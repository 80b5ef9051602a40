"""What every fetcher shares: the request, the result, and writing a download safely."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

Progress = Callable[[int], None]


@dataclass(frozen=True)
class FetchSettings:
    """Knobs shared by all fetchers."""

    timeout: float = 30.0
    retries: int = 3
    cert_file: str | None = None
    tls_verify: bool = True
    progress: Progress | None = None


def download_name(uri: str) -> str:
    """A safe local file name for ``uri`` (its last path segment, or ``download``)."""
    name = unquote(urlsplit(uri).path.rstrip("/").rsplit("/", 1)[-1])
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        return "download"
    return name[:200]


def open_private(path: Path, *, append: bool = False) -> int:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC) | os.O_NOFOLLOW
    return os.open(path, flags, 0o600)
