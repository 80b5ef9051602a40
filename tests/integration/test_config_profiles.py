"""Profiles: flag > environment > profile > default; `config show` says where each setting came from; `env`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import RunningKbs

pytestmark = pytest.mark.integration


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    monkeypatch.setenv("COCOCTL_CONFIG", str(path))
    return path


def test_a_profile_fills_in_and_flags_and_environment_win(
    cli: Any, devkbs: RunningKbs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(tmp_path, monkeypatch, f'profile = "lab"\n[profiles.lab]\nkbs_url = "{devkbs.url}"\n'
            '[profiles.dead]\nkbs_url = "http://127.0.0.1:9"\n')  # fmt: skip
    assert cli("kbs", "attest", "--tee", "sample").stdout.count(".") == 2  # the file's default profile
    assert "cannot reach" in cli("--profile", "dead", "kbs", "attest", "--tee", "sample", expect=4).stderr
    assert cli("kbs", "attest", "--tee", "sample", "--profile", "dead", "--url", devkbs.url).stdout  # flag wins
    monkeypatch.setenv("COCOCTL_KBS_URL", devkbs.url)
    assert cli("--profile", "dead", "kbs", "attest", "--tee", "sample").stdout  # the environment wins
    shown = cli("--json", "--profile", "dead", "config", "show").json
    assert shown["profile"] == "dead"
    assert {s["key"]: s["source"] for s in shown["settings"]}["kbs_url"] == "environment"
    monkeypatch.delenv("COCOCTL_KBS_URL")
    shown = cli("--json", "--profile", "dead", "config", "show").json
    assert {s["key"]: (s["value"], s["source"]) for s in shown["settings"]}["kbs_url"] == (
        "http://127.0.0.1:9",
        "profile dead",
    )


def test_bad_profiles_are_refused_in_words(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _config(tmp_path, monkeypatch, '[profiles.lab]\nkbs_url = "http://x"\npassword = "no"\n')
    assert "unknown key 'password'" in cli("--profile", "lab", "config", "show", expect=3).stderr
    assert "has no profile 'nope'" in cli("--profile", "nope", "config", "show", expect=6).stderr
    _config(tmp_path, monkeypatch, "[profiles\n")
    assert "not valid TOML" in cli("config", "show", expect=3).stderr


def test_env_lists_every_variable_and_hides_secrets(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-print-me")
    monkeypatch.setenv("COCOCTL_CERT_FILE", "/etc/ca.pem")
    rows = {r["name"]: r["value"] for r in cli("--json", "env").json["variables"]}
    assert rows["AWS_SECRET_ACCESS_KEY"] == "(set, hidden)" and rows["COCOCTL_CERT_FILE"] == "/etc/ca.pem"
    assert {"COCOCTL_KBS_URL", "COCOCTL_PROFILE", "STORAGE_EMULATOR_HOST"} <= set(rows)
    assert "do-not-print-me" not in cli("env").stdout
