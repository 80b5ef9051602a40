"""Manifest forms, type inference (Cocos' own vectors), validation paths and fuzzing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cococtl.errors import InvalidInputError
from cococtl.manifest.infer import infer_source_type, oci_reference
from cococtl.manifest.model import ManifestError, Uploads, build_manifest, load_manifest

EXAMPLES = Path(__file__).parents[2] / "examples" / "manifests"
GO_HASH = bytes(
    [
        169,
        169,
        111,
        246,
        114,
        205,
        231,
        246,
        178,
        186,
        220,
        196,
        235,
        19,
        185,
        90,
        254,
        89,
        37,
        86,
        80,
        171,
        252,
        189,
        159,
        115,
        211,
        79,
        198,
        20,
        128,
        173,
    ]
)

# Cocos agent/resource_test.go TestInferSourceTypeDetailed at 747aaaa5, plus a few Go url.Parse corners.
INFER_VECTORS = [
    ("s3://bucket/key", "s3"),
    ("gs://bucket/key", "gcs"),
    ("https://example.com/file", "https"),
    ("http://example.com/file", "http"),
    ("docker://ubuntu", "oci-image"),
    ("oci:/path/to/dir", "oci-image"),
    ("ubuntu:latest", "oci-image"),
    ("myregistry.io/myimage:tag", "oci-image"),
    ("invalid-url-no-slash", ""),
    ("", ""),
    ("ftp://server/file", ""),
    ("localhost:5000/img:1", "oci-image"),
    ("HTTPS://EXAMPLE.COM/x", "https"),
    (":nothing", ""),
    ("foo:/bar", ""),
    ("file:///tmp/x.enc", "file"),
    ("/abs/path", "oci-image"),
]


@pytest.mark.parametrize(("uri", "expected"), INFER_VECTORS)
def test_infer_source_type(uri: str, expected: str) -> None:
    assert infer_source_type(uri) == expected


def test_bare_oci_references_get_docker_prefix() -> None:
    assert oci_reference("ubuntu:latest") == "docker://ubuntu:latest"
    assert oci_reference("oci:/dir:tag") == "oci:/dir:tag"
    assert oci_reference("docker://r/i") == "docker://r/i"


def test_seed_form() -> None:
    manifest = load_manifest(EXAMPLES / "seed.json")
    assert manifest.form == "seed"
    assert manifest.computation_id == "iris-seed"
    assert manifest.algorithm.source_type == "oci-image" and manifest.algorithm.algo_type == "python"
    assert manifest.algorithm.kbs_url == "http://127.0.0.1:8080"
    (dataset,) = manifest.datasets
    assert dataset.filename == "iris.csv" and dataset.kbs_resource_path == "default/key/dataset-key"


def test_go_form_hash_and_per_resource_kbs() -> None:
    manifest = load_manifest(EXAMPLES / "go.json")
    assert manifest.form == "go" and manifest.computation_id == "1"
    assert manifest.algorithm.source_type == "oci-image"  # inferred: the Go form omits the type
    assert manifest.datasets[0].hash == GO_HASH
    assert manifest.datasets[0].filename == "dataset_0.csv"
    assert manifest.result_consumers[0].startswith("MCow")


def test_protojson_camel_case() -> None:
    manifest = load_manifest(EXAMPLES / "protojson.json")
    assert manifest.form == "protojson"
    assert manifest.datasets[0].hash == GO_HASH
    assert manifest.datasets[0].source_type == "s3"
    assert manifest.algorithm.source_type == "gcs"
    assert manifest.algorithm.kbs_resource_path == "default/key/algo-key"


@pytest.mark.parametrize("name", ["seed.json", "go.json", "protojson.json"])
def test_yaml_of_every_form_is_the_same(tmp_path: Path, name: str) -> None:
    document = json.loads((EXAMPLES / name).read_text())
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(document))
    assert load_manifest(tmp_path / "m.yaml") == load_manifest(EXAMPLES / name)


def test_hex_hash_and_algo_type_override() -> None:
    raw = {"algorithm": {"uri": "https://h/a", "hash": GO_HASH.hex()}, "datasets": []}
    manifest = build_manifest(raw, source="t", algo_type_override="python")
    assert manifest.algorithm.hash == GO_HASH and manifest.algorithm.algo_type == "python"
    assert build_manifest(raw, source="t").algorithm.algo_type == "bin"


def test_kbs_resolution_order() -> None:
    raw: dict[str, Any] = {
        "kbs": {"url": "http://top:8080/"},
        "algorithm": {
            "uri": "https://h/a",
            "encrypted": True,
            "kbs_resource_path": "a/b/c",
            "kbs": {"url": "http://own:8080", "enabled": True},
        },
        "datasets": [{"uri": "https://h/d", "encrypted": True, "kbs_resource_path": "kbs:///a/b/d"}],
    }
    manifest = build_manifest(raw, source="t", default_kbs_url="http://default")
    assert manifest.algorithm.kbs_url == "http://own:8080"
    assert manifest.datasets[0].kbs_url == "http://top:8080"
    assert manifest.datasets[0].kbs_resource_path == "a/b/d"
    del raw["kbs"]
    assert build_manifest(raw, source="t", default_kbs_url="http://default").datasets[0].kbs_url == "http://default"


def _problems(raw: Any) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as caught:
        build_manifest(raw, source="t")
    return caught.value.problems


def test_every_problem_has_a_json_path() -> None:
    problems = _problems(
        {
            "algorithm": {"uri": "ftp://x/y", "encrypted": True},
            "datasets": [{"uri": "https://h/x", "encrypted": True, "kbs_resource_path": "a/b"}],
        }
    )
    paths = dict(problems)
    assert "unsupported source URL" in paths["$.algorithm.uri"]
    assert "names no KBS resource" in paths["$.algorithm.kbs_resource_path"]
    assert "3 segments" in paths["$.datasets[0].kbs_resource_path"]


def test_schema_errors() -> None:
    problems = _problems({"algorithm": {"uri": "https://h/a", "algo_type": "binary", "hash": [1]}, "bogus": 1})
    paths = [p for p, _ in problems]
    assert "$.algorithm.algo_type" in paths and "$.algorithm.hash" in paths
    assert "$" not in paths  # an unknown key is ignored, as Go's json.Unmarshal ignores it


def test_unknown_keys_are_ignored_with_a_note_like_go() -> None:
    manifest = build_manifest(
        {"algorithm": {"uri": "https://h/a", "hash": "11" * 32, "colour": "red"}, "bogus": 1}, source="m"
    )
    assert any("unknown key(s) bogus ignored" in note for note in manifest.notes)
    assert any(note.startswith("$.algorithm: unknown key(s) colour") for note in manifest.notes)


def test_algo_args_on_docker_are_noted_as_unused() -> None:
    # cocos agent/algorithm/docker/docker.go:39: NewAlgorithm(logger, events, algoFile, cmpID) takes no args.
    raw = {"algorithm": {"uri": "docker://r/i:1", "algo_type": "docker", "algo_args": ["-x"], "hash": "11" * 32}}
    notes = build_manifest(raw, source="m").notes
    assert any(n.startswith("$.algorithm.algo_args: not passed to a docker algorithm") for n in notes)
    raw["algorithm"]["algo_type"] = "bin"
    assert not any("algo_args" in n for n in build_manifest(raw, source="m").notes)


def test_oci_algorithm_needs_type_and_disabled_kbs() -> None:
    assert dict(_problems({"algorithm": {"uri": "docker://r/i:1"}}))["$.algorithm.algo_type"]
    raw = {
        "algorithm": {
            "source": {"url": "https://h/a", "encrypted": True, "kbs_resource_path": "a/b/c"},
            "kbs": {"enabled": False},
        }
    }
    # Cocos downloads only with kbs.enabled: true (agent/service.go Algo), otherwise it waits for an upload: the
    # manifest is valid (validate says so), and `run` needs the file.
    manifest = build_manifest(raw, source="m")
    assert any("Cocos waits for an upload" in note for note in manifest.notes)
    with pytest.raises(ManifestError) as caught:
        build_manifest(raw, source="m", uploads=Uploads())
    assert "kbs.enabled: true" in dict(caught.value.problems)["$.algorithm.source.url"]


def test_duplicate_dataset_names() -> None:
    problems = _problems(
        {"algorithm": {"uri": "https://h/a"}, "datasets": [{"uri": "https://h/x.csv"}, {"uri": "https://g/x.csv.enc"}]}
    )
    assert "datasets/x.csv" in dict(problems)["$.datasets"]


def test_not_json_nor_yaml(tmp_path: Path) -> None:
    (tmp_path / "m").write_text("{ not: [valid")
    with pytest.raises(ManifestError, match="not valid JSON or YAML"):
        load_manifest(tmp_path / "m")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
resource_like = st.fixed_dictionaries(
    {},
    optional={
        "uri": st.text(max_size=30),
        "type": st.sampled_from(["https", "s3", "oci-image", "x"]),
        "encrypted": st.booleans(),
        "kbs_resource_path": st.text(max_size=20),
        "hash": json_values,
        "source": json_values,
        "kbs": json_values,
        "algo_type": st.text(max_size=8),
        "filename": st.text(max_size=8),
    },
)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries({"algorithm": resource_like}, optional={"datasets": st.lists(resource_like, max_size=3)}),
    )
)
def test_garbage_never_crashes(document: Any) -> None:
    try:
        build_manifest(document, source="fuzz")
    except InvalidInputError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_infer_never_crashes(uri: str) -> None:
    assert infer_source_type(uri) in ("", "oci-image", "s3", "gcs", "https", "http", "file")


# Go's url.Parse as cococtl ports it (all of it is compared with Go itself in tests/integration/test_cocos_peer.py).
@pytest.mark.parametrize(
    ("uri", "error"),
    [
        ("1.2.3.4:5000/img", 'parse "1.2.3.4:5000/img": first path segment in URL cannot contain colon'),
        ("https://h:x/", 'parse "https://h:x/": invalid port ":x" after host'),
        ("https://h/%zz", 'parse "https://h/%zz": invalid URL escape "%zz"'),
        ("https://h /", 'parse "https://h /": invalid character " " in host name'),
        ("https://h/\t", 'parse "https://h/\\t": net/url: invalid control character in URL'),
        ("x#%g", 'parse "x#%g": invalid URL escape "%g"'),
        ("https://[1.2.3.4]/", 'parse "https://[1.2.3.4]/": invalid IP-literal'),
        (":x", 'parse ":x": missing protocol scheme'),
    ],
)
def test_go_url_parse_errors(uri: str, error: str) -> None:
    from cococtl.manifest.gourl import GoURLError, go_url_parse

    with pytest.raises(GoURLError) as caught:
        go_url_parse(uri)
    assert str(caught.value) == error


def test_go_url_parse_fields() -> None:
    from cococtl.manifest.gourl import go_url_parse

    parsed = go_url_parse("HTTPS://u:p%41@[fe80::1%25en0]:8443/a%2Fb?q#f%20g")
    assert (parsed.scheme, parsed.user, parsed.host) == ("https", "u:pA", "[fe80::1%en0]:8443")
    assert (parsed.path, parsed.raw_path, parsed.raw_query, parsed.fragment) == ("/a/b", "/a%2Fb", "q", "f g")
    assert go_url_parse("ubuntu:latest").opaque == "latest"


def test_go_json_rules_for_hash_elements_keys_and_nulls() -> None:
    document = json.loads((EXAMPLES / "go.json").read_text())
    document["name"] = None  # Go leaves the zero value for null
    manifest = build_manifest(document, source="null")
    assert manifest.name == ""
    document["datasets"][0]["hash"] = [1.0, *GO_HASH[1:]]
    with pytest.raises(ManifestError) as caught:
        build_manifest(document, source="float")
    assert caught.value.problems[0][0] == "$.datasets[0].hash"
    document["datasets"][0]["hash"] = list(GO_HASH)
    document["result_consumers"][0]["user_key"] = "not base64"
    with pytest.raises(ManifestError) as caught:
        build_manifest(document, source="key")
    assert caught.value.problems == [
        ("$.result_consumers[0].user_key", "not standard base64 (Go decodes user_key into []byte)")
    ]
