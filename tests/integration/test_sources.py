"""Fetchers against real peers: HTTPS with a generated CA, failure modes, moto S3, the GCS emulator."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from cococtl.errors import DeniedError, IntegrityError, NotFoundError, UnreachableError
from cococtl.sources.base import FetchSettings
from cococtl.sources.registry import fetcher_for
from tests.integration.peers import Behaviour, FileServer, Process, TlsFiles

pytestmark = pytest.mark.integration
FAST = FetchSettings(timeout=2.0, retries=2)


def _fetch(uri: str, tmp_path: Path, settings: FetchSettings = FAST, source_type: str = "https") -> Path:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return fetcher_for(source_type)(uri, out, settings)


def test_https_with_extra_ca(https_server: FileServer, tls_files: TlsFiles, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    uri = https_server.publish("blob.enc", data)
    seen: list[int] = []
    settings = FetchSettings(timeout=5, retries=1, cert_file=str(tls_files.ca_file), progress=seen.append)
    path = _fetch(uri, tmp_path, settings)
    assert path.read_bytes() == data and sum(seen) == len(data)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_https_untrusted_is_refused(https_server: FileServer, tmp_path: Path) -> None:
    uri = https_server.publish("x", b"x")
    with pytest.raises(UnreachableError, match="TLS verification failed") as caught:
        _fetch(uri, tmp_path)
    assert caught.value.hint and "--cert-file" in caught.value.hint


def test_5xx_then_success(http_server: FileServer, tmp_path: Path) -> None:
    uri = http_server.publish("flaky", b"payload", Behaviour(fail_first=2))
    assert _fetch(uri, tmp_path, source_type="http").read_bytes() == b"payload"
    assert http_server.behaviours["flaky"].served == 3


def test_5xx_forever_is_unreachable(http_server: FileServer, tmp_path: Path) -> None:
    uri = http_server.publish("down", b"x", Behaviour(fail_first=100))
    with pytest.raises(UnreachableError, match=r"HTTP 503 \(after 2 retries\)"):
        _fetch(uri, tmp_path, source_type="http")


def test_truncated_body_resumes_with_range(http_server: FileServer, tmp_path: Path) -> None:
    data = os.urandom(1_000_000)
    uri = http_server.publish("cut", data, Behaviour(truncate_first=1))
    assert _fetch(uri, tmp_path, source_type="http").read_bytes() == data
    ranges = [r for _, name, r in http_server.requests if name == "cut"]
    assert ranges[0] is None and len(ranges) == 2
    assert ranges[1] is not None and 0 < int(ranges[1][len("bytes=") : -1]) <= 500_000


def test_always_truncated_is_integrity_error(http_server: FileServer, tmp_path: Path) -> None:
    uri = http_server.publish("broken", os.urandom(1_000_000), Behaviour(truncate_first=100))
    with pytest.raises(IntegrityError, match="incomplete"):
        _fetch(uri, tmp_path, source_type="http")
    assert list((tmp_path / "out").iterdir()) == []


def test_stalled_server_times_out(http_server: FileServer, tmp_path: Path) -> None:
    uri = http_server.publish("slow", b"x", Behaviour(stall_seconds=3))
    started = time.monotonic()
    with pytest.raises(UnreachableError, match="ReadTimeout"):
        _fetch(uri, tmp_path, FetchSettings(timeout=0.5, retries=1), source_type="http")
    assert time.monotonic() - started < 10


def test_404_is_not_found(http_server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="HTTP 404"):
        _fetch(f"{http_server.url}/missing", tmp_path, source_type="http")


def test_connection_refused(tmp_path: Path) -> None:
    from tests.integration.peers import free_port

    with pytest.raises(UnreachableError):
        _fetch(f"http://127.0.0.1:{free_port()}/x", tmp_path, FetchSettings(timeout=1, retries=1), "http")


def test_s3(s3_env: Process, tmp_path: Path) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_env.url)
    client.create_bucket(Bucket="datasets")
    data = os.urandom(5 * 1024 * 1024 + 3)
    client.put_object(Bucket="datasets", Key="dir/iris.csv.enc", Body=data)
    path = _fetch("s3://datasets/dir/iris.csv.enc", tmp_path, source_type="s3")
    assert path.name == "iris.csv.enc" and path.read_bytes() == data
    with pytest.raises(NotFoundError):
        _fetch("s3://datasets/nope", tmp_path, source_type="s3")
    with pytest.raises(NotFoundError):
        _fetch("s3://no-such-bucket/x", tmp_path, source_type="s3")


def test_s3_without_credentials(s3_env: Process, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(DeniedError, match="no AWS credentials"):
        _fetch("s3://datasets/x", tmp_path, source_type="s3")


def test_gcs(gcs_env: Process, tmp_path: Path) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="test", credentials=AnonymousCredentials())
    bucket = client.create_bucket("algorithms-bucket")
    data = os.urandom(1024 * 1024 + 1)
    bucket.blob("algo.py.enc").upload_from_string(data)
    assert _fetch("gs://algorithms-bucket/algo.py.enc", tmp_path, source_type="gcs").read_bytes() == data
    with pytest.raises(NotFoundError):
        _fetch("gs://algorithms-bucket/missing", tmp_path, source_type="gcs")
