"""The attested-computation pipeline, step by step like a Cocos agent.

1. manifest (already loaded and validated by the caller) → 2. download every resource concurrently
→ 3. attest once per KBS and fetch all its keys in one session → 4. decrypt and verify (tag/HMAC,
then the manifest's SHA3-256) → 5. stage the work directory → 6. execute → 7. collect results.

The runner is independent of where bytes come from: fetchers, key sources and the OCI layer
decryptor are passed in, so the same pipeline serves the CLI, the demo and the tests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cococtl.compute.executors import ExecutionRequest, execute
from cococtl.compute.extract import extract_algorithm, extract_dataset
from cococtl.compute.keysource import KeySource
from cococtl.compute.process import OutputSink
from cococtl.compute.results import collect_results, write_results_zip
from cococtl.compute.states import State, StateLog, Status
from cococtl.compute.unzip import unzip_dataset
from cococtl.compute.workdir import WorkDir, work_directory
from cococtl.crypto import gcm
from cococtl.crypto.files import BackgroundDigest
from cococtl.errors import CococtlError, IntegrityError, InvalidInputError, OutputExistsError
from cococtl.fsutil import atomic_output


class ResourceSpec(Protocol):
    """What the runner needs to know about one manifest resource (algorithm or dataset)."""

    @property
    def uri(self) -> str: ...
    @property
    def source_type(self) -> str: ...
    @property
    def encrypted(self) -> bool: ...
    @property
    def kbs_resource_path(self) -> str | None: ...
    @property
    def kbs_url(self) -> str | None: ...
    @property
    def hash(self) -> bytes: ...


class DatasetSpec(ResourceSpec, Protocol):
    @property
    def filename(self) -> str: ...
    @property
    def decompress(self) -> bool: ...


class AlgorithmSpec(ResourceSpec, Protocol):
    @property
    def algo_type(self) -> str: ...
    @property
    def algo_args(self) -> Sequence[str]: ...


class ManifestSpec(Protocol):
    @property
    def computation_id(self) -> str: ...
    @property
    def algorithm(self) -> AlgorithmSpec: ...
    @property
    def datasets(self) -> Sequence[DatasetSpec]: ...


Fetch = Callable[[ResourceSpec, Path], Path]
"""Download one resource into a directory; return the file (or OCI layout directory) written."""

OciKids = Callable[[Path], list[str]]
"""The key ids (``kbs:///…``) the encrypted layers of an OCI layout need."""

OciDecrypt = Callable[[Path, Path, Callable[[str], bytes]], list[Path]]
"""Decrypt an OCI layout's layers into a directory with a kid→key resolver; return layer files in order."""


@dataclass(frozen=True)
class Peers:
    """How the run reaches the outside world."""

    fetch: Fetch
    keys: KeySource
    oci_kids: OciKids | None = None
    oci_decrypt: OciDecrypt | None = None


@dataclass(frozen=True)
class RunOptions:
    results_dir: Path
    force: bool = False
    keep_workdir: bool = False
    workdir_parent: Path | None = None
    timeout: float | None = None
    python: str | None = None
    reuse_venv: bool = False
    concurrency: int = 4
    allow_unverified: bool = False
    wasm_runtime: str = "wasmtime"
    wasm_datasets: bool = False


@dataclass
class ResourceReport:
    kind: str
    uri: str
    type: str
    bytes: int = 0
    sha3_256: str | None = None
    seconds: float = 0.0
    downloaded: Path | None = None
    verified: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "uri": self.uri,
            "type": self.type,
            "bytes": self.bytes,
            "sha3_256": self.sha3_256,
            "verified": self.verified,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class RunReport:
    computation_id: str
    states: StateLog
    resources: list[ResourceReport] = field(default_factory=list)
    attestation: list[dict[str, Any]] = field(default_factory=list)
    algorithm: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    workdir: Path | None = None
    error: CococtlError | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "computation_id": self.computation_id,
            "state": self.states.current.value,
            "states": self.states.sequence(),
            "resources": [r.to_json() for r in self.resources],
            "attestation": self.attestation,
            "algorithm": self.algorithm,
            "results": self.results,
            "seconds": round(self.seconds, 3),
        }
        if self.workdir is not None:
            document["workdir"] = str(self.workdir)
        if self.error is not None:
            document["error"] = {"message": self.error.message, "exit_code": int(self.error.exit_code)}
        return document


def _is_oci(resource: ResourceSpec) -> bool:
    return resource.source_type == "oci-image"


