"""``cococtl as …``: the CoCo Attestation Service (Trustee attestation-service ≥ v0.14), RESTful or gRPC.

The transport follows ``--url``: ``http(s)://`` is the RESTful AS, ``grpc://HOST:PORT`` / ``grpcs://HOST:PORT`` the
gRPC one (``attestation.AttestationService``); the options are the same.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from cococtl.cli.choices import AsEvidenceTee, AsTee, HashAlgorithm
from cococtl.cli.output import get_output

app = typer.Typer(
    no_args_is_help=True, help="Talk to a CoCo Attestation Service (RESTful, or gRPC with --url grpc://HOST:PORT)."
)

UrlOpt = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="COCOCTL_AS_URL",
        rich_help_panel="Attestation service",
        help="Attestation service: http(s):// root URL, or grpc(s)://HOST:PORT.",
    ),
]
CertOpt = Annotated[
    Path | None, typer.Option("--cert-file", metavar="PEM", envvar="COCOCTL_CERT_FILE", help="Extra trusted CA.")
]
TimeoutOpt = Annotated[
    float,
    typer.Option("--timeout", metavar="SECONDS", rich_help_panel="Attestation service", help="Bound on each request."),
]


def _client(url: str, cert_file: Path | None, timeout: float) -> Any:
    """The RESTful client, or the gRPC one for a grpc:// or grpcs:// URL (same methods)."""
    from cococtl.kbs.as_grpc import GrpcAttestationServiceClient, is_grpc_url

    if is_grpc_url(url):
        return GrpcAttestationServiceClient(url, cert_file=str(cert_file) if cert_file else None, timeout=timeout)
    from cococtl.kbs.as_client import AttestationServiceClient

    return AttestationServiceClient(url, cert_file=str(cert_file) if cert_file else None, timeout=timeout)


def _read(path: Path, what: str) -> bytes:
    from cococtl.errors import InvalidInputError, NotFoundError

    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{what} {path} is a directory") from None


def _json_file(path: Path, what: str) -> Any:
    from cococtl.errors import InvalidInputError

    try:
        return json.loads(_read(path, what))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{what} {path} is not JSON: {exc}") from None


def _collect(tee: str, hash_algorithm: str, client: Any) -> tuple[str, Any, dict[str, str]]:
    """Evidence collected here, bound to a nonce sent as structured runtime data. The nonce is the AS's
    supplemental challenge when it gives one (``POST /challenge``: SE does; the other verifiers answer "",
    trustee deps/verifier/src/lib.rs generate_supplemental_challenge), else a fresh random one."""
    import base64
    import hashlib

    from cococtl.errors import CococtlError, InvalidInputError
    from cococtl.evidence.detect import choose_attester
    from cococtl.kbs.client import canonical_json

    attester = choose_attester(tee, None)
    try:
        challenge = str(client.challenge(attester.tee, "")).strip()
    except CococtlError:
        challenge = ""  # an AS without /challenge (or a TEE it has no verifier for): our own nonce
    runtime_data = {"nonce": challenge or base64.b64encode(os.urandom(32)).decode()}
    try:
        digest = hashlib.new(hash_algorithm, canonical_json(runtime_data)).digest()
    except ValueError:
        raise InvalidInputError(
            f"--evidence auto cannot bind with {hash_algorithm}: this Python has no such hash"
        ) from None
    return attester.tee, attester.evidence(digest), runtime_data


