"""How the CLI talks to people and to scripts.

Results go to stdout (text, or one JSON document with ``--json``); status, warnings, progress
and errors go to stderr. Rich is used only for progress bars on a TTY and is imported lazily. Typer is not imported
here: the fast path of ``encrypt file``/``decrypt file`` (``cococtl.cli.fast``) uses this module without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cococtl.errors import CococtlError

if TYPE_CHECKING:
    import typer


@dataclass
class Output:
    """Global output settings chosen on the command line."""

    json: bool = False
    verbosity: int = 0
    quiet: bool = False
    debug: bool = False

    def status(self, message: str) -> None:
        """A progress or success line for a person (stderr, hidden by -q)."""
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)

    def detail(self, message: str) -> None:
        """Extra information shown with -v."""
        if self.verbosity > 0 and not self.quiet:
            print(message, file=sys.stderr, flush=True)

    def warning(self, message: str) -> None:
        """A warning (stderr; hidden by -q, which promises errors only)."""
        from cococtl.notices import warn

        if not self.quiet:
            warn(message, once=False)

    def result_text(self, text: str) -> None:
        _write_stdout(text if text.endswith("\n") else text + "\n")

    def result_json(self, document: dict[str, Any]) -> None:
        """The one result document; every one carries ``schema_version`` (bumped when a key changes meaning)."""
        _write_stdout(json.dumps({"schema_version": SCHEMA_VERSION, **document}, indent=2, sort_keys=False) + "\n")

    @contextlib.contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[ProgressHandle | None]:
        """Yield a handle (``advance(n)``, ``stop()``) drawing a Rich bar on a TTY stderr for big inputs."""
        big = total is None or total >= PROGRESS_THRESHOLD
        if self.quiet or self.json or not big or not _stderr_is_tty():
            yield None
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(binary_units=True),  # MiB, GiB
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
            # Other output (e.g. an algorithm's) must pass through untouched, never re-rendered by Rich.
            redirect_stdout=False,
            redirect_stderr=False,
        )
        handle = ProgressHandle(bar, bar.add_task(description, total=total))
        bar.start()
        try:
            yield handle
        finally:
            handle.stop()


class ProgressHandle:
    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task, self._stopped = bar, task, False
        self._unused_first = True

    def advance(self, n: int) -> None:
        if not self._stopped:
            self._bar.advance(self._task, n)

    def start(self, name: str, total: int | None, done: int = 0) -> Any:
        """A line of its own for one named transfer (the first reuses the bar's line); returns its ``advance``."""
        if self._stopped:
            return lambda _n: None
        if self._unused_first:
            self._unused_first = False
            task = self._task
            self._bar.update(task, description=name, total=total, completed=done)
        else:
            task = self._bar.add_task(name, total=total, completed=done)

        def advance(n: int) -> None:
            if not self._stopped:
                self._bar.advance(task, n)

        return advance

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._bar.stop()


PROGRESS_THRESHOLD = 4 << 20


def _stderr_is_tty() -> bool:
    try:
        return os.isatty(sys.stderr.fileno())
    except (AttributeError, ValueError, OSError):
        return False


def get_output(ctx: typer.Context) -> Output:
    root = ctx.find_root()
    if not isinstance(root.obj, Output):
        root.obj = Output()
    return root.obj


SCHEMA_VERSION = 1


def _write_stdout(text: str) -> None:
    """All of ``text`` on stdout. Under PYTHONUNBUFFERED the text layer writes straight to the file descriptor and
    drops a short write (a reader that went away mid-write: ``| head``), so the descriptor is written here until
    everything is out or EPIPE says the reader is gone (then BrokenPipeError: exit 141)."""
    import io
    import os

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        sys.stdout.write(text)  # an in-memory stdout (tests, embedding)
        sys.stdout.flush()
        return
    sys.stdout.flush()
    view = memoryview(text.encode(sys.stdout.encoding or "utf-8", errors="replace"))
    while view:
        view = view[os.write(fd, view) :]


def report_error(exc: CococtlError, *, as_json: bool = False) -> None:
    """``error:``/``hint:`` lines, or under ``--json`` one JSON document on stderr (stdout stays empty)."""
    if as_json:
        import json

        document = {
            "error": {
                "code": int(exc.exit_code),
                "kind": exc.exit_code.name.lower(),
                "message": exc.message,
                "hint": exc.hint,
            }
        }
        print(json.dumps(document), file=sys.stderr)
    else:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
    sys.stderr.flush()
