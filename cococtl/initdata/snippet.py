"""Rego that requires an init-data digest, and the reference value to register.

The EAR token's ``submods.cpu0["ear.veraison.annotated-evidence"].init_data`` is what the TEE verifier reported
(Trustee attestation-service/src/ear_token/broker.rs:454-470 moves it there), and its form depends on the TEE:

- sample: standard base64 of the digest itself (deps/verifier/src/sample/mod.rs:38-45);
- tdx: hex of the 48-byte MRCONFIGID (deps/verifier/src/tdx/claims.rs:182, the register, padded);
- snp: hex of the 32-byte HOST_DATA (deps/verifier/src/snp/mod.rs:657).

A KBS resource policy sees the token claims as ``input`` (the form Trustee's integration-tests/tests/init_data.rs
uses); an attestation (appraisal) policy sees the same claims flattened, so ``input.init_data``.
"""

from __future__ import annotations

import base64
from typing import Any

from cococtl.initdata.core import InitData, regularize

TEES = ("sample", "tdx", "snp")
REFERENCE_VALUE = "init_data"


def expected_claims(init: InitData, tees: tuple[str, ...] = TEES) -> dict[str, str]:
    digest = init.digest
    forms = {
        "sample": base64.b64encode(digest).decode("ascii"),
        "tdx": regularize(digest, 48).hex(),
        "snp": regularize(digest, 32).hex(),
    }
    return {tee: forms[tee] for tee in tees}


def _rego_set(values: list[str]) -> str:
    return "{" + ", ".join(f'"{v}"' for v in values) + "}"


def resource_policy(init: InitData, tees: tuple[str, ...] = TEES, *, affirming: bool = False) -> str:
    values = list(dict.fromkeys(expected_claims(init, tees).values()))
    status = '    input["submods"]["cpu0"]["ear.status"] == "affirming"\n' if affirming else ""
    return (
        "# KBS resource policy: release resources only to a guest launched with this init-data\n"
        f"# ({init.algorithm} {init.digest.hex()}; accepted claim forms: {', '.join(tees)}).\n"
        "package policy\n"
        "\n"
        "import rego.v1\n"
        "\n"
        "default allow := false\n"
        "\n"
        "allow if {\n"
        f'    input["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["init_data"] in {_rego_set(values)}\n'
        f"{status}"
        "}\n"
    )


def attestation_rule(init: InitData, tees: tuple[str, ...] = TEES) -> str:
    values = list(dict.fromkeys(expected_claims(init, tees).values()))
    return (
        "# Attestation-service appraisal policy fragment (package policy): the init-data claim must be one of the\n"
        f'# registered "{REFERENCE_VALUE}" reference values. Register them with:\n'
        f"#   cococtl kbs set-reference-value {REFERENCE_VALUE} {' '.join(values)}\n"
        "configuration := 2 if {\n"
        f'    input.init_data in query_reference_value("{REFERENCE_VALUE}")\n'
        "}\n"
    )


def snippet_report(init: InitData, tees: tuple[str, ...] = TEES, *, affirming: bool = False) -> dict[str, Any]:
    claims = expected_claims(init, tees)
    return {
        "algorithm": init.algorithm,
        "digest_hex": init.digest.hex(),
        "init_data_claim": claims,
        "resource_policy": resource_policy(init, tees, affirming=affirming),
        "attestation_policy_rule": attestation_rule(init, tees),
        "reference_value": {"name": REFERENCE_VALUE, "values": list(dict.fromkeys(claims.values()))},
    }
