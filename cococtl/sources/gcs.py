"""``gs://bucket/object`` through google-cloud-storage; ``STORAGE_EMULATOR_HOST`` is honoured."""

from __future__ import annotations

import contextlib
import os
import re
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
    printable,
)
from cococtl.netutil import Deadline, backoff_delays, install_deadlines
from cococtl.sources.base import FetchSettings, Transfer, download_name, open_private


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


class _ProgressSink:
    """The download's file, telling the deadline (a progress deadline, as for HTTP) and the transfer (size limit,
    progress display) about each write."""

    def __init__(self, handle: Any, deadline: Deadline, transfer: Transfer) -> None:
        self._handle = handle
        self._deadline = deadline
        self._transfer = transfer

    def write(self, data: bytes) -> int:
        self._deadline.check()
        self._deadline.progressed(len(data))
        self._transfer.add(len(data))
        return int(self._handle.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def fetch_gcs(uri: str, directory: Path, settings: FetchSettings) -> Path:
    """Download a GCS object to ``directory`` (0600); retry transient failures with backoff.

    The client library's own retries (up to 120 s by default) are off: ``--retries`` counts, and each attempt is
    one exchange bounded like an HTTP download (connect and headers within the timeout, then progress)."""
    from google.api_core import exceptions as gexc

    from cococtl.sources.http import PROGRESS_BYTES

    bucket_name, name = _split(uri)
    client = _client()
    with contextlib.suppress(Exception):  # a client without a requests session keeps its own timeouts
        install_deadlines(client._http)
    target = directory / download_name(uri)
    delays = backoff_delays(settings.retries)
    last: Exception | None = None
    late = False
    for attempt in range(len(delays) + 1):
        with Deadline(settings.timeout, progress_bytes=PROGRESS_BYTES) as deadline:
            try:
                blob = client.bucket(bucket_name).blob(name)
                blob.reload(timeout=(settings.timeout, settings.timeout), retry=None)  # its size, before any byte
                transfer = Transfer(uri, settings, total=blob.size)
                with os.fdopen(open_private(target), "wb") as sink:
                    blob.download_to_file(
                        _ProgressSink(sink, deadline, transfer),
                        timeout=(settings.timeout, settings.timeout),
                        checksum="auto",
                        retry=None,
                    )
                return target
            except (gexc.GoogleAPIError, OSError, ValueError) as exc:
                mapped = _map_error(uri, exc) if isinstance(exc, gexc.GoogleAPIError) else None
                if mapped is not None:
                    target.unlink(missing_ok=True)
                    raise mapped from None
                last = exc
            except CococtlError:
                target.unlink(missing_ok=True)  # the size limit: not worth a retry
                raise
            except Exception as exc:  # requests/urllib3 connection errors surface unwrapped from the GCS client
                last = exc
            late = deadline.expired
        if attempt < len(delays):
            time.sleep(delays[attempt])
    target.unlink(missing_ok=True)
    if late:
        raise UnreachableError(f"{uri}: no progress within {settings.timeout:g} s (after {settings.retries} retries)")
    raise UnreachableError(f"{uri}: {_describe(last)} (after {settings.retries} retries)")


def _describe(exc: Exception | None) -> str:
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\"()]+)", text)
    return f"{type(exc).__name__}: {printable(match.group(1).strip() if match else text, 300)}"
