from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cococtl.crypto import keys
from cococtl.errors import InvalidInputError, NotFoundError, OutputExistsError
from cococtl.kbs.uri import parse_resource_path


def test_new_key_file_is_private_and_32_bytes(tmp_path: Path) -> None:
    path = tmp_path / "k"
    key = keys.create_key_file(path, force=False)
    assert path.read_bytes() == key and len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_new_key_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        keys.create_key_file(path, force=False)
    assert path.read_bytes() == b"precious"
    keys.create_key_file(path, force=True)
    assert len(path.read_bytes()) == 32


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (base64.b64encode(bytes(range(32))) + b"\n", "base64"),
        (bytes(range(32)).hex().encode(), "hex"),
        (bytes(range(32)) + b"\n", "newline"),
        (bytes(16), "expected 32 raw bytes, got 16"),
        (bytes(5000), "expected 32 raw bytes, got 5000"),
    ],
)
def test_bad_key_files_are_explained(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "k"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError, match=message):
        keys.load_key_file(path)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        keys.load_key_file(tmp_path / "nope")


def test_generate_matches_generate_keys_sh_shape() -> None:
    document = keys.generate_offline_fs_keys("myrepo", 10)
    assert sorted(document) == sorted(f"myrepo/key/key_id{n}" for n in range(1, 11))
    values = [base64.b64decode(v, validate=True) for v in document.values()]
    assert all(len(v) == 32 for v in values)
    assert len(set(values)) == 10


def test_generate_rejects_bad_repo_names() -> None:
    with pytest.raises(InvalidInputError):
        keys.generate_offline_fs_keys("bad/repo", 1)


def test_export_accepts_path_and_kbs_uri(tmp_path: Path) -> None:
    raw = os.urandom(32)
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"default/key/key_id1": base64.b64encode(raw).decode()}))
    loaded = keys.load_offline_fs_json(path)
    assert keys.key_from_offline_fs(loaded, "default/key/key_id1") == raw
    assert keys.key_from_offline_fs(loaded, "kbs:///default/key/key_id1") == raw
    with pytest.raises(NotFoundError):
        keys.key_from_offline_fs(loaded, "default/key/key_id2")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[1, 2]", "JSON object"),
        ("{not json", "not valid JSON"),
        ('{"default/key/k": 5}', "JSON object"),
    ],
)
def test_bad_keys_files(tmp_path: Path, document: str, message: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(document)
    with pytest.raises(InvalidInputError, match=message):
        keys.load_offline_fs_json(path)


@pytest.mark.parametrize(
    ("value", "message"), [("!!notb64", "base64"), (base64.b64encode(b"short").decode(), "5 bytes")]
)
def test_bad_key_entries(value: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        keys.key_from_offline_fs({"default/key/k": value}, "default/key/k")


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("default/key/key_id1", "default/key/key_id1"),
        ("/default/key/key_id1", "default/key/key_id1"),
        ("kbs:///default/key/key_id1", "default/key/key_id1"),
        ("kbs://kbs.example:8080/a/b/c", "a/b/c"),
        ("kbs+resource:///a/b/c.d", "a/b/c.d"),
    ],
)
def test_resource_paths(text: str, path: str) -> None:
    assert parse_resource_path(text).path == path
    assert parse_resource_path(text).uri == f"kbs:///{path}"


@pytest.mark.parametrize(
    "text",
    ["", "a/b", "a/b/c/d", "kbs:///a/b", "a/../c", "a/.hidden/c", "a/b c/d", "http://x/a/b/c", "kbs:///a/b/c?x=1"],
)
def test_bad_resource_paths(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_resource_path(text)


@given(st.text(max_size=80))
def test_resource_path_parser_never_crashes(text: str) -> None:
    try:
        parsed = parse_resource_path(text)
    except InvalidInputError:
        return
    assert parse_resource_path(parsed.uri) == parsed
