"""The KBS double is an independent reading of the protocol (issue #15, "Shape"): it must not use the client's
wire helpers, or a bug in them would be on both sides of every round trip and no test would see it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import cococtl.devkbs

CLIENT_WIRE = ("cococtl.kbs.jwt", "cococtl.kbs.b64", "cococtl.kbs.jwe")

# Imports the double and runs every JOSE path it has (resource JWE for each TEE key type, EAR token signing
# and verification, bearer and legacy admin tokens), with keys and tokens made by cryptography and joserfc.
PROBE = r"""
import json, sys, time, warnings
warnings.simplefilter("error")
import cococtl.devkbs.server
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt
from joserfc.jwk import OKPKey
from cococtl.devkbs.admin import AdminPolicy
from cococtl.devkbs.ear import sign_ear_token, verify_ear_token
from cococtl.devkbs.jwe import b64url, encrypt_to

def fixed(n, size):
    return b64url(n.to_bytes(size, "big"))

for curve, crv, size in ((ec.SECP256R1(), "P-256", 32), (ec.SECP521R1(), "P-521", 66)):
    point = ec.generate_private_key(curve).public_key().public_numbers()
    jwk = {"alg": "ECDH-ES+A256KW", "crv": crv, "kty": "EC", "x": fixed(point.x, size), "y": fixed(point.y, size)}
    assert set(encrypt_to(jwk, b"s")) == {"protected", "encrypted_key", "iv", "ciphertext", "tag"}
for bits in (1024, 2048):
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key().public_numbers()
    for alg in ("RSA-OAEP-256", "RSA1_5"):
        encrypt_to({"alg": alg, "e": "AQAB", "kty": "RSA", "n": fixed(numbers.n, bits // 8)}, b"s")

signing = ec.generate_private_key(ec.SECP256R1())
point = signing.public_key().public_numbers()
jwk = {"kty": "EC", "crv": "P-256", "alg": "ES256", "x": fixed(point.x, 32), "y": fixed(point.y, 32)}
token = sign_ear_token({"exp": int(time.time()) + 60, "sub": "x"}, signing, jwk)
assert verify_ear_token(token, leeway=0)["sub"] == "x"

admin = ed25519.Ed25519PrivateKey.generate()
pem = admin.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
path = sys.argv[1]
open(path, "wb").write(pem)
claims = {"iss": "TrusteeInDocker", "aud": ["KBS"], "role": "admin", "exp": int(time.time()) + 60}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    bearer = jwt.encode({"alg": "EdDSA"}, claims, OKPKey.import_key(admin), algorithms=["EdDSA"])
from pathlib import Path
for mode in ("bearer", "legacy"):
    AdminPolicy.from_options(mode, Path(path), issuer="TrusteeInDocker").check("Bearer " + bearer, "/kbs/v0/resource")
print(json.dumps(sorted(sys.modules)))
"""


def test_the_double_runs_without_the_clients_wire_helpers(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "admin.pub")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout))
    assert "cococtl.devkbs.server" in modules and "joserfc" in modules
    assert not modules & set(CLIENT_WIRE), sorted(modules & set(CLIENT_WIRE))


def test_importing_the_double_loads_neither_the_client_helpers_nor_joserfc() -> None:
    probe = "import json, sys; import cococtl.devkbs.server; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = set(json.loads(done.stdout))
    assert "cococtl.devkbs.server" in modules
    assert not modules & set(CLIENT_WIRE)
    assert not {m for m in modules if m.split(".")[0] == "joserfc"}, "joserfc is imported where it is used"


def test_no_devkbs_module_imports_the_client_wire_helpers() -> None:
    """Statically too, so a lazy import inside a rarely taken branch cannot slip through."""
    offenders = []
    for source in sorted(Path(cococtl.devkbs.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            offenders += [f"{source.name}:{node.lineno} {name}" for name in names if name in CLIENT_WIRE]
    assert not offenders, offenders
