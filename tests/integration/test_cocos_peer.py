"""cococtl against Cocos' own Go code: the peer in tests/peers/cocos links github.com/ultravioletrs/cocos v0.8.2.

Three things cococtl reimplements are judged by Go: source-type inference (Go's ``net/url.Parse`` plus the
inference rule), manifest reading (``json.Unmarshal`` into Cocos' ``agent.Computation``, as cocos-cli does)
and directory zips (Cocos' ``internal.ZipDirectoryToMemory``, whose SHA3-256 cocos-cli's own ``checksum``
command prints). Where cococtl refuses what Go reads, a test names the later failure in Cocos that it anticipates.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import os
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cococtl.compute.results import FIXED_MTIME, go_zip_directory, write_results_zip
from cococtl.errors import InvalidInputError
from cococtl.manifest.gourl import GoURLError, go_url_parse
from cococtl.manifest.infer import infer_source_type
from cococtl.manifest.model import ManifestError, build_manifest, parse_document
from tests.peer_tools import peer_binary, peer_json

pytestmark = pytest.mark.integration
PEER = "cocos"
ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples" / "manifests"
VECTORS = ROOT / "tests" / "vectors" / "cocos"
DIGEST = "a" * 64


# ---------------------------------------------------------------------------------------------------------
# Source-type inference: cococtl's Python port of url.Parse and its rule, URI by URI against Go.

INFER_URIS = [
    # https / http
    "https://example.com/file",
    "http://example.com/file",
    "HTTPS://EXAMPLE.COM/x",
    "Http://h/x",
    "https://h:443/x",
    "https://h:/x",
    "https://h:x/",
    "https://h:99999/x",
    "https://h:-1/",
    "https://h:1:2/",
    "http://a:b:c/",
    "https://h:80a/",
    "https://:80/",
    "https://@h/",
    "https://user:pass@h/x",
    "https://us er@h/",
    "https://u@h@h2/",
    "https://u%zz@h/",
    "https://ü@h/",
    "https://[::1]/x",
    "https://[::1]:8443/x",
    "https://[::1]:/x",
    "https://[::1%25lo]/",
    "https://[fe80::1%25en0]:80/",
    "https://[fe80::1%25]/",
    "https://[fe80::1%25%zz]/",
    "https://[1.2.3.4]/",
    "https://[::1/",
    "https://a[::1]/",
    "https://[::1]x/",
    "http://[::1]:80:80/",
    "https://[zz::1]/",
    "https://[]/",
    "https://[::ffff:1.2.3.4]/",
    "https://[::1.2.3.4]/",
    "https://[::ffff:01.2.3.4]/",
    "https://[1::2::3]/",
    "https://[12345::]/",
    "https://[FE80::1]/",
    "https://[fe80::1%25a%25b]/",
    "https://[::1%25%41]/",
    "https://[::1%25%0A]/",
    "https://[::1%25%20]/",
    "https://[::1%25 ]/",
    "https://[::1%25é]/",
    "https://[1.2.3.4%25eth0]/",
    "http://[::1]%41/",
    "http://a:b:c@h/",
    "http://%41@h/",
    "http://a%3Ab@h/",
    "http://h/%C3",
    "https://h/%é",
    "https://h/%zé",
    "https://h%C3/",
    "https://h/a b",
    "https://h /x",
    "https://h/%zz",
    "https://h/%2",
    "https://h/%41",
    "https://h/%2F",
    "https://%41/",
    "https://%C3%A9/",
    "https://é.com/",
    "https://h/é",
    "https://h\\x/",
    "https://<h>/",
    'https://h"/',
    "https://h/x?q=%zz",
    "https://h/x#%zz",
    "https://h/x#a%20b",
    "https://h/x#a b",
    "https://h/x#frag",
    "https://h?",
    "https://h/x?a?",
    "https://h/x\t",
    "https://h/\x7f",
    "https://h/x\n",
    "https://h/x#\x01",
    "http://",
    "http:",
    "http:/x",
    "http:x",
    "https://example.com/data.csv?X-Amz-Signature=abc&x=%zz",
    "https://h:8443",
    # s3 / gs
    "s3://bucket/key",
    "S3://bucket/key",
    "s3://bucket",
    "s3://",
    "s3:bucket/key",
    "s3://b/k%zz",
    "s3://b k/",
    "s3://bucket/path with space",
    "gs://bucket/key",
    "GS://b/k",
    "gs://b:1/k",
    "gs://b:x/k",
    "gs:/b",
    # OCI: docker:// and oci:
    "docker://ubuntu",
    "docker://ubuntu:latest",
    "docker://127.0.0.1:5000/img:v1",
    f"docker://reg/img@sha256:{DIGEST}",
    "docker://reg:5000/img@sha256:abc",
    "docker://[::1]:5000/img",
    "docker://reg:port/img",
    "oci:/path/to/dir",
    "oci:/dir:tag",
    "oci:dir:tag",
    "oci:relative",
    "OCI:/x",
    "docker-archive:/x.tar",
    "dir:/x",
    "containers-storage:img",
    # bare registry references
    "ubuntu:latest",
    "ubuntu",
    "library/ubuntu",
    "myregistry.io/myimage:tag",
    "localhost:5000/img:1",
    "localhost/img",
    "1.2.3.4:5000/img:tag",
    "1.2.3.4/img:tag",
    "127.0.0.1:5000/encrypted-iris:v1",
    "[::1]:5000/img",
    f"reg.io/img@sha256:{DIGEST}",
    f"img@sha256:{DIGEST}",
    "ubuntu@sha256:abc",
    "ghcr.io/org/img:1.0",
    f"ghcr.io/org/img:1.0@sha256:{DIGEST}",
    "registry-1.docker.io/library/ubuntu:22.04",
    "my_registry/img",
    "UPPER/Img:Tag",
    "ubuntu:latest#frag",
    "ubuntu:latest?x=1",
    "ubuntu:?x",
    "ubuntu:#x",
    "ubuntu:",
    # schemes, empty parts, paths
    "invalid-url-no-slash",
    "",
    "ftp://server/file",
    "foo:/bar",
    ":nothing",
    "::",
    ":/x",
    "a:",
    "a:b",
    "a:/b",
    "a://b",
    "1a:b",
    "a1+.-:b",
    "a_b:c",
    "üb:er",
    "ub:ër",
    "mailto:x@y",
    "/abs/path",
    "./rel/path",
    "rel/path",
    "rel",
    "C:\\Users\\x",
    "C:/Users/x",
    "//host/path",
    "///x",
    "*",
    "?x",
    "#x",
    "a b",
    "a b/c",
    "a\tb",
    "%zz",
    "a%zz/b",
    "a/%zz",
    "%41/b",
    "%e",
    # file:// (a cococtl extra; Go's parse is still the judge of what parses)
    "file:///tmp/x.enc",
    "file://localhost/tmp/x",
    "file:/tmp/x",
    "FILE:///x",
    "file:relative",
    "file:///tmp/%zz",
    "file://h:x/",
]
URL_FIELDS = (
    "scheme",
    "opaque",
    "user",
    "host",
    "path",
    "raw_path",
    "omit_host",
    "force_query",
    "raw_query",
    "fragment",
    "raw_fragment",
)


@pytest.fixture(scope="module")
def go_infer() -> dict[str, dict[str, Any]]:
    results = peer_json(PEER, "infer", stdin=json.dumps(INFER_URIS).encode())
    assert [r["uri"] for r in results] == INFER_URIS
    return {r["uri"]: r for r in results}


def test_inference_table_is_large_and_distinct() -> None:
    assert len(INFER_URIS) >= 100 and len(set(INFER_URIS)) == len(INFER_URIS)


INFER_CASES = [pytest.param(uri, id=f"u{i:03d}") for i, uri in enumerate(INFER_URIS)]


def test_uris_go_cannot_parse_say_why_and_how_to_write_the_type(tmp_path: Path) -> None:
    # "host:port/repo": Go's url.Parse refuses a colon in the first path segment, so Cocos infers no type.
    from cococtl.errors import InvalidInputError
    from cococtl.manifest.model import load_manifest

    for uri in ("1.2.3.4:5000/img:tag", "127.0.0.1:5000/encrypted-iris:v1", "[::1]:5000/img"):
        assert infer_source_type(uri) == "", uri
        (tmp_path / "m.json").write_text(json.dumps({"algorithm": {"uri": uri, "hash": "11" * 32}}))
        with pytest.raises(InvalidInputError) as caught:
            load_manifest(tmp_path / "m.json")
        text = str(caught.value) + " ".join(str(p) for p in getattr(caught.value, "problems", []))
        assert "url.Parse refuses it" in text and '"type": "oci-image"' in text, text


@pytest.mark.parametrize("uri", INFER_CASES)
def test_inference_matches_go(uri: str, go_infer: dict[str, dict[str, Any]]) -> None:
    go = go_infer[uri]
    expected = go["type"]
    if go["url"] is not None and go["url"]["scheme"] == "file" and uri[len("file:") :].startswith("//"):
        expected = "file"  # cococtl's file:// extra
    assert infer_source_type(uri) == expected, go


@pytest.mark.parametrize("uri", INFER_URIS, ids=[f"u{i:03d}" for i in range(len(INFER_URIS))])
def test_url_parse_matches_go(uri: str, go_infer: dict[str, dict[str, Any]]) -> None:
    go = go_infer[uri]
    error = ""
    try:
        parsed = go_url_parse(uri)
    except GoURLError as caught:
        error = str(caught)
    if error:
        assert go["parse_error"] is not None, f"Go parses {uri!r} as {go['url']}, cococtl says {error}"
        if "ParseAddr" in go["parse_error"]:  # netip's own wording is approximated
            assert error.split("ParseAddr")[0] == go["parse_error"].split("ParseAddr")[0]
        else:
            assert error == go["parse_error"]
        return
    assert go["parse_error"] is None, f"Go rejects {uri!r} ({go['parse_error']}), cococtl parses it"
    assert {field: _as_go_json(getattr(parsed, field)) for field in URL_FIELDS} == go["url"]


def _as_go_json(value: Any) -> Any:
    """Go's json.Marshal writes each invalid UTF-8 byte of a string as U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


