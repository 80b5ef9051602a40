"""The double's attestation-policy input is the document Trustee's EAR broker evaluates policies on
(attestation-service/src/ear_token/broker.rs ``transform_claims``; attestation-service/docs/tcb_claims.md
"Claims Data Format"): the TEE's claims under ``sample``, and at the top level ``report_data`` with
``runtime_data_claims`` (the KBS's structured runtime data) and, with init-data, ``init_data`` (the sample
verifier's base64 digest) with ``init_data_claims`` (the parsed TOML: ``cdh.toml`` as JSON, ``policy.rego``'s
``policy_data`` as ``agent_policy_claims``). The same document is the token's annotated evidence."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from cococtl.kbs.jwe import TeeKeyPair
from tests.integration.conftest import RunningKbs

pytestmark = pytest.mark.integration

INIT_DATA = '''version = "0.1.0"
algorithm = "sha384"

[data]
"cdh.toml" = """
[kbc]
name = "cc_kbc"
url = "http://kbs.example:8080"
"""
"policy.rego" = """
package agent_policy

default CreateContainerRequest := true

policy_data := {"containers": [{"OCI": {"Version": "1.1.0", "Process": {"Args": ["/bin/server"]}}}]}
"""
'''
SAMPLE = {"debug": False, "launch_digest": "abcde", "platform_version": {"major": 1, "minor": 4}, "svn": "1"}


def _policy(init_digest: str, pubkey: dict[str, str]) -> str:
    """A default_cpu policy written against Trustee's input: affirming only if every field is where Trustee puts
    it, contraindicated otherwise."""
    return f"""package policy
import rego.v1

default executables := 33
default hardware := 97
default configuration := 36

runtime_bound if {{
    input.runtime_data_claims["tee-pubkey"] == {json.dumps(pubkey)}
    input.runtime_data_claims["additional-evidence"] == ""
    count(input.runtime_data_claims.nonce) == 44
    count(input.report_data) == 64
}}

init_bound if {{
    input.init_data == "{init_digest}"
    input.init_data_claims["cdh.toml"].kbc.url == "http://kbs.example:8080"
    container := input.init_data_claims.agent_policy_claims.containers[_]
    container.OCI.Process.Args[0] == "/bin/server"
    not input.init_data_claims["policy.rego"]
}}

shape if {{
    object.keys(input) == {{"init_data", "init_data_claims", "report_data", "runtime_data_claims", "sample"}}
    object.keys(input.sample) == {{"debug", "launch_digest", "platform_version", "svn"}}
}}

executables := 3 if {{ runtime_bound; init_bound }}
hardware := 2 if {{ input.sample.svn == "1"; shape }}
configuration := 2 if input.sample.debug == false

trust_claims := {{"executables": executables, "hardware": hardware, "configuration": configuration}}
"""


def _annotated(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    evidence = claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"]
    assert isinstance(evidence, dict)
    return evidence


def test_a_policy_reads_init_data_and_runtime_data_where_trustee_puts_them(
    cli: Any, devkbs: RunningKbs, tmp_path: Path
) -> None:
    pair = TeeKeyPair.generate("ec-p256")
    (tmp_path / "tee.pem").write_bytes(pair.to_pem())
    (tmp_path / "init.toml").write_text(INIT_DATA)
    init_digest = base64.b64encode(hashlib.sha384(INIT_DATA.encode()).digest()).decode()
    (tmp_path / "as.rego").write_text(_policy(init_digest, pair.public_jwk()))
    url = ["--url", devkbs.url]
    cli("kbs", "set-attestation-policy", *url, "--policy-file", tmp_path / "as.rego", "--id", "default_cpu")

    attest = ["--json", "kbs", "attest", *url, "--tee", "sample", "--tee-key-file", tmp_path / "tee.pem"]
    result = cli(*attest, "--init-data", tmp_path / "init.toml").json
    assert result["claims"]["status"] == {"cpu0": "affirming"}
    evidence = _annotated(result["token"])
    assert evidence == {
        "init_data": init_digest,
        "init_data_claims": {
            "cdh.toml": {"kbc": {"name": "cc_kbc", "url": "http://kbs.example:8080"}},
            "agent_policy_claims": {
                "containers": [{"OCI": {"Version": "1.1.0", "Process": {"Args": ["/bin/server"]}}}]
            },
        },
        "report_data": evidence["report_data"],
        "runtime_data_claims": {
            "tee-pubkey": pair.public_jwk(),
            "nonce": evidence["runtime_data_claims"]["nonce"],
            "additional-evidence": "",
        },
        "sample": SAMPLE,
    }
    # report_data is the sample evidence's (base64 of the 48-byte sha384 binding), as the verifier reports it.
    assert len(base64.b64decode(evidence["report_data"], validate=True)) == 48

    # Without init-data neither init member is in the input (Trustee adds them only beside a verifier's
    # init_data claim): the same policy no longer affirms.
    result = cli(*attest).json
    assert result["claims"]["status"] == {"cpu0": "contraindicated"}
    assert set(_annotated(result["token"])) == {"report_data", "runtime_data_claims", "sample"}


def test_the_policy_input_is_the_annotated_evidence(cli: Any, devkbs: RunningKbs, tmp_path: Path) -> None:
    """A policy that only affirms when the input has no member the token lacks and vice versa: every key path
    of the annotated evidence is in the input with the same value (checked with ``walk``)."""
    (tmp_path / "init.toml").write_text(INIT_DATA)
    url = ["--url", devkbs.url]
    attest = ["--json", "kbs", "attest", *url, "--tee", "sample", "--init-data", tmp_path / "init.toml"]
    first = _annotated(cli(*attest).json["token"])
    # Everything but the per-handshake members, fixed in the policy.
    fixed = {k: v for k, v in first.items() if k not in ("report_data", "runtime_data_claims")}
    policy = f"""package policy
