"""Init-data: digests over exact bytes, TEE register forms, the Kata annotation, validation, claims, snippets."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cococtl.errors import CococtlError, InvalidInputError
from cococtl.initdata.claims import init_data_claims
from cococtl.initdata.core import decode_annotation, digest_report, encode_annotation, parse, regularize
from cococtl.initdata.render import Skeleton, render, render_document
from cococtl.initdata.snippet import expected_claims, resource_policy
from cococtl.initdata.validate import validate
from cococtl.policy.rego import allows, check_policy

VECTORS = Path(__file__).parent.parent / "vectors" / "initdata"
SIMPLE = VECTORS / "trustee-simple-init-data.toml"
WITH_POLICY = VECTORS / "trustee-init-data-with-policy.toml"
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_digest_is_over_the_exact_bytes_like_trustees_test() -> None:
    # integration-tests/tests/init_data.rs policy_with_init_data_hash: STANDARD(sha256(SIMPLE_INIT_DATA)).
    raw = SIMPLE.read_bytes()
    assert raw.startswith(b"\nversion")  # the Rust literal starts with a newline; it is measured too
    report = digest_report(parse(raw))
    assert report["algorithm"] == "sha256"
    assert report["digest_base64"] == base64.b64encode(hashlib.sha256(raw).digest()).decode()
    crlf = parse(raw.replace(b"\n", b"\r\n"))
    assert crlf.digest != parse(raw).digest


@pytest.mark.parametrize(
    ("algorithm", "size"),
    [("sha256", 32), ("sha384", 48), ("sha512", 64)],
)
def test_tee_register_forms_pad_or_truncate_at_the_end(algorithm: str, size: int) -> None:
    raw = f'version = "0.1.0"\nalgorithm = "{algorithm}"\n[data]\n'.encode()
    digest = hashlib.new(algorithm, raw).digest()
    report = digest_report(parse(raw))
    assert len(digest) == size
    for tee, length in (("tdx", 48), ("snp", 32), ("cca", 64)):
        form = bytes.fromhex(report["tee"][tee]["hex"])
        assert len(form) == length
        assert form == (digest + bytes(64))[:length]


def test_regularize_matches_kata_adjust_digest_tests() -> None:
    # kata-types initdata.rs test_adjust_digest.
    assert regularize(b"\xaa" * 64, 48) == b"\xaa" * 48
    assert regularize(b"\xaa" * 64, 32) == b"\xaa" * 32
    assert regularize(b"\xbb" * 32, 64) == b"\xbb" * 32 + bytes(32)


@pytest.mark.parametrize(
    "raw",
    [
        SIMPLE.read_bytes(),
        b'version = "0.1.0"\r\nalgorithm = "sha384"\r\n[data]\r\n"k" = "\xc3\xa9\xe2\x82\xac"\r\n',
        WITH_POLICY.read_bytes(),
    ],
)
def test_annotation_round_trips_byte_exact(raw: bytes) -> None:
    value = encode_annotation(raw)
    assert value == encode_annotation(raw)  # deterministic (mtime 0)
    assert decode_annotation(value) == raw
    assert decode_annotation(value + "\n") == raw  # a trailing newline from `-` input is fine


def test_annotations_from_other_gzip_writers_decode() -> None:
    raw = SIMPLE.read_bytes()
    # like `gzip -c init.toml | base64 -w0` (file name and mtime in the header) and kata's Compression::default()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="init.toml", mode="wb", fileobj=buffer, mtime=1700000000, compresslevel=6) as f:
        f.write(raw)
    assert decode_annotation(base64.b64encode(buffer.getvalue()).decode()) == raw


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        ("not base64!", "base64"),
        (base64.b64encode(gzip.compress(b"xy", mtime=0)).decode().rstrip("="), "base64"),
        (base64.b64encode(b"plain text").decode(), "gzip"),
        (base64.b64encode(gzip.compress(b"a") + gzip.compress(b"b")).decode(), "first gzip member"),
        (base64.b64encode(gzip.compress(b"a")[:-3]).decode(), "truncated"),
        (base64.b64encode(gzip.compress(b"\xff\xfe")).decode(), "UTF-8"),
    ],
)
def test_bad_annotations_are_invalid_input(value: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        decode_annotation(value)


def test_corrupt_crc_is_refused() -> None:
    data = bytearray(gzip.compress(b"hello world"))
    data[-6] ^= 1  # inside the CRC32 trailer
    with pytest.raises(InvalidInputError):
        decode_annotation(base64.b64encode(bytes(data)).decode())


def test_new_writes_what_validate_accepts(cli: Any, tmp_path: Path) -> None:
    cert = tmp_path / "ca.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    policy = tmp_path / "p.rego"
    policy.write_text("package agent_policy\n\ndefault ExecProcessRequest := false\n")
    isp = tmp_path / "isp.json"
    isp.write_text('{"default": [{"type": "insecureAcceptAnything"}], "transports": {}}')
    out = tmp_path / "init.toml"
    cli(
        "initdata", "new", "--kbs-url", "https://kbs.example:8080", "--kbs-cert", cert, "--policy", policy,
        "--image-security-policy", isp, "--credential", "kbs:///default/cred/1::/run/x", "--algorithm", "sha512",
        "-o", out,
    )  # fmt: skip
    document = tomllib.loads(out.read_text())
    assert document["version"] == "0.1.0" and document["algorithm"] == "sha512"
    assert document["data"]["policy.rego"] == policy.read_text()
    aa = tomllib.loads(document["data"]["aa.toml"])
    assert aa["token_configs"]["kbs"] == {"url": "https://kbs.example:8080", "cert": cert.read_text()}
    cdh = tomllib.loads(document["data"]["cdh.toml"])
    assert cdh["kbc"] == {"name": "cc_kbc", "url": "https://kbs.example:8080", "kbs_cert": cert.read_text()}
    assert cdh["image"]["image_security_policy"] == isp.read_text()
    assert cdh["credentials"] == [{"resource_uri": "kbs:///default/cred/1", "path": "/run/x"}]
    assert validate(out.read_bytes()) == []
    cli("initdata", "validate", out)
    before = out.read_bytes()
    refused = cli("initdata", "new", "--kbs-url", "http://x:1", "-o", out, expect=3)
    assert "already exists" in refused.stderr and out.read_bytes() == before
    cli("initdata", "new", "--kbs-url", "http://x:1", "-o", out, "--force")
    assert out.read_bytes() != before


def test_validate_lists_every_problem_with_its_path(cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'version = "0.2.0"\nalgorithm = "md5"\n[data]\n'
        "\"aa.toml\" = '''\n[token_configs.kbs]\ncert = 1\n'''\n"
        "\"cdh.toml\" = '''\n[kbc]\nname = \"cc_kbc\"\n[[credentials]]\nresource_uri = \"kbs:///a/b\"\n'''\n"
        "\"policy.rego\" = '''\npackage agent_policy\ndefault X := := 1\n'''\n"
    )
    result = cli("--json", "initdata", "validate", bad, expect=3)
    problems = {(p["path"], p["level"]) for p in result.json["problems"]}
    assert ("version", "error") in problems
    assert ("algorithm", "error") in problems
    assert ('data."aa.toml".token_configs.kbs.url', "error") in problems
    assert ('data."aa.toml".token_configs.kbs.cert', "error") in problems
    assert ('data."cdh.toml".kbc.url', "error") in problems
    assert ('data."cdh.toml".credentials[0].resource_uri', "error") in problems
    assert ('data."cdh.toml".credentials[0].path', "error") in problems
    assert ('data."policy.rego"', "error") in problems
    text = cli("initdata", "validate", bad, expect=3)
    assert 'data."policy.rego"' in text.stderr and "line 2" in text.stderr and text.stdout == ""
    assert "Traceback" not in text.stderr


def test_validate_accepts_the_trustee_fixtures() -> None:
    assert [p for p in validate(SIMPLE.read_bytes()) if p.level == "error"] == []
    assert [p for p in validate(WITH_POLICY.read_bytes()) if p.level == "error"] == []


def _aa_problems(algorithm: str) -> list[tuple[str, str, str]]:
    aa = f'[token_configs.kbs]\nurl = "http://kbs:8080"\ntee_key_algorithm = "{algorithm}"\n'
    document = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"aa.toml" = """\n' + aa + '"""\n'
    return [(p.path, p.level, p.message) for p in validate(document.encode())]


@pytest.mark.parametrize("algorithm", ["ECDH-ES+A256KW-P256", "ECDH-ES+A256KW-P521", "RSA-OAEP-256"])
def test_the_tee_key_algorithms_guest_components_reads(algorithm: str) -> None:
    """kbs_protocol keypair.rs ``TeeKeyAlgorithm``'s serde names."""
    assert _aa_problems(algorithm) == []


