"""``cococtl kbs …``: what Trustee's kbs-client does, with one attestation for many resources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cococtl.cli.choices import AdminMode, KbsTee, TeeKeyType
from cococtl.cli.kbs_options import DEFAULT_URL, KbsGroup, KbsSettings, TeeKeyTypeOpt, kbs_settings
from cococtl.cli.output import get_output

__all__ = ["DEFAULT_URL", "app", "config_app"]

app = typer.Typer(
    cls=KbsGroup,
    no_args_is_help=True,
    help="Talk to a Trustee Key Broker Service (protocol 0.4.0).\n\n--url, --cert-file, --timeout and the admin "
    "options may stand before or after the subcommand.",
)
config_app = typer.Typer(
    cls=KbsGroup,
    no_args_is_help=True,
    help="kbs-client's `config` commands (the same as the kbs commands of the same name).",
)

TeeOpt = Annotated[
    KbsTee,
    typer.Option("--tee", help="Evidence: auto or a native attester; any TEE the KBS knows with --attester-cmd."),
]
TeeKeyOpt = Annotated[
    Path | None,
    typer.Option("--tee-key-file", metavar="PEM", help="TEE key pair (RSA PKCS#1, EC or ML-KEM-768 PKCS#8 PEM)."),
]


InitDataOpt = Annotated[Path | None, typer.Option("--init-data", metavar="FILE", help="Init-data TOML.")]
AttesterCmdOpt = Annotated[
    str | None,
    typer.Option(
        "--attester-cmd", metavar="CMD", help="Program printing evidence JSON; {report_data_hex} is replaced."
    ),
]
DeviceCmdOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--device-evidence-cmd",
        metavar="TEE=CMD",
        help="Additional (device) evidence from a program; {report_data_hex} is replaced (repeatable).",
    ),
]
PathOpt = Annotated[str, typer.Option("--path", metavar="REPO/TYPE/TAG", help="Resource path or kbs:/// URI.")]


def _settings(ctx: typer.Context) -> KbsSettings:
    settings = kbs_settings(ctx)
    if settings.token_source is not None:
        get_output(ctx).detail(f"admin token from {settings.token_source} ({settings.admin_token_file})")
    return settings


def _admin(ctx: typer.Context) -> Any:
    return _settings(ctx).admin()


def _keypair(tee_key_file: Path | None, kind: str) -> Any:
    from cococtl.kbs.jwe import TeeKeyPair

    if tee_key_file is not None:
        return TeeKeyPair.from_pem(tee_key_file, rsa_alg="RSA1_5" if kind == "rsa1_5" else "RSA-OAEP-256")
    return TeeKeyPair.generate(kind)


@app.command("attest")
def attest(
    ctx: typer.Context,
    tee: TeeOpt = KbsTee.auto,
    tee_key_file: TeeKeyOpt = None,
    tee_key_type: TeeKeyTypeOpt = TeeKeyType.ec_p256,
    init_data: InitDataOpt = None,
    attester_cmd: AttesterCmdOpt = None,
    device_evidence_cmd: DeviceCmdOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="TOKEN_FILE", help="Write the token here (0600).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace TOKEN_FILE.")] = False,
) -> None:
    """Attest to the KBS (RCAR) and print the attestation token."""
    from cococtl.evidence.detect import choose_attester, device_attesters
    from cococtl.fsutil import write_private_file
    from cococtl.kbs.client import read_init_data

    attester = choose_attester(tee, attester_cmd)
    with _settings(ctx).client() as client:
        token = client.attest(
            attester,
            _keypair(tee_key_file, tee_key_type),
            init_data=read_init_data(init_data),
            additional=device_attesters(device_evidence_cmd),
        )
    out = get_output(ctx)
    if output is not None:
        write_private_file(output, (token + "\n").encode(), force=force)
        out.status(f"wrote the attestation token to {output} (0600)")
        if out.json:
            from cococtl.kbs.client import token_claims_summary

            out.result_json({"output": str(output), "claims": token_claims_summary(token)})
    elif out.json:
        from cococtl.kbs.client import token_claims_summary

        out.result_json({"token": token, "claims": token_claims_summary(token)})
    else:
        out.result_text(token)


@app.command("get-resource")
def get_resource(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Option("--path", metavar="REPO/TYPE/TAG", help="Resource (repeatable).")],
    tee: TeeOpt = KbsTee.auto,
    tee_key_file: TeeKeyOpt = None,
    tee_key_type: TeeKeyTypeOpt = TeeKeyType.ec_p256,
    init_data: InitDataOpt = None,
    attester_cmd: AttesterCmdOpt = None,
    device_evidence_cmd: DeviceCmdOpt = None,
    attestation_token: Annotated[
        Path | None, typer.Option("--attestation-token", metavar="FILE", help="Use this token (passport mode).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE|DIR", help="Write raw bytes here (0600).")
    ] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Raw bytes on stdout instead of base64.")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace existing outputs.")] = False,
) -> None:
    """Fetch resources after ONE attestation (N + 2 requests); print base64 like kbs-client."""
    import base64
    import re
    import sys

    from cococtl.errors import InvalidInputError
    from cococtl.fsutil import write_private_file
    from cococtl.kbs.client import read_init_data
    from cococtl.kbs.uri import parse_resource_uri

    parsed = [parse_resource_uri(p).key for p in paths]
    if raw and (get_output(ctx).json or output is not None):
        raise InvalidInputError("--raw prints the bytes on stdout: it cannot go with --json or --output")
    if output is not None and len(parsed) > 1 and not output.is_dir():
        raise InvalidInputError("with several --path, --output must be an existing directory")
    with _settings(ctx).client() as client:
        if attestation_token is not None:
            if tee_key_file is None:
                raise InvalidInputError("--attestation-token needs --tee-key-file (the key the token was issued for)")
            token = attestation_token.read_text().strip()
            pair = _keypair(tee_key_file, tee_key_type)
            resources = {p: client.get_resource(p, pair, token=token) for p in parsed}
        else:
            from cococtl.evidence.detect import choose_attester, device_attesters
            from cococtl.kbs.client import fetch_resources

            resources, _ = fetch_resources(
                client,
                choose_attester(tee, attester_cmd),
                parsed,
                keypair=_keypair(tee_key_file, tee_key_type),
                init_data=read_init_data(init_data),
                additional=device_attesters(device_evidence_cmd),
            )
        requests_made = client.requests_made
    out = get_output(ctx)
    if output is not None:
        written = {}
        for path, data in resources.items():
            target = output / re.sub(r"[^A-Za-z0-9_.-]+", "_", path).strip("_") if output.is_dir() else output
            write_private_file(target, data, force=force)
            written[path] = {"output": str(target), "bytes": len(data)}
            out.status(f"wrote {path} to {target} ({len(data)} bytes, 0600)")
        if out.json:
            out.result_json({"resources": written, "requests": requests_made})
    elif out.json:
        out.result_json(
            {"resources": {p: base64.b64encode(d).decode() for p, d in resources.items()}, "requests": requests_made}
        )
    elif raw:
        for data in resources.values():
            sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        for data in resources.values():
            out.result_text(base64.b64encode(data).decode())
    out.detail(f"{requests_made} HTTP requests")


@app.command("set-resource")
def set_resource(
    ctx: typer.Context,
    path: PathOpt,
    resource_file: Annotated[
        str, typer.Option("--resource-file", metavar="FILE", help="File to upload, or - for stdin.")
    ],
) -> None:
    """Upload a resource (raw bytes, e.g. a 32-byte key) to the KBS."""
    import sys

    from cococtl.errors import NotFoundError

    if resource_file == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(resource_file).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"resource file {resource_file} does not exist") from None
    stored = _admin(ctx).set_resource(path, data)
    _done(ctx, {"resource": stored, "bytes": len(data)}, f"set resource {stored} ({len(data)} bytes)")


@app.command("delete-resource")
def delete_resource(
    ctx: typer.Context,
    path: PathOpt,
) -> None:
    """Delete a resource (Trustee >= 0.20)."""
    stored = _admin(ctx).delete_resource(path)
    _done(ctx, {"resource": stored, "deleted": True}, f"deleted resource {stored}")


@app.command("set-resource-policy")
def set_resource_policy(
    ctx: typer.Context,
    policy_file: Annotated[Path | None, typer.Option("--policy-file", metavar="FILE", help="Rego policy.")] = None,
    allow_all: Annotated[bool, typer.Option("--allow-all", help="Allow every resource request.")] = False,
    deny_all: Annotated[bool, typer.Option("--deny-all", help="Deny everything.")] = False,
    affirming: Annotated[bool, typer.Option("--affirming", help="Allow only affirming attestation results.")] = False,
    default: Annotated[bool, typer.Option("--default", help="Trustee's default policy (denies sample TEEs).")] = False,
) -> None:
    """Replace the KBS resource policy (parse-checked before upload)."""
    from cococtl.errors import InvalidInputError
    from cococtl.policy.builtin import BUILTIN

    chosen = [
        name
        for name, flag in (
            ("allow-all", allow_all),
            ("deny-all", deny_all),
            ("affirming", affirming),
            ("default", default),
        )
        if flag
    ]
    if len(chosen) + (policy_file is not None) != 1:
        raise InvalidInputError("give exactly one of --policy-file, --allow-all, --deny-all, --affirming, --default")
    text = _read_policy(policy_file) if policy_file is not None else BUILTIN[chosen[0]]
    _admin(ctx).set_resource_policy(text, name=str(policy_file or chosen[0]))
    _done(ctx, {"policy": str(policy_file) if policy_file else chosen[0]}, "set the resource policy")


def _read_policy(path: Path) -> str:
    from cococtl.errors import InvalidInputError, NotFoundError

    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"policy file {path} does not exist") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"policy file {path} is not UTF-8 text") from None


@app.command("get-resource-policy")
def get_resource_policy(
    ctx: typer.Context,
) -> None:
    """Show the resource policy ids (Trustee HEAD) or the policy (older servers)."""
    import json

    value = _admin(ctx).get_resource_policy()
    out = get_output(ctx)
    if out.json:
        out.result_json({"resource_policy": value})
    else:
        out.result_text(value if isinstance(value, str) else json.dumps(value))


@app.command("set-attestation-policy")
def set_attestation_policy(
    ctx: typer.Context,
    policy_file: Annotated[Path, typer.Option("--policy-file", metavar="FILE", help="Rego policy.")],
    policy_id: Annotated[str, typer.Option("--id", help="Policy id (the AS evaluates default_cpu).")] = "default_cpu",
    policy_type: Annotated[str, typer.Option("--type", help="Policy type.")] = "rego",
) -> None:
    """Upload an attestation (appraisal) policy (parse-checked before upload)."""
    _admin(ctx).set_attestation_policy(
        _read_policy(policy_file), policy_id=policy_id, policy_type=policy_type, name=str(policy_file)
    )
    _done(ctx, {"policy_id": policy_id}, f"set attestation policy {policy_id}")


@app.command("set-sample-reference-value", hidden=True)
@app.command("set-reference-value")
def set_reference_value(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Reference value name, e.g. svn.")],
    values: Annotated[list[str], typer.Argument(metavar="VALUE...", help="One or more values.")],
    rv_type: Annotated[str, typer.Option("--type", help="Reference value type.")] = "sample",
    as_integer: Annotated[bool, typer.Option("--as-integer", help="Send the values as integers.")] = False,
    as_bool: Annotated[bool, typer.Option("--as-bool", help="Send the values as booleans.")] = False,
    as_single_value: Annotated[bool, typer.Option("--as-single-value", help="One value, not a list.")] = False,
) -> None:
    """Set a reference value (strings by default, in a list, like kbs-client)."""
    from cococtl.errors import InvalidInputError

    converted: list[Any] = list(values)
    try:
        if as_integer:
            converted = [int(v) for v in values]
        elif as_bool:
            converted = [{"true": True, "false": False}[v.lower()] for v in values]
    except (ValueError, KeyError):
        raise InvalidInputError("values must be integers with --as-integer, true/false with --as-bool") from None
    if as_single_value and len(converted) != 1:
        raise InvalidInputError("--as-single-value takes exactly one value")
    value: Any = converted[0] if as_single_value else converted
    _admin(ctx).set_reference_value(name, value, rv_type=rv_type)
    _done(ctx, {"name": name, "value": value}, f"set reference value {name}")


@app.command("get-reference-value")
def get_reference_value(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Reference value name.")] = None,
    reference_id: Annotated[
        str | None, typer.Option("--id", metavar="NAME", help="The same, as kbs-client spells it.")
    ] = None,
) -> None:
    """Print a reference value as JSON."""
    import json

    from cococtl.errors import InvalidInputError

    if (name is None) == (reference_id is None):
        raise InvalidInputError("give the reference value's name, as an argument or with --id")
    name = name or reference_id
    assert name is not None

    value = _admin(ctx).get_reference_value(name)
    out = get_output(ctx)
    if out.json:
        out.result_json({"name": name, "value": value})
    else:
        out.result_text(json.dumps(value))


@app.command("admin-token")
def admin_token(
    ctx: typer.Context,
    key: Annotated[Path, typer.Option("--key", metavar="ED25519_PEM", help="Admin private key.")],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Token file (0600).")],
    role: Annotated[str, typer.Option("--role", help="role claim (the regex ACL's role).")] = "admin",
    issuer: Annotated[str, typer.Option("--issuer", help="iss claim (the KBS's identity provider).")] = (
        "TrusteeInDocker"
    ),
    audience: Annotated[str, typer.Option("--audience", help="aud claim.")] = "KBS",
    subject: Annotated[str, typer.Option("--subject", help="sub claim.")] = "admin",
    ttl: Annotated[str, typer.Option("--ttl", help="Lifetime: 90s, 30m, 2h, 7d.")] = "2h",
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace FILE.")] = False,
) -> None:
    """Mint the EdDSA admin bearer token Trustee's docker-compose setup makes (the claims its KBS checks)."""
    from cococtl.errors import InvalidInputError
    from cococtl.fsutil import write_private_file
    from cococtl.kbs.admin import TokenClaims, load_ed25519_key, mint_admin_token

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = int(float(ttl[:-1]) * units[ttl[-1]]) if ttl[-1] in units else int(ttl)
    except (ValueError, IndexError, KeyError):
        raise InvalidInputError(f"--ttl {ttl!r}: use a number of seconds or 90s, 30m, 2h, 7d") from None
    if seconds <= 0:
        raise InvalidInputError("--ttl must be positive")
    claims = TokenClaims(issuer=issuer, audience=audience, subject=subject, role=role)
    token = mint_admin_token(load_ed25519_key(key), ttl_seconds=seconds, claims=claims)
    write_private_file(output, (token + "\n").encode(), force=force)
    _done(
        ctx,
        {"output": str(output), "role": role, "issuer": issuer, "audience": audience, "expires_in": seconds},
        f"wrote an admin token for role {role!r} to {output} (0600, valid {seconds} s)",
    )


