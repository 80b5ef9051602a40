"""The upstream Go libraries judge cococtl's image encryption (the peer in tests/peers/ocicrypt).

The peer links github.com/containers/ocicrypt v1.3.2 and go.podman.io/image/v5 v5.42.1, the code skopeo, podman
and CRI-O run: ``image-copy`` is ``skopeo copy`` between oci: layouts, ``layer-encrypt``/``layer-decrypt`` are
ocicrypt's own EncryptLayer/DecryptLayer. Key providers are loaded by ocicrypt from OCICRYPT_KEYPROVIDER_CONFIG:
``cococtl keyprovider`` (cmd) and cococtl's gRPC service. Every case goes both ways (cococtl encrypts, Go decrypts;
Go encrypts, cococtl decrypts) and every decrypted layer must be the source layer: the same bytes, or, where
containers/image compresses an uncompressed source layer before encrypting (as skopeo does), a gzip stream of
the same bytes, whose diff_id the config lists.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cococtl.oci import annotations as ann
from cococtl.oci.layout import Layout
from tests.integration.peers import free_port, wait_for_port
from tests.oci_images import build_image
from tests.peer_tools import peer_json, run_peer

pytestmark = pytest.mark.integration
PEER = "ocicrypt"
KID = "kbs:///default/key/img"
TAG = "v1"
DECRYPTION_KEY = "provider:attestation-agent:offline_fs_kbc::null"
PROVIDER_ANNOTATION = "org.opencontainers.image.enc.keys.provider.attestation-agent"
PUBOPTS_ANNOTATION = "org.opencontainers.image.enc.pubopts"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = LAYER_TAR + "+gzip"
TIMEOUT = 60.0


@dataclass(frozen=True)
class Keys:
    kek: bytes
    kek_file: Path
    keys_file: Path

    @property
    def encryption_key(self) -> str:
        return f"provider:attestation-agent:keypath={self.kek_file}::keyid={KID}::algorithm=A256GCM"


@dataclass(frozen=True)
class Layer:
    media_type: str
    data: bytes
    annotations: dict[str, str]


@dataclass(frozen=True)
class Image:
    """One platform's image in a layout: its layers and its config's diff_ids."""

    layers: list[Layer]
    diff_ids: list[str]


# ---------------------------------------------------------------------------------------------- layouts


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _blob_path(root: Path, digest: str) -> Path:
    return root / "blobs" / "sha256" / digest.split(":", 1)[1]


def _read_json(root: Path, digest: str) -> dict[str, Any]:
    data = _blob_path(root, digest).read_bytes()
    assert _sha256(data) == digest, f"blob {digest} in {root} does not match its digest"
    value = json.loads(data)
    assert isinstance(value, dict)
    return value


def _write_blob(root: Path, data: bytes) -> str:
    digest = _sha256(data)
    _blob_path(root, digest).parent.mkdir(parents=True, exist_ok=True)
    _blob_path(root, digest).write_bytes(data)
    return digest


def _tagged(root: Path, tag: str = TAG) -> dict[str, Any]:
    index = json.loads((root / "index.json").read_text())
    entries = [
        e for e in index["manifests"] if (e.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag
    ]
    assert len(entries) == 1, f"{root} has {len(entries)} images tagged {tag}"
    entry = entries[0]
    assert isinstance(entry, dict)
    return entry


def _images(root: Path, tag: str = TAG) -> dict[str, Image]:
    """Every image behind ``tag``, by platform ("" for a single image), read independently of cococtl."""
    entry = _tagged(root, tag)
    document = _read_json(root, entry["digest"])
    if document.get("mediaType") == OCI_INDEX or "manifests" in document:
        children = [
            (f"{m['platform']['os']}/{m['platform']['architecture']}", m["digest"]) for m in document["manifests"]
        ]
    else:
        children = [("", entry["digest"])]
    images = {}
    for platform, digest in children:
        manifest = _read_json(root, digest)
        config = _read_json(root, manifest["config"]["digest"])
        layers = []
        for descriptor in manifest["layers"]:
            data = _blob_path(root, descriptor["digest"]).read_bytes()
            assert _sha256(data) == descriptor["digest"] and len(data) == descriptor["size"]
            layers.append(Layer(descriptor["mediaType"], data, dict(descriptor.get("annotations") or {})))
        images[platform] = Image(layers, list(config["rootfs"]["diff_ids"]))
    return images


def _plaintext(layer: Layer) -> bytes:
    return gzip.decompress(layer.data) if layer.media_type.endswith("+gzip") else layer.data


def _assert_same_layers(decrypted: dict[str, Image], source: dict[str, Image], *, recompressed: bool) -> None:
    """Decrypted layers are the source layers: identical bytes for tar+gzip (and, unless ``recompressed``, tar)
    sources; with ``recompressed`` an uncompressed source layer comes back as tar+gzip of the same tar, as
    containers/image writes it. Either way each layer's diff_id is the config's."""
    assert sorted(decrypted) == sorted(source)
    for platform, image in source.items():
        got = decrypted[platform]
        assert got.diff_ids == image.diff_ids, platform
        assert len(got.layers) == len(image.layers), platform
        for index, (out, original) in enumerate(zip(got.layers, image.layers, strict=True)):
            where = f"{platform or 'image'} layer {index}"
            assert not out.media_type.endswith("+encrypted"), where
            assert not any(k.startswith("org.opencontainers.image.enc") for k in out.annotations), where
            if recompressed and original.media_type == LAYER_TAR:
                assert out.media_type == LAYER_GZIP, where
                assert gzip.decompress(out.data) == original.data, where
            else:
                assert (out.media_type, out.data) == (original.media_type, original.data), where
            assert _sha256(_plaintext(out)) == got.diff_ids[index], where


def _assert_encrypted(images: dict[str, Image], layers: set[int] | None = None) -> None:
    for platform, image in images.items():
        for index, layer in enumerate(image.layers):
            chosen = layers is None or index in layers or index - len(image.layers) in layers
            assert layer.media_type.endswith("+encrypted") == chosen, f"{platform} layer {index}: {layer.media_type}"
            if chosen:
                packet = json.loads(base64.b64decode(layer.annotations[PROVIDER_ANNOTATION].split(",")[0]))
                assert packet["kid"] == KID and packet["wrap_type"] == "A256GCM"
                assert PUBOPTS_ANNOTATION in layer.annotations


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _raw_image(root: Path, layers: list[tuple[str, bytes]], *, tag: str = TAG) -> None:
    """A layout whose layer blobs are exactly ``layers`` (media type, bytes), e.g. a 0-byte layer."""
    descriptors = [{"mediaType": m, "digest": _write_blob(root, d), "size": len(d)} for m, d in layers]
    diff_ids = [_sha256(gzip.decompress(d) if m.endswith("+gzip") else d) for m, d in layers]
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _write_blob(root, config),
            "size": len(config),
        },
        "layers": descriptors,
    }
    data = json.dumps(manifest).encode()
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entry = {"mediaType": OCI_MANIFEST, "digest": _write_blob(root, data), "size": len(data)}
    (root / "index.json").write_text(
        json.dumps(
            {"schemaVersion": 2, "manifests": [{**entry, "annotations": {"org.opencontainers.image.ref.name": tag}}]}
        )
    )


def _two_platform_index(root: Path) -> None:
    """An index of linux/amd64 and linux/arm64 images with different layers, tagged v1."""
    children = []
    for arch, payload in (("amd64", b"x86 build\n"), ("arm64", b"arm build\n")):
        build_image(root, [{"etc/os": b"shared\n"}, {f"bin/{arch}": payload + os.urandom(4096)}], tag=arch)
        entry = _tagged(root, arch)
        children.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": entry["digest"],
                "size": entry["size"],
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}).encode()
    entry = {"mediaType": OCI_INDEX, "digest": _write_blob(root, index), "size": len(index)}
    (root / "index.json").write_text(
        json.dumps(
            {"schemaVersion": 2, "manifests": [{**entry, "annotations": {"org.opencontainers.image.ref.name": TAG}}]}
        )
    )


BUILDERS: dict[str, Callable[[Path], object]] = {
    "gzip": lambda root: build_image(
        root, [{"app/algo.py": b"print('hi')\n", "data/d.bin": os.urandom(300_000)}], tag=TAG
    ),
    "30-layers": lambda root: build_image(root, [{f"layer{i}/f": os.urandom(64 + i)} for i in range(30)], tag=TAG),
    "0-byte": lambda root: _raw_image(
        root, [(LAYER_GZIP, gzip.compress(_tar({"app/algo.py": b"print(0)\n"}), mtime=0)), (LAYER_TAR, b"")]
    ),
    "tar": lambda root: build_image(root, [{"app/algo.py": b"print('plain')\n" * 500}], tag=TAG, gzip_layers=False),
    "index": _two_platform_index,
    "select": lambda root: build_image(
        root, [{"base": b"base\n"}, {"mid": b"mid\n"}, {"app/top": b"secret\n"}], tag=TAG
    ),
}
# The layers a case encrypts (default: all; negative from the top), and the cases that copy every platform.
SELECTION: dict[str, set[int] | None] = {"select": {-1}}
ALL_PLATFORMS = {"index"}


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    directory = tmp_path_factory.mktemp("keys")
    kek = os.urandom(32)
    (directory / "kek").write_bytes(kek)
    (directory / "keys.json").write_text(json.dumps({"default/key/img": base64.b64encode(kek).decode()}))
    return Keys(kek, directory / "kek", directory / "keys.json")


def _cococtl() -> str:
    path = shutil.which("cococtl")
    assert path is not None, "cococtl is not on PATH"
    return path


@pytest.fixture(scope="module")
def grpc_port(keys: Keys) -> Iterator[int]:
    """`cococtl keyprovider serve` on a free loopback port, for the whole module."""
    port = free_port()
    server = subprocess.Popen(
        [_cococtl(), "keyprovider", "serve", "--listen", f"127.0.0.1:{port}", "--keys-file", str(keys.keys_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, deadline=20.0, proc=server)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture
def provider(request: pytest.FixtureRequest, tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> str:
    """OCICRYPT_KEYPROVIDER_CONFIG for the peer: `cococtl keyprovider` (cmd) or `cococtl keyprovider serve` (gRPC)."""
    config = tmp_path / "ocicrypt.conf"
    monkeypatch.setenv("OCICRYPT_KEYPROVIDER_CONFIG", str(config))
    if request.param == "cmd":
        command = {"path": _cococtl(), "args": ["keyprovider", "--keys-file", str(keys.keys_file)]}
        provider: dict[str, Any] = {"cmd": command}
    else:
        provider = {"grpc": f"127.0.0.1:{request.getfixturevalue('grpc_port')}"}
    config.write_text(json.dumps({"key-providers": {"attestation-agent": provider}}))
    return str(request.param)


def _source(tmp_path: Path, case: str) -> Path:
    root = tmp_path / "src"
    BUILDERS[case](root)
    return root


def _go_copy(source: Path, destination: Path, *flags: str, all_platforms: bool) -> None:
    args = [*flags, *(["--all"] if all_platforms else []), f"oci:{source}:{TAG}", f"oci:{destination}:{TAG}"]
    result = peer_json(PEER, "image-copy", *args, timeout=TIMEOUT)
    assert result["manifest_digest"].startswith("sha256:")


# ---------------------------------------------------------------------------------------------- image level


TRANSPORTS = ("cmd", "grpc")
# 30 layers through the cmd transport spawn 30 `cococtl keyprovider` processes per copy (8-18 s): gRPC covers them.
SLOW = {("30-layers", "cmd")}


def _matrix(cases: list[str]) -> list[Any]:
    """(case, transport) parameters for the indirect ``provider`` fixture."""
    return [
        pytest.param(case, transport, id=f"{case}-{transport}")
        for case in cases
        for transport in TRANSPORTS
        if (case, transport) not in SLOW
    ]


CASES = list(BUILDERS)


@pytest.mark.parametrize(("case", "provider"), _matrix(CASES), indirect=["provider"])
def test_cococtl_encrypts_containers_image_decrypts(
    tmp_path: Path, case: str, keys: Keys, provider: str, cli: Any
) -> None:
    source = _source(tmp_path, case)
    selection = SELECTION.get(case)
    layer_flags = [f"--layer={i}" for i in sorted(selection or ())]
    cli(
        "encrypt",
        "image",
        f"oci:{source}:{TAG}",
        f"oci:{tmp_path / 'enc'}:{TAG}",
        "--keyid",
        KID,
        "--key",
        keys.kek_file,
        *layer_flags,
    )
    _assert_encrypted(_images(tmp_path / "enc"), selection)
    _go_copy(
        tmp_path / "enc", tmp_path / "dec", "--decryption-key", DECRYPTION_KEY, all_platforms=case in ALL_PLATFORMS
    )
    # A decrypted stream is written as it is (copy/compression.go bpcPreserveEncrypted): byte-identical.
    _assert_same_layers(_images(tmp_path / "dec"), _images(source), recompressed=False)


@pytest.mark.parametrize(("case", "provider"), _matrix(CASES), indirect=["provider"])
def test_containers_image_encrypts_cococtl_decrypts(
    tmp_path: Path, case: str, keys: Keys, provider: str, cli: Any
) -> None:
    source = _source(tmp_path, case)
    selection = SELECTION.get(case)
    layer_flags = [f"--encrypt-layer={i}" for i in sorted(selection or ())]
    flags = ["--encryption-key", keys.encryption_key, *layer_flags]
    _go_copy(source, tmp_path / "enc", *flags, all_platforms=case in ALL_PLATFORMS)
    _assert_encrypted(_images(tmp_path / "enc"), selection)
    _assert_private_digest_is_the_source_digest(_images(tmp_path / "enc"), _images(source), keys.kek)
    cli(
        "decrypt",
        "image",
        f"oci:{tmp_path / 'enc'}:{TAG}",
        f"oci:{tmp_path / 'dec'}:{TAG}",
        "--keys-file",
        keys.keys_file,
    )
    _assert_same_layers(_images(tmp_path / "dec"), _images(source), recompressed=True)


def _assert_private_digest_is_the_source_digest(
    encrypted: dict[str, Image], source: dict[str, Image], kek: bytes
) -> None:
    """containers/image puts the SOURCE blob's digest in the private options (copy/encryption.go, the descriptor
    it gives ocicrypt.EncryptLayer) even when it compressed the layer first: a decrypter must not require the
    decrypted blob to match it (the diff_id is what the guest checks)."""
    for platform, image in encrypted.items():
        for layer, original in zip(image.layers, source[platform].layers, strict=True):
            if not layer.media_type.endswith("+encrypted"):
                continue
            packet = json.loads(base64.b64decode(layer.annotations[PROVIDER_ANNOTATION].split(",")[0]))
            private = json.loads(
                AESGCM(kek).decrypt(base64.b64decode(packet["iv"]), base64.b64decode(packet["wrapped_data"]), None)
            )
            assert private["digest"] == _sha256(original.data)


# ---------------------------------------------------------------------------------------------- layer level


LAYER_CASES = ["gzip", "0-byte", "tar"]


def _descriptor_file(path: Path, media_type: str, data: bytes, annotations: dict[str, str]) -> Path:
    descriptor: dict[str, Any] = {"mediaType": media_type, "digest": _sha256(data), "size": len(data)}
    if annotations:
        descriptor["annotations"] = annotations
    path.write_text(json.dumps(descriptor))
    return path


@pytest.mark.parametrize(("case", "provider"), _matrix(LAYER_CASES), indirect=["provider"])
def test_ocicrypt_decrypts_cococtl_layers_byte_for_byte(
    tmp_path: Path, case: str, keys: Keys, provider: str, cli: Any
) -> None:
    """ocicrypt.DecryptLayer (HMAC checked at EOF) turns each layer cococtl encrypted back into the source blob."""
    source = _source(tmp_path, case)
    cli(
        "encrypt",
        "image",
        f"oci:{source}:{TAG}",
        f"oci:{tmp_path / 'enc'}:{TAG}",
        "--keyid",
        KID,
        "--key",
        keys.kek_file,
    )
    plain, encrypted = _images(source)[""], _images(tmp_path / "enc")[""]
    for index, (layer, original) in enumerate(zip(encrypted.layers, plain.layers, strict=True)):
        desc = _descriptor_file(tmp_path / f"desc{index}.json", layer.media_type, layer.data, layer.annotations)
        (tmp_path / f"enc{index}").write_bytes(layer.data)
        out = tmp_path / f"dec{index}"
        result = peer_json(
            PEER,
            "layer-decrypt",
            "--in",
            str(tmp_path / f"enc{index}"),
            "--desc",
            str(desc),
            "--out",
            str(out),
            "--key",
            DECRYPTION_KEY,
            timeout=TIMEOUT,
        )
        assert out.read_bytes() == original.data
        assert result["digest"] == _sha256(original.data) and result["size"] == len(original.data)
        assert result["mediaType"] == original.media_type and not result.get("annotations")


@pytest.mark.parametrize(("case", "provider"), _matrix(LAYER_CASES), indirect=["provider"])
def test_cococtl_decrypts_ocicrypt_layers_byte_for_byte(
    tmp_path: Path, case: str, keys: Keys, provider: str, cli: Any
) -> None:
    """Layers from ocicrypt.EncryptLayer (no recompression), put into the image, decrypt to the source blobs."""
    source = _source(tmp_path, case)
    encrypted = tmp_path / "enc"
    shutil.copytree(source, encrypted)
    entry = _tagged(encrypted)
    manifest = _read_json(encrypted, entry["digest"])
    for index, descriptor in enumerate(manifest["layers"]):
        desc = tmp_path / f"desc{index}.json"
        desc.write_text(json.dumps(descriptor))
        out = tmp_path / f"layer{index}.enc"
        result = peer_json(
            PEER,
            "layer-encrypt",
            "--in",
            str(_blob_path(source, descriptor["digest"])),
            "--desc",
            str(desc),
            "--out",
            str(out),
            "--key",
            keys.encryption_key,
            timeout=TIMEOUT,
        )
        data = out.read_bytes()
        assert result["digest"] == _write_blob(encrypted, data) and result["size"] == len(data)
        assert result["mediaType"] == descriptor["mediaType"] + "+encrypted"
        manifest["layers"][index] = {
            "mediaType": result["mediaType"],
            "digest": result["digest"],
            "size": result["size"],
            "annotations": result["annotations"],
        }
    data = json.dumps(manifest).encode()
    index_json = json.loads((encrypted / "index.json").read_text())
    index_json["manifests"] = [{**entry, "digest": _write_blob(encrypted, data), "size": len(data)}]
    (encrypted / "index.json").write_text(json.dumps(index_json))
    _assert_encrypted(_images(encrypted))
    cli("decrypt", "image", f"oci:{encrypted}:{TAG}", f"oci:{tmp_path / 'dec'}:{TAG}", "--keys-file", keys.keys_file)
    _assert_same_layers(_images(tmp_path / "dec"), _images(source), recompressed=False)


@pytest.mark.parametrize("provider", ["grpc"], indirect=True)
def test_ocicrypt_rejects_a_tampered_cococtl_layer(tmp_path: Path, keys: Keys, provider: str, cli: Any) -> None:
    """The HMAC in pubopts is what ocicrypt checks: one flipped ciphertext bit makes DecryptLayer fail."""
    source = _source(tmp_path, "gzip")
    cli(
        "encrypt",
        "image",
        f"oci:{source}:{TAG}",
        f"oci:{tmp_path / 'enc'}:{TAG}",
        "--keyid",
        KID,
        "--key",
        keys.kek_file,
    )
    layer = _images(tmp_path / "enc")[""].layers[0]
    desc = _descriptor_file(tmp_path / "desc.json", layer.media_type, layer.data, layer.annotations)
    tampered = bytearray(layer.data)
    tampered[len(tampered) // 2] ^= 1
    (tmp_path / "tampered").write_bytes(bytes(tampered))
    args = ["--in", str(tmp_path / "tampered"), "--desc", str(desc), "--out", str(tmp_path / "out")]
    done = run_peer(PEER, "layer-decrypt", *args, "--key", DECRYPTION_KEY, timeout=TIMEOUT)
    assert done.returncode == 1 and done.stdout == b""
    assert b"hmac" in done.stderr.lower(), done.stderr


# ---------------------------------------------------------------------------------------------- failure table
# Issue #10: every failure exits with its documented code and leaves nothing in the destination or $TMPDIR.


def _encrypted(tmp_path: Path, cli: Any, kek_file: Path, layers: int = 2) -> Path:
    build_image(tmp_path / "src", [{f"f{i}": os.urandom(3000)} for i in range(layers)])
    cli("encrypt", "image", f"oci:{tmp_path / 'src'}", f"oci:{tmp_path / 'enc'}", "--keyid", KID, "--key", kek_file)
    return tmp_path / "enc"


def _top_layer(root: Path) -> tuple[Layout, dict[str, Any], dict[str, Any]]:
    layout = Layout.open(root)
    _, manifest = layout.find_manifest(None)
    return layout, manifest, manifest["layers"][-1]


def _rewrite(root: Path, manifest: dict[str, Any]) -> None:
    layout = Layout.open(root)
    (entry,) = layout.index()["manifests"]
    digest, size = layout.add_json_blob(manifest)
    entry.update(digest=digest, size=size)
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))


def _set_packet(root: Path, value: str) -> None:
    _, manifest, layer = _top_layer(root)
    layer["annotations"][ann.PROVIDER_ANNOTATION] = value
    _rewrite(root, manifest)


def _packet(root: Path) -> dict[str, Any]:
    _, _, layer = _top_layer(root)
    return dict(json.loads(base64.b64decode(layer["annotations"][ann.PROVIDER_ANNOTATION])))


def _tamper(root: Path) -> None:
    layout, _, layer = _top_layer(root)
    blob = layout.blob_path(layer["digest"])
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 1
    blob.write_bytes(bytes(data))


def _truncate(root: Path) -> None:
    layout, _, layer = _top_layer(root)
    blob = layout.blob_path(layer["digest"])
    blob.write_bytes(blob.read_bytes()[:-100])


def _remove(root: Path) -> None:
    layout, _, layer = _top_layer(root)
    layout.blob_path(layer["digest"]).unlink()


def _no_wrap_type(root: Path) -> None:
    packet = _packet(root)
    packet.pop("wrap_type")
    _set_packet(root, base64.b64encode(json.dumps(packet).encode()).decode())


def _bad_kid(root: Path) -> None:
    packet = _packet(root)
    packet["kid"] = "/default/key/img"
    _set_packet(root, base64.b64encode(json.dumps(packet).encode()).decode())


def _second_recipient_only(root: Path) -> None:
    # A first recipient nobody holds a key for, then ours: like skopeo and ocicrypt-rs, the next one is tried.
    packet = _packet(root)
    stranger = ann.wrap(b"{}", os.urandom(32), "kbs:///default/key/stranger").encode()
    _set_packet(root, stranger + "," + base64.b64encode(json.dumps(packet).encode()).decode())


FAILURES = {
    "wrong-key": (None, 7),
    "tampered-layer": (_tamper, 7),
    "truncated-layer": (_truncate, 7),
    "missing-blob": (_remove, 6),
    "bad-base64-annotation": (lambda root: _set_packet(root, "%%% not base64 %%%"), 3),
    "bad-kid": (_bad_kid, 3),
    "no-wrap-type": (_no_wrap_type, 3),
    "second-recipient-holds-the-key": (_second_recipient_only, 0),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failure_table(case: str, tmp_path: Path, cli: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    enc = _encrypted(tmp_path, cli, keys.kek_file)
    breaker, code = FAILURES[case]
    keys_file = keys.keys_file
    if breaker is None:
        keys_file = tmp_path / "wrong.json"
        keys_file.write_text(json.dumps({"default/key/img": base64.b64encode(os.urandom(32)).decode()}))
    else:
        breaker(enc)
    result = cli("decrypt", "image", f"oci:{enc}", f"oci:{tmp_path / 'dec'}", "--keys-file", keys_file, expect=code)
    assert "Traceback" not in result.stderr
    if code == 0:
        assert Layout.open(tmp_path / "dec").find_manifest(None)
    else:
        assert not (tmp_path / "dec").exists(), "nothing is published on failure"
    assert not list(tmp_path.glob(".dec*")) and list(scratch.iterdir()) == []


def _big_tar(size: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("big.bin")
        info.size = size
        archive.addfile(info, io.BytesIO(os.urandom(size)))
    return buffer.getvalue()


@pytest.mark.parametrize("provider", ["grpc"], indirect=True)
def test_a_256_mib_layer_both_ways(tmp_path: Path, cli: Any, keys: Keys, provider: str) -> None:
    layer = _big_tar(256 << 20)
    _raw_image(tmp_path / "src", [(LAYER_TAR, layer)])
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    cli("encrypt", "image", f"oci:{tmp_path / 'src'}:{TAG}", f"oci:{tmp_path / 'enc'}:{TAG}", "--keyid", KID,
        "--key", keys.kek_file)  # fmt: skip
    _go_copy(tmp_path / "enc", tmp_path / "go-dec", "--decryption-key", DECRYPTION_KEY, all_platforms=False)
    _, manifest = Layout.open(tmp_path / "go-dec").find_manifest(TAG)
    assert manifest["layers"][0]["digest"] == digest  # Go wrote our decrypted stream unchanged
    _go_copy(tmp_path / "src", tmp_path / "go-enc", "--encryption-key", keys.encryption_key, all_platforms=False)
    cli("decrypt", "image", f"oci:{tmp_path / 'go-enc'}:{TAG}", f"oci:{tmp_path / 'dec'}:{TAG}",
        "--keys-file", keys.keys_file)  # fmt: skip
    layout = Layout.open(tmp_path / "dec")
    _, manifest = layout.find_manifest(TAG)
    # containers/image gzips a tar source before encrypting: the decrypted layer is that gzip, and its content
    # is our tar (diff_id verified on decryption).
    import gzip

    with gzip.open(layout.blob_path(manifest["layers"][0]["digest"])) as unzipped:
        assert hashlib.sha256(unzipped.read()).hexdigest() == digest.split(":", 1)[1]
