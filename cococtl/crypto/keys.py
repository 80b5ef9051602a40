"""Key material: raw 32-byte key files and offline_fs key JSON (generate_keys.sh compatible)."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import stat
import string
from pathlib import Path

from cococtl.errors import InvalidInputError, NotFoundError, printable
from cococtl.fsutil import write_private_file
from cococtl.kbs.uri import parse_resource_path

KEY_SIZE = 32
_MAX_KEYS_FILE = 16 << 20
_MAX_KEY_FILE = 4096  # a raw key is 32 bytes; anything bigger is described, not read


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


_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


def read_regular_file(path: Path, limit: int, what: str) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``limit`` bytes.

    Opened without blocking and checked with fstat before any read, so a FIFO, ``/dev/zero`` or a socket is
    refused at once (exit 3) instead of blocking or reading without end; a file that grows while we read is cut
    at ``limit`` + 1 bytes and refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise NotFoundError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{what} {path} is a directory") from None
    except PermissionError:
        raise InvalidInputError(f"{what} {path} is not readable (permission denied)") from None
    except OSError as exc:
        raise InvalidInputError(f"{what} {path} cannot be opened: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
        os.close(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise InvalidInputError(f"{what} {path} is {kind}, not a regular file")
        raise InvalidInputError(f"{what} {path} is {info.st_size} bytes: larger than the {limit} allowed")
    with os.fdopen(fd, "rb") as handle:
        os.set_blocking(handle.fileno(), True)
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise InvalidInputError(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InvalidInputError(f"{what} {path} grew past the {limit} bytes allowed while being read")
    return data


def load_key_file(path: Path) -> bytes:
    """Read a raw 32-byte AES-256 key (a regular file), refusing anything else with a helpful message."""
    try:
        data = read_regular_file(path, _MAX_KEY_FILE, "key file")
    except InvalidInputError as error:
        if "larger than" in error.message:
            size = path.stat().st_size
            raise InvalidInputError(f"key file {path}: {describe_bad_key(b'x' * size)}") from None
        raise
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
    raw = read_regular_file(path, _MAX_KEYS_FILE, "keys file")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"keys file {path} is not valid JSON: {printable(exc, 200)}") from None
    except RecursionError:
        raise InvalidInputError(f"keys file {path} is nested too deeply to be an offline_fs keys file") from None
    if not isinstance(document, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in document.items()
    ):
        raise InvalidInputError(f'keys file {path} must be a JSON object of "repo/type/tag": "<base64>" strings')
    return document


def key_from_offline_fs(keys: dict[str, str], resource: str, *, source: str = "keys file") -> bytes:
    """Return the raw 32-byte key stored under ``resource`` (path or kbs:/// URI)."""
    path = parse_resource_path(resource).path
    if path not in keys:
        # Natural order (key_id2 before key_id10); split() alternates text and \d runs, which isdecimal() reads.
        names = sorted(keys, key=lambda name: [int(p) if p.isdecimal() else p for p in re.split(r"(\d+)", name)])
        listing = printable(", ".join(names[:5]) + (", …" if len(names) > 5 else ""), 300)
        raise NotFoundError(f"{source} has no entry {path!r}", hint=f"it has: {listing or 'no entries'}")
    try:
        key = base64.b64decode(keys[path], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{source} entry {path!r} is not valid standard base64") from None
    if len(key) != KEY_SIZE:
        raise InvalidInputError(f"{source} entry {path!r} holds {len(key)} bytes, not a {KEY_SIZE}-byte key")
    return key
