"""Encrypt and decrypt OCI images natively (no skopeo, no key-provider service).

Encryption writes AES_256_CTR_HMAC_SHA256 layers with attestation-agent annotations, exactly what
skopeo + coco_keyprovider produce; afterwards every selected layer is checked (skopeo can fail
silently, we do not). Decryption verifies what the guest verifies, each layer's HMAC and then its
diff_id, and restores the plaintext media types and digests. Every platform of an index is processed
unless one is chosen. Both write into a staging layout that is published only when every layer verified.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cococtl.errors import IntegrityError, InvalidInputError
from cococtl.oci import annotations as ann
from cococtl.oci.diffid import DiffIdHasher
from cococtl.oci.layercrypt import decrypt_layer, encrypt_layer
from cococtl.oci.layout import (
    DOCKER_MANIFEST,
    DOCKER_TO_OCI,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageRef,
    Layout,
    PlatformImage,
    ResolvedImage,
    check_digest,
)
from cococtl.oci.report import ImageReport, KeyResolver, LayerReport, ManifestReport, inspect_image
from cococtl.oci.staging import staged_layout

__all__ = [
    "ImageReport",
    "KeyResolver",
    "LayerReport",
    "ManifestReport",
    "decrypt_image",
    "decrypt_layers",
    "encrypt_image",
    "inspect_image",
    "layer_kids",
]

GUEST_LAYER_TYPES = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
)
ManifestTransform = Callable[[PlatformImage], dict[str, Any]]


def _normalise_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """Docker v2s2 → OCI media types, as containers/image converts them (config bytes and diff_ids unchanged)."""
    out = dict(manifest)
    if out.get("mediaType") in (DOCKER_MANIFEST, None):
        out["mediaType"] = OCI_MANIFEST
    config = dict(out["config"])
    config["mediaType"] = DOCKER_TO_OCI.get(config.get("mediaType", ""), config.get("mediaType"))
    out["config"] = config
    out["layers"] = [
        {**layer, "mediaType": DOCKER_TO_OCI.get(layer.get("mediaType", ""), layer.get("mediaType"))}
        for layer in manifest["layers"]
    ]
    return out


def _selected(count: int, layers: Sequence[int] | None) -> set[int]:
    if not layers:
        return set(range(count))
    chosen = set()
    for index in layers:
        if not -count <= index < count:
            raise InvalidInputError(f"--layer {index}: the image has {count} layers (0-based; negative from the top)")
        chosen.add(index % count)
    return chosen


def _write_image(
    source: Layout, resolved: ResolvedImage, platform: str | None, target: Layout, transform: ManifestTransform
) -> dict[str, Any]:
    """Rewrite the chosen manifests with ``transform``; return the descriptor to tag (an index for all platforms)."""
    chosen = resolved.select(platform)
    children = []
    for image in chosen:
        manifest = transform(image)
        digest, size = target.add_json_blob(manifest)
        kept = {k: v for k, v in image.descriptor.items() if k in ("platform", "annotations", "artifactType")}
        if resolved.index is None:
            kept.pop("annotations", None)
        children.append({"mediaType": manifest.get("mediaType", OCI_MANIFEST), "digest": digest, "size": size, **kept})
    if resolved.index is not None and platform is None:
        index = {**resolved.index, "mediaType": OCI_INDEX, "manifests": children}
        digest, size = target.add_json_blob(index)
        return {"mediaType": OCI_INDEX, "digest": digest, "size": size}
    children[0].pop("platform", None)
    children[0].pop("annotations", None)
    return children[0]


def _publish(
    src: ImageRef,
    dst: ImageRef,
    platform: str | None,
    force: bool,
    transform_for: Callable[[Layout, Layout], ManifestTransform],
    check: Callable[[ImageReport], None] | None = None,
) -> ImageReport:
    source = Layout.open(src.directory)
    resolved = source.resolve(src.tag)
    tag = dst.tag or src.tag
    with staged_layout(dst.directory, tag, force=force) as target:
        descriptor = _write_image(source, resolved, platform, target, transform_for(source, target))
        target.tag_manifest(descriptor, tag)
        report = inspect_image(ImageRef(target.root, tag))
        if check is not None:
            check(report)
    report.source, report.destination = str(src), str(dst)
    return report


def encrypt_image(
    src: ImageRef,
    dst: ImageRef,
    kek: bytes,
    kid: str,
    *,
    layers: Sequence[int] | None = None,
    platform: str | None = None,
    force: bool = False,
    fixed_iv: bytes | None = None,
) -> ImageReport:
    """Encrypt the selected layers of ``src`` (every platform, or ``platform``) into ``dst`` for the
    attestation-agent key provider."""
    ann.KeyProviderAnnotation(kid, b"", b"", "A256GCM").kid_path()
    if len(kek) != 32:
        raise InvalidInputError("the key-encryption key must be 32 bytes")
    chosen_by_manifest: dict[str, set[int]] = {}

    def transform_for(source: Layout, target: Layout) -> ManifestTransform:
        def transform(image: PlatformImage) -> dict[str, Any]:
            manifest = _normalise_manifest(image.manifest)
            target.copy_blob_from(source, check_digest(manifest["config"].get("digest")))
            chosen = _selected(len(manifest["layers"]), layers)
            manifest["layers"] = [
                _encrypt_layer(source, target, i, layer, kek, kid, fixed_iv)
                if i in chosen
                else _copy(source, target, layer)
                for i, layer in enumerate(manifest["layers"])
            ]
            chosen_by_manifest[image.platform or ""] = chosen
            return manifest

        return transform

    def check(report: ImageReport) -> None:
        for layer in report.layers:
            chosen = chosen_by_manifest.get(layer.platform or "", set())
            if layer.index in chosen and (not layer.encrypted or layer.kid is None or layer.error):
                raise IntegrityError(f"layer {layer.index} is not encrypted with both annotations after encryption")
            if layer.index in chosen and not layer.media_type.endswith(("tar+encrypted", "tar+gzip+encrypted")):
                raise IntegrityError(f"layer {layer.index} is {layer.media_type}: the guest cannot decrypt it")

    return _publish(src, dst, platform, force, transform_for, check)


def _copy(source: Layout, target: Layout, layer: dict[str, Any]) -> dict[str, Any]:
    target.copy_blob_from(source, check_digest(layer.get("digest")))
    return layer


def _encrypt_layer(
    source: Layout, target: Layout, index: int, layer: dict[str, Any], kek: bytes, kid: str, fixed_iv: bytes | None
) -> dict[str, Any]:
    """One layer; ``fixed_iv`` only for coco_keyprovider's sample mode (zero IV, enc_mods/mod.rs)."""
    digest = check_digest(layer.get("digest"))
    media_type = str(layer.get("mediaType", ""))
    if media_type.endswith("+encrypted"):
        value = (layer.get("annotations") or {}).get(ann.PROVIDER_ANNOTATION)
        old = ann.decode_recipients(value)[0].kid if isinstance(value, str) else "another key provider"
        raise InvalidInputError(
            f"layer {index} is already encrypted (for {old}): cococtl does not re-encrypt or add recipients",
            hint="decrypt the image first, or choose the plaintext layers with --layer",
        )
    if media_type not in GUEST_LAYER_TYPES:
        raise InvalidInputError(f"layer {index} is {media_type}: the guest decrypts only OCI tar / tar+gzip layers")
    with open(source.existing_blob(digest), "rb") as reader, target.new_blob() as (temp, writer):
        result = encrypt_layer(reader, writer)
    target.commit_blob(temp, result.digest)
    private = ann.PrivateOptions(result.symkey, digest, result.nonce).to_json()
    annotations = {
        **(layer.get("annotations") or {}),
        ann.PROVIDER_ANNOTATION: ann.wrap(private, kek, kid, iv=fixed_iv).encode(),
        ann.PUBOPTS_ANNOTATION: ann.PublicOptions(ann.CIPHER, result.hmac).encode(),
    }
    return {
        **layer,
        "mediaType": media_type + "+encrypted",
        "digest": result.digest,
        "size": result.size,
        "annotations": annotations,
    }


