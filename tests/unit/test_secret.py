"""Sealed secrets: CDH's fixtures, the exact JWS, independent verification with joserfc and cryptography."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jws as joserfc_jws
from joserfc.jwk import ECKey

from cococtl.errors import CococtlError, IntegrityError, InvalidInputError
from cococtl.secret.envelope import open_envelope, seal
from cococtl.secret.jws import parse_sealed, sign, verify
from cococtl.secret.keys import generate, load_private_jwk, load_public_jwk
from cococtl.secret.model import from_dict, parse_payload, vault

VECTORS = Path(__file__).parent.parent / "vectors" / "sealed-secret"
FIXTURES = ["envelope-1.json", "vault-1.json", "vault-2.json"]
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _jwk(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text())


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _independent_verify(value: str, jwk: dict[str, Any]) -> bytes:
    """joserfc on its own (no cococtl code): strip one 'sealed.' and verify the compact JWS."""
    assert value.startswith("sealed.")
    key = ECKey.import_key({k: jwk[k] for k in ("kty", "crv", "x", "y")})
    return joserfc_jws.deserialize_compact(value[len("sealed.") :], key, algorithms=["ES256"]).payload


def _raw_ecdsa_verify(value: str, jwk: dict[str, Any]) -> None:
    """And with cryptography's ECDSA: r || s over header.payload, as CDH's p256 verifier checks it."""
    header, payload, signature = value[len("sealed.") :].split(".")
    raw = _b64url(signature)
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(_b64url(jwk["x"]), "big"), int.from_bytes(_b64url(jwk["y"]), "big"), ec.SECP256R1()
    ).public_key()
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("name", FIXTURES)
def test_cdh_fixtures_decode_sign_and_verify(name: str) -> None:
    """secret/mod.rs serialize_deserialize: each fixture parses, serialises to the same JSON, and a secret signed
    with tests/test-key.json (kid "test-key") verifies."""
    text = (VECTORS / name).read_text()
    secret = parse_payload(text.encode())
    assert secret.to_dict() == json.loads(text)
    assert list(secret.to_dict()) == list(json.loads(text))  # serde field order
    key = load_private_jwk(_jwk("test-key.json"), what="test-key")
    sealed = sign(secret, key, "test-key")
    header_b64, payload_b64, _ = sealed[len("sealed.") :].split(".")
    assert _b64url(header_b64) == b'{"alg":"ES256","kid":"test-key"}'  # jose-jws Protected, exactly
    assert _b64url(payload_b64) == json.dumps(json.loads(text), separators=(",", ":")).encode()
    assert "=" not in sealed  # secret/mod.rs test_no_padding
    parsed = parse_sealed(sealed)
    verify(parsed, _jwk("test-key.json"))
    assert parsed.secret == secret
    assert json.loads(_independent_verify(sealed, _jwk("test-key.json"))) == json.loads(text)
    _raw_ecdsa_verify(sealed, _jwk("test-key.json"))


@pytest.mark.parametrize("offset", [50, 200, 250])
def test_tampering_is_detected(offset: int) -> None:
    """secret/mod.rs check_tampering: one character changed in the header, payload or signature."""
    secret = vault("kbs:///one/2/trois", "kbs", {}, {})
    sealed = sign(secret, load_private_jwk(_jwk("test-key.json"), what="k"), "test-key")
    chars = list(sealed)
    chars[offset] = "Y" if chars[offset] == "X" else "X"
    with pytest.raises(CococtlError):
        verify(parse_sealed("".join(chars)), _jwk("test-key.json"))


def test_wrong_key_is_an_integrity_error() -> None:
    """secret/mod.rs check_wrong_key: signed with test-key-2, checked with test-key."""
    secret = vault("kbs:///one/2/trois", "kbs", {}, {})
    sealed = sign(secret, load_private_jwk(_jwk("test-key-2.json"), what="k"), "test-key")
    with pytest.raises(IntegrityError):
        verify(parse_sealed(sealed), _jwk("test-key.json"))
    with pytest.raises(InvalidSignature):
        _raw_ecdsa_verify(sealed, _jwk("test-key.json"))


def test_a_jws_made_without_cococtl_verifies() -> None:
    """A secret signed by plain cryptography code (the way CDH's to_signed_base64_string builds it) is accepted."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    jwk = _jwk("test-key.json")
    private = ec.derive_private_key(int.from_bytes(_b64url(jwk["d"]), "big"), ec.SECP256R1())
    header = base64.urlsafe_b64encode(b'{"alg":"ES256","kid":"kbs:///default/sig/pub"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode((VECTORS / "vault-2.json").read_bytes()).rstrip(b"=").decode()
    r, s = decode_dss_signature(private.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256())))
    signature = base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).rstrip(b"=").decode()
    sealed = parse_sealed(f"sealed.{header}.{payload}.{signature}")
    verify(sealed, jwk)
    assert sealed.kid == "kbs:///default/sig/pub" and sealed.secret["name"] == "kbs:///one/2/trois"


