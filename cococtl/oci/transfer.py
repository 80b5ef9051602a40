"""Copy one image out of an OCI layout (blobs hard-linked when possible) into a fresh layout."""

from __future__ import annotations

from pathlib import Path

from cococtl.oci.layout import OCI_MANIFEST, ImageRef, Layout, check_digest


def copy_image(source: ImageRef, destination: Path) -> Path:
    """Copy the image ``source`` names into a new layout at ``destination`` (untagged, the only image)."""
    src = Layout.open(source.directory)
    _, manifest = src.find_manifest(source.tag)
    dst = Layout.create(destination)
    for descriptor in (manifest["config"], *manifest["layers"]):
        dst.copy_blob_from(src, check_digest(descriptor.get("digest")))
    digest, size = dst.add_json_blob(manifest)
    dst.tag_manifest({"mediaType": manifest.get("mediaType", OCI_MANIFEST), "digest": digest, "size": size}, None)
    return destination
