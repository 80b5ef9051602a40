"""Deadlines (issue #16): a peer that drips its answer one byte every 0.5 s, or is down, ends every command
with exit 4 within its timeout + 1 s. requests' own timeout bounds each socket read, not the exchange."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz.servers import HostileServer, drip, hostile_server

TIMEOUT = 2.0
SLACK = 1.0


@pytest.fixture(params=["body", "headers"])
def slow_drip(request: pytest.FixtureRequest) -> Iterator[HostileServer]:
    """An HTTP peer that sends one byte every 0.5 s (of its body, or of its whole answer from the status line)."""
    stop = threading.Event()
    with hostile_server(drip(stop, headers_too=request.param == "headers"), stop=stop) as server:
        yield server


def _timed(cli: Any, *args: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = cli(*args, expect=None)
    return result, time.monotonic() - started


def _assert_deadline(result: Any, seconds: float, timeout: float = TIMEOUT) -> None:
    assert result.exit_code == 4, (result.exit_code, result.stderr)
    assert seconds <= timeout + SLACK, f"took {seconds:.2f} s for a {timeout:g} s timeout"
    assert "Traceback" not in result.stderr


def test_kbs_attest_drip(cli: Any, slow_drip: HostileServer) -> None:
    result, seconds = _timed(cli, "kbs", "attest", "--url", slow_drip.url, "--tee", "sample", "--timeout", "2")
    _assert_deadline(result, seconds)
    assert "did not answer within 2 s" in result.stderr


def test_kbs_get_resource_drip(cli: Any, slow_drip: HostileServer) -> None:
    result, seconds = _timed(
        cli, "kbs", "get-resource", "--url", slow_drip.url, "--tee", "sample", "--path", "default/key/k1",
        "--timeout", "2",
    )  # fmt: skip
    _assert_deadline(result, seconds)


def test_as_attest_drip(cli: Any, slow_drip: HostileServer, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence.json"
    evidence.write_text(json.dumps({"svn": "1", "report_data": "00"}))
    result, seconds = _timed(
        cli, "as", "attest", "--url", slow_drip.url, "--tee", "sample", "--evidence", evidence, "--timeout", "2"
    )
    _assert_deadline(result, seconds)


def _plain_manifest(tmp_path: Path, algorithm_uri: str) -> Path:
    document = {
        "computation_id": "deadline",
        "algorithm": {"uri": algorithm_uri, "algo_type": "bin", "hash": hashlib.sha3_256(b"x").hexdigest()},
        "datasets": [],
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(document))
    return path


def test_run_download_drip(cli: Any, slow_drip: HostileServer, tmp_path: Path) -> None:
    manifest = _plain_manifest(tmp_path, f"{slow_drip.url}/algo")
    results = tmp_path / "results"
    result, seconds = _timed(cli, "run", manifest, "--network-timeout", "2", "--retries", "0", "--results", results)
    _assert_deadline(result, seconds)
    assert not results.exists() or not any(results.iterdir())


def test_run_kbs_drip(cli: Any, slow_drip: HostileServer, tmp_path: Path) -> None:
    document = {
        "computation_id": "deadline",
        "algorithm": {
            "uri": "file:///nonexistent/algo.enc",
            "encrypted": True,
            "kbs_resource_path": "default/key/algo",
            "algo_type": "bin",
            "hash": hashlib.sha3_256(b"x").hexdigest(),
        },
        "kbs": {"url": slow_drip.url},
    }
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(document))
    algo = tmp_path / "algo.enc"
    algo.write_bytes(os.urandom(64))
    document["algorithm"]["uri"] = algo.as_uri()  # type: ignore[index]
    manifest.write_text(json.dumps(document))
    result, seconds = _timed(cli, "run", manifest, "--tee", "sample", "--network-timeout", "2", "--retries", "0")
    _assert_deadline(result, seconds)


def test_decrypt_image_kbs_drip(cli: Any, slow_drip: HostileServer, tmp_path: Path) -> None:
    from tests.oci_images import build_image

    source = tmp_path / "img"
    build_image(source, [{"app/main": b"hello"}])
    kek = tmp_path / "kek"
    cli("keys", "new", kek)
    cli(
        "encrypt", "image", f"oci:{source}", f"oci:{tmp_path / 'enc'}", "--keyid", "kbs:///default/key/k1", "--key", kek
    )
    result, seconds = _timed(
        cli, "decrypt", "image", f"oci:{tmp_path / 'enc'}", f"oci:{tmp_path / 'dec'}", "--kbs-url", slow_drip.url,
        "--tee", "sample", "--timeout", "2",
    )  # fmt: skip
    _assert_deadline(result, seconds)
    assert not (tmp_path / "dec").exists() or not any((tmp_path / "dec" / "blobs" / "sha256").glob("*"))


def test_keyprovider_kbs_drip(cli: Any, slow_drip: HostileServer) -> None:
    packet = {
        "kid": "kbs:///default/key/k1",
        "wrapped_data": base64.b64encode(os.urandom(80)).decode(),
        "iv": base64.b64encode(os.urandom(12)).decode(),
        "wrap_type": "A256GCM",
    }
    request = {
        "op": "keyunwrap",
        "keyunwrapparams": {"annotation": base64.b64encode(json.dumps(packet).encode()).decode()},
    }
    started = time.monotonic()
    result = cli("keyprovider", "--kbs-url", slow_drip.url, "--timeout", "2", input=json.dumps(request), expect=None)
    _assert_deadline(result, time.monotonic() - started)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gcs_down_endpoint(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("google.cloud.storage", reason="the gcs extra is not installed")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{_closed_port()}")
    manifest = _plain_manifest(tmp_path, "gs://bucket/algo")
    result, seconds = _timed(cli, "run", manifest, "--network-timeout", "2", "--retries", "0")
    _assert_deadline(result, seconds, timeout=4.0)


def test_s3_down_endpoint(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("boto3", reason="the s3 extra is not installed")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    manifest = _plain_manifest(tmp_path, "s3://bucket/algo")
    result, seconds = _timed(cli, "run", manifest, "--network-timeout", "2", "--retries", "0")
    _assert_deadline(result, seconds, timeout=4.0)


def test_gcs_drip(cli: Any, slow_drip: HostileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("google.cloud.storage", reason="the gcs extra is not installed")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", slow_drip.url)
    manifest = _plain_manifest(tmp_path, "gs://bucket/algo")
    result, seconds = _timed(cli, "run", manifest, "--network-timeout", "2", "--retries", "0")
    _assert_deadline(result, seconds)


@pytest.mark.parametrize("command", ["decrypt", "inspect"])
def test_registry_drip_ends_skopeo_at_the_registry_timeout(
    cli: Any, slow_drip: HostileServer, tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # skopeo (Go) sets no deadline on a registry answer: cococtl ends it, and everything it started, when it has
    # moved almost nothing for --registry-timeout seconds (a deadline on progress, as for HTTP downloads).
    monkeypatch.setenv("COCOCTL_SKOPEO", str(Path(__file__).parents[1] / ".tools" / "bin" / "skopeo-go"))
    port = slow_drip.url.rsplit(":", 1)[1].strip("/")
    image = f"docker://127.0.0.1:{port}/app:1"
    kek = tmp_path / "kek"
    cli("keys", "new", kek)
    if command == "decrypt":
        args: tuple[Any, ...] = ("decrypt", "image", image, f"oci:{tmp_path / 'dec'}", "--key", kek)
    else:
        args = ("inspect", image)
    result, seconds = _timed(cli, *args, "--no-tls-verify", "--registry-timeout", "2")
    _assert_deadline(result, seconds)
    assert "made no progress for 2 s" in result.stderr and not (tmp_path / "dec").exists()


def test_grpc_key_provider_that_never_answers_ends_skopeo(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ocicrypt's gRPC key-provider client calls WrapKey with context.Background() (no deadline): a provider that
    # accepts the connection and stays silent would hold skopeo forever; cococtl ends it at --registry-timeout.
    from tests.oci_images import build_image

    monkeypatch.setenv("COCOCTL_SKOPEO", str(Path(__file__).parents[1] / ".tools" / "bin" / "skopeo-go"))
    build_image(tmp_path / "img", [{"app/main": b"hello"}])
    kek = tmp_path / "kek"
    cli("keys", "new", kek)
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except TimeoutError:
                continue

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        result, seconds = _timed(
            cli, "encrypt", "image", f"oci:{tmp_path / 'img'}", f"oci:{tmp_path / 'enc'}", "--engine", "skopeo",
            "--keyprovider", f"grpc://127.0.0.1:{silent.getsockname()[1]}", "--key", kek,
            "--keyid", "kbs:///default/key/k1", "--registry-timeout", "2",
        )  # fmt: skip
    finally:
        stop.set()
        holder.join(5)
        for conn in held:
            conn.close()
        silent.close()
    _assert_deadline(result, seconds)
    assert "made no progress for 2 s" in result.stderr and not (tmp_path / "enc").exists()


@pytest.fixture
def slow_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A resolver that never answers for one name (no real DNS server may run here: tests stay on 127.0.0.1, and
    the system resolver's configuration is not ours to change), the real one for every other name."""
    real = socket.getaddrinfo
    release = threading.Event()

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "slow-dns.invalid":
            release.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield "slow-dns.invalid"
    release.set()


