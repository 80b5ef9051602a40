"""Cocos' rules for taking an algorithm or a dataset out of (decrypted) OCI image layers.

Layers are walked from the top (last) to the bottom; within a layer, tar order. Only regular
files are ever written; absolute names and ``..`` are refused, links and devices are ignored, and
the total size and entry count are bounded so a tar or gzip bomb cannot fill the disk.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import posixpath
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from cococtl.errors import InvalidInputError

ALGORITHM_NAME_HINTS = ("algorithm", "main", "run", "execute")
NOT_BINARY_SUFFIXES = (".py", ".wasm", ".wat", ".js", ".sh", ".csv", ".json", ".txt", ".md")
DATA_SUFFIXES = (".csv", ".json", ".txt", ".parquet", ".arrow", ".dat", ".zip", ".tar", ".gz", ".tgz", ".tar.gz")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Limits:
    """Bounds on what one image may expand to."""

    max_total_bytes: int = 32 << 30
    max_entries: int = 1_000_000


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
        self.bytes = 0
        self.entries = 0

    def entry(self, size: int) -> None:
        self.entries += 1
        self.bytes += max(size, 0)
        if self.entries > self.limits.max_entries:
            raise InvalidInputError(f"image layers hold more than {self.limits.max_entries} entries")
        if self.bytes > self.limits.max_total_bytes:
            raise InvalidInputError(f"image layers expand to more than {self.limits.max_total_bytes} bytes")


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
    """Yield (clean name, header, content stream) for each regular file of one tar(+gzip) layer."""
    try:
        with _open_layer(layer) as stream, tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                budget.entry(member.size if member.isreg() else 0)
                if not member.isreg():
                    continue
                name = safe_member_name(member.name)
                content = archive.extractfile(member)
                if content is not None:
                    yield name, member, content
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        raise InvalidInputError(f"image layer {layer.name} is not a readable tar(+gzip) archive: {exc}") from None


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
        shown = ", ".join(seen[:10]) + (", …" if len(seen) > 10 else "")
        raise InvalidInputError(f"no {algo_type} algorithm file found in the image (files: {shown or 'none'})")
    if requirements is None and (algorithm.parent / "requirements.txt").is_file():
        requirements = algorithm.parent / "requirements.txt"
    return ExtractedAlgorithm(algorithm, requirements, tuple(seen))


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
        raise InvalidInputError(
            "no dataset files (.csv .json .txt .parquet .arrow .dat .zip .tar .gz .tgz) in the image"
        )
    return found
