from __future__ import annotations

from typing import Any

from cococtl import __version__
from cococtl.errors import EXIT_CODE_MEANINGS, ExitCode


def test_version(cli: Any) -> None:
    result = cli("--version")
    assert result.stdout.strip() == f"cococtl {__version__}"


def test_help_lists_groups_and_exit_codes(cli: Any) -> None:
    result = cli("--help")
    for group in ("encrypt", "decrypt", "keys", "completion"):
        assert group in result.stdout
    for code in ExitCode:
        assert f"{int(code)} {EXIT_CODE_MEANINGS[code]}"[:20] in " ".join(result.stdout.split())


def test_unknown_command_is_usage_error(cli: Any) -> None:
    result = cli("frobnicate", expect=2)
    assert "frobnicate" in result.stderr
