"""Safe file outputs: nothing is published until it is complete, nothing is overwritten by surprise.

Outputs are staged in a 0600 file beside the destination and given its name only when the caller's
block succeeds. The staging file has no name at all where the file system supports ``O_TMPFILE``
(ext4, xfs, btrfs, tmpfs), so even a SIGKILL leaves nothing behind; elsewhere it is a ``.NAME.*.part``
file, removed on any failure the process lives to handle (Ctrl-C included).

Replacing a large file (``--force``) is a rename over it, and the kernel then frees the old file's
pages and blocks when its last reference goes: on ext4 that is about half a second per GiB, spent in
whichever process drops that reference. So the old file is held open across the rename and the hold is
handed to a small detached process, which lets go once we have: the old data is released after the
command has returned, not during it. Nothing changes for small files, hard-linked files or symlinks.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cococtl.errors import InvalidInputError, OutputExistsError

PRIVATE_MODE = 0o600
RELEASE_IN_BACKGROUND_MIN = 32 << 20  # below this, freeing the old file costs less than handing it off


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
def atomic_output(path: Path, *, force: bool, private: bool, size: int | None = None) -> Iterator[BinaryIO]:
    """Yield a file that becomes ``path`` only if the block completes without an exception.

    ``private`` keeps the final file 0600 (keys, plaintext); otherwise it gets the usual
    umask-derived mode. Without ``force`` an existing ``path`` is never replaced, even if it
    appeared while we were writing. ``size``, the expected final size, lets a large output's blocks
    be reserved up front (see :func:`_preallocate`); a wrong guess costs nothing but that saving.

    Where the file system allows it, the file is staged without a name (``O_TMPFILE``) and linked
    into place at the end, so a process killed at any point (SIGKILL included) leaves nothing behind:
    the kernel frees an unnamed file with its last descriptor. Elsewhere it is staged as a 0600
    ``.NAME.*.part`` file beside ``path``, removed on any failure the process survives to handle.
    """
    check_writable_destination(path, force=force)
    parent = path.parent if str(path.parent) else Path(".")
    fd = _open_unnamed(parent)
    if fd is None:
        with _named_output(path, parent, force=force, private=private, size=size) as handle:
            yield handle
        return
    with os.fdopen(fd, "wb", buffering=0) as handle:
        _preallocate(fd, size)
        yield handle
        _trim(fd, size)
        if not private:
            os.fchmod(fd, _public_mode())
        _publish_unnamed(fd, path, parent, force=force)


def _open_unnamed(directory: Path) -> int | None:
    """An unnamed 0600 file in ``directory`` (``O_TMPFILE``), or None where that is not available."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir(_PROC_FD):
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY | os.O_CLOEXEC, PRIVATE_MODE)
    except OSError:
        # EOPNOTSUPP (a file system without it), EISDIR (a kernel without it), or a real problem with
        # ``directory``, which the named staging file then reports in its own words.
        return None


