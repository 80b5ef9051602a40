"""The ``cococtl`` command line: a thin layer over the library.

Start-up stays short. ``cococtl --version`` is answered here, before Typer is imported, and so is
``cococtl [COMMAND…] --help`` when ``help.json`` (written by ``make completions``) matches the sources, and the
common shapes of ``encrypt file`` and ``decrypt file`` run without Typer (``cococtl.cli.fast``). Otherwise
the root app in ``cococtl.cli._app`` runs; it loads each command group's module only when that group is used (to
run it, print its help or complete it), and ``cococtl --help`` prints the summaries below without importing any
group. Command modules import only Typer and the standard library at module level; each command imports the
library code it needs when it runs.

To add a command group, add a line to ``COMMANDS`` (and examples to ``cococtl/cli/examples.py``).
"""

from __future__ import annotations

import os
import sys

from cococtl import __version__

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms of `cococtl --version`
if TYPE_CHECKING:
    from typing import Any

# The top-level commands, in the order `cococtl --help` lists them: name -> (what to load, summary).
# What to load is "module:attribute", a typer.Typer (a group) or a command function. The summary is the first
# paragraph of that command's help (a test keeps the two equal).
COMMANDS: dict[str, tuple[str, str]] = {
    "encrypt": (
        "cococtl.cli.crypt:encrypt_app",
        "Encrypt files (Go/Cocos AES-256-GCM) and OCI images (ocicrypt).",
    ),
    "decrypt": ("cococtl.cli.crypt:decrypt_app", "Decrypt files and OCI images."),
    "inspect": ("cococtl.cli.image:inspect_app", "Show OCI image layers and decode their encryption annotations."),
    "keyprovider": (
        "cococtl.cli.keyprovider:app",
        "ocicrypt key provider for the attestation-agent protocol: cmd mode (stdin/stdout) or gRPC (serve).",
    ),
    "keys": ("cococtl.cli.keys:app", "Create raw keys and offline_fs key JSON; export keys from it."),
    "manifest": ("cococtl.cli.manifest:app", "Validate computation manifests, print their schema, start a new one."),
    "kbs": (
        "cococtl.cli.kbs:app",
        "Talk to a Trustee Key Broker Service (protocol 0.4.0).",
    ),
    "as": (
        "cococtl.cli.as_cmd:app",
        "Talk to a CoCo Attestation Service (RESTful, or gRPC with --url grpc://HOST:PORT).",
    ),
    "rvps": ("cococtl.cli.rvps:app", "Register and query reference values in a Trustee RVPS (gRPC)."),
    "policy": ("cococtl.cli.policy:app", "Check Trustee Rego policies offline."),
    "initdata": (
        "cococtl.cli.initdata:app",
        "Init-data: write, validate, digest (TDX/SNP/CCA forms), encode as the Kata annotation, decode.",
    ),
    "secret": (
        "cococtl.cli.secret:app",
        "Sealed secrets for the CoCo guest: sign vault/envelope secrets, inspect, verify, unseal through a KBS.",
    ),
    "run": (
        "cococtl.cli.run:run",
        "Download, decrypt, verify and execute a computation manifest, then collect its results.",
    ),
    "demo": (
        "cococtl.cli.demo:demo",
        "Local KBS double + HTTP storage + encrypted algorithm and dataset + an attested run, in seconds.",
    ),
    "completion": ("cococtl.cli.completion:completion", "Print the completion script for SHELL: bash, zsh or fish."),
    "checksum": (
        "cococtl.cli.checksum:checksum",
        "Print the SHA3-256 of PATH like cocos-cli checksum: a file's bytes, or a directory zipped like Cocos.",
    ),
    "config": (
        "cococtl.cli.config_cmd:app",
        "Show the configuration profile in effect and where each setting comes from.",
    ),
    "env": (
        "cococtl.cli.config_cmd:env",
        "Every environment variable cococtl reads, with its value (secrets hidden) and what it is for.",
    ),
}
# Commands joined into a group defined in another module: group -> {name: "module:function"}.
EXTRA_COMMANDS: dict[str, dict[str, str]] = {
    "encrypt": {"image": "cococtl.cli.image:encrypt_image"},
    "decrypt": {"image": "cococtl.cli.image:decrypt_image"},
}

