"""``file://`` resources (a cococtl extra for local runs and tests)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cococtl.errors import InvalidInputError, NotFoundError
from cococtl.sources.base import FetchSettings, download_name, open_private


def fetch_file(uri: str, directory: Path, settings: FetchSettings) -> Path:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise InvalidInputError(f"file URI {uri!r} names a host; only file:///absolute/path is supported")
    source = Path(unquote(parts.path))
    target = directory / download_name(uri)
    try:
        with open(source, "rb") as reader, os.fdopen(open_private(target), "wb") as writer:
            while chunk := reader.read(1 << 20):
                writer.write(chunk)
                if settings.progress is not None:
                    settings.progress(len(chunk))
    except FileNotFoundError:
        raise NotFoundError(f"{uri}: no such file") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{uri} is a directory") from None
    return target
