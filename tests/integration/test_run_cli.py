"""``cococtl run`` end to end against real peers (HTTPS with a CA, moto S3, the GCS emulator, file://)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from cococtl.crypto import gcm
from tests.algorithms import BIN_ALGORITHM
from tests.integration.peers import Behaviour, FileServer, Process, TlsFiles

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
IRIS = (ROOT / "cococtl" / "demo" / "assets" / "iris.csv").read_bytes()
ALGORITHM = (ROOT / "cococtl" / "demo" / "assets" / "iris_algorithm.py").read_bytes()


def _encrypt(data: bytes, key: bytes) -> bytes:
    out = io.BytesIO()
    gcm.encrypt_stream(key, io.BytesIO(data), out)
    return out.getvalue()


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    values = {"default/key/algo": os.urandom(32), "default/key/data": os.urandom(32)}
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({k: base64.b64encode(v).decode() for k, v in values.items()}))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    return {"file": path, "algo": values["default/key/algo"], "data": values["default/key/data"], "tmp": scratch}


def _manifest(tmp_path: Path, algorithm_uri: str, dataset_uri: str, **dataset: Any) -> Path:
    document = {
        "computation_id": "iris",
        "algorithm": {
            "uri": algorithm_uri,
            "encrypted": True,
            "kbs_resource_path": "default/key/algo",
            "algo_type": "python",
            "algo_args": [],
            "hash": hashlib.sha3_256(ALGORITHM).hexdigest(),
        },
        "datasets": [
            {
                "uri": dataset_uri,
                "encrypted": True,
                "kbs_resource_path": "default/key/data",
                "hash": hashlib.sha3_256(IRIS).hexdigest(),
                **dataset,
            }
        ],
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(document))
    return path


def _no_plaintext_left(keys: dict[str, Any]) -> None:
    assert list(keys["tmp"].iterdir()) == [], "the run left files in TMPDIR"


def test_https_and_file_sources(
    tmp_path: Path, cli: Any, keys: dict[str, Any], https_server: FileServer, tls_files: TlsFiles
) -> None:
    (tmp_path / "algo.enc").write_bytes(_encrypt(ALGORITHM, keys["algo"]))
    data_uri = https_server.publish("iris.csv.enc", _encrypt(IRIS, keys["data"]))
    manifest = _manifest(tmp_path, f"file://{tmp_path / 'algo.enc'}", data_uri)
    result = cli(
        "--json",
        "run",
        manifest,
        "--keys-file",
        keys["file"],
        "--results",
        tmp_path / "out",
        "--cert-file",
        tls_files.ca_file,
    )
    report = result.json
    assert report["state"] == "Complete"
    assert report["states"] == [
        "Idle",
        "ReceivingManifest",
        "ReceivingAlgorithm",
        "ReceivingData",
        "Running",
        "ConsumingResults",
        "Complete",
    ]
    assert report["resources"][1]["sha3_256"] == hashlib.sha3_256(IRIS).hexdigest()
    assert report["algorithm"]["exit_code"] == 0
    assert sorted(report["results"]["files"]) == ["report.json", "summary.txt"]
    assert "nearest-centroid accuracy" in (tmp_path / "out" / "summary.txt").read_text()
    assert "iris: 150 rows" in result.stderr
    _no_plaintext_left(keys)


def test_s3_and_gcs_sources(tmp_path: Path, cli: Any, keys: dict[str, Any], s3_env: Process, gcs_env: Process) -> None:
    import boto3
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    s3 = boto3.client("s3", endpoint_url=s3_env.url)
    s3.create_bucket(Bucket="run-data")
    s3.put_object(Bucket="run-data", Key="iris.csv.enc", Body=_encrypt(IRIS, keys["data"]))
    gcs = storage.Client(project="test", credentials=AnonymousCredentials())
    gcs.create_bucket("run-algos").blob("iris.py.enc").upload_from_string(_encrypt(ALGORITHM, keys["algo"]))
    manifest = _manifest(tmp_path, "gs://run-algos/iris.py.enc", "s3://run-data/iris.csv.enc")
    result = cli("run", manifest, "--keys-file", keys["file"], "--results", tmp_path / "out")
    assert result.stdout.strip() == str(tmp_path / "out")
    assert (tmp_path / "out" / "results.zip").is_file()
    _no_plaintext_left(keys)


def test_retry_then_success_and_bin(tmp_path: Path, cli: Any, keys: dict[str, Any], http_server: FileServer) -> None:
    algo_uri = http_server.publish("algo.enc", _encrypt(BIN_ALGORITHM.encode(), keys["algo"]), Behaviour(fail_first=1))
    data_uri = http_server.publish("d.enc", _encrypt(b"12345", keys["data"]), Behaviour(truncate_first=1))
    document = {
        "algorithm": {
            "uri": algo_uri,
            "encrypted": True,
            "kbs_resource_path": "default/key/algo",
            "algo_type": "bin",
            "algo_args": ["a", "b"],
            "hash": hashlib.sha3_256(BIN_ALGORITHM.encode()).hexdigest(),
        },
        "datasets": [
            {
                "uri": data_uri,
                "encrypted": True,
                "kbs_resource_path": "default/key/data",
                "hash": hashlib.sha3_256(b"12345").hexdigest(),
            }
        ],
    }
    (tmp_path / "m.yaml").write_text(json.dumps(document))
    cli("run", tmp_path / "m.yaml", "--keys-file", keys["file"], "--results", tmp_path / "out")
    assert (tmp_path / "out" / "bytes.txt").read_text().strip() == "5"
    assert (tmp_path / "out" / "args.txt").read_text() == "args: a b\n"


def test_hash_mismatch_runs_nothing(tmp_path: Path, cli: Any, keys: dict[str, Any], http_server: FileServer) -> None:
    (tmp_path / "algo.enc").write_bytes(_encrypt(ALGORITHM, keys["algo"]))
    data_uri = http_server.publish("iris.csv.enc", _encrypt(IRIS + b"tampered,row\n", keys["data"]))
    manifest = _manifest(tmp_path, f"file://{tmp_path / 'algo.enc'}", data_uri)
    result = cli("run", manifest, "--keys-file", keys["file"], "--results", tmp_path / "out", expect=7)
    assert "hash mismatch" in result.stderr and "iris: 150 rows" not in result.stderr
    assert not (tmp_path / "out").exists()
    _no_plaintext_left(keys)


def test_wrong_key_missing_dataset_and_failing_algorithm(
    tmp_path: Path, cli: Any, keys: dict[str, Any], http_server: FileServer
) -> None:
    (tmp_path / "algo.enc").write_bytes(_encrypt(ALGORITHM, keys["algo"]))
    algo_uri = f"file://{tmp_path / 'algo.enc'}"
    wrong = http_server.publish("wrong.enc", _encrypt(IRIS, os.urandom(32)))
    result = cli("run", _manifest(tmp_path, algo_uri, wrong), "--keys-file", keys["file"], expect=7)
    assert "authentication" in result.stderr
    result = cli(
        "run", _manifest(tmp_path, algo_uri, f"{http_server.url}/missing.enc"), "--keys-file", keys["file"], expect=6
    )
    assert "not found" in result.stderr
    failing = b"import sys\nsys.exit(3)\n"
    (tmp_path / "algo.enc").write_bytes(_encrypt(failing, keys["algo"]))
    data_uri = http_server.publish("iris.csv.enc", _encrypt(IRIS, keys["data"]))
    manifest = _manifest(tmp_path, algo_uri, data_uri)
    document = json.loads(manifest.read_text())
    document["algorithm"]["hash"] = hashlib.sha3_256(failing).hexdigest()
    manifest.write_text(json.dumps(document))
    result = cli("--json", "run", manifest, "--keys-file", keys["file"], "--results", tmp_path / "out", expect=9)
    assert result.json["state"] == "Failed" and result.json["error"]["exit_code"] == 9
    assert "exited with 3" in result.stderr
    _no_plaintext_left(keys)


def test_stalled_server_times_out(tmp_path: Path, cli: Any, keys: dict[str, Any], http_server: FileServer) -> None:
    (tmp_path / "algo.enc").write_bytes(_encrypt(ALGORITHM, keys["algo"]))
    data_uri = http_server.publish("slow.enc", b"x", Behaviour(stall_seconds=3))
    manifest = _manifest(tmp_path, f"file://{tmp_path / 'algo.enc'}", data_uri)
    result = cli("run", manifest, "--keys-file", keys["file"], "--network-timeout", "0.5", "--retries", "0", expect=4)
    assert "Timeout" in result.stderr


def test_plaintext_needs_no_keys_but_encrypted_does(tmp_path: Path, cli: Any, http_server: FileServer) -> None:
    uri = http_server.publish("algo.sh", BIN_ALGORITHM.encode())
    digest = hashlib.sha3_256(BIN_ALGORITHM.encode()).hexdigest()
    (tmp_path / "m.json").write_text(json.dumps({"algorithm": {"uri": uri, "hash": digest}}))
    cli("run", tmp_path / "m.json", "--results", tmp_path / "out")
    assert (tmp_path / "out" / "bytes.txt").read_text().strip() == "0"
    (tmp_path / "m.json").write_text(
        json.dumps({"algorithm": {"uri": uri, "encrypted": True, "kbs_resource_path": "a/b/c", "hash": digest}})
    )
    result = cli("run", tmp_path / "m.json", "--results", tmp_path / "out2", expect=3)
    assert "--keys-file" in result.stderr and "a/b/c" in result.stderr


def test_unhashed_resources_are_refused_before_download_unless_allowed(
    tmp_path: Path, cli: Any, http_server: FileServer
) -> None:
    uri = http_server.publish("algo.sh", BIN_ALGORITHM.encode())
    (tmp_path / "m.json").write_text(json.dumps({"algorithm": {"uri": uri}}))
    result = cli("run", tmp_path / "m.json", "--results", tmp_path / "out", expect=3)
    assert "no hash" in result.stderr and "--allow-unverified" in result.stderr
    assert http_server.requests == []  # refused before anything was downloaded
    result = cli("--json", "run", tmp_path / "m.json", "--results", tmp_path / "out", "--allow-unverified")
    assert "WITHOUT an integrity check" in result.stderr
    assert [r["verified"] for r in result.json["resources"]] == [False]


def _kbs_manifest(tmp_path: Path, kbs_url: str, algo_uri: str, data_uri: str) -> Path:
    manifest = _manifest(tmp_path, algo_uri, data_uri)
    document = json.loads(manifest.read_text())
    document["kbs"] = {"url": kbs_url}
    manifest.write_text(json.dumps(document))
    return manifest


def test_run_with_the_kbs_double(
    tmp_path: Path, cli: Any, keys: dict[str, Any], devkbs: Any, http_server: FileServer
) -> None:
    from cococtl.kbs.admin import AdminCredentials, KbsAdmin
    from cococtl.kbs.client import KbsClient
    from cococtl.policy.builtin import ALLOW_ALL

    admin = KbsAdmin(KbsClient(devkbs.url), AdminCredentials())
    admin.set_resource("default/key/algo", keys["algo"])
    admin.set_resource("default/key/data", keys["data"])
    algo_uri = http_server.publish("algo.enc", _encrypt(ALGORITHM, keys["algo"]))
    data_uri = http_server.publish("iris.csv.enc", _encrypt(IRIS, keys["data"]))
    manifest = _kbs_manifest(tmp_path, devkbs.url, algo_uri, data_uri)
    result = cli("run", manifest, "--tee", "sample", "--results", tmp_path / "denied", expect=5)
    assert "denied by the KBS resource policy" in result.stderr and "iris: 150 rows" not in result.stderr
    admin.set_resource_policy(ALLOW_ALL)
    report = cli("--json", "run", manifest, "--tee", "sample", "--results", tmp_path / "out").json
    assert report["state"] == "Complete"
    (attestation,) = report["attestation"]
    assert attestation["kbs"] == devkbs.url and attestation["tee"] == "sample"
    assert attestation["requests"] == 2 + 2 and attestation["claims"]["status"] == {"cpu0": "contraindicated"}
    admin.set_resource("default/key/data", os.urandom(32))
    cli("run", manifest, "--tee", "sample", "--results", tmp_path / "wrong", expect=7)
    _no_plaintext_left(keys)


def test_oci_algorithm_and_dataset_images(tmp_path: Path, cli: Any, keys: dict[str, Any]) -> None:
    from cococtl.oci.image import encrypt_image
    from cococtl.oci.layout import parse_reference
    from tests.oci_images import build_image

    build_image(tmp_path / "algo", [{"lib/requirements.txt": b""}, {"app/iris.py": ALGORITHM, "app/README.md": b"x"}])
    encrypt_image(
        parse_reference(f"oci:{tmp_path / 'algo'}"),
        parse_reference(f"oci:{tmp_path / 'algo-enc'}:1"),
        keys["algo"],
        "kbs:///default/key/algo",
    )
    build_image(tmp_path / "data", [{"data/iris.csv": IRIS}])
    encrypt_image(
        parse_reference(f"oci:{tmp_path / 'data'}"),
        parse_reference(f"oci:{tmp_path / 'data-enc'}:1"),
        keys["data"],
        "kbs:///default/key/data",
    )
    document = {
        "computation_id": "oci",
        "algorithm": {
            "uri": f"oci:{tmp_path / 'algo-enc'}:1",
            "encrypted": True,
            "algo_type": "python",
            "hash": hashlib.sha3_256(ALGORITHM).hexdigest(),
        },
        "datasets": [
            {
                "uri": f"oci:{tmp_path / 'data-enc'}:1",
                "encrypted": True,
                "filename": "iris.csv",
                "hash": hashlib.sha3_256(IRIS).hexdigest(),
            }
        ],
    }
    (tmp_path / "m.json").write_text(json.dumps(document))
    report = cli("--json", "run", tmp_path / "m.json", "--keys-file", keys["file"], "--results", tmp_path / "out").json
    assert report["state"] == "Complete"
    assert [r["type"] for r in report["resources"]] == ["oci-image", "oci-image"]
    assert "150 rows" in (tmp_path / "out" / "summary.txt").read_text()
    _no_plaintext_left(keys)


def test_oci_algorithm_from_the_registry(
    tmp_path: Path, cli: Any, keys: dict[str, Any], registry: Process, http_server: FileServer
) -> None:
    import subprocess

    from cococtl.oci.image import encrypt_image
    from cococtl.oci.layout import parse_reference
    from tests.oci_images import build_image

    build_image(tmp_path / "algo", [{"app/iris.py": ALGORITHM}])
    encrypt_image(
        parse_reference(f"oci:{tmp_path / 'algo'}"),
        parse_reference(f"oci:{tmp_path / 'enc'}:1"),
        keys["algo"],
        "kbs:///default/key/algo",
    )
    remote = f"{registry.url}/cococtl/iris-algo:1"
    subprocess.run(
        [
            "skopeo",
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            f"oci:{tmp_path / 'enc'}:1",
            f"docker://{remote}",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data_uri = http_server.publish("iris.csv.enc", _encrypt(IRIS, keys["data"]))
    document = {
        "computation_id": "registry",
        "algorithm": {
            # Go's url.Parse refuses "127.0.0.1:PORT/repo" (colon in the first segment): the type must be given.
            "type": "oci-image",
            "uri": remote,
            "encrypted": True,
            "algo_type": "python",
            "hash": hashlib.sha3_256(ALGORITHM).hexdigest(),
        },
        "datasets": [
            {
                "uri": data_uri,
                "encrypted": True,
                "kbs_resource_path": "default/key/data",
                "hash": hashlib.sha3_256(IRIS).hexdigest(),
            }
        ],
    }
    (tmp_path / "m.json").write_text(json.dumps(document))
    report = cli(
        "--json",
        "run",
        tmp_path / "m.json",
        "--keys-file",
        keys["file"],
        "--results",
        tmp_path / "out",
        "--no-registry-tls-verify",
    ).json
    assert report["state"] == "Complete" and report["resources"][0]["uri"] == f"docker://{remote}"
    assert "150 rows" in (tmp_path / "out" / "summary.txt").read_text()
    _no_plaintext_left(keys)


def test_go_form_manifest_and_progress_on_a_tty(tmp_path: Path, keys: dict[str, Any], http_server: FileServer) -> None:
    from tests.ptys import run_with_tty_stderr

    (tmp_path / "algo.enc").write_bytes(_encrypt(ALGORITHM, keys["algo"]))
    data_uri = http_server.publish("iris.csv.enc", _encrypt(IRIS, keys["data"]))
    go_form = {  # Cocos' agent.Computation JSON: source{}, per-resource kbs, hash as 32 integers
        "id": "7",
        "name": "go form",
        "algorithm": {
            "source": {
                "url": f"file://{tmp_path / 'algo.enc'}",
                "kbs_resource_path": "default/key/algo",
                "encrypted": True,
            },
            "algo_type": "python",
            "kbs": {"url": "http://127.0.0.1:1", "enabled": True},
            "hash": list(hashlib.sha3_256(ALGORITHM).digest()),
        },
        "datasets": [
            {
                "source": {"url": data_uri, "kbs_resource_path": "default/key/data", "encrypted": True},
                "filename": "dataset_0.csv",
                "kbs": {"url": "http://127.0.0.1:1", "enabled": True},
                "hash": list(hashlib.sha3_256(IRIS).digest()),
            }
        ],
    }
    (tmp_path / "go.json").write_text(json.dumps(go_form))
    argv = [
        "cococtl",
        "run",
        str(tmp_path / "go.json"),
        "--keys-file",
        str(keys["file"]),
        "--results",
        str(tmp_path / "out"),
    ]
    returncode, seen, stdout = run_with_tty_stderr(argv)
    assert returncode == 0, seen.decode(errors="replace")
    assert b"iris.csv.enc" in seen and b"iris: 150 rows" in seen  # the bar names the resource
    assert stdout.decode().strip() == str(tmp_path / "out")
    _no_plaintext_left(keys)


def test_protojson_yaml_manifest(tmp_path: Path, cli: Any, keys: dict[str, Any], http_server: FileServer) -> None:
    import yaml

    algo_uri = http_server.publish("algo.enc", _encrypt(ALGORITHM, keys["algo"]))
    data_uri = http_server.publish("iris.csv.enc", _encrypt(IRIS, keys["data"]))
    document = {  # protojson camelCase (bytes as base64), written as YAML
        "id": "8",
        "algorithm": {
            "source": {"url": algo_uri, "kbsResourcePath": "default/key/algo", "encrypted": True},
            "kbs": {"enabled": True},
            "algoType": "python",
            "algoArgs": [],
            "hash": base64.b64encode(hashlib.sha3_256(ALGORITHM).digest()).decode(),
        },
        "datasets": [
            {
                "source": {"url": data_uri, "kbsResourcePath": "default/key/data", "encrypted": True},
                "kbs": {"enabled": True},
                "filename": "iris.csv",
                "hash": base64.b64encode(hashlib.sha3_256(IRIS).digest()).decode(),
            }
        ],
        "resultConsumers": [{"userKey": "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="}],
    }
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(document))
    report = cli("--json", "run", tmp_path / "m.yaml", "--keys-file", keys["file"], "--results", tmp_path / "out").json
    assert report["state"] == "Complete" and report["computation_id"] == "8"


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_interrupted_run_leaves_no_plaintext(tmp_path: Path, keys: dict[str, Any], signal_name: str) -> None:
    import signal
    import subprocess
    import time

    slow = b"#!/bin/sh\necho started\nsleep 30\n"
    (tmp_path / "algo.enc").write_bytes(_encrypt(slow, keys["algo"]))
    (tmp_path / "data.enc").write_bytes(_encrypt(IRIS, keys["data"]))
    document = {
        "algorithm": {
            "uri": f"file://{tmp_path / 'algo.enc'}",
            "encrypted": True,
            "kbs_resource_path": "default/key/algo",
            "algo_type": "bin",
            "hash": hashlib.sha3_256(slow).hexdigest(),
        },
        "datasets": [
            {
                "uri": f"file://{tmp_path / 'data.enc'}",
                "encrypted": True,
                "kbs_resource_path": "default/key/data",
                "hash": hashlib.sha3_256(IRIS).hexdigest(),
            }
        ],
    }
    (tmp_path / "m.json").write_text(json.dumps(document))
    proc = subprocess.Popen(
        [
            "cococtl",
            "run",
            str(tmp_path / "m.json"),
            "--keys-file",
            str(keys["file"]),
            "--results",
            str(tmp_path / "out"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(keys["tmp"])},
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and b"started" not in proc.stderr.readline():
        pass
    proc.send_signal(getattr(signal, signal_name))
    _, stderr = proc.communicate(timeout=30)
    assert not (tmp_path / "out").exists()
    if signal_name != "SIGKILL":
        assert proc.returncode == 130, stderr
        assert b"Traceback" not in stderr
        _no_plaintext_left(keys)
        return
    # SIGKILL cannot be caught: the work directory (plaintext) is left, and the next run removes it.
    left = list(keys["tmp"].glob("cococtl-run-*"))
    assert len(left) == 1 and (left[0] / "algo").exists()
    (tmp_path / "next.json").write_text(json.dumps({"algorithm": {"uri": "file:///nonexistent", "hash": "00" * 32}}))
    rerun = subprocess.run(
        ["cococtl", "run", str(tmp_path / "next.json"), "--results", str(tmp_path / "out2")],
        capture_output=True,
        env={**os.environ, "TMPDIR": str(keys["tmp"])},
        timeout=60,
        check=False,
    )
    assert f"removed {left[0]}".encode() in rerun.stderr and b"was killed" in rerun.stderr
    assert not left[0].exists()


def test_python_with_requirements_and_wasm_end_to_end(tmp_path: Path, cli: Any, keys: dict[str, Any]) -> None:
    from cococtl.oci.image import encrypt_image
    from cococtl.oci.layout import parse_reference
    from tests.algorithms import PYTHON_ALGORITHM, WAT_ALGORITHM, build_helper_wheel, offline_requirements
    from tests.oci_images import build_image

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = build_helper_wheel(wheels)
    build_image(
        tmp_path / "py",
        [{"app/requirements.txt": offline_requirements(wheel).encode(), "app/main.py": PYTHON_ALGORITHM.encode()}],
    )
    encrypt_image(
        parse_reference(f"oci:{tmp_path / 'py'}"),
        parse_reference(f"oci:{tmp_path / 'py-enc'}:1"),
        keys["algo"],
        "kbs:///default/key/algo",
    )
    (tmp_path / "data.enc").write_bytes(_encrypt(b"0123456789", keys["data"]))
    dataset = {
        "uri": f"file://{tmp_path / 'data.enc'}",
        "encrypted": True,
        "kbs_resource_path": "default/key/data",
        "hash": hashlib.sha3_256(b"0123456789").hexdigest(),
    }
    (tmp_path / "py.json").write_text(
        json.dumps(
            {
                "algorithm": {
                    "uri": f"oci:{tmp_path / 'py-enc'}:1",
                    "encrypted": True,
                    "algo_type": "python",
                    "algo_args": ["a"],
                    "hash": hashlib.sha3_256(PYTHON_ALGORITHM.encode()).hexdigest(),
                },
                "datasets": [dataset],
            }
        )
    )
    result = cli("run", tmp_path / "py.json", "--keys-file", keys["file"], "--results", tmp_path / "py-out")
    assert (tmp_path / "py-out" / "summary.txt").read_text() == "bytes=10 args=a\n"
    assert "a warning on stderr" in result.stderr
    (tmp_path / "algo.enc").write_bytes(_encrypt(WAT_ALGORITHM.encode(), keys["algo"]))
    (tmp_path / "wasm.json").write_text(
        json.dumps(
            {
                "algorithm": {
                    "uri": f"file://{tmp_path / 'algo.enc'}",
                    "encrypted": True,
                    "algo_type": "wasm",
                    "kbs_resource_path": "default/key/algo",
                    "hash": hashlib.sha3_256(WAT_ALGORITHM.encode()).hexdigest(),
                },
                "datasets": [dataset],
            }
        )
    )
    cli("run", tmp_path / "wasm.json", "--keys-file", keys["file"], "--results", tmp_path / "wasm-out")
    assert (tmp_path / "wasm-out" / "out.txt").read_bytes() == b"wasm ok\n"
    _no_plaintext_left(keys)


def test_oci_python_algorithm_keeps_its_helper_modules(tmp_path: Path, cli: Any, keys: dict[str, Any]) -> None:
    # cocos pkg/oci/extract.go isAlgorithmFile: every *.py of the image is extracted (the first found is the
    # algorithm), and agent/service.go copies the extracted tree into the work directory before running `algo`.
    from cococtl.oci.image import encrypt_image
    from cococtl.oci.layout import parse_reference
    from tests.oci_images import build_image

    main = b"import helper\nfrom pkg import util\nopen('results/out.txt', 'w').write(helper.X + util.Y)\n"
    build_image(
        tmp_path / "img",
        [{"main.py": main, "helper.py": b"X = 'helper '\n", "pkg/util.py": b"Y = 'util'\n"}],
    )
    encrypt_image(
        parse_reference(f"oci:{tmp_path / 'img'}"),
        parse_reference(f"oci:{tmp_path / 'img-enc'}:1"),
        keys["algo"],
        "kbs:///default/key/algo",
    )
    document = {
        "algorithm": {
            "uri": f"oci:{tmp_path / 'img-enc'}:1",
            "encrypted": True,
            "algo_type": "python",
            "hash": hashlib.sha3_256(main).hexdigest(),
        }
    }
    (tmp_path / "m.json").write_text(json.dumps(document))
    cli("run", tmp_path / "m.json", "--keys-file", keys["file"], "--results", tmp_path / "out")
    assert (tmp_path / "out" / "out.txt").read_text() == "helper util"
    _no_plaintext_left(keys)


@pytest.mark.parametrize("ending", ["exit 0", "sleep 30"])
def test_nothing_the_algorithm_started_survives(tmp_path: Path, cli: Any, http_server: FileServer, ending: str) -> None:
    # A grandchild that leaves the process group with setsid is still ended, on success and on --timeout.
    pid_file = tmp_path / "grandchild.pid"
    script = f"#!/bin/sh\nsetsid sleep 300 </dev/null >/dev/null 2>&1 &\necho $! > {pid_file}\n{ending}\n".encode()
    uri = http_server.publish("algo.sh", script)
    digest = hashlib.sha3_256(script).hexdigest()
    (tmp_path / "m.json").write_text(json.dumps({"algorithm": {"uri": uri, "algo_type": "bin", "hash": digest}}))
    expect = 0 if ending == "exit 0" else 9
    cli("run", tmp_path / "m.json", "--results", tmp_path / "out", "--timeout", "2", expect=expect)
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
        if stat.split(") ", 1)[-1].startswith("Z"):
            break  # a zombie waiting for its reaper is dead
        time.sleep(0.05)
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else "gone"
    assert stat == "gone" or stat.split(") ", 1)[-1].startswith("Z")


def test_upload_mode_runs_local_files_with_the_same_hash_checks(tmp_path: Path, cli: Any) -> None:
    # cvms-test -algo-path/-data-paths, cocos-cli algo/data: resources without a download come from local files.
    (tmp_path / "algo.sh").write_text(BIN_ALGORITHM)
    (tmp_path / "d.csv").write_bytes(b"1234567")
    document = {
        "id": "upload",
        "algorithm": {"hash": list(hashlib.sha3_256(BIN_ALGORITHM.encode()).digest()), "algo_type": "bin"},
        "datasets": [{"filename": "d.csv", "hash": list(hashlib.sha3_256(b"1234567").digest())}],
    }
    (tmp_path / "m.json").write_text(json.dumps(document))
    validated = cli("--json", "manifest", "validate", tmp_path / "m.json").json
    assert validated["valid"] and all("waits for an upload" in note for note in validated["notes"])
    result = cli("run", tmp_path / "m.json", "--results", tmp_path / "out", expect=3)
    assert "--algorithm FILE" in result.stderr
    cli("run", tmp_path / "m.json", "--results", tmp_path / "out",
        "--algorithm", tmp_path / "algo.sh", "--dataset", f"d.csv={tmp_path / 'd.csv'}")  # fmt: skip
    assert (tmp_path / "out" / "bytes.txt").read_text().strip() == "7"
    (tmp_path / "d.csv").write_bytes(b"tampered")
    result = cli("run", tmp_path / "m.json", "--results", tmp_path / "out2",
                 "--algorithm", tmp_path / "algo.sh", "--dataset", f"d.csv={tmp_path / 'd.csv'}", expect=7)  # fmt: skip
    assert "hash mismatch" in result.stderr
    wrong = f"other.csv={tmp_path / 'd.csv'}"
    result = cli("run", tmp_path / "m.json", "--results", tmp_path / "out3",
                 "--algorithm", tmp_path / "algo.sh", "--dataset", wrong, expect=3)  # fmt: skip
    assert "other.csv" in result.stderr


def test_a_manifest_without_algorithm_waits_for_an_upload_like_go(tmp_path: Path, cli: Any) -> None:
    # cocos cli/checksum_test.go's own manifest has no algorithm: Go decodes the zero value (no source, zero
    # hash), so the agent waits for an upload whose hash can never match; cococtl says the same at each step.
    (tmp_path / "m.json").write_text(json.dumps({"id": "1234", "name": "Example Computation"}))
    validated = cli("--json", "manifest", "validate", tmp_path / "m.json").json
    assert validated["valid"] and any("$.algorithm" in n and "--algorithm FILE" in n for n in validated["notes"])
    assert "--algorithm FILE" in cli("run", tmp_path / "m.json", "--results", tmp_path / "out", expect=3).stderr
    (tmp_path / "algo.sh").write_text(BIN_ALGORITHM)
    upload = ("--algorithm", tmp_path / "algo.sh")
    refused = cli("run", tmp_path / "m.json", "--results", tmp_path / "out", *upload, expect=3)
    assert "no hash" in refused.stderr and not (tmp_path / "out").exists()
    cli("-q", "run", tmp_path / "m.json", "--results", tmp_path / "out", *upload, "--allow-unverified")
    assert (tmp_path / "out" / "bytes.txt").read_text().strip() == "0"


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_dataset_that_is_not_a_regular_file_is_refused_at_once(tmp_path: Path, cli: Any, kind: str) -> None:
    # file:///dev/zero would fill the disk and a FIFO would block: both are refused before any byte is read.
    if kind == "device":
        source = Path("/dev/zero")
    else:
        source = tmp_path / "fifo"
        os.mkfifo(source)
    (tmp_path / "algo.sh").write_text(BIN_ALGORITHM)
    document = {
        "algorithm": {"uri": f"file://{tmp_path / 'algo.sh'}", "algo_type": "bin",
                      "hash": hashlib.sha3_256(BIN_ALGORITHM.encode()).hexdigest()},
        "datasets": [{"uri": f"file://{source}", "filename": "d.bin", "hash": "11" * 32}],
    }  # fmt: skip
    (tmp_path / "m.json").write_text(json.dumps(document))
    started = time.monotonic()
    result = cli("run", tmp_path / "m.json", "--results", tmp_path / "out", expect=3)
    assert "not a regular file" in result.stderr and time.monotonic() - started < 10


def test_a_download_over_the_limit_is_refused_with_its_size(tmp_path: Path, cli: Any, http_server: FileServer) -> None:
    # --max-download-size (COCOCTL_MAX_DOWNLOAD_SIZE): a server's Content-Length over the limit is refused before
    # its body is read, with both figures; nothing runs and nothing is left.
    script = BIN_ALGORITHM.encode()
    uri = http_server.publish("algo.sh", script + b"#" * 4096)
    document = {"algorithm": {"uri": uri, "algo_type": "bin", "hash": "11" * 32}}
    (tmp_path / "m.json").write_text(json.dumps(document))
    result = cli("run", tmp_path / "m.json", "--results", tmp_path / "out", "--max-download-size", "1KiB", expect=3)
    assert "over the download limit of 1.0 KiB" in result.stderr and "--max-download-size" in result.stderr
    assert not (tmp_path / "out").exists()
    bad = cli("run", tmp_path / "m.json", "--results", tmp_path / "out", "--max-download-size", "lots", expect=3)
    assert "is not a size" in bad.stderr
