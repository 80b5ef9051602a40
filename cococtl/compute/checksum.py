"""cocos-cli's ``checksum``: SHA3-256 of files, of directories zipped the Cocos way, and of manifests.

- A file: SHA3-256 of its bytes (cocos ``internal.Digest``, internal/file.go:60-78).
- A directory: SHA3-256 of ``internal.ZipDirectoryToMemory(dir)`` (internal/file.go:67-68), which takes each
  file's own modification time, so the hash changes when a file is touched (:func:`go_zip_directory` with
  ``mtime=None`` writes Go's bytes).
- A manifest (``checksum --manifest``): cocos-cli reads the file with ``json.Unmarshal`` into
  ``agent.Computation`` and hashes ``json.Marshal`` of the result (cli/checksum.go:57-77), so the checksum
  ignores formatting, key order, unknown keys and key case, and fails on what Go's decoder refuses. This module
  restates Go's ``encoding/json`` rules for exactly that struct (agent/computations.go:23-92 at 747aaaa5):
  case-insensitive field names, ``null`` leaves a value alone (and clears a pointer or slice), duplicate keys
  merge into the same struct, ``[32]byte`` hashes are arrays of integer literals 0-255 (shorter arrays are
  zero-filled, longer ones cut), ``[]byte`` keys are standard base64 (or arrays of bytes); and Go's encoder:
  struct field order, ``omitempty`` (never for the ``[32]byte`` hash, nor for a non-nil pointer), base64 for
  ``[]byte``, HTML-safe string escapes.

No Typer here: ``cococtl/cli/checksum.py`` is the command.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cococtl.errors import InvalidInputError, NotFoundError

_CHUNK = 1 << 20
_MAX_MANIFEST_BYTES = 8 << 20

# ---------------------------------------------------------------------------------------------------------
# Files and directories


class _HashSink:
    def __init__(self) -> None:
        self.digest = hashlib.sha3_256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return len(data)


def path_checksum(path: Path) -> bytes:
    """SHA3-256 of a file, or of a directory zipped like Cocos' ``internal.ZipDirectoryToMemory``."""
    from cococtl.compute.results import go_zip_directory

    if not path.exists():
        raise NotFoundError(f"{path} does not exist")
    if path.is_dir():
        sink = _HashSink()
        go_zip_directory(path, sink, mtime=None)  # type: ignore[arg-type]
        return sink.digest.digest()
    digest = hashlib.sha3_256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as error:
        raise InvalidInputError(f"cannot read {path}: {error.strerror}") from None
    return digest.digest()


@dataclass(frozen=True)
class Encodings:
    """One SHA3-256 in each of the encodings manifests use."""

    hex: str
    base64: str
    array: list[int]

    @classmethod
    def of(cls, digest: bytes) -> Encodings:
        return cls(digest.hex(), base64.b64encode(digest).decode(), list(digest))

    def as_json(self) -> dict[str, Any]:
        return {"hex": self.hex, "base64": self.base64, "array": self.array}


# ---------------------------------------------------------------------------------------------------------
# Go's encoding/json for agent.Computation (agent/computations.go:23-92 at 747aaaa5)

# Field kinds: "string", "bool", "hash" ([32]byte), "bytes" ([]byte), "strings" ([]string),
# ("ptr", fields) (*struct), ("slice", fields) ([]struct).
Fields = tuple[tuple[str, Any], ...]

RESOURCE_SOURCE: Fields = (
    ("type", "string"),
    ("url", "string"),
    ("kbs_resource_path", "string"),
    ("encrypted", "bool"),
)
KBS_CONFIG: Fields = (("url", "string"), ("enabled", "bool"))
DATASET: Fields = (
    ("hash", "hash"),
    ("user_key", "bytes"),
    ("filename", "string"),
    ("source", ("ptr", RESOURCE_SOURCE)),
    ("decompress", "bool"),
    ("kbs", ("ptr", KBS_CONFIG)),
)
ALGORITHM: Fields = (
    ("hash", "hash"),
    ("user_key", "bytes"),
    ("source", ("ptr", RESOURCE_SOURCE)),
    ("algo_type", "string"),
    ("algo_args", "strings"),
    ("kbs", ("ptr", KBS_CONFIG)),
)
RESULT_CONSUMER: Fields = (("user_key", "bytes"),)
COMPUTATION: Fields = (
    ("id", "string"),
    ("name", "string"),
    ("description", "string"),
    ("datasets", ("slice", DATASET)),
    ("algorithm", ("ptr", ALGORITHM)),
    ("result_consumers", ("slice", RESULT_CONSUMER)),
)