def test_the_ml_kem_tee_key_algorithm_is_accepted_with_a_warning() -> None:
    """``ML-KEM-768+A192KW`` exists only in a ``pqc-experimental`` build of kbs_protocol (keypair.rs)."""
    [(path, level, message)] = _aa_problems("ML-KEM-768+A192KW")
    assert path == 'data."aa.toml".token_configs.kbs.tee_key_algorithm' and level == "warning"
    assert "pqc-experimental" in message


@pytest.mark.parametrize("algorithm", ["ML-KEM-768", "ml-kem-768+a192kw", "ECDH-ES+A256KW", "RSA1_5"])
def test_other_tee_key_algorithms_are_errors(algorithm: str) -> None:
    [(path, level, message)] = _aa_problems(algorithm)
    assert path.endswith(".tee_key_algorithm") and level == "error" and "ML-KEM-768+A192KW" in message


def test_init_data_claims_like_trustees_as() -> None:
    # integration-tests/tests/init_data.rs INIT_DATA_CONFIG_FIELD_POLICY and INIT_DATA_FOR_OPA_POLICY.
    simple = init_data_claims(parse(SIMPLE.read_bytes()).data)
    assert simple["cdh.toml"]["image"]["extra_root_certificates"][0].startswith("-----BEGIN CERTIFICATE-----\nMIIF")
    assert simple["aa.toml"]["token_configs"]["kbs"]["url"] == "http://1.2.3.4:8080"
    assert "policy.rego" in simple  # no policy_data in it: kept as text
    with_policy = init_data_claims(parse(WITH_POLICY.read_bytes()).data)
    assert "policy.rego" not in with_policy
    args = with_policy["agent_policy_claims"]["containers"][1]["OCI"]["Process"]["Args"]
    assert args[0] == "/opt/bitnami/scripts/nginx/entrypoint.sh"