_GLOBAL_FLAGS = frozenset({"--json", "--quiet", "-q", "--verbose", "--debug"})


def _is_global_flag(token: str) -> bool:
    return token in _GLOBAL_FLAGS or (len(token) > 1 and token[0] == "-" and set(token[1:]) == {"v"})


def hoist_global_flags(args: list[str]) -> list[str]:
    """Let the global flags appear anywhere (``cococtl encrypt file x -o y --json``), not only first.

    ``--profile NAME`` (or ``--profile=NAME``) travels with its value. Flags after a ``--`` separator are left
    alone; no subcommand defines options with these names.
    """
    try:
        end = args.index("--")
    except ValueError:
        end = len(args)
    hoisted: list[str] = []
    rest: list[str] = []
    index = 0
    while index < end:
        word = args[index]
        if word == "--profile" and index + 1 < end:
            hoisted += [word, args[index + 1]]
            index += 2
            continue
        (hoisted if _is_global_flag(word) or word.startswith("--profile=") else rest).append(word)
        index += 1
    return hoisted + rest + args[end:]


def asks_for_version(args: list[str]) -> bool:
    """True when Typer would print the version: ``--version`` before any command and before ``--help``."""
    for arg in args:
        if arg == "--version":
            return True
        if not _is_global_flag(arg):
            return False
    return False


def _terminate(signum: int, frame: Any) -> None:
    # SIGTERM (a CI job killed, `timeout`) takes the same clean-up path as Ctrl-C: temp files holding
    # plaintext and work directories are removed by the ``finally`` blocks on the way out.
    raise KeyboardInterrupt


def help_fingerprint() -> int:
    """A checksum of the sources the help text comes from: the CLI modules, the exit codes and the version."""
    import zlib

    here = os.path.dirname(os.path.abspath(__file__))
    package = os.path.dirname(here)
    paths = [os.path.join(here, name) for name in sorted(os.listdir(here)) if name.endswith(".py")]
    paths += [os.path.join(package, "errors.py"), os.path.join(package, "__init__.py")]
    crc = 0
    for path in paths:
        with open(path, "rb") as source:
            crc = zlib.crc32(os.path.basename(path).encode() + b"\0" + source.read(), crc)
    return crc


def _columns() -> int:
    """The terminal width as Click's help formatter sees it (shutil.get_terminal_size, without importing it)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def cached_help(words: list[str]) -> str | None:
    """The help of ``cococtl WORDS… --help`` from ``help.json``, which ``make completions`` writes with the
    completion scripts; None (ask Typer) unless it was written from exactly these sources, for a terminal of at
    least 80 columns (Click wraps help at 78 columns, or narrower on a narrower terminal)."""
    if any(word.startswith("-") for word in words) or _columns() < 80:
        return None
    import json

    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "help.json"), encoding="utf-8") as cache:
            document = json.load(cache)
        if document.get("fingerprint") != help_fingerprint():
            return None
        text = document["help"].get(" ".join(["cococtl", *words]))
    except (OSError, ValueError, KeyError, AttributeError):
        return None
    return text if isinstance(text, str) else None


def main() -> None:
    args = sys.argv[1:]
    if "_COCOCTL_COMPLETE" not in os.environ:
        if asks_for_version(args):
            sys.stdout.write(f"cococtl {__version__}\n")
            return
        if args and args[-1] in ("--help", "-h"):
            text = cached_help(args[:-1])
            if text is not None:
                try:
                    sys.stdout.write(text)
                    sys.stdout.flush()
                except BrokenPipeError:  # `cococtl --help | head`: stop quietly, like the other commands
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                    raise SystemExit(141) from None
                return
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    if "_COCOCTL_COMPLETE" not in os.environ and "file" in args:
        from cococtl.cli.fast import parse

        run = parse(args)
        if run is not None:  # `encrypt file`/`decrypt file` without Typer (issue #13); same results
            run()
            return
    from cococtl.cli._app import app

    app(prog_name="cococtl")


def __getattr__(name: str) -> Any:
    # ``from cococtl.cli import app`` builds the Typer app (and imports Typer) only when asked.
    if name == "app":
        from cococtl.cli._app import app

        return app
    if name == "Output":
        from cococtl.cli.output import Output

        return Output
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["COMMANDS", "EXTRA_COMMANDS", "Output", "app", "hoist_global_flags", "main"]
