"""Driving skopeo: registry transfers for the native engine, and skopeo's own ocicrypt as the ``skopeo`` engine.

skopeo's exit codes and messages are mapped to ours (never passed through): a missing binary or a
skopeo built without key-provider support (Debian 12's 1.9.3) is exit 8 with a message that says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cococtl.errors import ExternalToolError, NotFoundError, UnreachableError

NO_KEYPROVIDER = "Provided protocol not recognized"


@dataclass(frozen=True)
class RegistryOptions:
    """skopeo's transport options for docker:// references."""

    tls_verify: bool = True
    cert_dir: Path | None = None
    authfile: Path | None = None

    def source_args(self) -> list[str]:
        return self._args("src")

    def dest_args(self) -> list[str]:
        return self._args("dest")

    def _args(self, side: str) -> list[str]:
        args = [] if self.tls_verify else [f"--{side}-tls-verify=false"]
        if self.cert_dir is not None:
            args.append(f"--{side}-cert-dir={self.cert_dir}")
        if self.authfile is not None:
            args.append(f"--{side}-authfile={self.authfile}")
        return args


@dataclass
class Skopeo:
    binary: str = field(default_factory=lambda: os.environ.get("COCOCTL_SKOPEO", "skopeo"))
    timeout: float = 1800.0

    def path(self) -> str:
        found = shutil.which(self.binary)
        if not found:
            raise ExternalToolError(
                f"skopeo ({self.binary}) is not installed",
                hint="apt-get install skopeo, or set COCOCTL_SKOPEO to its path",
            )
        return found

    def copy(
        self, source: str, destination: str, extra: Sequence[str] = (), *, env: dict[str, str] | None = None
    ) -> None:
        argv = [self.path(), "--insecure-policy", "copy", *extra, source, destination]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
                env={**os.environ, **(env or {})},
            )
        except subprocess.TimeoutExpired:
            raise UnreachableError(f"skopeo copy {source} did not finish within {self.timeout:g} s") from None
        if done.returncode == 0:
            return
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        if NO_KEYPROVIDER in done.stderr:
            raise ExternalToolError(
                f"{self.binary} has no ocicrypt key-provider support ({self.version()}): it cannot encrypt for "
                "the attestation-agent provider",
                hint="use the native engine (the default), or a skopeo built with ocicrypt >= 1.1 (skopeo >= 1.10)",
            )
        if any(s in done.stderr for s in ("manifest unknown", "name unknown", "no such file", "not found")):
            raise NotFoundError(f"skopeo copy {source}: {message}")
        if any(s in done.stderr for s in ("connection refused", "no such host", "i/o timeout", "dial tcp")):
            raise UnreachableError(f"skopeo copy {source}: {message}")
        raise ExternalToolError(f"skopeo copy {source} -> {destination} failed: {message}")

    def version(self) -> str:
        try:
            done = subprocess.run([self.path(), "--version"], capture_output=True, text=True, timeout=30, check=False)
        except subprocess.TimeoutExpired:
            return "unknown version"
        return done.stdout.strip() or "unknown version"


def keyprovider_config(directory: Path, *, grpc: str | None = None) -> Path:
    """An OCICRYPT_KEYPROVIDER_CONFIG naming ``cococtl keyprovider`` (cmd) or a gRPC provider."""
    if grpc is not None:
        provider: dict[str, object] = {"grpc": grpc}
    else:
        provider = {"cmd": {"path": sys.executable, "args": ["-m", "cococtl", "keyprovider"]}}
    path = directory / "ocicrypt_keyprovider.conf"
    path.write_text(json.dumps({"key-providers": {"attestation-agent": provider}}))
    return path


def temporary_layout() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="cococtl-image-")