def _publish_unnamed(fd: int, path: Path, parent: Path, *, force: bool) -> None:
    """Give the unnamed file ``fd`` the name ``path``: a link without ``force``, else a replacement."""
    source = f"{_PROC_FD}/{fd}"
    # linkat(AT_SYMLINK_FOLLOW) links the file /proc/self/fd/N stands for. os.link calls plain link(),
    # which would try to link the /proc entry itself, unless it is given a directory descriptor.
    directory = os.open(parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if not force:
            try:
                # Fails if ``path`` appeared meanwhile: never replace it by surprise.
                os.link(source, path.name, dst_dir_fd=directory, follow_symlinks=True)
            except FileExistsError:
                raise OutputExistsError(
                    f"output {path} appeared while writing", hint="pass --force to replace it"
                ) from None
            return
        # A rename needs a name to move: link the file beside ``path``, then replace ``path`` with it at once.
        # (Only a process killed between these two calls, microseconds apart, leaves that name behind.)
        for _ in range(100):
            staged = f".{path.name}.{os.urandom(6).hex()}.part"
            try:
                os.link(source, staged, dst_dir_fd=directory, follow_symlinks=True)
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"no free temporary name beside {path}")
    finally:
        os.close(directory)
    try:
        replace_releasing_in_background(parent / staged, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            (parent / staged).unlink()
        raise


@contextlib.contextmanager
def _named_output(path: Path, parent: Path, *, force: bool, private: bool, size: int | None) -> Iterator[BinaryIO]:
    """:func:`atomic_output` through a named temporary file, for file systems without ``O_TMPFILE``."""
    import tempfile  # imported here: only those file systems need it

    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb", buffering=0) as handle:
            _preallocate(fd, size)
            yield handle
            _trim(fd, size)
        if not private:
            os.chmod(tmp, _public_mode())
        if force:
            replace_releasing_in_background(tmp, path)
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


_PROC_FD = "/proc/self/fd"
PREALLOCATE_MIN = 8 << 20  # below this, reserving blocks up front saves less than it costs
_FALLOC_FL_KEEP_SIZE = 1


def _preallocate(fd: int, size: int | None) -> None:
    """Reserve ``size`` bytes of blocks for ``fd`` up front (Linux ``fallocate(FALLOC_FL_KEEP_SIZE)``).

    On ext4 a buffered write into reserved blocks skips the per-page delayed-allocation bookkeeping,
    which is about half of the kernel's cost of writing a fresh file (0.36 s -> 0.19 s per GiB here).
    ``KEEP_SIZE`` leaves the file's length alone, so a short output is never padded. Best effort: any
    failure (no such call, a file system without it, no space) leaves the writes to find out as usual.
    ``os.posix_fallocate`` is not used because glibc emulates it by writing every block where the
    file system lacks it.
    """
    if size is None or size < PREALLOCATE_MIN:
        return
    import ctypes  # imported here: only a large output needs it

    try:
        fallocate = ctypes.CDLL(None, use_errno=True).fallocate64
    except (OSError, AttributeError):
        return
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fallocate.restype = ctypes.c_int
    fallocate(fd, _FALLOC_FL_KEEP_SIZE, 0, size)


def _trim(fd: int, size: int | None) -> None:
    """Release blocks reserved past the end of a file that came out shorter than ``size``."""
    if size is None or size < PREALLOCATE_MIN:
        return
    length = os.fstat(fd).st_size
    if length < size:
        os.ftruncate(fd, length)


def _hold_replaced_file(path: Path) -> int | None:
    """Open the file ``path`` names if replacing it will free a lot of data: a large regular file, one link."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_size < RELEASE_IN_BACKGROUND_MIN:
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    same = os.fstat(fd)
    if (same.st_dev, same.st_ino) != (info.st_dev, info.st_ino):
        os.close(fd)
        return None
    return fd


def _release_in_background(fd: int) -> None:
    """Close ``fd`` (an unlinked file) in a detached child, so the kernel frees it off our time.

    The child (``sh``, blocked reading a pipe) inherits ``fd``; we close our copy first and then the
    pipe, so the child's exit is the last close. It has no stdio of ours and its own session, so
    nothing waits for it; a daemon thread reaps it if this process lives on.
    """
    import subprocess  # imported here: only a large --force replacement needs it
    import threading

    try:
        if os.fstat(fd).st_nlink != 0:
            return  # still linked somewhere (raced with a link): closing it frees nothing
        read_end, write_end = os.pipe()
        try:
            child = subprocess.Popen(
                ["/bin/sh", "-c", "read _ || :"],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(fd,),
                start_new_session=True,
            )
        finally:
            os.close(read_end)
        os.close(fd)  # before the pipe: the child must hold the last reference
        fd = -1
        os.close(write_end)
        threading.Thread(target=child.wait, name="cococtl-reap", daemon=True).start()
    except OSError:
        pass  # no /bin/sh, no processes left: freeing it here is slower but just as correct
    finally:
        if fd >= 0:
            os.close(fd)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(src: Path, dst: Path) -> bool:
    """Swap the files ``src`` and ``dst`` name, atomically (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False where that is not available (no such call, a file system without it, ``dst`` gone),
    and the caller renames instead.
    """
    import ctypes  # imported here: only a large --force replacement needs it
    import errno

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOENT, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def replace_releasing_in_background(src: Path, dst: Path) -> None:
    """``os.replace(src, dst)``, without the two costs of replacing a large file on the timed path.

    A rename over an existing file makes ext4 start writing the new file out first (its
    ``auto_da_alloc`` heuristic: about 0.4 s per GiB of fresh data here), and the last reference to
    the old file frees its pages and blocks (about 0.5 s per GiB). For a large new or old file, the two
    names are exchanged instead (atomic: ``dst`` always names a complete file, old or new), the old
    file's new name is removed, and its data is released by a detached process (see
    :func:`_release_in_background`). The new file is then no less durable than a fresh output.
    """
    held = _hold_replaced_file(dst)
    try:
        large = held is not None or os.stat(src).st_size >= RELEASE_IN_BACKGROUND_MIN
        if large and os.path.lexists(dst) and _exchange(src, dst):
            os.unlink(src)  # now the old file's name
        else:
            os.replace(src, dst)
    except BaseException:
        if held is not None:
            os.close(held)
        raise
    if held is not None:
        _release_in_background(held)


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
