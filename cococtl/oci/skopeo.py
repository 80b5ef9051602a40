"""Driving skopeo: registry transfers for the native engine, and skopeo's own ocicrypt as the ``skopeo`` engine.

skopeo's exit codes and messages are mapped to ours (never passed through): a missing binary or a
skopeo built without key-provider support (Debian 12's 1.9.3) is exit 8 with a message that says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cococtl.errors import ExternalToolError, NotFoundError, UnreachableError, printable

NO_KEYPROVIDER = "Provided protocol not recognized"
STALL_BYTES = 64 << 10
_POLL = 0.1


def _io_bytes(pid: int) -> int | None:
    """Bytes the process (all its threads) has read and written through syscalls, sockets included."""
    try:
        fields = dict(line.split(": ", 1) for line in Path(f"/proc/{pid}/io").read_text().splitlines())
        return int(fields["rchar"]) + int(fields["wchar"])
    except (OSError, KeyError, ValueError):
        return None


@dataclass(frozen=True)
class RegistryOptions:
    """skopeo's transport options for docker:// references."""

    tls_verify: bool = True
    cert_dir: Path | None = None
    authfile: Path | None = None
    # skopeo has no per-request deadline (a registry or gRPC key provider that accepts and never answers holds
    # it forever): the transfer is ended when it moves fewer than STALL_BYTES in this many seconds.
    stall_timeout: float = 60.0

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
        self,
        source: str,
        destination: str,
        extra: Sequence[str] = (),
        *,
        env: dict[str, str] | None = None,
        stall_timeout: float | None = None,
    ) -> None:
        argv = [self.path(), "--insecure-policy", "copy", *extra, source, destination]
        done = self._run(argv, source, env={**os.environ, **(env or {})}, stall_timeout=stall_timeout)
        if done.returncode == 0:
            return
        last_line = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        message = printable(last_line)
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

    def _run(
        self, argv: list[str], source: str, *, env: dict[str, str], stall_timeout: float | None
    ) -> subprocess.CompletedProcess[str]:
        """Run skopeo in its own session: ended (with everything it started) at the overall timeout, or when it
        moves fewer than STALL_BYTES in ``stall_timeout`` seconds (counted from /proc/PID/io)."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, start_new_session=True)
            started = last_progress = time.monotonic()
            moved = _io_bytes(proc.pid) or 0
            why = ""
            try:
                while proc.poll() is None:
                    time.sleep(_POLL)
                    now = time.monotonic()
                    counted = _io_bytes(proc.pid)
                    if counted is not None and counted - moved >= STALL_BYTES:
                        moved, last_progress = counted, now
                    if now - started > self.timeout:
                        why = f"did not finish within {self.timeout:g} s"
                    elif stall_timeout is not None and counted is not None and now - last_progress > stall_timeout:
                        why = f"made no progress for {stall_timeout:g} s (the registry or key provider stalled)"
                    if why:
                        break
            finally:
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            if why:
                raise UnreachableError(
                    f"skopeo copy {source} {why}", hint="raise --registry-timeout (COCOCTL_REGISTRY_TIMEOUT)"
                )
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", "replace")
            stderr = err.read().decode("utf-8", "replace")
        return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)

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


SCRATCH_PREFIX = "cococtl-image-"


@contextlib.contextmanager
def temporary_layout() -> Iterator[str]:
    """A private scratch directory (removed afterwards) for images on their way to or from a registry; scratch
    directories left by a cococtl killed with SIGKILL are removed first (they may hold decrypted layers)."""
    from cococtl.notices import warn
    from cococtl.ownership import claim, remove_orphans

    stale = remove_orphans(Path(tempfile.gettempdir()), SCRATCH_PREFIX + "*")
    if stale:
        warn(f"removed {len(stale)} image scratch director{'y' if len(stale) == 1 else 'ies'} left by a killed cococtl")
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) as scratch:
        claim(Path(scratch))
        yield scratch
