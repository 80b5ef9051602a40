"""Cocos' OCI extraction rules, with its own test vectors (pkg/oci/extract_test.go) and tar guards."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cococtl.compute.extract import (
    Limits,
    extract_algorithm,
    extract_dataset,
    is_algorithm_file,
    is_data_file,
    safe_member_name,
)
from cococtl.errors import InvalidInputError

# (filename, mode, algo_type, expected): Cocos TestIsAlgorithmFile at 747aaaa5.
ALGORITHM_VECTORS = [
    ("algorithm.py", 0o644, "python", True),
    ("module.wasm", 0o644, "wasm", True),
    ("module.wat", 0o644, "wasm", True),
    ("algorithm.py", 0o755, "bin", False),
    ("main.py", 0o644, "python", True),
    ("algorithm", 0o644, "bin", True),
    ("run", 0o644, "bin", True),
    ("my-app", 0o755, "bin", True),
    ("data.csv", 0o755, "python", False),
    ("config.json", 0o755, "wasm", False),
    ("readme.txt", 0o755, "bin", False),
    ("MAIN.PY", 0o644, "python", True),
    ("Algorithm.Py", 0o644, "python", True),
]

# Cocos TestIsDataFile, plus the archive suffixes of the current isDataFile.
DATA_VECTORS = [
    ("data.csv", True),
    ("config.json", True),
    ("readme.txt", True),
    ("data.parquet", True),
    ("data.arrow", True),
    ("data.dat", True),
    ("script.py", False),
    ("module.wasm", False),
    ("data.bin", False),
    ("DATA.CSV", True),
    ("data/input/dataset.csv", True),
    ("bundle.tar.gz", True),
    ("x.zip", True),
]


@pytest.mark.parametrize(("name", "mode", "algo_type", "expected"), ALGORITHM_VECTORS)
def test_is_algorithm_file(name: str, mode: int, algo_type: str, expected: bool) -> None:
    assert is_algorithm_file(name, mode, algo_type) is expected


@pytest.mark.parametrize(("name", "expected"), DATA_VECTORS)
def test_is_data_file(name: str, expected: bool) -> None:
    assert is_data_file(name) is expected


def make_layer(
    path: Path,
    files: dict[str, bytes],
    *,
    modes: dict[str, int] | None = None,
    gz: bool = True,
    extra: list[tarfile.TarInfo] | None = None,
) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = (modes or {}).get(name, 0o644)
            archive.addfile(info, io.BytesIO(data))
        for info in extra or []:
            archive.addfile(info)
    path.write_bytes(gzip.compress(buffer.getvalue()) if gz else buffer.getvalue())
    return path


def test_top_layer_wins_and_requirements_found(tmp_path: Path) -> None:
    base = make_layer(tmp_path / "l0", {"app/old.py": b"old", "app/requirements.txt": b"numpy\n"})
    top = make_layer(tmp_path / "l1", {"app/new.py": b"new", "app/helper.py": b"helper"})
    result = extract_algorithm([base, top], tmp_path / "x", "python")
    assert result.algorithm.read_bytes() == b"new"
    assert result.requirements is not None and result.requirements.read_bytes() == b"numpy\n"


def test_bin_by_exec_bit_and_plain_tar(tmp_path: Path) -> None:
    layer = make_layer(tmp_path / "l", {"README.md": b"r", "tool": b"\x7fELF"}, modes={"tool": 0o755}, gz=False)
    assert extract_algorithm([layer], tmp_path / "x", "bin").algorithm.name == "tool"


def test_oci_algorithm_needs_type(tmp_path: Path) -> None:
    layer = make_layer(tmp_path / "l", {"a.py": b""})
    with pytest.raises(InvalidInputError, match="explicit algo_type"):
        extract_algorithm([layer], tmp_path / "x", "")


def test_no_algorithm(tmp_path: Path) -> None:
    layer = make_layer(tmp_path / "l", {"data.csv": b""})
    with pytest.raises(InvalidInputError, match=r"no python algorithm file found .*data\.csv"):
        extract_algorithm([layer], tmp_path / "x", "python")


def test_datasets_from_all_layers(tmp_path: Path) -> None:
    l0 = make_layer(tmp_path / "l0", {"d/a.csv": b"a", "bin/tool": b"t"})
    l1 = make_layer(tmp_path / "l1", {"d/b.json": b"{}"})
    found = extract_dataset([l0, l1], tmp_path / "x")
    assert [p.name for p in found] == ["b.json", "a.csv"]


@pytest.mark.parametrize("name", ["/etc/passwd", "../escape.csv", "a/../../escape.csv"])
def test_traversal_is_refused(tmp_path: Path, name: str) -> None:
    layer = make_layer(tmp_path / "l", {name: b"x"})
    with pytest.raises(InvalidInputError, match=r"absolute|escapes"):
        extract_dataset([layer], tmp_path / "x")
    assert not (tmp_path / "escape.csv").exists()


def test_links_and_devices_are_never_written(tmp_path: Path) -> None:
    link = tarfile.TarInfo("evil.csv")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    device = tarfile.TarInfo("dev.csv")
    device.type = tarfile.CHRTYPE
    layer = make_layer(tmp_path / "l", {"ok.csv": b"1"}, extra=[link, device])
    found = extract_dataset([layer], tmp_path / "x")
    assert [p.name for p in found] == ["ok.csv"]
    assert not (tmp_path / "x" / "evil.csv").exists()


def test_bombs_are_bounded(tmp_path: Path) -> None:
    layer = make_layer(tmp_path / "l", {"big.csv": bytes(1 << 20)})
    with pytest.raises(InvalidInputError, match="expand to more than"):
        extract_dataset([layer], tmp_path / "x", limits=Limits(max_total_bytes=1 << 16))
    many = make_layer(tmp_path / "m", {f"{i}.csv": b"" for i in range(50)})
    with pytest.raises(InvalidInputError, match="more than 10 entries"):
        extract_dataset([many], tmp_path / "y", limits=Limits(max_entries=10))


def test_garbage_layer(tmp_path: Path) -> None:
    (tmp_path / "l").write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(InvalidInputError, match="not a readable"):
        extract_dataset([tmp_path / "l"], tmp_path / "x")


@settings(max_examples=80, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_member_names_never_escape(name: str) -> None:
    try:
        cleaned = safe_member_name(name)
    except InvalidInputError:
        return
    assert not cleaned.startswith(("/", "../")) and cleaned != ".."
