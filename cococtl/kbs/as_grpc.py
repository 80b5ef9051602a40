"""gRPC clients for the CoCo Attestation Service and the Reference Value Provider Service (Trustee).

Messages and services are the upstream protos compiled into ``cococtl/protos/`` (trustee 78962cd4):

- ``attestation.AttestationService`` (protos/attestation.proto:94-98): ``AttestationEvaluate(AttestationRequest
  {repeated IndividualAttestationRequest verification_requests = 1; repeated string policy_ids = 2})`` answers
  ``{attestation_token}``; each IndividualAttestationRequest (:17-73) is ``{tee = 1, evidence = 3 (URL_SAFE_NO_PAD
  of the evidence JSON), oneof runtime_data {raw_runtime_data = 4 (URL_SAFE_NO_PAD), structured_runtime_data = 5
  (JSON text)}, oneof init_data {init_data_digest = 6 (URL_SAFE_NO_PAD), init_data_toml = 7},
  runtime_data_hash_algorithm = 8 ("" means sha384)}``. ``SetAttestationPolicy({policy_id, policy})`` takes the
  policy as URL_SAFE_NO_PAD (attestation-service/src/lib.rs:173-178); ``GetAttestationChallenge({map inner})`` needs
  the keys ``tee`` and ``tee_params`` (attestation-service/src/bin/grpc/mod.rs:251-258). There is no policy listing
  in the gRPC API; the gRPC AS serves ``/.well-known/jwks.json`` over HTTP/1 on the same port (grpc/mod.rs:357-389).
- ``reference.ReferenceValueProviderService`` (protos/reference.proto:19-22), served by the RVPS and by the gRPC AS
  with its built-in RVPS: ``RegisterReferenceValue({message})`` takes the JSON text of an RVPS ``Message``
  ``{version: "0.1.0", type, payload}`` (rvps/src/lib.rs:41-47); ``QueryReferenceValue({reference_value_id})``
  answers ``{optional reference_value_results}``, the JSON of the stored value, absent when there is none.

Upstream answers every failure with ``ABORTED`` and the error chain (grpc/mod.rs, rvps/src/server/mod.rs); cococtl
maps it by what failed: a request the AS could not parse is invalid input (3), a failed evaluation is a denial
(5), a message the RVPS could not use is invalid input (3). Transport failures are exit 4, always within the
``timeout`` given (every call carries it as its gRPC deadline).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from cococtl.errors import (
    CococtlError,
    DeniedError,
    InvalidInputError,
    NotFoundError,
    UnreachableError,
    printable,
)
from cococtl.kbs.as_client import HASH_ALGORITHMS, VerificationRequest
from cococtl.kbs.b64 import b64url

# attestation-service/src/bin/grpc/mod.rs:42-60 to_kbs_tee(): the TEE names the gRPC AS accepts (not the same
# list as the RESTful AS: nvidia and tpm, no sampledevice).
GRPC_TEES = (
    *("sgx", "snp", "tdx", "csv", "sample", "az-snp-vtpm", "cca", "az-tdx-vtpm", "se", "hygondcu", "nvidia", "tpm"),
)
SCHEMES = ("grpc", "grpcs")
# rvps/src/lib.rs:31 MESSAGE_VERSION; rvps/src/extractors/mod.rs:42-54: the provenance types the RVPS extracts.
RVPS_MESSAGE_VERSION = "0.1.0"
RVPS_TYPES = ("sample", "swid", "corim")
# How the gRPC AS words the failures of a request it could not read (grpc/mod.rs:146-198): invalid input, not a
# denial. Everything else it aborts with (evaluation, policy engine, storage) is reported as a refusal.
_AS_INPUT_FAILURES = (
    "parse TEE type",
    "Illegal input Evidence",
    "failed to parse tee evidence",
    "base64 decode runtime data",
    "parse structured runtime data",
    "base64 decode init data",
    "parse runtime data HashAlgorithm",
    "Error parse inner_tee",
    "Error parse TEE type",
)


def is_grpc_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() in SCHEMES if "://" in url else False


@dataclass(frozen=True)
class GrpcTarget:
    target: str  # HOST:PORT as grpc dials it
    secure: bool

    @classmethod
    def parse(cls, url: str, *, what: str = "gRPC service") -> GrpcTarget:
        """``grpc://HOST:PORT`` (plaintext) or ``grpcs://HOST:PORT`` (TLS); IPv6 hosts in brackets."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in SCHEMES:
            raise InvalidInputError(f"{what} URL {url!r} must be grpc://HOST:PORT or grpcs://HOST:PORT")
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise InvalidInputError(f"{what} URL {url!r} needs a host and a port (grpc://HOST:PORT)")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
            raise InvalidInputError(f"{what} URL {url!r} takes only HOST:PORT (no path, query or credentials)")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return cls(f"{host}:{port}", parts.scheme.lower() == "grpcs")


