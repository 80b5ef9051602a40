"""``cococtl manifest …``: validate manifests, print the schema, start a new one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cococtl.cli.output import get_output

app = typer.Typer(no_args_is_help=True, help="Validate computation manifests, print their schema, start a new one.")


@app.command("validate")
def validate(
    ctx: typer.Context,
    manifest: Annotated[Path, typer.Argument(metavar="FILE", help="Manifest (JSON or YAML, any accepted form).")],
    algo_type: Annotated[
        str | None, typer.Option("--algo-type", help="Algorithm type if the manifest has none (python, bin, …).")
    ] = None,
) -> None:
    """Check FILE against the schema and Cocos' rules; list every problem with its JSON path (exit 3)."""
    from cococtl.manifest.model import ManifestError, load_manifest

    out = get_output(ctx)
    try:
        parsed = load_manifest(manifest, algo_type_override=algo_type)
    except ManifestError as error:
        if out.json:
            out.result_json({"valid": False, "problems": [{"path": p, "message": m} for p, m in error.problems]})
        else:
            for path, message in error.problems:
                print(f"{manifest}: {path}: {message}", file=sys.stderr)
        raise typer.Exit(3) from None
    resources = [parsed.algorithm, *parsed.datasets]
    if out.json:
        out.result_json(
            {
                "valid": True,
                "form": parsed.form,
                "computation_id": parsed.computation_id,
                "algorithm": {
                    "uri": parsed.algorithm.uri,
                    "type": parsed.algorithm.source_type,
                    "algo_type": parsed.algorithm.algo_type,
                },
                "datasets": [{"uri": d.uri, "type": d.source_type, "filename": d.filename} for d in parsed.datasets],
                "kbs_urls": parsed.kbs_urls(),
                "notes": list(parsed.notes),
            }
        )
    else:
        out.status(
            f"{manifest}: valid ({parsed.form} form, {len(resources)} resources, "
            f"{parsed.algorithm.algo_type or 'no'} algorithm)"
        )
        for note in parsed.notes:
            out.status(f"  {note}")


@app.command("schema")
def schema() -> None:
    """Print the manifest JSON Schema (for the snake_case forms; camelCase keys are converted first)."""
    import json

    from cococtl.manifest.model import schema as load_schema

    print(json.dumps(load_schema(), indent=2))


@app.command("new")
def new(
    ctx: typer.Context,
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout.")] = "-",
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace FILE if it exists.")] = False,
) -> None:
    """Print a commented manifest template (seed form, YAML) to start from."""
    from importlib import resources

    from cococtl.fsutil import atomic_output

    text = resources.files("cococtl.manifest").joinpath("template.yaml").read_text(encoding="utf-8")
    if output == "-":
        get_output(ctx).result_text(text)
        return
    with atomic_output(Path(output), force=force, private=False) as handle:
        handle.write(text.encode())
    get_output(ctx).status(f"wrote {output}")
