"""RCAR attestation (protocol 0.4.0) and resource retrieval from a Trustee KBS.

One :class:`KbsSession` attests once and then fetches any number of resources with its cookie:
N resources cost N + 2 requests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cococtl.errors import CococtlError, InvalidInputError, UnreachableError, printable
from cococtl.evidence import Attester
from cococtl.kbs.errors import kbs_error
from cococtl.kbs.jwe import TeeKeyPair
from cococtl.kbs.uri import parse_resource_uri
from cococtl.netutil import ca_bundle

PROTOCOL_VERSION = "0.4.0"
USER_AGENT = "cococtl"


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS), what the KBS hashes."""
    import rfc8785

    return bytes(rfc8785.dumps(value))


# kbs-types HashAlgorithm::list_all() (hash_algorithm.rs), what guest-components' kbs_protocol advertises in
# extra-params "supported-hash-algorithms"; the challenge's "selected-hash-algorithm" picks one, else sha384
# (attestation-agent/kbs_protocol/src/client/rcar_client.rs get_request_extra_params / get_hash_algorithm).
HASH_ALGORITHMS = ("sha256", "sha384", "sha512", "sm3")
DEFAULT_HASH_ALGORITHM = "sha384"


def report_data(
    nonce: str, tee_pubkey: dict[str, str], additional_evidence: str = "", algorithm: str = DEFAULT_HASH_ALGORITHM
) -> bytes:
    """HASH(JCS({"tee-pubkey", "nonce", "additional-evidence"})): the primary evidence's report data."""
    runtime = {"tee-pubkey": tee_pubkey, "nonce": nonce, "additional-evidence": additional_evidence}
    return hashlib.new(algorithm, canonical_json(runtime)).digest()


def selected_hash_algorithm(extra_params: Any) -> str:
    """The hash the KBS selected in the challenge's extra-params (case-insensitive, as strum parses it)."""
    if not isinstance(extra_params, dict) or "selected-hash-algorithm" not in extra_params:
        return DEFAULT_HASH_ALGORITHM
    name = extra_params["selected-hash-algorithm"]
    if not isinstance(name, str) or name.lower() not in HASH_ALGORITHMS:
        raise UnreachableError(f"attestation (auth): the KBS selected an unknown hash algorithm {str(name)[:40]!r}")
    return name.lower()


def read_init_data(path: Path | None) -> dict[str, str] | None:
    """The init-data TOML byte-exact (no newline translation: the KBS hashes these bytes)."""
    if path is None:
        return None
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"init-data file {path} does not exist") from None
    try:
        return {"format": "toml", "body": raw.decode("utf-8")}
    except UnicodeDecodeError:
        raise InvalidInputError(f"init-data file {path} is not UTF-8 text") from None


