"""What CDH does with a sealed secret in the guest, done through a KBS: fetch the verification key named by the
``kid`` (secret/mod.rs:141-170, ``kms::new_getter("kbs")``), verify, then unseal: a ``vault`` secret is the KBS
resource its ``name`` points to (secret/layout/vault.rs:39-57 with kms/src/plugins/kbs/mod.rs:63-74); a ``kbs``
envelope needs the key at ``key_id``. One attestation serves every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cococtl.errors import InvalidInputError, printable
from cococtl.evidence import Attester
from cococtl.kbs.client import KbsClient
from cococtl.kbs.jwe import TeeKeyPair
from cococtl.kbs.uri import parse_resource_path
from cococtl.secret.envelope import open_envelope
from cococtl.secret.jws import SealedSecret, verify
from cococtl.secret.keys import parse_jwk_bytes


def kbs_kid(kid: str) -> str | None:
    """The ``repo/type/tag`` a ``kbs://`` kid names, or None for a local credential name."""
    if not kid.startswith(("kbs:", "kbs+")):
        return None
    return parse_resource_path(kid).path


def resource_name(uri: str, *, what: str) -> str:
    if not uri.startswith("kbs:"):
        raise InvalidInputError(f"{what} {printable(uri, 100)} is not a kbs:/// resource URI")
    return parse_resource_path(uri).path


@dataclass
class KbsSession:
    """A KBS client that attests on first use and keeps the session for every later resource."""

    client: KbsClient
    attester: Attester
    keypair: TeeKeyPair
    init_data: dict[str, str] | None = None
    token: str | None = None

    def get(self, path: str) -> bytes:
        if self.token is None:
            self.token = self.client.attest(self.attester, self.keypair, init_data=self.init_data)
        return self.client.get_resource(path, self.keypair)


def verification_key(sealed: SealedSecret, session: KbsSession) -> dict[str, Any]:
    path = kbs_kid(sealed.kid)
    if path is None:
        raise InvalidInputError(
            f"the kid {printable(sealed.kid, 100)} is not a kbs:/// URI: it names a key provisioned in the guest"
            " (/run/confidential-containers/cdh/sealed-secret); pass it with --public-key"
        )
    return parse_jwk_bytes(session.get(path), what=f"the verification key at {sealed.kid}")


def check_signature(sealed: SealedSecret, public_jwk: dict[str, Any] | None, session: KbsSession | None) -> None:
    if public_jwk is None:
        if session is None:
            raise InvalidInputError("verifying needs --public-key or a KBS (--kbs-url)")
        public_jwk = verification_key(sealed, session)
    verify(sealed, public_jwk)


def unseal(sealed: SealedSecret, session: KbsSession) -> bytes:
    secret = sealed.secret
    if secret.version != "0.1.0":
        raise InvalidInputError(f"sealed secret version {printable(secret.version, 40)!r}: CDH supports only 0.1.0")
    if secret.kind == "vault":
        if secret.provider.lower() != "kbs":
            raise InvalidInputError(
                f"vault provider {printable(secret.provider, 40)!r}: cococtl fetches only provider kbs secrets"
            )
        return session.get(resource_name(secret["name"], what="the vault secret name"))
    kek = session.get(resource_name(secret["key_id"], what="the envelope key_id"))
    return open_envelope(secret, kek)
