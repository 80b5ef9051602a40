"""``cococtl demo``: run the whole attested computation locally and show the result."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cococtl.cli.output import get_output


def demo(
    ctx: typer.Context,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep every file and print the steps to repeat by hand.")
    ] = False,
    directory: Annotated[
        Path | None, typer.Option("--dir", metavar="DIR", help="Work here (an empty or new directory).")
    ] = None,
) -> None:
    """Local KBS double + HTTP storage + encrypted algorithm and dataset + an attested run, in seconds."""
    import shutil
    import tempfile

    from cococtl.demo.scenario import manual_steps, run_demo
    from cococtl.errors import InvalidInputError

    out = get_output(ctx)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        if any(directory.iterdir()):
            raise InvalidInputError(f"--dir {directory} is not empty")
        workdir = directory
    else:
        workdir = Path(tempfile.mkdtemp(prefix="cococtl-demo-"))

    def algorithm_output(_stream: str, chunk: bytes) -> None:
        if not out.quiet:
            sys.stderr.write("   | " + chunk.decode("utf-8", errors="replace").replace("\n", "\n   | ").rstrip(" |"))
            sys.stderr.flush()

    try:
        result = run_demo(workdir, say=out.status, sink=algorithm_output)
        if out.json:
            out.result_json(
                {**result.report.to_json(), "demo_dir": str(workdir) if keep else None, "summary": result.summary}
            )
        if result.report.error is not None:
            raise result.report.error
        out.status(f"8. done in {result.seconds:.1f} s: states {' -> '.join(result.report.states.sequence())}")
        if not out.json:
            out.result_text(result.summary)
        if keep:
            out.status(f"everything is in {workdir}: results/, manifest.json, keys/, www/, kbs-storage/")
            out.status(manual_steps(workdir))
        else:
            out.status("(run with --keep to keep the files and see the commands to repeat each step)")
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
