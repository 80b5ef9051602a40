"""The bodies of ``cococtl encrypt file`` and ``cococtl decrypt file``, as plain functions of the parsed values.

The Typer commands (``cococtl.cli.crypt``) and the fast path that skips Typer (``cococtl.cli.fast``) both call
these, so the two behave the same once the command line is parsed. No Typer here, and the library is imported
when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cococtl.cli.output import Output


def _path_or_std(value: str) -> Path | None:
    return None if value == "-" else Path(value)


def _file_size(path: Path | None) -> int | None:
    try:
        return path.stat().st_size if path is not None else None
    except OSError:
        return None


def _report(out: Output, verb: str, src: str, dst: str, key_file: Path, result: Any) -> None:
    if out.json:
        out.result_json(
            {
                "input": src,
                "output": dst,
                "bytes": result.bytes,
                "sha256": result.sha256,
                "sha3_256": result.sha3_256,
                "key_file": str(key_file),
            }
        )
    elif dst != "-":
        out.status(f"{verb} {src} -> {dst} ({result.bytes} bytes of plaintext)")


def encrypt_file(
    out: Output, input_file: str, output: str, key: Path | None, new_key: Path | None, force: bool
) -> None:
    """``cococtl encrypt file INPUT -o OUTPUT (--key K | --new-key K) [--force]``."""
    from cococtl.crypto import files, keys
    from cococtl.errors import InvalidInputError

    if (key is None) == (new_key is None):
        raise InvalidInputError("give exactly one of --key KEYFILE or --new-key KEYFILE")
    src, dst = _path_or_std(input_file), _path_or_std(output)
    if dst is not None:
        from cococtl.fsutil import check_writable_destination

        check_writable_destination(dst, force=force)
    key_file = key if key is not None else new_key
    assert key_file is not None
    key_bytes = keys.load_key_file(key_file) if key is not None else keys.create_key_file(key_file, force=force)
    if new_key is not None:
        out.status(f"created key {new_key} (0600)")
    with out.progress("encrypting", _file_size(src)) as bar:
        advance = bar.advance if bar else None
        result = files.encrypt_file(key_bytes, src, dst, force=force, digests=out.json, progress=advance)
    _report(out, "encrypted", input_file, output, key_file, result)


def decrypt_file(out: Output, input_file: str, output: str, key: Path, force: bool) -> None:
    """``cococtl decrypt file INPUT -o OUTPUT --key K [--force]``."""
    from cococtl.crypto import files, keys

    key_bytes = keys.load_key_file(key)
    src, dst = _path_or_std(input_file), _path_or_std(output)
    with out.progress("decrypting", _file_size(src)) as bar:
        advance = bar.advance if bar else None
        result = files.decrypt_file(key_bytes, src, dst, force=force, digests=out.json, progress=advance)
    _report(out, "decrypted", input_file, output, key, result)
