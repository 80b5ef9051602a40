"""offline_fs key JSON and raw key files (cococtl.crypto.keys), through the library and ``keys export`` /
``decrypt file --key``: nothing but CococtlError, and no output or temporary file left behind."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cococtl.crypto.keys import key_from_offline_fs, load_key_file, load_offline_fs_json
from tests.fuzz.conftest import check_cli, expect_clean, fuzz_settings, snapshot
from tests.fuzz.strategies import b64, deep_json, dumps, json_values, text

names = st.one_of(
    st.sampled_from(["default/key/key_id1", "default/key/key_id10", "a/b/c", "kbs:///default/key/key_id1"]),
    text,
    st.text(alphabet="a/²٣1", max_size=12),
)
values = st.one_of(st.binary(min_size=32, max_size=32).map(b64), st.binary(max_size=40).map(b64), text, json_values)
documents = st.one_of(st.dictionaries(names, values, max_size=6), json_values)
contents = st.one_of(documents.map(dumps), st.binary(max_size=200), deep_json)


@fuzz_settings(400)
@given(content=contents, resource=names)
def test_offline_fs_json(scratch: Callable[[], Path], content: bytes, resource: str) -> None:
    path = scratch() / "keys.json"
    path.write_bytes(content)
    loaded = expect_clean(lambda: load_offline_fs_json(path))
    if isinstance(loaded, dict):
        expect_clean(lambda: key_from_offline_fs(loaded, resource, source=str(path)))
        for name in list(loaded)[:3]:
            expect_clean(lambda name=name: key_from_offline_fs(loaded, name))  # type: ignore[misc]


@fuzz_settings(60)
@given(content=contents, resource=names)
def test_keys_export_cli(
    cli: Any, scratch: Callable[[], Path], private_tmpdir: Path, content: bytes, resource: str
) -> None:
    where = scratch()
    (where / "keys.json").write_bytes(content)
    before = snapshot(where, private_tmpdir)
    result = cli("keys", "export", where / "keys.json", resource or "x", where / "out.key", expect=None)
    check_cli(result, allowed=(0, 2, 3, 6))
    after = snapshot(where, private_tmpdir)
    if result.exit_code == 0:
        assert after - before == {str(where / "out.key")}
    else:
        assert after == before, f"left behind: {sorted(after - before)}"


@fuzz_settings(200)
@given(data=st.binary(max_size=5000))
def test_raw_key_file(scratch: Callable[[], Path], data: bytes) -> None:
    path = scratch() / "k"
    path.write_bytes(data)
    result = expect_clean(lambda: load_key_file(path))
    assert isinstance(result, bytes) == (len(data) == 32)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory", "socket", "big"])
def test_key_file_not_regular(tmp_path: Path, kind: str) -> None:
    """--key, keypath= and --keys-file must be regular files of a bounded size: refused at once, exit 3."""
    import socket

    path = tmp_path / "k"
    holder: Any = None
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path = Path("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    elif kind == "socket":
        holder = socket.socket(socket.AF_UNIX)
        holder.bind(str(path))
    else:
        with open(path, "wb") as handle:
            handle.truncate(64 << 20)
    started = time.monotonic()
    for loader in (load_key_file, load_offline_fs_json):
        error = expect_clean(lambda loader=loader: loader(path))  # type: ignore[misc]
        assert getattr(error, "exit_code", None) == 3, error
    assert time.monotonic() - started < 2
    if holder is not None:
        holder.close()


def test_key_fifo_cli(cli: Any, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "in").write_bytes(b"x" * 40)
    started = time.monotonic()
    for args in (
        ("decrypt", "file", tmp_path / "in", "-o", tmp_path / "out", "--key", fifo),
        ("encrypt", "file", tmp_path / "in", "-o", tmp_path / "out", "--key", "/dev/zero"),
        ("keys", "export", fifo, "default/key/k", tmp_path / "out"),
    ):
        result = cli(*args, expect=3)
        check_cli(result)
    assert time.monotonic() - started < 2
    assert not (tmp_path / "out").exists()


def test_natural_sort_of_odd_names() -> None:
    keys = {"a²": b64(b"k" * 32), "x٣": b64(b"k" * 32), "key_id10": "x"}
    error = expect_clean(lambda: key_from_offline_fs(keys, "default/key/missing"))
    assert getattr(error, "exit_code", None) == 6
    base64.b64decode  # noqa: B018