import rego.v1

expected := {json.dumps(fixed)}

matches if {{
    every key, value in expected {{ input[key] == value }}
    object.keys(input) == object.keys(expected) | {{"report_data", "runtime_data_claims"}}
    object.keys(input.runtime_data_claims) == {{"tee-pubkey", "nonce", "additional-evidence"}}
}}

default executables := 33
executables := 3 if matches
trust_claims := {{"executables": executables, "hardware": 2, "configuration": 2}}
"""
    (tmp_path / "as.rego").write_text(policy)
    cli("kbs", "set-attestation-policy", *url, "--policy-file", tmp_path / "as.rego", "--id", "default_cpu")
    result = cli(*attest).json
    assert result["claims"]["status"] == {"cpu0": "affirming"}
    assert {k: v for k, v in _annotated(result["token"]).items() if k in fixed} == fixed


def _ear(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    submod = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["submods"]["cpu0"]
    assert isinstance(submod, dict)
    return submod


def test_the_token_records_what_trustee_records(cli: Any, devkbs: RunningKbs, tmp_path: Path) -> None:
    """Compared by hand with Trustee 78962cd4's kbs-builtin: the policy id is the KBS's ``default`` (broker.rs
    evaluates "default_cpu" but records policy_ids[0], :167 and :287), a trust vector holds only the claims the
    policy set (the ear crate leaves the others out), TOML's inf is null, and a policy_data integer between
    i64::MAX and u64::MAX fails the attestation (RawValue's conversion)."""
    url = ["--url", devkbs.url]
    policy = 'package policy\nimport rego.v1\ntrust_claims := {"executables": 3, "hardware": 2}\n'
    (tmp_path / "as.rego").write_text(policy)
    cli("kbs", "set-attestation-policy", *url, "--policy-file", tmp_path / "as.rego", "--id", "default_cpu")
    init = INIT_DATA.replace('name = "cc_kbc"', 'name = "cc_kbc"\nlimit = inf')
    (tmp_path / "init.toml").write_text(init)
    attest = ["--json", "kbs", "attest", *url, "--tee", "sample", "--init-data", tmp_path / "init.toml"]
    ear = _ear(cli(*attest).json["token"])
    assert ear["ear.appraisal-policy-id"] == "default"
    assert ear["ear.trustworthiness-vector"] == {"executables": 3, "hardware": 2}
    assert ear["ear.veraison.annotated-evidence"]["init_data_claims"]["cdh.toml"]["kbc"]["limit"] is None
    (tmp_path / "big.toml").write_text(INIT_DATA.replace('"containers"', '"n": 9223372036854775808, "containers"'))
    refused = cli("kbs", "attest", *url, "--tee", "sample", "--init-data", tmp_path / "big.toml", expect=5)
    assert "RCAR handshake Attest failed" in refused.stderr
