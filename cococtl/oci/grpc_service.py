"""The key-provider protocol over gRPC (``keyprovider.KeyProviderService``), a drop-in for coco_keyprovider.

The messages and the service come from the upstream proto (guest-components
``protos/protos/confidential-data-hub/keyprovider.proto``, compiled into ``cococtl/protos/keyprovider_pb2*.py``):
``WrapKey`` and ``UnWrapKey`` both take ``KeyProviderKeyWrapProtocolInput {bytes KeyProviderKeyWrapProtocolInput
= 1}`` and answer ``KeyProviderKeyWrapProtocolOutput {bytes KeyProviderKeyWrapProtocolOutput = 1}``, each holding
the JSON of the ocicrypt cmd protocol that :func:`cococtl.oci.keyprovider.handle` speaks. Failures are
``INVALID_ARGUMENT`` with the message, as coco_keyprovider answers a request it cannot use
(attestation-agent/coco_keyprovider/src/grpc/mod.rs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from cococtl.errors import CococtlError, ExternalToolError, InvalidInputError, UnreachableError, printable
from cococtl.oci.keyprovider import KeyLookup, handle

SERVICE = "keyprovider.KeyProviderService"
METHODS = ("WrapKey", "UnWrapKey")


def _modules() -> tuple[ModuleType, ModuleType, ModuleType]:
    from cococtl.protos import load

    return load("keyprovider", "the gRPC key provider")


def _servicer(lookup: KeyLookup | None) -> Any:
    grpc, messages, _ = _modules()

    class KeyProviderServicer:  # what add_KeyProviderServiceServicer_to_server calls: WrapKey, UnWrapKey
        """Both methods answer whatever the request's ``op`` asks, as the cmd protocol does."""

        def _answer(self, request: Any, context: Any) -> Any:
            try:
                payload = handle(bytes(request.KeyProviderKeyWrapProtocolInput), lookup)
            except CococtlError as error:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.message)
                raise  # unreachable: abort raises
            return messages.KeyProviderKeyWrapProtocolOutput(KeyProviderKeyWrapProtocolOutput=payload)

        def WrapKey(self, request: Any, context: Any) -> Any:  # the proto's method names
            return self._answer(request, context)

        def UnWrapKey(self, request: Any, context: Any) -> Any:
            return self._answer(request, context)

    return KeyProviderServicer()


def _listen_error(listen: str) -> CococtlError | None:
    """Why ``listen`` cannot be bound, found by probing it first (gRPC would only log that binding failed)."""
    import errno
    import socket

    host, _, port_text = listen.rpartition(":")
    host = host.strip("[]")
    if not port_text.isdigit():
        return InvalidInputError(f"--listen {listen!r}: expected HOST:PORT")
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, int(port_text)))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return InvalidInputError(
                f"cannot listen on {listen}: port {port_text} is already in use (another key provider?)",
                hint="choose another with --listen HOST:PORT",
            )
        if exc.errno == errno.EACCES:
            return InvalidInputError(
                f"cannot listen on {listen}: port {port_text} needs privileges", hint="use a port above 1023"
            )
        return InvalidInputError(f"cannot listen on {listen}: {exc.strerror}")
    return None


def serve(
    listen: str,
    lookup: KeyLookup | None,
    *,
    ready: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve until ``stop`` is set (or forever). ``ready`` receives the bound port."""
    grpc, _, services = _modules()
    from concurrent import futures

    refused = _listen_error(listen)
    if refused is not None:
        raise refused
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    services.add_KeyProviderServiceServicer_to_server(_servicer(lookup), server)
    try:
        port = server.add_insecure_port(listen)
    except RuntimeError:
        port = 0
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


def call(target: str, request: bytes, *, unwrap: bool = False, timeout: float = 30.0) -> bytes:
    """Send one cmd-protocol JSON request to a gRPC key provider at ``HOST:PORT`` (``WrapKey``, or ``UnWrapKey``
    with ``unwrap``) and return its JSON answer. The provider's refusal is InvalidInputError (exit 3); no answer
    within ``timeout`` seconds, or no provider there, is UnreachableError (exit 4)."""
    grpc, messages, services = _modules()
    method = "UnWrapKey" if unwrap else "WrapKey"
    with grpc.insecure_channel(target) as channel:
        stub = services.KeyProviderServiceStub(channel)
        try:
            answer = getattr(stub, method)(
                messages.KeyProviderKeyWrapProtocolInput(KeyProviderKeyWrapProtocolInput=request), timeout=timeout
            )
        except grpc.RpcError as error:
            code, details = error.code(), printable(error.details() or "")
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise UnreachableError(f"key provider {target}: no answer to {method} within {timeout:g} s") from None
            if code == grpc.StatusCode.UNAVAILABLE:
                raise UnreachableError(f"key provider {target} cannot be reached: {details}") from None
            raise InvalidInputError(f"key provider {target} refused {method}: {details}") from None
    return bytes(answer.KeyProviderKeyWrapProtocolOutput)
