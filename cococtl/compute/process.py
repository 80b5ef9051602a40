"""Run a child process with its output streamed, a timeout, and the whole process group cleaned up."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

OutputSink = Callable[[str, bytes], None]
"""Receives (stream name "stdout"/"stderr", chunk) as the child writes."""

_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class Completed:
    returncode: int
    seconds: float
    timed_out: bool


def _pump(stream: IO[bytes], name: str, sink: OutputSink) -> None:
    with stream:
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                return
            sink(name, chunk)


_MARKER = "RUN_SCOPE_ID"  # neutral: the algorithm sees it, and it tells nothing about cococtl


def _marked_processes(marker: str) -> list[int]:
    """Every live process whose environment carries ``marker``: the child and all it started, even those that
    left its process group with setsid (they inherit the environment)."""
    needle = f"{_MARKER}={marker}".encode() + b"\0"
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as handle:
                if needle in handle.read() + b"\0":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _kill_marked(marker: str) -> None:
    for _ in range(20):
        pids = [pid for pid in _marked_processes(marker) if pid != os.getpid()]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=_GRACE_SECONDS * 5)


def run_streaming(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    sink: OutputSink,
    timeout: float | None = None,
) -> Completed:
    """Run ``argv`` in its own session; stream stdout/stderr to ``sink``; kill the group on timeout or Ctrl-C."""
    start = time.monotonic()
    marker = os.urandom(8).hex()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env={**env, _MARKER: marker},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, "stdout", sink), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "stderr", sink), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        # Nothing the algorithm started outlives it: its group, and any descendant that left the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        _kill_marked(marker)
        for pump in pumps:
            pump.join(timeout=5)
    return Completed(proc.returncode, time.monotonic() - start, timed_out)
