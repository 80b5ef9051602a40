"""What an image holds, per platform and per layer: the shape ``inspect`` prints and encrypt/decrypt report."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cococtl.errors import CococtlError
from cococtl.oci import annotations as ann
from cococtl.oci.layout import ImageRef, Layout, PlatformImage, sha256_file

KeyResolver = Callable[[str], bytes]
"""kid (``kbs:///repo/type/tag``) → 32-byte KEK."""


@dataclass
class LayerReport:
    index: int
    media_type: str
    digest: str
    size: int
    encrypted: bool
    platform: str | None = None
    diff_id: str | None = None
    kid: str | None = None
    wrap_type: str | None = None
    cipher: str | None = None
    iv_bytes: int | None = None
    wrapped_data_bytes: int | None = None
    recipients: int | None = None
    unwraps: bool | None = None
    private_digest: str | None = None
    symkey: str | None = None
    verified: bool | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None or k in ("kid",)}


@dataclass
class ManifestReport:
    platform: str | None
    manifest_digest: str
    config_digest: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ImageReport:
    source: str
    destination: str | None
    manifest_digest: str | None = None
    manifests: list[ManifestReport] = field(default_factory=list)
    layers: list[LayerReport] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "manifest_digest": self.manifest_digest,
            "manifests": [m.to_json() for m in self.manifests],
            "layers": [layer.to_json() for layer in self.layers],
        }

    def failures(self) -> list[LayerReport]:
        return [layer for layer in self.layers if layer.error or layer.unwraps is False or layer.verified is False]


def _diff_ids(layout: Layout, manifest: dict[str, Any]) -> list[str]:
    try:
        config = layout.read_json_blob(manifest["config"].get("digest"), "config")
    except CococtlError:
        return []
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    return [str(i) for i in ids] if isinstance(ids, list) else []


def _describe_layer(
    layout: Layout,
    image: PlatformImage,
    index: int,
    layer: dict[str, Any],
    diff_ids: list[str],
    resolve: KeyResolver | None,
    show_secrets: bool,
    verify: bool,
) -> LayerReport:
    media_type = str(layer.get("mediaType", ""))
    size = layer.get("size", 0)
    entry = LayerReport(
        index,
        media_type,
        str(layer.get("digest")),
        size if isinstance(size, int) else 0,
        media_type.endswith("+encrypted"),
        image.platform,
        diff_ids[index] if index < len(diff_ids) else None,
    )
    annotations = layer.get("annotations") or {}
    try:
        if verify:
            entry.verified = sha256_file(layout.existing_blob(layer.get("digest"))) == entry.digest
            if not entry.verified:
                entry.error = "the blob does not match its digest"
        value = annotations.get(ann.PROVIDER_ANNOTATION)
        if isinstance(value, str):
            packets = ann.decode_recipients(value)
            packet = packets[0]
            entry.kid, entry.wrap_type, entry.recipients = packet.kid, packet.wrap_type, len(packets)
            entry.iv_bytes, entry.wrapped_data_bytes = len(packet.iv), len(packet.wrapped_data)
            if isinstance(annotations.get(ann.PUBOPTS_ANNOTATION), str):
                entry.cipher = ann.PublicOptions.decode(annotations[ann.PUBOPTS_ANNOTATION]).cipher
            if resolve is not None:
                _check_key(layout, entry, layer, packets, resolve, show_secrets, verify)
        elif entry.encrypted:
            entry.error = "no attestation-agent key-provider annotation"
    except CococtlError as error:
        entry.error = error.message
    return entry


def _check_key(
    layout: Layout,
    entry: LayerReport,
    layer: dict[str, Any],
    packets: list[ann.KeyProviderAnnotation],
    resolve: KeyResolver,
    show_secrets: bool,
    verify: bool,
) -> None:
    try:
        private = ann.unwrap_any(packets, resolve)
    except CococtlError as error:
        entry.unwraps, entry.error = False, error.message
        return
    entry.unwraps, entry.private_digest = True, private.digest
    if show_secrets:
        entry.symkey = base64.b64encode(private.symkey).decode()
    if verify and entry.verified:
        from cococtl.oci.layercrypt import layer_hmac

        public = ann.PublicOptions.decode((layer.get("annotations") or {}).get(ann.PUBOPTS_ANNOTATION, ""))
        if layer_hmac(layout.existing_blob(layer.get("digest")), private.symkey) != public.hmac:
            entry.verified, entry.error = False, "the layer HMAC does not match: the layer was modified"


def inspect_image(
    ref: ImageRef,
    resolve: KeyResolver | None = None,
    *,
    show_secrets: bool = False,
    verify: bool = False,
    platform: str | None = None,
) -> ImageReport:
    """Every manifest of the image (each platform of an index) and every layer; with a key, does it unwrap;
    with ``verify``, every blob re-hashed and (with a key) every layer's HMAC checked."""
    layout = Layout.open(ref.directory)
    resolved = layout.resolve(ref.tag)
    report = ImageReport(str(ref), None, str(resolved.descriptor.get("digest")))
    for image in resolved.select(platform):
        manifest = image.manifest
        report.manifests.append(
            ManifestReport(image.platform, str(image.descriptor.get("digest")), str(manifest["config"].get("digest")))
        )
        if verify:
            layout.existing_blob(manifest["config"].get("digest"), "config")
        diff_ids = _diff_ids(layout, manifest)
        for index, layer in enumerate(manifest["layers"]):
            report.layers.append(_describe_layer(layout, image, index, layer, diff_ids, resolve, show_secrets, verify))
    return report
