"""``cococtl encrypt image``, ``cococtl decrypt image`` and ``cococtl inspect``: OCI images, natively."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cococtl.cli.choices import Engine, Tee
from cococtl.cli.output import get_output

KeyOpt = Annotated[Path | None, typer.Option("--key", "-k", metavar="KEYFILE", help="Raw 32-byte KEK file.")]
TlsVerifyOpt = Annotated[
    bool, typer.Option("--tls-verify/--no-tls-verify", help="Verify registry TLS (docker:// references).")
]
CertDirOpt = Annotated[Path | None, typer.Option("--cert-dir", metavar="DIR", help="Registry CA/client certs.")]
AuthfileOpt = Annotated[
    Path | None,
    typer.Option("--authfile", metavar="FILE", envvar="REGISTRY_AUTH_FILE", help="Registry auth file (auth.json)."),
]

RegistryTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--registry-timeout",
        metavar="SECONDS",
        min=0.1,
        envvar="COCOCTL_REGISTRY_TIMEOUT",
        help="docker:// transfers end (exit 4) after this long without progress.",
    ),
]


def _registry(tls_verify: bool, cert_dir: Path | None, authfile: Path | None, stall_timeout: float = 60.0) -> Any:
    from cococtl.oci.skopeo import RegistryOptions

    return RegistryOptions(tls_verify=tls_verify, cert_dir=cert_dir, authfile=authfile, stall_timeout=stall_timeout)


PlatformOpt = Annotated[
    str | None,
    typer.Option("--platform", metavar="OS/ARCH", help="Only this platform of an index (default: every platform)."),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace the destination's image with the same tag.")]
KeysFileOpt = Annotated[
    Path | None, typer.Option("--keys-file", metavar="FILE", help="offline_fs key JSON; the kid selects the key.")
]


def _resolver(
    key: Path | None,
    keys_file: Path | None,
    kbs_url: str | None,
    tee: str,
    cert_file: Path | None,
    timeout: float = 30.0,
) -> Any:
    from cococtl.crypto.keys import key_from_offline_fs, load_key_file, load_offline_fs_json
    from cococtl.errors import InvalidInputError

    given = [x for x in (key, keys_file, kbs_url) if x is not None]
    if len(given) != 1:
        raise InvalidInputError("give exactly one of --key, --keys-file or --kbs-url URL")
    if key is not None:
        kek = load_key_file(key)
        return lambda kid: kek
    if keys_file is not None:
        document = load_offline_fs_json(keys_file)
        return lambda kid: key_from_offline_fs(document, kid, source=str(keys_file))
    from cococtl.compute.keysource import KbsKeySource
    from cococtl.evidence.detect import choose_attester
    from cococtl.kbs.uri import parse_resource_uri

    source = KbsKeySource(choose_attester(tee, None), cert_file=str(cert_file) if cert_file else None, timeout=timeout)
    cache: dict[str, bytes] = {}

    def from_kbs(kid: str) -> bytes:
        path = parse_resource_uri(kid).key
        if path not in cache:
            cache.update(source.fetch(kbs_url, [path]).keys)
        return cache[path]

    return from_kbs


def _print_report(ctx: typer.Context, report: Any, title: str) -> None:
    out = get_output(ctx)
    if out.json:
        out.result_json(report.to_json())
        return
    out.status(title)
    lines = [f"manifest {report.manifest_digest}"]
    for manifest in report.manifests:
        platform = manifest.platform or "(single image)"
        lines.append(f"  {platform}: manifest {manifest.manifest_digest}, config {manifest.config_digest}")
    several = len(report.manifests) > 1
    rows = [("#", *(("platform",) if several else ()), "media type", "size", "digest", "enc", "kid", "wrap", "cipher")]
    for layer in report.layers:
        rows.append(
            (
                str(layer.index),
                *((layer.platform or "-",) if several else ()),
                layer.media_type.replace("application/vnd.oci.image.", ""),
                str(layer.size),
                layer.digest[:19],
                "yes" if layer.encrypted else "no",
                layer.kid or "-",
                layer.wrap_type or "-",
                layer.cipher or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    for layer in report.layers:
        where = f"layer {layer.index}" + (f" ({layer.platform})" if several else "")
        if layer.unwraps is not None:
            state = "unwraps" if layer.unwraps else f"does NOT unwrap: {layer.error}"
            lines.append(
                f"{where}: key {state}"
                + (f"; original digest {layer.private_digest}" if layer.private_digest else "")
                + (f"; symkey {layer.symkey}" if layer.symkey else "")
            )
        elif layer.error:
            lines.append(f"{where}: {layer.error}")
        if layer.verified:
            lines.append(f"{where}: blob verified" + (" and HMAC verified" if layer.unwraps else ""))
    out.result_text("\n".join(lines))


def encrypt_image(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="SRC", help="oci:DIR[:TAG]")],
    destination: Annotated[str, typer.Argument(metavar="DST", help="oci:DIR[:TAG]")],
    keyid: Annotated[
        str | None, typer.Option("--keyid", metavar="kbs:///REPO/TYPE/TAG", help="Key id stored in the annotation.")
    ] = None,
    key: KeyOpt = None,
    new_key: Annotated[Path | None, typer.Option("--new-key", metavar="KEYFILE", help="Create a KEK (0600).")] = None,
    sample: Annotated[
        bool, typer.Option("--sample", help="coco_keyprovider's public sample key and kid (tests only!).")
    ] = False,
    layer: Annotated[
        list[int] | None, typer.Option("--layer", help="Layer index to encrypt (repeatable; default: all).")
    ] = None,
    provision_to_kbs: Annotated[
        str | None, typer.Option("--provision-to-kbs", metavar="URL", help="Upload the KEK to this KBS at the kid.")
    ] = None,
    admin_token_file: Annotated[
        Path | None,
        typer.Option(
            "--admin-token-file",
            envvar="COCOCTL_ADMIN_TOKEN_FILE",
            metavar="FILE",
            help="Admin token for --provision-to-kbs.",
        ),
    ] = None,
    cert_file: Annotated[
        Path | None, typer.Option("--cert-file", envvar="COCOCTL_CERT_FILE", metavar="PEM", help="Extra CA for HTTPS.")
    ] = None,
    engine: Annotated[
        Engine, typer.Option("--engine", help="Who encrypts: native, or skopeo (skopeo's own ocicrypt).")
    ] = Engine.native,
    keyprovider: Annotated[
        str | None,
        typer.Option("--keyprovider", metavar="grpc://HOST:PORT", help="skopeo engine: use this gRPC key provider."),
    ] = None,
    tls_verify: TlsVerifyOpt = True,
    cert_dir: CertDirOpt = None,
    authfile: AuthfileOpt = None,
    registry_timeout: RegistryTimeoutOpt = 60.0,
    platform: PlatformOpt = None,
    force: ForceOpt = False,
) -> None:
    """Encrypt an OCI image (oci:DIR[:TAG] or docker://) for the CoCo guest: ocicrypt + attestation-agent."""
    from cococtl.crypto.keys import create_key_file, load_key_file
    from cococtl.errors import InvalidInputError
    from cococtl.oci import annotations as ann
    from cococtl.oci.image import encrypt_image as encrypt

    out = get_output(ctx)
    if sum(x is not None for x in (key, new_key)) + sample != 1:
        raise InvalidInputError("give exactly one of --key, --new-key or --sample")
    if sample:
        out.warning("--sample uses coco_keyprovider's PUBLIC sample key: for tests only, never for real images")
        if keyid not in (None, ann.SAMPLE_KID):
            raise InvalidInputError(
                f"--sample always uses the kid {ann.SAMPLE_KID} (coco_keyprovider ignores keyid): drop --keyid"
            )
        kek, kid = ann.SAMPLE_KEK, ann.SAMPLE_KID
    else:
        if keyid is None:
            raise InvalidInputError("--keyid kbs:///REPO/TYPE/TAG is required (the guest needs it to find the key)")
        kid = keyid
        if key is not None:
            kek = load_key_file(key)
        else:
            assert new_key is not None
            kek = create_key_file(new_key, force=False)
            out.status(f"created KEK {new_key} (0600)")
    registry = _registry(tls_verify, cert_dir, authfile, registry_timeout)
    if engine == "native":
        from cococtl.oci.transport import readable, writable

        with readable(source, registry) as src, writable(destination, registry) as dst:
            report = encrypt(
                src, dst, kek, kid, layers=layer, platform=platform, force=force, fixed_iv=bytes(12) if sample else None
            )
        report.source, report.destination = source, destination
    elif engine == "skopeo":
        from cococtl.oci.engine import skopeo_encrypt

        key_path = None if sample else (key or new_key)
        report = skopeo_encrypt(
            source,
            destination,
            key_path,
            kid,
            layers=layer,
            registry=registry,
            grpc=keyprovider,
            sample=sample,
            force=force,
        )
    else:
        raise InvalidInputError("--engine must be native or skopeo")
    if provision_to_kbs:
        from cococtl.kbs.admin import AdminCredentials, KbsAdmin
        from cococtl.kbs.client import KbsClient

        admin = KbsAdmin(
            KbsClient(provision_to_kbs, cert_file=str(cert_file) if cert_file else None),
            AdminCredentials.from_options(admin_token_file, None, None),
        )
        stored = admin.set_resource(kid, kek)
        out.status(f"provisioned the KEK to {provision_to_kbs} as {stored}")
    _print_report(ctx, report, f"encrypted {source} -> {destination} (kid {kid}); every selected layer verified")


def decrypt_image(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="SRC", help="oci:DIR[:TAG]")],
    destination: Annotated[str, typer.Argument(metavar="DST", help="oci:DIR[:TAG]")],
    key: KeyOpt = None,
    keys_file: KeysFileOpt = None,
    kbs: Annotated[
        str | None,
        typer.Option("--kbs-url", "--kbs", metavar="URL", help="Fetch the keys from this KBS after attestation."),
    ] = None,
    tee: Annotated[Tee, typer.Option("--tee", help="Evidence for --kbs-url.")] = Tee.auto,
    cert_file: Annotated[
        Path | None, typer.Option("--cert-file", envvar="COCOCTL_CERT_FILE", metavar="PEM", help="Extra CA for HTTPS.")
    ] = None,
    tls_verify: TlsVerifyOpt = True,
    cert_dir: CertDirOpt = None,
    authfile: AuthfileOpt = None,
    registry_timeout: RegistryTimeoutOpt = 60.0,
    platform: PlatformOpt = None,
    force: ForceOpt = False,
    timeout: Annotated[
        float,
        typer.Option("--timeout", metavar="SECONDS", min=0.1, help="--kbs-url: bound on each whole KBS exchange."),
    ] = 30.0,
) -> None:
    """Decrypt an OCI image natively; each layer's HMAC and diff_id are verified before anything is published."""
    from cococtl.oci.image import decrypt_image as decrypt
    from cococtl.oci.transport import readable, writable

    registry = _registry(tls_verify, cert_dir, authfile, registry_timeout)
    resolver = _resolver(key, keys_file, kbs, tee, cert_file, timeout)
    with readable(source, registry) as src, writable(destination, registry) as dst:
        report = decrypt(src, dst, resolver, platform=platform, force=force)
    report.source, report.destination = source, destination
    _print_report(ctx, report, f"decrypted {source} -> {destination}")


