"""The KBS client (CLI) against the local KBS double: Trustee's integration scenarios."""

from __future__ import annotations

import base64
import json
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from cococtl.devkbs.admin import AdminPolicy
from cococtl.kbs.jwe import TeeKeyPair
from tests.integration.conftest import RunningKbs, start_devkbs
from tests.integration.peers import TlsFiles

pytestmark = pytest.mark.integration


def _put(cli: Any, kbs: RunningKbs, tmp_path: Path, path: str, data: bytes, *extra: str) -> None:
    source = tmp_path / "resource.bin"
    source.write_bytes(data)
    cli("kbs", "set-resource", "--url", kbs.url, "--path", path, "--resource-file", source, *extra)


def test_default_policy_denies_sample_with_one_handshake(cli: Any, devkbs: RunningKbs, tmp_path: Path) -> None:
    _put(cli, devkbs, tmp_path, "default/key/k1", b"k" * 32)
    before = len(devkbs.requests)
    result = cli("kbs", "get-resource", "--url", devkbs.url, "--path", "default/key/k1", "--tee", "sample", expect=5)
    assert "denied by the KBS resource policy" in result.stderr
    assert [p for _, p in devkbs.requests[before:]] == [
        "/kbs/v0/auth",
        "/kbs/v0/attest",
        "/kbs/v0/resource/default/key/k1",
    ]


@pytest.mark.parametrize("key_type", ["ec-p256", "ec-p521", "rsa", "rsa1_5"])
def test_allow_all_many_resources_one_session(cli: Any, devkbs: RunningKbs, tmp_path: Path, key_type: str) -> None:
    cli("kbs", "set-resource-policy", "--url", devkbs.url, "--allow-all")
    values = {f"default/key/k{i}": bytes([i]) * 32 for i in range(5)}
    for path, data in values.items():
        _put(cli, devkbs, tmp_path, path, data)
    before = len(devkbs.requests)
    args = [a for path in values for a in ("--path", path)]
    result = cli(
        "--json", "kbs", "get-resource", "--url", f"{devkbs.url}/", *args, "--tee", "sample", "--tee-key-type", key_type
    )
    got = {p: base64.b64decode(v) for p, v in result.json["resources"].items()}
    assert got == values
    assert len(devkbs.requests) - before == len(values) + 2


def test_base64_raw_and_output_file(cli: Any, devkbs: RunningKbs, tmp_path: Path) -> None:
    cli("kbs", "set-resource-policy", "--url", devkbs.url, "--allow-all")
    _put(cli, devkbs, tmp_path, "default/key/algo", b"\x00\x01secret")
    base = ["kbs", "get-resource", "--url", devkbs.url, "--path", "kbs:///default/key/algo", "--tee", "sample"]
    assert cli(*base).stdout == base64.b64encode(b"\x00\x01secret").decode() + "\n"
    assert cli(*base, "--raw").stdout_bytes == b"\x00\x01secret"
    cli(*base, "-o", tmp_path / "algo.key")
    assert (tmp_path / "algo.key").read_bytes() == b"\x00\x01secret"
    assert (tmp_path / "algo.key").stat().st_mode & 0o777 == 0o600


def test_missing_resource_is_6_with_hint(cli: Any, devkbs: RunningKbs) -> None:
    cli("kbs", "set-resource-policy", "--url", devkbs.url, "--allow-all")
    result = cli("kbs", "get-resource", "--url", devkbs.url, "--path", "default/key/none", "--tee", "sample", expect=6)
    assert "both as 401" in result.stderr


def test_affirming_policy_and_reference_values(cli: Any, devkbs: RunningKbs, tmp_path: Path) -> None:
    cli("kbs", "set-resource-policy", "--url", devkbs.url, "--affirming")
    _put(cli, devkbs, tmp_path, "default/key/k", b"v")
    get = ["kbs", "get-resource", "--url", devkbs.url, "--path", "default/key/k", "--tee", "sample"]
    cli(*get, expect=5)
    claims = cli("--json", "kbs", "attest", "--url", devkbs.url, "--tee", "sample").json["claims"]
    assert claims["status"] == {"cpu0": "contraindicated"}
    url = ["--url", devkbs.url]
    cli("kbs", "set-reference-value", "launch_digest", "abcde", *url)
    cli("kbs", "set-reference-value", "svn", "1", *url)
    cli("kbs", "set-reference-value", "major_version", "1", "--as-integer", *url)
    cli("kbs", "set-reference-value", "minimum_minor_version", "0", "--as-integer", *url)
    assert json.loads(cli("kbs", "get-reference-value", "svn", *url).stdout) == ["1"]
    claims = cli("--json", "kbs", "attest", "--url", devkbs.url, "--tee", "sample").json["claims"]
    assert claims["status"] == {"cpu0": "affirming"}
    assert base64.b64decode(cli(*get).stdout) == b"v"


