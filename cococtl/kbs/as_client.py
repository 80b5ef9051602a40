"""The RESTful CoCo Attestation Service: ``POST /attestation`` (evidence → token) and ``POST /policy``."""

from __future__ import annotations

import json
from typing import Any

from cococtl.errors import DeniedError, InvalidInputError, UnreachableError
from cococtl.kbs.b64 import b64url
from cococtl.netutil import ca_bundle
from cococtl.policy.rego import check_policy

HASH_ALGORITHMS = ("sha256", "sha384", "sha512")


class AttestationServiceClient:
    def __init__(self, url: str, *, cert_file: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.cert_file = cert_file
        self.timeout = timeout

    def _post(self, path: str, body: dict[str, Any], what: str) -> str:
        import requests

        try:
            response = requests.post(
                f"{self.url}/{path}", json=body, timeout=self.timeout, verify=ca_bundle(self.cert_file)
            )
        except requests.exceptions.SSLError as exc:
            raise UnreachableError(f"{what}: TLS verification failed: {exc}", hint="pass --cert-file") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise UnreachableError(f"{what}: cannot reach the attestation service at {self.url}: {exc}") from None
        if response.status_code in (401, 403):
            raise DeniedError(f"{what}: {response.text.strip()[:500]}")
        if response.status_code != 200:
            raise DeniedError(
                f"{what}: the attestation service answered HTTP {response.status_code}: {response.text.strip()[:500]}"
            )
        return str(response.text)

    def attest(
        self,
        tee: str,
        evidence: Any,
        *,
        policy_ids: list[str] | None = None,
        runtime_data: dict[str, Any] | None = None,
        hash_algorithm: str = "sha384",
    ) -> str:
        """Verify ``evidence`` (a JSON value); return the attestation token."""
        if hash_algorithm not in HASH_ALGORITHMS:
            raise InvalidInputError(f"hash algorithm must be one of {', '.join(HASH_ALGORITHMS)}")
        body: dict[str, Any] = {
            "tee": tee,
            # The AS decodes evidence as URL-safe base64 without padding.
            "evidence": b64url(json.dumps(evidence, separators=(",", ":")).encode()),
            "runtime_data_hash_algorithm": hash_algorithm,
            "policy_ids": policy_ids or [],
        }
        if runtime_data is not None:
            body["runtime_data"] = {"structured": runtime_data}
        return self._post("attestation", body, "attestation").strip()

    def set_policy(self, policy_id: str, text: str, *, policy_type: str = "rego", name: str = "policy") -> None:
        check_policy(text, name=name)
        self._post(
            "policy",
            {"type": policy_type, "policy_id": policy_id, "policy": b64url(text.encode())},
            f"set policy {policy_id}",
        )
