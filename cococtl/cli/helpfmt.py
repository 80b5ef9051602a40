"""How ``--help`` looks: option panels, full summaries, an Examples section and the environment variables.

The app keeps ``rich_markup_mode=None``: plain Click help, which needs no Rich import (``--help`` stays fast) and
never eats ``[...]`` in help text. Typer draws ``rich_help_panel`` panels only in its Rich mode, so this module
draws them in plain text: each option goes to the panel its ``rich_help_panel`` names or, when it names none,
to the panel ``DEFAULT_PANELS`` gives its flag (the same flag lands in the same panel in every command).
"""

from __future__ import annotations

import copy
from types import MethodType
from typing import Any

from typer.core import TyperCommand, TyperGroup

from cococtl.cli.examples import ENVIRONMENT, EXAMPLES

IO = "Input/output"
KBS = "KBS"
TLS = "TLS"
ADMIN = "Admin"
REGISTRY = "Registry"
ATTESTATION = "Attestation"
PANEL_ORDER = ("Options", IO, ATTESTATION, KBS, ADMIN, TLS, REGISTRY)

DEFAULT_PANELS = {
    "--output": IO,
    "--force": IO,
    "--raw": IO,
    "--url": KBS,
    "--kbs-url": KBS,
    "--timeout": KBS,
    "--cert-file": TLS,
    "--tls-cert": TLS,
    "--tls-key": TLS,
    "--admin-token-file": ADMIN,
    "--admin-key": ADMIN,
    "--role": ADMIN,
    "--tee": ATTESTATION,
    "--tee-key-file": ATTESTATION,
    "--tee-key-type": ATTESTATION,
    "--init-data": ATTESTATION,
    "--attester-cmd": ATTESTATION,
    "--attestation-token": ATTESTATION,
    "--tls-verify": REGISTRY,
    "--cert-dir": REGISTRY,
    "--authfile": REGISTRY,
    "--platform": REGISTRY,
}
# Old or alternative spellings that keep working but are not shown in help or offered by completion. An option can
# also hide some of its names itself: ``option.hidden_opts = ("--kbs-url",)`` (e.g. in a group whose URL is --url).
HIDDEN_ALIASES = frozenset({"--kbs", "--auth-private-key"})
# Below this many options a command shows them in one list.
PANEL_THRESHOLD = 6


def summary_of(command: Any) -> str:
    """A command's summary: its short help, or the first paragraph of its help (never cut mid-sentence)."""
    if command.short_help:
        return " ".join(str(command.short_help).split())
    text = (command.help or "").split("\n\n", 1)[0]
    return " ".join(word for word in text.split() if word != "\b")


def command_path(ctx: Any) -> str:
    """``cococtl kbs attest`` for the command of ``ctx``."""
    names = []
    while ctx is not None:
        names.append(ctx.info_name or "cococtl")
        ctx = ctx.parent
    names[-1] = "cococtl"
    return " ".join(reversed(names))


def hidden_names(param: Any) -> frozenset[str]:
    return HIDDEN_ALIASES | frozenset(getattr(param, "hidden_opts", ()))


def visible_opts(param: Any) -> list[str]:
    hidden = hidden_names(param)
    return [opt for opt in param.opts if opt not in hidden] or list(param.opts[:1])


def panel_of(param: Any) -> str:
    explicit = getattr(param, "rich_help_panel", None)
    if explicit:
        return str(explicit)
    for opt in (*param.opts, *param.secondary_opts):
        if opt in DEFAULT_PANELS:
            return DEFAULT_PANELS[opt]
    return "Options"


def _help_record(param: Any, ctx: Any) -> tuple[str, str] | None:
    if param.param_type_name == "option" and len(visible_opts(param)) < len(param.opts):
        shown = copy.copy(param)
        shown.opts = visible_opts(param)
        return shown.get_help_record(ctx)  # type: ignore[no-any-return]
    return param.get_help_record(ctx)  # type: ignore[no-any-return]


class HelpMixin:
    """Plain-text help with panels, full summaries, Examples and Environment sections."""

    __slots__ = ()

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments: list[tuple[str, str]] = []
        panels: dict[str, list[tuple[str, str]]] = {}
        options = [p for p in self.get_params(ctx) if p.param_type_name == "option"]  # type: ignore[attr-defined]
        grouped = len(options) >= PANEL_THRESHOLD
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            record = _help_record(param, ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append(record)
            else:
                panels.setdefault(panel_of(param) if grouped else "Options", []).append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        order = {name: i for i, name in enumerate(PANEL_ORDER)}
        for name in sorted(panels, key=lambda n: (order.get(n, len(order)), n)):
            with formatter.section("Options" if name == "Options" else f"{name} options"):
                formatter.write_dl(panels[name])
        if isinstance(self, TyperGroup):
            self.format_commands(ctx, formatter)
        path = command_path(ctx)
        if path in ENVIRONMENT:
            with formatter.section("Environment"):
                formatter.write_dl(list(ENVIRONMENT[path]))
        if path in EXAMPLES:
            with formatter.section("Examples"):
                formatter.write_text("\b\n" + "\n".join(EXAMPLES[path]))

    def summaries(self, ctx: Any) -> list[tuple[str, str]]:
        rows = []
        for name in self.list_commands(ctx):  # type: ignore[attr-defined]
            command = self.get_command(ctx, name)  # type: ignore[attr-defined]
            if command is not None and not command.hidden:
                rows.append((name, summary_of(command)))
        return rows

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = self.summaries(ctx)
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def adopt(command: Any) -> Any:
    """Give ``command`` and everything under it this module's help formatting (and plain, not Rich, help).

    The methods are bound on the instances, so any TyperCommand or TyperGroup subclass (``KbsGroup``, …) keeps
    its own class.
    """
    if isinstance(command, TyperCommand | TyperGroup) and not isinstance(command, HelpMixin):
        command.rich_markup_mode = None
        command.format_options = MethodType(HelpMixin.format_options, command)  # type: ignore[method-assign]
        if isinstance(command, TyperGroup):
            command.summaries = MethodType(HelpMixin.summaries, command)  # type: ignore[attr-defined]
            command.format_commands = MethodType(HelpMixin.format_commands, command)  # type: ignore[method-assign]
    for sub in getattr(command, "commands", {}).values():
        adopt(sub)
    return command
