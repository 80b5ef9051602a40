from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from cococtl.compute.extract import Limits
from cococtl.compute.unzip import unzip_dataset
from cococtl.errors import InvalidInputError


def _zip(path: Path, entries: dict[str, bytes], *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def test_unzip_regular_files(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "d.zip", {"a.csv": b"1", "sub/b.csv": b"2", "sub/": b""}, symlink="link.csv")
    written = unzip_dataset(archive, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == ["a.csv", "sub/b.csv"]
    assert (tmp_path / "out" / "sub" / "b.csv").read_bytes() == b"2"
    assert not (tmp_path / "out" / "link.csv").exists()


@pytest.mark.parametrize("name", ["../x.csv", "/abs.csv"])
def test_unzip_traversal(tmp_path: Path, name: str) -> None:
    archive = _zip(tmp_path / "d.zip", {name: b"1"})
    with pytest.raises(InvalidInputError):
        unzip_dataset(archive, tmp_path / "out")
    assert not (tmp_path / "x.csv").exists()


def test_unzip_bomb_and_garbage(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "d.zip", {"big.csv": bytes(1 << 20)})
    with pytest.raises(InvalidInputError, match="expands"):
        unzip_dataset(archive, tmp_path / "out", limits=Limits(max_total_bytes=1000))
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 nope")
    with pytest.raises(InvalidInputError, match="not a zip"):
        unzip_dataset(tmp_path / "bad.zip", tmp_path / "out")
