from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_demo_runs_and_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    result = cli("demo")
    assert result.stdout.startswith("iris: 150 rows, 3 classes")
    assert "Complete" in result.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "home"]


def test_demo_keep_prints_manual_steps(tmp_path: Path, cli: Any) -> None:
    result = cli("--json", "demo", "--keep", "--dir", tmp_path / "d")
    assert result.json["state"] == "Complete" and result.json["summary"].startswith("iris:")
    assert (tmp_path / "d" / "results" / "results.zip").is_file()
    assert (tmp_path / "d" / "manifest.json").is_file()
    assert "cococtl kbs dev-server" in result.stderr
    assert not (tmp_path / "d" / "plaintext").exists()
    cli("demo", "--dir", tmp_path / "d", expect=3)


def test_make_demo_script(tmp_path: Path) -> None:
    script = Path(__file__).parents[2] / "scripts" / "demo.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "nearest-centroid accuracy" in done.stdout
