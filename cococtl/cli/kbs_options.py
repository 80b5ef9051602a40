"""The KBS connection and admin options, defined once for every ``cococtl kbs`` command.

They may stand before the subcommand, as with kbs-client (``cococtl kbs --url U get-resource …``), or after it
(``cococtl kbs get-resource --url U …``); after wins. Environment variables fill what neither gives.
The admin token is found like kbs-client finds it (tools/kbs-client/src/main.rs ``Config``):
``--admin-token-file``, then ``COCOCTL_ADMIN_TOKEN_FILE``, then ``kbs/config/docker-compose/admin-token`` under
the current directory, then ``~/.trustee/admin-token``; ``--admin-key`` mints a token per request instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup, TyperOption

from cococtl.cli.choices import TeeKeyType

DEFAULT_URL = "http://127.0.0.1:8080"

# The TEE key type, shared by the commands that attest (kbs attest/get-resource, secret unseal/…).
TeeKeyTypeOpt = Annotated[
    TeeKeyType,
    typer.Option(
        "--tee-key-type",
        help="The TEE key pair to generate; ml-kem-768 (ML-KEM-768+A192KW) is experimental: only a KBS built "
        "with pqc-experimental speaks it.",
    ),
]
_META = "cococtl.kbs"

# name → (flags, envvar, help, kind)
_CONNECTION: dict[str, tuple[tuple[str, ...], str | None, str, Any]] = {
    "url": (("--url",), "COCOCTL_KBS_URL", f"KBS root URL [default: {DEFAULT_URL}].", str),
    "cert_file": (("--cert-file",), "COCOCTL_CERT_FILE", "Extra trusted CA for HTTPS (PEM).", Path),
    "timeout": (("--timeout",), None, "Per-request timeout in seconds [default: 30].", float),
}
_ADMIN: dict[str, tuple[tuple[str, ...], str | None, str, Any]] = {
    "admin_token_file": (
        ("--admin-token-file",),
        "COCOCTL_ADMIN_TOKEN_FILE",
        "Admin bearer token file (Trustee >= 0.21); found like kbs-client does when omitted.",
        Path,
    ),
    "admin_key": (
        ("--admin-key", "--auth-private-key"),
        None,
        "Ed25519 key that mints a short-lived admin JWT per request.",
        Path,
    ),
    "role": (("--role",), None, "role claim of minted admin tokens [default: admin].", str),
}
CONNECTION_COMMANDS = frozenset(
    {
        "attest",
        "get-resource",
        "set-resource",
        "delete-resource",
        "set-resource-policy",
        "get-resource-policy",
        "set-attestation-policy",
        "set-reference-value",
        "set-sample-reference-value",
        "get-reference-value",
    }
)
ADMIN_COMMANDS = CONNECTION_COMMANDS - {"attest", "get-resource"}


def _store(ctx: Any, param: Any, value: Any) -> Any:
    if value is not None and param.name is not None:
        ctx.meta.setdefault(_META, {})[param.name] = value
        source = ctx.get_parameter_source(param.name)
        ctx.meta.setdefault(_META + ".env", set()).discard(param.name)
        if source is not None and source.name == "ENVIRONMENT":
            ctx.meta[_META + ".env"].add(param.name)
    return value


def _options(specs: dict[str, tuple[tuple[str, ...], str | None, str, Any]], *, with_env: bool) -> list[Any]:
    return [
        TyperOption(
            param_decls=list(flags),
            type=str if kind is Path else kind,
            default=None,
            envvar=envvar if with_env else None,
            show_envvar=with_env and envvar is not None,
            help=text if with_env or envvar is None else f"{text} [env var: {envvar}, read where the group takes it]",
            expose_value=False,
            callback=_store,
            metavar="FILE" if kind is Path else None,
        )
        for flags, envvar, text, kind in specs.values()
    ]


def group_options() -> list[Any]:
    """The options of the ``kbs`` group itself (with their environment variables)."""
    return _options({**_CONNECTION, **_ADMIN}, with_env=True)


class KbsGroup(TyperGroup):
    """Holds the shared options itself (before the subcommand) and adds them to each subcommand that talks to a
    KBS (after it), once, when the command is built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(group_options())

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None or getattr(command, "_kbs_options", False):
            return command
        if cmd_name in CONNECTION_COMMANDS:
            command.params.extend(_options(_CONNECTION, with_env=False))
        if cmd_name in ADMIN_COMMANDS:
            command.params.extend(_options(_ADMIN, with_env=False))
        command._kbs_options = True  # type: ignore[attr-defined]
        return command


