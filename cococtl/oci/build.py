"""Make a small OCI image from files (one tar+gzip layer per mapping): the demo's algorithm image."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

from cococtl.oci.layout import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, Layout


def build_image(root: Path, layers: list[dict[str, bytes]], *, tag: str = "latest", mode: int = 0o644) -> str:
    """Write an OCI layout at ``root`` holding one image; return its manifest digest."""
    layout = Layout.create(root)
    descriptors, diff_ids = [], []
    for files in layers:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for name, data in sorted(files.items()):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), mode, 0
                archive.addfile(info, io.BytesIO(data))
        tar = buffer.getvalue()
        diff_ids.append(f"sha256:{hashlib.sha256(tar).hexdigest()}")
        blob = gzip.compress(tar, mtime=0)
        digest = f"sha256:{hashlib.sha256(blob).hexdigest()}"
        with layout.new_blob() as (temp, handle):
            handle.write(blob)
        layout.commit_blob(temp, digest)
        descriptors.append({"mediaType": OCI_LAYER_GZIP, "digest": digest, "size": len(blob)})
    config = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    config_digest, config_size = layout.add_json_blob(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": descriptors,
    }
    digest, size = layout.add_json_blob(manifest)
    layout.tag_manifest({"mediaType": OCI_MANIFEST, "digest": digest, "size": size}, tag)
    return digest