def _one_line(text: str) -> str:
    """Upstream's error chain ("…failed: \\n0: …\\n1: …") on one line, made safe for a terminal."""
    return printable("; ".join(line.strip() for line in text.splitlines() if line.strip()), limit=500)


class _GrpcClient:
    """One channel per call; every call has ``timeout`` as its deadline."""

    proto = ""
    service = ""
    what = "gRPC service"

    def __init__(self, url: str, *, cert_file: str | None = None, timeout: float = 30.0) -> None:
        self.url = url
        self.where = GrpcTarget.parse(url, what=self.what)
        self.cert_file = cert_file
        self.timeout = timeout

    def _modules(self) -> tuple[ModuleType, ModuleType, ModuleType]:
        from cococtl.protos import load

        return load(self.proto, f"the gRPC {self.what} client")

    def _channel(self, grpc: ModuleType) -> Any:
        if not self.where.secure:
            return grpc.insecure_channel(self.where.target)
        roots = None  # grpc's own roots
        if self.cert_file is not None:
            from cococtl.netutil import ca_bundle

            # --cert-file adds a trust root (certifi's plus this one), as for HTTPS.
            with open(str(ca_bundle(self.cert_file)), "rb") as handle:
                roots = handle.read()
        return grpc.secure_channel(self.where.target, grpc.ssl_channel_credentials(root_certificates=roots))

    def _call(
        self,
        method: str,
        request: Any,
        what: str,
        *,
        aborted: Callable[[str], CococtlError],
    ) -> Any:
        grpc, _, services = self._modules()
        with self._channel(grpc) as channel:
            stub = getattr(services, f"{self.service}Stub")(channel)
            try:
                return getattr(stub, method)(request, timeout=self.timeout)
            except grpc.RpcError as error:
                raise self._error(grpc, error, what, aborted) from None

    def _error(self, grpc: ModuleType, error: Any, what: str, aborted: Callable[[str], CococtlError]) -> CococtlError:
        code, details = error.code(), _one_line(error.details() or "")
        codes = grpc.StatusCode
        name = getattr(code, "name", str(code))
        if code == codes.DEADLINE_EXCEEDED:
            return UnreachableError(
                f"{what}: the {self.what} at {self.url} did not answer within {self.timeout:g} s",
                hint="raise --timeout if it is only slow",
            )
        if code == codes.UNAVAILABLE:
            tls = any(word in details.lower() for word in ("ssl", "tls", "handshake", "certificate"))
            return UnreachableError(
                f"{what}: cannot reach the {self.what} at {self.url}: {details}",
                hint="pass --cert-file with its CA" if tls and self.where.secure else None,
            )
        if code in (codes.PERMISSION_DENIED, codes.UNAUTHENTICATED):
            return DeniedError(f"{what}: the {self.what} refused ({name}): {details}")
        if code == codes.INVALID_ARGUMENT:
            return InvalidInputError(f"{what}: the {self.what} could not use the request: {details}")
        if code == codes.NOT_FOUND:
            return NotFoundError(f"{what}: not found: {details}")
        if code == codes.UNIMPLEMENTED:
            return NotFoundError(
                f"{what}: the server at {self.url} does not offer {self.service} ({details})",
                hint=f"is this a gRPC {self.what}?",
            )
        if code == codes.ABORTED:
            return aborted(details)
        return UnreachableError(f"{what}: the {self.what} at {self.url} failed ({name}): {details}")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def individual_request(messages: ModuleType, request: VerificationRequest) -> Any:
    """An ``IndividualAttestationRequest`` (attestation.proto:17-73) from the same VerificationRequest the RESTful
    client sends."""
    if request.tee not in GRPC_TEES:
        raise InvalidInputError(
            f"the gRPC attestation service does not take TEE {request.tee!r}: one of {', '.join(GRPC_TEES)}"
        )
    fields: dict[str, str] = {"tee": request.tee, "evidence": b64url(_compact(request.evidence).encode())}
    if isinstance(request.runtime_data, bytes):
        fields["raw_runtime_data"] = b64url(request.runtime_data)
    elif request.runtime_data is not None:
        fields["structured_runtime_data"] = _compact(request.runtime_data)
    if request.init_data_toml is not None and request.init_data_digest is not None:
        raise InvalidInputError("give the init-data TOML or its digest, not both")
    if request.init_data_toml is not None:
        fields["init_data_toml"] = request.init_data_toml
    elif request.init_data_digest is not None:
        fields["init_data_digest"] = b64url(request.init_data_digest)
    if request.runtime_data_hash_algorithm is not None:
        algorithm = request.runtime_data_hash_algorithm.lower()
        if algorithm not in HASH_ALGORITHMS:
            raise InvalidInputError(f"hash algorithm must be one of {', '.join(HASH_ALGORITHMS)}")
        fields["runtime_data_hash_algorithm"] = algorithm
    return messages.IndividualAttestationRequest(**fields)