def test_policy_snippet_is_a_valid_policy_that_requires_the_digest() -> None:
    init = parse(SIMPLE.read_bytes())
    policy = resource_policy(init)
    check_policy(policy)
    claims = expected_claims(init)
    data = {"plugin": "resource", "resource-path": ["default", "test", "secret"], "query": {}}
    for value in claims.values():
        token = {"submods": {"cpu0": {"ear.veraison.annotated-evidence": {"init_data": value}}}}
        assert allows(policy, input_value=token, data=data)
    other = {"submods": {"cpu0": {"ear.veraison.annotated-evidence": {"init_data": "AAAA"}}}}
    assert not allows(policy, input_value=other, data=data)
    assert claims["tdx"] == (init.digest + bytes(16)).hex()
    assert claims["snp"] == init.digest.hex()


def test_cli_digest_annotation_decode_snippet(cli: Any, tmp_path: Path) -> None:
    raw = SIMPLE.read_bytes()
    digest = cli("--json", "initdata", "digest", SIMPLE).json
    assert digest["digest_hex"] == hashlib.sha256(raw).hexdigest()
    assert digest["tee"]["tdx"]["bytes"] == 48
    value = cli("initdata", "annotation", SIMPLE).stdout.strip()
    assert cli("initdata", "decode", "-", input=value).stdout_bytes == raw
    cli("initdata", "decode", value, "-o", tmp_path / "back.toml")
    assert (tmp_path / "back.toml").read_bytes() == raw
    assert cli("initdata", "digest", "-", input=raw).stdout.split()[3] == digest["digest_hex"]
    snippet = cli("initdata", "policy-snippet", SIMPLE, "--tee", "tdx", "--affirming").stdout
    assert digest["tee"]["tdx"]["hex"] in snippet and "affirming" in snippet
    rule = cli("initdata", "policy-snippet", SIMPLE, "--kind", "attestation").stdout
    assert 'query_reference_value("init_data")' in rule
    bad = cli("initdata", "decode", "!!", expect=3)
    assert bad.stderr.startswith("error:")
    cli("initdata", "digest", tmp_path / "missing.toml", expect=6)
    cli("initdata", "policy-snippet", SIMPLE, "--tee", "sgx", expect=2)  # a choice: usage error


# --- fuzzing: untrusted input only ever raises cococtl errors -----------------------------------------------


