"""Interoperability with the real container tools: skopeo 1.19 built from the Go module proxy (Go ocicrypt 1.3)
and skopeo 1.9.3 + docker-registry.

Every case asserts byte-identical decrypted layers (the original digests).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cococtl.oci.image import decrypt_image, encrypt_image, inspect_image
from cococtl.oci.layout import Layout, parse_reference
from tests.integration.peers import Process, grpc_key_provider
from tests.oci_images import build_image

pytestmark = pytest.mark.integration
KID = "kbs:///default/key/img"
# skopeo 1.19 built from the Go module proxy by scripts/install-skopeo-go.sh (containers/image + ocicrypt 1.3).
SKOPEO_GO = str(Path(__file__).parents[2] / ".tools" / "bin" / "skopeo-go")


def _skopeo(binary: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [binary, "--insecure-policy", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, f"skopeo {' '.join(args)} failed: {done.stderr}"
    return done


def _skopeo_encrypt(source: str, destination: str, kek_file: Path, env: dict[str, str]) -> None:
    params = f"provider:attestation-agent:keypath={kek_file}::keyid={KID}::algorithm=A256GCM"
    _skopeo(SKOPEO_GO, "copy", "--encryption-key", params, source, destination, env=env)


def _skopeo_decrypt(source: str, destination: str, env: dict[str, str]) -> None:
    params = "provider:attestation-agent:offline_fs_kbc::null"
    _skopeo(SKOPEO_GO, "copy", "--decryption-key", params, source, destination, env=env)


def _layer_digests(directory: Path, tag: str | None = None) -> list[str]:
    _, manifest = Layout.open(directory).find_manifest(tag)
    return [layer["digest"] for layer in manifest["layers"]]


@pytest.fixture
def image(tmp_path: Path) -> Path:
    build_image(tmp_path / "src", [{"app/algo.py": b"print('hi')\n"}, {"data/d.csv": os.urandom(200_000)}], tag="v1")
    return tmp_path / "src"


@pytest.fixture
def kek(tmp_path: Path) -> tuple[bytes, Path, Path]:
    key = os.urandom(32)
    (tmp_path / "kek").write_bytes(key)
    (tmp_path / "keys.json").write_text(json.dumps({"default/key/img": base64.b64encode(key).decode()}))
    return key, tmp_path / "kek", tmp_path / "keys.json"


def _cmd_provider_config(tmp_path: Path, *args: str) -> dict[str, str]:
    config = tmp_path / "ocicrypt.conf"
    config.write_text(
        json.dumps(
            {
                "key-providers": {
                    "attestation-agent": {"cmd": {"path": shutil.which("cococtl"), "args": ["keyprovider", *args]}}
                }
            }
        )
    )
    return {"OCICRYPT_KEYPROVIDER_CONFIG": str(config)}


def test_skopeo_versions_are_the_expected_ones() -> None:
    assert "1.9" in subprocess.run(["skopeo", "--version"], capture_output=True, text=True, check=True).stdout
    assert "1.19" in subprocess.run([SKOPEO_GO, "--version"], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("via", ["args", "env"])
def test_native_encrypt_skopeo_decrypt(tmp_path: Path, image: Path, kek: tuple[bytes, Path, Path], via: str) -> None:
    key, _, keys_file = kek
    encrypt_image(parse_reference(f"oci:{image}:v1"), parse_reference(f"oci:{tmp_path / 'enc'}:v1"), key, KID)
    if via == "args":
        env = _cmd_provider_config(tmp_path, "--keys-file", str(keys_file))
    else:
        env = {**_cmd_provider_config(tmp_path), "KP_KEYS_FILE": str(keys_file)}
    _skopeo_decrypt(f"oci:{tmp_path / 'enc'}:v1", f"oci:{tmp_path / 'dec'}:v1", env)
    assert _layer_digests(tmp_path / "dec", "v1") == _layer_digests(image, "v1")


def test_skopeo_encrypt_native_decrypt(tmp_path: Path, image: Path, kek: tuple[bytes, Path, Path]) -> None:
    key, kek_file, _ = kek
    _skopeo_encrypt(
        f"oci:{image}:v1",
        f"oci:{tmp_path / 'enc'}:v1",
        kek_file,
        _cmd_provider_config(tmp_path),
    )
    report = inspect_image(parse_reference(f"oci:{tmp_path / 'enc'}:v1"), lambda kid: key)
    assert all(layer.encrypted and layer.kid == KID and layer.unwraps for layer in report.layers)
    decrypt_image(
        parse_reference(f"oci:{tmp_path / 'enc'}:v1"), parse_reference(f"oci:{tmp_path / 'dec'}:v1"), lambda kid: key
    )
    assert _layer_digests(tmp_path / "dec", "v1") == _layer_digests(image, "v1")


def test_registry_push_pull_with_debian_skopeo(
    tmp_path: Path, image: Path, kek: tuple[bytes, Path, Path], registry: Process
) -> None:
    key, _, _ = kek
    encrypt_image(parse_reference(f"oci:{image}:v1"), parse_reference(f"oci:{tmp_path / 'enc'}:v1"), key, KID)
    remote = f"docker://{registry.url}/cococtl/encrypted:v1"
    _skopeo("skopeo", "copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'enc'}:v1", remote)
    _skopeo("skopeo", "copy", "--src-tls-verify=false", remote, f"oci:{tmp_path / 'pulled'}:v1")
    assert _layer_digests(tmp_path / "pulled", "v1") == _layer_digests(tmp_path / "enc", "v1")
    decrypt_image(
        parse_reference(f"oci:{tmp_path / 'pulled'}:v1"), parse_reference(f"oci:{tmp_path / 'dec'}:v1"), lambda kid: key
    )
    assert _layer_digests(tmp_path / "dec", "v1") == _layer_digests(image, "v1")


@pytest.fixture
def grpc_provider(kek: tuple[bytes, Path, Path]) -> Iterator[int]:
    with grpc_key_provider(kek[2]) as port:
        yield port


def test_grpc_provider_round_trip_through_skopeo(
    tmp_path: Path, image: Path, kek: tuple[bytes, Path, Path], grpc_provider: int
) -> None:
    _, kek_file, _ = kek
    config = tmp_path / "grpc.conf"
    config.write_text(json.dumps({"key-providers": {"attestation-agent": {"grpc": f"127.0.0.1:{grpc_provider}"}}}))
    env = {"OCICRYPT_KEYPROVIDER_CONFIG": str(config)}
    _skopeo_encrypt(f"oci:{image}:v1", f"oci:{tmp_path / 'enc'}:v1", kek_file, env)
    _skopeo_decrypt(f"oci:{tmp_path / 'enc'}:v1", f"oci:{tmp_path / 'dec'}:v1", env)
    assert _layer_digests(tmp_path / "dec", "v1") == _layer_digests(image, "v1")


def test_skopeo_engine_with_key_provider_support(
    tmp_path: Path, image: Path, kek: tuple[bytes, Path, Path], cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, kek_file, _ = kek
    monkeypatch.setenv("COCOCTL_SKOPEO", SKOPEO_GO)
    report = cli(
        "--json",
        "encrypt",
        "image",
        f"oci:{image}:v1",
        f"oci:{tmp_path / 'enc'}:v1",
        "--engine",
        "skopeo",
        "--keyid",
        KID,
        "--key",
        kek_file,
    ).json
    assert all(layer["encrypted"] and layer["kid"] == KID for layer in report["layers"])
    decrypt_image(
        parse_reference(f"oci:{tmp_path / 'enc'}:v1"), parse_reference(f"oci:{tmp_path / 'dec'}:v1"), lambda kid: key
    )
    assert _layer_digests(tmp_path / "dec", "v1") == _layer_digests(image, "v1")


def test_skopeo_engine_without_key_provider_support_is_exit_8(
    tmp_path: Path, image: Path, kek: tuple[bytes, Path, Path], cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COCOCTL_SKOPEO", "skopeo")
    result = cli(
        "encrypt",
        "image",
        f"oci:{image}:v1",
        f"oci:{tmp_path / 'enc'}:v1",
        "--engine",
        "skopeo",
        "--keyid",
        KID,
        "--key",
        kek[1],
        expect=8,
    )
    assert "no ocicrypt key-provider support" in result.stderr and "1.9" in result.stderr


def test_native_engine_through_the_registry(
    tmp_path: Path, image: Path, kek: tuple[bytes, Path, Path], cli: Any, registry: Process
) -> None:
    _, kek_file, keys_file = kek
    remote = f"docker://{registry.url}/cococtl/native:v1"
    cli("encrypt", "image", f"oci:{image}:v1", remote, "--keyid", KID, "--key", kek_file, "--no-tls-verify")
    table = cli("inspect", remote, "--key", kek_file, "--no-tls-verify").stdout
    assert "layer 1: key unwraps" in table
    cli("decrypt", "image", remote, f"oci:{tmp_path / 'dec'}:v1", "--keys-file", keys_file, "--no-tls-verify")
    assert _layer_digests(tmp_path / "dec", "v1") == _layer_digests(image, "v1")
    result = cli("inspect", f"docker://{registry.url}/cococtl/missing:v1", "--no-tls-verify", expect=6)
    assert "error:" in result.stderr


def test_skopeo_engine_with_a_grpc_provider(
    tmp_path: Path,
    image: Path,
    kek: tuple[bytes, Path, Path],
    cli: Any,
    grpc_provider: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key, kek_file, _ = kek
    monkeypatch.setenv("COCOCTL_SKOPEO", SKOPEO_GO)
    cli(
        "encrypt",
        "image",
        f"oci:{image}:v1",
        f"oci:{tmp_path / 'enc'}:v1",
        "--engine",
        "skopeo",
        "--keyid",
        KID,
        "--key",
        kek_file,
        "--keyprovider",
        f"grpc://127.0.0.1:{grpc_provider}",
    )
    decrypt_image(
        parse_reference(f"oci:{tmp_path / 'enc'}:v1"), parse_reference(f"oci:{tmp_path / 'dec'}:v1"), lambda kid: key
    )
    assert _layer_digests(tmp_path / "dec", "v1") == _layer_digests(image, "v1")


def test_keys_from_the_kbs_for_images(tmp_path: Path, image: Path, cli: Any, devkbs: Any) -> None:
    """--provision-to-kbs stores the KEK at the kid; decrypt --kbs and keyprovider --kbs fetch it after attestation."""
    cli("kbs", "set-resource-policy", "--url", devkbs.url, "--allow-all")
    cli(
        "encrypt",
        "image",
        f"oci:{image}:v1",
        f"oci:{tmp_path / 'enc'}:v1",
        "--keyid",
        KID,
        "--new-key",
        tmp_path / "kek",
        "--provision-to-kbs",
        devkbs.url,
    )
    cli(
        "decrypt",
        "image",
        f"oci:{tmp_path / 'enc'}:v1",
        f"oci:{tmp_path / 'dec'}:v1",
        "--kbs",
        devkbs.url,
        "--tee",
        "sample",
    )
    assert _layer_digests(tmp_path / "dec", "v1") == _layer_digests(image, "v1")
    env = _cmd_provider_config(tmp_path, "--kbs", devkbs.url)
    _skopeo_decrypt(f"oci:{tmp_path / 'enc'}:v1", f"oci:{tmp_path / 'dec2'}:v1", env)
    assert _layer_digests(tmp_path / "dec2", "v1") == _layer_digests(image, "v1")


def test_skopeo_engine_publishes_only_a_checked_image(
    tmp_path: Path, image: Path, kek: tuple[bytes, Path, Path], cli: Any, registry: Process,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # skopeo writes into a staging layout (or a scratch one before a push); the result is checked there first,
    # so an existing tag is kept without --force and a registry never sees an unchecked image.
    key, kek_file, _ = kek
    monkeypatch.setenv("COCOCTL_SKOPEO", SKOPEO_GO)
    args = ("--engine", "skopeo", "--keyid", KID, "--key", kek_file)
    target = tmp_path / "enc"
    cli("encrypt", "image", f"oci:{image}:v1", f"oci:{target}:v1", *args)
    before = (target / "index.json").read_bytes()
    refused = cli("encrypt", "image", f"oci:{image}:v1", f"oci:{target}:v1", *args, expect=None)
    assert refused.exit_code not in (0, 1) and "--force" in refused.stderr
    assert (target / "index.json").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".enc.cococtl-")]
    cli("encrypt", "image", f"oci:{image}:v1", f"oci:{target}:v1", *args, "--force")
    remote = f"docker://{registry.url}/cococtl/skopeo-engine:v1"
    cli("encrypt", "image", f"oci:{image}:v1", remote, *args, "--no-tls-verify")
    cli("decrypt", "image", remote, f"oci:{tmp_path / 'dec'}:v1", "--key", kek_file, "--no-tls-verify")
    assert _layer_digests(tmp_path / "dec", "v1") == _layer_digests(image, "v1") and key