class GoJSONError(InvalidInputError):
    """What Go's json.Unmarshal into agent.Computation would return as an error."""


class _Number(str):
    """A JSON number literal, kept as written (Go parses it per target type)."""


class _Object(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs in document order (duplicates kept, as Go sees them)."""


def _reject_constant(name: str) -> Any:
    raise GoJSONError(f"invalid character {name[0]!r} looking for beginning of value")


def _fold(key: str) -> str:
    """Go's field-name folding (bytes.EqualFold): ASCII case, and the two non-ASCII runes that fold to ASCII
    letters of our field names, U+017F (long s) and U+212A (Kelvin sign)."""
    return key.lower().replace("\u017f", "s").replace("\u212a", "k")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _go_string(value: str) -> str:
    # Go's decoder turns invalid UTF-8 (here surrogate-escaped bytes) and unpaired \\uD800-style escapes into
    # U+FFFD, one per byte / escape.
    return _SURROGATE.sub("\ufffd", value)


def _type_error(what: str, path: str, value: Any) -> GoJSONError:
    kind = (
        "object"
        if isinstance(value, _Object)
        else "array"
        if isinstance(value, list)
        else "number"
        if isinstance(value, _Number)
        else "string"
        if isinstance(value, str)
        else "bool"
        if isinstance(value, bool)
        else "null"
    )
    return GoJSONError(f"json: cannot unmarshal {kind} into Go struct field {path} of type {what}")


def _byte(value: Any, path: str) -> int:
    if isinstance(value, _Number) and value.isdigit() and int(value) <= 255:
        return int(value)
    if isinstance(value, _Number):
        raise GoJSONError(f"json: cannot unmarshal number {value} into Go struct field {path} of type uint8")
    raise _type_error("uint8", path, value)


def _decode_value(kind: Any, value: Any, current: Any, path: str) -> Any:
    """Decode ``value`` into a Go value of ``kind`` whose current value is ``current``; return the new value."""
    if value is None:  # null: clears pointers and slices, leaves everything else as it was
        return None if kind in ("bytes", "strings") or isinstance(kind, tuple) else current
    if kind == "string":
        if not isinstance(value, str) or isinstance(value, _Number):
            raise _type_error("string", path, value)
        return _go_string(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise _type_error("bool", path, value)
        return value
    if kind == "hash":
        if not isinstance(value, list) or isinstance(value, _Object):
            raise _type_error("[32]uint8", path, value)
        # Go decodes the first 32 elements, skips any more unchecked, and zeroes what is missing.
        items = [_byte(item, path) for item in value[:32]]
        return bytes(items + [0] * (32 - len(items)))
    if kind == "bytes":
        if isinstance(value, str) and not isinstance(value, _Number):
            text = value.replace("\r", "").replace("\n", "")
            try:
                return base64.b64decode(text, validate=True)
            except ValueError:
                raise GoJSONError(f"illegal base64 data in {path}") from None
        if isinstance(value, list) and not isinstance(value, _Object):
            return bytes(_byte(item, path) for item in value)
        raise _type_error("[]uint8", path, value)
    if kind == "strings":
        if not isinstance(value, list) or isinstance(value, _Object):
            raise _type_error("[]string", path, value)
        return [_decode_value("string", item, "", path) for item in value]
    shape, fields = kind
    if shape == "ptr":
        return _decode_struct(fields, value, current if current is not None else _zero(fields), path)
    if not isinstance(value, list) or isinstance(value, _Object):
        raise _type_error("[]struct", path, value)
    old = current or []
    # Go decodes into the slice's existing elements (so duplicate keys merge element-wise), then truncates.
    return [
        _decode_struct(fields, item, old[i] if i < len(old) else _zero(fields), path) for i, item in enumerate(value)
    ]


def _zero(fields: Fields) -> dict[str, Any]:
    zeros: dict[str, Any] = {"string": "", "bool": False, "hash": bytes(32)}
    return {name: zeros.get(kind) if isinstance(kind, str) else None for name, kind in fields}


def _decode_struct(fields: Fields, value: Any, current: dict[str, Any], path: str) -> dict[str, Any]:
    if value is None:  # a null element of a []struct leaves the element as it is
        return current
    if not isinstance(value, _Object):
        raise _type_error("struct", path, value)
    exact = dict(fields)
    folded = {_fold(name): name for name, _ in fields}
    result = dict(current)
    for key, item in value:
        name = key if key in exact else folded.get(_fold(key))
        if name is None:
            continue  # unknown keys are ignored
        where = f"{path}.{name}" if path else name
        result[name] = _decode_value(exact[name], item, result[name], where)
    return result


def go_unmarshal(data: bytes) -> dict[str, Any]:
    """``json.Unmarshal(data, &agent.Computation{})`` as a dict of Go values (None for nil)."""
    text = data.decode("utf-8", errors="surrogateescape")
    try:
        parsed = json.loads(
            text,
            object_pairs_hook=_Object,
            parse_int=_Number,
            parse_float=_Number,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as error:
        raise GoJSONError(f"not valid JSON: {error.msg} (line {error.lineno} column {error.colno})") from None
    except RecursionError:
        raise GoJSONError("exceeded max depth") from None
    if parsed is None:
        return _zero(COMPUTATION)
    if not isinstance(parsed, _Object):
        raise GoJSONError("json: cannot unmarshal a non-object into Go value of type agent.Computation")
    return _decode_struct(COMPUTATION, parsed, _zero(COMPUTATION), "")


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _ESCAPES:
        return _ESCAPES[char]
    if "\ud800" <= char <= "\udfff":
        return "\\ufffd"
    return f"\\u{ord(char):04x}"


def _encode_string(value: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape, value) + '"'


def _empty(kind: Any, value: Any) -> bool:
    """Go's omitempty: false, "", nil pointers and zero-length slices; never a [32]byte array."""
    if kind == "hash":
        return False
    return value is None or value is False or (isinstance(value, (str, bytes, list)) and len(value) == 0)


def _encode_value(kind: Any, value: Any) -> str:
    if kind == "string":
        return _encode_string(value)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "hash":
        return "[" + ",".join(str(b) for b in value) + "]"
    if kind == "bytes":
        return '"' + base64.b64encode(value).decode() + '"'
    if kind == "strings":
        return "[" + ",".join(_encode_string(s) for s in value) + "]"
    shape, fields = kind
    if shape == "ptr":
        return _encode_struct(fields, value)
    return "[" + ",".join(_encode_struct(fields, item) for item in value) + "]"


def _encode_struct(fields: Fields, value: dict[str, Any]) -> str:
    members = [
        f"{_encode_string(name)}:{_encode_value(kind, value.get(name))}"
        for name, kind in fields
        if not _empty(kind, value.get(name))
    ]
    return "{" + ",".join(members) + "}"


def go_marshal(computation: dict[str, Any]) -> bytes:
    """``json.Marshal(agent.Computation)``: Go's exact bytes for a dict shaped like :func:`go_unmarshal`'s."""
    return _encode_struct(COMPUTATION, {**_zero(COMPUTATION), **computation}).encode("utf-8", errors="replace")


def canonical_manifest(data: bytes) -> bytes:
    """The bytes cocos-cli hashes for ``checksum --manifest``: Marshal(Unmarshal(data))."""
    return go_marshal(go_unmarshal(data))


def _read_manifest(path: Path) -> bytes:
    try:
        if path.stat().st_size > _MAX_MANIFEST_BYTES:
            raise InvalidInputError(f"manifest {path} is larger than {_MAX_MANIFEST_BYTES} bytes")
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"manifest {path} does not exist") from None
    except IsADirectoryError:
        raise InvalidInputError(f"manifest {path} is a directory") from None


