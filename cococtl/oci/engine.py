"""The ``skopeo`` encryption engine: skopeo's own ocicrypt, with ``cococtl keyprovider`` (or a gRPC provider)
as the attestation-agent key provider, and the result verified afterwards (skopeo can fail silently)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cococtl.errors import IntegrityError, InvalidInputError
from cococtl.oci.image import ImageReport, inspect_image
from cococtl.oci.layout import ImageRef, parse_reference
from cococtl.oci.skopeo import RegistryOptions, Skopeo, keyprovider_config, temporary_layout
from cococtl.oci.staging import staged_layout
from cococtl.oci.transport import is_registry


def skopeo_encrypt(
    source: str,
    destination: str,
    key_file: Path | None,
    kid: str,
    *,
    layers: Sequence[int] | None,
    registry: RegistryOptions,
    grpc: str | None = None,
    sample: bool = False,
    skopeo: Skopeo | None = None,
    force: bool = False,
) -> ImageReport:
    """skopeo encrypts into a scratch (or staging) layout; the result is checked there and only then published:
    pushed for ``docker://``, renamed or merged into place for ``oci:`` (nothing is left on any failure)."""
    runner = skopeo or Skopeo()
    if grpc is not None and not grpc.startswith("grpc://"):
        raise InvalidInputError("--keyprovider takes grpc://HOST:PORT")
    if sample:
        params = "sample=true"
    else:
        assert key_file is not None
        # The provider reads keypath in its own process and cwd: always pass an absolute path.
        params = f"keypath={key_file.resolve()}::keyid={kid}::algorithm=A256GCM"
    if "," in params:
        raise InvalidInputError("the key path may not contain ',' (skopeo splits --encryption-key on commas)")
    extra = ["--encryption-key", f"provider:attestation-agent:{params}"]
    for index in layers or []:
        extra += ["--encrypt-layer", str(index)]
    extra += registry.source_args()

    def encrypt_into(target: str) -> ImageReport:
        with temporary_layout() as scratch:
            config = keyprovider_config(Path(scratch), grpc=grpc[len("grpc://") :] if grpc else None)
            runner.copy(
                source,
                target,
                extra,
                env={"OCICRYPT_KEYPROVIDER_CONFIG": str(config)},
                stall_timeout=registry.stall_timeout,
            )
        return _checked(parse_reference(target), layers)

    if is_registry(destination):
        with temporary_layout() as scratch:
            local = f"oci:{Path(scratch) / 'image'}:latest"
            report = encrypt_into(local)
            runner.copy(local, destination, registry.dest_args(), stall_timeout=registry.stall_timeout)
    else:
        ref = parse_reference(destination)
        with staged_layout(ref.directory, ref.tag, force=force) as stage:
            report = encrypt_into(f"oci:{stage.root}" + (f":{ref.tag}" if ref.tag else ""))
    report.source, report.destination = source, destination
    return report


def _checked(ref: ImageRef, layers: Sequence[int] | None) -> ImageReport:
    """The report of what skopeo wrote, refused unless every selected layer is encrypted the way the guest reads."""
    report = inspect_image(ref)
    chosen = {i % len(report.layers) for i in layers} if layers else set(range(len(report.layers)))
    for layer in report.layers:
        if layer.index in chosen and (not layer.encrypted or layer.kid is None or layer.cipher is None or layer.error):
            raise IntegrityError(
                f"skopeo left layer {layer.index} without both encryption annotations "
                "(it can fail silently): the result is not usable"
            )
        if layer.index in chosen and not layer.media_type.endswith(("tar+encrypted", "tar+gzip+encrypted")):
            raise IntegrityError(
                f"skopeo wrote layer {layer.index} as {layer.media_type}: the guest decrypts only tar / tar+gzip layers"
            )
    return report
