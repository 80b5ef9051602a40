"""Run the staged algorithm by ``algo_type``: python, bin, wasm or docker (Cocos' runner types).

Each runs in the work directory with a clean environment (nothing inherited that could carry
secrets), a timeout, and its output streamed to a sink.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cococtl.compute.process import Completed, OutputSink, run_streaming
from cococtl.compute.workdir import WorkDir
from cococtl.errors import AlgorithmFailedError, ExternalToolError, InvalidInputError

ALGO_TYPES = ("python", "bin", "wasm", "docker")
_SETUP_TIMEOUT = 600.0
# What the python runner lets through to `pip install` (index, proxies, certificates); never to the algorithm.
_PIP_ENV_PREFIXES = ("PIP_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
_PIP_ENV_NAMES = ("HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")


@dataclass(frozen=True)
class ExecutionRequest:
    algo_type: str
    work: WorkDir
    args: tuple[str, ...] = ()
    timeout: float | None = None
    python: str | None = None
    reuse_venv: bool = False
    venv_cache: Path | None = None
    computation_id: str = "computation"
    wasm_runtime: str = "wasmtime"
    wasm_datasets: bool = False


@dataclass(frozen=True)
class ExecutionResult:
    algo_type: str
    exit_code: int
    seconds: float


def clean_environment(work: WorkDir, *, path_prefix: str = "") -> dict[str, str]:
    """The algorithm's whole environment: a fixed PATH, a private HOME/TMPDIR, UTF-8 locale."""
    path = "/usr/local/bin:/usr/bin:/bin"
    return {
        "PATH": f"{path_prefix}:{path}" if path_prefix else path,
        "HOME": str(work.scratch),
        "TMPDIR": str(work.scratch),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _pip_environment(work: WorkDir) -> dict[str, str]:
    env = clean_environment(work)
    for name, value in os.environ.items():
        if name.startswith(_PIP_ENV_PREFIXES) or name in _PIP_ENV_NAMES:
            env[name] = value
    return env


def _setup_step(argv: list[str], work: WorkDir, env: dict[str, str], sink: OutputSink, what: str) -> None:
    done = run_streaming(argv, cwd=work.root, env=env, sink=sink, timeout=_SETUP_TIMEOUT)
    if done.timed_out or done.returncode != 0:
        raise AlgorithmFailedError(f"{what} failed (exit {done.returncode})", hint="see the output above")


def _base_python(choice: str | None) -> str:
    if choice:
        found = shutil.which(choice)
        if not found:
            raise ExternalToolError(f"python interpreter {choice!r} not found")
        return found
    return getattr(sys, "_base_executable", None) or sys.executable


def _create_venv(python: str, target: Path, requirements: Path | None, work: WorkDir, sink: OutputSink) -> None:
    # --without-pip plus our own pip's --python is several times faster than ensurepip in every venv.
    _setup_step(
        [python, "-m", "venv", "--without-pip", str(target)],
        work,
        clean_environment(work),
        sink,
        "creating the python virtual environment",
    )
    if requirements is not None:
        _setup_step(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(target / "bin" / "python"),
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
                str(requirements),
            ],
            work,
            _pip_environment(work),
            sink,
            "pip install -r requirements.txt",
        )


def _python_venv(request: ExecutionRequest, sink: OutputSink) -> Path:
    python = _base_python(request.python)
    work = request.work
    requirements = work.requirements if work.requirements.is_file() else None
    if not request.reuse_venv:
        target = work.root / "venv"
        _create_venv(python, target, requirements, work, sink)
        return target
    digest = hashlib.sha256(python.encode() + b"\0" + (requirements.read_bytes() if requirements else b""))
    cache = request.venv_cache or Path.home() / ".cache" / "cococtl" / "venvs"
    target = cache / digest.hexdigest()[:32]
    if not (target / ".complete").exists():
        cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.rmtree(target, ignore_errors=True)
        _create_venv(python, target, requirements, work, sink)
        (target / ".complete").touch()
    return target


