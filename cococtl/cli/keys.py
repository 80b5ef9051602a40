"""``cococtl keys …``: raw key files and offline_fs key JSON."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cococtl.cli.output import get_output

app = typer.Typer(no_args_is_help=True, help="Create raw keys and offline_fs key JSON; export keys from it.")

ForceOpt = Annotated[bool, typer.Option("--force", "-f", help="Replace the output if it exists.")]


class KeyType(StrEnum):
    """What ``keys new`` writes: a raw AES-256 key, or a Cocos user key pair (``cococtl.crypto.userkeys``)."""

    raw = "raw"
    rsa = "rsa"
    ecdsa = "ecdsa"
    ed25519 = "ed25519"


@app.command("new")
def new(
    ctx: typer.Context,
    keyfile: Annotated[Path, typer.Argument(metavar="KEYFILE", help="Where to write the (private) key.")],
    key_type: Annotated[
        KeyType,
        typer.Option(
            "--type",
            "-t",
            help="raw: 32 random bytes (AES-256). rsa (4096 bits), ecdsa (P-256), ed25519: a PEM key pair for Cocos"
            " result consumers and providers, like cocos-cli keys.",
        ),
    ] = KeyType.raw,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            "-p",
            metavar="FILE",
            help="Where to write the public key PEM (--type rsa|ecdsa|ed25519). Default: public.pem beside a"
            " KEYFILE named private.pem, else KEYFILE.pub.",
        ),
    ] = None,
    force: ForceOpt = False,
) -> None:
    """Write a new key to KEYFILE (mode 0600): 32 random bytes by default, or with --type a PEM key pair.

    A pair's public key (PEM "PUBLIC KEY") goes beside it; its DER, base64-encoded, is the manifest's
    user_key (printed with --json). Existing files are never replaced without --force.
    """
    out = get_output(ctx)
    if key_type is KeyType.raw:
        if public_key is not None:
            raise typer.BadParameter("only key pairs have a public key: add --type rsa|ecdsa|ed25519")
        from cococtl.crypto.keys import create_key_file

        create_key_file(keyfile, force=force)
        if out.json:
            out.result_json({"key_file": str(keyfile), "bytes": 32})
        else:
            out.status(f"created key {keyfile} (32 bytes, mode 0600)")
        return
    from cococtl.crypto.userkeys import write_user_key_pair

    pair, public_path = write_user_key_pair(str(key_type), keyfile, public_key, force=force)
    if out.json:
        out.result_json(
            {
                "key_file": str(keyfile),
                "public_key_file": str(public_path),
                "type": pair.key_type,
                "user_key": pair.user_key,
            }
        )
    else:
        out.status(
            f"created {pair.key_type} key pair: {keyfile} (private, mode 0600) and {public_path} (public);"
            " the manifest's user_key is the public key's DER in base64 (--json prints it)"
        )


@app.command("generate")
def generate(
    ctx: typer.Context,
    repo: Annotated[str, typer.Option("--repo", help="KBS repository name of the keys.")] = "default",
    count: Annotated[int, typer.Option("--count", min=1, max=100000, help="How many keys.")] = 10,
    output: Annotated[
        str, typer.Option("--output", "-o", metavar="FILE", help="Write here (0600) instead of stdout.")
    ] = "-",
    force: ForceOpt = False,
) -> None:
    """Generate offline_fs key JSON like generate_keys.sh: {"<repo>/key/key_id<N>": "<base64 key>"}."""
    import json

    from cococtl.crypto.keys import generate_offline_fs_keys
    from cococtl.fsutil import write_private_file

    document = json.dumps(generate_offline_fs_keys(repo, count), indent=2) + "\n"
    out = get_output(ctx)
    if output == "-":
        out.result_text(document)
    else:
        write_private_file(Path(output), document.encode(), force=force)
        if out.json:
            out.result_json({"output": output, "keys": count, "repo": repo})
        else:
            out.status(f"wrote {count} keys for repository {repo!r} to {output} (mode 0600)")


@app.command("export")
def export(
    ctx: typer.Context,
    keys_file: Annotated[Path, typer.Argument(metavar="KEYSFILE", help="offline_fs key JSON.")],
    key_id: Annotated[str, typer.Argument(metavar="ID", help="repo/type/tag or kbs:///repo/type/tag.")],
    keyfile: Annotated[str, typer.Argument(metavar="KEYFILE", help="Where to write the raw key (0600).")],
    force: ForceOpt = False,
) -> None:
    """Write the raw 32-byte key stored under ID in KEYSFILE to KEYFILE (generate_keys.sh export)."""
    from cococtl.crypto.keys import key_from_offline_fs, load_offline_fs_json
    from cococtl.fsutil import write_private_file

    key = key_from_offline_fs(load_offline_fs_json(keys_file), key_id, source=str(keys_file))
    write_private_file(Path(keyfile), key, force=force)
    out = get_output(ctx)
    if out.json:
        out.result_json({"keys_file": str(keys_file), "id": key_id, "key_file": keyfile, "bytes": len(key)})
    else:
        out.status(f"exported {key_id} to {keyfile} (32 bytes, mode 0600)")