def _done(ctx: typer.Context, document: dict[str, Any], message: str) -> None:
    out = get_output(ctx)
    if out.json:
        out.result_json(document)
    else:
        out.status(message)


@app.command("dev-server")
def dev_server(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Listen address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Listen port.")] = 8080,
    storage: Annotated[Path | None, typer.Option("--storage", metavar="DIR", help="Resource storage.")] = None,
    admin_mode: Annotated[AdminMode, typer.Option("--admin-mode", help="How admin requests are checked.")] = (
        AdminMode.insecure
    ),
    admin_public_key: Annotated[
        Path | None, typer.Option("--admin-public-key", metavar="PEM", help="Verifies admin tokens.")
    ] = None,
    admin_issuer: Annotated[
        str, typer.Option("--admin-issuer", help="bearer mode: the trusted issuer (Trustee's docker-compose one).")
    ] = "TrusteeInDocker",
    admin_audience: Annotated[
        str | None, typer.Option("--admin-audience", help="bearer mode: require this aud (default: not checked).")
    ] = None,
    allow_all: Annotated[bool, typer.Option("--allow-all", help="Start with the allow-all resource policy.")] = False,
    token_ttl: Annotated[int, typer.Option("--token-ttl", help="Attestation token lifetime (s).")] = 300,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", metavar="PEM", help="Serve HTTPS.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", metavar="PEM", help="Key of --tls-cert.")] = None,
) -> None:
    """Run the local KBS double (sample TEE only). NOT a production KBS."""
    import sys
    import tempfile

    from cococtl.devkbs.admin import AdminPolicy
    from cococtl.devkbs.server import DevKbs, DevKbsConfig
    from cococtl.errors import InvalidInputError
    from cococtl.policy import builtin as policies

    if (tls_cert is None) != (tls_key is None):
        raise InvalidInputError("--tls-cert and --tls-key go together")
    directory = storage or Path(tempfile.mkdtemp(prefix="cococtl-devkbs-"))
    config = DevKbsConfig(
        storage=directory,
        admin=AdminPolicy.from_options(admin_mode, admin_public_key, issuer=admin_issuer, audience=admin_audience),
        token_ttl=token_ttl,
        resource_policy=policies.ALLOW_ALL if allow_all else None,
    )
    server = DevKbs(config, host=host, port=port, tls=(tls_cert, tls_key) if tls_cert and tls_key else None)
    print(
        "WARNING: this is cococtl's local KBS double for development and tests, NOT a production KBS.", file=sys.stderr
    )
    print(f"storage: {directory}; admin mode: {admin_mode}", file=sys.stderr, flush=True)
    get_output(ctx).result_text(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


for _name, _function in (
    ("set-resource", set_resource),
    ("delete-resource", delete_resource),
    ("set-resource-policy", set_resource_policy),
    ("get-resource-policy", get_resource_policy),
    ("set-attestation-policy", set_attestation_policy),
    ("set-sample-reference-value", set_reference_value),
    ("set-reference-value", set_reference_value),
    ("get-reference-value", get_reference_value),
):
    config_app.command(_name)(_function)
app.add_typer(config_app, name="config")
