"""``s3://bucket/key`` through boto3: AWS_* credentials and region, ``AWS_ENDPOINT_URL`` for S3-compatible stores.

Cocos itself reads ``s3://`` through a GCS client; cococtl speaks real S3 (a documented divergence).
"""

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
    printable,
)
from cococtl.netutil import Deadline, DeadlineExceeded, backoff_delays, ca_bundle
from cococtl.sources.base import FetchSettings, Transfer, download_name, open_private

_READ = 64 << 10  # small reads, so the deadline is checked often on a slow peer
PROGRESS_BYTES = 64 << 10


def _client(settings: FetchSettings) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ExternalToolError("s3:// resources need boto3", hint="pip install 'cococtl[s3]'") from None
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(
        connect_timeout=settings.timeout,
        read_timeout=settings.timeout,
        retries={"max_attempts": 1},
        s3={"addressing_style": "path" if endpoint else "auto"},
    )
    verify: Any = ca_bundle(settings.cert_file) if settings.tls_verify else False
    client = boto3.session.Session().client("s3", endpoint_url=endpoint, config=config, verify=verify)
    client.meta.events.register("before-send.s3", _resolving_within(settings.timeout))
    return client


class _NameTimeout(Exception):
    """The endpoint's name did not resolve within the timeout (botocore's timeouts start after the lookup)."""


def _resolving_within(timeout: float) -> Any:
    """A botocore ``before-send`` hook that looks the request's host up within ``timeout`` first: a name that
    never resolves ends the download at the timeout instead of waiting for the system resolver."""
    from cococtl.netutil import is_address, lookup_within

    def before_send(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        if is_address(host):
            return
        try:
            lookup_within(host, parts.port or (443 if parts.scheme == "https" else 80), timeout)
        except TimeoutError:
            raise _NameTimeout(f"the name {host} did not resolve within {timeout:g} s") from None
        except OSError:
            return  # botocore reports a name that does not exist in its own words

    return before_send


def _split(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    bucket, key = parts.netloc, unquote(parts.path.lstrip("/"))
    if not bucket or not key:
        raise InvalidInputError(f"{uri!r} is not an s3://bucket/key URI")
    return bucket, key


def _map_error(uri: str, exc: Exception) -> CococtlError | None:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return DeniedError(f"{uri}: no AWS credentials", hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound"):
            return NotFoundError(f"{uri}: not found ({code})")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return DeniedError(f"{uri}: access denied ({code})")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if isinstance(status, int) and 400 <= status < 500:
            return UnreachableError(f"{uri}: S3 refused the request ({code})")
        return None
    if isinstance(exc, BotoCoreError):
        return None
    return None


def fetch_s3(uri: str, directory: Path, settings: FetchSettings) -> Path:
    """Stream an S3 object to ``directory`` (0600), retrying transient failures and resuming with Range."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = _split(uri)
    client = _client(settings)
    target = directory / download_name(uri)
    delays = backoff_delays(settings.retries)
    last: Exception | None = None
    total: int | None = None
    for attempt in range(len(delays) + 1):
        have = target.stat().st_size if target.exists() else 0
        # botocore's timeouts bound each socket read; the body loop also runs against a progress deadline.
        deadline = Deadline(settings.timeout, progress_bytes=PROGRESS_BYTES)
        try:
            extra = {"Range": f"bytes={have}-"} if have else {}
            response = client.get_object(Bucket=bucket, Key=key, **extra)
            if total is None:
                total = have + int(response.get("ContentLength", 0))
            body = response["Body"]
            transfer = Transfer(uri, settings, total=total, done=have)
            with os.fdopen(open_private(target, append=bool(have)), "wb") as sink:
                while chunk := body.read(_READ):
                    deadline.check()
                    deadline.progressed(len(chunk))
                    sink.write(chunk)
                    transfer.add(len(chunk))
            if target.stat().st_size >= total:
                return target
            last = RuntimeError(f"got {target.stat().st_size} of {total} bytes")
        except DeadlineExceeded as exc:
            last = exc
        except CococtlError:
            target.unlink(missing_ok=True)  # the size limit: not worth a retry
            raise
        except _NameTimeout as exc:
            last = exc
        except (ClientError, BotoCoreError, OSError, ValueError) as exc:
            mapped = _map_error(uri, exc)
            if mapped is not None:
                target.unlink(missing_ok=True)
                raise mapped from None
            last = exc
        if attempt < len(delays):
            time.sleep(delays[attempt])
    target.unlink(missing_ok=True)
    raise UnreachableError(f"{uri}: {printable(last, 300)} (after {settings.retries} retries)")
