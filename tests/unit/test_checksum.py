"""``cococtl checksum`` and ``manifest new`` with cvms-test's flags, without sockets (the Go judges are in
tests/integration/test_cocos_cli_parity.py; the expected bytes below are what Go printed there)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cococtl.cli.manifest import cvms_manifest
from cococtl.compute.checksum import (
    Encodings,
    GoJSONError,
    canonical_manifest,
    go_marshal,
    go_unmarshal,
    manifest_checksum,
    path_checksum,
    resource_checksums,
)
from cococtl.compute.results import go_zip_directory
from cococtl.errors import CococtlError, InvalidInputError, NotFoundError

ZERO = "[" + ",".join("0" * 32) + "]"


def _app() -> typer.Typer:
    from cococtl.cli import checksum, manifest
    from cococtl.cli.output import Output

    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
        ctx.obj = Output(json=as_json)

    app.command("checksum")(checksum.checksum)
    app.add_typer(manifest.app, name="manifest")
    return app


def invoke(*args: str | Path, expect: int = 0) -> Any:
    result = CliRunner().invoke(_app(), [str(a) for a in args])
    code = result.exit_code
    if isinstance(result.exception, CococtlError):
        code = int(result.exception.exit_code)
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert code == expect, (result.stdout, result.stderr, result.exception)
    return result


# ---------------------------------------------------------------------------------------------------------
# Go's json.Unmarshal + json.Marshal of agent.Computation


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b"null", b"{}"),
        (b'{"a":1}', b"{}"),
        (b'{"ID":"x","Id":"y"}', b'{"id":"y"}'),  # case-insensitive names, the last duplicate wins
        (b'{"algorithm":{}}', b'{"algorithm":{"hash":' + ZERO.encode() + b"}}"),  # [32]byte is never omitted
        (b'{"algorithm":{"hash":[1,2]}}', b'{"algorithm":{"hash":[1,2' + b",0" * 30 + b"]}}"),
        (
            b'{"algorithm":{"hash":[1]},"algorithm":{"algo_type":"bin"}}',  # duplicates merge into one struct
            b'{"algorithm":{"hash":[1' + b",0" * 31 + b'],"algo_type":"bin"}}',
        ),
        (b'{"name":"<a&b>\\u2028"}', b'{"name":"\\u003ca\\u0026b\\u003e\\u2028"}'),
        (b'{"name":"\\ud800\\b\\u0001\\u007f"}', '{"name":"\ufffd\\b\\u0001\x7f"}'.encode()),
        (b'{"name":"\xff"}', '{"name":"\ufffd"}'.encode()),
        (b'{"\xc5\xbfource":1,"\xe2\x84\xaad":"k"}', b"{}"),
        (b'{"datasets":[],"result_consumers":null,"algorithm":null}', b"{}"),
        (b'{"result_consumers":[null,{"user_key":[1,2]}]}', b'{"result_consumers":[{},{"user_key":"AQI="}]}'),
        (b'{"algorithm":{"user_key":"QQ==\\n","kbs":{},"source":{"encrypted":false}}}', None),
    ],
)
def test_go_round_trip(document: bytes, expected: bytes | None) -> None:
    canonical = canonical_manifest(document)
    if expected is not None:
        assert canonical == expected
    else:
        assert canonical == b'{"algorithm":{"hash":' + ZERO.encode() + b',"user_key":"QQ==","source":{},"kbs":{}}}'


@pytest.mark.parametrize(
    "document",
    [
        b"[]",
        b"1",
        b"",
        b"{",
        b'{"id":1}',
        b'{"id":"a"} x',
        b"\xef\xbb\xbf{}",
        b'{"id":NaN}',
        b'{"algorithm":{"hash":[1.0]}}',
        b'{"algorithm":{"hash":[256]}}',
        b'{"algorithm":{"hash":[-0]}}',
        b'{"algorithm":{"hash":"ab"}}',
        b'{"algorithm":{"user_key":"QQ"}}',
        b'{"algorithm":{"source":{"encrypted":"true"}}}',
        b'{"datasets":{}}',
    ],
)
def test_what_go_refuses(document: bytes) -> None:
    with pytest.raises(GoJSONError):
        canonical_manifest(document)


def test_extra_hash_elements_are_skipped_unchecked() -> None:
    document = b'{"algorithm":{"hash":[' + b",".join([b"9"] * 32 + [b'"x"', b"{}"]) + b"]}}"
    assert go_unmarshal(document)["algorithm"]["hash"] == bytes([9] * 32)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-300, 300) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
keys = st.sampled_from(["id", "ID", "name", "algorithm", "datasets", "result_consumers", "hash", "x"])
manifests = st.dictionaries(
    keys,
    json_values
    | st.dictionaries(
        st.sampled_from(["hash", "user_key", "algo_type", "algo_args", "source", "kbs", "filename"]), json_values
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(manifests)
def test_canonical_form_is_a_fixed_point(document: dict[str, Any]) -> None:
    try:
        once = canonical_manifest(json.dumps(document).encode())
    except GoJSONError:
        return
    assert canonical_manifest(once) == once
    assert go_marshal(go_unmarshal(once)) == once


def test_manifest_checksum_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{\n  "description": "d", "id": "1234"\n}\n')
    assert manifest_checksum(path) == hashlib.sha3_256(b'{"id":"1234","description":"d"}').digest()
    (tmp_path / "m.yaml").write_text("id: x\n")
    with pytest.raises(GoJSONError) as error:
        manifest_checksum(tmp_path / "m.yaml")
    assert "Go JSON form" in (error.value.hint or "")
    with pytest.raises(NotFoundError):
        manifest_checksum(tmp_path / "missing.json")


# ---------------------------------------------------------------------------------------------------------
# Files and directories


def test_file_and_directory_checksums(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a").write_bytes(b"a")
    (tmp_path / "d" / "sub" / "b").write_bytes(b"b" * 100_000)
    assert path_checksum(tmp_path / "d" / "a") == hashlib.sha3_256(b"a").digest()
    zipped = io.BytesIO()
    go_zip_directory(tmp_path / "d", zipped, mtime=None)  # Cocos zips with each file's own time
    assert path_checksum(tmp_path / "d") == hashlib.sha3_256(zipped.getvalue()).digest()
    with pytest.raises(NotFoundError):
        path_checksum(tmp_path / "nope")


def test_encodings() -> None:
    digest = bytes(range(32))
    encodings = Encodings.of(digest)
    assert encodings.hex == digest.hex()
    assert base64.b64decode(encodings.base64) == digest
    assert encodings.array == list(range(32))


def test_checksum_cli(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"data")
    digest = hashlib.sha3_256(b"data").digest()
    assert invoke("checksum", tmp_path / "f").stdout == digest.hex() + "\n"
    assert invoke("checksum", "-b", tmp_path / "f").stdout == base64.b64encode(digest).decode() + "\n"
    document = json.loads(invoke("--json", "checksum", tmp_path / "f").stdout)
    assert document["kind"] == "file" and document["sha3_256"]["array"] == list(digest)
    (tmp_path / "m.json").write_text('{"id":"1234"}')
    expected = hashlib.sha3_256(b'{"id":"1234"}').hexdigest()
    assert invoke("checksum", "--manifest", tmp_path / "m.json").stdout == expected + "\n"
    assert invoke("checksum", tmp_path / "m.json", "-m").stdout == expected + "\n"
    invoke("checksum", tmp_path / "f", "--algorithm", tmp_path / "f", expect=2)
    invoke("checksum", tmp_path / "missing", expect=6)
    invoke("checksum", "-m", tmp_path / "f", expect=3)


# ---------------------------------------------------------------------------------------------------------
# Every resource of a manifest, in the manifest's encoding


def _seed(tmp_path: Path, algo_hash: Any, data_hash: Any) -> Path:
    document = {
        "computation_id": "c",
        "algorithm": {"uri": "https://h/a.py", "algo_type": "python", "hash": algo_hash},
        "datasets": [{"uri": "https://h/d.csv", "filename": "d.csv", "hash": data_hash}],
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(document))
    return path


def test_resources_in_each_encoding(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(b"print(1)\n")
    (tmp_path / "d.csv").write_bytes(b"1,2\n")
    algo, data = hashlib.sha3_256(b"print(1)\n").digest(), hashlib.sha3_256(b"1,2\n").digest()
    manifest = _seed(tmp_path, algo.hex(), base64.b64encode(data).decode())
    results = resource_checksums(manifest, tmp_path / "a.py", [("d.csv", tmp_path / "d.csv")])
    assert [(r.where, r.encoding, r.matches) for r in results] == [
        ("$.algorithm", "hex", True),
        ("$.datasets[0]", "base64", True),
    ]
    assert results[0].in_manifest_encoding() == json.dumps(algo.hex())
    manifest = _seed(tmp_path, list(algo), None)
    results = resource_checksums(manifest, tmp_path / "a.py", [("d.csv", tmp_path / "d.csv")])
    assert results[0].encoding == "array" and results[0].in_manifest_encoding() == json.dumps(list(algo)).replace(
        " ", ""
    )
    assert results[1].matches is None  # the manifest gives no hash
    with pytest.raises(InvalidInputError, match=r"no dataset named 'x\.csv'"):
        resource_checksums(manifest, None, [("x.csv", tmp_path / "d.csv")])


def test_resources_cli_reports_a_mismatch_with_exit_7(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(b"print(1)\n")
    manifest = _seed(tmp_path, "00" * 31 + "01", None)
    result = invoke("checksum", "-m", manifest, "--algorithm", tmp_path / "a.py", expect=7)
    assert "DIFFERS" in result.stdout and '"hash": "' in result.stdout
    invoke("checksum", "-m", manifest, "--dataset", "nameonly", expect=3)


# ---------------------------------------------------------------------------------------------------------
# manifest new with cvms-test's flags (test/cvms/main.go)


def test_cvms_needs_an_algorithm() -> None:
    with pytest.raises(InvalidInputError, match=r"main\.go:307-311"):
        cvms_manifest(algo_source_url="docker://x/y:1")  # the KBS path is missing too


def test_cvms_remote_shapes() -> None:
    computation, notes = cvms_manifest(
        algo_source_url="docker://r/a:1",
        algo_kbs_path="default/key/a",
        algo_source_type="s3",
        dataset_source_urls="https://h/d,https://h/e",
        dataset_kbs_paths="default/key/d,",
        dataset_kbs_urls=",http://k",
        dataset_decompress="1,maybe",
        public_key=b"\x01\x02",
    )
    algorithm = computation["algorithm"]
    assert algorithm["hash"] == bytes(32) and algorithm["source"]["encrypted"] is True
    assert "kbs" not in algorithm and "type" not in algorithm["source"]  # client.go:247-251 drops the type
    first, second = computation["datasets"]
    assert first["source"]["encrypted"] is True and second["source"]["encrypted"] is False  # main.go:140
    assert "kbs" not in first and second["kbs"] == {"url": "http://k", "enabled": True}  # main.go:143-148
    assert first["decompress"] is True and second["decompress"] is False  # ParseBool, errors are false
    assert [d["filename"] for d in computation["datasets"]] == ["dataset_0.csv", "dataset_1.csv"]
    assert computation["result_consumers"] == [{"user_key": b"\x01\x02"}]
    joined = "\n".join(notes)
    assert "ignores the source type 's3'" in joined and "'maybe' is not a Go bool" in joined
    assert "no --algo-kbs-url" in joined and "dataset 0: no KBS URL" in joined
    encoded = json.loads(go_marshal(computation))
    assert encoded["id"] == "1" and encoded["description"] == "sample descrption"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"algo_hash": "zz"}, "not hex"),
        ({"algo_hash": "ab" * 31}, "must be 32 bytes"),
        ({"dataset_source_urls": "a,b", "dataset_kbs_paths": "k", "dataset_hash": "ab" * 32}, "same count"),
    ],
)
def test_cvms_errors(flags: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        cvms_manifest(algo_source_url="docker://r/a:1", algo_kbs_path="default/key/a", **flags)


def test_cvms_upload_mode(tmp_path: Path) -> None:
    (tmp_path / "algo").write_bytes(b"#!/bin/sh\n")
    (tmp_path / "d.csv").write_bytes(b"x")
    computation, notes = cvms_manifest(
        algo_path=tmp_path / "algo", data_paths=str(tmp_path / "d.csv"), algo_hash="ab" * 32, algo_args="a,b"
    )
    assert computation["algorithm"] == {
        "hash": hashlib.sha3_256(b"#!/bin/sh\n").digest(),
        "algo_type": "",
        "algo_args": ["a", "b"],
    }
    assert computation["datasets"] == [{"hash": hashlib.sha3_256(b"x").digest(), "filename": "d.csv"}]
    assert computation["result_consumers"] == []
    assert any("--algo-hash is ignored" in n for n in notes) and any("no --public-key-path" in n for n in notes)
    with pytest.raises(InvalidInputError, match="data file does not exist"):
        cvms_manifest(algo_path=tmp_path / "algo", data_paths=str(tmp_path / "nope"))


def test_manifest_new_cli(tmp_path: Path) -> None:
    template = invoke("manifest", "new").stdout
    assert template.startswith("# cococtl computation manifest")
    (tmp_path / "algo").write_bytes(b"x")
    result = invoke("manifest", "new", "--algo-path", tmp_path / "algo", "--algo-type", "bin")
    document = json.loads(result.stdout)
    assert document["algorithm"]["algo_type"] == "bin" and "no --public-key-path" in result.stderr
    invoke("manifest", "new", "--algo-path", tmp_path / "algo", "--algo-type", "perl", expect=2)
    (tmp_path / "not.pem").write_text("hello")
    invoke("manifest", "new", "--algo-path", tmp_path / "algo", "--public-key-path", tmp_path / "not.pem", expect=3)
    out = tmp_path / "m.json"
    invoke("manifest", "new", "--algo-path", tmp_path / "algo", "-o", out)
    invoke("manifest", "new", "--algo-path", tmp_path / "algo", "-o", out, expect=3)  # never overwritten
