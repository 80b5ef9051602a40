"""The root Typer app: the error boundary (its mapping lives in cococtl.cli.boundary, shared with the fast path),
and command groups loaded only when they are used.

``cococtl.cli`` lists the top-level commands (``COMMANDS``) without importing them; this module imports Typer
and builds the Click command of a group the first time that group is looked up (to run it, to print its
help, or to walk the whole tree for completions and tests). ``cococtl --help`` prints the summaries from
``COMMANDS`` and imports no group.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import CommandInfo, TyperInfo

from cococtl import __version__
from cococtl.cli import COMMANDS, EXTRA_COMMANDS, hoist_global_flags
from cococtl.cli.boundary import begin, failure_exit_code
from cococtl.cli.helpfmt import HelpMixin, adopt, summary_of
from cococtl.cli.output import Output, get_output
from cococtl.errors import EXIT_CODE_MEANINGS

EPILOG = "Exit codes: " + "; ".join(f"{int(code)} {text}" for code, text in EXIT_CODE_MEANINGS.items())

_LOADED: dict[str, Any] = {}


def _resolve(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _single_command(name: str, function: Any) -> Any:
    info = CommandInfo(name=name, callback=function)
    return get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=None)


def load_command(name: str) -> Any:
    """The Click command of the top-level command ``name`` (imported and built once per process)."""
    if name not in _LOADED:
        target = _resolve(COMMANDS[name][0])
        if isinstance(target, typer.Typer):
            command = get_group_from_info(
                TyperInfo(target, name=name),
                pretty_exceptions_short=True,
                rich_markup_mode=None,
                suggest_commands=True,
            )
            for sub_name, sub_target in EXTRA_COMMANDS.get(name, {}).items():
                command.commands[sub_name] = _single_command(sub_name, _resolve(sub_target))
        else:
            command = _single_command(name, target)
        _LOADED[name] = adopt(command)
    return _LOADED[name]


class _LazyCommands(MutableMapping[str, Any]):
    """The root's subcommands: the names are known up front, each command is built when first read."""

    def __init__(self, given: Mapping[str, Any]) -> None:
        self._given = dict(given)

    def __getitem__(self, name: str) -> Any:
        if name in self._given:
            return self._given[name]
        if name in COMMANDS:
            return load_command(name)
        raise KeyError(name)

    def __setitem__(self, name: str, command: Any) -> None:
        self._given[name] = command

    def __delitem__(self, name: str) -> None:
        del self._given[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._given if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(name not in COMMANDS for name in self._given)

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._given


class _Root(HelpMixin, TyperGroup):
    """Lazy subcommands; library errors become one ``error:`` line and the documented exit code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands(self.commands)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands.keys())

    def summaries(self, ctx: Any) -> list[tuple[str, str]]:
        """For ``cococtl --help``: the summaries in ``COMMANDS``, so that no group is imported to print them."""
        rows = []
        for name in self.list_commands(ctx):
            if name in COMMANDS:
                rows.append((name, COMMANDS[name][1]))
            else:
                command = self.commands[name]
                if not command.hidden:
                    rows.append((name, summary_of(command)))
        return rows

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_flags(list(args)))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            # Report and map to an exit code, as the fast path does (cococtl.cli.boundary).
            code = failure_exit_code(exc, get_output(ctx))
            if code is None:
                raise
            raise typer.Exit(code) from None


app = typer.Typer(
    name="cococtl",
    cls=_Root,
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
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            envvar="COCOCTL_PROFILE",
            metavar="NAME",
            help="Defaults from this profile of ~/.config/cococtl/config.toml (COCOCTL_CONFIG).",
        ),
    ] = None,
) -> None:
    ctx.obj = output = Output(json=json_output, verbosity=verbose, quiet=quiet, debug=debug)
    from cococtl.notices import set_quiet

    ctx.call_on_close(lambda: set_quiet(False))
    profiled = begin(output, profile)  # the fast path of `encrypt file`/`decrypt file` runs the same
    if profiled is not None:
        ctx.meta["cococtl.profile"] = profiled
        applied = profiled[1]
        # The profile lasts for this command only (the CLI can be run in-process, e.g. by tests).
        ctx.call_on_close(lambda: [os.environ.pop(variable, None) for variable in applied])


def command_tree() -> Any:
    """The whole Click command tree (every group loaded), e.g. to generate completions or check help."""
    for name in COMMANDS:
        load_command(name)
    return typer.main.get_command(app)
