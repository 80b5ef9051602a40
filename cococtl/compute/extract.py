"""Cocos' rules for taking an algorithm or a dataset out of (decrypted) OCI image layers.

Layers are walked from the top (last) to the bottom; within a layer, tar order. Only regular
files are ever written; absolute names and ``..`` are refused. Symbolic and hard links, devices and FIFOs are
never created: they are skipped and reported (a warning on stderr and ``skipped`` in the result). Cocos
(pkg/oci/extract.go) checks no entry type at all: a link or device whose name its rules select becomes an empty
regular file there. The total size, the expansion ratio and the entry count are bounded (:class:`Limits`), so a
tar or gzip bomb is refused (exit 3, with the figures) before it fills the disk.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import posixpath
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from cococtl.errors import InvalidInputError, printable

ALGORITHM_NAME_HINTS = ("algorithm", "main", "run", "execute")
NOT_BINARY_SUFFIXES = (".py", ".wasm", ".wat", ".js", ".sh", ".csv", ".json", ".txt", ".md")
DATA_SUFFIXES = (".csv", ".json", ".txt", ".parquet", ".arrow", ".dat", ".zip", ".tar", ".gz", ".tgz", ".tar.gz")
_GZIP_MAGIC = b"\x1f\x8b"


_LOG = logging.getLogger("cococtl.extract")


def _env_limit(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidInputError(f"{name}={value[:40]!r} is not a whole number") from None
    if number < 1:
        raise InvalidInputError(f"{name} must be at least 1")
    return number


@dataclass(frozen=True)
class Limits:
    """Bounds on what one image (or one zip dataset) may expand to; each has an environment override.

    * ``max_total_bytes`` (``COCOCTL_MAX_EXTRACT_BYTES``, default 4 GiB): everything the archives expand to.
    * ``max_ratio`` (``COCOCTL_MAX_EXPANSION_RATIO``, default 100): expanded / compressed bytes, enforced once
      more than ``ratio_floor`` (64 MiB) has expanded; real data compresses 2-20x, a bomb 1000x.
    * ``max_entries`` (``COCOCTL_MAX_EXTRACT_ENTRIES``, default 250,000).
    """

    max_total_bytes: int = field(default_factory=lambda: _env_limit("COCOCTL_MAX_EXTRACT_BYTES", 4 << 30))
    max_entries: int = field(default_factory=lambda: _env_limit("COCOCTL_MAX_EXTRACT_ENTRIES", 250_000))
    max_ratio: int = field(default_factory=lambda: _env_limit("COCOCTL_MAX_EXPANSION_RATIO", 100))
    ratio_floor: int = 64 << 20

    def check(self, expanded: int, compressed: int, what: str, verb: str = "expand") -> None:
        """Refuse (exit 3, with the figures) when ``expanded`` bytes from ``compressed`` break a bound."""
        if expanded > self.max_total_bytes:
            raise InvalidInputError(
                f"{what} {verb} to more than {self.max_total_bytes} bytes ({expanded} bytes from {compressed}"
                " compressed): refused as an archive bomb",
                hint="if it is genuine, raise COCOCTL_MAX_EXTRACT_BYTES",
            )
        if expanded > self.ratio_floor and expanded > self.max_ratio * max(compressed, 1):
            raise InvalidInputError(
                f"{what} {verb} {expanded // max(compressed, 1)}:1 ({expanded} bytes from {compressed}"
                f" compressed), past the {self.max_ratio}:1 limit: refused as an archive bomb",
                hint="if it is genuine, raise COCOCTL_MAX_EXPANSION_RATIO",
            )


# Tar entry types that are never created, by name (what the report says).
_SPECIAL = {
    tarfile.SYMTYPE: "symbolic link",
    tarfile.LNKTYPE: "hard link",
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "FIFO",
}
# One read larger than this is a header no real image has (tarfile reads pax/GNU long-name headers whole).
_MAX_SINGLE_READ = 64 << 20


def is_algorithm_file(name: str, mode: int, algo_type: str) -> bool:
    """Cocos' ``isAlgorithmFile``: which tar entry is the algorithm for a given ``algo_type``."""
    base = posixpath.basename(name).lower()
    if algo_type == "python":
        return base.endswith(".py")
    if algo_type == "wasm":
        return base.endswith((".wasm", ".wat"))
    if algo_type == "bin":
        if base.endswith(NOT_BINARY_SUFFIXES):
            return False
        return any(hint in base for hint in ALGORITHM_NAME_HINTS) or bool(mode & 0o111)
    return False


def is_data_file(name: str) -> bool:
    """Cocos' ``isDataFile``: the dataset suffix allow-list (case-insensitive)."""
    return posixpath.basename(name).lower().endswith(DATA_SUFFIXES)


def safe_member_name(name: str) -> str:
    """Normalise a tar entry name; refuse absolute paths and anything that climbs out with ``..``."""
    cleaned = posixpath.normpath(name)
    if name.startswith("/") or cleaned.startswith("/"):
        raise InvalidInputError(f"image layer entry {name!r} has an absolute path")
    if cleaned == ".." or cleaned.startswith("../"):
        raise InvalidInputError(f"image layer entry {name!r} escapes the extraction directory")
    return cleaned


class _Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.bytes = 0  # declared sizes of the entries seen
        self.read = 0  # tar bytes actually decompressed (headers and padding included)
        self.compressed = 0  # bytes of the layer files opened
        self.entries = 0
        self.skipped: list[str] = []

    def entry(self, size: int) -> None:
        self.entries += 1
        self.bytes += max(size, 0)
        if self.entries > self.limits.max_entries:
            raise InvalidInputError(f"image layers hold more than {self.limits.max_entries} entries")
        self.limits.check(max(self.bytes, self.read), self.compressed, "image layers")

    def consumed(self, count: int) -> None:
        self.read += count
        self.limits.check(max(self.bytes, self.read), self.compressed, "image layers")


