"""``cococtl manifest …``: validate manifests, print the schema, start a new one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cococtl.cli.choices import AlgoType
from cococtl.cli.output import get_output

app = typer.Typer(no_args_is_help=True, help="Validate computation manifests, print their schema, start a new one.")


@app.command("validate")
def validate(
    ctx: typer.Context,
    manifest: Annotated[Path, typer.Argument(metavar="FILE", help="Manifest (JSON or YAML, any accepted form).")],
    algo_type: Annotated[
        AlgoType | None, typer.Option("--algo-type", help="Algorithm type, if the manifest has none.")
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


_CVMS = "cvms-test flags (test/cvms/main.go:276-295)"
# What cvms-test sends and the agent keeps (test/cvms/main.go:247-255, agent/cvms/api/grpc/client.go:233-237).
CVMS_ID, CVMS_NAME, CVMS_DESCRIPTION = "1", "sample computation", "sample descrption"


def _split(value: str | None) -> list[str]:
    """Go's strings.Split(value, ","), used by cvms-test only for a non-empty value."""
    return value.split(",") if value else []


def _hex_hash(value: str | None, flag: str) -> bytes:
    """cvms-test's hash flags: hex of 32 bytes, else the zero hash (main.go:103-118, 178-191)."""
    from cococtl.errors import InvalidInputError

    if not value:
        return bytes(32)
    try:
        digest = bytes.fromhex(value)
    except ValueError:
        raise InvalidInputError(f"{flag} {value!r} is not hex (cvms-test: main.go:106-110)") from None
    if len(digest) != 32:
        raise InvalidInputError(f"{flag} must be 32 bytes (64 hex digits), got {len(digest)} (main.go:111-114)")
    return digest


