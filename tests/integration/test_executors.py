"""The algorithm runners against real interpreters and runtimes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cococtl.compute.executors import ExecutionRequest, execute
from cococtl.compute.workdir import WorkDir, work_directory
from cococtl.errors import AlgorithmFailedError, ExternalToolError, InvalidInputError
from tests.algorithms import BIN_ALGORITHM, PYTHON_ALGORITHM, WAT_ALGORITHM, build_helper_wheel, offline_requirements

pytestmark = pytest.mark.integration


class Sink:
    def __init__(self) -> None:
        self.chunks: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def __call__(self, name: str, chunk: bytes) -> None:
        self.chunks[name] += chunk


@pytest.fixture
def work(tmp_path: Path) -> Iterator[WorkDir]:
    with work_directory(tmp_path) as w:
        (w.datasets / "data.csv").write_text("a,b\n1,2\n")
        yield w


def test_python_with_local_wheel_requirements(work: WorkDir, tmp_path: Path) -> None:
    wheel = build_helper_wheel(tmp_path)
    work.algorithm.write_text(PYTHON_ALGORITHM)
    work.requirements.write_text(offline_requirements(wheel))
    sink = Sink()
    result = execute(ExecutionRequest("python", work, args=("x", "y")), sink)
    assert result.exit_code == 0
    assert (work.results / "summary.txt").read_text() == "bytes=8 args=x,y\n"
    assert b"python algorithm done" in sink.chunks["stdout"]
    assert b"a warning on stderr" in sink.chunks["stderr"]


def test_python_reuses_cached_venv(work: WorkDir, tmp_path: Path) -> None:
    wheel = build_helper_wheel(tmp_path)
    work.algorithm.write_text(PYTHON_ALGORITHM)
    work.requirements.write_text(offline_requirements(wheel))
    cache = tmp_path / "venvs"
    execute(ExecutionRequest("python", work, reuse_venv=True, venv_cache=cache), Sink())
    (venv,) = list(cache.iterdir())
    marker = (venv / ".complete").stat().st_mtime_ns
    execute(ExecutionRequest("python", work, reuse_venv=True, venv_cache=cache), Sink())
    assert (venv / ".complete").stat().st_mtime_ns == marker


def test_environment_is_clean(work: WorkDir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leak-me")
    monkeypatch.setenv("COCOCTL_ADMIN_TOKEN_FILE", "/secret")
    work.algorithm.write_text("#!/bin/sh\nenv > results/env.txt\n")
    execute(ExecutionRequest("bin", work), Sink())
    env = (work.results / "env.txt").read_text()
    assert "leak-me" not in env and "COCOCTL" not in env
    assert f"HOME={work.scratch}" in env


def test_bin_args_and_exit_code(work: WorkDir) -> None:
    work.algorithm.write_text(BIN_ALGORITHM)
    execute(ExecutionRequest("bin", work, args=("--n", "3")), Sink())
    assert (work.results / "bytes.txt").read_text().strip() == "8"
    assert (work.results / "args.txt").read_text() == "args: --n 3\n"
    work.algorithm.write_text("#!/bin/sh\necho failing >&2\nexit 3\n")
    sink = Sink()
    with pytest.raises(AlgorithmFailedError, match="exited with 3"):
        execute(ExecutionRequest("bin", work), sink)
    assert b"failing" in sink.chunks["stderr"]


def test_timeout_kills_the_process_group(work: WorkDir) -> None:
    work.algorithm.write_text("#!/bin/sh\nsleep 30 &\nsleep 30\n")
    with pytest.raises(AlgorithmFailedError, match=r"timed out after 0\.5 s"):
        execute(ExecutionRequest("bin", work, timeout=0.5), Sink())


def test_bin_that_is_not_executable_code(work: WorkDir) -> None:
    work.algorithm.write_bytes(os.urandom(64))
    with pytest.raises(AlgorithmFailedError, match="could not be started"):
        execute(ExecutionRequest("bin", work), Sink())


def test_wasm_module_writes_results(work: WorkDir) -> None:
    work.algorithm.write_text(WAT_ALGORITHM)
    sink = Sink()
    execute(ExecutionRequest("wasm", work), sink)
    assert sink.chunks["stdout"] == b"wasm ok\n"
    assert (work.results / "out.txt").read_bytes() == b"wasm ok\n"


def test_docker_without_engine_is_exit_8(work: WorkDir, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("docker"):
        monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    work.algorithm.write_bytes(b"not an archive")
    with pytest.raises(ExternalToolError, match="Docker engine"):
        execute(ExecutionRequest("docker", work), Sink())


def test_unknown_type(work: WorkDir) -> None:
    work.algorithm.write_text("x")
    with pytest.raises(InvalidInputError, match="unknown algorithm type"):
        execute(ExecutionRequest("binary", work), Sink())


ONE_PREOPEN_WAT = """(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (if (i32.eqz (call $prestat (i32.const 4) (i32.const 0))) (then (call $exit (i32.const 3))))
    (call $exit (i32.const 0))))
"""


@pytest.mark.parametrize(("datasets", "expect"), [(False, 0), (True, 9)])
def test_wasm_sees_only_what_wasmedge_gives_it_by_default(
    tmp_path: Path, cli: Any, datasets: bool, expect: int
) -> None:
    # cocos agent/algorithm/wasm/wasm.go: `wasmedge --dir .:results MODULE ARGS` — one preopen (fd 3).
    (tmp_path / "m.wat").write_text(ONE_PREOPEN_WAT)
    digest = hashlib.sha3_256(ONE_PREOPEN_WAT.encode()).hexdigest()
    document = {"algorithm": {"uri": f"file://{tmp_path / 'm.wat'}", "algo_type": "wasm", "hash": digest}}
    (tmp_path / "m.json").write_text(json.dumps(document))
    extra = ["--wasm-datasets"] if datasets else []
    cli("run", tmp_path / "m.json", "--results", tmp_path / "out", *extra, expect=expect)


def test_wasmedge_is_called_like_cocos_calls_it(tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    record = tmp_path / "argv.txt"
    fake = tools / "wasmedge"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$PWD" "$@" > {record}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "m.wasm").write_bytes(b"\0asm\1\0\0\0")
    digest = hashlib.sha3_256(b"\0asm\1\0\0\0").hexdigest()
    document = {
        "algorithm": {"uri": f"file://{tmp_path / 'm.wasm'}", "algo_type": "wasm", "hash": digest, "algo_args": ["x"]}
    }
    (tmp_path / "m.json").write_text(json.dumps(document))
    cli("run", tmp_path / "m.json", "--results", tmp_path / "out", "--wasm-runtime", "wasmedge")
    cwd, *argv = record.read_text().splitlines()
    assert argv == ["--dir", ".:results", f"{cwd}/algo", "x"]
    monkeypatch.setenv("PATH", "/nonexistent")
    result = cli("run", tmp_path / "m.json", "--results", tmp_path / "out2", "--wasm-runtime", "wasmedge", expect=8)
    assert "wasmedge is not installed" in result.stderr
