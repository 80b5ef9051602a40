"""``cococtl checksum PATH``: SHA3-256 the way cocos-cli computes it (cli/checksum.go), plus manifest resources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cococtl.cli.output import Output, get_output


def _dataset_item(item: str) -> tuple[str, Path]:
    from cococtl.errors import InvalidInputError

    name, sep, file = item.partition("=")
    if not sep or not name or not file:
        raise InvalidInputError(f"--dataset {item!r}: expected NAME=PATH (NAME is the manifest's filename)")
    return name, Path(file)


def checksum(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="A file, a directory (zipped like Cocos), or with -m a manifest.")
    ],
    manifest: Annotated[
        bool,
        typer.Option(
            "--manifest", "-m", help="PATH is a manifest: print its checksum as cocos-cli checksum --manifest does."
        ),
    ] = False,
    to_base64: Annotated[bool, typer.Option("--base64", "-b", help="Print base64 instead of hex.")] = False,
    algorithm: Annotated[
        Path | None,
        typer.Option(
            "--algorithm",
            metavar="FILE",
            help="With -m: hash this local file as the manifest's algorithm and compare it with the manifest.",
        ),
    ] = None,
    dataset: Annotated[
        list[str] | None,
        typer.Option(
            "--dataset",
            metavar="NAME=PATH",
            help="With -m: hash PATH (file or directory) as the manifest's dataset NAME (repeatable).",
        ),
    ] = None,
) -> None:
    """Print the SHA3-256 of PATH like cocos-cli checksum: a file's bytes, or a directory zipped like Cocos.

    With --manifest (-m), PATH is a manifest and the result is its checksum as cocos-cli computes it (the Go
    JSON form re-encoded by Go; YAML and the seed form are refused, as cocos-cli refuses them). With -m plus
    --algorithm FILE / --dataset NAME=PATH, each local file is hashed, compared with the manifest's hash and
    printed in the manifest's encoding (32 integers, hex or base64): exit 7 if one differs.
    """
    from cococtl.compute import checksum as lib

    out = get_output(ctx)
    uploads = [_dataset_item(item) for item in dataset or []]
    if not manifest and (algorithm is not None or uploads):
        raise typer.BadParameter("--algorithm and --dataset need --manifest (-m): PATH is then the manifest")
    if manifest and (algorithm is not None or uploads):
        _resources(out, path, algorithm, uploads, to_base64)
        return
    if manifest:
        digest = lib.manifest_checksum(path)
        kind = "manifest"
    else:
        digest = lib.path_checksum(path)
        kind = "directory" if path.is_dir() else "file"
    encodings = lib.Encodings.of(digest)
    if out.json:
        out.result_json({"path": str(path), "kind": kind, "sha3_256": encodings.as_json()})
        return
    out.result_text(encodings.base64 if to_base64 else encodings.hex)


def _resources(out: Output, manifest: Path, algorithm: Path | None, uploads: list[tuple[str, Path]], b64: bool) -> None:
    from cococtl.compute import checksum as lib
    from cococtl.errors import CococtlError

    results = lib.resource_checksums(manifest, algorithm, uploads)
    try:
        manifest_sha3: str | None = lib.manifest_checksum(manifest).hex()
    except CococtlError:
        manifest_sha3 = None  # not Cocos' Go JSON form: cocos-cli has no checksum for it
    mismatched = [r for r in results if r.matches is False]
    if out.json:
        out.result_json(
            {
                "manifest": str(manifest),
                "manifest_sha3_256": manifest_sha3,
                "resources": [
                    {
                        "where": r.where,
                        "name": r.name,
                        "path": str(r.path),
                        "sha3_256": r.digest.as_json(),
                        "manifest_hash": r.expected.hex if r.expected else None,
                        "matches": r.matches,
                        "encoding": r.encoding,
                        "in_manifest_encoding": r.in_manifest_encoding(),
                    }
                    for r in results
                ],
            }
        )
    else:
        status = {True: "matches the manifest", False: "DIFFERS from the manifest", None: "manifest has no hash"}
        lines = []
        for r in results:
            shown = r.digest.base64 if b64 else r.digest.hex
            lines.append(f"{r.where} {r.name} {r.path}: {shown} ({status[r.matches]})")
            lines.append(f'  "hash": {r.in_manifest_encoding()}')
        out.result_text("\n".join(lines))
    if mismatched:
        from cococtl.errors import IntegrityError

        names = ", ".join(r.name for r in mismatched)
        raise IntegrityError(
            f"{len(mismatched)} resource(s) differ from the manifest's hash: {names}",
            hint="Cocos refuses a resource whose SHA3-256 differs (agent/service.go:472-478, 611-617)",
        )
