"""The RESTful CoCo Attestation Service (Trustee attestation-service ≥ v0.14).

Routes and bodies as trustee attestation-service/src/bin/restful-as.rs (``WebApi``) and restful/mod.rs define
them: ``POST /attestation`` takes ``{"verification_requests": [...], "policy_ids": [...]}`` and answers the token;
``POST /policy`` ``{"policy_id", "policy"}``; ``GET /policy[/{id}]``; ``POST /challenge`` ``{"tee", "tee_params"}``;
``GET /.well-known/jwks.json``. Evidence, raw runtime data, init-data digests and policies travel as URL-safe base64
without padding; the AS answers failures with 500 (evaluation) or 400 (a body it cannot deserialize).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cococtl.errors import DeniedError, InvalidInputError, NotFoundError, UnreachableError, printable
from cococtl.kbs.b64 import b64url
from cococtl.netutil import ca_bundle
from cococtl.policy.rego import check_policy

# kbs-types HashAlgorithm (hash_algorithm.rs): what the AS parses runtime_data_hash_algorithm into.
HASH_ALGORITHMS = ("sha256", "sha384", "sha512", "sm3")
# restful/mod.rs to_tee(): the TEE names the RESTful AS accepts.
AS_TEES = ("az-snp-vtpm", "sgx", "snp", "tdx", "cca", "csv", "sample", "sampledevice", "az-tdx-vtpm", "se", "hygondcu")


@dataclass(frozen=True)
class VerificationRequest:
    """One evidence to verify. ``runtime_data`` is raw bytes or a structured JSON value; ``init_data`` is the
    init-data TOML text (the AS hashes it itself) or a raw digest."""

    tee: str
    evidence: Any
    runtime_data: bytes | dict[str, Any] | list[Any] | None = None
    init_data_toml: str | None = None
    init_data_digest: bytes | None = None
    runtime_data_hash_algorithm: str | None = None

    def body(self) -> dict[str, Any]:
        if self.tee not in AS_TEES:
            raise InvalidInputError(
                f"the attestation service does not take TEE {self.tee!r}: one of {', '.join(AS_TEES)}"
            )
        body: dict[str, Any] = {"tee": self.tee, "evidence": b64url(_compact(self.evidence))}
        if isinstance(self.runtime_data, bytes):
            body["runtime_data"] = {"raw": b64url(self.runtime_data)}
        elif self.runtime_data is not None:
            body["runtime_data"] = {"structured": self.runtime_data}
        if self.init_data_toml is not None and self.init_data_digest is not None:
            raise InvalidInputError("give the init-data TOML or its digest, not both")
        if self.init_data_toml is not None:
            body["init_data"] = {"init_data_toml": self.init_data_toml}
        elif self.init_data_digest is not None:
            body["init_data"] = {"init_data_digest": b64url(self.init_data_digest)}
        if self.runtime_data_hash_algorithm is not None:
            if self.runtime_data_hash_algorithm.lower() not in HASH_ALGORITHMS:
                raise InvalidInputError(f"hash algorithm must be one of {', '.join(HASH_ALGORITHMS)}")
            body["runtime_data_hash_algorithm"] = self.runtime_data_hash_algorithm.lower()
        return body


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class AttestationServiceClient:
    def __init__(self, url: str, *, cert_file: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.cert_file = cert_file
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None, what: str) -> str:
        import requests

        from cococtl.netutil import bounded_request

        # The whole exchange is bounded by the timeout and the answer by 16 MiB (cococtl.netutil).
        with requests.Session() as session:
            response = bounded_request(
                session,
                method,
                f"{self.url}/{path}",
                what=what,
                peer=f"the attestation service at {self.url}",
                timeout=self.timeout,
                json=body,
                verify=ca_bundle(self.cert_file),
                allow_redirects=False,
                tls_hint="pass --cert-file",
            )
        # Failures come as an error stack, one cause a line ("0: …\n1: …"): keep it on one line.
        text = printable("; ".join(line.strip() for line in response.text.splitlines() if line.strip()), 500)
        if response.status_code == 200:
            return str(response.text)
        if response.status_code == 500 and re.search(r"Policy `[^`]*` not found", text):
            # attestation-service token broker: an unknown policy id (seen against Trustee 78962cd4).
            raise NotFoundError(f"{what}: the attestation service has no such policy: {text}")
        if response.status_code in (401, 403, 500):
            raise DeniedError(f"{what}: the attestation service refused: {text}")
        if response.status_code == 400:
            raise InvalidInputError(f"{what}: the attestation service could not read the request: {text}")
        if response.status_code == 404:
            raise NotFoundError(f"{what}: {self.url}/{path} does not exist (is this a RESTful AS?)")
        raise UnreachableError(f"{what}: the attestation service answered HTTP {response.status_code}: {text}")

    def attest(self, requests: Sequence[VerificationRequest], *, policy_ids: Sequence[str] = ()) -> str:
        """Verify every evidence in one call; return the attestation token (policy ``default`` if none given)."""
        if not requests:
            raise InvalidInputError("nothing to attest: give at least one evidence")
        body = {"verification_requests": [r.body() for r in requests], "policy_ids": list(policy_ids)}
        return self._call("POST", "attestation", body, "attestation").strip()

    def challenge(self, tee: str, tee_params: str = "") -> str:
        """``POST /challenge``: the supplemental challenge some TEEs need (e.g. se, az vTPM)."""
        return self._call("POST", "challenge", {"tee": tee, "tee_params": tee_params}, "challenge").strip()

    def set_policy(self, policy_id: str, text: str, *, name: str = "policy") -> None:
        check_policy(text, name=name)
        self._call(
            "POST", "policy", {"policy_id": policy_id, "policy": b64url(text.encode())}, f"set policy {policy_id}"
        )

    def list_policies(self) -> list[str]:
        text = self._call("GET", "policy", None, "list policies")
        try:
            entries = json.loads(text)
            return [str(entry["policy-id"]) for entry in entries]
        except (ValueError, TypeError, KeyError):
            raise UnreachableError(
                "list policies: the attestation service answered something else than a list"
            ) from None

    def jwks(self) -> Any:
        text = self._call("GET", ".well-known/jwks.json", None, "token signer keys")
        try:
            return json.loads(text)
        except ValueError:
            raise UnreachableError("token signer keys: the answer is not JSON") from None