def test_strictness_matches_cdh() -> None:
    secret = vault("kbs:///a/b/c", "kbs", {}, {})
    good = sign(secret, generate(), "kbs:///a/b/c")
    assert parse_sealed("sealed." + good).secret == secret  # trim_start_matches strips every prefix
    with pytest.raises(InvalidInputError, match="sealed"):
        parse_sealed(good[len("sealed.") :])
    with pytest.raises(InvalidInputError, match="part"):
        parse_sealed(good + ".x")
    padded = good.split(".")
    padded[2] += "="
    with pytest.raises(InvalidInputError):
        parse_sealed(".".join(padded))
    missing = {"version": "0.1.0", "type": "vault", "name": "n", "provider": "kbs", "provider_settings": {}}
    with pytest.raises(InvalidInputError, match="annotations"):
        from_dict(missing)  # serde requires it: no #[serde(default)]
    with pytest.raises(InvalidInputError, match="type"):
        from_dict({**missing, "type": "other", "annotations": {}})
    assert from_dict({**missing, "annotations": {}, "extra": 1}).unknown == ("extra",)
    header = base64.urlsafe_b64encode(b'{"alg":"ES384","kid":"k"}').rstrip(b"=").decode()
    other_alg = parse_sealed(f"sealed.{header}.{good.split('.')[2]}.{good.split('.')[3]}")
    with pytest.raises(InvalidInputError, match="ES256"):
        verify(other_alg, generate().public_jwk())


def test_envelope_round_trip_and_failures() -> None:
    kek = bytes(range(32))
    secret = seal(b"the value", kek, "kbs:///default/key/kek")
    assert secret["wrap_type"] == "A256GCM" and secret.provider == "kbs"
    assert len(base64.b64decode(secret["iv"])) == 12
    assert list(secret.to_dict()) == list(json.loads((VECTORS / "envelope-1.json").read_text()))
    assert open_envelope(secret, kek) == b"the value"
    with pytest.raises(IntegrityError):
        open_envelope(secret, bytes(32))
    data = bytearray(base64.b64decode(secret["encrypted_data"]))
    data[0] ^= 1
    tampered = from_dict({**secret.to_dict(), "encrypted_data": base64.b64encode(bytes(data)).decode()})
    with pytest.raises(IntegrityError):
        open_envelope(tampered, kek)
    aliyun = parse_payload((VECTORS / "envelope-1.json").read_bytes())
    with pytest.raises(InvalidInputError, match="aliyun"):
        open_envelope(aliyun, kek)


def test_keys_round_trip_and_refuse_bad_jwks() -> None:
    key = generate("k1")
    private = key.private_jwk()
    assert list(private) == ["kty", "crv", "alg", "use", "kid", "d", "x", "y"]  # secret_cli.rs generate_keys
    assert "d" not in key.public_jwk()
    assert load_private_jwk(private, what="k").public_jwk() == key.public_jwk()
    with pytest.raises(InvalidInputError, match="private"):
        load_private_jwk(key.public_jwk(), what="k")
    with pytest.raises(InvalidInputError, match="P-256"):
        load_public_jwk({"kty": "RSA"}, what="k")
    with pytest.raises(InvalidInputError, match="curve"):
        load_public_jwk({**key.public_jwk(), "y": key.public_jwk()["x"]}, what="k")
    with pytest.raises(InvalidInputError, match="belong"):
        load_private_jwk({**private, "d": _jwk("test-key.json")["d"]}, what="k")


