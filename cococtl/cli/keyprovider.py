"""``cococtl keyprovider``: an ocicrypt key provider (``cmd`` on stdin/stdout, or ``serve`` over gRPC)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    invoke_without_command=True,
    help="ocicrypt key provider for the attestation-agent protocol: cmd mode (stdin/stdout) or gRPC (serve).",
)

KeysFileOpt = Annotated[
    Path | None,
    typer.Option("--keys-file", metavar="FILE", envvar="KP_KEYS_FILE", help="offline_fs key JSON for unwrap."),
]
KbsOpt = Annotated[
    str | None,
    typer.Option("--kbs-url", "--kbs", metavar="URL", help="Get unwrap keys from this KBS after (sample) attestation."),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", metavar="SECONDS", min=0.1, help="--kbs-url: bound on each whole KBS exchange.")
]


def _lookup(keys_file: Path | None, kbs: str | None, timeout: float = 30.0) -> Any:
    if keys_file is not None:
        from cococtl.crypto.keys import key_from_offline_fs, load_offline_fs_json

        document = load_offline_fs_json(keys_file)
        return lambda kid: key_from_offline_fs(document, kid, source=str(keys_file))
    if kbs is not None:
        from cococtl.compute.keysource import KbsKeySource
        from cococtl.evidence.detect import choose_attester
        from cococtl.kbs.uri import parse_resource_uri

        source = KbsKeySource(choose_attester("auto", None, warn=False), timeout=timeout)
        return lambda kid: source.fetch(kbs, [parse_resource_uri(kid).key]).keys[parse_resource_uri(kid).key]
    return None


@app.callback()
def keyprovider(
    ctx: typer.Context, keys_file: KeysFileOpt = None, kbs: KbsOpt = None, timeout: TimeoutOpt = 30.0
) -> None:
    """Without a subcommand: answer one request on stdin with JSON on stdout (the ocicrypt cmd protocol)."""
    if ctx.invoked_subcommand is not None:
        return
    from cococtl.errors import CococtlError
    from cococtl.oci.keyprovider import handle

    try:
        response = handle(sys.stdin.buffer.read(), _lookup(keys_file, kbs, timeout))
    except CococtlError as error:
        # Only JSON may reach stdout; skopeo shows our stderr in its error message.
        print(f"cococtl keyprovider: {error.message}", file=sys.stderr)
        raise typer.Exit(int(error.exit_code)) from None
    sys.stdout.buffer.write(response)
    sys.stdout.buffer.flush()


@app.command("serve")
def serve(
    listen: Annotated[str, typer.Option("--listen", metavar="HOST:PORT", help="gRPC listen address.")] = (
        "127.0.0.1:50000"
    ),
    keys_file: KeysFileOpt = None,
    kbs: KbsOpt = None,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """Serve keyprovider.KeyProviderService/WrapKey|UnWrapKey over gRPC (a drop-in for coco_keyprovider)."""
    from cococtl.oci.grpc_service import serve as run

    def ready(port: int) -> None:
        host = listen.rsplit(":", 1)[0]
        print(
            f"key provider listening on {host}:{port} (gRPC, provider attestation-agent)", file=sys.stderr, flush=True
        )

    try:
        run(listen, _lookup(keys_file, kbs, timeout), ready=ready)
    except KeyboardInterrupt:
        pass
