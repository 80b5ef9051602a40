"""EAR attestation results for the ``sample`` TEE, shaped like Trustee's attestation service output.

The default CPU appraisal policy's sample rules are applied natively (they need Trustee's
``query_reference_value`` builtin): reference values ``launch_digest``, ``svn``, ``major_version``
and ``minimum_minor_version`` turn the result from contraindicated to affirming.
"""

from __future__ import annotations

import time
from typing import Any

SAMPLE_CLAIMS = {"svn": "1", "launch_digest": "abcde", "platform_version": {"major": 1, "minor": 4}, "debug": False}
TRUST_KEYS = (
    "instance-identity",
    "configuration",
    "executables",
    "file-system",
    "hardware",
    "runtime-opaque",
    "storage-opaque",
    "sourced-data",
)


def trust_vector(claims: dict[str, Any], reference_values: dict[str, Any]) -> dict[str, int]:
    def rv(name: str) -> list[Any]:
        value = reference_values.get(name)
        return value if isinstance(value, list) else ([] if value is None else [value])

    vector = dict.fromkeys(TRUST_KEYS, 0)
    vector["executables"] = 3 if claims["launch_digest"] in rv("launch_digest") else 33
    platform = claims["platform_version"]
    majors, minors = rv("major_version"), rv("minimum_minor_version")
    hardware_ok = (
        claims["svn"] in rv("svn")
        and any(platform["major"] == m for m in majors)
        and any(isinstance(m, int) and platform["minor"] >= m for m in minors)
    )
    vector["hardware"] = 2 if hardware_ok else 97
    vector["configuration"] = 2 if claims["debug"] is False else 36
    return vector


def ear_status(vector: dict[str, int]) -> str:
    """AR4SI tiers: any contraindicated value wins, then warning, else affirming."""
    values = vector.values()
    if any(v >= 96 or v <= -96 for v in values):
        return "contraindicated"
    if any(32 <= v <= 95 or -95 <= v <= -32 for v in values):
        return "warning"
    return "affirming"


def policy_trust_vector(policy: str, claims: dict[str, Any], reference_values: dict[str, Any]) -> dict[str, int]:
    """Evaluate an uploaded appraisal policy's ``trust_claims`` with regopy.

    Trustee's ``query_reference_value("id")`` builtin does not exist in regopy: calls to it are rewritten to
    ``data.reference_values["id"]`` (undefined when missing), with the reference values as data.
    """
    from cococtl.policy.rego import evaluate, with_reference_values_as_data

    text = with_reference_values_as_data(policy)
    vector = evaluate(
        text,
        "data.policy.trust_claims",
        input_value={"sample": claims},
        data={"reference_values": reference_values},
        name="attestation policy",
    )
    if not isinstance(vector, dict) or not all(isinstance(v, int) for v in vector.values()):
        raise ValueError("the attestation policy's trust_claims is not an object of integers")
    return {key: int(vector.get(key, 0)) for key in TRUST_KEYS}


def sample_ear_claims(
    *,
    report_data: str,
    runtime_data: dict[str, Any],
    reference_values: dict[str, Any],
    init_data: str | None,
    ttl_seconds: int,
    svn: str,
    policy: str | None = None,
) -> dict[str, Any]:
    """EAR claims; ``policy`` is an uploaded ``default_cpu`` appraisal policy (else Trustee's default rules)."""
    claims = {**SAMPLE_CLAIMS, "svn": svn}
    vector = policy_trust_vector(policy, claims, reference_values) if policy else trust_vector(claims, reference_values)
    annotated: dict[str, Any] = {"report_data": report_data, "runtime_data_claims": runtime_data, "sample": claims}
    if init_data is not None:
        annotated["init_data"] = init_data
    now = int(time.time())
    return {
        "eat_profile": "tag:github.com,2024:confidential-containers/Trustee",
        "iat": now,
        "exp": now + ttl_seconds,
        "iss": "CoCo-Attestation-Service",
        "ear.verifier-id": {"developer": "https://confidentialcontainers.org", "build": "cococtl devkbs"},
        "submods": {
            "cpu0": {
                "ear.status": ear_status(vector),
                "ear.trustworthiness-vector": vector,
                "ear.appraisal-policy-id": "default_cpu" if policy else "default",
                "ear.veraison.annotated-evidence": annotated,
            }
        },
    }