def test_cli_keygen_seal_inspect(cli: Any, tmp_path: Path) -> None:
    cli("secret", "keygen", "--kid", "signer", "-o", tmp_path)
    private, public = tmp_path / "signer-private.json", tmp_path / "signer-public.json"
    assert private.stat().st_mode & 0o777 == 0o600
    assert "d" not in json.loads(public.read_text())
    cli("secret", "keygen", "--kid", "signer", "-o", tmp_path, expect=3)
    sealed = cli(
        "secret", "seal", "vault", "--resource-uri", "kbs:///default/secret/1", "--kid", "kbs:///default/sig/pub",
        "--signing-key", private,
    ).stdout.strip()  # fmt: skip
    assert json.loads(_independent_verify(sealed, json.loads(public.read_text())))["name"] == "kbs:///default/secret/1"
    shown = cli("--json", "secret", "inspect", sealed, "--public-key", public).json
    assert shown["signature_verified"] is True and shown["payload"]["type"] == "vault"
    text = cli("secret", "inspect", "-", input=sealed + "\n").stdout
    assert "not verified" in text and "kbs:///default/secret/1" in text
    cli("secret", "keygen", "--kid", "other", "-o", tmp_path)
    result = cli("secret", "inspect", sealed, "--public-key", tmp_path / "other-public.json", expect=7)
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr
    cli("secret", "inspect", "sealed.x.y", expect=3)
    cli("secret", "seal", "vault", "--resource-uri", "kbs:///a/b", "--kid", "kbs:///a/b/c", "--signing-key", private,
        expect=3)  # fmt: skip
    cli("secret", "seal", "vault", "--resource-uri", "kbs:///a/b/c", "--kid", "kbs:///a/b/c", "--signing-key", public,
        expect=3)  # fmt: skip
    key = tmp_path / "kek.bin"
    key.write_bytes(bytes(32))
    plain = tmp_path / "plain"
    plain.write_bytes(b"v")
    env = cli(
        "secret", "seal", "envelope", "--key-uri", "kbs:///default/key/k", "--plaintext", plain, "--key", key,
        "--kid", "local-key", "--signing-key", private, "-o", tmp_path / "env.sealed",
    )  # fmt: skip
    assert "local-key" in env.stderr  # a non-URI kid is a guest-local credential: warned
    assert open_envelope(parse_sealed((tmp_path / "env.sealed").read_text()).secret, bytes(32)) == b"v"


# --- fuzzing: only cococtl errors ----------------------------------------------------------------------------

_PART = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.", max_size=60)


@FAST
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200), st.builds(lambda a: "sealed." + a, _PART)))
def test_parse_sealed_arbitrary(value: str | bytes) -> None:
    try:
        parse_sealed(value)
    except CococtlError:
        pass


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@FAST
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "version",
                "type",
                "name",
                "provider",
                "provider_settings",
                "annotations",
                "key_id",
                "encrypted_key",
                "encrypted_data",
                "wrap_type",
                "iv",
            ]
        ),
        st.one_of(_JSON, st.sampled_from(["0.1.0", "vault", "envelope", "A256GCM", "kbs"])),
    ),
    _JSON,
)
def test_structured_payloads_and_headers(payload: dict[str, Any], header: Any) -> None:  # fmt: skip
    def enc(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    for value in (f"sealed.{enc(header)}.{enc(payload)}.{enc(1)}", f"sealed.{enc({'alg': 'ES256', 'kid': 'k'})}."
                  f"{enc(payload)}.AAAA"):  # fmt: skip
        try:
            sealed = parse_sealed(value)
            verify(sealed, generate().public_jwk())
        except CococtlError:
            pass
    try:
        secret = from_dict(payload)
        open_envelope(secret, bytes(32)) if secret.kind == "envelope" else None
    except CococtlError:
        pass


@FAST
@given(st.dictionaries(st.sampled_from(["kty", "crv", "x", "y", "d", "kid"]), st.one_of(_JSON, _PART)))
def test_arbitrary_jwks(jwk: dict[str, Any]) -> None:
    for loader in (load_public_jwk, load_private_jwk):
        try:
            loader({"kty": "EC", "crv": "P-256", **jwk}, what="k")
        except CococtlError:
            pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), st.builds(lambda a: ("sealed." + a).encode(), _PART)))
def test_cli_inspect_never_fails_internally(data: bytes) -> None:
    from typer.testing import CliRunner

    from cococtl.cli import app

    result = CliRunner().invoke(app, ["secret", "inspect", "-"], input=data)
    assert result.exit_code in (0, 3), result.stderr
    assert "Traceback" not in result.stderr
