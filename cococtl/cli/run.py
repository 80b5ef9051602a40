"""``cococtl run MANIFEST``: the attested computation, end to end."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cococtl.cli.choices import AlgoType, Tee, WasmRuntime
from cococtl.cli.output import get_output


def _upload(item: str) -> tuple[str, Path]:
    from cococtl.errors import InvalidInputError, NotFoundError

    name, sep, file = item.partition("=")
    if not sep or not name or not file:
        raise InvalidInputError(f"--dataset {item!r}: expected NAME=FILE (NAME is the manifest's filename)")
    path = Path(file)
    if not path.is_file():
        raise NotFoundError(f"--dataset {name}: {file} is not a file")
    return name, path


def run(
    ctx: typer.Context,
    manifest: Annotated[Path, typer.Argument(metavar="MANIFEST", help="Computation manifest (JSON or YAML).")],
    results: Annotated[
        Path, typer.Option("--results", "-r", metavar="DIR", help="Where results/ and results.zip go.")
    ] = Path("results"),
    keys_file: Annotated[
        Path | None,
        typer.Option(
            "--keys-file",
            metavar="FILE",
            envvar="COCOCTL_KEYS_FILE",
            help="offline_fs key JSON to take keys from instead of a KBS (no attestation).",
        ),
    ] = None,
    kbs_url: Annotated[
        str | None,
        typer.Option(
            "--kbs-url", metavar="URL", envvar="COCOCTL_KBS_URL", help="KBS for resources whose manifest names none."
        ),
    ] = None,
    tee: Annotated[Tee, typer.Option("--tee", help="Where evidence comes from (auto detects the TEE).")] = Tee.auto,
    attester_cmd: Annotated[
        str | None,
        typer.Option(
            "--attester-cmd", metavar="CMD", help="Program printing evidence JSON; {report_data_hex} is replaced."
        ),
    ] = None,
    algo_type: Annotated[
        AlgoType | None,
        typer.Option("--algo-type", rich_help_panel="Algorithm", help="Algorithm type, if the manifest has none."),
    ] = None,
    cert_file: Annotated[
        Path | None,
        typer.Option(
            "--cert-file",
            metavar="PEM",
            envvar="COCOCTL_CERT_FILE",
            help="Extra CA certificate trusted for HTTPS downloads and the KBS.",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", metavar="SECONDS", rich_help_panel="Algorithm", help="Stop the algorithm after this long."
        ),
    ] = None,
    network_timeout: Annotated[
        float, typer.Option("--network-timeout", metavar="SECONDS", help="Per-request network timeout.")
    ] = 30.0,
    retries: Annotated[int, typer.Option("--retries", min=0, max=20, help="Retries per download.")] = 3,
    max_download_size: Annotated[
        str,
        typer.Option(
            "--max-download-size",
            metavar="SIZE",
            envvar="COCOCTL_MAX_DOWNLOAD_SIZE",
            help="Refuse a download larger than this (e.g. 500MiB, 64GiB).",
        ),
    ] = "64GiB",
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64, help="Parallel downloads.")] = 4,
    python: Annotated[
        str | None, typer.Option("--python", metavar="INTERPRETER", help="Python for python algorithms.")
    ] = None,
    reuse_venv: Annotated[
        bool, typer.Option("--reuse-venv", help="Reuse a cached venv keyed by the requirements' hash.")
    ] = False,
    keep_workdir: Annotated[
        bool, typer.Option("--keep-workdir", help="Keep the work directory (it holds plaintext!) to debug.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace files in --results.")] = False,
    algorithm_file: Annotated[
        Path | None,
        typer.Option("--algorithm", metavar="FILE", help="Upload mode: the algorithm the manifest does not download."),
    ] = None,
    dataset_files: Annotated[
        list[str] | None,
        typer.Option("--dataset", metavar="NAME=FILE", help="Upload mode: a dataset by its filename (repeatable)."),
    ] = None,
    wasm_runtime: Annotated[
        WasmRuntime,
        typer.Option(
            "--wasm-runtime", rich_help_panel="Algorithm", help="wasm algorithms: wasmtime (built in) or wasmedge."
        ),
    ] = WasmRuntime.wasmtime,
    wasm_datasets: Annotated[
        bool,
        typer.Option(
            "--wasm-datasets", help="wasm: also preopen datasets/ and results/ by name (Cocos gives only . = results)."
        ),
    ] = False,
    allow_unverified: Annotated[
        bool,
        typer.Option("--allow-unverified", help="Run resources the manifest gives no hash (development only!)."),
    ] = False,
    registry_tls_verify: Annotated[
        bool, typer.Option("--registry-tls-verify/--no-registry-tls-verify", help="Verify TLS of docker:// images.")
    ] = True,
) -> None:
    """Download, decrypt, verify and execute a computation manifest, then collect its results."""
    from cococtl.compute.keysource import KbsKeySource, KeySource, OfflineKeySource
    from cococtl.compute.runner import RunOptions, run_computation
    from cococtl.compute.wiring import make_peers
    from cococtl.evidence.detect import choose_attester
    from cococtl.manifest.model import load_manifest
    from cococtl.oci.skopeo import RegistryOptions
    from cococtl.sources.base import FetchSettings

    out = get_output(ctx)
    from cococtl.manifest.model import Uploads
    from cococtl.sources.base import parse_size

    max_bytes = parse_size(max_download_size)

    uploads = Uploads(algorithm_file, tuple(_upload(item) for item in dataset_files or ()))
    parsed = load_manifest(manifest, algo_type_override=algo_type, default_kbs_url=kbs_url, uploads=uploads)
    for note in parsed.notes:
        if "ignored" in note:
            out.warning(note)  # Cocos ignores unknown keys too; a typo would go unnoticed otherwise
    keys: KeySource
    if keys_file is not None:
        keys = OfflineKeySource(keys_file)
    else:
        needs_kbs = any(r.encrypted for r in (parsed.algorithm, *parsed.datasets))
        attester = choose_attester(tee, attester_cmd, warn=needs_kbs)
        keys = KbsKeySource(attester, cert_file=str(cert_file) if cert_file else None, timeout=network_timeout)

    def peers_with(progress: Any) -> Any:
        settings = FetchSettings(
            timeout=network_timeout,
            retries=retries,
            cert_file=str(cert_file) if cert_file else None,
            progress=progress,
            max_bytes=max_bytes,
        )
        # skopeo gets the same no-progress bound as every other download (it has no per-request deadline)
        registry = RegistryOptions(tls_verify=registry_tls_verify, stall_timeout=network_timeout)
        return make_peers(settings, keys, registry)

    options = RunOptions(
        results_dir=results,
        force=force,
        keep_workdir=keep_workdir,
        timeout=timeout,
        python=python,
        reuse_venv=reuse_venv,
        concurrency=concurrency,
        allow_unverified=allow_unverified,
        wasm_runtime=wasm_runtime,
        wasm_datasets=wasm_datasets,
    )
    from cococtl.compute.runner import check_hashes, check_outputs

    check_outputs(options)
    from cococtl.compute.workdir import remove_stale_workdirs

    for stale in remove_stale_workdirs():
        out.status(f"removed {stale}: the work directory (with plaintext) of a run that was killed")
    unverified = check_hashes(parsed, options)  # before anything is said or done
    if unverified:
        out.warning(
            f"--allow-unverified: {len(unverified)} resource(s) run WITHOUT an integrity check "
            f"({', '.join(unverified[:3])}); the report records verified: false"
        )

    def sink(_stream: str, chunk: bytes) -> None:
        if not out.quiet:
            sys.stderr.write(chunk.decode("utf-8", errors="replace"))
            sys.stderr.flush()

    def on_event(state: Any, status: Any, details: str) -> None:
        out.detail(f"state: {state.value} ({status.value}){': ' + details if details else ''}")

    out.status(
        f"running computation {parsed.computation_id!r} ({parsed.algorithm.algo_type} algorithm, "
        f"{len(parsed.datasets)} dataset(s))"
    )
    with out.progress("downloading", None) as bar:

        def on_state(state: Any, status: Any, details: str) -> None:
            if bar is not None and state.value in ("Running", "Failed", "Complete"):
                bar.stop()  # before the algorithm writes to stderr
            on_event(state, status, details)

        report = run_computation(parsed, peers_with(bar), options, sink=sink, on_event=on_state)
    if out.json:
        out.result_json(report.to_json())
    if report.error is not None:
        raise report.error
    if not out.json:
        for resource in report.resources:
            out.status(
                f"  {resource.kind}: {resource.uri} ({resource.bytes} bytes, {resource.seconds:.2f} s, "
                f"sha3-256 {resource.sha3_256})"
            )
        out.status(
            f"algorithm exited 0 after {report.algorithm['seconds']:.2f} s; "
            f"states: {' -> '.join(report.states.sequence())}"
        )
        out.result_text(str(report.results["directory"]))
        for name in report.results["files"]:
            out.status(f"  result: {name}")
