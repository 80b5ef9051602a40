"""OCI images as ``algo_type: docker`` algorithms, the way the Cocos agent runs them (issue #11, item 6).

Cocos (ultravioletrs/cocos at 747aaaa5): the decrypted image becomes a docker-archive with
``skopeo copy oci:DIR docker-archive:FILE`` (agent/service.go:955-965, pkg/oci/skopeo.go:114-128), the
manifest's hash covers that archive (agent/service.go:990-997, checked at :471-478), and the runner loads it into
the engine, runs it with datasets/ and results/ bound at /cocos/datasets and /cocos/results, waits, and removes
container and image (agent/algorithm/docker/docker.go:51-175), passing no arguments
(agent/runner/service/service.go:71-72).

cococtl's docker runner drives the ``docker`` CLI, so the engine here is a fake ``docker`` on PATH that records
its argv (and what it was asked to load) and plays a container that writes a result file. skopeo is real.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.oci_images import build_image

pytestmark = pytest.mark.integration

FAKE_DOCKER = r"""#!{python}
import hashlib, json, os, sys
log = {log!r}
args = sys.argv[1:]
entry = {{"argv": args}}
if args[:2] == ["load", "-i"]:
    data = open(args[2], "rb").read()
    entry["sha3_256"] = hashlib.sha3_256(data).hexdigest()
with open(log, "a") as handle:
    handle.write(json.dumps(entry) + "\n")
if args[:1] == ["info"]:
    print("27.0.0")
elif args[:2] == ["load", "-i"]:
    print("Loaded image ID: sha256:" + "ab" * 32)
elif args[:1] == ["run"]:
    mounts = [args[i + 1] for i, a in enumerate(args) if a == "-v"]
    results = next(m.split(":")[0] for m in mounts if ":/cocos/results" in m)
    datasets = next(m.split(":")[0] for m in mounts if ":/cocos/datasets" in m)
    names = sorted(os.listdir(datasets))
    with open(os.path.join(results, "out.txt"), "w") as handle:
        handle.write("datasets: " + ",".join(names) + "\n")
    print("hello from the container")
    sys.exit({run_exit})
"""


def _fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, run_exit: int = 0) -> Path:
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "docker-calls.jsonl"
    script = bin_dir / "docker"
    script.write_text(FAKE_DOCKER.format(python=sys.executable, log=str(log), run_exit=run_exit))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def _calls(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def _skopeo() -> str:
    return os.environ.get("COCOCTL_SKOPEO", "skopeo")


def _cocos_archive_sha3(layout: Path, tmp_path: Path) -> str:
    """What the agent hashes: skopeo's docker-archive of the (decrypted) image, pkg/oci/skopeo.go:116."""
    archive = tmp_path / "cocos-image.tar"
    subprocess.run(
        [
            _skopeo(),
            "copy",
            "--insecure-policy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"oci:{layout}",
            f"docker-archive:{archive}",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    digest = hashlib.sha3_256(archive.read_bytes()).hexdigest()
    archive.unlink()
    return digest


@pytest.fixture
def image(tmp_path: Path) -> dict[str, Any]:
    """A plaintext image, its encrypted copy (tag 1) and an offline_fs keys file for it."""
    from cococtl.oci.image import encrypt_image
    from cococtl.oci.layout import parse_reference

    build_image(tmp_path / "img", [{"bin/app": b"#!/bin/sh\necho hi\n"}, {"etc/app.conf": b"x=1\n"}])
    key = os.urandom(32)
    encrypt_image(
        parse_reference(f"oci:{tmp_path / 'img'}"),
        parse_reference(f"oci:{tmp_path / 'enc'}:1"),
        key,
        "kbs:///default/key/algo",
    )
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"default/key/algo": base64.b64encode(key).decode()}))
    return {"plain": tmp_path / "img", "encrypted": tmp_path / "enc", "keys": keys_file}


def _manifest(tmp_path: Path, uri: str, digest: str, *, encrypted: bool, args: list[str] | None = None) -> Path:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    document = {
        "computation_id": "docker oci/1",  # not a valid container name as it is
        "algorithm": {
            "uri": uri,
            "encrypted": encrypted,
            "algo_type": "docker",
            "algo_args": args or [],
            "hash": digest,
        },
        "datasets": [
            {
                "uri": f"file://{tmp_path / 'data.csv'}",
                "filename": "data.csv",
                "hash": hashlib.sha3_256(b"a,b\n1,2\n").hexdigest(),
            }
        ],
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(document))
    return path


