"""The HTTP server of the local KBS double: Trustee's routes, status codes and error bodies."""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import os
import re
import secrets
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from cococtl.devkbs.admin import AdminDenied, AdminPolicy
from cococtl.devkbs.ear import TokenRejected, sample_ear_claims, sign_ear_token, verify_ear_token
from cococtl.devkbs.jwe import JweFailure, b64url, encrypt_to
from cococtl.errors import CococtlError
from cococtl.policy import builtin as policies
from cococtl.policy.rego import allows, check_policy

ERROR_TYPE = "https://github.com/confidential-containers/kbs/errors/"
TEES = {
    "az-snp-vtpm",
    "az-tdx-vtpm",
    "nvidia",
    "sgx",
    "snp",
    "tdx",
    "cca",
    "csv",
    "se",
    "hygondcu",
    "nvidia-dpu",  # kbs-types 0.18 Tee::NvidiaDpu, also accepted as "nvidiadpu"
    "nvidiadpu",
    "tpm",
    "sample",
    "sampledevice",
}
_SEGMENT = re.compile(r"^[A-Za-z0-9_\-]+[A-Za-z0-9_\-.]*$")
_MAX_BODY = 2 << 20
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")


class KbsError(Exception):
    def __init__(self, variant: str, detail: str, status: int = 401) -> None:
        super().__init__(detail)
        self.variant, self.detail, self.status = variant, detail, status


@dataclass
class Session:
    nonce: str
    tee: str
    expires: float
    token: str | None = None
    hash_algorithm: str = "sha384"


@dataclass
class DevKbsConfig:
    storage: Path
    admin: AdminPolicy = field(default_factory=AdminPolicy)
    token_ttl: int = 300
    token_leeway: int = 60
    session_ttl: int = 300
    resource_policy: str | None = None
    # Like Trustee's Intel Trust Authority backend (kbs/src/attestation/intel_trust_authority/mod.rs): pick this
    # hash if the client lists it in extra-params "supported-hash-algorithms", and say so in the challenge.
    selected_hash_algorithm: str | None = None


@dataclass
class KbsState:
    config: DevKbsConfig
    signing_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    sessions: dict[str, Session] = field(default_factory=dict)
    reference_values: dict[str, Any] = field(default_factory=dict)
    attestation_policies: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        (self.config.storage / "repository").mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.resource_policy_text() is None:
            self.set_resource_policy(self.config.resource_policy or policies.DEFAULT)

    # Resources live one file each, named like Trustee's LocalFs backend: repo\x2Ftype\x2Ftag.
    def resource_file(self, segments: list[str]) -> Path:
        if len(segments) != 3 or not all(_SEGMENT.match(s) for s in segments):
            raise KbsError("PluginInternalError", "Plugin internal error")
        return self.config.storage / "repository" / "\\x2F".join(segments)

    def resource_policy_text(self) -> str | None:
        path = self.config.storage / "resource-policy.rego"
        return path.read_text() if path.exists() else None

    def set_resource_policy(self, text: str) -> None:
        (self.config.storage / "resource-policy.rego").write_text(text)

    def public_jwk(self) -> dict[str, str]:
        numbers = self.signing_key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "alg": "ES256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }


def _jcs(value: Any) -> bytes:
    import rfc8785

    return bytes(rfc8785.dumps(value))


def _canonical_pubkey(key: Any) -> dict[str, str]:
    """Parse ``tee-pubkey`` like kbs-types TeePubKey and re-serialise it (only these members survive)."""
    if not isinstance(key, dict) or not isinstance(key.get("alg"), str):
        raise KbsError("AttestationError", "Attestation error: RCAR handshake Attest failed")
    if key.get("kty") == "EC" and all(isinstance(key.get(k), str) for k in ("crv", "x", "y")):
        return {"alg": key["alg"], "crv": key["crv"], "kty": "EC", "x": key["x"], "y": key["y"]}
    if key.get("kty") == "RSA" and all(isinstance(key.get(k), str) for k in ("n", "e")):
        return {"alg": key["alg"], "e": key["e"], "kty": "RSA", "n": key["n"]}
    if key.get("kty") == "AKP" and isinstance(key.get("pub"), str):  # kbs-types 0.18 TeePubKey::AKP
        return {"alg": key["alg"], "kty": "AKP", "pub": key["pub"]}
    raise KbsError("AttestationError", "Attestation error: RCAR handshake Attest failed")


