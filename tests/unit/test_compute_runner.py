"""The run pipeline with local files and offline keys (the network peers are covered in integration tests)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cococtl.compute.keysource import OfflineKeySource
from cococtl.compute.runner import Peers, ResourceSpec, RunOptions, run_computation
from cococtl.crypto import gcm
from tests.algorithms import BIN_ALGORITHM


@dataclass(frozen=True)
class Res:
    uri: str
    encrypted: bool = True
    kbs_resource_path: str | None = None
    kbs_url: str | None = None
    hash: bytes = bytes(32)
    source_type: str = "file"
    filename: str = "data.csv"
    decompress: bool = False


@dataclass(frozen=True)
class Algo(Res):
    algo_type: str = "bin"
    algo_args: Sequence[str] = ()


@dataclass(frozen=True)
class Manifest:
    algorithm: Algo
    datasets: Sequence[Res] = field(default_factory=tuple)
    computation_id: str = "test"


def copy_fetch(resource: ResourceSpec, directory: Path) -> Path:
    target = directory / "blob"
    shutil.copyfile(resource.uri, target)
    return target


def encrypt_to(path: Path, plain: bytes, key: bytes) -> None:
    with open(path, "wb") as out:
        gcm.encrypt_stream(key, io.BytesIO(plain), out)


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, object]:
    keys = {"default/key/algo": os.urandom(32), "default/key/data": os.urandom(32)}
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({k: base64.b64encode(v).decode() for k, v in keys.items()}))
    encrypt_to(tmp_path / "algo.enc", BIN_ALGORITHM.encode(), keys["default/key/algo"])
    encrypt_to(tmp_path / "data.enc", b"0123456789", keys["default/key/data"])
    return {"dir": tmp_path, "keys": keys, "keys_file": keys_file}


def _manifest(d: Path, **overrides: object) -> Manifest:
    algo = Algo(
        str(d / "algo.enc"),
        kbs_resource_path="default/key/algo",
        algo_args=("x",),
        hash=hashlib.sha3_256(BIN_ALGORITHM.encode()).digest(),
    )
    data = Res(
        str(d / "data.enc"), kbs_resource_path="kbs:///default/key/data", hash=hashlib.sha3_256(b"0123456789").digest()
    )
    for key, value in overrides.items():
        if key.startswith("algo_"):
            algo = Algo(**{**algo.__dict__, key[5:]: value})
        else:
            data = Res(**{**data.__dict__, key: value})
    return Manifest(algo, (data,))


def _run(setup: dict[str, object], manifest: Manifest) -> tuple[object, list[bytes]]:
    out: list[bytes] = []
    d = setup["dir"]
    assert isinstance(d, Path)
    peers = Peers(fetch=copy_fetch, keys=OfflineKeySource(setup["keys_file"]))  # type: ignore[arg-type]
    workdirs = d / "work"
    workdirs.mkdir(exist_ok=True)
    report = run_computation(
        manifest,
        peers,
        RunOptions(results_dir=d / "results", workdir_parent=workdirs),
        sink=lambda _n, chunk: out.append(chunk),
    )
    assert list(workdirs.iterdir()) == [], "the work directory must be removed"
    return report, out


def test_successful_run(setup: dict[str, object]) -> None:
    d = setup["dir"]
    assert isinstance(d, Path)
    report, out = _run(setup, _manifest(d))
    document = report.to_json()  # type: ignore[attr-defined]
    assert document["state"] == "Complete"
    assert document["states"] == [
        "Idle",
        "ReceivingManifest",
        "ReceivingAlgorithm",
        "ReceivingData",
        "Running",
        "ConsumingResults",
        "Complete",
    ]
    assert (d / "results" / "bytes.txt").read_text().strip() == "10"
    assert (d / "results" / "args.txt").read_text() == "args: x\n"
    assert (d / "results" / "results.zip").exists()
    assert b"bin algorithm done" in b"".join(out)
    assert [r["sha3_256"] for r in document["resources"]] == [
        hashlib.sha3_256(BIN_ALGORITHM.encode()).hexdigest(),
        hashlib.sha3_256(b"0123456789").hexdigest(),
    ]


def test_hash_mismatch_executes_nothing(setup: dict[str, object]) -> None:
    d = setup["dir"]
    assert isinstance(d, Path)
    report, out = _run(setup, _manifest(d, hash=bytes([1]) * 32))
    assert report.error is not None and report.error.exit_code == 7  # type: ignore[attr-defined]
    assert "hash mismatch" in report.error.message  # type: ignore[attr-defined]
    assert out == [] and not (d / "results").exists()
    assert report.to_json()["states"][-1] == "Failed"  # type: ignore[attr-defined]


def test_wrong_key_is_integrity_failure(setup: dict[str, object]) -> None:
    d = setup["dir"]
    assert isinstance(d, Path)
    report, out = _run(setup, _manifest(d, kbs_resource_path="default/key/algo"))
    assert report.error is not None and report.error.exit_code == 7  # type: ignore[attr-defined]
    assert out == []


def test_missing_key_is_not_found(setup: dict[str, object]) -> None:
    d = setup["dir"]
    assert isinstance(d, Path)
    report, _ = _run(setup, _manifest(d, kbs_resource_path="default/key/nope"))
    assert report.error is not None and report.error.exit_code == 6  # type: ignore[attr-defined]


def test_algorithm_failure_is_9(setup: dict[str, object]) -> None:
    d = setup["dir"]
    assert isinstance(d, Path)
    failing = b"#!/bin/sh\nexit 3\n"
    encrypt_to(d / "algo.enc", failing, setup["keys"]["default/key/algo"])  # type: ignore[index]
    report, _ = _run(setup, _manifest(d, algo_hash=hashlib.sha3_256(failing).digest()))
    assert report.error is not None and report.error.exit_code == 9  # type: ignore[attr-defined]
    assert "exited with 3" in report.error.message  # type: ignore[attr-defined]


def test_unencrypted_and_decompress(setup: dict[str, object]) -> None:
    import zipfile

    d = setup["dir"]
    assert isinstance(d, Path)
    with zipfile.ZipFile(d / "bundle.zip", "w") as archive:
        archive.writestr("part1.csv", "aaaa")
        archive.writestr("part2.csv", "bbbbbb")
    digest = hashlib.sha3_256((d / "bundle.zip").read_bytes()).digest()
    manifest = _manifest(
        d, uri=str(d / "bundle.zip"), encrypted=False, hash=digest, decompress=True, filename="bundle.zip"
    )
    report, _ = _run(setup, manifest)
    assert report.error is None  # type: ignore[attr-defined]
    assert (d / "results" / "bytes.txt").read_text().strip() == "10"


def test_a_resource_without_hash_is_refused_unless_allowed(setup: dict[str, object]) -> None:
    # Cocos fails a resource whose manifest hash is missing (zero): it never matches the SHA3-256.
    d = setup["dir"]
    assert isinstance(d, Path)
    report, out = _run(setup, _manifest(d, hash=bytes(32)))
    error = report.error  # type: ignore[attr-defined]
    assert error is not None and error.exit_code == 3 and "no hash" in error.message and out == []
    assert not (d / "results").exists()
    peers = Peers(fetch=copy_fetch, keys=OfflineKeySource(setup["keys_file"]))  # type: ignore[arg-type]
    allowed = run_computation(
        _manifest(d, hash=bytes(32)),
        peers,
        RunOptions(results_dir=d / "results", workdir_parent=d / "work", allow_unverified=True),
        sink=lambda _n, _chunk: None,
    )
    assert allowed.error is None
    assert [r.to_json()["verified"] for r in allowed.resources] == [True, False]


def test_results_are_checked_before_anything_runs(setup: dict[str, object]) -> None:
    d = setup["dir"]
    assert isinstance(d, Path)
    (d / "results").mkdir()
    (d / "results" / "old.txt").write_text("keep me")
    report, out = _run(setup, _manifest(d))
    error = report.error  # type: ignore[attr-defined]
    assert error is not None and error.exit_code == 3 and "not empty" in error.message and out == []
    assert (d / "results" / "old.txt").read_text() == "keep me"
