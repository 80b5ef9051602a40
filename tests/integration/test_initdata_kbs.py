"""Init-data and sealed secrets end to end against the KBS double (127.0.0.1 only).

initdata new → validate → annotation → decode → ``kbs attest|get-resource --init-data`` with a resource policy from
``initdata policy-snippet``: the exact document is allowed; a one-byte change is denied (exit 5). Sealed secrets are
provisioned, inspected (key fetched after attestation) and unsealed through the same double.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import RunningKbs

pytestmark = pytest.mark.integration

VECTORS = Path(__file__).parent.parent / "vectors"


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _new_initdata(cli: Any, tmp_path: Path, url: str) -> Path:
    policy = tmp_path / "agent.rego"
    policy.write_text(
        "package agent_policy\n\ndefault CreateContainerRequest := true\ndefault ExecProcessRequest := false\n"
    )
    init = tmp_path / "init.toml"
    cli("initdata", "new", "--kbs-url", url, "--policy", policy, "-o", init)
    cli("initdata", "validate", init)
    return init


def test_initdata_gates_a_resource_byte_exact(cli: Any, devkbs: RunningKbs, tmp_path: Path) -> None:
    init = _new_initdata(cli, tmp_path, devkbs.url)
    # The annotation round-trips to the same bytes (what kata hands the guest).
    value = cli("initdata", "annotation", init).stdout.strip()
    decoded = cli("initdata", "decode", value).stdout_bytes
    assert decoded == init.read_bytes()

    policy = tmp_path / "resource.rego"
    policy.write_text(cli("initdata", "policy-snippet", init, "--tee", "sample").stdout)
    cli("kbs", "set-resource-policy", "--url", devkbs.url, "--policy-file", policy)
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"shhhhhhh")
    cli("kbs", "set-resource", "--url", devkbs.url, "--path", "default/test/secret", "--resource-file", secret)

    got = cli(
        "kbs", "get-resource", "--url", devkbs.url, "--tee", "sample", "--init-data", init,
        "--path", "default/test/secret", "--raw",
    ).stdout_bytes  # fmt: skip
    assert got == b"shhhhhhh"

    # The token carries the digest and Trustee's init_data_claims (aa.toml/cdh.toml as JSON).
    token = cli("kbs", "attest", "--url", devkbs.url, "--tee", "sample", "--init-data", init).stdout.strip()
    annotated = _claims(token)["submods"]["cpu0"]["ear.veraison.annotated-evidence"]
    digest = cli("--json", "initdata", "digest", init).json
    assert annotated["init_data"] == digest["digest_base64"]
    assert annotated["init_data"] == base64.b64encode(hashlib.sha384(init.read_bytes()).digest()).decode()
    assert annotated["init_data_claims"]["aa.toml"]["token_configs"]["kbs"]["url"] == devkbs.url
    assert annotated["init_data_claims"]["cdh.toml"]["kbc"]["name"] == "cc_kbc"

    # One byte more (a trailing newline) is another digest: denied by the policy.
    changed = tmp_path / "changed.toml"
    changed.write_bytes(init.read_bytes() + b"\n")
    cli("initdata", "validate", changed)
    denied = cli(
        "kbs", "get-resource", "--url", devkbs.url, "--tee", "sample", "--init-data", changed,
        "--path", "default/test/secret", expect=5,
    )  # fmt: skip
    assert "denied" in denied.stderr
    # No init-data at all: denied too.
    cli("kbs", "get-resource", "--url", devkbs.url, "--tee", "sample", "--path", "default/test/secret", expect=5)


def test_crlf_init_data_is_sent_byte_exact(cli: Any, devkbs: RunningKbs, tmp_path: Path) -> None:
    """read_init_data must not translate newlines: a CRLF document's digest is over its CRLF bytes."""
    crlf = tmp_path / "crlf.toml"
    crlf.write_bytes(b'version = "0.1.0"\r\nalgorithm = "sha256"\r\n[data]\r\nkey = "v"\r\n')
    token = cli("kbs", "attest", "--url", devkbs.url, "--tee", "sample", "--init-data", crlf).stdout.strip()
    annotated = _claims(token)["submods"]["cpu0"]["ear.veraison.annotated-evidence"]
    assert annotated["init_data"] == base64.b64encode(hashlib.sha256(crlf.read_bytes()).digest()).decode()
    assert annotated["init_data_claims"] == {"key": "v"}