class ProvisionGroup(TyperGroup):
    """For commands that upload to a KBS given by their own option (``secret seal … --provision-to-kbs URL``):
    the same TLS, timeout and admin options (environment variables and token discovery included), defined once."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None or getattr(command, "_kbs_options", False):
            return command
        shared = {k: v for k, v in {**_CONNECTION, **_ADMIN}.items() if k != "url"}
        command.params.extend(_options(shared, with_env=True))
        command._kbs_options = True  # type: ignore[attr-defined]
        return command


@dataclass(frozen=True)
class KbsSettings:
    url: str
    cert_file: str | None
    timeout: float
    admin_token_file: Path | None
    admin_key: Path | None
    role: str | None
    token_source: str | None

    def client(self) -> Any:
        from cococtl.kbs.client import KbsClient

        return KbsClient(self.url, cert_file=self.cert_file, timeout=self.timeout)

    def credentials(self) -> Any:
        """The admin credentials (a warning when there are none: only an InsecureAllowAll KBS takes that)."""
        from cococtl.kbs.admin import AdminCredentials

        credentials = AdminCredentials.from_options(self.admin_token_file, self.admin_key, self.role)
        if credentials.token is None and credentials.key is None:
            from cococtl.notices import warn

            warn("no admin credentials given: this works only with an InsecureAllowAll KBS")
        return credentials

    def admin(self) -> Any:
        from cococtl.kbs.admin import KbsAdmin

        return KbsAdmin(self.client(), self.credentials())


def discover_admin_token(explicit: Path | None, source: str) -> tuple[Path | None, str | None]:
    """(token file, where it came from), in kbs-client's order: the option or its environment variable
    (``source`` says which), then the docker-compose tree under the current directory, then ~/.trustee."""
    if explicit is not None:
        return explicit, source
    for candidate, where in (
        (Path("kbs/config/docker-compose/admin-token"), "kbs/config/docker-compose/admin-token"),
        (Path.home() / ".trustee" / "admin-token", "~/.trustee/admin-token"),
    ):
        if candidate.is_file():
            return candidate, where
    return None, None


def kbs_settings(ctx: Any) -> KbsSettings:
    """The effective settings: subcommand flags, then group flags (or their environment variables), then defaults."""
    given: dict[str, Any] = ctx.meta.get(_META, {})
    timeout = float(given.get("timeout", 30.0))
    if timeout <= 0:
        from cococtl.errors import InvalidInputError

        raise InvalidInputError("--timeout must be positive")
    admin_key = Path(given["admin_key"]) if given.get("admin_key") else None
    token_file, source = (None, None)
    if admin_key is None:
        explicit = Path(given["admin_token_file"]) if given.get("admin_token_file") else None
        from_env = "admin_token_file" in ctx.meta.get(_META + ".env", set())
        token_file, source = discover_admin_token(
            explicit, "COCOCTL_ADMIN_TOKEN_FILE" if from_env else "--admin-token-file"
        )
    return KbsSettings(
        url=str(given.get("url") or DEFAULT_URL),
        cert_file=str(given["cert_file"]) if given.get("cert_file") else None,
        timeout=timeout,
        admin_token_file=token_file,
        admin_key=admin_key,
        role=given.get("role"),
        token_source=source,
    )