@dataclass
class KbsClient:
    url: str
    cert_file: str | None = None
    timeout: float = 30.0
    requests_made: int = 0
    hash_algorithm: str = DEFAULT_HASH_ALGORITHM
    reattestations: int = 0
    _session: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        import requests

        self.url = self.url.rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            raise InvalidInputError(f"KBS URL {self.url!r} must start with http:// or https://")
        if self.url.startswith("http://"):
            from cococtl.notices import warn

            warn(f"talking to the KBS over plain HTTP ({self.url})")  # once per URL per process
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> KbsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        """One HTTP request to ``/kbs/v0/<path>``; non-200 answers become our errors.

        The whole exchange (connect, headers, body) ends within ``timeout`` seconds and the answer is read up to
        16 MiB (decoded), so a slow or hostile KBS cannot stall or exhaust us (cococtl.netutil.bounded_request).
        """
        from cococtl.netutil import bounded_request

        url = f"{self.url}/kbs/v0/{path}"
        self.requests_made += 1
        # Never follow a redirect: it could carry the admin token, the session cookie or a secret's bytes
        # to another host (Trustee itself never redirects).
        response = bounded_request(
            self._session,
            method,
            url,
            what=what,
            peer=f"the KBS at {self.url}",
            timeout=self.timeout,
            verify=ca_bundle(self.cert_file),
            allow_redirects=False,
            tls_hint="pass --cert-file with the KBS's CA certificate",
            **kwargs,
        )
        if 300 <= response.status_code < 400:
            target = printable(response.headers.get("Location", "(no Location)"))
            raise UnreachableError(
                f"{what}: the KBS at {self.url} answered a redirect (HTTP {response.status_code}) to {target};"
                " not followed, so that no credential or secret goes elsewhere",
                hint="use the URL the KBS is really served at",
            )
        if response.status_code != 200:
            raise kbs_error(response.status_code, response.content, what=what)
        return response

    def attest(
        self,
        attester: Attester,
        keypair: TeeKeyPair,
        *,
        init_data: dict[str, str] | None = None,
        additional: Sequence[Attester] = (),
    ) -> str:
        """Run the RCAR handshake; return the attestation token (the session cookie is kept).

        The report data is hashed with the challenge's selected algorithm (sha384 by default).
        ``additional`` attesters (devices) are bound to HASH(JCS({"nonce", "tee-pubkey"})); their
        evidence goes, as the JSON text of ``{tee: evidence}``, into ``additional_evidence``.
        """
        challenge = self.request(
            "POST",
            "auth",
            what="attestation (auth)",
            json={
                "version": PROTOCOL_VERSION,
                "tee": attester.tee,
                "extra-params": {"supported-hash-algorithms": list(HASH_ALGORITHMS)},
            },
        )
        try:
            body = challenge.json()
            nonce = body["nonce"]
        except (ValueError, KeyError, TypeError):
            raise UnreachableError("attestation (auth): the KBS challenge has no nonce") from None
        if not isinstance(nonce, str):
            raise UnreachableError("attestation (auth): the KBS nonce is not a string")
        algorithm = selected_hash_algorithm(body.get("extra-params"))
        self.hash_algorithm = algorithm
        pubkey = keypair.public_jwk()
        additional_evidence = ""
        if additional:
            device_digest = hashlib.new(algorithm, canonical_json({"nonce": nonce, "tee-pubkey": pubkey})).digest()
            devices = {device.tee: device.evidence(device_digest) for device in additional}
            additional_evidence = json.dumps(devices, separators=(",", ":"))
        bind_challenge = getattr(attester, "bind_challenge", None)
        if callable(bind_challenge):  # IBM SE: the nonce is the attestation request (evidence/se.py)
            bind_challenge(nonce)
        evidence = attester.evidence(report_data(nonce, pubkey, additional_evidence, algorithm))
        attestation = {
            "init-data": init_data,
            "runtime-data": {"nonce": nonce, "tee-pubkey": pubkey},
            "tee-evidence": {"primary_evidence": evidence, "additional_evidence": additional_evidence},
        }
        answer = self.request("POST", "attest", what="attestation (attest)", json=attestation)
        try:
            token = answer.json()["token"]
        except (ValueError, KeyError, TypeError):
            raise UnreachableError("attestation (attest): the KBS answer has no token") from None
        return str(token)

    def get_resource(self, path: str, keypair: TeeKeyPair, *, token: str | None = None) -> bytes:
        """GET one resource with the session cookie (or a Bearer token) and decrypt its JWE."""
        resource = parse_resource_uri(path)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.request("GET", resource.endpoint, what=f"resource {resource}", headers=headers)
        return keypair.decrypt(response.content)


def token_claims_summary(token: str) -> dict[str, Any]:
    """The parts of an EAR token a report shows (no signature check: the KBS did that)."""
    from cococtl.kbs.b64 import b64url_decode

    try:
        claims = json.loads(b64url_decode(token.split(".")[1], what="token payload"))
    except (IndexError, CococtlError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    submods = claims.get("submods", {}) if isinstance(claims, dict) else {}
    return {
        "issuer": claims.get("iss"),
        "expires": claims.get("exp"),
        "status": {name: sub.get("ear.status") for name, sub in submods.items() if isinstance(sub, dict)},
    }


def fetch_resources(
    client: KbsClient,
    attester: Attester,
    paths: Sequence[str],
    *,
    keypair: TeeKeyPair | None = None,
    init_data: dict[str, str] | None = None,
    additional: Sequence[Attester] = (),
) -> tuple[dict[str, bytes], str]:
    """One handshake, then every resource: returns ({path: bytes}, token).

    A 401 that is not a policy decision (an expired session or token during a long run) triggers a new handshake
    and one more try, at most ``MAX_REATTESTATIONS`` times in all, as guest-components' kbs_protocol does
    (rcar_client.rs get_resource: UNAUTHORIZED → rcar_handshake, bounded attempts).
    """
    pair = keypair or TeeKeyPair.generate()
    token = client.attest(attester, pair, init_data=init_data, additional=additional)
    resources: dict[str, bytes] = {}
    for path in paths:
        while True:
            try:
                resources[parse_resource_uri(path).key] = client.get_resource(path, pair)
                break
            except CococtlError as error:
                if not _session_expired(error) or client.reattestations >= MAX_REATTESTATIONS:
                    raise
            client.reattestations += 1
            token = client.attest(attester, pair, init_data=init_data, additional=additional)
    return resources, token


MAX_REATTESTATIONS = 2


def _session_expired(error: CococtlError) -> bool:
    """A 401 the KBS gives for a session or token (not a policy decision): worth a new handshake."""
    return getattr(error, "status", None) == 401 and getattr(error, "variant", "") not in (
        "PolicyDeny",
        "PluginInternalError",
        "PluginNotFound",
    )
