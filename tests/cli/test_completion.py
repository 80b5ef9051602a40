"""Shell completion: the shipped scripts are current, carry the static command tree, and complete it without
starting Python (bash, and zsh/fish when installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from cococtl.cli._app import command_tree
from cococtl.cli.completion import SCRIPTS, collect, completion_script
from cococtl.cli.completion import _bash as bash_script
from cococtl.evidence.detect import TEE_CHOICES

ROOT = Path(__file__).parents[2]
COMPLETIONS = ROOT / "completions"
NODES = collect(command_tree())


@pytest.mark.parametrize(("shell", "filename"), SCRIPTS.items())
def test_shipped_completions_are_current(shell: str, filename: str) -> None:
    shipped = (COMPLETIONS / filename).read_text()
    assert shipped == completion_script(shell), "run `make completions` and commit the result"


def test_zsh_script_starts_with_compdef() -> None:
    assert (COMPLETIONS / "_cococtl").read_text().startswith("#compdef cococtl\n")


def test_completion_command_prints_the_shipped_script(cli: Any) -> None:
    for shell, filename in SCRIPTS.items():
        assert cli("completion", shell).stdout == (COMPLETIONS / filename).read_text()


@pytest.fixture
def no_cococtl(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has no cococtl and no python, only a `cococtl` that records being run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "ran"
    fake = bin_dir / "cococtl"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\n")
    fake.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "MARKER": str(marker)}


def _bash_complete(env: dict[str, str], *words: str) -> list[str]:
    script = COMPLETIONS / "cococtl.bash"
    array = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (
        f"source {script}\nCOMP_WORDS=({array})\nCOMP_CWORD={len(words) - 1}\n"
        "_cococtl cococtl 2>/dev/null\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program], env=env, capture_output=True, text=True, check=True
    )
    assert not Path(env["MARKER"]).exists(), "completion ran cococtl for a static word"
    return [line for line in result.stdout.splitlines() if line]


def test_bash_completes_the_static_tree_without_cococtl(no_cococtl: dict[str, str]) -> None:
    env = no_cococtl
    assert "encrypt" in _bash_complete(env, "cococtl", "")
    assert _bash_complete(env, "cococtl", "ke") == ["keyprovider", "keys"]
    assert "get-resource" in _bash_complete(env, "cococtl", "kbs", "")
    assert _bash_complete(env, "cococtl", "encrypt", "") == ["file", "image"]
    assert _bash_complete(env, "cococtl", "secret", "seal", "") == ["vault", "envelope"]
    assert "--output" in _bash_complete(env, "cococtl", "encrypt", "file", "--")
    assert _bash_complete(env, "cococtl", "run", "m.json", "--tee", "") == list(TEE_CHOICES)
    assert _bash_complete(env, "cococtl", "run", "m.json", "--tee", "=", "s") == [
        tee for tee in TEE_CHOICES if tee.startswith("s")
    ]
    assert _bash_complete(env, "cococtl", "completion", "") == ["bash", "zsh", "fish"]
    assert _bash_complete(env, "cococtl", "encrypt", "image", "--engine", "") == ["native", "skopeo"]
    # global flags, option values (with `:` split off by bash) and hidden aliases are stepped over
    words = ("cococtl", "--json", "decrypt", "image", "--kbs", "http", ":", "//x", "--tee", "")
    assert _bash_complete(env, *words) == list(TEE_CHOICES)
    assert "--kbs" not in _bash_complete(env, "cococtl", "decrypt", "image", "--kb")
    # a file value or argument is left to bash's own file name completion
    assert _bash_complete(env, "cococtl", "encrypt", "file", "--key", "") == []
    assert _bash_complete(env, "cococtl", "manifest", "validate", "") == []


def test_the_tree_in_the_script_is_the_whole_tree() -> None:
    script = (COMPLETIONS / "cococtl.bash").read_text()
    for node in NODES:
        if node.subcommands:
            assert f"'{node.path}') _cococtl_subs='{' '.join(n for n, _ in node.subcommands)}'" in script
        for option in node.options:
            if not option.hidden:
                for name in option.names:
                    if name.startswith("--"):
                        assert name in script


def test_one_tab_takes_under_10_ms() -> None:
    script = COMPLETIONS / "cococtl.bash"
    program = (
        f"source {script}\nCOMP_WORDS=(cococtl --json kbs get-resource --tee-key-type '')\nCOMP_CWORD=5\n"
        "s=$EPOCHREALTIME; for i in {1..20}; do _cococtl cococtl 2>/dev/null; done; e=$EPOCHREALTIME\n"
        'echo "$s $e"\n'
    )
    out = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, check=True).stdout
    start, end = (float(x.replace(",", ".")) for x in out.split())
    assert (end - start) / 20 < 0.010


def test_bash_startup_and_one_tab_is_fast() -> None:
    script = COMPLETIONS / "cococtl.bash"
    program = f"source {script}; COMP_WORDS=(cococtl kbs get-); COMP_CWORD=2; _cococtl cococtl 2>/dev/null"
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(["bash", "--norc", "--noprofile", "-c", program], check=True)
        times.append(time.perf_counter() - start)
    assert min(times) < 0.05  # a fresh bash, sourcing the script and one TAB (about 4 ms); loose for busy CI


def test_dynamic_values_ask_cococtl() -> None:
    import typer

    from cococtl.cli.completion import Node, Option

    node = Node("demo", "Demo.", options=[Option(["--name"], ["--name"], "x", [], "A name.", False)])
    script = bash_script([Node("", "Root.", subcommands=[("demo", "Demo.")]), node])
    assert "'demo|--name') kind='x'" in script and "_COCOCTL_COMPLETE=complete_bash" in script

    app = typer.Typer()

    @app.command()
    def main(name: str = typer.Option("", autocompletion=lambda: ["a", "b"])) -> None:
        """Demo."""

    nodes = collect(typer.main.get_command(app))
    assert any(option.kind == "x" for n in nodes for option in n.options)


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_the_static_tree(no_cococtl: dict[str, str]) -> None:
    stubs = (
        "compdef() { :; }\n"
        'compadd() { local a arr=0; for a in "$@"; do if [[ $a == -a ]]; then arr=1; continue; fi;'
        ' [[ $a == -- ]] && continue; if ((arr)); then print -rl -- "${(@P)a}"; else print -r -- "$a"; fi; done; }\n'
        '_describe() { local -a arr; arr=("${(@P)4}"); print -rl -- "${arr[@]%%:*}"; }\n'
        '_files() { print -r -- "<files>"; }\n_message() { print -r -- "<text>"; }\ncompset() { :; }\n'
    )

    def complete(*words: str) -> list[str]:
        array = " ".join("'" + w + "'" for w in words)
        program = f"{stubs}source {COMPLETIONS / '_cococtl'}\nwords=({array})\nCURRENT=$#words\n_cococtl\n"
        result = subprocess.run(["zsh", "-f", "-c", program], env=no_cococtl, capture_output=True, text=True)
        assert not Path(no_cococtl["MARKER"]).exists()
        return result.stdout.split()

    assert "encrypt" in complete("cococtl", "")
    assert complete("cococtl", "encrypt", "") == ["file", "image"]
    assert complete("cococtl", "run", "m.json", "--tee", "") == list(TEE_CHOICES)
    assert complete("cococtl", "completion", "") == ["bash", "zsh", "fish"]
    assert complete("cococtl", "encrypt", "file", "--key", "") == ["<files>"]
    assert "--output" in complete("cococtl", "encrypt", "file", "--")


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_the_static_tree(no_cococtl: dict[str, str]) -> None:
    def complete(line: str) -> list[str]:
        program = f"source {COMPLETIONS / 'cococtl.fish'}; complete -C '{line}'"
        env = dict(no_cococtl, XDG_CONFIG_HOME=os.path.join(no_cococtl["HOME"], "cfg"))
        result = subprocess.run(["fish", "--no-config", "-c", program], env=env, capture_output=True, text=True)
        assert not Path(no_cococtl["MARKER"]).exists()
        return [line.split("\t")[0] for line in result.stdout.splitlines()]

    assert "encrypt" in complete("cococtl ")
    assert complete("cococtl encrypt ") == ["file", "image"]
    assert complete("cococtl run m.json --tee ") == sorted(TEE_CHOICES)
    assert complete("cococtl run m.json --tee=s") == sorted(f"--tee={t}" for t in TEE_CHOICES if t.startswith("s"))
    assert complete("cococtl kbs get-resource --ti") == ["--timeout"]
