"""OCI images the way the real stack takes them: what skopeo writes decrypts, what the guest refuses is refused,
every platform of an index is processed, and nothing is published on failure.

Upstream rules cited per test: containers/ocicrypt (Go) and guest-components (image-rs, CDH, resource_uri).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest

from cococtl.errors import IntegrityError, InvalidInputError, NotFoundError, OutputExistsError
from cococtl.oci import annotations as ann
from cococtl.oci.image import decrypt_image, encrypt_image, inspect_image
from cococtl.oci.layout import REF_NAME, Layout, parse_reference
from tests.oci_images import build_image, build_index

KID = "kbs:///default/key/image-kek"


def _ref(path: Path, tag: str | None = None) -> object:
    return parse_reference(f"oci:{path}" + (f":{tag}" if tag else ""))


def _manifest(root: Path, tag: str | None = None) -> dict[str, object]:
    return Layout.open(root).find_manifest(tag)[1]


def _replace_manifest(layout: Layout, manifest: dict[str, object]) -> None:
    """Point the layout's only index entry (keeping its tag, if any) at a rewritten manifest."""
    (entry,) = layout.index()["manifests"]
    digest, size = layout.add_json_blob(manifest)
    entry.update(digest=digest, size=size)
    (layout.root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))


def _rewrap(root: Path, kek: bytes, edit: object) -> None:
    """Rewrite the first layer's packet through ``edit(packet_dict, private_dict)`` and re-digest the manifest."""
    layout = Layout.open(root)
    _, manifest = layout.find_manifest(None)
    layer = manifest["layers"][0]
    packet = json.loads(base64.b64decode(layer["annotations"][ann.PROVIDER_ANNOTATION]))
    private = json.loads(ann.KeyProviderAnnotation.from_json(json.dumps(packet).encode()).unwrap(kek))
    edit(packet, private)  # type: ignore[operator]
    if "wrap_type" in packet and packet.get("wrap_type") == "A256GCM":
        fresh = ann.wrap(json.dumps(private, separators=(",", ":")).encode(), kek, packet["kid"])
        packet["wrapped_data"], packet["iv"] = (
            base64.b64encode(fresh.wrapped_data).decode(),
            base64.b64encode(fresh.iv).decode(),
        )
    layer["annotations"][ann.PROVIDER_ANNOTATION] = base64.b64encode(json.dumps(packet).encode()).decode()
    _replace_manifest(layout, manifest)


def test_private_digest_is_informational_like_go_and_the_guest(tmp_path: Path) -> None:
    # skopeo stores the SOURCE digest in the private options and then gzips a tar layer, so the decrypted blob
    # never matches it; ocicrypt (Go) and image-rs (decrypt.rs takes it as `_dec_digest`) ignore the field.
    build_image(tmp_path / "src", [{"a": b"tar layer"}], gzip_layers=False)
    kek = os.urandom(32)
    encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc"), kek, KID)
    _rewrap(tmp_path / "enc", kek, lambda p, o: o.update(digest="sha256:" + "0" * 64))
    report = decrypt_image(_ref(tmp_path / "enc"), _ref(tmp_path / "dec"), lambda kid: kek)
    assert report.layers[0].digest == _manifest(tmp_path / "src")["layers"][0]["digest"]


def test_diff_id_is_verified_after_decompression(tmp_path: Path) -> None:
    build_image(tmp_path / "src", [{"a": b"gzip layer"}])
    kek = os.urandom(32)
    encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc"), kek, KID)
    layout = Layout.open(tmp_path / "enc")
    _, manifest = layout.find_manifest(None)
    config = layout.read_json_blob(manifest["config"]["digest"], "config")
    config["rootfs"]["diff_ids"] = ["sha256:" + "1" * 64]
    manifest["config"]["digest"], manifest["config"]["size"] = layout.add_json_blob(config)
    _replace_manifest(layout, manifest)
    with pytest.raises(IntegrityError, match="diff_id"):
        decrypt_image(_ref(tmp_path / "enc"), _ref(tmp_path / "dec"), lambda kid: kek)
    assert not (tmp_path / "dec").exists() and not list(tmp_path.glob(".dec*"))


