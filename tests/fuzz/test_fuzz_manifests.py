"""Manifests (cococtl.manifest.model and ``manifest validate``): random documents in every accepted form, YAML
texts, alias bombs and deep nesting. Only ManifestError/CococtlError, with printable messages."""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from cococtl.manifest.model import build_manifest, load_manifest, parse_document
from tests.fuzz.conftest import check_cli, expect_clean, fuzz_settings
from tests.fuzz.strategies import fields, json_values, text

uris = st.one_of(
    st.sampled_from(
        [
            "https://example.com/algo.enc",
            "s3://b/k",
            "gs://b/o",
            "file:///x",
            "docker://r/i:t",
            "oci:./img",
            "http://[::1",
            "ftp://x",
        ]
    ),
    text,
)
hashes = st.one_of(
    st.lists(st.integers(min_value=-1, max_value=300), min_size=31, max_size=33),
    st.text(alphabet="0123456789abcdefg", min_size=63, max_size=65),
    text,
    json_values,
)
source = fields({"url": uris, "type": st.sampled_from(["https", "oci-image", "s3", "x"]), "encrypted": st.booleans()})
resource = fields(
    {
        "uri": uris,
        "type": st.sampled_from(["http", "https", "s3", "gcs", "oci-image", "file", ""]),
        "encrypted": st.booleans(),
        "kbs_resource_path": st.sampled_from(["default/key/k", "a/b", "kbs:///a/b/c", "../x/y"]),
        "hash": hashes,
        "algo_type": st.sampled_from(["python", "bin", "wasm", "docker", ""]),
        "algo_args": st.lists(text, max_size=3),
        "filename": st.sampled_from(["a.csv", "../x", ".", "a/b"]) | text,
        "decompress": st.booleans(),
        "source": source,
        "kbs": fields({"url": text, "enabled": st.booleans()}),
        "user_key": text,
    }
)
manifests = fields(
    {
        "computation_id": text,
        "id": text,
        "name": text,
        "algorithm": resource,
        "datasets": st.lists(resource, max_size=3),
        "kbs": fields({"url": text, "enabled": st.booleans()}),
        "result_consumers": st.lists(fields({"user_key": text}), max_size=2),
        "computationId": text,
    }
)


def _check_text(text_: str, **kwargs: Any) -> None:
    def run() -> Any:
        return build_manifest(parse_document(text_, source="m"), source="m", **kwargs)

    expect_clean(run)


@fuzz_settings(500)
@given(document=manifests, override=st.sampled_from([None, "python", "bin", "x"]))
def test_documents(document: Any, override: str | None) -> None:
    _check_text(json.dumps(document), algo_type_override=override)


@fuzz_settings(200)
@given(document=manifests)
def test_yaml_documents(document: Any) -> None:
    _check_text(yaml.safe_dump(document, allow_unicode=True))


yaml_noise = st.lists(
    st.sampled_from(
        [
            "a: &x [1, 2]\n",
            "b: *x\n",
            "c: *y\n",
            "!!python/object:os.system x\n",
            "d: !!binary aGk=\n",
            "e: !!timestamp 2001-13-45\n",
            "f: 2001-12-14t21:59:43.10-05:00\n",
            "? [1, 2]\n: v\n",
            "g: !!int 0x\n",
            "--- \n",
            "%YAML 1.1\n",
            "h: {a: 1, a: 2}\n",
            "<<: *x\n",
            "i: \x1b[31mred\n",
            "j: \t\n",
            "algorithm:\n  uri: https://x/a\n",
            "  - [\n",
        ]
    )
    | text.map(lambda t: t + "\n"),
    max_size=8,
).map("".join)


@fuzz_settings(400)
@given(text_=yaml_noise)
def test_yaml_texts(text_: str) -> None:
    _check_text(text_)


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, levels):
        refs = ", ".join(f"*a{level - 1}" for _ in range(width))
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append(f"algorithm: {{uri: 'https://x/a', algo_args: *a{levels - 1}}}")
    return "\n".join(lines) + "\n"


def test_alias_bomb_refused_fast_and_small(cli: Any, tmp_path: Path) -> None:
    bomb = _alias_bomb()
    assert len(bomb) < 600
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb)
    tracemalloc.start()
    started = time.monotonic()
    error = expect_clean(lambda: load_manifest(path))
    seconds = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert getattr(error, "exit_code", None) == 3 and "alias" in str(error)
    assert seconds < 2 and peak < 128 << 20, (seconds, peak)
    result = cli("manifest", "validate", path, expect=3)
    check_cli(result)


def test_recursive_alias(tmp_path: Path) -> None:
    error = expect_clean(lambda: parse_document("a: &a [*a]\n"))
    # PyYAML cannot even compose a node that contains itself; either way it is exit 3.
    assert getattr(error, "exit_code", 3) == 3


@pytest.mark.parametrize("depth", [100, 900, 5000, 100_000])
def test_deep_json_and_yaml(cli: Any, tmp_path: Path, depth: int) -> None:
    for name, content in (("deep.json", "[" * depth + "]" * depth), ("deep.yaml", "a:\n" + "- " * depth + "x\n")):
        path = tmp_path / name
        path.write_text(content)
        error = expect_clean(lambda path=path: load_manifest(path))  # type: ignore[misc]
        assert getattr(error, "exit_code", None) == 3
    check_cli(cli("manifest", "validate", tmp_path / "deep.json", expect=3))


@fuzz_settings(60)
@given(document=manifests)
def test_validate_cli(cli: Any, scratch: Callable[[], Path], document: Any) -> None:
    path = scratch() / "m.json"
    path.write_text(json.dumps(document))
    check_cli(cli("manifest", "validate", path, expect=None), allowed=(0, 3))
