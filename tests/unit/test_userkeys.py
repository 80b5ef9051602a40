"""``cococtl keys new --type rsa|ecdsa|ed25519``: the user key pairs Cocos accepts (Go's own verdict is in
tests/integration/test_cocos_cli_parity.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import typer
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from typer.testing import CliRunner

from cococtl.crypto.userkeys import default_public_path, generate_user_key, public_key_der, write_user_key_pair
from cococtl.errors import CococtlError, InvalidInputError, OutputExistsError


def _app() -> typer.Typer:
    from cococtl.cli import keys
    from cococtl.cli.output import Output

    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
        ctx.obj = Output(json=as_json)

    app.add_typer(keys.app, name="keys")
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


def _agent_verifies(public_der: bytes, private_pem: bytes) -> bool:
    """Sign the role like the SDK (pkg/sdk/agent.go:208-227), verify like the agent (agent/auth/auth.go:102-128)."""
    role = b"consumer"
    private = serialization.load_pem_private_key(private_pem, password=None)
    public = serialization.load_der_public_key(public_der)
    digest = hashlib.sha256(role).digest()
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    if isinstance(private, ed25519.Ed25519PrivateKey) and isinstance(public, ed25519.Ed25519PublicKey):
        public.verify(private.sign(role), role)
    elif isinstance(private, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey):
        signature = private.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        public.verify(signature, role, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(public, ec.EllipticCurvePublicKey):
        signature = private.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        public.verify(signature, role, ec.ECDSA(hashes.SHA256()))
    else:
        return False
    return True


@pytest.mark.parametrize(
    ("key_type", "label"),
    [("rsa", b"PRIVATE KEY"), ("ecdsa", b"EC PRIVATE KEY"), ("ed25519", b"PRIVATE KEY")],
)
def test_pairs_are_what_cocos_cli_writes(key_type: str, label: bytes) -> None:
    pair = generate_user_key(key_type)
    assert pair.private_pem.startswith(b"-----BEGIN " + label + b"-----\n")  # cli/keys.go:20-22
    assert pair.public_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")  # cli/keys.go:23
    public = serialization.load_der_public_key(pair.public_der)
    if isinstance(public, rsa.RSAPublicKey):
        assert public.key_size == 4096  # cli/keys.go:19
    if isinstance(public, ec.EllipticCurvePublicKey):
        assert public.curve.name == "secp256r1"  # cli/keys.go:41
    assert base64.b64decode(pair.user_key) == pair.public_der
    assert _agent_verifies(pair.public_der, pair.private_pem)


def test_unknown_type() -> None:
    with pytest.raises(InvalidInputError):
        generate_user_key("dsa")


def test_default_public_paths(tmp_path: Path) -> None:
    assert default_public_path(tmp_path / "private.pem") == tmp_path / "public.pem"  # cli/keys.go:24-25
    assert default_public_path(tmp_path / "alice.pem") == tmp_path / "alice.pem.pub"


def test_files_modes_and_no_overwrite(tmp_path: Path) -> None:
    private = tmp_path / "private.pem"
    pair, public = write_user_key_pair("ed25519", private)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert public.read_bytes() == pair.public_pem and public == tmp_path / "public.pem"
    before = private.read_bytes()
    with pytest.raises(OutputExistsError):
        write_user_key_pair("ed25519", private)
    assert private.read_bytes() == before
    # Nothing is written when only the public key's destination is taken.
    other = tmp_path / "other.pem"
    (tmp_path / "taken.pub").write_text("keep")
    with pytest.raises(OutputExistsError):
        write_user_key_pair("ecdsa", other, tmp_path / "taken.pub")
    assert not other.exists() and (tmp_path / "taken.pub").read_text() == "keep"
    write_user_key_pair("ecdsa", private, force=True)
    assert private.read_bytes() != before
    with pytest.raises(InvalidInputError, match="same file"):
        write_user_key_pair("ecdsa", private, private, force=True)


def test_public_key_der(tmp_path: Path) -> None:
    pair, public = write_user_key_pair("rsa", tmp_path / "k.pem")
    assert public_key_der(public) == pair.public_der
    (tmp_path / "x").write_text("nothing")
    with pytest.raises(InvalidInputError, match="not a PEM"):
        public_key_der(tmp_path / "x")
    with pytest.raises(InvalidInputError, match="no public key"):
        public_key_der(tmp_path / "k.pem")  # a private key is not a user_key
    with pytest.raises(CococtlError):
        public_key_der(tmp_path / "missing.pem")


def test_keys_new_cli(tmp_path: Path) -> None:
    document = json.loads(invoke("--json", "keys", "new", "--type", "ecdsa", tmp_path / "private.pem").stdout)
    assert document["type"] == "ecdsa" and document["public_key_file"] == str(tmp_path / "public.pem")
    assert base64.b64decode(document["user_key"]) == public_key_der(tmp_path / "public.pem")
    invoke("keys", "new", "--type", "ecdsa", tmp_path / "private.pem", expect=3)
    invoke("keys", "new", "-t", "ed25519", tmp_path / "private.pem", "-p", tmp_path / "pub.pem", "--force")
    assert (tmp_path / "pub.pem").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    # The default is unchanged: 32 raw bytes, mode 0600.
    assert json.loads(invoke("--json", "keys", "new", tmp_path / "raw").stdout) == {
        "schema_version": 1,
        "key_file": str(tmp_path / "raw"),
        "bytes": 32,
    }
    assert len((tmp_path / "raw").read_bytes()) == 32
    invoke("keys", "new", tmp_path / "raw2", "--public-key", tmp_path / "p", expect=2)
    invoke("keys", "new", "--type", "dsa", tmp_path / "k", expect=2)
    assert not os.path.exists(tmp_path / "raw2")
