"""``cococtl encrypt …`` and ``cococtl decrypt …``: the file commands (images live in cli/image.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cococtl.cli.output import get_output

encrypt_app = typer.Typer(no_args_is_help=True, help="Encrypt files (Go/Cocos AES-256-GCM) and OCI images (ocicrypt).")
decrypt_app = typer.Typer(no_args_is_help=True, help="Decrypt files and OCI images.")

InputArg = Annotated[str, typer.Argument(metavar="INPUT", help="File to read, or - for stdin.")]
OutputOpt = Annotated[str, typer.Option("--output", "-o", metavar="OUTPUT", help="File to write, or - for stdout.")]
ForceOpt = Annotated[bool, typer.Option("--force", "-f", help="Replace OUTPUT if it exists.")]


def _path_or_std(value: str) -> Path | None:
    return None if value == "-" else Path(value)


def _file_size(path: Path | None) -> int | None:
    try:
        return path.stat().st_size if path is not None else None
    except OSError:
        return None


def _report(ctx: typer.Context, verb: str, src: str, dst: str, key_file: Path, result: Any) -> None:
    out = get_output(ctx)
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


@encrypt_app.command("file")
def encrypt_file(
    ctx: typer.Context,
    input_file: InputArg,
    output: OutputOpt,
    key: Annotated[
        Path | None, typer.Option("--key", "-k", metavar="KEYFILE", help="Raw 32-byte AES-256 key file.")
    ] = None,
    new_key: Annotated[
        Path | None,
        typer.Option("--new-key", metavar="KEYFILE", help="Create a fresh random key here (0600) and use it."),
    ] = None,
    force: ForceOpt = False,
) -> None:
    """Encrypt INPUT to OUTPUT as nonce(12) + ciphertext + tag(16), exactly like Go's gcm.Seal (Cocos format)."""
    from cococtl.crypto import files, keys
    from cococtl.errors import InvalidInputError

    if (key is None) == (new_key is None):
        raise InvalidInputError("give exactly one of --key KEYFILE or --new-key KEYFILE")
    out = get_output(ctx)
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
    _report(ctx, "encrypted", input_file, output, key_file, result)


@decrypt_app.command("file")
def decrypt_file(
    ctx: typer.Context,
    input_file: InputArg,
    output: OutputOpt,
    key: Annotated[Path, typer.Option("--key", "-k", metavar="KEYFILE", help="Raw 32-byte AES-256 key file.")],
    force: ForceOpt = False,
) -> None:
    """Decrypt a Go/Cocos AES-256-GCM file. Nothing is written unless the authentication tag verifies."""
    from cococtl.crypto import files, keys

    out = get_output(ctx)
    key_bytes = keys.load_key_file(key)
    src, dst = _path_or_std(input_file), _path_or_std(output)
    with out.progress("decrypting", _file_size(src)) as bar:
        advance = bar.advance if bar else None
        result = files.decrypt_file(key_bytes, src, dst, force=force, digests=out.json, progress=advance)
    _report(ctx, "decrypted", input_file, output, key, result)
