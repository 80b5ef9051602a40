"""Help: every command has examples and a whole summary, options sit in panels, choices are real choices, every
environment variable is named, and the help cache (cococtl/cli/help.json) is current."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cococtl.cli import COMMANDS, cached_help, help_fingerprint
from cococtl.cli import choices as ch
from cococtl.cli._app import command_tree, load_command
from cococtl.cli.completion import help_json, walk_contexts
from cococtl.cli.examples import ENVIRONMENT, EXAMPLES
from cococtl.cli.helpfmt import HIDDEN_ALIASES, command_path, summary_of

ROOT = Path(__file__).parents[2]
CONTEXTS = walk_contexts(command_tree())
PATHS = [command_path(ctx) for ctx in CONTEXTS]


def _help(ctx: Any) -> str:
    return str(ctx.command.get_help(ctx))


@pytest.mark.parametrize("ctx", CONTEXTS, ids=PATHS)
def test_every_command_has_examples(ctx: Any) -> None:
    path = command_path(ctx)
    assert EXAMPLES.get(path), f"add examples for {path!r} to cococtl/cli/examples.py"
    text = _help(ctx)
    assert "\nExamples:\n" in text
    for example in EXAMPLES[path]:
        assert example.startswith(("cococtl ", "eval ", "tar ", "head ", "kubectl ")), example
        assert example in text, "examples are printed whole, never re-wrapped"


def test_no_examples_or_environment_for_commands_that_do_not_exist() -> None:
    assert set(EXAMPLES) - set(PATHS) == set()
    assert set(ENVIRONMENT) - set(PATHS) == set()


@pytest.mark.parametrize("ctx", CONTEXTS, ids=PATHS)
def test_summaries_are_whole_sentences(ctx: Any) -> None:
    summary = summary_of(ctx.command)
    assert summary, f"{command_path(ctx)} has no help"
    assert summary[-1] in ".)!?", f"{command_path(ctx)}: the summary is not a whole sentence: {summary!r}"
    assert len(summary) <= 200, f"{command_path(ctx)}: make the first paragraph of the help a one-line summary"
    text = _help(ctx)
    if "\nCommands:\n" in text:
        listing = text.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
        assert "..." not in listing, f"{command_path(ctx)}: a summary was cut"


def test_root_summaries_match_the_commands() -> None:
    for name, (_target, summary) in COMMANDS.items():
        assert summary == summary_of(load_command(name)), f"update the summary of {name!r} in cococtl/cli/__init__.py"


def test_root_help_lists_every_summary_whole(cli: Any) -> None:
    text = " ".join(cli("--help").stdout.split())
    for _target, summary in COMMANDS.values():
        assert summary in text


def test_options_are_grouped_into_panels(cli: Any) -> None:
    text = cli("run", "--help").stdout
    for panel in ("Options:", "Attestation options:", "KBS options:", "TLS options:", "Algorithm options:"):
        assert f"\n{panel}\n" in text
    text = cli("encrypt", "image", "--help").stdout
    for panel in ("Admin options:", "Registry options:", "TLS options:"):
        assert f"\n{panel}\n" in text


def _option_column(text: str) -> str:
    """The option names of a help text (the first column of its option lists)."""
    return "\n".join(line.split("  ")[1] for line in text.splitlines() if line.startswith("  -"))


def test_hidden_aliases_work_but_are_not_shown(cli: Any, tmp_path: Path) -> None:
    for words in (("decrypt", "image"), ("keyprovider",)):
        names = _option_column(cli(*words, "--help").stdout)
        assert "--kbs-url URL" in names
        assert not re.search(r"--kbs\b(?!-)", names)
    # --kbs still parses: the resolver complains about the missing image, not about the option.
    result = cli("decrypt", "image", "oci:/nonexistent", f"oci:{tmp_path / 'out'}", "--kbs", "http://x", expect=None)
    assert result.exit_code != 2, result.stderr
    for ctx in CONTEXTS:
        names = _option_column(_help(ctx))
        for alias in HIDDEN_ALIASES:
            assert not re.search(rf"{alias}\b(?!-)", names), f"{command_path(ctx)} shows {alias}"


CHOICES = [
    (("run", "m.json", "--tee", "hygondcu"), "--tee"),
    (("run", "m.json", "--algo-type", "java"), "--algo-type"),
    (("run", "m.json", "--wasm-runtime", "wasmer"), "--wasm-runtime"),
    (("manifest", "validate", "m.json", "--algo-type", "java"), "--algo-type"),
    (("encrypt", "image", "oci:a", "oci:b", "--engine", "buildah"), "--engine"),
    (("decrypt", "image", "oci:a", "oci:b", "--tee", "hygondcu"), "--tee"),
    (("as", "attest", "--evidence", "e.json", "--hash-algorithm", "md5"), "--hash-algorithm"),
    (("as", "attest", "--evidence", "e.json", "--tee", "sev-es"), "--tee"),
    (("as", "challenge", "--tee", "sev-es"), "--tee"),
    (("rvps", "message", "--values", "v.json", "--type", "json"), "--type"),
    (("secret", "unseal", "x", "-o", "y", "--tee", "hygondcu"), "--tee"),
    (("secret", "unseal", "x", "-o", "y", "--tee-key-type", "dsa"), "--tee-key-type"),
    (("initdata", "new", "--kbs-url", "u", "-o", "o", "--algorithm", "md5"), "--algorithm"),
    (("initdata", "policy-snippet", "f", "--kind", "other"), "--kind"),
    (("initdata", "policy-snippet", "f", "--tee", "sgx"), "--tee"),
    (("completion", "tcsh"), "shell"),
]
# cli/kbs.py (the shared KBS option group) is edited elsewhere: these become choices there.
KBS_CHOICES = [
    (("kbs", "attest", "--tee", "tdxx"), "--tee"),
    (("kbs", "get-resource", "--path", "a/b/c", "--tee-key-type", "dsa"), "--tee-key-type"),
    (("kbs", "dev-server", "--admin-mode", "open"), "--admin-mode"),
]


@pytest.mark.parametrize(("args", "option"), CHOICES, ids=[" ".join(a) for a, _ in CHOICES])
def test_a_wrong_choice_is_a_usage_error(cli: Any, args: tuple[str, ...], option: str) -> None:
    result = cli(*args, expect=2)
    assert option in result.stderr and "is not one of" in result.stderr


@pytest.mark.parametrize(("args", "option"), KBS_CHOICES, ids=[" ".join(a) for a, _ in KBS_CHOICES])
def test_a_wrong_kbs_choice_is_a_usage_error(cli: Any, args: tuple[str, ...], option: str) -> None:
    result = cli(*args, expect=2)
    assert option in result.stderr and "is not one of" in result.stderr


def test_choices_agree_with_the_library() -> None:
    from cococtl.compute.executors import ALGO_TYPES
    from cococtl.devkbs.admin import ADMIN_MODES
    from cococtl.evidence.detect import KBS_TEES, TEE_CHOICES
    from cococtl.initdata.core import ALGORITHMS
    from cococtl.initdata.snippet import TEES
    from cococtl.kbs.as_client import AS_TEES, HASH_ALGORITHMS
    from cococtl.kbs.as_grpc import GRPC_TEES, RVPS_TYPES
    from cococtl.kbs.jwe import EXPERIMENTAL_KEY_TYPES, KEY_TYPES

    assert tuple(ch.Tee) == TEE_CHOICES
    assert set(ch.KbsTee) == {"auto", *KBS_TEES}
    assert tuple(ch.TeeKeyType) == KEY_TYPES + EXPERIMENTAL_KEY_TYPES
    assert tuple(ch.AlgoType) == ALGO_TYPES
    assert tuple(ch.AdminMode) == ADMIN_MODES
    assert tuple(ch.HashAlgorithm) == HASH_ALGORITHMS
    assert tuple(ch.ProvenanceType) == RVPS_TYPES
    assert tuple(ch.DigestAlgorithm) == tuple(ALGORITHMS)
    assert tuple(ch.SnippetTee) == TEES
    assert set(ch.AsTee) == set(AS_TEES) | set(GRPC_TEES)
    assert set(ch.AsEvidenceTee) == {*ch.AsTee, "auto"}


def test_every_environment_variable_is_named_in_help() -> None:
    read = set()
    for source in (ROOT / "cococtl").rglob("*.py"):
        if "protos" in source.parts or "demo" in source.parts:
            continue
        read |= set(re.findall(r"environ\.get\(\s*\"([A-Z][A-Z0-9_]+)\"", source.read_text()))
        read |= set(re.findall(r"getenv\(\s*\"([A-Z][A-Z0-9_]+)\"", source.read_text()))
    read -= {"HOME", "PATH", "COLUMNS"}
    shown = " ".join(_help(ctx) for ctx in CONTEXTS)
    missing = sorted(name for name in read if name not in shown)
    assert missing == [], f"name these in an option's envvar or in cococtl/cli/examples.py ENVIRONMENT: {missing}"


def test_env_vars_of_options_are_shown_by_name(cli: Any) -> None:
    text = " ".join(cli("run", "--help").stdout.split())
    assert "[env var: COCOCTL_KBS_URL]" in text and "[env var: COCOCTL_CERT_FILE]" in text


def test_help_cache_is_current() -> None:
    shipped = (ROOT / "cococtl" / "cli" / "help.json").read_text(encoding="utf-8")
    assert shipped == help_json(), "run `make completions` (python -m cococtl.cli.completion) and commit the result"


def test_cached_help_is_what_typer_prints() -> None:
    assert cached_help(["kbs"]) is not None, "help.json is stale: run `make completions`"
    for words in ([], ["kbs"], ["kbs", "get-resource"], ["encrypt", "image"], ["secret", "seal", "vault"]):
        typer_text = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from cococtl.cli._app import app; app(prog_name='cococtl')",
                *words,
                "--help",
            ],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin", "COLUMNS": "80"},
        ).stdout
        assert cached_help(words) == typer_text


def test_cached_help_is_not_used_when_stale_or_narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    assert cached_help(["kbs"]) is None
    monkeypatch.setenv("COLUMNS", "200")
    assert cached_help(["kbs"]) is not None
    assert cached_help(["kbs", "--url", "x"]) is None
    assert cached_help(["no-such-command"]) is None
    monkeypatch.setattr("cococtl.cli.help_fingerprint", lambda: help_fingerprint() + 1)
    assert cached_help(["kbs"]) is None
