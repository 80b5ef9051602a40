"""A fast path for ``cococtl encrypt file`` and ``cococtl decrypt file`` that runs them without importing Typer.

Importing Typer and building the command tree costs ~100 ms, a large share of encrypting a big file (issue #13).
:func:`parse` accepts only the common shapes of these two commands, which it understands completely::

    cococtl [GLOBAL…] encrypt file INPUT -o OUTPUT (--key K | --new-key K) [-f]
    cococtl [GLOBAL…] decrypt file INPUT -o OUTPUT --key K [-f]

options in any order, ``--output=OUTPUT``-style values, ``-`` for stdin/stdout, and the global flags ``--json``,
``-q``/``--quiet``, ``-v``…/``--verbose`` and ``--debug`` anywhere (moved first by the same
:func:`cococtl.cli.hoist_global_flags` the Typer root uses). For anything else it returns None and the Typer app
runs: ``--help``, an unknown, repeated or combined option (``-fk K``), a missing value or argument, a value that
looks like an option, ``--``, ``--profile``, a ``COCOCTL_DEBUG`` that is not a plain boolean, a key file Typer
would refuse as unreadable. The argument errors are thus always Typer's own.

Once parsed, the work is shared with the Typer path, so the results are the same by construction: the root's
set-up (``-q``, the profile of ``COCOCTL_PROFILE`` or the config file: it only sets the network variables, which
these commands do not read, and its errors are reported alike) and the error boundary come from
``cococtl.cli.boundary``, the command bodies from ``cococtl.cli.file_crypt``. Ctrl-C and SIGTERM end with
exit 130 and no message, as Typer ends them. ``tests/cli/test_fast_path.py`` runs a table of command lines
both ways and compares exit codes, stdout, stderr and the files written.

``COCOCTL_NO_FAST_PATH=1`` (for tests and debugging) turns the fast path off: every command line goes to Typer.
"""

from __future__ import annotations

import os

from cococtl.cli import hoist_global_flags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from cococtl.cli.output import Output

DISABLE_VARIABLE = "COCOCTL_NO_FAST_PATH"

_VALUE_OPTIONS = {
    "encrypt": {"-o": "output", "--output": "output", "-k": "key", "--key": "key", "--new-key": "new_key"},
    "decrypt": {"-o": "output", "--output": "output", "-k": "key", "--key": "key"},
}
_FLAG_OPTIONS = {"-f": "force", "--force": "force"}
# COCOCTL_DEBUG values read as a boolean the same way by Click; any other non-empty value goes to Typer.
_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def parse(args: list[str]) -> Callable[[], None] | None:
    """The command of ``args`` (``sys.argv[1:]``) ready to run, or None when Typer must handle it."""
    if os.environ.get(DISABLE_VARIABLE) or "--" in args:
        return None
    words = hoist_global_flags(list(args))
    json_output = quiet = debug = False
    verbosity = 0
    index = 0
    while index < len(words) and words[index].startswith("-"):
        word = words[index]
        if word == "--json":
            json_output = True
        elif word in ("-q", "--quiet"):
            quiet = True
        elif word == "--debug":
            debug = True
        elif word == "--verbose":
            verbosity += 1
        elif len(word) > 1 and set(word[1:]) == {"v"}:
            verbosity += len(word) - 1
        else:
            return None  # --profile, --version, --help, anything else
        index += 1
    if words[index : index + 2] not in (["encrypt", "file"], ["decrypt", "file"]):
        return None
    group = words[index]
    values = _command_values(words[index + 2 :], _VALUE_OPTIONS[group])
    if values is None or "input" not in values or "output" not in values:
        return None
    if not debug:
        env_debug = os.environ.get("COCOCTL_DEBUG")
        if env_debug:
            flag = _BOOLEANS.get(env_debug.strip().lower())
            if flag is None:
                return None
            debug = flag
    if any(not _typer_would_accept_path(values[name]) for name in ("key", "new_key") if name in values):
        return None
    if group == "decrypt" and "key" not in values:
        return None  # Typer's "Missing option" error
    from cococtl.cli.output import Output

    output = Output(json=json_output, verbosity=verbosity, quiet=quiet, debug=debug)
    force = "force" in values

    def run() -> None:
        from pathlib import Path

        from cococtl.cli import file_crypt

        key = Path(values["key"]) if "key" in values else None
        if group == "encrypt":
            new_key = Path(values["new_key"]) if "new_key" in values else None
            _guarded(
                output, lambda: file_crypt.encrypt_file(output, values["input"], values["output"], key, new_key, force)
            )
        else:
            assert key is not None
            _guarded(output, lambda: file_crypt.decrypt_file(output, values["input"], values["output"], key, force))

    return run


def _command_values(words: list[str], value_options: dict[str, str]) -> dict[str, str] | None:
    """The command's options and its one argument (``input``), or None unless each word is understood."""
    values: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "-" or not word.startswith("-"):
            name, value = "input", word
        elif word in _FLAG_OPTIONS:
            name, value = _FLAG_OPTIONS[word], ""
        else:
            option, equals, attached = word.partition("=") if word.startswith("--") else (word, "", "")
            if option not in value_options:
                return None
            name = value_options[option]
            if equals:
                value = attached
            elif index < len(words):
                value = words[index]
                index += 1
            else:
                return None
            if value.startswith("-") and value != "-":
                return None
        if name in values or (name != "force" and not value):
            return None  # repeated (Click keeps the last one; Typer decides), or empty
        values[name] = value
    return values


def _typer_would_accept_path(value: str) -> bool:
    """False when Typer's path type would reject ``value``: it exists but is not readable (a usage error)."""
    try:
        os.stat(value)
    except OSError:
        return True
    except ValueError:
        return False
    return os.access(value, os.R_OK)


def _guarded(output: Output, body: Callable[[], None]) -> None:
    """Run the command inside the root's set-up and error boundary, as the Typer root does."""
    from cococtl.cli.boundary import begin, failure_exit_code

    try:
        try:
            begin(output, os.environ.get("COCOCTL_PROFILE") or None)
            body()
        except Exception as exc:
            code = failure_exit_code(exc, output)
            if code is None:
                raise
            raise SystemExit(code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None  # what Typer does with Ctrl-C (and SIGTERM, see cococtl.cli.main)
