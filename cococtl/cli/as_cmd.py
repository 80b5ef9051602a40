"""``cococtl as …``: the RESTful CoCo Attestation Service."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from cococtl.cli.output import get_output

app = typer.Typer(no_args_is_help=True, help="Talk to a RESTful CoCo Attestation Service.")

UrlOpt = Annotated[str, typer.Option("--url", envvar="COCOCTL_AS_URL", help="Attestation service root URL.")]
CertOpt = Annotated[
    Path | None, typer.Option("--cert-file", metavar="PEM", envvar="COCOCTL_CERT_FILE", help="Extra trusted CA.")
]


@app.command("attest")
def attest(
    ctx: typer.Context,
    tee: Annotated[str, typer.Option("--tee", help="TEE of the evidence: sample, tdx, snp, … (auto with auto).")],
    evidence: Annotated[str, typer.Option("--evidence", metavar="FILE|auto", help="Evidence JSON, or auto.")],
    url: UrlOpt = "http://127.0.0.1:8080",
    policy_id: Annotated[list[str] | None, typer.Option("--policy-id", help="Policy to apply (repeatable).")] = None,
    cert_file: CertOpt = None,
    timeout: Annotated[float, typer.Option("--timeout", metavar="SECONDS")] = 30.0,
) -> None:
    """Send evidence to POST /attestation and print the token. With --evidence auto, collect it here,
    bound to a fresh nonce sent as structured runtime data."""
    from cococtl.errors import InvalidInputError, NotFoundError
    from cococtl.kbs.as_client import AttestationServiceClient

    client = AttestationServiceClient(url, cert_file=str(cert_file) if cert_file else None, timeout=timeout)
    runtime_data = None
    if evidence == "auto":
        import base64
        import hashlib

        from cococtl.evidence.detect import choose_attester
        from cococtl.kbs.client import canonical_json

        attester = choose_attester(tee, None)
        runtime_data = {"nonce": base64.b64encode(os.urandom(32)).decode()}
        document = attester.evidence(hashlib.sha384(canonical_json(runtime_data)).digest())
        tee = attester.tee
    else:
        try:
            document = json.loads(Path(evidence).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFoundError(f"evidence file {evidence} does not exist") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"evidence file {evidence} is not JSON: {exc}") from None
    token = client.attest(tee, document, policy_ids=policy_id, runtime_data=runtime_data)
    out = get_output(ctx)
    if out.json:
        out.result_json({"tee": tee, "token": token})
    else:
        out.result_text(token)


@app.command("set-policy")
def set_policy(
    ctx: typer.Context,
    policy_id: Annotated[str, typer.Option("--id", help="Policy id.")],
    policy_file: Annotated[Path, typer.Option("--policy-file", metavar="FILE", help="Rego policy.")],
    url: UrlOpt = "http://127.0.0.1:8080",
    policy_type: Annotated[str, typer.Option("--type", help="Policy type.")] = "rego",
    cert_file: CertOpt = None,
) -> None:
    """Upload a policy with POST /policy (parse-checked first)."""
    from cococtl.errors import NotFoundError
    from cococtl.kbs.as_client import AttestationServiceClient

    try:
        text = policy_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"policy file {policy_file} does not exist") from None
    AttestationServiceClient(url, cert_file=str(cert_file) if cert_file else None).set_policy(
        policy_id, text, policy_type=policy_type, name=str(policy_file)
    )
    get_output(ctx).status(f"set policy {policy_id}")
