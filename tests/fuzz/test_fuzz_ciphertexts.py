"""Ciphertexts (``decrypt file``): random and mutated Go/Cocos AES-GCM files exit 3 or 7 and leave nothing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import check_cli, fuzz_settings, snapshot

KEY = os.urandom(32)
PLAIN = os.urandom(3000)
NONCE = os.urandom(12)
GOOD = NONCE + AESGCM(KEY).encrypt(NONCE, PLAIN, None)


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None, extra: bytes) -> bytes:
    buffer = bytearray(data)
    for position, value in edits:
        if buffer:
            buffer[position % len(buffer)] ^= value or 1
    if cut is not None:
        buffer = buffer[: cut % (len(buffer) + 1)]
    return bytes(buffer) + extra


ciphertexts = st.one_of(
    st.binary(max_size=200),
    st.builds(
        _mutate,
        st.just(GOOD),
        st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3),
        st.none() | st.integers(0, 10**6),
        st.binary(max_size=3),
    ),
)


@fuzz_settings(120)
@given(data=ciphertexts, to_stdout=st.booleans())
def test_decrypt_file(
    cli: Any, scratch: Callable[[], Path], private_tmpdir: Path, data: bytes, to_stdout: bool
) -> None:
    where = scratch()
    (where / "k").write_bytes(KEY)
    (where / "c").write_bytes(data)
    out = where / "dest"
    out.mkdir()
    before = snapshot(where, private_tmpdir)
    target = "-" if to_stdout else out / "p"
    result = cli("decrypt", "file", where / "c", "-o", target, "--key", where / "k", expect=None)
    check_cli(result, allowed=(0, 3, 7))
    after = snapshot(where, private_tmpdir)
    if result.exit_code == 0:
        assert data == GOOD
    else:
        assert after == before, f"left behind: {sorted(after - before)}"
        assert result.stdout_bytes == b""
