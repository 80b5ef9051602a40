"""Native ocicrypt: upstream vectors, round trips, tampering, and the layout reader under fuzzing."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cococtl.errors import CococtlError, IntegrityError, InvalidInputError, NotFoundError
from cococtl.oci import annotations as ann
from cococtl.oci.image import decrypt_image, decrypt_layers, encrypt_image, inspect_image, layer_kids
from cococtl.oci.layout import Layout, parse_reference
from tests.oci_images import build_image

VECTORS = Path(__file__).parents[1] / "vectors" / "keyprovider"
KID = "kbs:///default/key/image-kek"


def test_sample_kbc_vector_unwraps() -> None:
    expected = json.loads((VECTORS / "sample_kbc_expected.json").read_text())
    packet = ann.KeyProviderAnnotation.from_json((VECTORS / "sample_kbc_annotation.json").read_bytes())
    key = base64.b64decode(expected["key_b64"])
    assert key == ann.SAMPLE_KEK
    private = packet.unwrap(key)
    assert json.loads(private) == expected["expected_private_options"]
    options = ann.PrivateOptions.from_json(private)
    assert options.to_json() == private  # Go's field order and compact form, byte for byte
    assert packet.kid_path() == "default/key/1"


def test_readme_layer_decodes() -> None:
    vector = json.loads((VECTORS / "coco-keyprovider-readme-layer.json").read_text())
    annotations = vector["skopeo_inspect_layer"]["Annotations"]
    packet = ann.KeyProviderAnnotation.decode(annotations[ann.PROVIDER_ANNOTATION])
    assert json.loads(packet.to_json()) == vector["expected"]["annotation"]
    assert packet.encode() == annotations[ann.PROVIDER_ANNOTATION]  # same bytes as coco_keyprovider wrote
    assert len(packet.wrapped_data) == vector["expected"]["wrapped_data_bytes"] and len(packet.iv) == 12
    public = ann.PublicOptions.decode(annotations[ann.PUBOPTS_ANNOTATION])
    assert public.encode() == annotations[ann.PUBOPTS_ANNOTATION]


@pytest.mark.parametrize("docker", [False, True])
def test_encrypt_then_decrypt_restores_the_image(tmp_path: Path, docker: bool) -> None:
    original = build_image(
        tmp_path / "src", [{"app/main.py": b"print(1)\n"}, {"data/x.csv": os.urandom(300_000)}], docker=docker
    )
    kek = os.urandom(32)
    report = encrypt_image(
        parse_reference(f"oci:{tmp_path / 'src'}:latest"), parse_reference(f"oci:{tmp_path / 'enc'}:v1"), kek, KID
    )
    assert all(layer.encrypted and layer.kid == KID and layer.wrap_type == "A256GCM" for layer in report.layers)
    assert all(layer.media_type == "application/vnd.oci.image.layer.v1.tar+gzip+encrypted" for layer in report.layers)
    _, manifest = Layout.open(tmp_path / "enc").find_manifest("v1")
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["digest"] == original["config"]["digest"]  # diff_ids untouched
    assert layer_kids(tmp_path / "enc") == [KID]
    decrypted = decrypt_image(
        parse_reference(f"oci:{tmp_path / 'enc'}:v1"), parse_reference(f"oci:{tmp_path / 'dec'}:v1"), lambda kid: kek
    )
    assert [layer.digest for layer in decrypted.layers] == [layer["digest"] for layer in original["layers"]]
    assert not any(layer.encrypted for layer in decrypted.layers)


def test_select_layers_and_inspect_with_key(tmp_path: Path) -> None:
    build_image(tmp_path / "src", [{"a": b"1"}, {"b": b"2"}, {"c": b"3"}])
    kek = os.urandom(32)
    encrypt_image(
        parse_reference(f"oci:{tmp_path / 'src'}"), parse_reference(f"oci:{tmp_path / 'enc'}"), kek, KID, layers=[-1]
    )
    report = inspect_image(parse_reference(f"oci:{tmp_path / 'enc'}"), lambda kid: kek)
    assert [layer.encrypted for layer in report.layers] == [False, False, True]
    assert report.layers[2].unwraps is True and report.layers[2].symkey is None
    wrong = inspect_image(parse_reference(f"oci:{tmp_path / 'enc'}"), lambda kid: os.urandom(32))
    assert wrong.layers[2].unwraps is False and "wrong key" in (wrong.layers[2].error or "")
    with pytest.raises(InvalidInputError, match="--layer 5"):
        encrypt_image(
            parse_reference(f"oci:{tmp_path / 'src'}"), parse_reference(f"oci:{tmp_path / 'x'}"), kek, KID, layers=[5]
        )


def test_tampered_layer_is_refused_and_nothing_published(tmp_path: Path) -> None:
    build_image(tmp_path / "src", [{"a": os.urandom(5000)}])
    kek = os.urandom(32)
    report = encrypt_image(
        parse_reference(f"oci:{tmp_path / 'src'}"), parse_reference(f"oci:{tmp_path / 'enc'}"), kek, KID
    )
    blob = Layout(tmp_path / "enc").blob_path(report.layers[0].digest)
    data = bytearray(blob.read_bytes())
    data[100] ^= 1
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="HMAC"):
        decrypt_image(
            parse_reference(f"oci:{tmp_path / 'enc'}"), parse_reference(f"oci:{tmp_path / 'dec'}"), lambda kid: kek
        )
    # Nothing is published: no destination, no staging directory beside it.
    assert not (tmp_path / "dec").exists() and not list(tmp_path.glob(".dec*"))


def test_wrong_key_and_bad_kid(tmp_path: Path) -> None:
    build_image(tmp_path / "src", [{"a": b"x"}])
    with pytest.raises(InvalidInputError, match="kbs"):
        encrypt_image(
            parse_reference(f"oci:{tmp_path / 'src'}"),
            parse_reference(f"oci:{tmp_path / 'e'}"),
            os.urandom(32),
            "/default/image-kek/123",
        )
    encrypt_image(
        parse_reference(f"oci:{tmp_path / 'src'}"), parse_reference(f"oci:{tmp_path / 'e'}"), os.urandom(32), KID
    )
    with pytest.raises(IntegrityError, match="wrong key"):
        decrypt_layers(tmp_path / "e", tmp_path / "out", lambda kid: os.urandom(32))


def test_a256ctr_wrap_type_unwraps() -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    kek, iv, secret = os.urandom(32), os.urandom(16), b'{"symkey":"x"}'
    encryptor = Cipher(algorithms.AES(kek), modes.CTR(iv)).encryptor()
    packet = ann.KeyProviderAnnotation(KID, encryptor.update(secret) + encryptor.finalize(), iv, "A256CTR")
    assert ann.KeyProviderAnnotation.decode(packet.encode()).unwrap(kek) == secret


def test_references() -> None:
    assert parse_reference("oci:/x/y:tag").tag == "tag"
    assert parse_reference("oci:/x/y").tag is None
    assert parse_reference("oci:rel/dir").directory == Path("rel/dir")
    for bad in ("docker://r/i:1", "dir:/x", "docker-archive:/x.tar", "nope"):
        with pytest.raises(InvalidInputError):
            parse_reference(bad)


def test_missing_and_malformed_layouts(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        Layout.open(tmp_path / "none")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "index.json").write_text("{")
    with pytest.raises(InvalidInputError):
        Layout.open(tmp_path / "bad").find_manifest(None)
    (tmp_path / "bad" / "index.json").write_text('{"manifests":[{"digest":"sha256:../../etc"}]}')
    with pytest.raises(InvalidInputError, match="digest"):
        Layout.open(tmp_path / "bad").find_manifest(None)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode())))
def test_annotation_parser_never_crashes(value: str) -> None:
    try:
        ann.KeyProviderAnnotation.decode(value)
    except InvalidInputError:
        pass
    try:
        ann.PublicOptions.decode(value)
    except InvalidInputError:
        pass


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(index=json_value, manifest=json_value)
def test_layout_reader_never_crashes(tmp_path_factory: pytest.TempPathFactory, index: object, manifest: object) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    blob = json.dumps(manifest).encode()
    import hashlib

    digest = hashlib.sha256(blob).hexdigest()
    (root / "blobs" / "sha256").mkdir(parents=True)
    (root / "blobs" / "sha256" / digest).write_bytes(blob)
    if isinstance(index, dict):
        index = {**index, "manifests": [{"digest": f"sha256:{digest}"}]}
    (root / "index.json").write_text(json.dumps(index))
    try:
        inspect_image(parse_reference(f"oci:{root}"))
    except CococtlError:
        pass