_URL_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _url_safe_no_pad(text: str) -> bytes:
    """The base64 crate's URL_SAFE_NO_PAD decoding, with its error wording (the double's own reading)."""
    data = text.encode("ascii", errors="replace")
    for offset, byte in enumerate(data):
        if byte == ord("="):
            raise ValueError("Invalid padding")
        if byte not in _URL_SAFE:
            raise ValueError(f"Invalid symbol {byte}, offset {offset}.")
    if len(data) % 4 == 1:
        raise ValueError("Invalid input length.")
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def _compact(value: Any) -> bytes:
    """serde_json's output: no spaces after separators."""
    return json.dumps(value, separators=(",", ":")).encode()


class _PlainAnswer(Exception):
    """An answer actix-web gives before Trustee's handlers run (no JSON error body)."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status, self.body = status, body


class Handler(BaseHTTPRequestHandler):
    server_version = "cococtl-devkbs"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    protocol_version = "HTTP/1.1"
    state: KbsState

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # --- plumbing -------------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            # actix-web's PayloadConfig (kbs api_server.rs, payload_request_size = 2 MiB by default): a plain 413.
            raise _PlainAnswer(413, b"A payload reached size limit.")
        return self.rfile.read(length) if length else b""

    def _json_body(self, variant: str = "SerdeError", detail: str = "Serialize/Deserialize failed") -> Any:
        try:
            return json.loads(self._body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise KbsError(variant, detail) from None

    def _send(self, status: int, body: bytes, content_type: str | None, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self, method: str) -> None:
        # The request line as sent: http.server folds a leading "//" into "/", actix does not route it.
        raw_target = self.requestline.split(" ")[1] if self.requestline.count(" ") >= 2 else self.path
        path = urlsplit(raw_target).path
        self.state.requests.append((method, path))
        try:
            if path == "/healthz" and method == "GET":
                self._send(200, b"", None)
                return
            if not path.startswith("/kbs/v0/"):
                # Nothing is routed outside /kbs/v0/{path:.*}: actix answers 404 with an empty body.
                raise _PlainAnswer(404, b"")
            parts = path[len("/kbs/v0/") :].split("/")
            plugin, rest = parts[0], parts[1:]
            route = {
                ("auth", "POST"): self._auth,
                ("attest", "POST"): self._attest,
                ("resource-policy", "POST"): self._set_resource_policy,
                ("resource-policy", "GET"): self._get_resource_policy,
                ("attestation-policy", "POST"): self._set_attestation_policy,
                ("reference-value", "POST"): self._set_reference_value,
                ("reference-value", "GET"): self._get_reference_value,
            }.get((plugin, method))
            if route is not None:
                route(rest)
            elif plugin == "resource":
                self._resource(method, rest)
            else:  # an empty plugin name too: "Plugin  not found" (api_server.rs, PluginNotFound)
                raise KbsError("PluginNotFound", f"Plugin {plugin} not found", 404)
        except _PlainAnswer as answer:
            self._send(answer.status, answer.body, "text/plain; charset=utf-8" if answer.body else None)
        except KbsError as error:
            self._send(error.status, _compact({"type": ERROR_TYPE + error.variant, "detail": error.detail}), None)
        except Exception as error:  # a double must never answer with a traceback or a dropped connection
            internal = {"type": ERROR_TYPE + "PluginInternalError", "detail": f"internal: {error}"}
            self._send(401, _compact(internal), None)

    def _cookie_session(self) -> tuple[str | None, Session | None]:
        cookies = self.headers.get("Cookie") or ""
        for part in cookies.split(";"):
            name, _, value = part.strip().partition("=")
            if name == "kbs-session-id":
                with self.state.lock:
                    session = self.state.sessions.get(value)
                    if session is not None and session.expires < time.time():
                        del self.state.sessions[value]
                        session = None
                return value, session
        return None, None

    def _admin(self, endpoint: str | None = None) -> None:
        """Trustee: built-in endpoints fail with AdminAuthAccess naming the endpoint; plugin calls (the resource
        plugin) convert the admin error into AdminAuthInitialization (api_server.rs, error.rs)."""
        try:
            self.state.config.admin.check(self.headers.get("Authorization"), self.path)
        except AdminDenied as denied:
            if endpoint is None:
                raise KbsError(
                    "AdminAuthInitialization", f"failed to initialize [admin] configuration: {denied}"
                ) from None
            raise KbsError("AdminAuthAccess", f"admin access denied for endpoint {endpoint}: {denied}") from None

    # --- attestation ------------------------------------------------------------------------------
    def _auth(self, _rest: list[str]) -> None:
        def fail(cause: str) -> KbsError:
            return KbsError("AttestationError", f"Attestation error: RCAR handshake Auth failed: {cause}")

        request = self._json_body(
            "AttestationError", "Attestation error: RCAR handshake Auth failed: deserialize Request"
        )
        if not isinstance(request, dict) or "extra-params" not in request or not isinstance(request.get("tee"), str):
            raise fail("deserialize Request")
        version = request.get("version")
        if request["tee"] not in TEES or not isinstance(version, str):
            raise fail("deserialize Request")  # serde: an unknown Tee or a non-string version
        # backend.rs __auth: semver Version::parse, then VersionReq "=0.4.0".
        if not _SEMVER.fullmatch(version):
            raise fail("failed to parse KBS version")
        if version != "0.4.0":
            raise fail(f"KBS Client Protocol Version Mismatch: expect =0.4.0 while the request is {version}")
        selected = self.state.config.selected_hash_algorithm
        extra_params: Any = ""
        algorithm = "sha512" if request["tee"] == "se" else "sha384"
        if selected is not None:
            offered = (
                request["extra-params"].get("supported-hash-algorithms")
                if isinstance(request["extra-params"], dict)
                else None
            )
            if not isinstance(offered, list) or selected not in offered:
                raise fail(f"the client does not support the hash algorithm {selected}")
            extra_params, algorithm = {"selected-hash-algorithm": selected}, selected
        session_id = uuid.uuid4().hex
        expires = time.time() + self.state.config.session_ttl
        nonce = base64.b64encode(secrets.token_bytes(32)).decode()
        with self.state.lock:
            self.state.sessions[session_id] = Session(nonce, request["tee"], expires, hash_algorithm=algorithm)
        cookie = f"kbs-session-id={session_id}; Expires={self._http_date(expires)}"
        challenge = {"nonce": nonce, "extra-params": extra_params}
        self._send(200, _compact(challenge), "application/json", {"Set-Cookie": cookie})

    @staticmethod
    def _http_date(when: float) -> str:
        return datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")

    def _attest(self, _rest: list[str]) -> None:
        failed = KbsError("AttestationError", "Attestation error: RCAR handshake Attest failed")
        session_id, session = self._cookie_session()
        if session_id is None or session is None:
            raise failed
        cookie = {"Set-Cookie": f"kbs-session-id={session_id}; Expires={self._http_date(session.expires)}"}
        if session.token is not None:
            self._send(200, _compact({"token": session.token}), "application/json", cookie)
            return
        attestation = self._json_body("AttestationError", "Attestation error: RCAR handshake Attest failed")
        try:
            runtime = attestation["runtime-data"]
            evidence = attestation["tee-evidence"]
            primary, additional = evidence["primary_evidence"], evidence["additional_evidence"]
            nonce = runtime["nonce"]
        except (KeyError, TypeError):
            raise failed from None
        if nonce != session.nonce or not isinstance(additional, str):
            raise failed
        if additional:  # Trustee parses it as HashMap<Tee, Value> (kbs/src/attestation/backend.rs)
            try:
                devices = json.loads(additional)
            except json.JSONDecodeError:
                raise failed from None
            if not isinstance(devices, dict) or not set(devices) <= TEES:
                raise failed
        pubkey = _canonical_pubkey(runtime.get("tee-pubkey"))
        runtime_claims = {"tee-pubkey": pubkey, "nonce": session.nonce, "additional-evidence": additional}
        expected = hashlib.new(session.hash_algorithm, _jcs(runtime_claims)).digest()
        init_bound = self._init_data(attestation.get("init-data"), failed)
        init_digest = init_bound[0] if init_bound is not None else None
        if session.tee != "sample":
            raise failed  # the double verifies only the sample TEE's evidence
        if not isinstance(primary, dict) or not isinstance(primary.get("svn"), str):
            raise failed
        try:
            got = base64.b64decode(primary.get("report_data", ""), validate=True)
        except (binascii.Error, ValueError):
            raise failed from None
        if got != expected:
            raise failed
        try:
            claims = sample_ear_claims(
                report_data=primary["report_data"],
                runtime_data=runtime_claims,
                reference_values=dict(self.state.reference_values),
                init_data=init_digest,
                init_data_claims=init_bound[1] if init_bound is not None else None,
                ttl_seconds=self.state.config.token_ttl,
                svn=primary["svn"],
                policy=self.state.attestation_policies.get("default_cpu"),
            )
        except (ValueError, CococtlError):
            raise failed from None
        token = sign_ear_token(claims, self.state.signing_key, self.state.public_jwk())
        with self.state.lock:
            session.token = token
        self._send(200, _compact({"token": token}), "application/json", cookie)

    @staticmethod
    def _init_data(init_data: Any, failed: KbsError) -> tuple[str, dict[str, Any]] | None:
        """Like Trustee: kbs/src/attestation/coco/builtin.rs:89-93 takes format "toml" only; the AS parses the
        body as ``Initdata {version, algorithm, data: HashMap<String, String>}`` and hashes its exact bytes
        (attestation-service/src/lib.rs:80-84, 342-381); the sample verifier reports the digest as standard
        base64 (deps/verifier/src/sample/mod.rs:38-45). Returns (that claim, init_data_claims)."""
        if init_data is None:
            return None
        if (
            not isinstance(init_data, dict)
            or init_data.get("format") != "toml"
            or not isinstance(init_data.get("body"), str)
        ):
            raise failed
        import tomllib

        from cococtl.initdata.claims import init_data_claims

        body = init_data["body"]
        try:
            document = tomllib.loads(body)
        except (tomllib.TOMLDecodeError, RecursionError, ValueError):
            raise failed from None
        algorithm, data = document.get("algorithm"), document.get("data")
        digests = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
        if (
            algorithm not in digests
            or not isinstance(document.get("version"), str)
            or not isinstance(data, dict)
            or not all(isinstance(v, str) for v in data.values())
        ):
            raise failed
        claim = base64.b64encode(digests[algorithm](body.encode("utf-8")).digest()).decode()
        try:
            return claim, init_data_claims(data)
        except ValueError:  # a u64 the EAR claims cannot hold: Trustee's AS fails the attestation
            raise failed from None

    # --- resources ---------------------------------------------------------------------------------
    def _token_claims(self) -> dict[str, Any]:
        _, session = self._cookie_session()
        token = session.token if session is not None else None
        if token is None:
            authorization = self.headers.get("Authorization") or ""
            if authorization.startswith("Bearer "):
                token = authorization[len("Bearer ") :].strip()
        if not token:
            raise KbsError("TokenNotFound", "Attestation Token not found")
        try:
            return verify_ear_token(token, leeway=self.state.config.token_leeway)
        except TokenRejected:
            raise KbsError("TokenVerifierError", "Token Verifier error") from None

    def _resource(self, method: str, segments: list[str]) -> None:
        if method == "GET":
            claims = self._token_claims()
            policy = self.state.resource_policy_text() or policies.DEFAULT
            data = {"plugin": "resource", "resource-path": segments, "query": {}}
            try:
                allowed = allows(policy, input_value=claims, data=data)
            except CococtlError as error:
                raise KbsError("PolicyEngineError", f"Policy engine error: {error.message}") from None
            if not allowed:
                raise KbsError("PolicyDeny", "Access denied by policy")
            path = self.state.resource_file(segments)
            if not path.is_file():
                raise KbsError("PluginInternalError", "Plugin internal error")
            try:
                pubkey = claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["runtime_data_claims"][
                    "tee-pubkey"
                ]
                body = encrypt_to(pubkey, path.read_bytes())
            except (KeyError, TypeError, JweFailure, CococtlError, ValueError):
                raise KbsError("JweError", "JWE failed") from None
            self._send(200, _compact(body), "application/json")
        elif method in ("POST", "DELETE"):
            self._admin()  # a plugin call: AdminAuthInitialization, like Trustee
            path = self.state.resource_file(segments)
            if method == "POST":
                content = self._body()
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(content)
                self._send(200, b"", "text/xml")
            else:
                if not path.is_file():
                    raise KbsError("PluginInternalError", "Plugin internal error")
                path.unlink()
                self._send(200, b"", None)
        else:
            raise KbsError("PluginInternalError", "Plugin internal error")

    # --- admin endpoints ------------------------------------------------------------------------------
    @staticmethod
    def _policy_text(encoded: Any) -> str:
        if not isinstance(encoded, str):
            raise KbsError("ParsePolicyError", "Failed to parse policy: missing policy")
        try:
            text = _url_safe_no_pad(encoded).decode("utf-8")
        except ValueError as error:
            raise KbsError("ParsePolicyError", f"Failed to parse policy: Failed to decode policy: {error}") from None
        try:
            check_policy(text)
        except CococtlError as error:
            # Trustee's regorus reports its own text; the variant and prefix are Trustee's (kbs/src/error.rs).
            detail = f"Policy engine error: Failed to load policy: {error.message}"
            raise KbsError("PolicyEngineError", detail) from None
        return text

    def _set_resource_policy(self, _rest: list[str]) -> None:
        self._admin("resource-policy")
        request = self._json_body()
        text = self._policy_text(request.get("policy") if isinstance(request, dict) else None)
        self.state.set_resource_policy(text)
        self._send(200, b"", None)

    def _get_resource_policy(self, _rest: list[str]) -> None:
        self._admin("resource-policy")
        self._send(200, _compact(["resource-policy"]), "application/json")

    def _set_attestation_policy(self, _rest: list[str]) -> None:
        self._admin("attestation-policy")
        request = self._json_body()
        if not isinstance(request, dict) or not isinstance(request.get("policy_id"), str):
            raise KbsError("AttestationError", "Attestation error: Set Attestation Policy failed")
        text = self._policy_text(request.get("policy"))
        self.state.attestation_policies[request["policy_id"]] = text
        self._send(200, b"", None)

    def _set_reference_value(self, _rest: list[str]) -> None:
        self._admin("reference-value")
        request = self._json_body()
        failed = KbsError("RvpsError", "RVPS configuration failed: invalid reference value message")
        if not isinstance(request, dict) or request.get("version") != "0.1.0" or request.get("type") != "sample":
            raise failed
        try:
            payload = json.loads(base64.b64decode(request.get("payload", ""), validate=True))
        except (binascii.Error, ValueError, json.JSONDecodeError):
            raise failed from None
        if not isinstance(payload, dict):
            raise failed
        with self.state.lock:
            self.state.reference_values.update(payload)
        self._send(200, b"", "application/json")

    def _get_reference_value(self, rest: list[str]) -> None:
        self._admin("reference-value")
        name = "/".join(rest)
        if name not in self.state.reference_values:
            raise KbsError(
                "RvpsError",
                "RVPS configuration failed: Failed to get reference_values: "
                f"No reference value found for the given id: {name}",
            )
        self._send(200, _compact(self.state.reference_values[name]), "application/json")


class DevKbs:
    """Start the double in a background thread: ``url = DevKbs(config).start()``; ``stop()`` when done."""

    def __init__(
        self, config: DevKbsConfig, *, host: str = "127.0.0.1", port: int = 0, tls: tuple[Path, Path] | None = None
    ) -> None:
        self.state = KbsState(config)
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self.url

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