def _docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        probe = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, timeout=15, check=False
        )
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0 and bool(probe.stdout.strip())


def docker_archive_from_layout(layout: Path, destination: Path) -> None:
    """Turn a (decrypted) OCI layout into the docker-archive tarball a docker algorithm is, exactly as the Cocos
    agent does: ``skopeo copy oci:DIR docker-archive:FILE`` (pkg/oci/skopeo.go:114-128, called at
    agent/service.go:955-965). The archive's bytes are what the manifest's hash covers (agent/service.go:990-997),
    so they must come from skopeo itself (layers decompressed, entries at time 0, no RepoTags without a
    reference: containers/image docker/internal/tarfile). ``COCOCTL_SKOPEO`` picks the binary."""
    from cococtl.oci.skopeo import Skopeo

    # Cocos also passes --src-tls-verify=false --dest-tls-verify=false, which mean nothing for oci: and
    # docker-archive:; --insecure-policy is the same (pkg/oci/skopeo.go:116).
    Skopeo().copy(f"oci:{layout}", f"docker-archive:{destination}")


def _container_name(computation_id: str) -> str:
    """Cocos names the container agent_container-<id> (agent/algorithm/docker/docker.go:122); Docker allows
    only [a-zA-Z0-9][a-zA-Z0-9_.-]*, and the pid keeps concurrent runs apart."""
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]", "_", computation_id)[:64]
    return f"cococtl-{cleaned}-{os.getpid()}"


def _loaded_image(output: str) -> str | None:
    """The image ``docker load`` reports: "Loaded image: NAME:TAG" or "Loaded image ID: sha256:…" (an archive
    skopeo wrote without a reference has no tag)."""
    images = []
    for line in output.splitlines():
        label, sep, value = line.partition(": ")
        if sep and label in ("Loaded image", "Loaded image ID"):
            images.append(value.strip())
    return images[-1] if images else None


def _run_docker(request: ExecutionRequest, sink: OutputSink) -> Completed:
    """Cocos' docker runner (agent/algorithm/docker/docker.go:51-175) through the docker CLI: load the image
    archive (:67), run it with datasets/ and results/ bound at /cocos/datasets and /cocos/results (:104-122),
    wait (:155-162), stream its output (:131-153), remove the container and the image (:164-171).

    As in Cocos the container runs its image's own command: the runner passes no arguments to docker algorithms
    (agent/runner/service/service.go:71-72), so ``algo_args`` are not given to it. Deliberate differences: the
    image run is the one ``docker load`` reports (Cocos takes the last tagged image ``ImageList`` returns,
    docker.go:74-91, which misses the untagged image skopeo's archive holds), the container has no network and
    datasets are read-only, and a non-zero exit fails the run (Cocos ignores the exit status, docker.go:155-162).
    """
    if not _docker_available():
        raise ExternalToolError(
            "algorithm type 'docker' needs a Docker engine, and none is reachable",
            hint="start dockerd (or set DOCKER_HOST), or use a python, bin or wasm algorithm",
        )
    work = request.work
    try:
        loaded = subprocess.run(
            ["docker", "load", "-i", str(work.algorithm)],
            capture_output=True,
            text=True,
            timeout=_SETUP_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ExternalToolError(f"docker load did not finish within {_SETUP_TIMEOUT:g} s") from None
    image = _loaded_image(loaded.stdout)
    if loaded.returncode != 0 or image is None:
        raise AlgorithmFailedError(f"docker load failed: {loaded.stderr.strip() or loaded.stdout.strip()}")
    if request.args:
        sink("stderr", b"cococtl: algo_args are not passed to docker algorithms (as in Cocos)\n")
    name = _container_name(request.computation_id)
    try:
        return run_streaming(
            [
                "docker",
                "run",
                "--rm",
                "--name",
                name,
                "--network",
                "none",
                "-v",
                f"{work.datasets}:/cocos/datasets:ro",
                "-v",
                f"{work.results}:/cocos/results",
                image,
            ],
            cwd=work.root,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **_docker_env()},
            sink=sink,
            timeout=request.timeout,
        )
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True, timeout=60, check=False)


