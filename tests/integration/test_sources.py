"""Fetchers against real peers: HTTPS with a generated CA, failure modes, moto S3, the GCS emulator."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from cococtl.errors import DeniedError, IntegrityError, InvalidInputError, NotFoundError, UnreachableError
from cococtl.sources.base import FetchSettings, parse_size
from cococtl.sources.registry import fetcher_for
from tests.integration.peers import Behaviour, FileServer, Process, TlsFiles

pytestmark = pytest.mark.integration
FAST = FetchSettings(timeout=2.0, retries=2)


class Recorder:
    """A Progress that records what each fetcher announces (name, total) and the bytes it reports."""

    def __init__(self) -> None:
        self.started: list[tuple[str, int | None, int]] = []
        self.seen: list[int] = []

    def start(self, name: str, total: int | None, done: int = 0) -> Any:
        self.started.append((name, total, done))
        return self.seen.append


def _fetch(uri: str, tmp_path: Path, settings: FetchSettings = FAST, source_type: str = "https") -> Path:
    out = tmp_path / "out"
    out.mkdir(parents=True, exist_ok=True)
    return fetcher_for(source_type)(uri, out, settings)


def test_https_with_extra_ca(https_server: FileServer, tls_files: TlsFiles, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    uri = https_server.publish("blob.enc", data)
    seen = Recorder()
    settings = FetchSettings(timeout=5, retries=1, cert_file=str(tls_files.ca_file), progress=seen)
    path = _fetch(uri, tmp_path, settings)
    assert path.read_bytes() == data and sum(seen.seen) == len(data)
    assert seen.started == [("blob.enc", len(data), 0)]  # the progress bar's name and total (Content-Length)
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


def test_every_fetcher_announces_its_size_and_keeps_to_the_limit(
    http_server: FileServer, s3_env: Process, gcs_env: Process, tmp_path: Path
) -> None:
    # Each source reports the resource's name and total before the first byte (HTTP Content-Length, S3
    # ContentLength, the GCS object's size, the file's size) and refuses one over --max-download-size (exit 3).
    import boto3
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    data = os.urandom(300_000)
    boto3.client("s3", endpoint_url=s3_env.url).create_bucket(Bucket="limits")
    boto3.client("s3", endpoint_url=s3_env.url).put_object(Bucket="limits", Key="d.bin", Body=data)
    gcs = storage.Client(project="test", credentials=AnonymousCredentials()).create_bucket("limits-bucket")
    gcs.blob("d.bin").upload_from_string(data)
    (tmp_path / "d.bin").write_bytes(data)
    sources = {
        "http": http_server.publish("d.bin", data),
        "s3": "s3://limits/d.bin",
        "gcs": "gs://limits-bucket/d.bin",
        "file": (tmp_path / "d.bin").as_uri(),
    }
    for source_type, uri in sources.items():
        seen = Recorder()
        got = _fetch(uri, tmp_path / source_type, FetchSettings(timeout=5, retries=0, progress=seen), source_type)
        assert got.read_bytes() == data and seen.started == [("d.bin", len(data), 0)], source_type
        assert sum(seen.seen) == len(data), source_type
        small = FetchSettings(timeout=5, retries=0, max_bytes=parse_size("100KiB"))
        with pytest.raises(InvalidInputError, match=r"is 293.0 KiB: over the download limit of 100.0 KiB"):
            _fetch(uri, tmp_path / f"{source_type}-small", small, source_type)
        assert not any((tmp_path / f"{source_type}-small" / "out").iterdir()), source_type


def test_a_server_that_never_stops_is_cut_at_the_limit(tmp_path: Path) -> None:
    # No Content-Length and an endless body: the limit ends it as soon as it is passed, and nothing is left.
    import threading

    from tests.fuzz.servers import hostile_server

    stop = threading.Event()

    def endless(conn: Any, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        chunk = bytes(64 << 10)
        while not stop.is_set():
            conn.sendall(chunk)

    with hostile_server(endless, stop=stop) as server:
        started = time.monotonic()
        limit = FetchSettings(timeout=5, retries=0, max_bytes=parse_size("4MiB"))
        with pytest.raises(InvalidInputError, match=r"sent more than 4\.0 MiB"):
            _fetch(f"{server.url}/zero", tmp_path, limit, "http")
        assert time.monotonic() - started < 5 and not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("text", "size"), [("512", 512), ("4k", 4096), ("1.5MiB", 3 << 19), ("64GiB", 64 << 30), ("2 T", 2 << 40)]
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "-1", "1x", "0", "GiB"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_size(text)
