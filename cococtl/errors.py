"""Error tree: every failure cococtl reports carries its exit code and an optional hint.

The CLI has one error boundary that prints ``error: <message>`` (and ``hint: <hint>``)
on stderr and exits with ``exit_code``. Library callers catch :class:`CococtlError`.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The documented exit codes (README, DESIGN.md §2). Scripts depend on them."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    INVALID_INPUT = 3
    UNREACHABLE = 4
    DENIED = 5
    NOT_FOUND = 6
    INTEGRITY = 7
    EXTERNAL_TOOL = 8
    ALGORITHM_FAILED = 9
    INTERRUPTED = 130


EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.INTERNAL: "unexpected internal error (run with --debug for a traceback)",
    ExitCode.USAGE: "usage error (bad flags or arguments)",
    ExitCode.INVALID_INPUT: "invalid input: manifest, policy, key file, annotation, URI, config",
    ExitCode.UNREACHABLE: "a peer could not be reached or timed out (KBS, AS, registry, storage)",
    ExitCode.DENIED: "denied: attestation rejected, policy denied, admin not authorised",
    ExitCode.NOT_FOUND: "not found: resource, image, object",
    ExitCode.INTEGRITY: "integrity failure: authentication tag, HMAC or hash mismatch, wrong key",
    ExitCode.EXTERNAL_TOOL: "external tool missing, too old or failed (skopeo, docker, wasm runtime)",
    ExitCode.ALGORITHM_FAILED: "the computation's algorithm failed",
    ExitCode.INTERRUPTED: "interrupted",
}


class CococtlError(Exception):
    """Base of every error cococtl reports to a user."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InvalidInputError(CococtlError):
    """Malformed manifest, policy, key file, annotation, URI or configuration."""

    exit_code = ExitCode.INVALID_INPUT


class OutputExistsError(InvalidInputError):
    """An output path exists and --force was not given."""


class UnreachableError(CococtlError):
    """A peer could not be reached, refused the connection or timed out."""

    exit_code = ExitCode.UNREACHABLE


class DeniedError(CococtlError):
    """Attestation rejected, policy denied, or admin not authorised."""

    exit_code = ExitCode.DENIED


class NotFoundError(CococtlError):
    """A resource, image, object or file does not exist."""

    exit_code = ExitCode.NOT_FOUND


class IntegrityError(CococtlError):
    """Authentication tag, HMAC or hash mismatch; a wrong key."""

    exit_code = ExitCode.INTEGRITY


class ExternalToolError(CococtlError):
    """An external tool is missing, too old, or failed."""

    exit_code = ExitCode.EXTERNAL_TOOL


class AlgorithmFailedError(CococtlError):
    """The computation's algorithm exited non-zero or timed out."""

    exit_code = ExitCode.ALGORITHM_FAILED


def printable(text: object, limit: int = 300) -> str:
    """Peer-supplied text made safe for a terminal line: control characters and escape sequences are shown
    escaped (``\\x1b``), and a long value is cut with its size noted."""
    value = str(text)
    size = len(value)
    if size > limit:
        value = value[:limit]
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in value)
    return shown + (f"… ({size} characters)" if size > limit else "")


# Optional dependencies and the extra that installs each (pyproject.toml [project.optional-dependencies]).
_EXTRAS = {
    "boto3": "s3",
    "botocore": "s3",
    "google": "gcs",
    "wasmtime": "wasm",
    "grpc": "grpc",
    "google.protobuf": "grpc",
    "Crypto": "pqc",  # pycryptodome: KMAC256 for the ML-KEM-768 TEE key
}


def missing_module_error(exc: ModuleNotFoundError) -> CococtlError:
    """An optional library that is not installed: exit 8 with the pip line that installs it."""
    name = exc.name or ""
    extra = _EXTRAS.get(name) or _EXTRAS.get(name.split(".", 1)[0])
    if extra is None:
        return CococtlError(f"unexpected internal error: the module {name!r} is missing", hint="reinstall cococtl")
    return ExternalToolError(
        f"this needs the optional Python package for {extra!r} ({name} is not installed)",
        hint=f"pip install 'cococtl[{extra}]'",
    )


def environment_error(exc: OSError) -> CococtlError:
    """A file-system refusal in words, with its path and a documented code (never exit 1)."""
    import errno

    where = f" {exc.filename}" if exc.filename else ""
    reasons = {
        errno.ENOSPC: "the file system is full: free some space (or choose another output) and retry",
        errno.EDQUOT: "the disk quota is exhausted",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EISDIR: "is a directory",
        errno.ENOTDIR: "a part of the path is not a directory",
        errno.ELOOP: "too many levels of symbolic links",
        errno.ENAMETOOLONG: "the name is too long",
    }
    if exc.errno in (errno.ENOENT,):
        return NotFoundError(f"cannot use{where}: it does not exist")
    if exc.errno in reasons:
        return InvalidInputError(f"cannot use{where}: {reasons[exc.errno]}")
    return UnreachableError(f"cannot use{where}: {exc.strerror or exc}")