@FAST
@given(st.binary(max_size=400))
def test_parse_arbitrary_bytes(raw: bytes) -> None:
    try:
        parse(raw)
    except CococtlError:
        pass
    validate(raw)


@FAST
@given(
    st.dictionaries(
        st.sampled_from(["version", "algorithm", "data", "x"]),
        st.one_of(
            st.text(max_size=20),
            st.integers(),
            st.dictionaries(
                st.sampled_from(["aa.toml", "cdh.toml", "policy.rego", "k"]),
                st.one_of(st.text(max_size=60), st.integers()),
                max_size=4,
            ),
        ),
        max_size=4,
    )
)
def test_validate_structured_documents(document: dict[str, Any]) -> None:
    raw = "\n".join(f"{k} = {json.dumps(v)}" for k, v in document.items() if not isinstance(v, dict)) + "".join(
        f"\n[{k}]\n" + "\n".join(f"{json.dumps(kk)} = {json.dumps(vv)}" for kk, vv in v.items())
        for k, v in document.items()
        if isinstance(v, dict)
    )
    for problem in validate(raw.encode("utf-8", "surrogatepass")):
        assert problem.level in ("error", "warning")


@FAST
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode())))
def test_decode_arbitrary_annotation(value: str) -> None:
    try:
        decode_annotation(value)
    except CococtlError:
        pass


@FAST
@given(st.binary(max_size=300))
def test_decode_gzip_of_arbitrary_bytes(raw: bytes) -> None:
    for blob in (gzip.compress(raw), gzip.compress(raw)[: len(raw) // 2 + 10], raw):
        try:
            assert decode_annotation(base64.b64encode(blob).decode()) == raw
        except CococtlError:
            pass


@FAST
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=10),
        st.text(max_size=80),
        max_size=4,
    )
)
def test_rendered_documents_parse_back_exactly(data: dict[str, str]) -> None:
    assert parse(render_document("0.1.0", "sha384", data)).data == data


def test_skeleton_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError):
        render(Skeleton(kbs_url="http://x", algorithm="md5"))
    with pytest.raises(InvalidInputError):
        render(Skeleton(kbs_url="http://x", image_security_policy="{not json"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.sampled_from(["decode", "validate", "digest", "annotation", "policy-snippet"]))
def test_cli_never_fails_internally_on_stdin(data: bytes, command: str) -> None:
    from typer.testing import CliRunner

    from cococtl.cli import app

    result = CliRunner().invoke(app, ["initdata", command, "-"], input=data)
    assert result.exit_code in (0, 3), result.stderr
    assert "Traceback" not in result.stderr


def test_init_data_claims_read_values_as_trustee_does() -> None:
    """Checked by hand against Trustee 78962cd4's restful-as and kbs-builtin (attestation-service lib.rs
    parse_init_data; the toml crate's private datetime form; serde_json's numbers into an EAR RawValue)."""
    from cococtl.initdata.claims import OutOfRange

    claims = init_data_claims(
        {
            "cdh.toml": "when = 1979-05-27T07:32:00Z\nlocal = 1979-05-27T00:32:00.5\nday = 1979-05-27\n"
            "offset = 1979-05-27T00:32:00-07:00\nbig = inf\nodd = nan\nn = 5\n",
            "aa.toml": "huge = 9223372036854775808\n",
            "policy.rego": 'package agent_policy\npolicy_data := {"a": 1.5, "b": 18446744073709551616}',
        }
    )
    cdh = claims["cdh.toml"]
    assert cdh["when"] == {"$__toml_private_datetime": "1979-05-27T07:32:00Z"}
    assert cdh["local"] == {"$__toml_private_datetime": "1979-05-27T00:32:00.5"}
    assert cdh["day"] == {"$__toml_private_datetime": "1979-05-27"}
    assert cdh["offset"] == {"$__toml_private_datetime": "1979-05-27T00:32:00-07:00"}
    assert cdh["big"] is None and cdh["odd"] is None and cdh["n"] == 5
    assert claims["aa.toml"] == "huge = 9223372036854775808\n"  # the toml crate cannot parse it: kept as text
    assert claims["agent_policy_claims"] == {"a": 1.5, "b": float(1 << 64)}
    with pytest.raises(OutOfRange):
        init_data_claims({"policy.rego": 'policy_data := {"n": 9223372036854775808}'})
