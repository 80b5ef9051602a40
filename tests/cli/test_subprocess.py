"""What only a real process shows: the entry point, pipes, SIGPIPE, completions, import hygiene."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.ptys import run_with_tty_stderr

pytestmark = pytest.mark.script_launch_mode("subprocess")


def test_entry_point_and_module(script_runner: Any) -> None:
    result = script_runner.run(["cococtl", "--version"])
    assert result.returncode == 0 and result.stdout.startswith("cococtl ")
    module = subprocess.run([sys.executable, "-m", "cococtl", "--version"], capture_output=True, text=True, check=True)
    assert module.stdout == result.stdout


def test_stdin_pipe_round_trip(script_runner: Any, tmp_path: Path) -> None:
    script_runner.run(["cococtl", "keys", "new", str(tmp_path / "k")], check=True)
    plain = os.urandom(3 * 1024 * 1024 + 7)
    enc = subprocess.run(
        ["cococtl", "encrypt", "file", "-", "-o", "-", "--key", str(tmp_path / "k")],
        input=plain,
        capture_output=True,
        check=True,
    )
    dec = subprocess.run(
        ["cococtl", "decrypt", "file", "-", "-o", "-", "--key", str(tmp_path / "k")],
        input=enc.stdout,
        capture_output=True,
        check=True,
    )
    assert dec.stdout == plain


def test_closed_pipe_has_no_traceback(tmp_path: Path) -> None:
    subprocess.run(["cococtl", "keys", "new", str(tmp_path / "k")], check=True, capture_output=True)
    (tmp_path / "big").write_bytes(os.urandom(8 * 1024 * 1024))
    pipeline = f"cococtl encrypt file {tmp_path / 'big'} -o - --key {tmp_path / 'k'} | head -c 100 > /dev/null"
    result = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, timeout=60, check=False)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_keys_generate_into_head(script_runner: Any, unbuffered: str) -> None:
    # Exit 141 like a program killed by SIGPIPE, also under PYTHONUNBUFFERED (a short write is not dropped).
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    result = subprocess.run(
        ["bash", "-c", "cococtl keys generate --count 50000 | head -n 2; exit ${PIPESTATUS[0]}"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    assert result.stdout.startswith("{\n") and result.returncode == 141
    assert result.stderr == ""


HEAVY = ("typer", "click", "rich", "requests", "cryptography", "boto3", "google.cloud", "jsonschema", "yaml", "grpc")


@pytest.mark.parametrize(
    "argv", [["--version"], ["--json", "-v", "--version"], ["--help"], ["kbs", "--help"], ["encrypt", "file", "-h"]]
)
def test_version_and_help_import_nothing_heavy(argv: list[str]) -> None:
    """Answered before Typer is imported (help from the cache that `make completions` writes)."""
    from cococtl.cli import cached_help

    if argv[-1] in ("--help", "-h"):
        assert cached_help(argv[:-1]) is not None, "help.json is stale: run `python -m cococtl.cli.completion`"
    probe = (
        f"import sys, runpy; sys.argv=['cococtl', *{argv!r}]\n"
        "try:\n    runpy.run_module('cococtl', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"heavy=[m for m in {HEAVY!r} if m in sys.modules or any(k.startswith(m + '.') for k in sys.modules)]\n"
        "print(','.join(heavy), file=sys.stderr)"
    )
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert result.stderr.strip() == ""
    assert result.stdout.startswith(("cococtl ", "Usage: cococtl"))


def test_importtime_of_version_has_no_typer() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cococtl", "--version"], capture_output=True, text=True, check=True
    )
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in ("typer", "rich", "requests")}


def test_a_group_runs_without_importing_the_others() -> None:
    probe = (
        "import sys, runpy; sys.argv=['cococtl', 'keys', 'new', sys.argv[1]]\n"
        "try:\n    runpy.run_module('cococtl', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('cococtl.cli.')), file=sys.stderr)"
    )
    with __import__("tempfile").TemporaryDirectory() as tmp:
        result = subprocess.run(
            [sys.executable, "-c", probe, os.path.join(tmp, "k")], capture_output=True, text=True, check=True
        )
    loaded = result.stderr
    assert "cococtl.cli.keys" in loaded
    for other in ("kbs", "image", "run", "secret", "initdata", "as_cmd", "rvps"):
        assert f"'cococtl.cli.{other}'" not in loaded


def test_tab_completion_of_subcommands() -> None:
    env = dict(os.environ, _COCOCTL_COMPLETE="complete_bash", COMP_WORDS="cococtl enc", COMP_CWORD="1")
    result = subprocess.run(["cococtl"], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert "encrypt" in result.stdout.split()


def test_progress_bar_only_on_a_tty(tmp_path: Path) -> None:
    subprocess.run(["cococtl", "keys", "new", str(tmp_path / "k")], check=True, capture_output=True)
    (tmp_path / "big").write_bytes(os.urandom(6 * 1024 * 1024))
    argv = [
        "cococtl",
        "encrypt",
        "file",
        str(tmp_path / "big"),
        "-o",
        str(tmp_path / "c"),
        "--key",
        str(tmp_path / "k"),
    ]
    returncode, seen, _ = run_with_tty_stderr(argv)
    assert returncode == 0
    assert b"encrypting" in seen
    piped = subprocess.run(
        [*argv[:4], "-o", str(tmp_path / "c2"), "--key", str(tmp_path / "k")], capture_output=True, check=True
    )
    assert b"encrypting" not in piped.stderr
    assert piped.stderr.startswith(b"encrypted ")
