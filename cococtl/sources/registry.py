"""Map a resource's source type to the fetcher that downloads it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cococtl.errors import InvalidInputError
from cococtl.sources.base import FetchSettings

Fetcher = Callable[[str, Path, FetchSettings], Path]


def fetcher_for(source_type: str) -> Fetcher:
    """The download function for ``source_type`` (OCI images are handled by the image code, not here)."""
    if source_type in ("http", "https"):
        from cococtl.sources.http import fetch_http

        return fetch_http
    if source_type == "s3":
        from cococtl.sources.s3 import fetch_s3

        return fetch_s3
    if source_type == "gcs":
        from cococtl.sources.gcs import fetch_gcs

        return fetch_gcs
    if source_type == "file":
        from cococtl.sources.file import fetch_file

        return fetch_file
    raise InvalidInputError(f"no downloader for source type {source_type!r}")
