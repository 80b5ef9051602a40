"""``cococtl config show|path`` and ``cococtl env``: where settings come from, like ``cosign env``."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from cococtl.cli.output import get_output

app = typer.Typer(
    no_args_is_help=True, help="Show the configuration profile in effect and where each setting comes from."
)

# The options' own environment variables (shown in their --help too).
OPTION_VARIABLES = (
    ("COCOCTL_CONFIG", "The config file [default: ~/.config/cococtl/config.toml]."),
    ("COCOCTL_PROFILE", "The profile of the config file to use (--profile)."),
    ("COCOCTL_KBS_URL", "KBS root URL (kbs --url, --kbs-url)."),
    ("COCOCTL_AS_URL", "Attestation Service URL (as --url)."),
    ("COCOCTL_RVPS_URL", "RVPS URL (rvps --url)."),
    ("COCOCTL_CERT_FILE", "Extra trusted CA for HTTPS (--cert-file)."),
    ("COCOCTL_ADMIN_TOKEN_FILE", "KBS admin bearer token file (--admin-token-file)."),
    ("COCOCTL_KEYS_FILE", "offline_fs key JSON for the key provider (--keys-file)."),
    ("KP_KEYS_FILE", "offline_fs key JSON for the key provider (coco_keyprovider's name)."),
    ("COCOCTL_DEBUG", "Show tracebacks for errors (--debug)."),
    ("OCICRYPT_KEYPROVIDER_CONFIG", "ocicrypt key-provider config that skopeo reads (--engine skopeo)."),
    ("REGISTRY_AUTH_FILE", "Registry credentials file (--authfile)."),
)
_SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "CREDENTIAL", "SESSION")


def _shown(name: str, value: str | None) -> str | None:
    """A value as it may be printed: files by path, secrets never."""
    if value is None:
        return None
    if any(word in name for word in _SECRET_WORDS) and not name.endswith(("_FILE", "_CREDENTIALS")):
        return "(set, hidden)"
    return value


def _variables() -> list[tuple[str, str]]:
    from cococtl.cli.examples import ENVIRONMENT

    seen: dict[str, str] = dict(OPTION_VARIABLES)
    for entries in ENVIRONMENT.values():
        for names, description in entries:
            for name in (n.strip() for n in names.split(",")):
                seen.setdefault(name, description)
    return sorted(seen.items())


@app.command("show")
def show(ctx: typer.Context) -> None:
    """The profile in effect and each setting it covers: its value and whether the environment or the profile set
    it (a flag on a command wins over both)."""
    from cococtl.config import config_path, effective_settings, load_profile

    profile, applied = ctx.meta.get("cococtl.profile") or (load_profile(None), {})
    settings = effective_settings(profile, applied)
    out = get_output(ctx)
    if out.json:
        out.result_json(
            {
                "config": str(config_path()),
                "config_exists": config_path().is_file(),
                "profile": profile.name,
                "settings": [
                    {"key": s.key, "env": s.variable, "value": _shown(s.variable, s.value), "source": s.source}
                    for s in settings
                ],
            }
        )
        return
    lines = [f"config:  {config_path()}" + ("" if config_path().is_file() else " (none)"), f"profile: {profile.name}"]
    for s in settings:
        lines.append(f"{s.key:<18} {_shown(s.variable, s.value) or '-':<40} {s.source} ({s.variable})")
    out.result_text("\n".join(lines))


@app.command("path")
def path(ctx: typer.Context) -> None:
    """Print where the config file is read from."""
    from cococtl.config import config_path

    get_output(ctx).result_text(str(config_path()))


def env(
    ctx: typer.Context,
    set_only: Annotated[bool, typer.Option("--set-only", help="Only the variables that are set.")] = False,
) -> None:
    """Every environment variable cococtl reads, with its value (secrets hidden) and what it is for."""
    out = get_output(ctx)
    rows: list[dict[str, Any]] = []
    for name, description in _variables():
        value = _shown(name, os.environ.get(name))
        if value is None and set_only:
            continue
        rows.append({"name": name, "value": value, "description": description})
    if out.json:
        out.result_json({"variables": rows})
        return
    width = max(len(r["name"]) for r in rows) if rows else 0
    out.result_text("\n".join(f"{r['name']:<{width}}  {r['value'] or '-'}  {r['description']}" for r in rows))