def test_a_name_that_never_resolves_ends_at_the_timeout(cli: Any, slow_dns: str, tmp_path: Path) -> None:
    # getaddrinfo cannot be interrupted, and urllib3's connect timeout does not cover it: the lookup runs under
    # the exchange's deadline, and the message says it was the name, not the peer, that did not answer.
    result, seconds = _timed(
        cli, "kbs", "attest", "--url", f"http://{slow_dns}:8080", "--tee", "sample", "--timeout", "2"
    )
    _assert_deadline(result, seconds)
    assert f"the name {slow_dns} of the KBS at http://{slow_dns}:8080 did not resolve within 2 s" in result.stderr
    (tmp_path / "algo.sh").write_text("#!/bin/sh\n")
    manifest = tmp_path / "m.json"
    manifest.write_text(
        json.dumps({"algorithm": {"uri": f"http://{slow_dns}/a.sh", "algo_type": "bin", "hash": "11" * 32}})
    )
    result, seconds = _timed(
        cli, "run", manifest, "--results", tmp_path / "out", "--network-timeout", "2", "--retries", "0"
    )
    _assert_deadline(result, seconds)
    assert f"the name {slow_dns} did not resolve within 2 s" in result.stderr


def test_a_name_that_resolves_still_connects(cli: Any, slow_dns: str, tmp_path: Path) -> None:
    from tests.integration.conftest import start_devkbs

    kbs = start_devkbs(tmp_path / "kbs")
    try:
        port = kbs.url.rsplit(":", 1)[1].strip("/")
        cli("-q", "kbs", "attest", "--url", f"http://localhost:{port}", "--tee", "sample", "--timeout", "5")
    finally:
        kbs.server.stop()


def test_an_s3_endpoint_whose_name_never_resolves(
    cli: Any, slow_dns: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # botocore's connect and read timeouts start after the lookup: a before-send hook looks the name up first.
    pytest.importorskip("boto3", reason="the s3 extra is installed by make test")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{slow_dns}:9000")
    for name, value in (("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "x"), ("AWS_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    manifest = _plain_manifest(tmp_path, "s3://bucket/algo")
    result, seconds = _timed(cli, "run", manifest, "--network-timeout", "2", "--retries", "0")
    _assert_deadline(result, seconds)
    assert f"the name {slow_dns} did not resolve within 2 s" in result.stderr
