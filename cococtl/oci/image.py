"""Encrypt, decrypt and inspect OCI images natively (no skopeo, no key-provider service).

Encryption writes AES_256_CTR_HMAC_SHA256 layers with attestation-agent annotations, exactly what
skopeo + coco_keyprovider produce; afterwards every selected layer is checked (skopeo can fail
silently, we do not). Decryption verifies each layer's HMAC before its plaintext is published and
restores the original digests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cococtl.errors import CococtlError, IntegrityError, InvalidInputError
from cococtl.oci import annotations as ann
from cococtl.oci.layercrypt import decrypt_layer, encrypt_layer
from cococtl.oci.layout import (
    DOCKER_MANIFEST,
    DOCKER_TO_OCI,
    OCI_MANIFEST,
    ImageRef,
    Layout,
    check_digest,
)

ENCRYPTABLE = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
)
KeyResolver = Callable[[str], bytes]
"""kid (``kbs:///repo/type/tag``) → 32-byte KEK."""


@dataclass
class LayerReport:
    index: int
    media_type: str
    digest: str
    size: int
    encrypted: bool
    kid: str | None = None
    wrap_type: str | None = None
    cipher: str | None = None
    iv_bytes: int | None = None
    wrapped_data_bytes: int | None = None
    unwraps: bool | None = None
    private_digest: str | None = None
    symkey: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None or k in ("kid",)}


@dataclass
class ImageReport:
    source: str
    destination: str | None
    layers: list[LayerReport] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "layers": [layer.to_json() for layer in self.layers],
        }


def _normalise_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """Docker v2s2 → OCI media types (the config bytes, and so diff_ids, are unchanged)."""
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


def encrypt_image(
    src: ImageRef, dst: ImageRef, kek: bytes, kid: str, *, layers: Sequence[int] | None = None
) -> ImageReport:
    """Encrypt the selected layers of ``src`` into ``dst`` for the attestation-agent key provider."""
    ann.KeyProviderAnnotation(kid, b"", b"", "A256GCM").kid_path()
    if len(kek) != 32:
        raise InvalidInputError("the key-encryption key must be 32 bytes")
    source = Layout.open(src.directory)
    _, manifest = source.find_manifest(src.tag)
    manifest = _normalise_manifest(manifest)
    target = Layout.create(dst.directory)
    target.copy_blob_from(source, check_digest(manifest["config"].get("digest")))
    chosen = _selected(len(manifest["layers"]), layers)
    new_layers = []
    for index, layer in enumerate(manifest["layers"]):
        digest = check_digest(layer.get("digest"))
        media_type = str(layer.get("mediaType", ""))
        if index not in chosen or media_type.endswith("+encrypted"):
            target.copy_blob_from(source, digest)
            new_layers.append(layer)
            continue
        if media_type not in ENCRYPTABLE:
            raise InvalidInputError(f"layer {index} is {media_type}: the guest decrypts only OCI tar / tar+gzip layers")
        with open(source.blob_path(digest), "rb") as reader, target.new_blob() as (temp, writer):
            result = encrypt_layer(reader, writer)
        target.commit_blob(temp, result.digest)
        private = ann.PrivateOptions(result.symkey, digest, result.nonce).to_json()
        annotation = ann.wrap(private, kek, kid)
        annotations = {
            **(layer.get("annotations") or {}),
            ann.PROVIDER_ANNOTATION: annotation.encode(),
            ann.PUBOPTS_ANNOTATION: ann.PublicOptions(ann.CIPHER, result.hmac).encode(),
        }
        new_layers.append(
            {
                **layer,
                "mediaType": media_type + "+encrypted",
                "digest": result.digest,
                "size": result.size,
                "annotations": annotations,
            }
        )
    manifest["layers"] = new_layers
    manifest_digest, manifest_size = target.add_json_blob(manifest)
    target.tag_manifest(
        {"mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": manifest_size}, dst.tag or src.tag
    )
    report = inspect_image(dst if dst.tag else ImageRef(dst.directory, src.tag))
    report.source, report.destination = str(src), str(dst)
    for layer in report.layers:
        if layer.index in chosen and (not layer.encrypted or layer.kid is None or layer.error):
            raise IntegrityError(f"layer {layer.index} is not encrypted with both annotations after encryption")
    return report


def _layer_key(layer: dict[str, Any], resolve: KeyResolver) -> tuple[ann.PrivateOptions, ann.PublicOptions, str]:
    annotations = layer.get("annotations") or {}
    value = annotations.get(ann.PROVIDER_ANNOTATION)
    if not isinstance(value, str):
        others = [k for k in annotations if k.startswith("org.opencontainers.image.enc.keys.")]
        raise InvalidInputError(
            "an encrypted layer has no attestation-agent key-provider annotation"
            + (f" (it has {', '.join(others)})" if others else "")
        )
    packet = ann.KeyProviderAnnotation.decode(value)
    private = ann.PrivateOptions.from_json(packet.unwrap(resolve(packet.kid)))
    pubopts_value = annotations.get(ann.PUBOPTS_ANNOTATION)
    if not isinstance(pubopts_value, str):
        raise InvalidInputError("an encrypted layer has no pubopts annotation (no HMAC to verify)")
    return private, ann.PublicOptions.decode(pubopts_value), packet.kid