class _Counted:
    """The decompressed tar stream, counted against the budget as it is read (declared sizes can be small while
    pax headers and padding are not)."""

    def __init__(self, stream: IO[bytes], budget: _Budget) -> None:
        self._stream = stream
        self._budget = budget

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > _MAX_SINGLE_READ:
            raise InvalidInputError(f"image layer holds a tar header of {size} bytes: refused as an archive bomb")
        data = self._stream.read(size)
        self._budget.consumed(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def _open_layer(path: Path) -> Iterator[IO[bytes]]:
    with open(path, "rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield cast(IO[bytes], unzipped)
        else:
            yield raw


def iter_regular_files(layer: Path, budget: _Budget) -> Iterator[tuple[str, tarfile.TarInfo, IO[bytes]]]:
    """Yield (clean name, header, content stream) for each regular file of one tar(+gzip) layer; links, devices
    and FIFOs are recorded in ``budget.skipped`` and reported."""
    try:
        budget.compressed += layer.stat().st_size
        with (
            _open_layer(layer) as stream,
            tarfile.open(fileobj=cast(IO[bytes], _Counted(stream, budget)), mode="r|") as archive,
        ):
            for member in archive:
                budget.entry(member.size if member.isreg() else 0)
                if member.type in _SPECIAL:
                    _skip(layer, member, budget)
                    continue
                if not member.isreg():
                    continue
                name = safe_member_name(member.name)
                content = archive.extractfile(member)
                if content is not None:
                    yield name, member, content
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile, zlib.error, ValueError) as exc:
        raise InvalidInputError(
            f"image layer {layer.name} is not a readable tar(+gzip) archive: {printable(exc, 200)}"
        ) from None


def _skip(layer: Path, member: tarfile.TarInfo, budget: _Budget) -> None:
    kind = _SPECIAL[member.type]
    target = f" -> {printable(member.linkname, 80)}" if member.issym() or member.islnk() else ""
    entry = f"{printable(member.name, 120)} ({kind}{target})"
    budget.skipped.append(entry)
    if len(budget.skipped) <= 20:
        _LOG.warning("warning: image layer %s: skipped %s: cococtl extracts only regular files", layer.name, entry)


def _write(content: IO[bytes], target: Path, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as sink:
        while chunk := content.read(1 << 20):
            sink.write(chunk)
    os.chmod(target, (mode & 0o700) | 0o600)


@dataclass(frozen=True)
class ExtractedAlgorithm:
    algorithm: Path
    requirements: Path | None
    seen: tuple[str, ...]
    skipped: tuple[str, ...] = ()  # links, devices and FIFOs that were not extracted, "name (kind -> target)"


def extract_algorithm(
    layers: Sequence[Path], dest: Path, algo_type: str, *, limits: Limits | None = None
) -> ExtractedAlgorithm:
    """Extract the algorithm (and requirements.txt for python) from layers given in manifest order."""
    if algo_type not in ("python", "wasm", "bin"):
        raise InvalidInputError(
            f"an OCI algorithm needs an explicit algo_type of python, wasm or bin (got {algo_type or 'none'!r})",
            hint="set algorithm.algo_type in the manifest or pass --algo-type",
        )
    budget = _Budget(limits or Limits())
    algorithm: Path | None = None
    requirements: Path | None = None
    seen: list[str] = []
    for layer in reversed(layers):
        layer_algorithm: Path | None = None
        for name, member, content in iter_regular_files(layer, budget):
            seen.append(name)
            is_algo = is_algorithm_file(name, member.mode, algo_type)
            is_requirements = posixpath.basename(name) == "requirements.txt"
            if not (is_algo or is_requirements):
                continue
            target = dest / name
            _write(content, target, member.mode)
            if is_algo and layer_algorithm is None:
                layer_algorithm = target
            if is_requirements and requirements is None:
                requirements = target
        if algorithm is None:
            algorithm = layer_algorithm
        if algorithm is not None and (algo_type != "python" or requirements is not None):
            break
    if algorithm is None:
        shown = printable(", ".join(seen[:10]) + (", …" if len(seen) > 10 else ""), 400)
        skipped = f"; skipped, not regular files: {printable(', '.join(budget.skipped[:5]), 300)}"
        raise InvalidInputError(
            f"no {algo_type} algorithm file found in the image (files: {shown or 'none'})"
            + (skipped if budget.skipped else "")
        )
    if requirements is None and (algorithm.parent / "requirements.txt").is_file():
        requirements = algorithm.parent / "requirements.txt"
    return ExtractedAlgorithm(algorithm, requirements, tuple(seen), tuple(budget.skipped))


def extract_dataset(layers: Sequence[Path], dest: Path, *, limits: Limits | None = None) -> list[Path]:
    """Extract every data file (Cocos' suffix allow-list) from all layers, top layer first."""
    budget = _Budget(limits or Limits())
    found: list[Path] = []
    for layer in reversed(layers):
        for name, member, content in iter_regular_files(layer, budget):
            if is_data_file(name):
                target = dest / name
                _write(content, target, member.mode)
                found.append(target)
    if not found:
        skipped = f"; skipped, not regular files: {printable(', '.join(budget.skipped[:5]), 300)}"
        raise InvalidInputError(
            "no dataset files (.csv .json .txt .parquet .arrow .dat .zip .tar .gz .tgz) in the image"
            + (skipped if budget.skipped else "")
        )
    return found
