from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any


def test_generate_to_stdout(cli: Any) -> None:
    document = json.loads(cli("keys", "generate", "--count", "3", "--repo", "acme").stdout)
    assert list(document) == ["acme/key/key_id1", "acme/key/key_id2", "acme/key/key_id3"]
    assert all(len(base64.b64decode(v)) == 32 for v in document.values())


def test_generate_to_file_is_private_and_exportable(tmp_path: Path, cli: Any) -> None:
    keys_file = tmp_path / "keys.json"
    result = cli("keys", "generate", "-o", keys_file)
    assert result.stdout == ""
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    document = json.loads(keys_file.read_text())
    assert len(document) == 10
    cli("keys", "export", keys_file, "kbs:///default/key/key_id7", tmp_path / "k7")
    assert (tmp_path / "k7").read_bytes() == base64.b64decode(document["default/key/key_id7"])
    assert stat.S_IMODE((tmp_path / "k7").stat().st_mode) == 0o600
    cli("keys", "export", keys_file, "default/key/key_id7", tmp_path / "k7", expect=3)
    cli("keys", "generate", "-o", keys_file, expect=3)


def test_export_missing_entry(tmp_path: Path, cli: Any) -> None:
    keys_file = tmp_path / "keys.json"
    cli("keys", "generate", "-o", keys_file, "--count", "2")
    result = cli("keys", "export", keys_file, "default/key/key_id9", tmp_path / "k", expect=6)
    assert "no entry 'default/key/key_id9'" in result.stderr
    assert not (tmp_path / "k").exists()


def test_export_bad_id(tmp_path: Path, cli: Any) -> None:
    keys_file = tmp_path / "keys.json"
    cli("keys", "generate", "-o", keys_file, "--count", "1")
    result = cli("keys", "export", keys_file, "key_id1", tmp_path / "k", expect=3)
    assert "3 segments" in result.stderr


def test_count_must_be_positive(cli: Any) -> None:
    cli("keys", "generate", "--count", "0", expect=2)


def test_new_json(tmp_path: Path, cli: Any) -> None:
    assert cli("--json", "keys", "new", tmp_path / "k").json == {"key_file": str(tmp_path / "k"), "bytes": 32}