def layer_kids(layout_dir: Path, tag: str | None = None) -> list[str]:
    """The distinct kids the encrypted layers of an image need."""
    _, manifest = Layout.open(layout_dir).find_manifest(tag)
    kids: list[str] = []
    for layer in manifest["layers"]:
        value = (layer.get("annotations") or {}).get(ann.PROVIDER_ANNOTATION)
        if str(layer.get("mediaType", "")).endswith("+encrypted") and isinstance(value, str):
            kid = ann.KeyProviderAnnotation.decode(value).kid
            if kid not in kids:
                kids.append(kid)
    return kids


def _decrypt_layer_into(source: Layout, target: Layout, index: int, layer: dict[str, Any], resolve: KeyResolver) -> str:
    """Decrypt one layer into ``target``; the blob is published only after its HMAC verified."""
    private, public, _ = _layer_key(layer, resolve)
    with open(source.blob_path(layer.get("digest")), "rb") as reader, target.new_blob() as (temp, writer):
        digest = decrypt_layer(reader, writer, private.symkey, private.nonce, public.hmac)
    if private.digest.startswith("sha256:") and private.digest != digest:
        temp.unlink(missing_ok=True)
        raise IntegrityError(f"layer {index} decrypts to {digest}, not the original {private.digest}")
    target.commit_blob(temp, digest)
    return digest


def decrypt_image(src: ImageRef, dst: ImageRef, resolve: KeyResolver) -> ImageReport:
    """Decrypt every encrypted layer of ``src`` into ``dst``, restoring media types and digests."""
    source = Layout.open(src.directory)
    _, manifest = source.find_manifest(src.tag)
    target = Layout.create(dst.directory)
    target.copy_blob_from(source, check_digest(manifest["config"].get("digest")))
    new_layers = []
    for index, layer in enumerate(manifest["layers"]):
        media_type = str(layer.get("mediaType", ""))
        if not media_type.endswith("+encrypted"):
            target.copy_blob_from(source, check_digest(layer.get("digest")))
            new_layers.append(layer)
            continue
        digest = _decrypt_layer_into(source, target, index, layer, resolve)
        size = target.blob_path(digest).stat().st_size
        kept = {
            k: v
            for k, v in (layer.get("annotations") or {}).items()
            if not k.startswith("org.opencontainers.image.enc")
        }
        restored = {**layer, "mediaType": media_type[: -len("+encrypted")], "digest": digest, "size": size}
        restored.pop("annotations", None)
        if kept:
            restored["annotations"] = kept
        new_layers.append(restored)
    manifest = {**manifest, "layers": new_layers}
    manifest_digest, manifest_size = target.add_json_blob(manifest)
    target.tag_manifest(
        {"mediaType": manifest.get("mediaType", OCI_MANIFEST), "digest": manifest_digest, "size": manifest_size},
        dst.tag or src.tag,
    )
    report = inspect_image(ImageRef(dst.directory, dst.tag or src.tag))
    report.source, report.destination = str(src), str(dst)
    return report


def decrypt_layers(layout_dir: Path, out_dir: Path, resolve: KeyResolver) -> list[Path]:
    """Plaintext layer blobs of the layout's image, in manifest order (for algorithm/dataset extraction)."""
    decrypted = out_dir / "layout"
    report = decrypt_image(ImageRef(layout_dir, None), ImageRef(decrypted, None), resolve)
    layout = Layout.open(decrypted)
    _, manifest = layout.find_manifest(None)
    del report
    return [layout.blob_path(layer["digest"]) for layer in manifest["layers"]]


def inspect_image(ref: ImageRef, resolve: KeyResolver | None = None, *, show_secrets: bool = False) -> ImageReport:
    layout = Layout.open(ref.directory)
    _, manifest = layout.find_manifest(ref.tag)
    report = ImageReport(str(ref), None)
    for index, layer in enumerate(manifest["layers"]):
        media_type = str(layer.get("mediaType", ""))
        entry = LayerReport(
            index, media_type, str(layer.get("digest")), int(layer.get("size", 0)), media_type.endswith("+encrypted")
        )
        annotations = layer.get("annotations") or {}
        try:
            if isinstance(annotations.get(ann.PROVIDER_ANNOTATION), str):
                packet = ann.KeyProviderAnnotation.decode(annotations[ann.PROVIDER_ANNOTATION])
                entry.kid, entry.wrap_type = packet.kid, packet.wrap_type
                entry.iv_bytes, entry.wrapped_data_bytes = len(packet.iv), len(packet.wrapped_data)
                if isinstance(annotations.get(ann.PUBOPTS_ANNOTATION), str):
                    entry.cipher = ann.PublicOptions.decode(annotations[ann.PUBOPTS_ANNOTATION]).cipher
                if resolve is not None:
                    try:
                        private = ann.PrivateOptions.from_json(packet.unwrap(resolve(packet.kid)))
                        entry.unwraps, entry.private_digest = True, private.digest
                        if show_secrets:
                            import base64

                            entry.symkey = base64.b64encode(private.symkey).decode()
                    except CococtlError as error:
                        entry.unwraps, entry.error = False, error.message
            elif entry.encrypted:
                entry.error = "no attestation-agent key-provider annotation"
        except CococtlError as error:
            entry.error = error.message
        report.layers.append(entry)
    return report
