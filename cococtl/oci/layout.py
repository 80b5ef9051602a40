"""OCI image layouts on disk (``oci-layout``, ``index.json``, ``blobs/sha256/…``), read and written natively."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cococtl.errors import InvalidInputError, NotFoundError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
# Docker media types are normalised to OCI ones: the guest only decrypts OCI tar / tar+gzip layers.
OCI_FOREIGN_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
DOCKER_TO_OCI = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": OCI_LAYER_GZIP,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": OCI_FOREIGN_GZIP,
    DOCKER_CONFIG: OCI_CONFIG,
}
REF_NAME = "org.opencontainers.image.ref.name"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_MAX_JSON = 16 << 20


@dataclass(frozen=True)
class ImageRef:
    """``oci:DIR[:TAG]``."""

    directory: Path
    tag: str | None

    def __str__(self) -> str:
        return f"oci:{self.directory}" + (f":{self.tag}" if self.tag else "")


def parse_reference(text: str) -> ImageRef:
    if text.startswith("oci:"):
        body = text[4:]
        directory, sep, tag = body.rpartition(":")
        if not sep or "/" in tag:
            directory, tag = body, ""
        if not directory:
            raise InvalidInputError(f"image reference {text!r} names no directory")
        return ImageRef(Path(directory), tag or None)
    transport = text.split(":", 1)[0] if ":" in text else ""
    if transport in ("docker", "dir", "docker-archive", "docker-daemon", "oci-archive", "containers-storage"):
        raise InvalidInputError(
            f"image transport {transport}: is not supported natively yet; use an oci:DIR[:TAG] layout",
            hint=f"copy it first: skopeo copy {text} oci:./image:latest",
        )
    raise InvalidInputError(f"image reference {text!r}: expected oci:DIR[:TAG]")


def check_digest(digest: Any) -> str:
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise InvalidInputError(f"unsupported or malformed digest {digest!r} (sha256 only)")
    return digest


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


class Layout:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def open(cls, root: Path) -> Layout:
        if not (root / "index.json").is_file():
            if not root.exists():
                raise NotFoundError(f"image layout {root} does not exist")
            raise InvalidInputError(f"{root} is not an OCI image layout (no index.json)")
        marker = root / "oci-layout"
        if marker.is_file():
            version = cls._json(marker, "oci-layout").get("imageLayoutVersion")
            if version != "1.0.0":
                raise InvalidInputError(f"{root}: unsupported imageLayoutVersion {version!r}")
        return cls(root)

    @classmethod
    def create(cls, root: Path) -> Layout:
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        if not (root / "oci-layout").exists():
            (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        if not (root / "index.json").exists():
            (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}))
        return cls(root)

    @staticmethod
    def _json(path: Path, what: str) -> dict[str, Any]:
        try:
            if path.stat().st_size > _MAX_JSON:
                raise InvalidInputError(f"{what} is too large")
            value = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise InvalidInputError(f"{what} is missing from the layout") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidInputError(f"{what} is not valid JSON") from None
        if not isinstance(value, dict):
            raise InvalidInputError(f"{what} is not a JSON object")
        return value

    def blob_path(self, digest: Any) -> Path:
        return self.root / "blobs" / "sha256" / check_digest(digest).split(":", 1)[1]

    def read_json_blob(self, digest: Any, what: str) -> dict[str, Any]:
        path = self.blob_path(digest)
        if not path.is_file():
            raise InvalidInputError(f"{what} blob {digest} is missing from the layout")
        return self._json(path, f"{what} {digest}")

    def index(self) -> dict[str, Any]:
        index = self._json(self.root / "index.json", "index.json")
        if not isinstance(index.get("manifests"), list):
            raise InvalidInputError("index.json has no manifests list")
        return index

    def find_manifest(self, tag: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(descriptor, manifest) for ``tag`` (or the only/first image), following nested indexes."""
        entries = [e for e in self.index()["manifests"] if isinstance(e, dict)]
        if tag is not None:
            entries = [e for e in entries if (e.get("annotations") or {}).get(REF_NAME) == tag]
            if not entries:
                raise NotFoundError(f"no image tagged {tag!r} in {self.root}")
        if not entries:
            raise NotFoundError(f"the layout {self.root} holds no image")
        descriptor = entries[0]
        for _ in range(4):
            document = self.read_json_blob(descriptor.get("digest"), "manifest")
            media_type = document.get("mediaType") or descriptor.get("mediaType")
            if media_type in (OCI_INDEX, DOCKER_MANIFEST_LIST) or "manifests" in document:
                children = [m for m in document.get("manifests", []) if isinstance(m, dict)]
                if not children:
                    raise InvalidInputError("an image index in the layout lists no manifests")
                amd64 = [m for m in children if (m.get("platform") or {}).get("architecture") == "amd64"]
                descriptor = (amd64 or children)[0]
                continue
            if not isinstance(document.get("layers"), list) or not isinstance(document.get("config"), dict):
                raise InvalidInputError("the image manifest has no layers/config")
            return descriptor, document
        raise InvalidInputError("image indexes nest too deeply")

    @contextlib.contextmanager
    def new_blob(self) -> Iterator[tuple[Path, Any]]:
        """A temp file inside the layout; the caller moves it into place with :meth:`commit_blob`."""
        fd, name = tempfile.mkstemp(prefix=".blob-", dir=self.root / "blobs" / "sha256")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield path, handle
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def commit_blob(self, temp: Path, digest: str) -> None:
        os.replace(temp, self.blob_path(digest))

    def add_json_blob(self, document: dict[str, Any]) -> tuple[str, int]:
        data = json.dumps(document, separators=(",", ":")).encode()
        digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
        path = self.blob_path(digest)
        if not path.exists():
            with self.new_blob() as (temp, handle):
                handle.write(data)
            self.commit_blob(temp, digest)
        return digest, len(data)

    def copy_blob_from(self, other: Layout, digest: str) -> None:
        target = self.blob_path(digest)
        if target.exists():
            return
        source = other.blob_path(digest)
        if not source.is_file():
            raise InvalidInputError(f"blob {digest} is missing from {other.root}")
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)

    def tag_manifest(self, descriptor: dict[str, Any], tag: str | None) -> None:
        index = self.index()
        kept = [
            e
            for e in index["manifests"]
            if not (tag and isinstance(e, dict) and (e.get("annotations") or {}).get(REF_NAME) == tag)
        ]
        entry = dict(descriptor)
        if tag:
            entry["annotations"] = {REF_NAME: tag}
        index["manifests"] = [*kept, entry]
        temp = self.root / ".index.json.tmp"
        temp.write_text(json.dumps(index, separators=(",", ":")))
        os.replace(temp, self.root / "index.json")