def _go_parse_bool(value: str) -> bool | None:
    """strconv.ParseBool; None where it fails (cvms-test then takes false, main.go:96-98)."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def _type_note(what: str, url: str, given: str, notes: list[str]) -> None:
    """The agent drops the source type (client.go:247-251, 270-274) and infers one from the URL."""
    from cococtl.manifest.infer import infer_source_type, no_type_reason

    inferred = infer_source_type(url)
    if inferred in ("", "file"):
        notes.append(
            f"{what}: Cocos' agent infers no source type from {url!r} ({no_type_reason(url)}) and would fail it;"
            " cvms-test's type flags do not reach the agent (agent/cvms/api/grpc/client.go:247-251)"
        )
    elif given and given != inferred:
        notes.append(
            f"{what}: the agent ignores the source type {given!r} and infers {inferred!r} from {url!r}"
            " (agent/cvms/api/grpc/client.go:247-251, agent/service.go:697-734)"
        )


def cvms_manifest(
    *,
    algo_path: Path | None = None,
    data_paths: str | None = None,
    public_key: bytes | None = None,
    algo_kbs_url: str | None = None,
    algo_source_url: str | None = None,
    algo_source_type: str | None = None,
    algo_kbs_path: str | None = None,
    dataset_kbs_urls: str | None = None,
    dataset_source_urls: str | None = None,
    dataset_source_type: str | None = None,
    dataset_kbs_paths: str | None = None,
    algo_type: str | None = None,
    algo_args: str | None = None,
    algo_hash: str | None = None,
    dataset_hash: str | None = None,
    dataset_decompress: str | None = None,
    computation_id: str = CVMS_ID,
    name: str = CVMS_NAME,
    description: str = CVMS_DESCRIPTION,
) -> tuple[dict[str, Any], list[str]]:
    """The agent.Computation cvms-test builds from its flags (test/cvms/main.go:66-265) as the agent holds it
    (agent/cvms/api/grpc/client.go:232-290), and notes on what the agent will make of it.

    One deliberate addition: upload-mode datasets get ``filename`` = the file's base name. cvms-test leaves it
    empty (main.go:169), but the agent matches an uploaded dataset by filename (agent/service.go:1179-1188) and
    cocos-cli uploads it as path.Base(PATH) (cli/datasets.go:79), so without it the upload is refused.
    """
    from cococtl.compute.checksum import path_checksum
    from cococtl.errors import InvalidInputError

    notes: list[str] = []
    if algo_path is None and not (algo_source_url and algo_kbs_path):
        raise InvalidInputError(
            "either --algo-path or (--algo-source-url and --algo-kbs-path) is required (test/cvms/main.go:307-311)"
        )
    if public_key is None:
        notes.append(
            "no --public-key-path: the manifest has no user keys, and Cocos' agent refuses a computation without"
            " them (agent/auth/auth.go:49-90; cvms-test requires the flag, main.go:313-316)"
        )
    user_key = {"user_key": public_key} if public_key is not None else {}
    datasets: list[dict[str, Any]] = []
    urls, kbs_paths, kbs_urls = _split(dataset_source_urls), _split(dataset_kbs_paths), _split(dataset_kbs_urls)
    decompress: list[bool] = []
    for item in _split(dataset_decompress):
        parsed = _go_parse_bool(item)
        if parsed is None:
            notes.append(f"--dataset-decompress {item!r} is not a Go bool: cvms-test takes false (main.go:96-98)")
        decompress.append(bool(parsed))
    if urls and kbs_paths:  # remote datasets (main.go:120-153)
        if len(urls) != len(kbs_paths):
            raise InvalidInputError(
                "--dataset-source-urls and --dataset-kbs-paths must have the same count (test/cvms/main.go:122-125)"
            )
        digest = _hex_hash(dataset_hash, "--dataset-hash")
        if not dataset_hash:
            notes.append("no --dataset-hash: the datasets get the zero hash, which never matches (main.go:115-118)")
        for index, (url, kbs_path) in enumerate(zip(urls, kbs_paths, strict=True)):
            _type_note(f"dataset {index}", url, dataset_source_type or "", notes)
            dataset: dict[str, Any] = {
                "hash": digest,
                **user_key,
                "filename": f"dataset_{index}.csv",
                "source": {"url": url, "kbs_resource_path": kbs_path, "encrypted": kbs_path != ""},
                "decompress": decompress[index] if index < len(decompress) else False,
            }
            if index < len(kbs_urls) and kbs_urls[index]:
                dataset["kbs"] = {"url": kbs_urls[index], "enabled": True}
            else:
                notes.append(
                    f"dataset {index}: no KBS URL, so the agent waits for an upload instead of downloading {url}"
                    " (agent/service.go:1143-1149)"
                )
            datasets.append(dataset)
        if data_paths:
            notes.append("--data-paths is ignored with remote datasets (test/cvms/main.go:120-154)")
    else:  # upload mode (main.go:154-171)
        if urls or kbs_paths:
            notes.append(
                "remote datasets need both --dataset-source-urls and --dataset-kbs-paths (test/cvms/main.go:120):"
                " using --data-paths instead"
            )
        if dataset_hash or decompress:
            notes.append("--dataset-hash and --dataset-decompress apply only to remote datasets (main.go:103, 150)")
        for item in _split(data_paths):
            path = Path(item)
            if not path.exists():
                raise InvalidInputError(f"data file does not exist: {item} (test/cvms/main.go:157-160)")
            datasets.append({"hash": path_checksum(path), **user_key, "filename": path.name})
    args = _split(algo_args)
    algorithm: dict[str, Any]
    if algo_source_url and algo_kbs_path:  # remote algorithm (main.go:175-222)
        _type_note("algorithm", algo_source_url, algo_source_type or "", notes)
        if not algo_hash:
            notes.append("no --algo-hash: the algorithm gets the zero hash, which never matches (main.go:189-191)")
        algorithm = {
            "hash": _hex_hash(algo_hash, "--algo-hash"),
            **user_key,
            "source": {"url": algo_source_url, "kbs_resource_path": algo_kbs_path, "encrypted": True},
            "algo_type": algo_type or "",
            "algo_args": args,
        }
        if algo_kbs_url:
            algorithm["kbs"] = {"url": algo_kbs_url, "enabled": True}
        else:
            notes.append(
                "algorithm: no --algo-kbs-url, so the agent waits for an upload instead of downloading"
                f" {algo_source_url} (agent/service.go:443-454)"
            )
    else:  # upload mode (main.go:223-244)
        assert algo_path is not None
        if not algo_path.exists():
            raise InvalidInputError(f"algorithm {algo_path} does not exist (test/cvms/main.go:225-229)")
        if algo_hash:
            notes.append("--algo-hash is ignored for an uploaded algorithm: its hash is computed (main.go:225)")
        algorithm = {"hash": path_checksum(algo_path), **user_key, "algo_type": algo_type or "", "algo_args": args}
    computation: dict[str, Any] = {
        "id": computation_id,
        "name": name,
        "description": description,
        "datasets": datasets,
        "algorithm": algorithm,
        "result_consumers": [user_key] if public_key is not None else [],
    }
    return computation, notes


def _opt(help_text: str, metavar: str = "VALUE", hidden: bool = False) -> Any:
    return typer.Option(metavar=metavar, help=help_text, rich_help_panel=_CVMS, hidden=hidden)


@app.command("new")
def new(
    ctx: typer.Context,
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout.")] = "-",
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace FILE if it exists.")] = False,
    algo_path: Annotated[Path | None, _opt("Upload mode: the local algorithm (its hash is computed).", "FILE")] = None,
    data_paths: Annotated[str | None, _opt("Upload mode: local datasets, comma-separated.", "PATHS")] = None,
    public_key_path: Annotated[
        Path | None, _opt("PEM public key for every user_key (cococtl keys new --type …).", "FILE")
    ] = None,
    algo_kbs_url: Annotated[str | None, _opt("The algorithm's KBS URL (kbs.enabled: true).", "URL")] = None,
    algo_source_url: Annotated[
        str | None, _opt("The algorithm's source URL (docker://, s3://, https://…).", "URL")
    ] = None,
    algo_source_type: Annotated[str | None, _opt("Accepted for cvms-test; the agent infers the type.", "TYPE")] = None,
    algo_kbs_path: Annotated[str | None, _opt("The algorithm's KBS resource path (default/key/…).", "PATH")] = None,
    dataset_kbs_urls: Annotated[str | None, _opt("The datasets' KBS URLs, comma-separated.", "URLS")] = None,
    dataset_source_urls: Annotated[str | None, _opt("The datasets' source URLs, comma-separated.", "URLS")] = None,
    dataset_source_type: Annotated[str | None, _opt("Accepted for cvms-test; the agent infers types.", "TYPE")] = None,
    dataset_kbs_paths: Annotated[
        str | None, _opt("The datasets' KBS resource paths, comma-separated.", "PATHS")
    ] = None,
    algo_type: Annotated[AlgoType | None, _opt("python, bin, wasm or docker.", "TYPE")] = None,
    algo_args: Annotated[str | None, _opt("The algorithm's arguments, comma-separated.", "ARGS")] = None,
    algo_hash: Annotated[str | None, _opt("The algorithm's SHA3-256 (hex; default: zero).", "HEX")] = None,
    dataset_hash: Annotated[str | None, _opt("One SHA3-256 (hex) for every remote dataset.", "HEX")] = None,
    dataset_decompress: Annotated[str | None, _opt("Per dataset: true/false, comma-separated.", "BOOLS")] = None,
    dataset_type: Annotated[str | None, _opt("Deprecated cvms-test flag (unused).", "TYPE", hidden=True)] = None,
    attested_tls_bool: Annotated[
        str | None, _opt("cvms-test agent TLS flag (not in the manifest).", hidden=True)
    ] = None,
    client_ca_file: Annotated[str | None, _opt("cvms-test agent TLS flag (not in the manifest).", hidden=True)] = None,
    computation_id: Annotated[str, _opt("The computation's id.", "ID")] = CVMS_ID,
    name: Annotated[str, _opt("The computation's name.", "NAME")] = CVMS_NAME,
    description: Annotated[str, _opt("The computation's description.", "TEXT")] = CVMS_DESCRIPTION,
) -> None:
    """Start a manifest: a commented template (seed form, YAML), or with cvms-test's flags the manifest Cocos builds.

    With any of Cocos' cvms-test flags (--algo-source-url, --algo-kbs-path, --algo-path, --data-paths, …, spelled
    with two dashes) the output is the agent.Computation cvms-test would send, in Cocos' Go JSON form, as Go's
    json.Marshal writes it. Notes on what the agent will do with it go to stderr.
    """
    from cococtl.fsutil import atomic_output

    out = get_output(ctx)
    flags = {
        "algo_path": algo_path,
        "data_paths": data_paths,
        "algo_kbs_url": algo_kbs_url,
        "algo_source_url": algo_source_url,
        "algo_source_type": algo_source_type,
        "algo_kbs_path": algo_kbs_path,
        "dataset_kbs_urls": dataset_kbs_urls,
        "dataset_source_urls": dataset_source_urls,
        "dataset_source_type": dataset_source_type or dataset_type,
        "dataset_kbs_paths": dataset_kbs_paths,
        "algo_type": str(algo_type) if algo_type is not None else None,
        "algo_args": algo_args,
        "algo_hash": algo_hash,
        "dataset_hash": dataset_hash,
        "dataset_decompress": dataset_decompress,
    }
    if any(value is not None for value in flags.values()) or public_key_path is not None:
        from cococtl.compute.checksum import go_marshal
        from cococtl.crypto.userkeys import public_key_der

        public_key = public_key_der(public_key_path) if public_key_path is not None else None
        computation, notes = cvms_manifest(
            **flags,  # type: ignore[arg-type]
            public_key=public_key,
            computation_id=computation_id,
            name=name,
            description=description,
        )
        if attested_tls_bool is not None or client_ca_file is not None:
            notes.append("--attested-tls-bool and --client-ca-file configure the agent's TLS, not the manifest")
        for note in notes:
            out.warning(note)
        data = go_marshal(computation) + b"\n"
    else:
        from importlib import resources

        data = resources.files("cococtl.manifest").joinpath("template.yaml").read_bytes()
    if output == "-":
        out.result_text(data.decode())
        return
    with atomic_output(Path(output), force=force, private=False) as handle:
        handle.write(data)
    out.status(f"wrote {output}")
