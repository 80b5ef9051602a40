"""Session-scoped real peers for integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cococtl.devkbs.server import DevKbs, DevKbsConfig
from tests.integration.peers import (
    FileServer,
    Process,
    TlsFiles,
    make_tls,
    start_gcs_emulator,
    start_moto,
    start_registry,
)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[FileServer]:
    root = tmp_path / "http-root"
    root.mkdir()
    server = FileServer(root).start()
    yield server
    server.stop()


@pytest.fixture
def https_server(tmp_path: Path, tls_files: TlsFiles) -> Iterator[FileServer]:
    root = tmp_path / "https-root"
    root.mkdir()
    server = FileServer(root, tls=tls_files).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Process]:
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    server = start_registry(tmp_path_factory.mktemp("registry"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[Process]:
    server = start_gcs_emulator()
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3_server: Process, monkeypatch: pytest.MonkeyPatch) -> Process:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return s3_server


@pytest.fixture
def gcs_env(gcs_server: Process, monkeypatch: pytest.MonkeyPatch) -> Process:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)
    return gcs_server


@dataclass
class RunningKbs:
    server: DevKbs
    storage: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[tuple[str, str]]:
        return self.server.state.requests


def start_devkbs(storage: Path, tls: tuple[Path, Path] | None = None, **config: Any) -> RunningKbs:
    server = DevKbs(DevKbsConfig(storage=storage, **config), tls=tls)
    server.start()
    return RunningKbs(server, storage)


@pytest.fixture
def devkbs(tmp_path: Path) -> Iterator[RunningKbs]:
    """The local KBS double with Trustee's default policy and InsecureAllowAll admin."""
    kbs = start_devkbs(tmp_path / "kbs")
    yield kbs
    kbs.server.stop()