@pytest.mark.parametrize(
    ("init_name", "policy_name"),
    [
        ("trustee-simple-init-data.toml", "trustee-init-data-hash-policy.rego.in"),
        pytest.param(
            "trustee-simple-init-data.toml",
            "trustee-init-data-config-field-policy.rego",
            # regopy 1.5 (rego-cpp) leaves "\\n" escapes in Rego string literals undecoded (count("a\\nb") is 4), so
            # the policy's PEM literal never equals the claim; regorus/OPA in Trustee decode it.
            marks=pytest.mark.xfail(reason="regopy does not decode \\n in Rego strings", strict=True),
        ),
        ("trustee-init-data-with-policy.toml", "trustee-init-data-for-opa-policy.rego"),
    ],
)
def test_trustee_init_data_tests_pass_against_the_double(
    cli: Any, devkbs: RunningKbs, tmp_path: Path, init_name: str, policy_name: str
) -> None:
    """Trustee integration-tests/tests/init_data.rs, case by case: its init-data documents and resource policies
    (the digest as standard base64 of sha256; a cdh.toml field in init_data_claims; a kata policy's policy_data
    as agent_policy_claims) release the secret; with no init-data the same policy denies."""
    init = VECTORS / "initdata" / init_name
    text = (VECTORS / "initdata" / policy_name).read_text()
    text = text.replace("{init_data_hash}", base64.b64encode(hashlib.sha256(init.read_bytes()).digest()).decode())
    policy = tmp_path / "policy.rego"
    policy.write_text(text)
    cli("kbs", "set-resource-policy", "--url", devkbs.url, "--policy-file", policy)
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"shhhhhhh")
    cli("kbs", "set-resource", "--url", devkbs.url, "--path", "default/test/secret", "--resource-file", secret)
    got = cli(
        "kbs", "get-resource", "--url", devkbs.url, "--tee", "sample", "--init-data", init,
        "--path", "default/test/secret", "--raw",
    ).stdout_bytes  # fmt: skip
    assert got == b"shhhhhhh"
    cli("kbs", "get-resource", "--url", devkbs.url, "--tee", "sample", "--path", "default/test/secret", expect=5)


def test_sealed_vault_secret_provision_inspect_unseal(cli: Any, devkbs: RunningKbs, tmp_path: Path) -> None:
    cli("kbs", "set-resource-policy", "--url", devkbs.url, "--allow-all")
    keys = tmp_path / "keys"
    keys.mkdir()
    cli("secret", "keygen", "--kid", "signer", "-o", keys)
    value = tmp_path / "value.txt"
    value.write_bytes(b"super-secret-value-42")
    sealed = cli(
        "secret", "seal", "vault", "--resource-uri", "kbs:///default/sealed-secret/e2e", "--provider", "kbs",
        "--kid", "kbs:///default/signing/pub", "--signing-key", keys / "signer-private.json",
        "--provision-to-kbs", devkbs.url, "--secret-file", value,
    ).stdout.strip()  # fmt: skip
    assert sealed.startswith("sealed.")
    shown = cli("--json", "secret", "inspect", sealed, "--kbs-url", devkbs.url, "--tee", "sample").json
    assert shown["signature_verified"] is True
    assert shown["header"] == {"alg": "ES256", "kid": "kbs:///default/signing/pub"}
    out = tmp_path / "unsealed"
    cli("secret", "unseal", sealed, "-o", out, "--kbs-url", devkbs.url, "--tee", "sample")
    assert out.read_bytes() == b"super-secret-value-42"
    assert out.stat().st_mode & 0o777 == 0o600
    # A signature by another key does not verify (exit 7), and nothing is written.
    cli("secret", "keygen", "--kid", "other", "-o", keys)
    forged = cli(
        "secret", "seal", "vault", "--resource-uri", "kbs:///default/sealed-secret/e2e",
        "--kid", "kbs:///default/signing/pub", "--signing-key", keys / "other-private.json",
    ).stdout.strip()  # fmt: skip
    cli("secret", "unseal", forged, "-o", tmp_path / "nope", "--kbs-url", devkbs.url, "--tee", "sample", expect=7)
    assert not (tmp_path / "nope").exists()


def test_sealed_envelope_secret_through_the_kbs(cli: Any, devkbs: RunningKbs, tmp_path: Path) -> None:
    cli("kbs", "set-resource-policy", "--url", devkbs.url, "--allow-all")
    cli("secret", "keygen", "--kid", "signer", "-o", tmp_path)
    plaintext = tmp_path / "plain.bin"
    plaintext.write_bytes(bytes(range(256)) * 3)
    sealed = cli(
        "secret", "seal", "envelope", "--key-uri", "kbs:///default/key/kek", "--plaintext", plaintext,
        "--new-key", tmp_path / "kek.bin", "--kid", "kbs:///default/signing/pub",
        "--signing-key", tmp_path / "signer-private.json", "--provision-to-kbs", devkbs.url,
    ).stdout.strip()  # fmt: skip
    assert (tmp_path / "kek.bin").stat().st_mode & 0o777 == 0o600
    got = cli("secret", "unseal", "-", "-o", "-", "--kbs-url", devkbs.url, "--tee", "sample", input=sealed + "\n")
    assert got.stdout_bytes == plaintext.read_bytes()
