"""What every command run goes through, without Typer: the root's set-up and the error boundary.

The Typer root (``cococtl.cli._app``) and the fast path of ``encrypt file``/``decrypt file``
(``cococtl.cli.fast``) both call these, so the two cannot drift apart: the same ``-q`` switch and profile
loading before the command, the same ``error:``/``hint:`` lines (or JSON) and exit codes after a failure.
"""

from __future__ import annotations

import errno
import os
import sys

from cococtl.cli.output import Output, report_error
from cococtl.errors import CococtlError, InvalidInputError, environment_error, missing_module_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from cococtl.config import Profile


def begin(output: Output, profile: str | None) -> tuple[Profile, dict[str, str]] | None:
    """The root callback's work: ``-q`` for library notices, then the profile (``--profile``/``COCOCTL_PROFILE``,
    or the config file's choice when one exists). Returns the profile and the variables it set, or None when
    there is neither a profile name nor a config file."""
    from cococtl.notices import set_quiet

    set_quiet(output.quiet)
    from cococtl.config import config_path

    if profile is not None or config_path().is_file():
        from cococtl.config import apply_profile, load_profile

        chosen = load_profile(profile)
        return chosen, apply_profile(chosen)
    return None


def failure_exit_code(exc: Exception, output: Output) -> int | None:
    """Report ``exc``, which a command raised, and return the exit code to end with; None when it is not the
    boundary's to handle (the CLI framework's own exceptions: re-raise them).

    Call it inside the ``except`` block: with ``--debug`` it prints the traceback of the exception being handled.
    """
    if isinstance(exc, CococtlError):
        error = exc
    elif isinstance(exc, OSError):  # BrokenPipeError included
        if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
            silence_stdout()
            return 141
        error = environment_error(exc)
    elif isinstance(exc, ModuleNotFoundError):
        error = missing_module_error(exc)
    elif isinstance(exc, RecursionError):
        error = InvalidInputError("the input nests too deeply to be processed")
    elif type(exc).__module__.startswith("typer"):
        return None
    else:
        error = CococtlError(f"unexpected internal error: {type(exc).__name__}: {exc}", hint="run with --debug")
    if output.debug:
        import traceback

        traceback.print_exc(file=sys.stderr)
    report_error(error, as_json=output.json)
    return int(error.exit_code)


def silence_stdout() -> None:
    """The reader went away (``| head``): stop writing without a BrokenPipe traceback at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
