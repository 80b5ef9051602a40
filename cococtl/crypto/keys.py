"""Key material: raw 32-byte key files and offline_fs key JSON (generate_keys.sh compatible)."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import string
from pathlib import Path

from cococtl.errors import InvalidInputError, NotFoundError
from cococtl.fsutil import write_private_file
from cococtl.kbs.uri import parse_resource_path

KEY_SIZE = 32
_MAX_KEYS_FILE = 16 << 20


def new_key() -> bytes:
    return os.urandom(KEY_SIZE)


def describe_bad_key(data: bytes) -> str:
    """Explain why ``data`` is not a raw 32-byte key, recognising the usual mistakes."""
    stripped = data.strip()
    if len(data) == 0:
        return "the key file is empty"
    try:
        text = stripped.decode("ascii")
    except UnicodeDecodeError:
        text = ""
    if text and all(c in string.hexdigits for c in text) and len(text) == 2 * KEY_SIZE:
        return "the key file holds 64 hex characters, not 32 raw bytes; convert it with: xxd -r -p"
    if text:
        try:
            decoded = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) == KEY_SIZE:
            return "the key file holds a base64-encoded key, not 32 raw bytes; decode it with: base64 -d"
    if len(data) == KEY_SIZE + 1 and data.endswith(b"\n"):
        return "the key file has 33 bytes: 32 followed by a newline; keys are raw bytes with nothing added"
    return f"invalid key size: expected {KEY_SIZE} raw bytes, got {len(data)}"


def load_key_file(path: Path) -> bytes:
    """Read a raw 32-byte AES-256 key, refusing anything else with a helpful message."""
    try:
        size = path.stat().st_size
        if size > 4096:
            raise InvalidInputError(f"key file {path}: {describe_bad_key(b'x' * size)}")
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"key file {path} does not exist") from None
    except IsADirectoryError:
        raise InvalidInputError(f"key file {path} is a directory") from None
    except PermissionError:
        raise InvalidInputError(f"key file {path} is not readable (permission denied)") from None
    if len(data) != KEY_SIZE:
        raise InvalidInputError(f"key file {path}: {describe_bad_key(data)}")
    return data


def create_key_file(path: Path, *, force: bool) -> bytes:
    """Create a fresh random key at ``path`` (mode 0600) and return it."""
    key = new_key()
    write_private_file(path, key, force=force)
    return key


def generate_offline_fs_keys(repository: str = "default", count: int = 10) -> dict[str, str]:
    """``generate_keys.sh generate``: ``{"<repo>/key/key_id<N>": base64(32 random bytes)}``."""
    if count < 1:
        raise InvalidInputError("--count must be at least 1")
    parse_resource_path(f"{repository}/key/key_id1")
    return {f"{repository}/key/key_id{n}": base64.b64encode(new_key()).decode("ascii") for n in range(1, count + 1)}


def load_offline_fs_json(path: Path) -> dict[str, str]:
    """Read an offline_fs keys/resources JSON (``{"repo/type/tag": "<base64>"}``)."""
    try:
        if path.stat().st_size > _MAX_KEYS_FILE:
            raise InvalidInputError(f"{path} is too large for an offline_fs keys file")
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise NotFoundError(f"keys file {path} does not exist") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"keys file {path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in document.items()
    ):
        raise InvalidInputError(f'keys file {path} must be a JSON object of "repo/type/tag": "<base64>" strings')
    return document


def key_from_offline_fs(keys: dict[str, str], resource: str, *, source: str = "keys file") -> bytes:
    """Return the raw 32-byte key stored under ``resource`` (path or kbs:/// URI)."""
    path = parse_resource_path(resource).path
    if path not in keys:
        names = sorted(keys, key=lambda name: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)])
        listing = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        raise NotFoundError(f"{source} has no entry {path!r}", hint=f"it has: {listing or 'no entries'}")
    try:
        key = base64.b64decode(keys[path], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{source} entry {path!r} is not valid standard base64") from None
    if len(key) != KEY_SIZE:
        raise InvalidInputError(f"{source} entry {path!r} holds {len(key)} bytes, not a {KEY_SIZE}-byte key")
    return key
