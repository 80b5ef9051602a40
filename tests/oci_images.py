"""Build small OCI image layouts for tests (no registry, no network)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any


def _tar(files: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, (modes or {}).get(name, 0o644)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _blob(root: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return f"sha256:{digest}"


def build_image(
    root: Path,
    layers: list[dict[str, bytes]],
    *,
    tag: str = "latest",
    docker: bool = False,
    gzip_layers: bool = True,
    modes: dict[str, int] | None = None,
) -> dict[str, Any]:
    """An OCI layout at ``root`` with one image whose layers hold ``layers`` (tar, gzip by default)."""
    descriptors, diff_ids = [], []
    for files in layers:
        tar = _tar(files, modes)
        diff_ids.append(f"sha256:{hashlib.sha256(tar).hexdigest()}")
        blob = gzip.compress(tar, mtime=0) if gzip_layers else tar
        media = (
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
            if docker
            else "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzip_layers else "")
        )
        descriptors.append({"mediaType": media, "digest": _blob(root, blob), "size": len(blob)})
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": (
            "application/vnd.docker.distribution.manifest.v2+json"
            if docker
            else "application/vnd.oci.image.manifest.v1+json"
        ),
        "config": {
            "mediaType": (
                "application/vnd.docker.container.image.v1+json"
                if docker
                else "application/vnd.oci.image.config.v1+json"
            ),
            "digest": _blob(root, config),
            "size": len(config),
        },
        "layers": descriptors,
    }
    data = json.dumps(manifest).encode()
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": manifest["mediaType"],
                        "digest": _blob(root, data),
                        "size": len(data),
                        "annotations": {"org.opencontainers.image.ref.name": tag},
                    }
                ],
            }
        )
    )
    return manifest


def build_index(root: Path, platforms: dict[str, list[dict[str, bytes]]], *, tag: str = "latest") -> dict[str, Any]:
    """An OCI layout whose ``tag`` is an image index with one image per ``os/arch`` in ``platforms``."""
    children = []
    for platform, layers in platforms.items():
        build_image(root, layers, tag="_child")
        entry = json.loads((root / "index.json").read_text())["manifests"][0]
        entry.pop("annotations")
        os_name, arch = platform.split("/", 1)
        children.append({**entry, "platform": {"os": os_name, "architecture": arch}})
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": children}
    data = json.dumps(index).encode()
    top = {
        "mediaType": index["mediaType"],
        "digest": _blob(root, data),
        "size": len(data),
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return index