def _as_aborted(what: str) -> Callable[[str], CococtlError]:
    def classify(details: str) -> CococtlError:
        if any(marker in details for marker in _AS_INPUT_FAILURES):
            return InvalidInputError(f"{what}: the attestation service could not read the request: {details}")
        return DeniedError(f"{what}: the attestation service refused: {details}")

    return classify


class GrpcAttestationServiceClient(_GrpcClient):
    """``attestation.AttestationService`` with the methods of the RESTful AttestationServiceClient."""

    proto = "attestation"
    service = "AttestationService"
    what = "attestation service"

    def attest(self, requests: Sequence[VerificationRequest], *, policy_ids: Sequence[str] = ()) -> str:
        """Verify every evidence in one AttestationEvaluate; return the token (policy ``default`` if none)."""
        if not requests:
            raise InvalidInputError("nothing to attest: give at least one evidence")
        _, messages, _ = self._modules()
        message = messages.AttestationRequest(
            verification_requests=[individual_request(messages, r) for r in requests], policy_ids=list(policy_ids)
        )
        answer = self._call("AttestationEvaluate", message, "attestation", aborted=_as_aborted("attestation"))
        token = str(answer.attestation_token).strip()
        if not token:
            raise DeniedError("attestation: the attestation service answered an empty token")
        return token

    def challenge(self, tee: str, tee_params: str = "") -> str:
        """GetAttestationChallenge: the supplemental challenge some TEEs need (e.g. se)."""
        if tee not in GRPC_TEES:
            raise InvalidInputError(
                f"the gRPC attestation service does not take TEE {tee!r}: one of {', '.join(GRPC_TEES)}"
            )
        _, messages, _ = self._modules()
        message = messages.ChallengeRequest(inner={"tee": tee, "tee_params": tee_params})
        answer = self._call("GetAttestationChallenge", message, "challenge", aborted=_as_aborted("challenge"))
        return str(answer.attestation_challenge).strip()

    def set_policy(self, policy_id: str, text: str, *, name: str = "policy") -> None:
        from cococtl.policy.rego import check_policy

        check_policy(text, name=name)
        _, messages, _ = self._modules()
        message = messages.SetPolicyRequest(policy_id=policy_id, policy=b64url(text.encode()))
        what = f"set policy {policy_id}"
        self._call("SetAttestationPolicy", message, what, aborted=_as_aborted(what))

    def list_policies(self) -> list[str]:
        raise InvalidInputError(
            "the gRPC attestation service has no call that lists policies "
            "(attestation.AttestationService: AttestationEvaluate, SetAttestationPolicy, GetAttestationChallenge)",
            hint="ask the RESTful attestation service (--url http://HOST:PORT)",
        )

    def jwks(self) -> Any:
        """The gRPC AS serves the token signer's keys over HTTP/1 on its gRPC port."""
        from cococtl.kbs.as_client import AttestationServiceClient

        scheme = "https" if self.where.secure else "http"
        url = f"{scheme}://{self.where.target}"
        return AttestationServiceClient(url, cert_file=self.cert_file, timeout=self.timeout).jwks()