def _download_all(
    manifest: ManifestSpec, peers: Peers, work: WorkDir, concurrency: int
) -> list[tuple[ResourceSpec, ResourceReport]]:
    items: list[tuple[str, ResourceSpec]] = [("algorithm", manifest.algorithm)]
    items += [("dataset", dataset) for dataset in manifest.datasets]

    def one(index: int, kind: str, resource: ResourceSpec) -> tuple[ResourceSpec, ResourceReport]:
        report = ResourceReport(kind, resource.uri, resource.source_type)
        target = work.downloads / str(index)
        target.mkdir(mode=0o700)
        started = time.monotonic()
        report.downloaded = peers.fetch(resource, target)
        report.seconds = time.monotonic() - started
        if report.downloaded.is_file():
            report.bytes = report.downloaded.stat().st_size
        else:
            report.bytes = sum(p.stat().st_size for p in report.downloaded.rglob("*") if p.is_file())
        return resource, report

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="fetch") as pool:
        futures = [pool.submit(one, i, kind, res) for i, (kind, res) in enumerate(items)]
        return [future.result() for future in futures]


def _key_paths(downloads: list[tuple[ResourceSpec, ResourceReport]], peers: Peers) -> dict[str | None, list[str]]:
    """Every key the run needs, grouped by the KBS that holds it."""
    from cococtl.kbs.uri import parse_resource_uri

    wanted: dict[str | None, list[str]] = {}
    for resource, report in downloads:
        if not resource.encrypted:
            if _is_oci(resource) and peers.oci_kids is not None and report.downloaded is not None:
                if peers.oci_kids(report.downloaded):
                    raise InvalidInputError(
                        f"the image {resource.uri} has encrypted layers but the manifest marks it encrypted: false",
                        hint="set encrypted: true (and the KBS it needs) for this resource",
                    )
            continue
        if _is_oci(resource):
            if peers.oci_kids is None or report.downloaded is None:
                raise InvalidInputError("OCI image resources are not supported by this build")
            paths = [parse_resource_uri(kid).key for kid in peers.oci_kids(report.downloaded)]
        else:
            if not resource.kbs_resource_path:
                raise InvalidInputError(f"resource {resource.uri} is encrypted but has no kbs_resource_path")
            paths = [parse_resource_uri(resource.kbs_resource_path).key]
        bucket = wanted.setdefault(resource.kbs_url, [])
        bucket.extend(p for p in paths if p not in bucket)
    return wanted


def unverified_resources(manifest: ManifestSpec) -> list[str]:
    """URIs of the resources the manifest gives no (or an all-zero) hash for: Cocos fails them, since a zero
    hash never matches (agent/service.go compares the SHA3-256 of every received resource)."""
    resources: list[ResourceSpec] = [manifest.algorithm, *manifest.datasets]
    return [r.uri for r in resources if not any(r.hash)]


