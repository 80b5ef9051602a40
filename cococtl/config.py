"""Profiles of defaults for the network options: ``~/.config/cococtl/config.toml`` (or ``$COCOCTL_CONFIG``).

```toml
profile = "lab"                       # the profile used without --profile / COCOCTL_PROFILE ("default" if absent)

[profiles.lab]
kbs_url = "https://kbs.lab:8080"
cert_file = "/etc/cococtl/lab-ca.pem"
admin_token_file = "~/.trustee/admin-token"
as_url = "http://as.lab:50004"
rvps_url = "grpc://rvps.lab:50003"
```

Precedence is flag > environment variable > profile > built-in default: a profile value becomes the environment
variable the options read (``COCOCTL_KBS_URL`` …) only when that variable is not set, so every command, and every
child process cococtl starts (a key provider run by skopeo), sees the same settings. Secrets are never values
here, only paths to files holding them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cococtl.errors import InvalidInputError, NotFoundError

# profile key → the environment variable the options read
KEYS: dict[str, str] = {
    "kbs_url": "COCOCTL_KBS_URL",
    "cert_file": "COCOCTL_CERT_FILE",
    "admin_token_file": "COCOCTL_ADMIN_TOKEN_FILE",
    "as_url": "COCOCTL_AS_URL",
    "rvps_url": "COCOCTL_RVPS_URL",
}
PATH_KEYS = ("cert_file", "admin_token_file")
_MAX_CONFIG = 1 << 20


def config_path() -> Path:
    explicit = os.environ.get("COCOCTL_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cococtl" / "config.toml"


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path | None
    values: dict[str, Any] = field(default_factory=dict)


def load_profile(name: str | None = None) -> Profile:
    """The chosen profile (``name``, else ``$COCOCTL_PROFILE``, else the file's ``profile``, else ``default``).

    No file is an empty profile; naming a profile the file lacks, or a malformed file, is exit 3."""
    import tomllib  # here: most runs have no config file, and importing tomllib costs ~4 ms of start-up

    path = config_path()
    chosen = name or os.environ.get("COCOCTL_PROFILE")
    try:
        if path.stat().st_size > _MAX_CONFIG:
            raise InvalidInputError(f"config {path} is larger than {_MAX_CONFIG} bytes")
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if chosen not in (None, "default"):
            raise NotFoundError(f"profile {chosen!r}: there is no config file at {path}") from None
        return Profile(chosen or "default", None)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"config {path} is not valid TOML: {error}") from None
    profiles = document.get("profiles", {})
    if not isinstance(profiles, dict):
        raise InvalidInputError(f"config {path}: [profiles] must be a table of tables")
    selected = chosen or document.get("profile") or "default"
    if not isinstance(selected, str):
        raise InvalidInputError(f"config {path}: profile must be a string")
    if selected not in profiles:
        if chosen is None and selected == "default":
            return Profile("default", path)
        have = ", ".join(sorted(profiles)) or "none"
        raise NotFoundError(f"config {path} has no profile {selected!r} (it has: {have})")
    values = profiles[selected]
    if not isinstance(values, dict):
        raise InvalidInputError(f"config {path}: [profiles.{selected}] must be a table")
    problems = []
    for key, value in values.items():
        if key not in KEYS:
            problems.append(f"unknown key {key!r} (known: {', '.join(KEYS)})")
        elif not isinstance(value, str) or not value:
            problems.append(f"{key} must be a non-empty string")
    if problems:
        raise InvalidInputError(f"config {path} [profiles.{selected}]: " + "; ".join(problems))
    expanded = {k: (str(Path(v).expanduser()) if k in PATH_KEYS else v) for k, v in values.items()}
    return Profile(selected, path, expanded)


def apply_profile(profile: Profile, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Set the environment variables the profile fills in (only those not already set); return them."""
    env = os.environ if environ is None else environ
    applied = {}
    for key, value in profile.values.items():
        variable = KEYS[key]
        if not env.get(variable):
            env[variable] = value
            applied[variable] = value
    return applied


@dataclass(frozen=True)
class Setting:
    key: str
    variable: str
    value: str | None
    source: str  # "environment", "profile <name>", "unset"


def effective_settings(profile: Profile, applied: dict[str, str]) -> list[Setting]:
    """Each profile key: its value now and where it came from (the flags of one command are not known here)."""
    settings = []
    for key, variable in KEYS.items():
        value = os.environ.get(variable) or None
        if variable in applied:
            source = f"profile {profile.name}"
        elif value:
            source = "environment"
        else:
            source = "unset"
        settings.append(Setting(key, variable, value, source))
    return settings
