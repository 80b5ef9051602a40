"""Load any accepted manifest form into one typed model.

Accepted: the seed form (``computation_id``, ``algorithm.{type,uri,encrypted,kbs_resource_path}``,
``datasets[]``, top-level ``kbs``), Cocos' Go JSON form (``id``, ``source{…}``, per-resource
``kbs{url,enabled}``, ``hash`` as 32 integers, ``algo_type``, ``algo_args``), protojson camelCase,
and YAML of any of them.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from cococtl.errors import InvalidInputError, NotFoundError, printable
from cococtl.kbs.uri import parse_resource_path
from cococtl.manifest.infer import infer_source_type, no_type_reason, oci_reference

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
_MAX_MANIFEST_BYTES = 8 << 20


@dataclass(frozen=True)
class Resource:
    uri: str
    source_type: str
    encrypted: bool
    kbs_resource_path: str | None
    kbs_url: str | None
    hash: bytes  # 32 bytes; all zero when the manifest gives none (Go [32]byte)


@dataclass(frozen=True)
class Algorithm(Resource):
    algo_type: str
    algo_args: tuple[str, ...]


@dataclass(frozen=True)
class Dataset(Resource):
    filename: str
    decompress: bool


@dataclass(frozen=True)
class Manifest:
    computation_id: str
    name: str
    description: str
    algorithm: Algorithm
    datasets: tuple[Dataset, ...]
    result_consumers: tuple[str, ...]
    form: str
    notes: tuple[str, ...] = ()

    def kbs_urls(self) -> list[str]:
        urls = [r.kbs_url for r in (self.algorithm, *self.datasets) if r.encrypted and r.kbs_url]
        return list(dict.fromkeys(urls))


class ManifestError(InvalidInputError):
    """A manifest that does not validate; ``problems`` lists (JSON path, message)."""

    def __init__(self, problems: list[tuple[str, str]], *, source: str) -> None:
        self.problems = problems
        shown = "; ".join(f"{path}: {message}" for path, message in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(f"invalid manifest {source}: {shown}{more}", hint="run: cococtl manifest validate " + source)


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema shipped in the package (for the snake_case form)."""
    text = resources.files("cococtl.manifest").joinpath("schema.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def _snake_keys(value: Any) -> tuple[Any, bool]:
    """Convert protojson camelCase keys to snake_case, recursively; report whether any changed."""
    if isinstance(value, dict):
        changed = False
        converted: dict[str, Any] = {}
        for key, item in value.items():
            new_key = _CAMEL.sub(r"_\1", key).lower() if isinstance(key, str) else key
            new_item, item_changed = _snake_keys(item)
            changed = changed or item_changed or new_key != key
            converted[new_key] = new_item
        return converted, changed
    if isinstance(value, list):
        items = [_snake_keys(item) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    return value, False


def _drop_nulls(value: Any) -> Any:
    """Go's encoding/json treats an object member that is null as absent (it leaves the zero value)."""
    if isinstance(value, dict):
        return {key: _drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_nulls(item) for item in value]
    return value


# A manifest is a handful of levels deep and has at most thousands of values; YAML aliases may not expand it
# past this (a 500-byte "billion laughs" document would otherwise expand to 10^9 values in every later walk).
_MAX_DEPTH = 64
_MAX_EXPANDED_NODES = 200_000


def _depth(value: Any) -> int:
    """Nesting depth of a parsed document, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > _MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def _yaml_problem(root: Any) -> str | None:
    """Why a composed YAML node graph is refused (aliases expanding too far, recursion, depth), or None.

    Aliases share one node, so the expanded size is computed once per node (linear in the text)."""
    import yaml

    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    # Iterative post-order walk: (node, depth, children done?)
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if depth > _MAX_DEPTH:
            return f"nested deeper than {_MAX_DEPTH} levels"
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            sizes[id(node)] = 1
            continue
        if done:
            visiting.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[id(node)] > _MAX_EXPANDED_NODES:
                return f"its aliases expand it to more than {_MAX_EXPANDED_NODES} values (an alias bomb?)"
            continue
        if id(node) in sizes:
            continue
        if id(node) in visiting:
            return "an alias refers to a node that contains it (a recursive document)"
        visiting.add(id(node))
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children if id(child) not in sizes)
    return None


def _load_yaml(text: str) -> Any:
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problem = _yaml_problem(node)
        if problem is not None:
            raise _Refused(problem)
        return loader.construct_document(node)
    finally:
        loader.dispose()


class _Refused(Exception):
    pass


def parse_document(text: str, *, source: str = "<manifest>") -> Any:
    """JSON first (fast, exact), then YAML (a superset) for anything else; bounded in depth and expansion."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise ManifestError([("$", f"nested deeper than {_MAX_DEPTH} levels")], source=source) from None
    except json.JSONDecodeError as json_error:
        document = _parse_yaml(text, json_error, source)
    if _depth(document) > _MAX_DEPTH:
        raise ManifestError([("$", f"nested deeper than {_MAX_DEPTH} levels")], source=source)
    return document


def _parse_yaml(text: str, json_error: json.JSONDecodeError, source: str) -> Any:
    import yaml

    try:
        return _load_yaml(text)
    except _Refused as refused:
        raise ManifestError([("$", f"refused YAML: {refused}")], source=source) from None
    except RecursionError:
        raise ManifestError([("$", f"nested deeper than {_MAX_DEPTH} levels")], source=source) from None
    except (ValueError, TypeError, OverflowError) as error:  # e.g. a !!timestamp or !!int out of range
        raise ManifestError([("$", f"not valid YAML: {printable(error, 200)}")], source=source) from None
    except yaml.YAMLError as yaml_error:
        where = getattr(yaml_error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        looks_json = text.lstrip().startswith(("{", "["))
        detail = f"{json_error}" if looks_json else f"{getattr(yaml_error, 'problem', yaml_error)}{line}"
        detail = printable(detail, 300)
        raise ManifestError([("$", f"not valid JSON or YAML: {detail}")], source=source) from None


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def drop_unknown_keys(document: Any) -> list[str]:
    """Remove (in place) the keys the schema does not know, as Go's json.Unmarshal ignores unknown fields
    (Cocos reads manifests that way: cli/checksum.go, agent/cvms/api/grpc/client.go); return a note for each."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    notes: list[str] = []
    for _ in range(16):  # nested objects: each pass removes one level's unknown keys
        found = [e for e in validator.iter_errors(document) if e.validator == "additionalProperties"]
        if not found:
            break
        for error in found:
            known = set((error.schema or {}).get("properties", {}))
            if not isinstance(error.instance, dict):
                continue
            unknown = sorted(k for k in error.instance if k not in known)
            for key in unknown:
                del error.instance[key]
            if unknown:
                shown = ", ".join(printable(k, 40) for k in unknown[:5])
                notes.append(
                    f"{_json_path(error.absolute_path)}: unknown key(s) {shown} ignored, as Cocos ignores them"
                )
    return notes


def schema_problems(document: Any) -> list[tuple[str, str]]:
    """Every JSON Schema violation of the (snake_case) document, with its JSON path."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        path = _json_path(error.absolute_path)
        message = error.message
        if path.endswith(".hash"):
            message = (
                f"{printable(repr(error.instance), 80)} is not a SHA3-256 hash: use 32 integers, 64 hex digits or"
                " base64 of 32 bytes (in YAML, quote hex digits)"
            )
        problems.append((path, printable(message, 300)))
    return problems


def _go_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    """What Go's json.Unmarshal into Cocos' agent.Computation refuses but JSON Schema lets through.

    A hash element must be a JSON integer literal (Go decodes ``[32]byte`` elements with
    strconv.ParseUint, so ``1.0`` and ``1e0`` fail, while JSON Schema counts 1.0 as an integer), and a
    ``user_key`` is a Go ``[]byte``: standard base64 with padding (encoding/json ignores CR and LF in it).
    """
    problems: list[tuple[str, str]] = []
    resources = [("$.algorithm", document.get("algorithm"))]
    datasets = document.get("datasets")
    resources += [(f"$.datasets[{i}]", d) for i, d in enumerate(datasets if isinstance(datasets, list) else [])]
    keys = [(f"{path}.user_key", r.get("user_key")) for path, r in resources if isinstance(r, dict)]
    consumers = document.get("result_consumers")
    for index, consumer in enumerate(consumers if isinstance(consumers, list) else []):
        if isinstance(consumer, dict):
            keys.append((f"$.result_consumers[{index}].user_key", consumer.get("user_key")))
    for path, resource in resources:
        value = resource.get("hash") if isinstance(resource, dict) else None
        if isinstance(value, list) and any(isinstance(item, float) for item in value):
            problems.append((f"{path}.hash", "hash elements must be integers (Go rejects 1.0 for a byte)"))
        elif isinstance(value, list) and 0 < len(value) < 32:
            # Go decodes a short array into [32]byte zero-filled: that hash can never match, so Cocos fails later.
            problems.append(
                (
                    f"{path}.hash",
                    f"{len(value)} integers: Cocos reads them zero-filled to 32 bytes ([32]byte), so the hash could"
                    " never match; give all 32",
                )
            )
    for path, key in keys:
        if isinstance(key, str):
            try:
                base64.b64decode(key.replace("\r", "").replace("\n", ""), validate=True)
            except ValueError:
                problems.append((path, "not standard base64 (Go decodes user_key into []byte)"))
    return problems


def _decode_hash(value: Any) -> bytes:
    """The 32 bytes, read as Go reads [32]byte: a missing or null hash (or []) is 32 zero bytes, which no data
    ever matches (the run refuses it unless ``--allow-unverified``); extra integers are dropped."""
    if value is None:
        return bytes(32)
    if isinstance(value, list):
        return bytes(value[:32]).ljust(32, b"\0")  # [] is 32 zero bytes, as in Go (and never matches)
    text = str(value)
    if len(text) == 64:
        return bytes.fromhex(text)
    return base64.b64decode(text, validate=True)


@dataclass(frozen=True)
class Uploads:
    """Local files standing in for resources the manifest does not download (Cocos' upload mode:
    cvms-test ``-algo-path``/``-data-paths``, cocos-cli ``algo``/``data``)."""

    algorithm: Path | None = None
    datasets: tuple[tuple[str, Path], ...] = ()


def _kbs_url(
    resource: dict[str, Any], top: dict[str, Any] | None, default: str | None, *, go_form: bool = False
) -> tuple[str | None, bool]:
    """Per-resource KBS, else top-level, else the caller's default. Returns (url, enabled).

    In Cocos' own forms a ``kbs`` object without ``enabled`` is disabled (Go's zero value); the seed form keeps
    its meaning (a KBS object is enabled unless it says otherwise)."""
    own = resource.get("kbs")
    if isinstance(own, dict):
        enabled = bool(own.get("enabled", not go_form))
        if own.get("url"):
            return str(own["url"]).rstrip("/"), enabled
        if not enabled:
            return None, False
    if isinstance(top, dict) and top.get("url"):
        return str(top["url"]).rstrip("/"), bool(top.get("enabled", True))
    return (default.rstrip("/") if default else None), True


def _placeholder(raw: dict[str, Any]) -> dict[str, Any]:
    """A resource that waits for an upload (validation only: ``cococtl run`` needs the file)."""
    return {
        "uri": "",
        "source_type": "",
        "encrypted": False,
        "kbs_resource_path": None,
        "kbs_url": None,
        "hash": _decode_hash(raw.get("hash")),
    }


def _uploaded(upload: Path, path: str, notes: list[str]) -> dict[str, Any]:
    notes.append(f"{path}: uploaded from {upload} (plaintext, its hash checked like Cocos checks an upload)")
    return {
        "uri": f"file://{upload.resolve()}",
        "source_type": "file",
        "encrypted": False,
        "kbs_resource_path": None,
        "kbs_url": None,
    }


def _resource_fields(
    raw: dict[str, Any],
    path: str,
    top_kbs: dict[str, Any] | None,
    default_kbs: str | None,
    problems: list[tuple[str, str]],
    *,
    go_form: bool = False,
    upload: Path | None = None,
    upload_flag: str = "",
    notes: list[str] | None = None,
    for_run: bool = False,
) -> dict[str, Any]:
    source = raw.get("source") if isinstance(raw.get("source"), dict) else {}
    assert isinstance(source, dict)
    notes = notes if notes is not None else []
    uri = source.get("url") or raw.get("uri") or raw.get("url") or ""
    declared = source.get("type") or raw.get("type") or ""
    encrypted = bool(source.get("encrypted", raw.get("encrypted", False)))
    kbs_path = source.get("kbs_resource_path") or raw.get("kbs_resource_path") or None
    # Cocos downloads a resource only when it has a source URL AND its kbs.enabled is true (agent/service.go Algo
    # and Data); otherwise it waits for an upload. The seed form downloads whatever has a URL.
    own_kbs = raw.get("kbs")
    remote = bool(uri) and (not go_form or (isinstance(own_kbs, dict) and own_kbs.get("enabled") is True))
    if not remote:
        if upload is not None:
            return {**_uploaded(upload, path, notes), "hash": _decode_hash(raw.get("hash"))}
        if not for_run:
            notes.append(
                f"{path}: not downloaded ({'no kbs.enabled: true' if go_form and uri else 'no source'}):"
                f" Cocos waits for an upload; cococtl run needs {upload_flag}"
            )
            return _placeholder(raw)
        why = (
            "Cocos downloads a resource only with a source URL and kbs.enabled: true, and waits for an upload"
            if go_form
            else "no source URL"
        )
        problems.append(
            (
                f"{path}.source.url" if "source" in raw else f"{path}.uri",
                f"{why}: give the file with {upload_flag} (upload mode)"
                + (" or set kbs: {url, enabled: true}" if go_form and uri else ""),
            )
        )
    elif upload is not None:
        problems.append((path, f"the manifest downloads this resource ({uri}): drop {upload_flag}"))
    else:
        notes.append(f"{path}: downloaded from {uri}" + (" (source url + kbs.enabled: true)" if go_form else ""))
    source_type = declared or infer_source_type(uri)
    if uri and not source_type:
        problems.append(
            (
                f"{path}.uri",
                f"cannot infer the source type of {uri!r}: unsupported source URL format ({no_type_reason(uri)});"
                ' Cocos fails it the same way. Write the type: "type": "oci-image" (or docker://…), "s3", "gcs",'
                ' "https" or "http"',
            )
        )
    if source_type == "oci-image":
        uri = oci_reference(uri)
    kbs_url, kbs_enabled = _kbs_url(raw, top_kbs, default_kbs, go_form=go_form)
    if encrypted and source_type != "oci-image":
        if not kbs_path:
            problems.append((f"{path}.kbs_resource_path", "the resource is encrypted but names no KBS resource"))
        if not kbs_enabled:
            problems.append((f"{path}.kbs.enabled", "the resource is encrypted but its KBS is disabled"))
    raw_hash = raw.get("hash")
    if isinstance(raw_hash, list) and len(raw_hash) > 32:
        notes.append(f"{path}.hash: {len(raw_hash)} integers: only the first 32 count, as Go's [32]byte drops the rest")
    if kbs_path:
        try:
            kbs_path = parse_resource_path(kbs_path).path
        except InvalidInputError as error:
            problems.append((f"{path}.kbs_resource_path", error.message))
    return {
        "uri": uri,
        "source_type": source_type,
        "encrypted": encrypted,
        "kbs_resource_path": kbs_path,
        "kbs_url": kbs_url if kbs_enabled else None,
        "hash": _decode_hash(raw.get("hash")),
    }


def _default_filename(uri: str, index: int) -> str:
    name = uri.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    if name.endswith(".enc"):
        name = name[: -len(".enc")]
    if not name or name in (".", "..") or ":" in name:
        return f"dataset_{index}.csv"
    return name


def _looks_go_form(document: dict[str, Any]) -> bool:
    """Cocos' own forms carry ``id`` (or a dataset ``source``); the seed form names ``computation_id``."""
    datasets = document.get("datasets")
    sourced = isinstance(datasets, list) and any(isinstance(d, dict) and "source" in d for d in datasets)
    return "computation_id" not in document and ("id" in document or sourced)


def build_manifest(
    raw: Any,
    *,
    source: str,
    algo_type_override: str | None = None,
    default_kbs_url: str | None = None,
    uploads: Uploads | None = None,
) -> Manifest:
    """Validate a parsed document and normalise it into a :class:`Manifest` (raises ManifestError)."""
    document, camel = _snake_keys(_drop_nulls(raw))
    if not isinstance(document, dict):
        raise ManifestError([("$", "a manifest must be a JSON/YAML object")], source=source)
    ignored = drop_unknown_keys(document)
    if "algorithm" not in document and _looks_go_form(document):
        # Go decodes a missing algorithm as its zero value: no source, so the agent waits for an upload.
        document["algorithm"] = {}
    problems = schema_problems(document) + _go_problems(document)
    if problems:
        raise ManifestError(problems, source=source)
    for_run = uploads is not None
    uploads = uploads or Uploads()
    top_kbs = document.get("kbs")
    algorithm_raw = document["algorithm"]
    form = "protojson" if camel else ("go" if "source" in algorithm_raw or "id" in document else "seed")
    go_form = form != "seed"
    notes: list[str] = list(ignored)
    algo = _resource_fields(
        algorithm_raw,
        "$.algorithm",
        top_kbs,
        default_kbs_url,
        problems,
        go_form=go_form,
        upload=uploads.algorithm,
        upload_flag="--algorithm FILE",
        notes=notes,
        for_run=for_run,
    )
    algo_type = algo_type_override or algorithm_raw.get("algo_type") or ""
    if not algo_type:
        algo_type = "bin" if algo["source_type"] != "oci-image" else ""
    if algo["source_type"] == "oci-image" and not algo_type:
        problems.append(("$.algorithm.algo_type", "an OCI algorithm needs an explicit algo_type (or --algo-type)"))
    if algo_type == "docker" and algorithm_raw.get("algo_args"):
        # agent/algorithm/docker/docker.go NewAlgorithm takes no arguments: the image's own command runs.
        notes.append("$.algorithm.algo_args: not passed to a docker algorithm (Cocos runs the image's own command)")
    datasets = []
    uploaded = dict(uploads.datasets)
    for index, dataset_raw in enumerate(document.get("datasets") or []):
        declared_name = dataset_raw.get("filename")
        fields = _resource_fields(
            dataset_raw,
            f"$.datasets[{index}]",
            top_kbs,
            default_kbs_url,
            problems,
            go_form=go_form,
            upload=uploaded.pop(declared_name, None) if declared_name else None,
            upload_flag=f"--dataset {declared_name or 'NAME'}=FILE",
            notes=notes,
            for_run=for_run,
        )
        filename = declared_name or _default_filename(fields["uri"], index)
        if "/" in filename or filename in (".", ".."):
            problems.append((f"$.datasets[{index}].filename", f"{filename!r} must be a plain file name"))
        datasets.append(Dataset(**fields, filename=filename, decompress=bool(dataset_raw.get("decompress", False))))
    names = [d.filename for d in datasets if not d.decompress]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(("$.datasets", f"two datasets would both be written to datasets/{name}"))
    for name in uploaded:
        problems.append(("$.datasets", f"--dataset {name}=…: the manifest declares no dataset with that filename"))
    if problems:
        raise ManifestError(problems, source=source)
    return Manifest(
        computation_id=str(document.get("computation_id") or document.get("id") or "computation"),
        name=str(document.get("name", "")),
        description=str(document.get("description", "")),
        algorithm=Algorithm(**algo, algo_type=algo_type, algo_args=tuple(algorithm_raw.get("algo_args") or ())),
        datasets=tuple(datasets),
        result_consumers=tuple(str(c.get("user_key", "")) for c in document.get("result_consumers") or []),
        form=form,
        notes=tuple(notes),
    )


def read_manifest_text(path: Path) -> str:
    try:
        if path.stat().st_size > _MAX_MANIFEST_BYTES:
            raise InvalidInputError(f"manifest {path} is larger than {_MAX_MANIFEST_BYTES} bytes")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"manifest {path} does not exist") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"manifest {path} is not UTF-8 text") from None
    except IsADirectoryError:
        raise InvalidInputError(f"manifest {path} is a directory") from None


def load_manifest(
    path: Path,
    *,
    algo_type_override: str | None = None,
    default_kbs_url: str | None = None,
    uploads: Uploads | None = None,
) -> Manifest:
    """Read, validate and normalise the manifest at ``path``."""
    text = read_manifest_text(path)
    raw = parse_document(text, source=str(path))
    return build_manifest(
        raw,
        source=str(path),
        algo_type_override=algo_type_override,
        default_kbs_url=default_kbs_url,
        uploads=uploads,
    )