def test_concatenated_gzip_members_hash_like_go(tmp_path: Path) -> None:
    build_image(tmp_path / "src", [{"a": b"x" * 1000}])
    layout = Layout.open(tmp_path / "src")
    _, manifest = layout.find_manifest(None)
    tar = gzip.decompress(layout.blob_path(manifest["layers"][0]["digest"]).read_bytes())
    two_members = gzip.compress(tar[:700], mtime=0) + gzip.compress(tar[700:], mtime=0)
    digest, size = f"sha256:{hashlib.sha256(two_members).hexdigest()}", len(two_members)
    layout.blob_path(digest).write_bytes(two_members)
    manifest["layers"][0].update(digest=digest, size=size)
    _replace_manifest(layout, manifest)
    kek = os.urandom(32)
    encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc"), kek, KID)
    assert decrypt_image(_ref(tmp_path / "enc"), _ref(tmp_path / "dec"), lambda kid: kek).layers[0].digest == digest


def test_every_platform_of_an_index_by_default_or_the_one_chosen(tmp_path: Path) -> None:
    build_index(tmp_path / "src", {"linux/amd64": [{"a": b"amd"}], "linux/arm64": [{"b": b"arm"}, {"c": b"c"}]})
    kek = os.urandom(32)
    report = encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc"), kek, KID)
    assert [m.platform for m in report.manifests] == ["linux/amd64", "linux/arm64"]
    assert [(layer.platform, layer.encrypted) for layer in report.layers] == [
        ("linux/amd64", True),
        ("linux/arm64", True),
        ("linux/arm64", True),
    ]
    top = Layout.open(tmp_path / "enc").index()["manifests"][0]
    assert top["mediaType"] == "application/vnd.oci.image.index.v1+json" and top["digest"] == report.manifest_digest
    back = decrypt_image(_ref(tmp_path / "enc"), _ref(tmp_path / "dec"), lambda kid: kek)
    source = inspect_image(_ref(tmp_path / "src"))
    assert [layer.digest for layer in back.layers] == [layer.digest for layer in source.layers]
    one = encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "arm"), kek, KID, platform="linux/arm64")
    assert [m.platform for m in one.manifests] == [None] and len(one.layers) == 2
    with pytest.raises(NotFoundError, match="s390x"):
        encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "x"), kek, KID, platform="linux/s390x")


def test_an_untagged_reference_to_a_layout_with_several_images_is_refused(tmp_path: Path) -> None:
    build_image(tmp_path / "src", [{"a": b"a"}], tag="one")
    kek = os.urandom(32)
    encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc", "one"), kek, KID)
    encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc", "two"), kek, KID)
    with pytest.raises(InvalidInputError, match="choose one") as caught:
        decrypt_image(_ref(tmp_path / "enc"), _ref(tmp_path / "dec"), lambda kid: kek)
    assert "one, two" in (caught.value.hint or "")


def test_existing_tag_needs_force_and_other_tags_survive(tmp_path: Path) -> None:
    build_image(tmp_path / "src", [{"a": b"a"}])
    kek = os.urandom(32)
    first = encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc", "v1"), kek, KID)
    encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc", "v2"), kek, KID)
    with pytest.raises(OutputExistsError, match="v1"):
        encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc", "v1"), kek, KID)
    again = encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc", "v1"), kek, KID, force=True)
    assert again.manifest_digest != first.manifest_digest
    tags = [e["annotations"][REF_NAME] for e in Layout.open(tmp_path / "enc").index()["manifests"]]
    assert sorted(tags) == ["v1", "v2"]
    (tmp_path / "file-dir").mkdir()
    (tmp_path / "file-dir" / "x").write_text("x")
    with pytest.raises(OutputExistsError, match="not an OCI image layout"):
        encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "file-dir"), kek, KID)


def test_missing_blob_is_not_found_and_leaves_nothing(tmp_path: Path) -> None:
    manifest = build_image(tmp_path / "src", [{"a": b"a"}, {"b": b"b"}])
    Layout.open(tmp_path / "src").blob_path(manifest["layers"][1]["digest"]).unlink()
    with pytest.raises(NotFoundError, match="missing"):
        encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc"), os.urandom(32), KID)
    assert not (tmp_path / "enc").exists() and not list(tmp_path.glob(".enc*"))


def test_plaintext_layers_are_verified_when_copied(tmp_path: Path) -> None:
    manifest = build_image(tmp_path / "src", [{"a": b"a"}, {"b": b"b"}])
    Layout.open(tmp_path / "src").blob_path(manifest["layers"][1]["digest"]).write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match="does not match its digest"):
        encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc"), os.urandom(32), KID, layers=[0])


def test_reencrypting_is_refused_with_the_old_kid(tmp_path: Path) -> None:
    build_image(tmp_path / "src", [{"a": b"a"}])
    encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc"), os.urandom(32), KID)
    with pytest.raises(InvalidInputError, match=r"already encrypted.*image-kek"):
        encrypt_image(_ref(tmp_path / "enc"), _ref(tmp_path / "again"), os.urandom(32), "kbs:///default/key/other")
    assert not (tmp_path / "again").exists()


