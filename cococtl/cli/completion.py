"""``cococtl completion SHELL``: print a shell completion script (the files in completions/)."""

from __future__ import annotations

import os
import subprocess
import sys
from enum import StrEnum
from typing import Annotated

import typer


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")]) -> None:
    """Print the completion script for SHELL: bash, zsh or fish."""
    print(completion_script(shell.value), end="")


def completion_script(shell: str) -> str:
    """Generate the script through Typer's own completion protocol, exactly as shipped in completions/."""
    env = dict(os.environ, _COCOCTL_COMPLETE=f"source_{shell}")
    proc = subprocess.run(
        [sys.executable, "-m", "cococtl"], env=env, capture_output=True, text=True, check=False, timeout=30
    )
    script = proc.stdout
    if shell == "zsh":
        script = script.lstrip("\n")
    return script
