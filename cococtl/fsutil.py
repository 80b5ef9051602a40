"""Safe file outputs: nothing is published until it is complete, nothing is overwritten by surprise.

Outputs are written to a 0600 temporary file beside the destination and moved into place only
when the caller's block succeeds; on any failure (Ctrl-C included) the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cococtl.errors import InvalidInputError, OutputExistsError

PRIVATE_MODE = 0o600


def _public_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def check_writable_destination(path: Path, *, force: bool) -> None:
    """Fail early (before any work) when ``path`` exists and may not be replaced."""
    if path.is_dir():
        raise InvalidInputError(f"output {path} is a directory")
    if path.exists() and not force:
        raise OutputExistsError(f"output {path} already exists", hint="pass --force to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInputError(f"output directory {parent} does not exist")


@contextlib.contextmanager
def atomic_output(path: Path, *, force: bool, private: bool) -> Iterator[BinaryIO]:
    """Yield a file that becomes ``path`` only if the block completes without an exception.

    ``private`` keeps the final file 0600 (keys, plaintext); otherwise it gets the usual
    umask-derived mode. Without ``force`` an existing ``path`` is never replaced, even if it
    appeared while we were writing.
    """
    check_writable_destination(path, force=force)
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb", buffering=0) as handle:
            yield handle
        if not private:
            os.chmod(tmp, _public_mode())
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if ``path`` appeared meanwhile: never replace it by surprise
            except FileExistsError:
                raise OutputExistsError(
                    f"output {path} appeared while writing", hint="pass --force to replace it"
                ) from None
            except OSError:
                # File systems without hard links: a last check, then an ordinary rename.
                if path.exists():
                    raise OutputExistsError(f"output {path} appeared while writing", hint="pass --force") from None
                os.replace(tmp, path)
            else:
                tmp.unlink()
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_private_file(path: Path, data: bytes, *, force: bool) -> None:
    """Write secret bytes (a key, a token) to ``path`` with mode 0600, atomically."""
    with atomic_output(path, force=force, private=True) as handle:
        handle.write(data)


def is_regular_file(fileobj: BinaryIO) -> bool:
    try:
        return stat.S_ISREG(os.fstat(fileobj.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def open_input(path: Path) -> BinaryIO:
    """Open an input file for reading with a clear error when it cannot be read."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        from cococtl.errors import NotFoundError

        raise NotFoundError(f"input {path} does not exist") from None
    except IsADirectoryError:
        raise InvalidInputError(f"input {path} is a directory") from None
    except PermissionError:
        raise InvalidInputError(f"input {path} is not readable (permission denied)") from None