def layer_kids(layout_dir: Path, tag: str | None = None) -> list[str]:
    """The distinct kids the encrypted layers of the runnable image need (every recipient's)."""
    _, manifest = Layout.open(layout_dir).find_manifest(tag)
    kids: list[str] = []
    for layer in manifest["layers"]:
        value = (layer.get("annotations") or {}).get(ann.PROVIDER_ANNOTATION)
        if str(layer.get("mediaType", "")).endswith("+encrypted") and isinstance(value, str):
            for packet in ann.decode_recipients(value)[:1]:
                if packet.kid not in kids:
                    kids.append(packet.kid)
    return kids


def _config_diff_ids(layout: Layout, manifest: dict[str, Any]) -> list[Any]:
    config = layout.read_json_blob(manifest["config"].get("digest"), "config")
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    return ids if isinstance(ids, list) else []


def _decrypt_layer(
    source: Layout,
    target: Layout,
    index: int,
    layer: dict[str, Any],
    diff_id: Any,
    resolve: KeyResolver,
    guest_rules: bool,
) -> dict[str, Any]:
    """Decrypt one layer into ``target``; the blob is committed only after its HMAC and diff_id verified."""
    media_type = str(layer.get("mediaType", ""))
    plain_type = media_type[: -len("+encrypted")]
    if guest_rules and plain_type not in GUEST_LAYER_TYPES:
        raise InvalidInputError(f"layer {index} is {media_type}: the guest decrypts only OCI tar / tar+gzip layers")
    annotations = layer.get("annotations") or {}
    value = annotations.get(ann.PROVIDER_ANNOTATION)
    if not isinstance(value, str):
        others = [k for k in annotations if k.startswith("org.opencontainers.image.enc.keys.")]
        raise InvalidInputError(
            f"encrypted layer {index} has no attestation-agent key-provider annotation"
            + (f" (it has {', '.join(others)})" if others else "")
        )
    private = ann.unwrap_any(ann.recipient_parts(value), resolve)
    pubopts = annotations.get(ann.PUBOPTS_ANNOTATION)
    if not isinstance(pubopts, str):
        raise InvalidInputError(f"encrypted layer {index} has no pubopts annotation (no HMAC to verify)")
    public = ann.PublicOptions.decode(pubopts)
    hasher = DiffIdHasher(gzipped=plain_type.endswith("+gzip")) if plain_type in GUEST_LAYER_TYPES else None
    blob = source.existing_blob(layer.get("digest"))
    with open(blob, "rb") as reader, target.new_blob() as (temp, writer):
        try:
            digest = decrypt_layer(
                reader, writer, private.symkey, private.nonce, public.hmac, hasher.feed if hasher else None
            )
        except BaseException:
            if hasher is not None:
                hasher.close()
            raise
        uncompressed = hasher.hexdigest() if hasher else None
        if uncompressed is not None and isinstance(diff_id, str) and diff_id != f"sha256:{uncompressed}":
            raise IntegrityError(
                f"layer {index} decrypts to content with diff_id sha256:{uncompressed}, not the config's {diff_id}"
            )
    target.commit_blob(temp, digest)
    kept = {k: v for k, v in annotations.items() if not k.startswith("org.opencontainers.image.enc")}
    restored = {**layer, "mediaType": plain_type, "digest": digest, "size": target.blob_path(digest).stat().st_size}
    restored.pop("annotations", None)
    if kept:
        restored["annotations"] = kept
    return restored


