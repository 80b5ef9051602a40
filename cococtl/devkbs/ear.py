"""EAR attestation results for the ``sample`` TEE, shaped like Trustee's attestation service output, and the
JWTs they travel in.

The default CPU appraisal policy's sample rules are applied natively (they need Trustee's
``query_reference_value`` builtin): reference values ``launch_digest``, ``svn``, ``major_version``
and ``minimum_minor_version`` turn the result from contraindicated to affirming.

Tokens are signed and verified with joserfc directly, not with the client's ``cococtl.kbs.jwt``: the double
stays an independent reading of the protocol.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec

from cococtl.devkbs.jwe import deprecated_but_trustee

if TYPE_CHECKING:
    from joserfc.jwk import ECKey, OKPKey
    from joserfc.jws import JWSRegistry

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


def policy_trust_vector(policy: str, policy_input: dict[str, Any], reference_values: dict[str, Any]) -> dict[str, int]:
    """Evaluate an uploaded appraisal policy's ``trust_claims`` with regopy on ``policy_input``
    (:func:`tcb_claims`).

    Trustee's ``query_reference_value("id")`` builtin does not exist in regopy: calls to it are rewritten to
    ``data.reference_values["id"]`` (undefined when missing), with the reference values as data.
    """
    from cococtl.policy.rego import evaluate, with_reference_values_as_data

    text = with_reference_values_as_data(policy)
    vector = evaluate(
        text,
        "data.policy.trust_claims",
        input_value=policy_input,
        data={"reference_values": reference_values},
        name="attestation policy",
    )
    if not isinstance(vector, dict) or not all(isinstance(v, int) for v in vector.values()):
        raise ValueError("the attestation policy's trust_claims is not an object of integers")
    return {key: int(vector[key]) for key in TRUST_KEYS if key in vector}  # the ear crate leaves unset claims out


def tcb_claims(
    sample: dict[str, Any],
    *,
    report_data: str,
    runtime_data: dict[str, Any],
    init_data: str | None = None,
    init_data_claims: Any = None,
) -> dict[str, Any]:
    """What Trustee's EAR broker evaluates the appraisal policy on and puts in the token as the annotated
    evidence (attestation-service/src/ear_token/broker.rs ``transform_claims``, used at 155-161 and 221-230): the
    verifier's ``init_data`` and ``report_data`` claims move to the top level, ``init_data_claims`` beside
    ``init_data`` and ``runtime_data_claims`` beside ``report_data`` (the parsed init-data TOML and the structured
    runtime data, attestation-service/src/lib.rs ``parse_init_data``/``parse_runtime_data``), the rest of the
    claims under the TEE's name. The sample verifier always reports ``report_data`` and reports ``init_data``
    when init-data was given (deps/verifier/src/sample/mod.rs 36-45, 78-98); the KBS's ``verbose_token``
    defaults to true, so ``additional-evidence`` stays in the runtime data."""
    claims: dict[str, Any] = {"report_data": report_data, "runtime_data_claims": runtime_data, "sample": sample}
    if init_data is not None:
        claims["init_data"] = init_data
        claims["init_data_claims"] = init_data_claims
    return dict(sorted(claims.items()))  # a BTreeMap in Trustee


def sample_ear_claims(
    *,
    report_data: str,
    runtime_data: dict[str, Any],
    reference_values: dict[str, Any],
    init_data: str | None,
    ttl_seconds: int,
    svn: str,
    policy: str | None = None,
    init_data_claims: Any = None,
) -> dict[str, Any]:
    """EAR claims; ``policy`` is an uploaded ``default_cpu`` appraisal policy (else Trustee's default rules),
    evaluated on the same document the token annotates (:func:`tcb_claims`)."""
    claims = {**SAMPLE_CLAIMS, "svn": svn}
    annotated = tcb_claims(
        claims,
        report_data=report_data,
        runtime_data=runtime_data,
        init_data=init_data,
        init_data_claims=init_data_claims,
    )
    vector = (
        policy_trust_vector(policy, annotated, reference_values) if policy else trust_vector(claims, reference_values)
    )
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
                # broker.rs:167 evaluates "{policy_ids[0]}_cpu" but records policy_ids[0] (:287): the KBS asks for
                # "default" (kbs/src/attestation/coco/builtin.rs:99)
                "ear.appraisal-policy-id": "default",
                "ear.veraison.annotated-evidence": annotated,
            }
        },
    }


class TokenRejected(ValueError):
    """A token's signature, algorithm or time claims do not verify."""


def _jws_registry(alg: str) -> JWSRegistry:
    from joserfc.jws import JWSRegistry

    registry = JWSRegistry(algorithms=[alg], strict_check_header=False)
    registry.max_payload_length = 1 << 62  # EAR claims carry the runtime and init data: no 128 kB limit
    return registry


def sign_ear_token(claims: dict[str, Any], key: ec.EllipticCurvePrivateKey, jwk: dict[str, str]) -> str:
    """ES256, with the verification key in the ``jwk`` header member (Trustee's EAR broker with a generated key)."""
    from joserfc import jws
    from joserfc.jwk import ECKey

    header = {"alg": "ES256", "typ": "JWT", "jwk": jwk}
    payload = json.dumps(claims, separators=(",", ":"), allow_nan=False).encode()
    return jws.serialize_compact(header, payload, ECKey.import_key(key), registry=_jws_registry("ES256"))


def verify_jwt(token: str, key: ECKey | OKPKey, alg: str, *, leeway: int) -> dict[str, Any]:
    """Exactly ``alg``, the signature, then the time claims with ``leeway`` seconds: ``exp`` required (as
    jsonwebtoken's default ``Validation`` in Trustee), ``nbf`` when present. Returns the claims; raises
    TokenRejected. Other claims (issuer, audience, role) are the caller's."""
    from joserfc import jws
    from joserfc.errors import JoseError
    from joserfc.jwt import JWTClaimsRegistry

    registry = _jws_registry(alg)
    try:
        with deprecated_but_trustee("EdDSA is deprecated") if alg == "EdDSA" else contextlib.nullcontext():
            signed = jws.extract_compact(token.strip().encode(), registry=registry)
            if signed.headers().get("alg") != alg or not jws.validate_compact(signed, key, registry=registry):
                raise TokenRejected("bad signature")
        claims = json.loads(signed.payload or b"")
        if not isinstance(claims, dict):
            raise TokenRejected("the payload is not a JSON object")
        times = {name: claims[name] for name in ("exp", "nbf") if claims.get(name) is not None}
        JWTClaimsRegistry(leeway=leeway, exp={"essential": True}).validate(times)
    except (JoseError, ValueError, TypeError, UnicodeDecodeError) as error:
        raise TokenRejected(str(error)) from None
    return claims


def verify_ear_token(token: str, *, leeway: int) -> dict[str, Any]:
    """Verify with the P-256 key in the token's own ``jwk`` header member (the double trusts its own tokens)."""
    from joserfc import jws
    from joserfc.errors import JoseError
    from joserfc.jwk import ECKey

    try:
        jwk = jws.extract_compact(token.strip().encode(), registry=_jws_registry("ES256")).headers().get("jwk")
        x, y = (jwk.get("x"), jwk.get("y")) if isinstance(jwk, dict) else (None, None)
        if not isinstance(x, str) or not isinstance(y, str):
            raise TokenRejected("no usable jwk header member")
        key = ECKey.import_key({"kty": "EC", "crv": "P-256", "x": x, "y": y})
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise TokenRejected(str(error)) from None
    return verify_jwt(token, key, "ES256", leeway=leeway)