def test_policy_upload_is_checked_and_base64url(cli: Any, devkbs: RunningKbs, tmp_path: Path) -> None:
    (tmp_path / "bad.rego").write_text("package policy\nallow if {\n")
    result = cli("kbs", "set-resource-policy", "--url", devkbs.url, "--policy-file", tmp_path / "bad.rego", expect=3)
    assert "line 2" in result.stderr
    policy = "package policy\nallow = true\n"
    padded = base64.urlsafe_b64encode(policy.encode()).decode()
    assert padded.endswith("=")
    answer = requests.post(f"{devkbs.url}/kbs/v0/resource-policy", json={"policy": padded}, timeout=5)
    assert answer.status_code == 401 and answer.json()["type"].endswith("/ParsePolicyError")
    (tmp_path / "ok.rego").write_text(policy)
    cli("kbs", "set-resource-policy", "--url", devkbs.url, "--policy-file", tmp_path / "ok.rego")
    assert json.loads(cli("kbs", "get-resource-policy", "--url", devkbs.url).stdout) == ["resource-policy"]
    cli("kbs", "set-attestation-policy", "--url", devkbs.url, "--policy-file", tmp_path / "ok.rego")


def test_protocol_strictness(devkbs: RunningKbs) -> None:
    auth = f"{devkbs.url}/kbs/v0/auth"
    for body in (
        {"version": "0.4", "tee": "sample", "extra-params": {}},
        {"version": "0.4.0", "tee": "sample"},
        {"version": "0.4.0", "tee": "nope", "extra-params": {}},
    ):
        answer = requests.post(auth, json=body, timeout=5)
        assert answer.status_code == 401 and answer.json()["type"].endswith("/AttestationError")
    session = requests.Session()
    challenge = session.post(auth, json={"version": "0.4.0", "tee": "sample", "extra-params": ""}, timeout=5)
    assert challenge.status_code == 200 and len(challenge.json()["nonce"]) == 44
    assert "kbs-session-id=" in challenge.headers["Set-Cookie"]
    pubkey = TeeKeyPair.generate().public_jwk()
    wrong = {
        "runtime-data": {"nonce": challenge.json()["nonce"], "tee-pubkey": pubkey},
        "tee-evidence": {
            "primary_evidence": {"svn": "1", "report_data": base64.b64encode(bytes(48)).decode()},
            "additional_evidence": "",
        },
    }
    answer = session.post(f"{devkbs.url}/kbs/v0/attest", json=wrong, timeout=5)
    assert answer.status_code == 401 and answer.json()["detail"] == "Attestation error: RCAR handshake Attest failed"
    assert requests.get(f"{devkbs.url}/kbs/v0/resource/a/b/c", timeout=5).json()["type"].endswith("/TokenNotFound")
    assert requests.get(f"{devkbs.url}/kbs/v0/nope/x", timeout=5).status_code == 404


def test_passport_mode_and_token_expiry(cli: Any, tmp_path: Path) -> None:
    kbs = start_devkbs(tmp_path / "kbs", token_ttl=4, token_leeway=0)
    try:
        url = ["--url", kbs.url]
        cli("kbs", "set-resource-policy", *url, "--allow-all")
        _put(cli, kbs, tmp_path, "default/key/p", b"passport")
        (tmp_path / "tee.pem").write_bytes(TeeKeyPair.generate("ec-p256").to_pem())
        issued = time.monotonic()
        cli("kbs", "attest", *url, "--tee", "sample", "--tee-key-file", tmp_path / "tee.pem", "-o", tmp_path / "tok")
        assert (tmp_path / "tok").stat().st_mode & 0o777 == 0o600
        passport = [
            "kbs",
            "get-resource",
            *url,
            "--path",
            "default/key/p",
            "--attestation-token",
            tmp_path / "tok",
            "--tee-key-file",
            tmp_path / "tee.pem",
        ]
        assert base64.b64decode(cli(*passport).stdout) == b"passport"
        time.sleep(max(0.0, issued + 5.2 - time.monotonic()))  # past the 4 s lifetime
        assert "Token Verifier" in cli(*passport, expect=5).stderr
    finally:
        kbs.server.stop()