def _fuzz_uris(count: int) -> list[str]:
    """Seeded random URIs built from the pieces url.Parse cares about (reproducible, no hypothesis database)."""
    pieces = [
        *"aZ09:/?#[]@%!$&'()*+,;=.-_~ \t\x7f\"<>\\",
        *("é", "ü", "%25", "%zz", "%4", "%41", "%C3", "http", "https", "s3", "gs", "docker", "oci", "file"),
        *("://", "//", ":80", ":x", "[::1]", "[fe80::1%25en0]", "1.2.3.4", "u:p@", "localhost", "img:tag"),
    ]
    host_pieces = [*"aZ09:.-_~%!$&'()*+,;=<>\"@[] ", "é", "%25", "%zz", "%41", "%C3", ":80", ":x", "[::1]", "u:p@"]
    host_pieces += ["[fe80::1%25en0]", "[1.2.3.4]", "[::ffff:1.2.3.4]", "1.2.3.4", "localhost", "%2", "]:", "[:"]
    schemes = ["http", "https", "s3", "gs", "docker", "oci", "file", "x", ""]
    rng = random.Random(20261201)
    uris = ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12))) for _ in range(count // 2)]
    for _ in range(count - count // 2):
        host = "".join(rng.choice(host_pieces) for _ in range(rng.randrange(0, 6)))
        path = "".join(rng.choice(pieces[:40]) for _ in range(rng.randrange(0, 5)))
        uris.append(f"{rng.choice(schemes)}://{host}/{path}")
    return uris


def test_fuzzed_uris_parse_and_infer_like_go() -> None:
    uris = list(dict.fromkeys(_fuzz_uris(3000)))
    results = peer_json(PEER, "infer", stdin=json.dumps(uris).encode())
    mismatches: list[tuple[str, Any, Any]] = []
    for uri, go in zip(uris, results, strict=True):
        try:
            parsed = go_url_parse(uri)
        except GoURLError as caught:
            ours = str(caught)
            theirs = go["parse_error"] or ""
            if "ParseAddr" in theirs:
                ours, theirs = ours.split("ParseAddr")[0], theirs.split("ParseAddr")[0]
            if ours != theirs:
                mismatches.append((uri, ours, go["parse_error"]))
            elif not theirs.endswith("first path segment in URL cannot contain colon") and infer_source_type(uri):
                mismatches.append((uri, infer_source_type(uri), ""))
            continue
        fields = {field: _as_go_json(getattr(parsed, field)) for field in URL_FIELDS}
        if go["url"] != fields:
            mismatches.append((uri, fields, go["url"] or go["parse_error"]))
        elif infer_source_type(uri) != go["type"] and infer_source_type(uri) != "file":
            mismatches.append((uri, infer_source_type(uri), go["type"]))
    assert len(uris) > 2000 and not mismatches, mismatches[:10]


# ---------------------------------------------------------------------------------------------------------
# Manifest reading: json.Unmarshal into agent.Computation (Go) against cococtl's loader.

GO_FORM: dict[str, Any] = json.loads((EXAMPLES / "go.json").read_text())
HASH = GO_FORM["datasets"][0]["hash"]


def _variant(change: Callable[[dict[str, Any]], Any]) -> str:
    document = copy.deepcopy(GO_FORM)
    change(document)
    return json.dumps(document)


def _set_hash(value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda d: d["datasets"][0].__setitem__("hash", value)


def _b64(text: str) -> bytes:
    return base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)


def _agree(text: str, tmp_path: Path, cli: Any) -> None:
    """Same verdict; when both accept, the same reading of everything Cocos' type holds."""
    path = tmp_path / "manifest.json"
    path.write_text(text, encoding="utf-8")
    go = peer_json(PEER, "manifest", str(path))
    verdict = cli("--json", "manifest", "validate", path, expect=None)
    assert verdict.exit_code in (0, 3), verdict.stderr
    assert (verdict.exit_code == 0) == go["ok"], (go, verdict.stdout)
    if not go["ok"]:
        assert go["cocos_cli"].startswith("Error computing hash: ")
        return
    assert go["cocos_cli"] == f"Hash of manifest file: {go['manifest_sha3']}"
    raw = json.loads(text)
    manifest = build_manifest(parse_document(text), source=str(path))
    computation = go["computation"]
    if computation.get("id"):
        assert manifest.computation_id == computation["id"]
    assert manifest.name == computation.get("name", "")
    assert manifest.description == computation.get("description", "")
    algorithm = {k.lower(): v for k, v in (raw.get("algorithm") or {}).items()}
    if "hash" in algorithm:
        assert manifest.algorithm.hash == bytes(computation["algorithm"]["hash"])
    go_datasets = computation.get("datasets", [])
    assert len(manifest.datasets) == len(go_datasets)
    for dataset, go_dataset, raw_dataset in zip(manifest.datasets, go_datasets, raw.get("datasets") or [], strict=True):
        if "hash" in raw_dataset:
            assert dataset.hash == bytes(go_dataset["hash"])
        if "filename" in raw_dataset:
            assert dataset.filename == go_dataset.get("filename", "")
    go_consumers = computation.get("result_consumers", [])
    assert [_b64(key) for key in manifest.result_consumers] == [_b64(c.get("user_key", "")) for c in go_consumers]


def _cococtl_only(text: str, tmp_path: Path, cli: Any) -> None:
    """A documented cococtl extension: cococtl reads it, Cocos' json.Unmarshal does not."""
    path = tmp_path / "manifest.json"
    path.write_text(text, encoding="utf-8")
    assert not peer_json(PEER, "manifest", str(path))["ok"]
    cli("--json", "manifest", "validate", path, expect=0)


AGREE_CASES = [
    pytest.param((EXAMPLES / "go.json").read_text(), id="example-go"),
    pytest.param((EXAMPLES / "seed.json").read_text(), id="example-seed"),
    pytest.param(_variant(lambda d: None), id="go-form-32-integers"),
    pytest.param(_variant(_set_hash([256, *HASH[1:]])), id="hash-element-256"),
    pytest.param(_variant(_set_hash([-1, *HASH[1:]])), id="hash-element-negative"),
    pytest.param(_variant(_set_hash([1.0, *HASH[1:]])), id="hash-element-float"),
    pytest.param(_variant(_set_hash([str(b) for b in HASH])), id="hash-elements-strings"),
    pytest.param(_variant(_set_hash({"0": 1})), id="hash-object"),
    pytest.param(_variant(lambda d: d["algorithm"]["kbs"].pop("enabled")), id="kbs-without-enabled"),
    pytest.param(_variant(lambda d: d["datasets"][0].pop("kbs")), id="dataset-without-kbs"),
    pytest.param(_variant(lambda d: d.__setitem__("id", 7)), id="id-number"),
    pytest.param(_variant(lambda d: d.__setitem__("name", None)), id="name-null"),
    pytest.param(_variant(lambda d: d["datasets"][0].__setitem__("filename", 3)), id="filename-number"),
    pytest.param(_variant(lambda d: d["result_consumers"][0].__setitem__("user_key", "not base64!")), id="bad-key"),
    pytest.param(
        _variant(
            lambda d: d["result_consumers"][0].__setitem__(
                "user_key", "MCowBQYDK2VwAyEAGb9ECWmE\nzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="
            )
        ),
        id="key-with-newline",
    ),
    pytest.param(_variant(lambda d: d.__setitem__("ID", d.pop("id"))), id="key-case-ID"),
    pytest.param(_variant(lambda d: d.__setitem__("datasets", [])), id="no-datasets"),
    pytest.param(_variant(lambda d: d.__setitem__("datasets", None)), id="datasets-null"),
    pytest.param(_variant(lambda d: d["algorithm"].__setitem__("kbs", None)), id="kbs-null"),
    pytest.param((EXAMPLES / "go.json").read_text().replace('"id": "1",', '"id": "1", "id": "2",'), id="dup-id"),
    pytest.param("[]", id="top-level-array"),
    pytest.param('"manifest"', id="top-level-string"),
    pytest.param("{", id="truncated"),
    pytest.param(_variant(_set_hash([*HASH, 1])), id="hash-33"),
    pytest.param(_variant(_set_hash([])), id="hash-empty"),
    pytest.param(_variant(_set_hash(None)), id="hash-null"),
    pytest.param(_variant(lambda d: d.__setitem__("agent", {})), id="unknown-key"),
    pytest.param(
        _variant(lambda d: d["datasets"][0].__setitem__("size", 1)),
        id="unknown-dataset-key",
    ),
    pytest.param(_variant(lambda d: d.pop("algorithm")), id="missing-algorithm"),
    pytest.param((VECTORS / "checksum_test_manifest.json").read_text(), id="cocos-checksum-test-manifest"),
]
COCOCTL_ONLY_CASES = [
    pytest.param((EXAMPLES / "protojson.json").read_text(), id="example-protojson-base64-hash"),
    pytest.param((EXAMPLES / "seed.yaml").read_text(), id="example-seed-yaml"),
    pytest.param(_variant(_set_hash(bytes(HASH).hex())), id="hash-hex"),
    pytest.param(_variant(_set_hash(base64.b64encode(bytes(HASH)).decode())), id="hash-base64"),
]


@pytest.mark.parametrize("text", AGREE_CASES)
def test_manifest_agrees_with_go(text: str, tmp_path: Path, cli: Any) -> None:
    _agree(text, tmp_path, cli)


@pytest.mark.parametrize("text", COCOCTL_ONLY_CASES)
def test_manifest_extensions_go_does_not_read(text: str, tmp_path: Path, cli: Any) -> None:
    _cococtl_only(text, tmp_path, cli)


def test_a_short_hash_go_reads_is_refused_with_the_later_failure(tmp_path: Path, cli: Any) -> None:
    # Go zero-fills a 31-integer [32]byte and reads the manifest; the agent then fails the resource, since the
    # hash can never match (agent/service.go). cococtl refuses at once and says that is why.
    path = tmp_path / "manifest.json"
    path.write_text(_variant(_set_hash(HASH[:31])), encoding="utf-8")
    go = peer_json(PEER, "manifest", str(path))
    assert go["ok"] and go["computation"]["datasets"][0]["hash"] == [*HASH[:31], 0]
    verdict = cli("manifest", "validate", path, expect=3)
    assert "31 integers: Cocos reads them zero-filled" in verdict.stderr and "never match" in verdict.stderr


def test_peer_reproduces_upstream_manifest_checksum() -> None:
    """cli/checksum_test.go:134 at v0.8.2 pins the manifest hash of its own test manifest."""
    go = peer_json(PEER, "manifest", str(VECTORS / "checksum_test_manifest.json"))
    assert go["ok"] and go["manifest_sha3"] == "a99683e4d22ba54cefa51aa49fb2e97a92b828c088395992ddff16a6236f3299"
    assert go["cocos_cli"] == f"Hash of manifest file: {go['manifest_sha3']}"


def test_missing_hash_reads_as_go_zero_hash(tmp_path: Path) -> None:
    go = peer_json(PEER, "manifest", str(EXAMPLES / "go.json"))
    assert go["computation"]["algorithm"]["hash"] == [0] * 32
    manifest = build_manifest(GO_FORM, source="go.json")
    assert manifest.algorithm.hash == bytes(32)


def test_manifest_errors_are_reported_not_raised() -> None:
    with pytest.raises(ManifestError):
        build_manifest(json.loads(_variant(_set_hash([1.0, *HASH[1:]]))), source="float")


# ---------------------------------------------------------------------------------------------------------
# Directory zips: Cocos' internal.ZipDirectoryToMemory (Go) against cococtl's writer, byte for byte.


def _tree_one_file(root: Path) -> None:
    (root / "iris.csv").write_bytes(b"a,b\n1,2\n")


def _tree_nested(root: Path) -> None:
    for name in ("a/b/c/d.txt", "a.txt", "a-b", "a0", "a/z", "b/a", "B", "_"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    (root / "empty-dir" / "inner").mkdir(parents=True)


def _tree_empty_file(root: Path) -> None:
    (root / "empty.csv").write_bytes(b"")
    (root / "x").mkdir()
    (root / "x" / "also-empty").write_bytes(b"")


def _tree_many(root: Path) -> None:
    for index in range(300):
        directory = root / f"d{index % 7}"
        directory.mkdir(exist_ok=True)
        (directory / f"f{index:04d}.csv").write_bytes(os.urandom(index % 97))


def _tree_unicode(root: Path) -> None:
    for name in ("é.csv", "日本/データ.txt", "tilde~name", "back\\slash", "emoji-🙂.json", "plain.txt", "ctl\x01"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name, encoding="utf-8")
    (root / os.fsdecode(b"latin1-\xe9.csv")).write_bytes(b"not utf-8 name")


def _tree_modes_and_times(root: Path) -> None:
    for name, mode, mtime in (
        ("ro", 0o444, 1_700_000_001.5),
        ("exec", 0o755, 0),
        ("setuid", 0o4755, 4_102_444_799),
        ("private", 0o600, 315_532_799),
        ("odd-second", 0o644, 1_600_000_003),
    ):
        path = root / name
        path.write_bytes(name.encode() * 3)
        path.chmod(mode)
        os.utime(path, (mtime, mtime))


def _tree_big(root: Path) -> None:
    (root / "big.bin").write_bytes(os.urandom(3 << 20))
    (root / "small.txt").write_text("s")


def _tree_empty(root: Path) -> None:
    (root / "only-dirs" / "deeper").mkdir(parents=True)


TREES = {
    "one-file": _tree_one_file,
    "nested": _tree_nested,
    "empty-file": _tree_empty_file,
    "many": _tree_many,
    "unicode": _tree_unicode,
    "modes-times": _tree_modes_and_times,
    "big": _tree_big,
    "no-files": _tree_empty,
}


@pytest.fixture(params=sorted(TREES))
def tree(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "tree"
    root.mkdir()
    TREES[request.param](root)
    yield root
    for path in root.rglob("*"):  # let pytest remove read-only files
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)


def _go_zip(root: Path, out: Path) -> tuple[bytes, dict[str, Any]]:
    result = peer_json(PEER, "zip", str(root), str(out))
    assert result["ok"], result
    data = out.read_bytes()
    assert result["sha3_256"] == hashlib.sha3_256(data).hexdigest()
    return data, result


def test_zip_is_byte_identical_to_cocos(tree: Path, tmp_path: Path) -> None:
    """With each file's own mtime, as Cocos zips a dataset directory before hashing it."""
    go_bytes, go = _go_zip(tree, tmp_path / "go.zip")
    ours = io.BytesIO()
    names = go_zip_directory(tree, ours, mtime=None)
    assert ours.getvalue() == go_bytes
    assert go["cocos_cli"] == f"Hash of file: {hashlib.sha3_256(ours.getvalue()).hexdigest()}"
    assert len(names) == len(go["names"] or [])


def test_results_zip_is_cocos_bytes_at_the_fixed_time(tree: Path, tmp_path: Path) -> None:
    """cococtl's deterministic results.zip / dataset zip is Go's zip of the same files dated 1980-01-01Z."""
    write_results_zip(tree, tmp_path / "ours.zip", force=False)
    pinned = tmp_path / "pinned"
    shutil.copytree(tree, pinned, symlinks=True)
    for path in [pinned, *pinned.rglob("*")]:
        os.utime(path, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
    go_bytes, _ = _go_zip(pinned, tmp_path / "go.zip")
    assert (tmp_path / "ours.zip").read_bytes() == go_bytes


def test_zip_with_symlink_matches_cocos(tmp_path: Path) -> None:
    # Go's Walk hands ZipDirectoryToMemory the link's lstat info and os.Open follows it: the entry carries the
    # symlink mode with the target's bytes. cococtl writes the same for a link that stays inside the tree.
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "data.csv").write_text("1\n")
    os.symlink("data.csv", root / "link.csv")
    os.symlink("../data.csv", root / "sub" / "up.csv")
    go_bytes, _ = _go_zip(root, tmp_path / "go.zip")
    ours = io.BytesIO()
    go_zip_directory(root, ours, mtime=None)
    assert ours.getvalue() == go_bytes


@pytest.mark.parametrize("target", ["outside", "dangling", "directory"])
def test_zip_refuses_a_symlink_leaving_the_tree(tmp_path: Path, target: str) -> None:
    # Go would read a file outside the tree (or fail on a dangling link or a directory): cococtl refuses each
    # with the link's name rather than hash bytes from elsewhere; results zips leave such a link out instead.
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "secret").write_text("not yours")
    (root / "data.csv").write_text("1\n")
    os.symlink({"outside": "../secret", "dangling": "nowhere", "directory": "sub"}[target], root / "link")
    with pytest.raises(InvalidInputError, match="link is a symlink that does not point to a file inside"):
        go_zip_directory(root, io.BytesIO(), mtime=None)
    assert write_results_zip(root, tmp_path / "r.zip", force=False) == ["data.csv"]


def test_peer_is_built() -> None:
    assert os.access(peer_binary(PEER), os.X_OK)