def manifest_checksum(path: Path) -> bytes:
    """cocos-cli ``checksum --manifest FILE`` (cli/checksum.go:57-77); raises :class:`GoJSONError` where Go fails."""
    data = _read_manifest(path)
    try:
        canonical = canonical_manifest(data)
    except GoJSONError as error:
        raise GoJSONError(
            f"cocos-cli cannot read manifest {path}: {error.message}",
            hint="cocos-cli reads only Cocos' Go JSON form (not YAML, the seed form or protojson camelCase)",
        ) from None
    return hashlib.sha3_256(canonical).digest()


# ---------------------------------------------------------------------------------------------------------
# Every resource of a manifest, from local files


@dataclass(frozen=True)
class ResourceChecksum:
    """One manifest resource hashed from a local file."""

    where: str  # JSON path in the manifest: $.algorithm, $.datasets[0]
    name: str  # "algorithm" or the dataset's filename
    path: Path
    digest: Encodings
    expected: Encodings | None  # the manifest's hash (None: none, or all zero)
    encoding: str  # how the manifest writes this hash: array, hex or base64

    @property
    def matches(self) -> bool | None:
        return None if self.expected is None else self.expected.hex == self.digest.hex

    def in_manifest_encoding(self) -> str:
        """The hash as this manifest writes it (a JSON value)."""
        if self.encoding == "array":
            return json.dumps(self.digest.array, separators=(",", ":"))
        return json.dumps(self.digest.hex if self.encoding == "hex" else self.digest.base64)


