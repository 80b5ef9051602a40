"""Run a command with stderr on a pseudo-terminal, as a person at a terminal would see it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence


def run_with_tty_stderr(argv: Sequence[str], *, timeout: float = 60) -> tuple[int, bytes, bytes]:
    """(exit code, everything written to the terminal, stdout). Colour switches are removed from the env."""
    import pty

    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERMINAL_WIDTH")}
    proc = subprocess.Popen(list(argv), stderr=terminal, stdout=subprocess.PIPE, env=env)
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = proc.communicate(timeout=timeout)
    os.close(controller)
    return proc.returncode, seen, stdout
