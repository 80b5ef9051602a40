"""``cococtl encrypt …`` and ``cococtl decrypt …``: the file commands (images live in cli/image.py).

The options are declared here; the bodies are in ``cococtl.cli.file_crypt``, which the fast path
(``cococtl.cli.fast``) calls too, without Typer. An option added here must be known there as well (or the fast
path falls back to Typer for it: it only takes command lines it parses completely).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cococtl.cli import file_crypt
from cococtl.cli.output import get_output

encrypt_app = typer.Typer(no_args_is_help=True, help="Encrypt files (Go/Cocos AES-256-GCM) and OCI images (ocicrypt).")
decrypt_app = typer.Typer(no_args_is_help=True, help="Decrypt files and OCI images.")

InputArg = Annotated[str, typer.Argument(metavar="INPUT", help="File to read, or - for stdin.")]
OutputOpt = Annotated[str, typer.Option("--output", "-o", metavar="OUTPUT", help="File to write, or - for stdout.")]
ForceOpt = Annotated[bool, typer.Option("--force", "-f", help="Replace OUTPUT if it exists.")]


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
    file_crypt.encrypt_file(get_output(ctx), input_file, output, key, new_key, force)


@decrypt_app.command("file")
def decrypt_file(
    ctx: typer.Context,
    input_file: InputArg,
    output: OutputOpt,
    key: Annotated[Path, typer.Option("--key", "-k", metavar="KEYFILE", help="Raw 32-byte AES-256 key file.")],
    force: ForceOpt = False,
) -> None:
    """Decrypt a Go/Cocos AES-256-GCM file. Nothing is written unless the authentication tag verifies."""
    file_crypt.decrypt_file(get_output(ctx), input_file, output, key, force)