def _docker_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "HOME")}


WASM_RUNTIMES = ("wasmtime", "wasmedge")


def _wasm_argv(request: ExecutionRequest) -> list[str]:
    """Cocos runs ``wasmedge --dir .:results MODULE ARGS…`` (agent/algorithm/wasm/wasm.go); wasmtime (in-process
    library, default) is given the same single preopen and argv unless ``wasm_datasets`` asks for more."""
    module = str(request.work.algorithm)
    if request.wasm_runtime == "wasmedge":
        import shutil

        wasmedge = shutil.which("wasmedge")
        if wasmedge is None:
            raise ExternalToolError("--wasm-runtime wasmedge: wasmedge is not installed (not on PATH)")
        return [wasmedge, "--dir", ".:results", module, *request.args]
    if request.wasm_runtime != "wasmtime":
        raise InvalidInputError(f"--wasm-runtime must be one of {', '.join(WASM_RUNTIMES)}")
    try:
        import wasmtime  # noqa: F401
    except ImportError:
        raise ExternalToolError(
            "algorithm type 'wasm' needs the wasmtime runtime", hint="pip install 'cococtl[wasm]'"
        ) from None
    extra = ["--with-datasets"] if request.wasm_datasets else []
    return [sys.executable, "-m", "cococtl.compute.wasm_runner", *extra, module, *request.args]


def execute(
    request: ExecutionRequest, sink: OutputSink, *, on_start: Callable[[], None] | None = None
) -> ExecutionResult:
    """Run the algorithm; raise :class:`AlgorithmFailedError` (exit 9) on a non-zero exit or timeout."""
    work = request.work
    if request.algo_type not in ALGO_TYPES:
        raise InvalidInputError(
            f"unknown algorithm type {request.algo_type!r}: expected one of {', '.join(ALGO_TYPES)}"
        )
    if not work.algorithm.is_file():
        raise InvalidInputError("the work directory has no algorithm")
    os.chmod(work.algorithm, 0o700)
    if request.algo_type == "python":
        venv = _python_venv(request, sink)
        argv = [str(venv / "bin" / "python"), str(work.algorithm), *request.args]
        env = clean_environment(work, path_prefix=str(venv / "bin"))
        env["VIRTUAL_ENV"] = str(venv)
    elif request.algo_type == "bin":
        argv = [str(work.algorithm), *request.args]
        env = clean_environment(work)
    elif request.algo_type == "wasm":
        argv = _wasm_argv(request)
        env = clean_environment(work)
    else:
        if on_start is not None:
            on_start()
        done = _run_docker(request, sink)
        return _check(request, done)
    if on_start is not None:
        on_start()
    try:
        done = run_streaming(argv, cwd=work.root, env=env, sink=sink, timeout=request.timeout)
    except PermissionError as exc:
        raise AlgorithmFailedError(f"the algorithm could not be started: {exc.strerror}") from None
    except OSError as exc:
        raise AlgorithmFailedError(
            f"the algorithm could not be started: {exc.strerror or exc}",
            hint="a 'bin' algorithm must be an executable for this machine",
        ) from None
    return _check(request, done)


def _check(request: ExecutionRequest, done: Completed) -> ExecutionResult:
    if done.timed_out:
        raise AlgorithmFailedError(f"the algorithm timed out after {request.timeout:g} s and was stopped")
    if done.returncode != 0:
        how = f"was killed by signal {-done.returncode}" if done.returncode < 0 else f"exited with {done.returncode}"
        raise AlgorithmFailedError(f"the {request.algo_type} algorithm {how}")
    return ExecutionResult(request.algo_type, done.returncode, done.seconds)