def _assert_engine_calls(calls: list[dict[str, Any]], archive_sha3: str) -> None:
    argvs = [c["argv"] for c in calls]
    assert argvs[0] == ["info", "--format", "{{.ServerVersion}}"]
    # docker.go:67 ImageLoad of the archive the manifest hash covers
    assert argvs[1][:2] == ["load", "-i"] and calls[1]["sha3_256"] == archive_sha3
    run = argvs[2]
    assert run[0] == "run" and run[-1] == "sha256:" + "ab" * 32  # the image docker load reported
    name = run[run.index("--name") + 1]
    assert name.startswith("cococtl-docker_oci_1-")  # sanitised computation id (docker.go:122 names it by id)
    mounts = [run[i + 1] for i, a in enumerate(run) if a == "-v"]
    # docker.go:110-121: datasets and results bound at /cocos/datasets and /cocos/results
    assert [m.split(":", 1)[1] for m in mounts] == ["/cocos/datasets:ro", "/cocos/results"]
    # docker.go:164-171: the container, then the image, are removed whatever happened
    assert argvs[3:] == [["rm", "-f", name], ["rmi", "-f", "sha256:" + "ab" * 32]]


def test_encrypted_oci_docker_algorithm_runs(
    tmp_path: Path, cli: Any, image: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _fake_docker(tmp_path, monkeypatch)
    archive_sha3 = _cocos_archive_sha3(image["plain"], tmp_path)
    manifest = _manifest(tmp_path, f"oci:{image['encrypted']}:1", archive_sha3, encrypted=True, args=["--x"])
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    result = cli("--json", "run", manifest, "--keys-file", image["keys"], "--results", tmp_path / "out", expect=None)
    assert result.exit_code == 0, result.stderr
    report = result.json
    assert report["state"] == "Complete"
    assert report["resources"][0]["sha3_256"] == archive_sha3
    assert report["algorithm"]["type"] == "docker"
    calls = _calls(log)
    _assert_engine_calls(calls, archive_sha3)
    assert "--x" not in calls[2]["argv"]  # agent/runner/service/service.go:72: no arguments for docker
    assert (tmp_path / "out" / "out.txt").read_text() == "datasets: data.csv\n"
    assert "hello from the container" in result.stdout + result.stderr
    assert (tmp_path / "out" / "results.zip").is_file()
    assert list(scratch.iterdir()) == []  # the work directory (decrypted image, archive) is gone


def test_plain_oci_docker_algorithm_runs(
    tmp_path: Path, cli: Any, image: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _fake_docker(tmp_path, monkeypatch)
    archive_sha3 = _cocos_archive_sha3(image["plain"], tmp_path)
    manifest = _manifest(tmp_path, f"oci:{image['plain']}", archive_sha3, encrypted=False)
    result = cli("--json", "run", manifest, "--results", tmp_path / "out", expect=None)
    assert result.exit_code == 0, result.stderr
    _assert_engine_calls(_calls(log), archive_sha3)


def test_archive_hash_mismatch_runs_nothing(
    tmp_path: Path, cli: Any, image: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _fake_docker(tmp_path, monkeypatch)
    manifest = _manifest(tmp_path, f"oci:{image['encrypted']}:1", "11" * 32, encrypted=True)
    result = cli("run", manifest, "--keys-file", image["keys"], "--results", tmp_path / "out", expect=7)
    assert "docker-archive" in result.stderr
    assert _calls(log) == []  # agent/service.go:471-478: a mismatch fails before anything is loaded


def test_failing_container_is_exit_9_and_still_cleaned_up(
    tmp_path: Path, cli: Any, image: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _fake_docker(tmp_path, monkeypatch, run_exit=3)
    archive_sha3 = _cocos_archive_sha3(image["plain"], tmp_path)
    manifest = _manifest(tmp_path, f"oci:{image['encrypted']}:1", archive_sha3, encrypted=True)
    cli("run", manifest, "--keys-file", image["keys"], "--results", tmp_path / "out", expect=9)
    argvs = [c["argv"] for c in _calls(log)]
    assert [a[0] for a in argvs] == ["info", "load", "run", "rm", "rmi"]


def test_docker_archive_bytes_do_not_depend_on_decryption(tmp_path: Path, image: dict[str, Any]) -> None:
    """The archive built from cococtl's decrypted layout is byte-identical to skopeo's from the plaintext image,
    so a hash computed the Cocos way (skopeo on the plaintext image) verifies."""
    from cococtl.compute.executors import docker_archive_from_layout
    from cococtl.oci.image import decrypt_layers

    key = base64.b64decode(json.loads(image["keys"].read_text())["default/key/algo"])
    out = tmp_path / "dec"
    out.mkdir()
    decrypt_layers(image["encrypted"], out, lambda kid: key)
    archive = tmp_path / "ours.tar"
    docker_archive_from_layout(out / "layout", archive)
    assert hashlib.sha3_256(archive.read_bytes()).hexdigest() == _cocos_archive_sha3(image["plain"], tmp_path)
    with tarfile.open(archive) as tar:
        assert "manifest.json" in tar.getnames()
