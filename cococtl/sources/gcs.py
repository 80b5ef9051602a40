"""``gs://bucket/object`` through google-cloud-storage; ``STORAGE_EMULATOR_HOST`` is honoured."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from cococtl.errors import (
    CococtlError,
    DeniedError,
    ExternalToolError,
    InvalidInputError,
    NotFoundError,
    UnreachableError,
)
from cococtl.netutil import backoff_delays
from cococtl.sources.base import FetchSettings, download_name, open_private


def _client() -> Any:
    try:
        from google.cloud import storage
    except ImportError:
        raise ExternalToolError(
            "gs:// resources need google-cloud-storage", hint="pip install 'cococtl[gcs]'"
        ) from None
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
        return storage.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT", "cococtl"), credentials=anonymous)
    try:
        return storage.Client()
    except Exception as exc:  # google.auth raises several unrelated types for missing credentials
        raise DeniedError(
            f"no Google Cloud credentials: {exc}",
            hint="set GOOGLE_APPLICATION_CREDENTIALS, or STORAGE_EMULATOR_HOST for an emulator",
        ) from None


def _split(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    bucket, name = parts.netloc, unquote(parts.path.lstrip("/"))
    if not bucket or not name:
        raise InvalidInputError(f"{uri!r} is not a gs://bucket/object URI")
    return bucket, name


def _map_error(uri: str, exc: Exception) -> CococtlError | None:
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.NotFound):
        return NotFoundError(f"{uri}: not found")
    if isinstance(exc, gexc.Forbidden | gexc.Unauthorized):
        return DeniedError(f"{uri}: access denied")
    if isinstance(exc, gexc.ClientError):
        return UnreachableError(f"{uri}: GCS refused the request: {exc}")
    return None


def fetch_gcs(uri: str, directory: Path, settings: FetchSettings) -> Path:
    """Download a GCS object to ``directory`` (0600); retry transient failures with backoff."""
    from google.api_core import exceptions as gexc

    bucket_name, name = _split(uri)
    client = _client()
    target = directory / download_name(uri)
    delays = backoff_delays(settings.retries)
    last: Exception | None = None
    for attempt in range(len(delays) + 1):
        try:
            blob = client.bucket(bucket_name).blob(name)
            with os.fdopen(open_private(target), "wb") as sink:
                blob.download_to_file(sink, timeout=settings.timeout, checksum="auto")
            if settings.progress is not None:
                settings.progress(target.stat().st_size)
            return target
        except (gexc.GoogleAPIError, OSError, ValueError) as exc:
            mapped = _map_error(uri, exc) if isinstance(exc, gexc.GoogleAPIError) else None
            if mapped is not None:
                raise mapped from None
            last = exc
        except Exception as exc:  # requests/urllib3 connection errors surface unwrapped from the GCS client
            last = exc
        if attempt < len(delays):
            time.sleep(delays[attempt])
    raise UnreachableError(f"{uri}: {type(last).__name__}: {last} (after {settings.retries} retries)")
