"""Every --json result is one document that starts with the envelope's schema_version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cococtl.cli.output import SCHEMA_VERSION


def test_results_carry_the_schema_version(cli: Any, tmp_path: Path) -> None:
    for args in (
        ("--json", "keys", "new", tmp_path / "k"),
        ("--json", "keys", "generate", "--count", "1", "-o", tmp_path / "keys.json"),
        ("--json", "manifest", "validate", Path(__file__).parents[2] / "examples" / "manifests" / "seed.json"),
        ("--json", "env"),
    ):
        document = json.loads(cli(*args).stdout)
        assert next(iter(document)) == "schema_version" and document["schema_version"] == SCHEMA_VERSION, args