def decrypt_image(
    src: ImageRef,
    dst: ImageRef,
    resolve: KeyResolver,
    *,
    platform: str | None = None,
    force: bool = False,
    guest_rules: bool = False,
) -> ImageReport:
    """Decrypt every encrypted layer of ``src`` (every platform, or ``platform``) into ``dst``."""

    def transform_for(source: Layout, target: Layout) -> ManifestTransform:
        def transform(image: PlatformImage) -> dict[str, Any]:
            manifest = image.manifest
            target.copy_blob_from(source, check_digest(manifest["config"].get("digest")))
            diff_ids = _config_diff_ids(source, manifest)
            new_layers = []
            for index, layer in enumerate(manifest["layers"]):
                if str(layer.get("mediaType", "")).endswith("+encrypted"):
                    diff_id = diff_ids[index] if index < len(diff_ids) else None
                    new_layers.append(_decrypt_layer(source, target, index, layer, diff_id, resolve, guest_rules))
                else:
                    new_layers.append(_copy(source, target, layer))
            return {**manifest, "layers": new_layers}

        return transform

    return _publish(src, dst, platform, force, transform_for)


def decrypt_layers(layout_dir: Path, out_dir: Path, resolve: KeyResolver) -> list[Path]:
    """Plaintext layer blobs of the runnable image, in manifest order (for algorithm/dataset extraction)."""
    source = Layout.open(layout_dir)
    platform = source.resolve(None).pick_platform(None).platform
    decrypted = out_dir / "layout"
    decrypt_image(ImageRef(layout_dir, None), ImageRef(decrypted, None), resolve, platform=platform, guest_rules=True)
    layout = Layout.open(decrypted)
    _, manifest = layout.find_manifest(None)
    return [layout.blob_path(layer["digest"]) for layer in manifest["layers"]]