def check_outputs(options: RunOptions) -> None:
    """Refuse an unusable ``--results`` before anything is downloaded or run."""
    target = options.results_dir
    if target.exists() and not target.is_dir():
        raise OutputExistsError(f"--results {target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not options.force:
        raise OutputExistsError(f"--results {target} is not empty", hint="pass --force to replace files in it")


def check_hashes(manifest: ManifestSpec, options: RunOptions) -> list[str]:
    """Refuse unhashed resources (Cocos does) unless ``allow_unverified``; return them."""
    unverified = unverified_resources(manifest)
    if unverified and not options.allow_unverified:
        raise InvalidInputError(
            f"{len(unverified)} resource(s) have no hash ({', '.join(unverified[:3])}): Cocos refuses them"
            " (a missing hash never matches)",
            hint="give each resource its SHA3-256 (cococtl checksum FILE), or --allow-unverified for development",
        )
    return unverified


def _verify_hash(resource: ResourceSpec, digest: str, what: str) -> None:
    if not any(resource.hash):
        return  # allowed only with --allow-unverified (checked before the run starts)
    if resource.hash.hex() != digest:
        raise IntegrityError(
            f"{what} hash mismatch: the manifest expects SHA3-256 {resource.hash.hex()}, the data has {digest}",
            hint="nothing was executed",
        )


def _decrypt_blob(resource: ResourceSpec, blob: Path, key: bytes | None, target: Path) -> str:
    """Decrypt (or copy) a downloaded file to ``target``, verifying tag and manifest hash first."""
    digest = BackgroundDigest("sha3_256")
    try:
        with open(blob, "rb") as source, atomic_output(target, force=True, private=True) as sink:
            if key is None:
                while chunk := source.read(gcm.CHUNK_SIZE):
                    digest.update(memoryview(chunk))
                    sink.write(chunk)
            else:
                gcm.decrypt_seekable(key, source, sink, on_plaintext=digest.update)
            # Raising here (before the block ends) discards the temporary file: nothing unverified is staged.
            sha3 = digest.hexdigest()
            _verify_hash(resource, sha3, f"resource {resource.uri}")
    finally:
        digest.hexdigest()  # always stop the hashing thread
    return sha3


def _sha3_of(path: Path) -> str:
    digest = hashlib.sha3_256()
    with open(path, "rb") as handle:
        while chunk := handle.read(gcm.CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def run_computation(
    manifest: ManifestSpec,
    peers: Peers,
    options: RunOptions,
    *,
    sink: OutputSink,
    on_event: Callable[[State, Status, str], None] | None = None,
) -> RunReport:
    """Run the whole pipeline and return its report; a failure is recorded in ``report.error``.

    Ctrl-C propagates (after the work directory is removed).
    """
    started = time.monotonic()
    log = StateLog(listener=(lambda e: on_event(e.state, e.status, e.details)) if on_event else None)
    report = RunReport(manifest.computation_id, log)
    try:
        check_outputs(options)
        check_hashes(manifest, options)
        log.enter(State.RECEIVING_MANIFEST, Status.COMPLETED)
        with work_directory(options.workdir_parent, keep=options.keep_workdir) as work:
            if options.keep_workdir:
                report.workdir = work.root
            _pipeline(manifest, peers, options, work, report, sink)
        log.enter(State.COMPLETE, Status.COMPLETED)
        return report
    except CococtlError as error:
        report.error = error
        log.enter(State.FAILED, Status.FAILED, error.message)
        return report
    finally:
        report.seconds = time.monotonic() - started


def _pipeline(
    manifest: ManifestSpec, peers: Peers, options: RunOptions, work: WorkDir, report: RunReport, sink: OutputSink
) -> None:
    log = report.states
    log.enter(State.RECEIVING_ALGORITHM, Status.IN_PROGRESS, "downloading")
    downloads = _download_all(manifest, peers, work, options.concurrency)
    report.resources = [r for _, r in downloads]
    for resource, resource_report in downloads:
        resource_report.verified = any(resource.hash)

    keys: dict[tuple[str | None, str], bytes] = {}
    for kbs_url, paths in _key_paths(downloads, peers).items():
        batch = peers.keys.fetch(kbs_url, paths)
        keys.update({(kbs_url, path): key for path, key in batch.keys.items()})
        if batch.attestation is not None:
            report.attestation.append({**batch.attestation, "resources": len(paths), "requests": batch.requests})

    def key_for(resource: ResourceSpec, path: str) -> bytes:
        from cococtl.kbs.uri import parse_resource_uri

        return keys[(resource.kbs_url, parse_resource_uri(path).key)]

    _, algo_report = downloads[0]
    _stage_algorithm(manifest.algorithm, algo_report, peers, work, key_for)
    if manifest.datasets:
        log.enter(State.RECEIVING_DATA, Status.IN_PROGRESS)
    for (_, data_report), spec in zip(downloads[1:], manifest.datasets, strict=True):
        _stage_dataset(spec, data_report, peers, work, key_for)

    log.enter(State.RUNNING, Status.STARTING)
    request = ExecutionRequest(
        algo_type=manifest.algorithm.algo_type,
        work=work,
        args=tuple(manifest.algorithm.algo_args),
        timeout=options.timeout,
        python=options.python,
        reuse_venv=options.reuse_venv,
        computation_id=manifest.computation_id,
        wasm_runtime=options.wasm_runtime,
        wasm_datasets=options.wasm_datasets,
    )
    try:
        result = execute(request, sink, on_start=lambda: log.enter(State.RUNNING, Status.IN_PROGRESS))
    except CococtlError:
        report.algorithm = {"type": request.algo_type, "exit_code": None}
        raise
    report.algorithm = {"type": result.algo_type, "exit_code": result.exit_code, "seconds": round(result.seconds, 3)}
    log.enter(State.RUNNING, Status.COMPLETED)

    log.enter(State.CONSUMING_RESULTS, Status.READY)
    collected = collect_results(work.results, options.results_dir, force=options.force)
    report.results = {"directory": str(collected.directory), "zip": str(collected.zip_path), "files": collected.files}


def _oci_layers(
    resource: ResourceSpec,
    report: ResourceReport,
    peers: Peers,
    work: WorkDir,
    key_for: Callable[[ResourceSpec, str], bytes],
    name: str,
) -> list[Path]:
    if peers.oci_decrypt is None or report.downloaded is None:
        raise InvalidInputError("OCI image resources are not supported by this build")
    layers_dir = work.downloads / f"{name}-layers"
    layers_dir.mkdir(mode=0o700)
    return peers.oci_decrypt(report.downloaded, layers_dir, lambda kid: key_for(resource, kid))


def _copy_tree_into(tree: Path, root: Path) -> None:
    """Merge the regular files of ``tree`` into ``root`` (directories 0700), never through a link."""
    for source in sorted(tree.rglob("*")):
        if source.is_symlink() or not source.is_file():
            continue
        target = root / source.relative_to(tree)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if target.is_symlink() or target.is_dir():
            raise InvalidInputError(f"the image's {source.relative_to(tree)} clashes with the work directory layout")
        shutil.copy2(source, target)


def _stage_algorithm(
    spec: AlgorithmSpec,
    report: ResourceReport,
    peers: Peers,
    work: WorkDir,
    key_for: Callable[[ResourceSpec, str], bytes],
) -> None:
    assert report.downloaded is not None
    if _is_oci(spec):
        layers = _oci_layers(spec, report, peers, work, key_for, "algorithm")
        if spec.algo_type == "docker":
            # agent/service.go:955-965: a docker algorithm is the decrypted image as a docker-archive (skopeo);
            # the hash covers the archive (:990-997, checked at :471-478) and the archive becomes `algo` (:505-521).
            from cococtl.compute.executors import docker_archive_from_layout

            layout = work.downloads / "algorithm-layers" / "layout"  # where decrypt_layers writes the image
            if not (layout / "index.json").is_file():
                raise InvalidInputError("OCI docker algorithms need the decrypted image layout (not in this build)")
            archive = work.downloads / "algorithm-image.tar"
            docker_archive_from_layout(layout, archive)
            digest = _sha3_of(archive)
            _verify_hash(spec, digest, "algorithm (docker-archive of the image)")
            os.replace(archive, work.algorithm)
            report.sha3_256 = digest
            return
        tree = work.downloads / "algorithm-tree"
        extracted = extract_algorithm(layers, tree, spec.algo_type)
        digest = _sha3_of(extracted.algorithm)
        _verify_hash(spec, digest, "algorithm")
        # Like the agent (agent/service.go runComputation: `cp -r SourceDir/. currentDir`), the whole extracted
        # tree goes into the work directory, so a python algorithm keeps its helper modules.
        _copy_tree_into(tree, work.root)
        os.replace(extracted.algorithm, work.algorithm)
        if extracted.requirements is not None and extracted.requirements.exists():
            os.replace(extracted.requirements, work.requirements)
        report.sha3_256 = digest
        return
    key = key_for(spec, spec.kbs_resource_path or "") if spec.encrypted else None
    report.sha3_256 = _decrypt_blob(spec, report.downloaded, key, work.algorithm)


def _stage_dataset(
    spec: DatasetSpec,
    report: ResourceReport,
    peers: Peers,
    work: WorkDir,
    key_for: Callable[[ResourceSpec, str], bytes],
) -> None:
    assert report.downloaded is not None
    filename = Path(spec.filename).name
    if not filename or filename in (".", ".."):
        raise InvalidInputError(f"dataset {spec.uri} has no usable filename")
    staged = work.downloads / f"dataset-{filename}"
    if _is_oci(spec):
        layers = _oci_layers(spec, report, peers, work, key_for, f"dataset-{filename}")
        tree = work.downloads / f"dataset-{filename}-tree"
        files = extract_dataset(layers, tree)
        if len(files) == 1:
            os.replace(files[0], staged)
        else:
            # Cocos hashes the tree zipped by Go's archive/zip (internal/zip.go); write_results_zip writes it.
            write_results_zip(tree, staged, force=True, escaping="refuse")
        digest = _sha3_of(staged)
        _verify_hash(spec, digest, f"dataset {filename}")
    else:
        key = key_for(spec, spec.kbs_resource_path or "") if spec.encrypted else None
        digest = _decrypt_blob(spec, report.downloaded, key, staged)
    report.sha3_256 = digest
    if spec.decompress:
        unzip_dataset(staged, work.datasets)
        staged.unlink()
    else:
        os.replace(staged, work.datasets / filename)
