"""``cococtl secret …``: sealed secrets as CDH reads them (keygen, seal vault|envelope, inspect, unseal)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cococtl.cli.choices import Tee, TeeKeyType
from cococtl.cli.kbs_options import ProvisionGroup, TeeKeyTypeOpt
from cococtl.cli.output import get_output

app = typer.Typer(
    no_args_is_help=True,
    help="Sealed secrets for the CoCo guest: sign vault/envelope secrets, inspect, verify, unseal through a KBS.",
)
CertOpt = Annotated[
    Path | None,
    typer.Option("--cert-file", metavar="PEM", envvar="COCOCTL_CERT_FILE", help="Extra trusted CA for an HTTPS KBS."),
]
KbsTimeoutOpt = Annotated[float, typer.Option("--timeout", metavar="SECONDS", help="Per-request timeout.")]
TeeOpt = Annotated[Tee, typer.Option("--tee", help="Where evidence comes from (auto detects the TEE).")]
InitDataOpt = Annotated[
    Path | None, typer.Option("--init-data", metavar="FILE", help="Init-data TOML, sent byte-exact.")
]
AttesterCmdOpt = Annotated[
    str | None,
    typer.Option(
        "--attester-cmd", metavar="CMD", help="Program printing evidence JSON; {report_data_hex} is replaced."
    ),
]

seal_app = typer.Typer(cls=ProvisionGroup, no_args_is_help=True, help="Make a signed sealed secret (sealed.<JWS>).")
app.add_typer(seal_app, name="seal")

KidOpt = Annotated[
    str,
    typer.Option("--kid", help="Key id in the JWS header: the kbs:///repo/type/tag of the verification key."),
]
SigningKeyOpt = Annotated[
    Path, typer.Option("--signing-key", metavar="JWK", help="Private P-256 JWK (secret keygen writes one).")
]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the sealed secret here.")]
ForceOpt = Annotated[bool, typer.Option("--force", "-f", help="Replace existing outputs.")]
ProvisionOpt = Annotated[
    str | None,
    typer.Option(
        "--provision-to-kbs",
        metavar="URL",
        help="Also upload the public key (at the kid) and the secret or key to this KBS (admin API).",
    ),
]
KbsUrlOpt = Annotated[
    str | None,
    typer.Option("--kbs-url", envvar="COCOCTL_KBS_URL", help="KBS to attest to and fetch keys from."),
]
PublicKeyOpt = Annotated[
    Path | None, typer.Option("--public-key", metavar="JWK", help="Verify with this P-256 JWK instead of the KBS.")
]
ValueArg = Annotated[str, typer.Argument(metavar="VALUE|-", help="A sealed.… value, or - to read it from stdin.")]


def _read_file(path: Path) -> bytes:
    from cococtl.fsutil import open_input

    with open_input(path) as handle:
        return handle.read()


def _signing_key(path: Path) -> Any:
    from cococtl.secret.keys import load_private_jwk, parse_jwk_bytes

    return load_private_jwk(parse_jwk_bytes(_read_file(path), what=f"signing key {path}"), what=f"signing key {path}")


def _check_kid(kid: str, provision: str | None, ctx: typer.Context) -> None:
    from cococtl.errors import InvalidInputError
    from cococtl.secret.kbs import kbs_kid

    if not kid:
        raise InvalidInputError("--kid must not be empty")
    if kbs_kid(kid) is None:
        if provision is not None:
            raise InvalidInputError("--provision-to-kbs needs a kbs:///repo/type/tag --kid (where the key goes)")
        get_output(ctx).warning(
            f"--kid {kid} is not a kbs:/// URI: the guest must have the public key at"
            f" /run/confidential-containers/cdh/sealed-secret/{kid}"
        )


def _json_map(text: str | None, option: str) -> dict[str, Any]:
    import json

    from cococtl.errors import InvalidInputError

    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{option} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInputError(f"{option} must be a JSON object")
    return value


def _emit(ctx: typer.Context, sealed: str, output: Path | None, force: bool, extra: dict[str, Any]) -> None:
    out = get_output(ctx)
    if output is not None:
        from cococtl.fsutil import atomic_output

        with atomic_output(output, force=force, private=False) as handle:
            handle.write((sealed + "\n").encode("ascii"))
        out.status(f"wrote the sealed secret to {output}")
    if out.json:
        out.result_json({"sealed_secret": sealed, **extra})
    elif output is None:
        out.result_text(sealed)


def _provision(url: str, uploads: list[tuple[str, bytes]], ctx: typer.Context) -> list[str]:
    from cococtl.cli.kbs_options import kbs_settings
    from cococtl.kbs.admin import KbsAdmin
    from cococtl.kbs.client import KbsClient

    settings = kbs_settings(ctx)  # --cert-file, --timeout and the admin options of the seal command
    client = KbsClient(url, cert_file=settings.cert_file, timeout=settings.timeout)
    admin = KbsAdmin(client, settings.credentials())
    try:
        done = [admin.set_resource(path, data) for path, data in uploads]
    finally:
        admin.client.close()
    for path in done:
        get_output(ctx).status(f"provisioned {path} to {url}")
    return done


@app.command("keygen")
def keygen(
    ctx: typer.Context,
    kid: Annotated[str, typer.Option("--kid", help="Key id written into the JWKs.")] = "sealed-signing",
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", metavar="DIR", help="Directory for <kid>-private/public.json.")
    ] = Path("."),
    force: ForceOpt = False,
) -> None:
    """A P-256 signing key pair as JWKs: <kid>-private.json (0600) and <kid>-public.json, like `secret keygen`."""
    import re

    from cococtl.errors import InvalidInputError
    from cococtl.fsutil import atomic_output, check_writable_destination, write_private_file
    from cococtl.secret.keys import generate, jwk_file_bytes

    if not output_dir.is_dir():
        raise InvalidInputError(f"output directory {output_dir} does not exist")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", kid).strip("_") or "key"
    private_path, public_path = output_dir / f"{stem}-private.json", output_dir / f"{stem}-public.json"
    for path in (private_path, public_path):
        check_writable_destination(path, force=force)
    key = generate(kid)
    write_private_file(private_path, jwk_file_bytes(key.private_jwk()), force=force)
    with atomic_output(public_path, force=force, private=False) as handle:
        handle.write(jwk_file_bytes(key.public_jwk()))
    out = get_output(ctx)
    if out.json:
        out.result_json({"kid": kid, "private_key": str(private_path), "public_key": str(public_path)})
    else:
        out.status(f"wrote {private_path} (0600) and {public_path}")
        out.result_text(str(public_path))


@seal_app.command("vault")
def seal_vault(
    ctx: typer.Context,
    resource_uri: Annotated[
        str, typer.Option("--resource-uri", metavar="KBS_URI", help="Where the secret lives: kbs:///repo/type/tag.")
    ],
    kid: KidOpt,
    signing_key: SigningKeyOpt,
    provider: Annotated[str, typer.Option("--provider", help="Who holds the secret (kbs, aliyun, aws).")] = "kbs",
    provider_settings: Annotated[
        str | None, typer.Option("--provider-settings", metavar="JSON", help="Provider settings (a JSON object).")
    ] = None,
    annotations: Annotated[
        str | None, typer.Option("--annotations", metavar="JSON", help="Provider annotations (a JSON object).")
    ] = None,
    secret_file: Annotated[
        Path | None,
        typer.Option("--secret-file", metavar="FILE", help="With --provision-to-kbs: the secret value to upload."),
    ] = None,
    output: OutputOpt = None,
    force: ForceOpt = False,
    provision_to_kbs: ProvisionOpt = None,
) -> None:
    """A vault secret: a signed pointer to a resource the KBS (or another provider) releases to the guest."""
    from cococtl.errors import InvalidInputError
    from cococtl.fsutil import check_writable_destination
    from cococtl.secret.jws import sign
    from cococtl.secret.kbs import kbs_kid, resource_name
    from cococtl.secret.model import vault

    if output is not None:
        check_writable_destination(output, force=force)
    _check_kid(kid, provision_to_kbs, ctx)
    if provider.lower() == "kbs":
        resource_name(resource_uri, what="--resource-uri")
    else:
        get_output(ctx).warning(f"provider {provider}: the guest's CDH must be built with that provider")
    if secret_file is not None and provision_to_kbs is None:
        raise InvalidInputError("--secret-file is uploaded only with --provision-to-kbs")
    key = _signing_key(signing_key)
    secret = vault(
        resource_uri,
        provider,
        _json_map(provider_settings, "--provider-settings"),
        _json_map(annotations, "--annotations"),
    )
    sealed = sign(secret, key, kid)
    provisioned: list[str] = []
    if provision_to_kbs is not None:
        path = kbs_kid(kid)
        assert path is not None
        uploads = [(path, _public_bytes(key, kid))]
        if secret_file is not None:
            if provider.lower() != "kbs":
                raise InvalidInputError("--secret-file goes to the KBS: only with --provider kbs")
            uploads.append((resource_name(resource_uri, what="--resource-uri"), _read_file(secret_file)))
        else:
            get_output(ctx).warning("no --secret-file: provision the secret itself separately")
        provisioned = _provision(provision_to_kbs, uploads, ctx)
    elif provider.lower() == "kbs":
        get_output(ctx).detail("provision the secret and the public key to the KBS separately")
    _emit(ctx, sealed, output, force, {"type": "vault", "kid": kid, "provisioned": provisioned})


def _public_bytes(key: Any, kid: str) -> bytes:
    import json

    return json.dumps(key.public_jwk(kid)).encode("utf-8")


@seal_app.command("envelope")
def seal_envelope(
    ctx: typer.Context,
    key_uri: Annotated[
        str, typer.Option("--key-uri", metavar="KBS_URI", help="The KBS key that wraps the data key: kbs:///r/t/g.")
    ],
    plaintext: Annotated[Path, typer.Option("--plaintext", metavar="FILE", help="The secret value to seal.")],
    kid: KidOpt,
    signing_key: SigningKeyOpt,
    key: Annotated[
        Path | None, typer.Option("--key", metavar="FILE", help="The 32-byte key stored at --key-uri.")
    ] = None,
    new_key: Annotated[
        Path | None, typer.Option("--new-key", metavar="FILE", help="Make that key, write it here (0600).")
    ] = None,
    output: OutputOpt = None,
    force: ForceOpt = False,
    provision_to_kbs: ProvisionOpt = None,
) -> None:
    """An envelope secret: the value under a fresh AES-256-GCM key, that key wrapped by the KBS key at --key-uri."""
    import os

    from cococtl.errors import InvalidInputError
    from cococtl.fsutil import check_writable_destination, write_private_file
    from cococtl.secret.envelope import seal
    from cococtl.secret.jws import sign
    from cococtl.secret.kbs import kbs_kid, resource_name

    if (key is None) == (new_key is None):
        raise InvalidInputError("give --key FILE (the key at --key-uri) or --new-key FILE")
    if output is not None:
        check_writable_destination(output, force=force)
    if new_key is not None:
        check_writable_destination(new_key, force=force)
    _check_kid(kid, provision_to_kbs, ctx)
    key_path = resource_name(key_uri, what="--key-uri")
    signer = _signing_key(signing_key)
    if key is not None:
        kek = _read_file(key)
        if len(kek) != 32:
            raise InvalidInputError(f"key file {key} must hold 32 raw bytes, not {len(kek)}")
    else:
        kek = os.urandom(32)
    secret = seal(_read_file(plaintext), kek, key_uri)
    sealed = sign(secret, signer, kid)
    if new_key is not None:
        write_private_file(new_key, kek, force=force)
        get_output(ctx).status(f"wrote the key-encryption key to {new_key} (0600)")
    provisioned: list[str] = []
    if provision_to_kbs is not None:
        path = kbs_kid(kid)
        assert path is not None
        provisioned = _provision(provision_to_kbs, [(path, _public_bytes(signer, kid)), (key_path, kek)], ctx)
    get_output(ctx).warning(
        "provider kbs envelopes are unsealed by cococtl; upstream CDH has no kbs envelope decrypter (use a vault"
        " secret for guests)"
    )
    _emit(ctx, sealed, output, force, {"type": "envelope", "kid": kid, "provisioned": provisioned})


def _read_value(value: str) -> str | bytes:
    import sys

    return sys.stdin.buffer.read() if value == "-" else value


def _session(
    kbs_url: str,
    cert_file: Path | None,
    timeout: float,
    tee: str,
    tee_key_type: str,
    attester_cmd: str | None,
    init_data: Path | None,
) -> Any:
    from cococtl.evidence.detect import choose_attester
    from cococtl.kbs.client import KbsClient, read_init_data
    from cococtl.kbs.jwe import TeeKeyPair
    from cococtl.secret.kbs import KbsSession

    client = KbsClient(kbs_url, cert_file=str(cert_file) if cert_file else None, timeout=timeout)
    return KbsSession(
        client, choose_attester(tee, attester_cmd), TeeKeyPair.generate(tee_key_type), read_init_data(init_data)
    )


def _public_key(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    from cococtl.secret.keys import parse_jwk_bytes

    return parse_jwk_bytes(_read_file(path), what=f"public key {path}")


@app.command("inspect")
def inspect(
    ctx: typer.Context,
    value: ValueArg,
    public_key: PublicKeyOpt = None,
    kbs_url: KbsUrlOpt = None,
    cert_file: CertOpt = None,
    timeout: KbsTimeoutOpt = 30.0,
    tee: TeeOpt = Tee.auto,
    tee_key_type: TeeKeyTypeOpt = TeeKeyType.ec_p256,
    attester_cmd: AttesterCmdOpt = None,
    init_data: InitDataOpt = None,
) -> None:
    """Decode a sealed secret, show its fields and verify its signature (exit 7 if it does not verify).

    The signature is checked with --public-key, or with the key the kid names, fetched from --kbs-url after
    attestation.
    """
    from cococtl.secret.jws import parse_sealed
    from cococtl.secret.kbs import check_signature

    sealed = parse_sealed(_read_value(value))
    verified: bool | None = None
    if public_key is not None or kbs_url is not None:
        session = None
        if public_key is None and kbs_url is not None:
            session = _session(kbs_url, cert_file, timeout, tee, tee_key_type, attester_cmd, init_data)
        try:
            check_signature(sealed, _public_key(public_key), session)
        finally:
            if session is not None:
                session.client.close()
        verified = True
    out = get_output(ctx)
    secret = sealed.secret
    if out.json:
        out.result_json(
            {
                "header": sealed.header,
                "payload": secret.to_dict(),
                "unknown_fields": list(secret.unknown),
                "signature_verified": verified,
            }
        )
        return
    import json

    from cococtl.errors import printable

    lines = [f"header     {printable(json.dumps(sealed.header), 400)}", f"type       {secret.kind}"]
    lines.append(f"version    {printable(secret.version, 40)}")
    for name, field_value in secret.fields.items():
        shown = json.dumps(field_value) if isinstance(field_value, dict) else field_value
        lines.append(f"{name:<10} {printable(shown, 200)}" if len(name) <= 10 else f"{name} {printable(shown, 200)}")
    for name in secret.unknown:
        lines.append(f"unknown    {printable(name, 60)} (ignored by CDH)")
    lines.append("signature  " + ("verified" if verified else "not verified (give --public-key or --kbs-url)"))
    out.result_text("\n".join(lines))


@app.command("unseal")
def unseal(
    ctx: typer.Context,
    value: ValueArg,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Plaintext (0600), - for stdout.")],
    kbs_url: Annotated[
        str, typer.Option("--kbs-url", envvar="COCOCTL_KBS_URL", help="KBS to attest to and unseal through.")
    ],
    public_key: PublicKeyOpt = None,
    skip_verification: Annotated[
        bool, typer.Option("--skip-verification", help="Do not check the signature (CDH's skip option).")
    ] = False,
    cert_file: CertOpt = None,
    timeout: KbsTimeoutOpt = 30.0,
    tee: TeeOpt = Tee.auto,
    tee_key_type: TeeKeyTypeOpt = TeeKeyType.ec_p256,
    attester_cmd: AttesterCmdOpt = None,
    init_data: InitDataOpt = None,
    force: ForceOpt = False,
) -> None:
    """Unseal a sealed secret as CDH does in the guest, after ONE attestation.

    Verify the signature (key from the kid, through the KBS), then fetch a vault secret's resource or unwrap a kbs
    envelope.
    """
    import sys

    from cococtl.fsutil import check_writable_destination, write_private_file
    from cococtl.secret.jws import parse_sealed
    from cococtl.secret.kbs import check_signature
    from cococtl.secret.kbs import unseal as run

    to_stdout = str(output) == "-"
    if not to_stdout:
        check_writable_destination(output, force=force)
    sealed = parse_sealed(_read_value(value))
    session = _session(kbs_url, cert_file, timeout, tee, tee_key_type, attester_cmd, init_data)
    try:
        if skip_verification:
            get_output(ctx).warning("the sealed secret's signature is not checked (--skip-verification)")
        else:
            check_signature(sealed, _public_key(public_key), session)
        plaintext = run(sealed, session)
        requests = session.client.requests_made
    finally:
        session.client.close()
    out = get_output(ctx)
    if to_stdout:
        sys.stdout.buffer.write(plaintext)
        sys.stdout.buffer.flush()
    else:
        write_private_file(output, plaintext, force=force)
        out.status(f"wrote the unsealed secret to {output} ({len(plaintext)} bytes, 0600)")
    out.detail(f"{requests} HTTP requests")
