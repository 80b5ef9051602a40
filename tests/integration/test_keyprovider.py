"""The ocicrypt key-provider protocol, cmd (a real subprocess, as skopeo runs it) and gRPC."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from cococtl.oci import annotations as ann
from tests.integration.peers import grpc_key_provider

pytestmark = pytest.mark.integration
PLBCO = (
    b'{"symkey":"1jL2jJV0Oyz2nmPkLtqulW6cKcpIUN5FpILcVnP5Uqs=","digest":"sha256:18be",'
    b'"cipheroptions":{"nonce":"r10F9oaCu+nWFXfod3l83g=="}}'
)


def _wrap_request(params: str, optsdata: bytes = PLBCO) -> bytes:
    # The exact shape skopeo (Go ocicrypt) sends: see image-encryption notes §1.3.
    return json.dumps(
        {
            "op": "keywrap",
            "keywrapparams": {
                "ec": {
                    "Parameters": {"attestation-agent": [base64.b64encode(params.encode()).decode()]},
                    "DecryptConfig": {"Parameters": {}},
                },
                "optsdata": base64.b64encode(optsdata).decode(),
            },
            "keyunwrapparams": {"dc": None, "annotation": None},
        }
    ).encode()


def _as_bytes(value: list[int] | str) -> bytes:
    """A key-provider byte field: the integer array we answer (serde Vec<u8>) or Go's base64 string."""
    return bytes(value) if isinstance(value, list) else base64.b64decode(value)


def _unwrap_request(annotation: list[int] | str) -> bytes:
    # skopeo (Go) sends []byte as a base64 string.
    annotation_b64 = annotation if isinstance(annotation, str) else base64.b64encode(bytes(annotation)).decode()
    return json.dumps(
        {
            "op": "keyunwrap",
            "keywrapparams": {"ec": None, "optsdata": None},
            "keyunwrapparams": {
                "dc": {"Parameters": {"attestation-agent": ["b2ZmbGluZV9mc19rYmM6Om51bGw="]}},
                "annotation": annotation_b64,
            },
        }
    ).encode()


def _provider(stdin: bytes, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["cococtl", "keyprovider", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path, bytes]:
    kek = os.urandom(32)
    (tmp_path / "kek").write_bytes(kek)
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"default/key/img": base64.b64encode(kek).decode()}))
    return tmp_path / "kek", keys_file, kek


def test_cmd_wrap_then_unwrap(keys: tuple[Path, Path, bytes]) -> None:
    kek_file, keys_file, kek = keys
    wrapped = _provider(_wrap_request(f"keypath={kek_file}::keyid=kbs:///default/key/img::algorithm=A256GCM"))
    assert wrapped.returncode == 0, wrapped.stderr
    response = json.loads(wrapped.stdout)
    annotation = response["keywrapresults"]["annotation"]
    assert isinstance(annotation, list)  # what ocicrypt-rs parses (serde Vec<u8>)
    packet = ann.KeyProviderAnnotation.from_json(_as_bytes(annotation))
    assert packet.kid == "kbs:///default/key/img" and packet.wrap_type == "A256GCM" and len(packet.iv) == 12
    assert packet.unwrap(kek) == PLBCO
    unwrapped = _provider(_unwrap_request(annotation), env={"KP_KEYS_FILE": str(keys_file)})
    assert unwrapped.returncode == 0, unwrapped.stderr
    assert _as_bytes(json.loads(unwrapped.stdout)["keyunwrapresults"]["optsdata"]) == PLBCO


def test_cmd_sample_mode_and_upstream_vector() -> None:
    wrapped = _provider(_wrap_request("sample=true"))
    packet = ann.KeyProviderAnnotation.from_json(_as_bytes(json.loads(wrapped.stdout)["keywrapresults"]["annotation"]))
    # coco_keyprovider enc_mods/mod.rs: the hard-coded key, a zero IV, the fixed kid.
    assert packet.kid == ann.SAMPLE_KID and packet.unwrap(ann.SAMPLE_KEK) == PLBCO and packet.iv == bytes(12)
    refused = _provider(_wrap_request("sample=true::keyid=kbs:///default/key/mine"))
    assert refused.returncode == 3 and b"ignores keyid" in refused.stderr
    same = _provider(_wrap_request(f"sample=true::keyid={ann.SAMPLE_KID}::algorithm=A256CTR"))
    assert same.returncode == 0, same.stderr


def test_cmd_errors_go_to_stderr_only(keys: tuple[Path, Path, bytes]) -> None:
    kek_file, _, _ = keys
    for params, message in (
        (f"keypath={kek_file}", b"keyid"),
        ("keyid=kbs:///a/b/c", b"keypath"),
        (f"keypath={kek_file}::keyid=/default/image-kek/1", b"kbs:///"),
    ):
        result = _provider(_wrap_request(params))
        assert result.returncode != 0 and result.stdout == b"" and message in result.stderr
    result = _provider(
        _unwrap_request(
            base64.b64encode(b'{"kid":"kbs:///a/b/c","wrapped_data":"","iv":"","wrap_type":"A256GCM"}').decode()
        )
    )
    assert result.returncode == 3 and b"--keys-file" in result.stderr


def test_grpc_round_trip_with_an_independent_protobuf(keys: tuple[Path, Path, bytes]) -> None:
    import grpc
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    kek_file, keys_file, _ = keys
    # Build the upstream messages from a descriptor with the protobuf runtime (not our hand encoder).
    proto = descriptor_pb2.FileDescriptorProto(name="keyprovider_test.proto", package="keyprovider")
    for name in ("keyProviderKeyWrapProtocolInput", "keyProviderKeyWrapProtocolOutput"):
        message = proto.message_type.add(name=name)
        message.field.add(
            name=name[0].upper() + name[1:],
            number=1,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
        )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    request_cls = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("keyprovider.keyProviderKeyWrapProtocolInput")
    )
    response_cls = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("keyprovider.keyProviderKeyWrapProtocolOutput")
    )

    with grpc_key_provider(keys_file) as port:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:

            def call(method: str, payload: bytes) -> bytes:
                stub = channel.unary_unary(
                    f"/keyprovider.KeyProviderService/{method}",
                    request_serializer=lambda m: m.SerializeToString(),
                    response_deserializer=response_cls.FromString,
                )
                return bytes(
                    stub(
                        request_cls(KeyProviderKeyWrapProtocolInput=payload), timeout=10
                    ).KeyProviderKeyWrapProtocolOutput
                )

            wrapped = json.loads(call("WrapKey", _wrap_request(f"keypath={kek_file}::keyid=kbs:///default/key/img")))
            annotation = wrapped["keywrapresults"]["annotation"]
            unwrapped = json.loads(call("UnWrapKey", _unwrap_request(annotation)))
            assert _as_bytes(unwrapped["keyunwrapresults"]["optsdata"]) == PLBCO
            with pytest.raises(grpc.RpcError) as failure:
                call("WrapKey", b'{"op":"nope"}')
            assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
