"""OCI image layouts on disk (``oci-layout``, ``index.json``, ``blobs/sha256/…``), read and written natively."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cococtl.errors import IntegrityError, InvalidInputError, NotFoundError, printable

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
    "application/vnd.docker.image.rootfs.diff.tar": "application/vnd.oci.image.layer.v1.tar",
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


@dataclass(frozen=True)
class PlatformImage:
    """One image manifest and the descriptor that points at it (with its platform inside an index)."""

    descriptor: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def platform(self) -> str | None:
        platform = self.descriptor.get("platform")
        if not isinstance(platform, dict):
            return None
        parts = [str(platform.get("os", "")), str(platform.get("architecture", ""))]
        if platform.get("variant"):
            parts.append(str(platform["variant"]))
        return "/".join(parts)


@dataclass(frozen=True)
class ResolvedImage:
    """What a reference names: ``index`` is None for a single-manifest image."""

    descriptor: dict[str, Any]
    index: dict[str, Any] | None
    images: list[PlatformImage]

    def select(self, platform: str | None) -> list[PlatformImage]:
        """Every platform (``None``), or the one ``os/arch[/variant]`` names."""
        if platform is None:
            return list(self.images)
        chosen = [i for i in self.images if i.platform == platform or (i.platform or "").startswith(platform + "/")]
        if not chosen:
            have = ", ".join(i.platform or "(no platform)" for i in self.images)
            raise NotFoundError(f"the image has no {platform} manifest (it has {have})")
        return chosen[:1]

    def pick_platform(self, platform: str | None) -> PlatformImage:
        if platform is not None:
            return self.select(platform)[0]
        if len(self.images) == 1:
            return self.images[0]
        linux_amd64 = [i for i in self.images if (i.platform or "").startswith("linux/amd64")]
        return (linux_amd64 or self.images)[0]


def _is_index(document: dict[str, Any], descriptor: dict[str, Any]) -> bool:
    media_type = document.get("mediaType") or descriptor.get("mediaType")
    return media_type in (OCI_INDEX, DOCKER_MANIFEST_LIST) or "manifests" in document


def check_descriptor(descriptor: Any, what: str) -> dict[str, Any]:
    """An OCI content descriptor: an object with a string ``mediaType``, a sha256 ``digest``, a non-negative integer
    ``size`` and (if any) ``annotations`` of strings; anything else is refused in words (exit 3)."""
    if not isinstance(descriptor, dict):
        raise InvalidInputError(f"{what} is a JSON {_kind(descriptor)}, not an object")
    media_type = descriptor.get("mediaType", "")
    if not isinstance(media_type, str):
        raise InvalidInputError(f"{what} has a mediaType that is a JSON {_kind(media_type)}, not a string")
    try:
        check_digest(descriptor.get("digest"))
    except InvalidInputError as error:
        raise InvalidInputError(f"{what}: {error.message}") from None
    size = descriptor.get("size", 0)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInputError(f"{what} has a size that is not a non-negative integer: {printable(size, 40)}")
    annotations = descriptor.get("annotations")
    if annotations is not None and (
        not isinstance(annotations, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in annotations.items())
    ):
        raise InvalidInputError(f"{what} has annotations that are not an object of strings")
    return descriptor


def _kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _check_manifest(document: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(document.get("layers"), list) or not isinstance(document.get("config"), dict):
        raise InvalidInputError("the image manifest has no layers/config")
    check_descriptor(document["config"], "the image manifest's config")
    for index, layer in enumerate(document["layers"]):
        check_descriptor(layer, f"layer {index} of the image manifest")
    return document


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
        raise InvalidInputError(f"unsupported or malformed digest {printable(repr(digest), 100)} (sha256 only)")
    return digest


def _read_regular(path: Path, limit: int, what: str) -> bytes:
    """A regular file's bytes (at most ``limit``): never blocks on a FIFO, never reads a device."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInputError(f"{what} is not a regular file")
        if info.st_size > limit:
            raise InvalidInputError(f"{what} is too large ({info.st_size} bytes, at most {limit})")
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InvalidInputError(f"{what} is too large (more than {limit} bytes)")
    return data


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
            value = json.loads(_read_regular(path, _MAX_JSON, what))
        except FileNotFoundError:
            raise InvalidInputError(f"{what} is missing from the layout") from None
        except (ValueError, UnicodeDecodeError):
            raise InvalidInputError(f"{what} is not valid JSON") from None
        except RecursionError:
            raise InvalidInputError(f"{what} is nested too deeply") from None
        except OSError as error:
            # A directory, a symlink loop, a FIFO opened without a writer would block: see _read_regular.
            raise InvalidInputError(f"{what} cannot be read: {error.strerror or error}") from None
        if not isinstance(value, dict):
            raise InvalidInputError(f"{what} is not a JSON object")
        return value

    def blob_path(self, digest: Any) -> Path:
        return self.root / "blobs" / "sha256" / check_digest(digest).split(":", 1)[1]

    def read_json_blob(self, digest: Any, what: str) -> dict[str, Any]:
        return self._json(self.existing_blob(digest, f"{what} blob"), f"{what} {digest}")

    def index(self) -> dict[str, Any]:
        index = self._json(self.root / "index.json", "index.json")
        if not isinstance(index.get("manifests"), list):
            raise InvalidInputError("index.json has no manifests list")
        return index

    def top_descriptor(self, tag: str | None) -> dict[str, Any]:
        """The index.json entry ``tag`` names; without a tag, the only entry (several are ambiguous, as in skopeo)."""
        entries = [e for e in self.index()["manifests"] if isinstance(e, dict)]
        for number, entry in enumerate(entries):
            check_descriptor(entry, f"index.json entry {number}")
        if tag is not None:
            entries = [e for e in entries if (e.get("annotations") or {}).get(REF_NAME) == tag]
            if not entries:
                raise NotFoundError(f"no image tagged {tag!r} in {self.root}")
        if not entries:
            raise NotFoundError(f"the layout {self.root} holds no image")
        if len(entries) > 1:
            tags = sorted({str((e.get("annotations") or {}).get(REF_NAME, "(untagged)")) for e in entries})
            raise InvalidInputError(
                f"{self.root} holds {len(entries)} images: choose one with oci:{self.root}:TAG",
                hint="tags in the layout: " + ", ".join(tags),
            )
        return entries[0]

    def resolve(self, tag: str | None) -> ResolvedImage:
        """The image ``tag`` names: one manifest, or an index with one manifest per platform."""
        top = self.top_descriptor(tag)
        document = self.read_json_blob(top.get("digest"), "manifest")
        if _is_index(document, top):
            listed = document.get("manifests", [])
            if not isinstance(listed, list):
                raise InvalidInputError("the image index's manifests is not a list")
            children = [
                check_descriptor(m, f"entry {n} of the image index") for n, m in enumerate(listed) if m is not None
            ]
            if not children:
                raise InvalidInputError("the image index lists no manifests")
            images = []
            for child in children:
                manifest = self.read_json_blob(child.get("digest"), "manifest")
                if _is_index(manifest, child):
                    raise InvalidInputError("nested image indexes are not supported")
                images.append(PlatformImage(child, _check_manifest(manifest)))
            return ResolvedImage(top, document, images)
        return ResolvedImage(top, None, [PlatformImage(top, _check_manifest(document))])

    def find_manifest(self, tag: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(descriptor, manifest) of one runnable image: the only one, or linux/amd64 of an index."""
        image = self.resolve(tag).pick_platform(None)
        return image.descriptor, image.manifest

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
        """Copy (hard-link when possible) a blob, checking that its bytes match its digest first."""
        target = self.blob_path(digest)
        if target.exists():
            return
        source = other.existing_blob(digest)
        if sha256_file(source) != digest:
            raise IntegrityError(f"blob {digest} in {other.root} does not match its digest")
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)

    def existing_blob(self, digest: Any, what: str = "blob") -> Path:
        """The path of a blob that must be there as a regular file (exit 6 when it is not)."""
        path = self.blob_path(digest)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise NotFoundError(f"{what} {digest} is missing from {self.root}") from None
        except OSError as error:
            raise InvalidInputError(f"{what} {digest} in {self.root} cannot be read: {error.strerror}") from None
        if not stat.S_ISREG(mode):
            raise InvalidInputError(f"{what} {digest} in {self.root} is not a regular file")
        return path

    def tag_manifest(self, descriptor: dict[str, Any], tag: str | None) -> None:
        index = self.index()
        kept = [
            e
            for e in index["manifests"]
            if not (isinstance(e, dict) and (e.get("annotations") or {}).get(REF_NAME) == tag)
        ]
        entry = dict(descriptor)
        if tag:
            entry["annotations"] = {REF_NAME: tag}
        index["manifests"] = [*kept, entry]
        temp = self.root / ".index.json.tmp"
        temp.write_text(json.dumps(index, separators=(",", ":")))
        os.replace(temp, self.root / "index.json")
