"""Archive bombs and special entries (issue #16): a 1 GiB zip bomb and a 1 GiB tar+gzip layer are refused with
exit 3 and the figures, within 2 s and 128 MiB; links, devices and FIFOs are never created and are reported."""

from __future__ import annotations

import gzip
import io
import logging
import struct
import tarfile
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from cococtl.compute.extract import Limits, extract_algorithm, extract_dataset
from cococtl.compute.unzip import unzip_dataset
from cococtl.errors import InvalidInputError

GIB = 1 << 30
ZEROS = bytes(1 << 20)


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zip holding one 1 GiB file of zeros (about 1 MiB): one full-flushed deflate block of 1 MiB of zeros,
    repeated (each decodes on its own), written by hand because zlib needs seconds to compress 1 GiB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    data = block * (GIB >> 20) + b"\x03\x00"  # an empty final block ends the stream
    crc = 0
    for _ in range(GIB >> 20):
        crc = zlib.crc32(ZEROS, crc)
    name = b"zeros.csv"
    fields = struct.pack("<HHHHHIII", 20, 0, 8, 0, 0x21, crc, len(data), GIB)
    local = b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name
    central = (
        b"PK\x01\x02" + struct.pack("<H", 20) + fields
        + struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, 0) + name
    )  # fmt: skip
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    path.write_bytes(local + data + central + end)
    with zipfile.ZipFile(path) as archive:
        assert archive.infolist()[0].file_size == GIB
    assert path.stat().st_size < 2 << 20
    return path


@pytest.fixture(scope="module")
def tar_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tar+gzip layer holding one 1 GiB file of zeros (about 1 MiB compressed)."""
    path = tmp_path_factory.mktemp("bomb") / "layer.tar.gz"
    info = tarfile.TarInfo("data/zeros.csv")
    info.size = GIB
    member = gzip.compress(ZEROS, compresslevel=9, mtime=0)  # gzip members may be concatenated
    with open(path, "wb") as out:
        out.write(gzip.compress(info.tobuf(format=tarfile.PAX_FORMAT), mtime=0))
        out.write(member * (GIB >> 20))
        out.write(gzip.compress(bytes(1024), mtime=0))  # the end-of-archive blocks
    assert path.stat().st_size < 2 << 20
    return path


def _measured(call: object) -> tuple[InvalidInputError, float, int]:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(InvalidInputError) as caught:
            call()  # type: ignore[operator]
    finally:
        seconds = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return caught.value, seconds, peak


def test_zip_bomb_refused(zip_bomb: Path, tmp_path: Path) -> None:
    error, seconds, peak = _measured(lambda: unzip_dataset(zip_bomb, tmp_path / "out"))
    assert error.exit_code == 3 and "archive bomb" in error.message and str(GIB) in error.message
    assert seconds < 2 and peak < 128 << 20, (seconds, peak)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").rglob("*")) == []


def test_tar_gzip_bomb_refused(tar_bomb: Path, tmp_path: Path) -> None:
    for call in (lambda: extract_dataset([tar_bomb], tmp_path / "d"), lambda: extract_algorithm(
            [tar_bomb], tmp_path / "a", "python")):  # fmt: skip
        error, seconds, peak = _measured(call)
        assert error.exit_code == 3 and "archive bomb" in error.message and "compressed" in error.message
        assert seconds < 2 and peak < 128 << 20, (seconds, peak)


def test_limits_are_configurable(zip_bomb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCOCTL_MAX_EXPANSION_RATIO", "2000")
    monkeypatch.setenv("COCOCTL_MAX_EXTRACT_BYTES", str(2 * GIB))
    limits = Limits()
    assert (limits.max_ratio, limits.max_total_bytes) == (2000, 2 * GIB)
    monkeypatch.setenv("COCOCTL_MAX_EXPANSION_RATIO", "lots")
    with pytest.raises(InvalidInputError, match="COCOCTL_MAX_EXPANSION_RATIO"):
        Limits()


def test_compressible_but_genuine_data_passes(tmp_path: Path) -> None:
    """A small, very compressible file (under the 64 MiB ratio floor) is not a bomb."""
    path = tmp_path / "d.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.csv", bytes(8 << 20))
    assert [p.name for p in unzip_dataset(path, tmp_path / "out")] == ["zeros.csv"]


def _layer(path: Path, special: list[tarfile.TarInfo], files: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info in special:
            archive.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return path


def test_special_entries_are_reported_not_silently_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    entries = []
    for name, kind in (("main", tarfile.SYMTYPE), ("run.py", tarfile.LNKTYPE), ("dev.csv", tarfile.CHRTYPE),
                       ("pipe.csv", tarfile.FIFOTYPE)):  # fmt: skip
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
        entries.append(info)
    layer = _layer(tmp_path / "l", entries, {"app/algorithm.py": b"print(1)\n", "data.csv": b"1\n"})
    with caplog.at_level(logging.WARNING, logger="cococtl.extract"):
        extracted = extract_algorithm([layer], tmp_path / "a", "python")
        files = extract_dataset([layer], tmp_path / "d")
    assert extracted.algorithm.name == "algorithm.py"
    assert [s.split(" ", 1)[0] for s in extracted.skipped] == ["main", "run.py", "dev.csv", "pipe.csv"]
    assert "symbolic link -> /etc/passwd" in extracted.skipped[0]
    assert [f.name for f in files] == ["data.csv"]
    assert "skipped main (symbolic link -> /etc/passwd)" in caplog.text
    for name in ("main", "run.py", "dev.csv", "pipe.csv"):
        assert not (tmp_path / "a" / name).exists() and not (tmp_path / "d" / name).exists()


def test_only_special_entries_names_them(tmp_path: Path) -> None:
    link = tarfile.TarInfo("algorithm")
    link.type, link.linkname = tarfile.SYMTYPE, "/bin/sh"
    layer = _layer(tmp_path / "l", [link], {})
    with pytest.raises(InvalidInputError, match=r"skipped, not regular files: algorithm \(symbolic link"):
        extract_algorithm([layer], tmp_path / "a", "bin")


def test_zip_symlink_reported_and_corrupt_entries_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import stat

    path = tmp_path / "d.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", b"1")
        info = zipfile.ZipInfo("link.csv")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    with caplog.at_level(logging.WARNING, logger="cococtl.extract"):
        written = unzip_dataset(path, tmp_path / "out")
    assert [p.name for p in written] == ["a.csv"] and "skipped link.csv (symbolic link)" in caplog.text
    # An encrypted entry (flag bit 0) used to escape as RuntimeError (exit 1).
    data = bytearray(path.read_bytes())
    data[6] |= 1
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x01\x02"))
    data[central + 8] |= 1
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInputError, match="cannot be extracted"):
        unzip_dataset(path, tmp_path / "out2")
    assert not (tmp_path / "out2").exists() or list((tmp_path / "out2").rglob("*.csv")) == []
