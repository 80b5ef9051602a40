"""The key-provider protocol over gRPC (``keyprovider.KeyProviderService``), a drop-in for coco_keyprovider.

Both messages hold a single ``bytes`` field (number 1) carrying the JSON of the cmd protocol, so the
protobuf encoding is written by hand rather than generating code with protoc for two one-field messages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from cococtl.errors import CococtlError, ExternalToolError, InvalidInputError
from cococtl.oci.keyprovider import KeyLookup, handle

SERVICE = "keyprovider.KeyProviderService"


def encode_message(payload: bytes) -> bytes:
    """``message { bytes field = 1; }``: tag 0x0a, varint length, bytes."""
    length, varint = len(payload), bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        varint.append(byte | (0x80 if length else 0))
        if not length:
            break
    return b"\x0a" + bytes(varint) + payload


def decode_message(data: bytes) -> bytes:
    """Field 1 of a one-bytes-field message (unknown fields skipped, as protobuf does)."""
    position, value = 0, b""
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 2:
            length, position = _varint(data, position)
            chunk = data[position : position + length]
            if len(chunk) != length:
                raise InvalidInputError("truncated protobuf message")
            position += length
            if number == 1:
                value = chunk
        elif wire_type == 0:
            _, position = _varint(data, position)
        elif wire_type in (1, 5):
            position += 8 if wire_type == 1 else 4
        else:
            raise InvalidInputError(f"unsupported protobuf wire type {wire_type}")
    return value


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if position >= len(data) or shift > 63:
            raise InvalidInputError("malformed protobuf varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def serve(
    listen: str,
    lookup: KeyLookup | None,
    *,
    ready: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve until ``stop`` is set (or forever). ``ready`` receives the bound port."""
    try:
        import grpc
    except ImportError:
        raise ExternalToolError("the gRPC key provider needs grpcio", hint="pip install 'cococtl[grpc]'") from None
    from concurrent import futures

    def method(request: bytes, context: Any) -> bytes:
        try:
            return handle(request, lookup)
        except CococtlError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.message)
            raise  # unreachable: abort raises

    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            method, request_deserializer=decode_message, response_serializer=encode_message
        )
        for name in ("WrapKey", "UnWrapKey")
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port(listen)
    if port == 0:
        raise ExternalToolError(f"cannot listen on {listen}")
    server.start()
    if ready is not None:
        ready(port)
    try:
        if stop is None:
            server.wait_for_termination()
        else:
            stop.wait()
    finally:
        server.stop(grace=1).wait(5)
