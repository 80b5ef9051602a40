"""Check an init-data document and the files it carries against what the guest reads.

- ``aa.toml``: the attestation agent's ``Config`` (guest-components attestation-agent/attestation-agent/src/config/
  mod.rs:47-59, 87-114; kbs.rs:13-23; coco_as.rs; kbs_protocol/src/keypair.rs:33-48 ``TeeKeyAlgorithm``, whose
  ``ML-KEM-768+A192KW`` needs the ``pqc-experimental`` feature).
- ``cdh.toml``: the confidential data hub's ``CdhConfig`` (confidential-data-hub/hub/src/config/mod.rs:32-133) with
  its ``[image]`` table, image-rs ``ImageConfig`` (image-rs/src/config.rs:35-171).
- ``policy.rego``: the kata agent policy, parsed and evaluated with the real Rego engine (regopy).

Unknown keys are warnings: serde ignores them, so they are usually typos.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cococtl.errors import CococtlError
from cococtl.initdata.core import data_path, load_document, structure_problems


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    level: str = "error"  # or "warning"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "level": self.level, "message": self.message}

    def __str__(self) -> str:
        return f"{self.level}: {self.path}: {self.message}"


Check = Callable[[Any], str | None]


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"must be a string, not {_type(value)}"


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, not {_type(value)}"


def _uint(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return f"must be a non-negative integer, not {_type(value)}"
    return None


def _url(value: Any) -> str | None:
    if not isinstance(value, str):
        return _string(value)
    if not re.match(r"^https?://[^/\s]+", value):
        return f"{value!r} is not an http:// or https:// URL"
    return None


def _pem(value: Any) -> str | None:
    if not isinstance(value, str):
        return _string(value)
    if "-----BEGIN CERTIFICATE-----" not in value:
        return "is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)"
    return None


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return _string(value)
        return None if value in choices else f"{value!r} is not one of {', '.join(choices)}"

    return check


def _resource_uri(value: Any) -> str | None:
    if not isinstance(value, str):
        return _string(value)
    from cococtl.kbs.uri import parse_resource_uri

    if not value.startswith(("kbs:", "kbs+")):
        return f"{value!r} must be a kbs:///repo/type/tag URI"
    try:
        parse_resource_uri(value)
    except CococtlError as exc:
        return exc.message
    return None


def _uri(value: Any) -> str | None:
    if not isinstance(value, str):
        return _string(value)
    if value.startswith(("kbs:", "kbs+")):
        return _resource_uri(value)
    if not value.startswith("file://"):
        return f"{value!r} must be a kbs:/// or file:// URI"
    return None


def _json_text(value: Any) -> str | None:
    if not isinstance(value, str):
        return _string(value)
    try:
        json.loads(value)
    except (json.JSONDecodeError, RecursionError) as exc:
        return f"is not valid JSON: {exc}"
    return None


def _string_list(check: Check) -> Check:
    def checker(value: Any) -> str | None:
        if not isinstance(value, list):
            return f"must be an array, not {_type(value)}"
        for index, item in enumerate(value):
            problem = check(item)
            if problem:
                return f"item {index}: {problem}"
        return None

    return checker


def _type(value: Any) -> str:
    return {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


Schema = dict[str, Any]  # name -> Check | Schema (a nested table) | ("array-of-tables", Schema)

# kbs_protocol keypair.rs ``TeeKeyAlgorithm``: the last one only in a build with kbs_protocol's
# ``pqc-experimental`` feature (attestation-agent forwards no feature for it; a default build refuses aa.toml).
EXPERIMENTAL_TEE_KEY_ALGORITHM = "ML-KEM-768+A192KW"
TEE_KEY_ALGORITHMS = ("ECDH-ES+A256KW-P256", "ECDH-ES+A256KW-P521", "RSA-OAEP-256", EXPERIMENTAL_TEE_KEY_ALGORITHM)
KBS_TABLE: Schema = {
    "url": _url,
    "cert": _pem,
    "tee_key_algorithm": _one_of(*TEE_KEY_ALGORITHMS),
}
AA_SCHEMA: Schema = {
    "token_configs": {"kbs": KBS_TABLE, "coco_as": {"url": _url}},
    "eventlog_config": {"init_pcr": _uint, "enable_eventlog": _bool},
    "log": {"level": _string},
}
AA_REQUIRED = {("token_configs", "kbs"): ("url",), ("token_configs", "coco_as"): ("url",)}

IMAGE_SCHEMA: Schema = {
    "work_dir": _string,
    "image_security_policy_uri": _uri,
    "image_security_policy": _json_text,
    "sigstore_config_uri": _uri,
    "sigstore_config": _string,
    "authenticated_registry_credentials_uri": _uri,
    "registry_configuration_uri": _uri,
    "registry_config": dict,  # a table whose shape image-rs owns; only its type is checked
    "max_concurrent_layer_downloads_per_image": _uint,
    "image_pull_proxy": {"https_proxy": _string, "http_proxy": _string, "no_proxy": _string},
    "extra_root_certificates": _string_list(_pem),
    "kbc": _string,
    "kbs_uri": _string,
}
CDH_SCHEMA: Schema = {
    "kbc": {"name": _string, "url": _string, "kbs_cert": _pem},
    "aa": {"aa_socket": _string},
    "credentials": ("array-of-tables", {"resource_uri": _resource_uri, "path": _string}),
    "image": IMAGE_SCHEMA,
    "socket": _string,
    "skip_sealed_secret_verification": _bool,
    "log": {"level": _string},
}
KNOWN_KBCS = ("cc_kbc", "offline_fs_kbc", "offline_sev_kbc", "sample_kbc")


def _walk(value: dict[str, Any], schema: Schema, path: str, problems: list[Problem]) -> None:
    for key, item in value.items():
        where = f"{path}.{key}"
        rule = schema.get(key)
        if rule is None:
            problems.append(Problem(where, "unknown key: the guest ignores it (a typo?)", "warning"))
        elif rule is dict:
            if not isinstance(item, dict):
                problems.append(Problem(where, f"must be a table, not {_type(item)}"))
        elif isinstance(rule, dict):
            if not isinstance(item, dict):
                problems.append(Problem(where, f"must be a table, not {_type(item)}"))
            else:
                _walk(item, rule, where, problems)
        elif isinstance(rule, tuple):
            if not isinstance(item, list) or not all(isinstance(entry, dict) for entry in item):
                problems.append(Problem(where, f"must be an array of tables, not {_type(item)}"))
            else:
                for index, entry in enumerate(item):
                    _walk(entry, rule[1], f"{where}[{index}]", problems)
        else:
            message = rule(item)
            if message:
                problems.append(Problem(where, message))


def _embedded_toml(text: str, path: str, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(path, f"not valid TOML (lines counted inside the value): {exc}"))
    except (RecursionError, ValueError) as exc:
        problems.append(Problem(path, f"not valid TOML: {type(exc).__name__}"))
    return None


def check_aa_toml(text: str, path: str) -> list[Problem]:
    problems: list[Problem] = []
    document = _embedded_toml(text, path, problems)
    if document is None:
        return problems
    _walk(document, AA_SCHEMA, path, problems)
    tokens = document.get("token_configs")
    if isinstance(tokens, dict):
        for name in ("kbs", "coco_as"):
            table = tokens.get(name)
            if isinstance(table, dict) and "url" not in table:
                problems.append(Problem(f"{path}.token_configs.{name}.url", "missing (required)"))
        kbs = tokens.get("kbs")
        if isinstance(kbs, dict) and kbs.get("tee_key_algorithm") == EXPERIMENTAL_TEE_KEY_ALGORITHM:
            problems.append(
                Problem(
                    f"{path}.token_configs.kbs.tee_key_algorithm",
                    "experimental: only an attestation agent built with kbs_protocol's pqc-experimental feature "
                    "reads this aa.toml (a default build refuses it), and only a Trustee built with "
                    "pqc-experimental answers the key",
                    "warning",
                )
            )
        if not any(isinstance(tokens.get(n), dict) for n in ("kbs", "coco_as")):
            problems.append(Problem(f"{path}.token_configs", "no [token_configs.kbs] table: no token", "warning"))
    else:
        problems.append(
            Problem(f"{path}.token_configs", "missing: the agent falls back to the kernel command line", "warning")
        )
    return problems


def check_cdh_toml(text: str, path: str) -> list[Problem]:
    problems: list[Problem] = []
    document = _embedded_toml(text, path, problems)
    if document is None:
        return problems
    _walk(document, CDH_SCHEMA, path, problems)
    kbc = document.get("kbc")
    if "kbc" not in document:
        problems.append(Problem(f"{path}.kbc", "missing (required: [kbc] with name and url)"))
    elif isinstance(kbc, dict):
        name = kbc.get("name")
        if "name" not in kbc:
            problems.append(Problem(f"{path}.kbc.name", "missing (required, e.g. cc_kbc)"))
        elif isinstance(name, str) and name not in KNOWN_KBCS:
            problems.append(Problem(f"{path}.kbc.name", f"{name!r} is not a KBC the CDH knows", "warning"))
        if name == "cc_kbc":
            url = kbc.get("url", "")
            message = _url(url) if url else "cc_kbc needs the KBS URL"
            if message:
                problems.append(Problem(f"{path}.kbc.url", message))
    credentials = document.get("credentials")
    if isinstance(credentials, list):
        for index, entry in enumerate(credentials):
            if isinstance(entry, dict):
                for key in ("resource_uri", "path"):
                    if key not in entry:
                        problems.append(Problem(f"{path}.credentials[{index}].{key}", "missing (required)"))
    if document.get("skip_sealed_secret_verification") is True:
        problems.append(
            Problem(f"{path}.skip_sealed_secret_verification", "sealed secrets will not be verified", "warning")
        )
    return problems


def check_agent_policy(text: str, path: str) -> list[Problem]:
    """Parse the kata agent policy (``package agent_policy``) with regopy, then evaluate it.

    ``cococtl.policy.rego.check_policy`` is for Trustee policies (it insists on ``package policy``), so its parser
    is used directly. A policy that parses but that regopy (rego-cpp) cannot evaluate is only a warning: rego-cpp
    1.5 fails on policies kata's genpolicy writes ("Unable to unify due to cycle"), which regorus, the engine in
    kata-agent, evaluates.
    """
    from cococtl.policy.rego import _interpreter, _load, evaluate

    if not re.search(r"^\s*package\s+agent_policy\s*$", text, re.MULTILINE):
        return [Problem(path, "the kata agent policy must declare 'package agent_policy'")]
    try:
        _load(_interpreter(), text, path)
    except CococtlError as exc:
        return [Problem(path, exc.message.removeprefix(f"{path}: "))]
    try:
        evaluate(text, "data.agent_policy", name=path)
    except CococtlError as exc:
        first = exc.message.removeprefix(f"{path}: ").splitlines()
        detail = " ".join(line.strip() for line in first[:4] if line.strip())
        return [Problem(path, f"parses, but regopy could not evaluate it: {detail}", "warning")]
    return []


FILE_CHECKS: dict[str, Callable[[str, str], list[Problem]]] = {
    "aa.toml": check_aa_toml,
    "cdh.toml": check_cdh_toml,
    "policy.rego": check_agent_policy,
}


def validate(raw: bytes, *, name: str = "init-data") -> list[Problem]:
    """Every problem in the document and its embedded files, each with its path."""
    try:
        document = load_document(raw, name=name)
    except CococtlError as exc:
        return [Problem("(document)", exc.message)]
    problems = [Problem(path, message) for path, message in structure_problems(document)]
    for key in document:
        if key not in ("version", "algorithm", "data"):
            problems.append(Problem(key, "unknown top-level key: the guest ignores it", "warning"))
    data = document.get("data")
    if isinstance(data, dict):
        for key, value in data.items():
            check = FILE_CHECKS.get(key)
            if not isinstance(value, str):
                continue
            if check is not None:
                problems.extend(check(value, data_path(key)))
            else:
                problems.append(
                    Problem(
                        data_path(key),
                        "kata-agent reads only aa.toml, cdh.toml and policy.rego; this entry is measured"
                        " and reaches init_data_claims, nothing more",
                        "warning",
                    )
                )
    return problems
