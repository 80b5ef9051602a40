"""Shared test set-up: stable output, a clean environment, and helpers to run the CLI."""

from __future__ import annotations

import os

# Read at import time by Typer/Rich: set before anything imports them.
os.environ["NO_COLOR"] = "1"
os.environ["TERMINAL_WIDTH"] = "120"
os.environ["_TYPER_FORCE_DISABLE_TERMINAL"] = "1"
# Subprocess tests run the `cococtl` installed beside this interpreter, whatever the caller's PATH.
os.environ["PATH"] = os.path.dirname(os.path.abspath(__import__("sys").executable)) + os.pathsep + os.environ["PATH"]

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

VECTORS = Path(__file__).parent / "vectors"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("COCOCTL_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
    stdout_bytes: bytes

    @property
    def json(self) -> Any:
        """The result document without the envelope's ``schema_version`` (tests/cli/test_envelope.py checks it)."""
        document = json.loads(self.stdout)
        if isinstance(document, dict):
            document.pop("schema_version", None)
        return document


@pytest.fixture
def cli() -> Any:
    """Run cococtl in-process: ``cli("keys", "new", path, expect=0)`` returns a CliResult."""
    from cococtl.cli import app

    runner = CliRunner()

    def run(*args: str | os.PathLike[str], expect: int | None = 0, input: bytes | str | None = None) -> CliResult:
        result = runner.invoke(app, [os.fspath(a) for a in args], input=input, catch_exceptions=False)
        out = CliResult(result.exit_code, result.stdout, result.stderr, result.stdout_bytes)
        if expect is not None:
            assert result.exit_code == expect, (
                f"exit {result.exit_code} != {expect}\nstdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return out

    return run
