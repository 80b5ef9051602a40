"""HTTP(S) downloads: streaming, TLS with an extra trust root, retries with backoff, Range resume."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cococtl.errors import CococtlError, DeniedError, IntegrityError, NotFoundError, UnreachableError, printable
from cococtl.netutil import Deadline, DeadlineExceeded, backoff_delays, ca_bundle, install_deadlines
from cococtl.sources.base import FetchSettings, Transfer, download_name, open_private

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
_CHUNK = 1 << 20
# The whole exchange runs against a progress deadline (cococtl.netutil.Deadline): connect and headers within the
# timeout, then at least this many body bytes per timeout period, so a peer that drips its body cannot stall us.
PROGRESS_BYTES = 64 << 10
MAX_REDIRECTS = 10


def _chunks(response: Any) -> Iterator[bytes]:
    """Body chunks as they arrive (``read1``): big reads without waiting to fill them, and nothing already
    received is lost when the peer breaks off (a filling ``read`` would discard a partial chunk)."""
    import requests
    import urllib3

    raw = response.raw
    if response.headers.get("Content-Encoding", "identity") != "identity" or not hasattr(raw, "read1"):
        yield from response.iter_content(64 << 10)
        return
    try:
        while chunk := raw.read1(_CHUNK):
            yield chunk
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError, OSError) as exc:
        raise requests.exceptions.ConnectionError(str(exc)) from None


class _Retry(Exception):
    """A transient failure: try again (resuming when the server allows it)."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def _late(uri: str, deadline: Deadline) -> _Retry:
    if deadline.waiting_for:
        return _Retry(f"{uri}: {deadline.waiting_for} did not resolve within {deadline.timeout:g} s", timed_out=True)
    return _Retry(f"{uri}: ReadTimeout (no progress within {deadline.timeout:g} s)", timed_out=True)


def _status_error(uri: str, status: int, reason: str) -> CococtlError:
    if status == 404:
        return NotFoundError(f"{uri}: not found (HTTP 404)")
    if status in (401, 403):
        return DeniedError(f"{uri}: access denied (HTTP {status})")
    return UnreachableError(f"{uri}: the server answered HTTP {status} {reason}".rstrip())


def _attempt(session: Any, uri: str, target: Path, settings: FetchSettings) -> None:
    with Deadline(settings.timeout, progress_bytes=PROGRESS_BYTES) as deadline:
        try:
            _exchange(session, uri, target, settings, deadline)
        except _Retry:
            raise
        except CococtlError:
            raise
        except Exception:
            if deadline.expired:
                raise _late(uri, deadline) from None
            raise


def _exchange(session: Any, uri: str, target: Path, settings: FetchSettings, deadline: Deadline) -> None:
    import requests

    have = target.stat().st_size if target.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        # verify= per request: a session-level value loses to REQUESTS_CA_BUNDLE in the environment.
        verify = ca_bundle(settings.cert_file) if settings.tls_verify else False
        response = session.get(uri, stream=True, timeout=settings.timeout, headers=headers, verify=verify)
    except requests.exceptions.SSLError as exc:
        raise UnreachableError(f"{uri}: TLS verification failed: {exc}", hint="pass --cert-file CA.pem") from None
    except requests.exceptions.TooManyRedirects:
        raise UnreachableError(f"{uri}: the server redirected more than {MAX_REDIRECTS} times") from None
    except requests.exceptions.InvalidURL as exc:
        raise UnreachableError(f"{uri}: {printable(exc, 200)}") from None
    except requests.exceptions.RequestException as exc:
        if deadline.expired:
            raise _late(uri, deadline) from None
        raise _Retry(f"{uri}: {type(exc).__name__}") from None
    with response:
        if response.status_code in _RETRY_STATUS:
            raise _Retry(f"{uri}: HTTP {response.status_code}")
        if response.status_code == 416 and have:
            target.unlink()
            raise _Retry(f"{uri}: the server refused to resume")
        if response.status_code >= 400:
            raise _status_error(uri, response.status_code, response.reason or "")
        append = False
        expected_total: int | None = None
        if have and response.status_code == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != have:
                target.unlink()
                raise _Retry(f"{uri}: the server resumed at the wrong offset")
            append = True
            expected_total = int(match.group(3)) if match.group(3) != "*" else None
        elif response.headers.get("Content-Length", "").isdigit():
            expected_total = int(response.headers["Content-Length"])
        transfer = Transfer(uri, settings, total=expected_total, done=have if append else 0)
        with os.fdopen(open_private(target, append=append), "wb") as sink:
            try:
                for chunk in _chunks(response):
                    deadline.check()
                    deadline.progressed(len(chunk))
                    sink.write(chunk)
                    transfer.add(len(chunk))
            except DeadlineExceeded:
                raise _late(uri, deadline) from None
            except requests.exceptions.RequestException as exc:
                if deadline.expired:
                    raise _late(uri, deadline) from None
                raise _Retry(f"{uri}: the transfer broke off ({type(exc).__name__})") from None
        size = target.stat().st_size
        if expected_total is not None and size < expected_total:
            raise _Retry(f"{uri}: got {size} of {expected_total} bytes")
        if expected_total is not None and size > expected_total:
            target.unlink()
            raise IntegrityError(f"{uri}: received {size} bytes, more than the {expected_total} announced")


def fetch_http(uri: str, directory: Path, settings: FetchSettings) -> Path:
    """Download ``uri`` into ``directory`` (mode 0600); resume interrupted transfers with Range."""
    import requests

    target = directory / download_name(uri)
    session = install_deadlines(requests.Session())
    session.headers["User-Agent"] = "cococtl"
    session.max_redirects = MAX_REDIRECTS
    delays = backoff_delays(settings.retries)
    last = ""
    timed_out = False
    with session:
        for attempt in range(len(delays) + 1):
            try:
                _attempt(session, uri, target, settings)
                return target
            except _Retry as retry:
                last, timed_out = str(retry), retry.timed_out
                if attempt < len(delays):
                    time.sleep(delays[attempt])
            except BaseException:
                target.unlink(missing_ok=True)  # nothing partial is left behind
                raise
    have = target.stat().st_size if target.exists() else 0
    if have and timed_out:
        target.unlink()
        raise UnreachableError(
            f"{last}; {have} bytes arrived (after {settings.retries} retries)", hint="raise --timeout or --retries"
        )
    target.unlink(missing_ok=True)  # an empty file from an attempt that broke off before any byte
    if have:
        raise IntegrityError(f"{last}; the download stayed incomplete after {settings.retries} retries")
    raise UnreachableError(
        f"{last} (after {settings.retries} retries)", hint="check the URL, or raise --retries/--timeout"
    )
