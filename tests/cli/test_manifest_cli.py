from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).parents[2] / "examples" / "manifests"


def test_validate_examples(cli: Any) -> None:
    for path in sorted(EXAMPLES.iterdir()):
        assert "valid (" in cli("manifest", "validate", path).stderr


def test_validate_json_report(cli: Any) -> None:
    document = cli("--json", "manifest", "validate", EXAMPLES / "go.json").json
    assert document["valid"] is True and document["form"] == "go"
    assert document["algorithm"]["type"] == "oci-image"


def test_invalid_lists_every_problem(tmp_path: Path, cli: Any) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"algorithm": {"uri": "ftp://x/y", "encrypted": True}}))
    result = cli("manifest", "validate", bad, expect=3)
    lines = result.stderr.strip().splitlines()
    assert any("$.algorithm.uri" in line for line in lines)
    assert any("$.algorithm.kbs_resource_path" in line for line in lines)
    report = cli("manifest", "validate", bad, "--json", expect=3).json
    assert report["valid"] is False and len(report["problems"]) == 2


def test_schema_and_template(tmp_path: Path, cli: Any) -> None:
    schema = json.loads(cli("manifest", "schema").stdout)
    assert schema["required"] == ["algorithm"]
    cli("manifest", "new", "-o", tmp_path / "m.yaml")
    cli("manifest", "validate", tmp_path / "m.yaml")
    assert "computation_id" in cli("manifest", "new").stdout
    cli("manifest", "new", "-o", tmp_path / "m.yaml", expect=3)