def _encoding_of(value: Any, form: str) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "hex" if len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value) else "base64"
    return "base64" if form == "protojson" else "array" if form == "go" else "hex"


def _raw_hash(document: Any, index: int | None) -> Any:
    if not isinstance(document, dict):
        return None
    if index is None:
        holder = document.get("algorithm")
    else:
        datasets = document.get("datasets")
        holder = datasets[index] if isinstance(datasets, list) and index < len(datasets) else None
    return holder.get("hash") if isinstance(holder, dict) else None


def resource_checksums(
    manifest: Path,
    algorithm: Path | None,
    datasets: Sequence[tuple[str, Path]],
    *,
    hasher: Callable[[Path], bytes] = path_checksum,
) -> list[ResourceChecksum]:
    """Hash the local files standing for a manifest's resources (the algorithm, datasets by filename) and set
    each beside the manifest's own hash, in the encoding the manifest uses for it."""
    from cococtl.manifest.model import load_manifest, parse_document, read_manifest_text

    parsed = load_manifest(manifest)
    document = parse_document(read_manifest_text(manifest), source=str(manifest))
    by_name = {d.filename: i for i, d in enumerate(parsed.datasets)}
    unknown = [name for name, _ in datasets if name not in by_name]
    if unknown:
        known = ", ".join(sorted(by_name)) or "none"
        raise InvalidInputError(f"the manifest declares no dataset named {unknown[0]!r} (its datasets: {known})")
    wanted: list[tuple[str, str, Path, bytes | None, Any]] = []
    if algorithm is not None:
        wanted.append(("$.algorithm", "algorithm", algorithm, parsed.algorithm.hash, _raw_hash(document, None)))
    for name, path in datasets:
        index = by_name[name]
        spec = parsed.datasets[index]
        wanted.append((f"$.datasets[{index}]", name, path, spec.hash, _raw_hash(document, index)))
    results = []
    for where, name, path, expected, raw in wanted:
        results.append(
            ResourceChecksum(
                where=where,
                name=name,
                path=path,
                digest=Encodings.of(hasher(path)),
                expected=Encodings.of(expected) if expected and any(expected) else None,
                encoding=_encoding_of(raw, parsed.form),
            )
        )
    return results