def _rvps_aborted(what: str, *, input_error: bool) -> Callable[[str], CococtlError]:
    def classify(details: str) -> CococtlError:
        if input_error:
            return InvalidInputError(f"{what}: the reference value provider refused the message: {details}")
        return UnreachableError(f"{what}: the reference value provider failed: {details}")

    return classify


class GrpcReferenceValueProviderClient(_GrpcClient):
    """``reference.ReferenceValueProviderService`` (the RVPS, or the gRPC AS with its built-in RVPS)."""

    proto = "reference"
    service = "ReferenceValueProviderService"
    what = "reference value provider"

    def register(self, message: str) -> dict[str, Any]:
        """RegisterReferenceValue with the message text as given (checked first); returns the parsed message."""
        document = check_message(message)
        _, messages, _ = self._modules()
        self._call(
            "RegisterReferenceValue",
            messages.ReferenceValueRegisterRequest(message=message),
            "register reference values",
            aborted=_rvps_aborted("register reference values", input_error=True),
        )
        return document

    def query(self, reference_value_id: str) -> Any:
        """QueryReferenceValue: the stored value (any JSON); NotFoundError when the RVPS has none."""
        if not reference_value_id:
            raise InvalidInputError("give the id of the reference value to query")
        _, messages, _ = self._modules()
        what = f"query reference value {reference_value_id}"
        answer = self._call(
            "QueryReferenceValue",
            messages.ReferenceValueQueryRequest(reference_value_id=reference_value_id),
            what,
            aborted=_rvps_aborted(what, input_error=False),
        )
        if not answer.HasField("reference_value_results"):
            raise NotFoundError(f"the reference value provider has no reference value {reference_value_id!r}")
        try:
            return json.loads(answer.reference_value_results)
        except ValueError:
            raise UnreachableError(f"{what}: the answer is not JSON") from None


def check_message(text: str) -> dict[str, Any]:
    """An RVPS ``Message`` as rvps/src/lib.rs:41-100 reads it: a JSON object with string ``payload`` and ``type``,
    and ``version`` (default "0.1.0") that must be "0.1.0"; the type must be one the RVPS extracts."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"the RVPS message is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidInputError("the RVPS message must be a JSON object {version, type, payload}")
    for key in ("type", "payload"):
        if not isinstance(document.get(key), str):
            raise InvalidInputError(f"the RVPS message needs a string {key!r}")
    version = document.get("version", RVPS_MESSAGE_VERSION)
    if version != RVPS_MESSAGE_VERSION:
        raise InvalidInputError(f"the RVPS takes message version {RVPS_MESSAGE_VERSION}, not {version!r}")
    if document["type"] not in RVPS_TYPES:
        raise InvalidInputError(
            f"the RVPS has no extractor for type {document['type']!r}: one of {', '.join(RVPS_TYPES)}"
        )
    try:
        base64.b64decode(document["payload"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError("the RVPS message payload must be standard base64 (with padding)") from None
    return document


def build_message(provenance_type: str, provenance: bytes) -> dict[str, str]:
    """``{version: "0.1.0", type, payload: base64(provenance)}`` (STANDARD base64, as each extractor decodes it).

    ``sample`` provenance is a JSON object ``{"<name>": [<reference values>], …}``
    (rvps/src/extractors/sample/mod.rs:18-48, README.md there); it is checked and sent compact. ``swid`` (a SWID/RIM
    XML manifest) and ``corim`` (a CBOR CoRIM) are sent as the file's bytes.
    """
    if provenance_type not in RVPS_TYPES:
        raise InvalidInputError(f"unknown provenance type {provenance_type!r}: one of {', '.join(RVPS_TYPES)}")
    if provenance_type == "sample":
        try:
            values = json.loads(provenance)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"sample reference values are not JSON: {exc}") from None
        if not isinstance(values, dict) or not values:
            raise InvalidInputError('sample reference values must be a JSON object {"<name>": [values…], …}')
        provenance = _compact(values).encode()
    elif provenance_type == "swid":
        try:
            provenance.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError("a SWID/RIM manifest must be UTF-8 XML") from None
    return {
        "version": RVPS_MESSAGE_VERSION,
        "type": provenance_type,
        "payload": base64.b64encode(provenance).decode("ascii"),
    }