@app.command("attest")
def attest(
    ctx: typer.Context,
    evidence: Annotated[
        list[str],
        typer.Option("--evidence", metavar="[TEE=]FILE|auto", help="Evidence JSON (repeatable), or auto."),
    ],
    tee: Annotated[
        AsEvidenceTee, typer.Option("--tee", help="TEE of evidence given without TEE= (auto: collect it here).")
    ] = AsEvidenceTee.auto,
    url: UrlOpt = "http://127.0.0.1:8080",
    policy_id: Annotated[list[str] | None, typer.Option("--policy-id", help="Policy to apply (repeatable).")] = None,
    runtime_data: Annotated[
        Path | None, typer.Option("--runtime-data", metavar="FILE", help="Raw runtime data bound to the evidence.")
    ] = None,
    runtime_data_json: Annotated[
        Path | None, typer.Option("--runtime-data-json", metavar="FILE", help="Structured (JSON) runtime data.")
    ] = None,
    init_data: Annotated[
        Path | None, typer.Option("--init-data", metavar="TOML", help="Init-data TOML, sent byte-exact.")
    ] = None,
    init_data_digest: Annotated[
        str | None, typer.Option("--init-data-digest", metavar="HEX", help="Or the init-data digest.")
    ] = None,
    hash_algorithm: Annotated[
        HashAlgorithm, typer.Option("--hash-algorithm", case_sensitive=False, help="Runtime-data hash.")
    ] = HashAlgorithm.sha384,
    cert_file: CertOpt = None,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """Send evidence to POST /attestation (gRPC: AttestationEvaluate) and print the token.

    Several --evidence go in one request; with --evidence auto, evidence is collected here, bound to a fresh
    nonce sent as structured runtime data.
    """
    from cococtl.errors import InvalidInputError
    from cococtl.kbs.as_client import HASH_ALGORITHMS, VerificationRequest

    if hash_algorithm.lower() not in HASH_ALGORITHMS:
        raise InvalidInputError(f"--hash-algorithm must be one of {', '.join(HASH_ALGORITHMS)}")
    if runtime_data is not None and runtime_data_json is not None:
        raise InvalidInputError("give --runtime-data or --runtime-data-json, not both")
    given_runtime: bytes | Any = None
    if runtime_data is not None:
        given_runtime = _read(runtime_data, "runtime data")
    elif runtime_data_json is not None:
        given_runtime = _json_file(runtime_data_json, "runtime data")
    toml_text = None
    if init_data is not None:
        try:
            toml_text = _read(init_data, "init-data").decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(f"init-data {init_data} is not UTF-8 text") from None
    digest = None
    if init_data_digest is not None:
        try:
            digest = bytes.fromhex(init_data_digest)
        except ValueError:
            raise InvalidInputError("--init-data-digest must be hex") from None
    client = _client(url, cert_file, timeout)
    requests = []
    for item in evidence:
        item_tee, _, path = item.rpartition("=") if "=" in item else (tee, "", item)
        runtime = given_runtime
        if path == "auto":
            if given_runtime is not None:
                raise InvalidInputError("--evidence auto makes its own runtime data: drop --runtime-data")
            item_tee, document, runtime = _collect(item_tee, hash_algorithm.lower(), client)
        else:
            if item_tee == "auto":
                raise InvalidInputError(f"--evidence {item}: say which TEE it is from (--tee or TEE=FILE)")
            document = _json_file(Path(path), "evidence file")
        requests.append(
            VerificationRequest(
                item_tee,
                document,
                runtime_data=runtime,
                init_data_toml=toml_text,
                init_data_digest=digest,
                runtime_data_hash_algorithm=hash_algorithm.lower(),
            )
        )
    token = client.attest(requests, policy_ids=policy_id or [])
    out = get_output(ctx)
    if out.json:
        out.result_json({"tees": [r.tee for r in requests], "token": token})
    else:
        out.result_text(token)


@app.command("set-policy")
def set_policy(
    ctx: typer.Context,
    policy_id: Annotated[str, typer.Option("--id", help="Policy id.")],
    policy_file: Annotated[Path, typer.Option("--policy-file", metavar="FILE", help="Rego policy.")],
    url: UrlOpt = "http://127.0.0.1:8080",
    policy_type: Annotated[str, typer.Option("--type", hidden=True, help="Ignored (older AS versions).")] = "rego",
    cert_file: CertOpt = None,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """Upload a policy with POST /policy (gRPC: SetAttestationPolicy), parse-checked first."""
    from cococtl.errors import InvalidInputError

    del policy_type
    try:
        text = _read(policy_file, "policy file").decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"policy file {policy_file} is not UTF-8 text") from None
    _client(url, cert_file, timeout).set_policy(policy_id, text, name=str(policy_file))
    get_output(ctx).status(f"set policy {policy_id}")


@app.command("policies")
def policies(ctx: typer.Context, url: UrlOpt = "http://127.0.0.1:8080", cert_file: CertOpt = None) -> None:
    """List the policy ids the AS holds (GET /policy)."""
    ids = _client(url, cert_file, 30.0).list_policies()
    out = get_output(ctx)
    if out.json:
        out.result_json({"policy_ids": ids})
    else:
        out.result_text("\n".join(ids))


@app.command("challenge")
def challenge(
    ctx: typer.Context,
    tee: Annotated[AsTee, typer.Option("--tee", help="TEE that needs a supplemental challenge (e.g. se).")],
    tee_params: Annotated[str, typer.Option("--tee-params", help="TEE-specific parameters (a string).")] = "",
    url: UrlOpt = "http://127.0.0.1:8080",
    cert_file: CertOpt = None,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """Ask the AS for a supplemental challenge (POST /challenge; gRPC: GetAttestationChallenge)."""
    get_output(ctx).result_text(_client(url, cert_file, timeout).challenge(tee, tee_params))


@app.command("jwks")
def jwks(ctx: typer.Context, url: UrlOpt = "http://127.0.0.1:8080", cert_file: CertOpt = None) -> None:
    """The token signer's public keys (GET /.well-known/jwks.json)."""
    get_output(ctx).result_json(_client(url, cert_file, 30.0).jwks())
