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


def test_the_changelog_dates_the_release_the_package_says_it_is() -> None:
    """Keep a Changelog: an Unreleased section first, then one dated section per release, the newest being the
    package's version (and the git tag v<version>)."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.MULTILINE)
    assert headings[0] == ("Unreleased", "")
    assert headings[1][0] == __version__ and headings[1][1], headings[:2]
    assert all(date for _, date in headings[1:])
