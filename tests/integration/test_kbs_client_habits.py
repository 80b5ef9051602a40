"""kbs-client habits (trustee tools/kbs-client/src/main.rs): options before the subcommand, the `config` group,
admin-token discovery, `get-reference-value --id`, `set-sample-reference-value`."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from cococtl.devkbs.admin import AdminPolicy
from tests.integration.conftest import RunningKbs, start_devkbs

pytestmark = pytest.mark.integration


@pytest.fixture
def bearer_kbs(tmp_path: Path, cli: Any) -> Any:
    key = ed25519.Ed25519PrivateKey.generate()
    private, public = tmp_path / "admin.pem", tmp_path / "admin.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    kbs = start_devkbs(tmp_path / "kbs", admin=AdminPolicy.from_options("bearer", public, issuer="TrusteeInDocker"))
    cli("kbs", "admin-token", "--key", private, "-o", tmp_path / "admin-token")
    (tmp_path / "secret").write_bytes(b"s3cr3t")
    yield kbs, tmp_path
    kbs.server.stop()


def test_kbs_client_command_lines_port_by_renaming_the_binary(cli: Any, bearer_kbs: tuple[RunningKbs, Path]) -> None:
    kbs, d = bearer_kbs
    token = d / "admin-token"
    cli("kbs", "--url", kbs.url, "config", "--admin-token-file", token, "set-resource-policy", "--allow-all")
    cli("kbs", "--url", kbs.url, "config", "--admin-token-file", token,
        "set-resource", "--path", "default/key/h", "--resource-file", d / "secret")  # fmt: skip
    got = cli("kbs", "--url", kbs.url, "get-resource", "--path", "default/key/h", "--tee", "sample")
    assert base64.b64decode(got.stdout) == b"s3cr3t"
    cli("kbs", "--url", kbs.url, "config", "--admin-token-file", token, "set-sample-reference-value", "svn", "2")
    value = cli("kbs", "--url", kbs.url, "config", "--admin-token-file", token, "get-reference-value", "--id", "svn")
    assert value.stdout.strip() == '["2"]'


def test_after_the_subcommand_wins_and_the_environment_fills_in(
    cli: Any, bearer_kbs: tuple[RunningKbs, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    kbs, d = bearer_kbs
    cli("kbs", "--url", kbs.url, "set-resource-policy", "--allow-all", "--admin-token-file", d / "admin-token")
    # A dead URL before the subcommand, the real one after it: after wins.
    cli("kbs", "--url", "http://127.0.0.1:9", "get-resource", "--path", "default/key/none", "--url", kbs.url,
        "--tee", "sample", expect=6)  # fmt: skip
    monkeypatch.setenv("COCOCTL_KBS_URL", kbs.url)
    cli("kbs", "get-resource", "--path", "default/key/none", "--tee", "sample", expect=6)
    assert "cannot reach" in cli("kbs", "--url", "http://127.0.0.1:9", "attest", "--tee", "sample", expect=4).stderr


@pytest.mark.parametrize("place", ["cwd", "home", "env"])
def test_admin_token_discovery_like_kbs_client(
    cli: Any, bearer_kbs: tuple[RunningKbs, Path], monkeypatch: pytest.MonkeyPatch, place: str
) -> None:
    kbs, d = bearer_kbs
    token = (d / "admin-token").read_bytes()
    work = d / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    if place == "cwd":
        (work / "kbs/config/docker-compose").mkdir(parents=True)
        (work / "kbs/config/docker-compose/admin-token").write_bytes(token)
        where = "kbs/config/docker-compose/admin-token"
    elif place == "home":
        (Path.home() / ".trustee").mkdir()
        (Path.home() / ".trustee" / "admin-token").write_bytes(token)
        where = "~/.trustee/admin-token"
    else:
        monkeypatch.setenv("COCOCTL_ADMIN_TOKEN_FILE", str(d / "admin-token"))
        where = "COCOCTL_ADMIN_TOKEN_FILE"
    result = cli("-v", "kbs", "--url", kbs.url, "set-resource-policy", "--allow-all")
    assert f"admin token from {where}" in result.stderr
    assert "no admin credentials" not in result.stderr


def test_without_any_token_the_kbs_refuses(cli: Any, bearer_kbs: tuple[RunningKbs, Path]) -> None:
    kbs, _ = bearer_kbs
    result = cli("kbs", "--url", kbs.url, "set-resource-policy", "--allow-all", expect=5)
    assert "no admin credentials given" in result.stderr


def test_json_reports_what_was_written_and_raw_contradictions_are_refused(
    cli: Any, bearer_kbs: tuple[RunningKbs, Path]
) -> None:
    kbs, d = bearer_kbs
    token = d / "admin-token"
    cli("kbs", "--url", kbs.url, "--admin-token-file", token, "set-resource-policy", "--allow-all")
    cli("kbs", "--url", kbs.url, "--admin-token-file", token,
        "set-resource", "--path", "default/key/j", "--resource-file", d / "secret")  # fmt: skip
    attested = cli("--json", "kbs", "--url", kbs.url, "attest", "--tee", "sample", "-o", d / "tok").json
    assert attested["output"] == str(d / "tok") and "status" in attested["claims"]
    got = cli("--json", "kbs", "--url", kbs.url, "get-resource", "--path", "default/key/j", "--tee", "sample",
              "-o", d / "j.bin").json  # fmt: skip
    assert got["resources"]["default/key/j"] == {"output": str(d / "j.bin"), "bytes": 6}
    result = cli("--json", "kbs", "--url", kbs.url, "get-resource", "--path", "default/key/j", "--raw", expect=3)
    assert "--raw" in result.stderr and result.stdout == ""


def test_any_kbs_tee_through_a_command_and_device_evidence(cli: Any, bearer_kbs: tuple[RunningKbs, Path]) -> None:
    # Device evidence (kbs_protocol rcar_client.rs get_composite_evidence): {tee: evidence} bound to the device
    # report data; the double parses it as Trustee does (HashMap<Tee, Value>) and the sample TEE stays primary.
    kbs, d = bearer_kbs
    device = d / "device.sh"
    device.write_text('#!/bin/sh\nprintf \'{"report_data":"%s"}\' "$1"\n')
    device.chmod(0o755)
    token = cli("kbs", "--url", kbs.url, "attest", "--tee", "sample",
                "--device-evidence-cmd", f"sampledevice={device} {{report_data_hex}}").stdout.strip()  # fmt: skip
    assert token.count(".") == 2
    assert "one of" in cli("kbs", "--url", kbs.url, "attest", "--tee", "sample",
                           "--device-evidence-cmd", "gpu=x", expect=3).stderr  # fmt: skip
    result = cli("kbs", "--url", kbs.url, "attest", "--tee", "hygondcu", expect=3)  # no native attester
    assert "--attester-cmd" in result.stderr
    primary = d / "primary.sh"
    primary.write_text('#!/bin/sh\nprintf \'{"report":"%s"}\' "$1"\n')
    primary.chmod(0o755)
    # The double verifies only sample evidence: another TEE through a command reaches the KBS and is refused there.
    result = cli("kbs", "--url", kbs.url, "attest", "--tee", "az-snp-vtpm",
                 "--attester-cmd", f"{primary} {{report_data_hex}}", expect=5)  # fmt: skip
    assert "Attest failed" in result.stderr