def test_zstd_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    manifest = build_image(tmp_path / "src", [{"a": b"a"}])
    layout = Layout.open(tmp_path / "src")
    manifest["layers"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+zstd"
    _replace_manifest(layout, manifest)
    with pytest.raises(InvalidInputError, match="tar / tar\\+gzip"):
        encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc"), os.urandom(32), KID)
    assert not (tmp_path / "enc").exists() and not list(tmp_path.glob(".enc*"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # CDH annotation_packet/v2.rs: version must be 0.1.0, wrap_type and iv required, provider kbs.
        (lambda p, o: p.update(version="0.2.0"), "version"),
        (lambda p, o: p.pop("wrap_type"), "wrap_type"),
        (lambda p, o: p.update(provider="aliyun"), "provider"),
        # resource_uri/src/lib.rs: the kid is a kbs:// or kbs+<plugin>:// URL.
        (lambda p, o: p.update(kid="/default/key/image-kek"), "kbs:///"),
        (lambda p, o: p.update(kid="https://example/default/key/k"), "kbs"),
    ],
)
def test_packets_the_guest_rejects_are_rejected(tmp_path: Path, edit: object, message: str) -> None:
    build_image(tmp_path / "src", [{"a": b"a"}])
    kek = os.urandom(32)
    encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc"), kek, KID)
    _rewrap(tmp_path / "enc", kek, edit)
    with pytest.raises(InvalidInputError, match=message):
        decrypt_image(_ref(tmp_path / "enc"), _ref(tmp_path / "dec"), lambda kid: kek)
    assert not (tmp_path / "dec").exists()


def test_explicit_default_version_and_provider_are_accepted(tmp_path: Path) -> None:
    build_image(tmp_path / "src", [{"a": b"a"}])
    kek = os.urandom(32)
    encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc"), kek, KID)
    _rewrap(tmp_path / "enc", kek, lambda p, o: p.update(version="0.1.0", provider="kbs"))
    decrypt_image(_ref(tmp_path / "enc"), _ref(tmp_path / "dec"), lambda kid: kek)


def test_every_recipient_is_tried(tmp_path: Path) -> None:
    build_image(tmp_path / "src", [{"a": b"a"}])
    kek, other = os.urandom(32), os.urandom(32)
    encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc"), kek, KID)
    layout = Layout.open(tmp_path / "enc")
    _, manifest = layout.find_manifest(None)
    layer = manifest["layers"][0]
    mine = ann.KeyProviderAnnotation.decode(layer["annotations"][ann.PROVIDER_ANNOTATION])
    private = mine.unwrap(kek)
    second = ann.wrap(private, other, "kbs:///default/key/other").encode()
    layer["annotations"][ann.PROVIDER_ANNOTATION] = second + "," + layer["annotations"][ann.PROVIDER_ANNOTATION]
    _replace_manifest(layout, manifest)
    keys = {"kbs:///default/key/image-kek": kek}

    def resolve(kid: str) -> bytes:
        if kid not in keys:
            raise NotFoundError(f"no key for {kid}")
        return keys[kid]

    decrypt_image(_ref(tmp_path / "enc"), _ref(tmp_path / "dec"), resolve)
    assert inspect_image(_ref(tmp_path / "enc")).layers[0].recipients == 2
    keys.clear()
    with pytest.raises(NotFoundError, match="none of the layer's 2 recipients"):
        decrypt_image(_ref(tmp_path / "enc"), _ref(tmp_path / "dec2"), resolve)


def test_inspect_verify_finds_a_tampered_layer_without_decrypting(tmp_path: Path) -> None:
    build_image(tmp_path / "src", [{"a": os.urandom(3000)}])
    kek = os.urandom(32)
    report = encrypt_image(_ref(tmp_path / "src"), _ref(tmp_path / "enc"), kek, KID)
    clean = inspect_image(_ref(tmp_path / "enc"), lambda kid: kek, verify=True)
    assert clean.failures() == [] and clean.layers[0].verified and clean.layers[0].diff_id
    blob = Layout.open(tmp_path / "enc").blob_path(report.layers[0].digest)
    data = bytearray(blob.read_bytes())
    data[50] ^= 1
    blob.write_bytes(bytes(data))
    assert inspect_image(_ref(tmp_path / "enc"), lambda kid: kek, verify=True).failures()[0].verified is False
