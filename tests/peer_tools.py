"""Where the upstream-library peers built by ``scripts/build-peers.sh`` live, for the tests that drive them.

A missing peer is a failure, never a skip: ``make test`` builds every peer before pytest runs.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

PEERS_DIR = Path(__file__).resolve().parent.parent / ".tools" / "peers"


def peer_binary(name: str) -> Path:
    path = PEERS_DIR / name
    if not path.is_file():
        pytest.fail(f"upstream peer {name!r} is not built at {path}: run `make test` (scripts/build-peers.sh)")
    return path


def run_peer(name: str, *args: str, stdin: bytes = b"", timeout: float = 120.0) -> subprocess.CompletedProcess[bytes]:
    """Run a peer with bounded time; the caller inspects returncode, stdout and stderr."""
    return subprocess.run(
        [str(peer_binary(name)), *args], input=stdin, capture_output=True, timeout=timeout, check=False
    )


def peer_json(name: str, *args: str, stdin: bytes = b"", timeout: float = 120.0) -> Any:
    """Run a peer that must succeed and print one JSON document."""
    done = run_peer(name, *args, stdin=stdin, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"peer {name} {' '.join(args)} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return json.loads(done.stdout)
