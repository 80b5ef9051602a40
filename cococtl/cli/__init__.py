"""The ``cococtl`` command line: a thin layer over the library.

Command modules import only Typer and the standard library at module level; each command
imports the library code it needs when it runs, so ``--version`` and TAB completion stay fast.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cococtl import __version__
from cococtl.cli import (
    as_cmd,
    completion,
    crypt,
    demo,
    image,
    initdata,
    kbs,
    keyprovider,
    keys,
    manifest,
    policy,
    run,
    rvps,
    secret,
)
from cococtl.cli.output import Output, get_output, report_error
from cococtl.errors import (
    EXIT_CODE_MEANINGS,
    CococtlError,
    InvalidInputError,
    environment_error,
    missing_module_error,
)

EPILOG = "Exit codes: " + "; ".join(f"{int(code)} {text}" for code, text in EXIT_CODE_MEANINGS.items())


_GLOBAL_FLAGS = frozenset({"--json", "--quiet", "-q", "--verbose", "--debug"})


def _is_global_flag(token: str) -> bool:
    return token in _GLOBAL_FLAGS or (len(token) > 1 and token[0] == "-" and set(token[1:]) == {"v"})


def hoist_global_flags(args: list[str]) -> list[str]:
    """Let the global flags appear anywhere (``cococtl encrypt file x -o y --json``), not only first.

    Flags after a ``--`` separator are left alone; no subcommand defines options with these names.
    """
    try:
        end = args.index("--")
    except ValueError:
        end = len(args)
    hoisted = [a for a in args[:end] if _is_global_flag(a)]
    rest = [a for a in args[:end] if not _is_global_flag(a)]
    return hoisted + rest + args[end:]


class _ErrorBoundary(TyperGroup):
    """Turns library errors into one ``error:`` line and the documented exit code."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_flags(list(args)))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CococtlError as exc:
            self._fail(ctx, exc)
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(141) from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                _silence_stdout()
                raise typer.Exit(141) from None
            self._fail(ctx, environment_error(exc))
        except ModuleNotFoundError as exc:
            self._fail(ctx, missing_module_error(exc))
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except RecursionError:
            self._fail(ctx, InvalidInputError("the input nests too deeply to be processed"))
        except Exception as exc:
            if type(exc).__module__.startswith("typer"):
                raise
            self._fail(
                ctx, CococtlError(f"unexpected internal error: {type(exc).__name__}: {exc}", hint="run with --debug")
            )

    @staticmethod
    def _fail(ctx: Any, exc: CococtlError) -> None:
        """Report ``exc`` (a traceback first with --debug) and exit with its code."""
        output = get_output(ctx)
        if output.debug:
            import traceback

            traceback.print_exc(file=sys.stderr)
        report_error(exc, as_json=output.json)
        raise typer.Exit(int(exc.exit_code)) from None


def _silence_stdout() -> None:
    """The reader went away (``| head``): stop writing without a BrokenPipe traceback at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


app = typer.Typer(
    name="cococtl",
    cls=_ErrorBoundary,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EPILOG,
    help="Confidential Containers and Cocos AI toolkit: encrypt, inspect, attest, provision, run.",
)


def _version(value: bool) -> None:
    if value:
        print(f"cococtl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print results as one JSON document with stable keys.")
    ] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More detail on stderr.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    debug: Annotated[bool, typer.Option("--debug", envvar="COCOCTL_DEBUG", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    ctx.obj = Output(json=json_output, verbosity=verbose, quiet=quiet, debug=debug)


app.add_typer(crypt.encrypt_app, name="encrypt")
app.add_typer(crypt.decrypt_app, name="decrypt")
crypt.encrypt_app.command("image")(image.encrypt_image)
crypt.decrypt_app.command("image")(image.decrypt_image)
app.add_typer(image.inspect_app, name="inspect")
app.add_typer(keyprovider.app, name="keyprovider")
app.add_typer(keys.app, name="keys")
app.add_typer(manifest.app, name="manifest")
app.add_typer(kbs.app, name="kbs")
app.add_typer(as_cmd.app, name="as")
app.add_typer(rvps.app, name="rvps")
app.add_typer(policy.app, name="policy")
app.add_typer(initdata.app, name="initdata")
app.add_typer(secret.app, name="secret")
app.command("run")(run.run)
app.command("demo")(demo.demo)
app.command("completion")(completion.completion)


def _terminate(signum: int, frame: Any) -> None:
    # SIGTERM (a CI job killed, `timeout`) takes the same clean-up path as Ctrl-C: temp files holding
    # plaintext and work directories are removed by the ``finally`` blocks on the way out.
    raise KeyboardInterrupt


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    app(prog_name="cococtl")


__all__ = ["Output", "app", "main"]
