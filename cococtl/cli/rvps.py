"""``cococtl rvps …``: Trustee's Reference Value Provider Service (``reference.ReferenceValueProviderService``, gRPC).

The RVPS itself (default port 50003) and the gRPC Attestation Service with its built-in RVPS both serve it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cococtl.cli.choices import ProvenanceType
from cococtl.cli.output import get_output

app = typer.Typer(no_args_is_help=True, help="Register and query reference values in a Trustee RVPS (gRPC).")

UrlOpt = Annotated[
    str,
    typer.Option(
        "--url",
        metavar="URL",
        envvar="COCOCTL_RVPS_URL",
        rich_help_panel="RVPS",
        help="RVPS (or gRPC AS) address: grpc://HOST:PORT or grpcs://HOST:PORT.",
    ),
]
CertOpt = Annotated[
    Path | None, typer.Option("--cert-file", metavar="PEM", envvar="COCOCTL_CERT_FILE", help="Extra trusted CA.")
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", metavar="SECONDS", rich_help_panel="RVPS", help="Bound on each request.")
]
DEFAULT_URL = "grpc://127.0.0.1:50003"


def _client(url: str, cert_file: Path | None, timeout: float) -> Any:
    from cococtl.kbs.as_grpc import GrpcReferenceValueProviderClient

    return GrpcReferenceValueProviderClient(url, cert_file=str(cert_file) if cert_file else None, timeout=timeout)


def _read(path: Path, what: str) -> bytes:
    from cococtl.errors import InvalidInputError, NotFoundError

    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{what} {path} is a directory") from None


@app.command("message")
def message(
    ctx: typer.Context,
    values: Annotated[
        Path,
        typer.Option(
            "--values",
            metavar="FILE",
            help='Provenance: for sample, JSON {"<name>": [values…]}; for swid the XML, for corim the CBOR. - = stdin.',
        ),
    ],
    provenance_type: Annotated[
        ProvenanceType, typer.Option("--type", help="Provenance type: sample (JSON), swid (XML) or corim (CBOR).")
    ] = ProvenanceType.sample,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", metavar="FILE", help="Write the message here (default stdout).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output.")] = False,
) -> None:
    """Build the RVPS message {version: "0.1.0", type, payload: base64(provenance)} that `rvps register` sends."""
    from cococtl.kbs.as_grpc import build_message

    document = build_message(provenance_type, _read(values, "reference values file"))
    text = json.dumps(document, indent=2) + "\n"
    if output is None or str(output) == "-":
        get_output(ctx).result_text(text)
        return
    from cococtl.fsutil import atomic_output

    with atomic_output(output, force=force, private=False) as handle:
        handle.write(text.encode())
    get_output(ctx).status(f"wrote {output}")


@app.command("register")
def register(
    ctx: typer.Context,
    message_file: Annotated[
        Path, typer.Option("--message", metavar="FILE", help="RVPS message JSON (see `rvps message`); - = stdin.")
    ],
    url: UrlOpt = DEFAULT_URL,
    cert_file: CertOpt = None,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """Send a message to RegisterReferenceValue: the RVPS verifies its provenance and stores the values."""
    from cococtl.errors import InvalidInputError

    try:
        text = _read(message_file, "message file").decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"message file {message_file} is not UTF-8 text") from None
    document = _client(url, cert_file, timeout).register(text)
    out = get_output(ctx)
    if out.json:
        out.result_json({"registered": True, "type": document["type"], "version": document.get("version", "0.1.0")})
    else:
        out.status(f"registered {document['type']} reference values")


@app.command("query")
def query(
    ctx: typer.Context,
    reference_value_id: Annotated[
        list[str], typer.Option("--id", metavar="NAME", help="Reference value id (repeatable).")
    ],
    url: UrlOpt = DEFAULT_URL,
    cert_file: CertOpt = None,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """QueryReferenceValue for each --id and print the stored values (exit 6 if one has none)."""
    client = _client(url, cert_file, timeout)
    values = {name: client.query(name) for name in reference_value_id}
    out = get_output(ctx)
    if out.json:
        out.result_json({"reference_values": values})
    elif len(values) == 1:
        out.result_text(json.dumps(next(iter(values.values())), indent=2))
    else:
        out.result_text(json.dumps(values, indent=2))