class _InspectGroup(TyperGroup):
    """``cococtl inspect IMAGE`` is short for ``cococtl inspect image IMAGE``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["image", *args]
        return super().resolve_command(ctx, args)


inspect_app = typer.Typer(
    cls=_InspectGroup, no_args_is_help=True, help="Show OCI image layers and decode their encryption annotations."
)


@inspect_app.command("image")
def inspect_image(
    ctx: typer.Context,
    image: Annotated[str, typer.Argument(metavar="IMAGE", help="oci:DIR[:TAG]")],
    key: KeyOpt = None,
    keys_file: KeysFileOpt = None,
    show_secrets: Annotated[bool, typer.Option("--show-secrets", help="Also print each layer's symkey.")] = False,
    verify: Annotated[
        bool, typer.Option("--verify", help="Re-hash every blob and, with a key, check every layer's HMAC.")
    ] = False,
    platform: PlatformOpt = None,
    tls_verify: TlsVerifyOpt = True,
    cert_dir: CertDirOpt = None,
    authfile: AuthfileOpt = None,
    registry_timeout: RegistryTimeoutOpt = 60.0,
) -> None:
    """Every manifest and layer; with a key, whether it unwraps (exit 7 if not); --verify checks blobs and HMACs."""
    from cococtl.oci.image import inspect_image as inspect
    from cococtl.oci.transport import readable

    resolver = _resolver(key, keys_file, None, "auto", None) if (key or keys_file) else None
    with readable(image, _registry(tls_verify, cert_dir, authfile, registry_timeout)) as ref:
        report = inspect(ref, resolver, show_secrets=show_secrets, verify=verify, platform=platform)
    report.source = image
    _print_report(ctx, report, f"image {image}")
    failures = report.failures() if (resolver is not None or verify) else []
    if failures:
        from cococtl.errors import IntegrityError

        first = failures[0]
        raise IntegrityError(f"{len(failures)} layer(s) failed the check; layer {first.index}: {first.error}")


@inspect_app.command("annotation")
def inspect_annotation(
    ctx: typer.Context,
    value: Annotated[str, typer.Argument(metavar="BASE64", help="A key-provider annotation value, or - for stdin.")],
    key: KeyOpt = None,
) -> None:
    """Decode an org.opencontainers.image.enc.keys.provider.attestation-agent value (and unwrap it with --key)."""
    import json

    from cococtl.crypto.keys import load_key_file
    from cococtl.oci.annotations import KeyProviderAnnotation

    text = sys.stdin.read().strip() if value == "-" else value
    packet = KeyProviderAnnotation.decode(text)
    document: dict[str, Any] = {
        **json.loads(packet.to_json()),
        "iv_bytes": len(packet.iv),
        "wrapped_data_bytes": len(packet.wrapped_data),
    }
    if key is not None:
        private = json.loads(packet.unwrap(load_key_file(key)))
        private.pop("symkey", None)
        document["private_options"] = private
    out = get_output(ctx)
    out.result_text(json.dumps(document, indent=2))
