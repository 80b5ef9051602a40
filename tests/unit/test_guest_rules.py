"""The guest's image-decryption rules, as a checked list.

The crates the guest decrypts images with (guest-components image-rs, ocicrypt-rs, confidential-data-hub) are not
published on crates.io, so they cannot be a peer in CI. Each rule below cites the guest-components source at
8246e5e0977f6322f0a1b0f77e0739cf1c3e1f74 (fetched by hand) and checks cococtl against it.
"""

from __future__ import annotations

import base64
import json
import os

import pytest

from cococtl.errors import CococtlError, IntegrityError, InvalidInputError, NotFoundError
from cococtl.oci import annotations as ann
from cococtl.oci.image import GUEST_LAYER_TYPES
from cococtl.oci.keyprovider import handle

KID = "kbs:///default/key/k1"


def _packet(**fields: object) -> bytes:
    kek = os.urandom(32)
    base = json.loads(ann.wrap(b"{}", kek, KID).to_json())
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None}).encode()


def test_media_types_the_guest_decrypts() -> None:
    # image-rs/src/decrypt.rs:85-91 (Decryptor::from_media_type): exactly these four encrypted types.
    assert set(GUEST_LAYER_TYPES) == {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    }


@pytest.mark.parametrize(
    ("fields", "accepted", "reason"),
    [
        # confidential-data-hub/hub/src/image/annotation_packet/v2.rs:17,57 (default 0.1.0), :68-70 (must equal)
        ({}, True, ""),
        ({"version": "0.1.0"}, True, ""),
        ({"version": "0.2.0"}, False, "version"),
        # v2.rs:60-62 default provider kbs; :74-76 "Provider must be `kbs`" for the KBS path
        ({"provider": "kbs"}, True, ""),
        ({"provider": "aliyun"}, False, "provider"),
        # v2.rs:80-82 "no `WrapType` given", :86-88 "no `iv` given"
        ({"wrap_type": None}, False, "wrap_type"),
        ({"iv": None}, False, "iv"),
        # v2.rs:91-95 kid must be a ResourceUri; resource_uri/src/lib.rs:62-74 scheme kbs or kbs+<plugin>
        ({"kid": "/default/key/k1"}, False, "kbs"),
        ({"kid": "https://kbs/default/key/k1"}, False, "kbs"),
        ({"kid": "kbs+:///default/key/k1"}, False, "plugin"),
        ({"kid": "kbs://kbs.example:8080/default/key/k1"}, True, ""),
        ({"kid": "kbs+pkcs11:///slot/1/key?label=x"}, True, ""),
    ],
)
def test_annotation_packets(fields: dict[str, object], accepted: bool, reason: str) -> None:
    if accepted:
        ann.KeyProviderAnnotation.from_json(_packet(**fields))
    else:
        with pytest.raises(InvalidInputError, match=reason):
            ann.KeyProviderAnnotation.from_json(_packet(**fields))


def test_recipients_are_tried_in_turn_and_a_bad_one_is_skipped() -> None:
    # ocicrypt-rs/src/encryption.rs:103-131 pre_unwrap_key: split on ',', try each, skip failures.
    kek = os.urandom(32)
    good = ann.wrap(b'{"symkey":"' + base64.b64encode(bytes(32)) + b'","digest":"","cipheroptions":{"nonce":"'
                    + base64.b64encode(bytes(16)) + b'"}}', kek, KID).encode()  # fmt: skip
    broken = base64.b64encode(b'{"kid": 7}').decode()

    def resolve(kid: str) -> bytes:
        if kid != KID:
            raise NotFoundError("no such key")
        return kek

    assert ann.unwrap_any(ann.recipient_parts(f"{broken},{good}"), resolve).symkey == bytes(32)
    with pytest.raises(CococtlError):
        ann.unwrap_any(ann.recipient_parts(broken), resolve)


def test_key_provider_answers_are_integer_arrays() -> None:
    # ocicrypt-rs/src/keywrap/keyprovider/mod.rs:47-55: KeyUnwrapResults.opts_data and KeyWrapResults.annotation
    # are serde Vec<u8> (JSON integer arrays); Go's []byte decoder accepts those too (checked by the Go peer tests).
    params = base64.b64encode(b"sample=true").decode()
    request = {
        "op": "keywrap",
        "keywrapparams": {"ec": {"Parameters": {"attestation-agent": [params]}}, "optsdata": "e30="},
    }
    answer = json.loads(handle(json.dumps(request).encode(), None))
    annotation = answer["keywrapresults"]["annotation"]
    assert isinstance(annotation, list) and all(isinstance(b, int) and 0 <= b < 256 for b in annotation)
    unwrap = {"op": "keyunwrap", "keyunwrapparams": {"annotation": base64.b64encode(bytes(annotation)).decode()}}
    opts = json.loads(handle(json.dumps(unwrap).encode(), lambda kid: ann.SAMPLE_KEK))["keyunwrapresults"]["optsdata"]
    assert bytes(opts) == b"{}"


def test_a256ctr_packets_unwrap_and_a_wrong_key_is_an_integrity_failure() -> None:
    # The guest accepts wrap_type A256CTR (confidential-data-hub crypto WrapType); it is not authenticated, so a
    # wrong key shows only as options that do not parse.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    kek, iv = os.urandom(32), os.urandom(16)
    options = (
        b'{"symkey":"'
        + base64.b64encode(bytes(32))
        + b'","digest":"","cipheroptions":{"nonce":"'
        + base64.b64encode(bytes(16))
        + b'"}}'
    )
    encryptor = Cipher(algorithms.AES(kek), modes.CTR(iv)).encryptor()
    packet = ann.KeyProviderAnnotation(KID, encryptor.update(options) + encryptor.finalize(), iv, "A256CTR")
    assert ann.unwrap_any([packet], lambda kid: kek).symkey == bytes(32)
    with pytest.raises(IntegrityError):
        ann.unwrap_any([packet], lambda kid: os.urandom(32))