def test_init_data(cli: Any, devkbs: RunningKbs, tmp_path: Path) -> None:
    (tmp_path / "init.toml").write_text('algorithm = "sha256"\nversion = "0.1.0"\n[data]\n"policy.rego" = "x"\n')
    token = cli("kbs", "attest", "--url", devkbs.url, "--tee", "sample", "--init-data", tmp_path / "init.toml").stdout
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    annotated = payload["submods"]["cpu0"]["ear.veraison.annotated-evidence"]
    import hashlib

    expected = base64.b64encode(hashlib.sha256((tmp_path / "init.toml").read_bytes()).digest()).decode()
    assert annotated["init_data"] == expected


def _ed25519(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ed25519.Ed25519PrivateKey.generate()
    private, public = tmp_path / f"{name}.pem", tmp_path / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


def test_admin_token_has_the_claims_trustee_setup_mints(cli: Any, tmp_path: Path) -> None:
    # kbs/config/docker-compose/setup.sh (trustee 78962cd4): {"iss":"TrusteeInDocker","sub":"admin","aud":["KBS"],
    # "role":"admin","iat":…,"exp":…}, EdDSA; checked here with joserfc, not our own JWT code.
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import OKPKey

    private, public = _ed25519(tmp_path, "admin")
    cli("kbs", "admin-token", "--key", private, "-o", tmp_path / "admin.tok", "--ttl", "1h")
    with warnings.catch_warnings():  # joserfc flags "EdDSA" as deprecated (RFC 9864); Trustee still mints it
        warnings.simplefilter("ignore")
        token = jose_jwt.decode(
            (tmp_path / "admin.tok").read_text().strip(), OKPKey.import_key(public.read_bytes()), algorithms=["EdDSA"]
        )
    assert token.header["alg"] == "EdDSA"
    claims = token.claims
    assert list(claims) == ["iss", "sub", "aud", "role", "iat", "exp"]
    assert (claims["iss"], claims["sub"], claims["aud"], claims["role"]) == (
        "TrusteeInDocker",
        "admin",
        ["KBS"],
        "admin",
    )
    assert claims["exp"] - claims["iat"] == 3600


def test_admin_modes(cli: Any, tmp_path: Path) -> None:
    private, public = _ed25519(tmp_path, "admin")
    other, _ = _ed25519(tmp_path, "other")
    (tmp_path / "r").write_bytes(b"x")
    deny = start_devkbs(tmp_path / "deny", admin=AdminPolicy.from_options("deny", None))
    # Trustee's docker-compose kbs-config.toml: identity provider "TrusteeInDocker", regex ACL for role admin.
    bearer = start_devkbs(
        tmp_path / "bearer", admin=AdminPolicy.from_options("bearer", public, issuer="TrusteeInDocker", audience="KBS")
    )
    legacy = start_devkbs(tmp_path / "legacy", admin=AdminPolicy.from_options("legacy", public))
    try:
        put = ["kbs", "set-resource", "--path", "a/b/c", "--resource-file", tmp_path / "r"]
        assert "DenyAll" in cli(*put, "--url", deny.url, expect=5).stderr
        cli("kbs", "admin-token", "--key", private, "-o", tmp_path / "admin.tok")
        cli(*put, "--url", bearer.url, "--admin-token-file", tmp_path / "admin.tok")
        cli("kbs", "admin-token", "--key", other, "-o", tmp_path / "other.tok")
        assert (
            "Cannot verify"
            in cli(*put, "--url", bearer.url, "--admin-token-file", tmp_path / "other.tok", expect=5).stderr
        )
        cli("kbs", "admin-token", "--key", private, "--role", "reader", "-o", tmp_path / "reader.tok")
        assert (
            "Role reader not allowed"
            in cli(*put, "--url", bearer.url, "--admin-token-file", tmp_path / "reader.tok", expect=5).stderr
        )
        cli(*put, "--url", bearer.url, "--admin-key", private, "--role", "admin")
        cli(*put, "--url", bearer.url, "--admin-key", private)  # per-request tokens carry the stock claims
        assert (
            "Role reader" in cli(*put, "--url", bearer.url, "--admin-key", private, "--role", "reader", expect=5).stderr
        )
        cli("kbs", "admin-token", "--key", private, "--issuer", "elsewhere", "-o", tmp_path / "iss.tok")
        assert (
            "Cannot verify"
            in cli(*put, "--url", bearer.url, "--admin-token-file", tmp_path / "iss.tok", expect=5).stderr
        )
        cli(*put, "--url", legacy.url, "--admin-key", private)
        cli(*put, "--url", bearer.url, expect=5)
    finally:
        for kbs in (deny, bearer, legacy):
            kbs.server.stop()


def test_https_with_generated_ca(cli: Any, tmp_path: Path, tls_files: TlsFiles) -> None:
    kbs = start_devkbs(tmp_path / "kbs", tls=(tls_files.cert_file, tls_files.key_file))
    try:
        assert kbs.url.startswith("https://")
        cli("kbs", "set-resource-policy", "--url", kbs.url, "--allow-all", expect=4)
        cli("kbs", "set-resource-policy", "--url", kbs.url, "--allow-all", "--cert-file", tls_files.ca_file)
        _put(cli, kbs, tmp_path, "default/key/t", b"tls", "--cert-file", str(tls_files.ca_file))
        out = cli(
            "kbs",
            "get-resource",
            "--url",
            kbs.url,
            "--path",
            "default/key/t",
            "--tee",
            "sample",
            "--cert-file",
            tls_files.ca_file,
        ).stdout
        assert base64.b64decode(out) == b"tls"
    finally:
        kbs.server.stop()


def test_unreachable_kbs_is_4(cli: Any) -> None:
    from tests.integration.peers import free_port

    result = cli(
        "kbs", "attest", "--url", f"http://127.0.0.1:{free_port()}", "--tee", "sample", "--timeout", "2", expect=4
    )
    assert "cannot reach" in result.stderr


def test_delete_resource(cli: Any, devkbs: RunningKbs, tmp_path: Path) -> None:
    _put(cli, devkbs, tmp_path, "default/key/d", b"d")
    cli("kbs", "delete-resource", "--url", devkbs.url, "--path", "default/key/d")
    cli("kbs", "delete-resource", "--url", devkbs.url, "--path", "default/key/d", expect=6)


def test_policy_check_offline(cli: Any, tmp_path: Path) -> None:
    from cococtl.policy.builtin import DEFAULT

    (tmp_path / "p.rego").write_text(DEFAULT)
    (tmp_path / "in.json").write_text(
        json.dumps({"submods": {"cpu0": {"ear.veraison.annotated-evidence": {"tdx": {}}}}})
    )
    (tmp_path / "data.json").write_text(json.dumps({"plugin": "resource"}))
    result = cli(
        "policy", "check", tmp_path / "p.rego", "--input", tmp_path / "in.json", "--data", tmp_path / "data.json"
    )
    assert result.stdout.strip() == "allow = true"
    (tmp_path / "bad.rego").write_text("package policy\n\nallow if {\n")
    assert "line 3" in cli("policy", "check", tmp_path / "bad.rego", expect=3).stderr


def test_uploaded_attestation_policy_drives_the_ear_status(cli: Any, devkbs: RunningKbs, tmp_path: Path) -> None:
    """Like Trustee's integration tests: a default_cpu policy keyed on a reference value."""
    policy = (
        "package policy\nimport rego.v1\n"
        "default executables := 33\ndefault hardware := 97\ndefault configuration := 36\n"
        'executables := 2 if { input.sample.svn in query_reference_value("svn") }\n'
        'hardware := 2 if { input.sample.svn in query_reference_value("svn") }\n'
        "configuration := 2 if { input.sample.debug == false }\n"
        'trust_claims := {"executables": executables, "hardware": hardware, "configuration": configuration}\n'
    )
    (tmp_path / "as.rego").write_text(policy)
    url = ["--url", devkbs.url]
    cli("kbs", "set-attestation-policy", *url, "--policy-file", tmp_path / "as.rego", "--id", "default_cpu")
    status = cli("--json", "kbs", "attest", *url, "--tee", "sample").json["claims"]["status"]
    assert status == {"cpu0": "contraindicated"}
    cli("kbs", "set-reference-value", "svn", "1", *url)
    status = cli("--json", "kbs", "attest", *url, "--tee", "sample").json["claims"]["status"]
    assert status == {"cpu0": "affirming"}
    (tmp_path / "broken.rego").write_text("package policy\ntrust_claims := 5\n")
    cli("kbs", "set-attestation-policy", *url, "--policy-file", tmp_path / "broken.rego")
    assert "Attest failed" in cli("kbs", "attest", *url, "--tee", "sample", expect=5).stderr


@pytest.mark.parametrize("algorithm", ["sha256", "sha512", "sm3"])
def test_the_double_selects_a_hash_like_trustees_ita_backend(cli: Any, tmp_path: Path, algorithm: str) -> None:
    kbs = start_devkbs(tmp_path / "kbs", selected_hash_algorithm=algorithm)
    try:
        cli("kbs", "set-resource-policy", "--url", kbs.url, "--allow-all")
        _put(cli, kbs, tmp_path, "default/key/h", b"hashed")
        got = cli("kbs", "get-resource", "--url", kbs.url, "--path", "default/key/h", "--tee", "sample", "--raw")
        assert got.stdout_bytes == b"hashed"
    finally:
        kbs.server.stop()
