"""Generated protobuf/gRPC modules for the upstream CoCo services, and the one way to import them.

The ``*.proto`` files here are upstream's (origin in each file's header); ``*_pb2.py``, ``*_pb2.pyi`` and
``*_pb2_grpc.py`` are generated from them by ``make protos`` (grpcio-tools, version in README.md here) and
checked in, so neither a user nor ``make test`` needs grpcio-tools. They need the ``grpc`` extra at run time
(grpcio and protobuf), which is imported only when a gRPC code path runs: use :func:`load`.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from cococtl.errors import ExternalToolError

#: The versions the generated code checks at import time (``GRPC_GENERATED_VERSION``, and the
#: ``ValidateProtobufRuntimeVersion`` call in each ``*_pb2.py``). pyproject's ``grpc`` extra requires them.
GRPCIO_MINIMUM = "1.85.1"
PROTOBUF_MINIMUM = "7.35.1"
_HINT = "pip install 'cococtl[grpc]'"


def load(name: str, what: str) -> tuple[ModuleType, ModuleType, ModuleType]:
    """``(grpc, <name>_pb2, <name>_pb2_grpc)``; a missing or too old grpcio/protobuf is an ExternalToolError
    (exit 8) that names the extra to install. ``what`` says what needed it (``"the gRPC key provider"``)."""
    # gRPC core logs failed TLS handshakes and the like on stderr by itself; cococtl reports them as errors.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    try:
        grpc = importlib.import_module("grpc")
        messages = importlib.import_module(f"cococtl.protos.{name}_pb2")
        services = importlib.import_module(f"cococtl.protos.{name}_pb2_grpc")
    except ImportError as exc:
        raise ExternalToolError(f"{what} needs grpcio and protobuf ({exc.name or exc})", hint=_HINT) from None
    except Exception as exc:  # protobuf's VersionError, grpc's RuntimeError: installed, but too old
        raise ExternalToolError(
            f"{what} needs grpcio >= {GRPCIO_MINIMUM} and protobuf >= {PROTOBUF_MINIMUM}: {exc}", hint=_HINT
        ) from None
    return grpc, messages, services
