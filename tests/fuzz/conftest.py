"""Shared checks for the fuzz suites. ``COCOCTL_FUZZ_EXAMPLES=N`` runs N examples per test (see README.md)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings

from cococtl.errors import CococtlError, ExitCode

T = TypeVar("T")


def examples(default: int) -> int:
    """Examples per test: ``default``, or what COCOCTL_FUZZ_EXAMPLES says."""
    return int(os.environ.get("COCOCTL_FUZZ_EXAMPLES", default))


def fuzz_settings(default: int) -> Any:
    return settings(
        max_examples=examples(default),
        deadline=None,
        derandomize="COCOCTL_FUZZ_SEED" not in os.environ and "COCOCTL_FUZZ_EXAMPLES" not in os.environ,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


def raw_controls(text: str) -> list[str]:
    """Control or non-printable characters other than newline (an escaped form like ``\\x1b`` is fine)."""
    return sorted({c for c in text if not c.isprintable() and c != "\n"})


def check_error(error: CococtlError) -> None:
    assert error.exit_code not in (ExitCode.OK, ExitCode.INTERNAL), error
    for text in (error.message, error.hint or ""):
        assert not raw_controls(text), f"raw control characters {raw_controls(text)!r} in {text[:200]!r}"
        assert "Traceback" not in text


def expect_clean(call: Callable[[], T]) -> T | CococtlError:
    """Run ``call``: it may succeed or raise a CococtlError with a clean message; anything else fails the test."""
    try:
        return call()
    except CococtlError as error:
        check_error(error)
        return error


def check_cli(result: Any, allowed: tuple[int, ...] = (0, 3, 4, 5, 6, 7)) -> None:
    assert result.exit_code in allowed, f"exit {result.exit_code}\nstderr: {result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr and "unexpected internal error" not in result.stderr
    assert not raw_controls(result.stderr), f"raw control characters in {result.stderr[-500:]!r}"


def snapshot(*roots: Path) -> set[str]:
    """Every path under ``roots`` (to find leftovers)."""
    found: set[str] = set()
    for root in roots:
        if root.exists() or root.is_symlink():
            found.add(str(root))
            if root.is_dir() and not root.is_symlink():
                found.update(str(p) for p in root.rglob("*"))
    return found


@pytest.fixture
def private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty $TMPDIR for the test (the leftover check looks in it)."""
    directory = tmp_path / "tmpdir"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
def scratch(tmp_path: Path) -> Callable[[], Path]:
    """A new empty directory per hypothesis example."""
    counter = iter(range(1 << 30))

    def make() -> Path:
        path = tmp_path / f"ex{next(counter)}"
        path.mkdir()
        return path

    return make
