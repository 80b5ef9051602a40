"""docs/api.md: every example runs as written (doctest)."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

API = Path(__file__).parents[2] / "docs" / "api.md"


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_library_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    result = doctest.testfile(str(API), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 20 and result.failed == 0, capsys.readouterr().out
