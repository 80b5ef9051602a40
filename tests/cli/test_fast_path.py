"""The fast path of ``encrypt file``/``decrypt file`` (cococtl.cli.fast) behaves exactly like the Typer path.

Each command line runs twice in identical scratch directories: once as is, once with ``COCOCTL_NO_FAST_PATH=1``
(always Typer). Exit codes, stdout, stderr and every file left behind (bytes and mode) must match; ciphertexts and
new keys are random, so those are compared by what they decrypt to. The first run is made with ``-X importtime``,
which shows whether the fast path ran: the command's body (cococtl.cli.file_crypt) imported and Typer not. The
common shapes must take it; the others must not (Typer, or the help cache, answers them).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY = bytes(range(32))
WRONG = bytes(range(1, 33))
PLAIN = b"the plaintext\n" * 100


def _seal(key: bytes, plain: bytes, nonce: bytes = b"\x07" * 12) -> bytes:
    return nonce + AESGCM(key).encrypt(nonce, plain, None)


SEALED = _seal(KEY, PLAIN)


def _populate(root: Path) -> None:
    (root / "k.bin").write_bytes(KEY)
    (root / "wrong.bin").write_bytes(WRONG)
    (root / "short.bin").write_bytes(KEY[:16])
    (root / "p.txt").write_bytes(PLAIN)
    (root / "p.enc").write_bytes(SEALED)
    (root / "trunc.enc").write_bytes(SEALED[:-5])
    (root / "tiny.enc").write_bytes(SEALED[:20])
    (root / "exists.bin").write_bytes(b"keep me")
    (root / "dir").mkdir()
    (root / "bad.toml").write_text("profile = [\n")
    (root / "lab.toml").write_text('profile = "lab"\n[profiles.lab]\nkbs_url = "http://127.0.0.1:1"\n')


@dataclass
class Case:
    argv: list[str]
    fast: bool
    stdin: bytes = b""
    env: dict[str, str] = field(default_factory=dict)


F, T = True, False  # taken by the fast path, or by Typer
ENC = ["encrypt", "file"]
DEC = ["decrypt", "file"]
CASES: dict[str, Case] = {
    # encrypt file: successes
    "enc": Case([*ENC, "p.txt", "-o", "c.enc", "--key", "k.bin"], F),
    "enc-options-first": Case([*ENC, "-o", "c.enc", "-k", "k.bin", "p.txt"], F),
    "enc-equals": Case([*ENC, "p.txt", "--output=c.enc", "--key=k.bin"], F),
    "enc-force": Case([*ENC, "p.txt", "-o", "exists.bin", "--key", "k.bin", "-f"], F),
    "enc-new-key": Case([*ENC, "p.txt", "-o", "c.enc", "--new-key", "n.bin"], F),
    "enc-new-key-force": Case([*ENC, "p.txt", "-o", "c.enc", "--new-key=k.bin", "--force"], F),
    "enc-stdin": Case([*ENC, "-", "-o", "c.enc", "--key", "k.bin"], F, stdin=PLAIN),
    "enc-stdout": Case([*ENC, "p.txt", "-o", "-", "--key", "k.bin"], F),
    "enc-json": Case(["--json", *ENC, "p.txt", "-o", "c.enc", "--key", "k.bin"], F),
    "enc-json-after": Case([*ENC, "p.txt", "-o", "c.enc", "--json", "--key", "k.bin", "-q"], F),
    "enc-quiet": Case(["-q", *ENC, "p.txt", "-o", "c.enc", "--new-key", "n.bin"], F),
    "enc-verbose-debug": Case([*ENC, "-vv", "p.txt", "--debug", "-o", "c.enc", "--verbose", "--key", "k.bin"], F),
    "enc-global-between-option-and-value": Case([*ENC, "p.txt", "-o", "-q", "c.enc", "--key", "k.bin"], F),
    # encrypt file: errors of the command
    "enc-no-key": Case([*ENC, "p.txt", "-o", "c.enc"], F),
    "enc-both-keys": Case([*ENC, "p.txt", "-o", "c.enc", "--key", "k.bin", "--new-key", "n.bin"], F),
    "enc-new-key-exists": Case([*ENC, "p.txt", "-o", "c.enc", "--new-key", "k.bin"], F),
    "enc-output-exists": Case([*ENC, "p.txt", "-o", "exists.bin", "--key", "k.bin"], F),
    "enc-output-exists-json": Case([*ENC, "p.txt", "-o", "exists.bin", "--key", "k.bin", "--json"], F),
    "enc-short-key": Case([*ENC, "p.txt", "-o", "c.enc", "--key", "short.bin"], F),
    "enc-key-missing": Case([*ENC, "p.txt", "-o", "c.enc", "--key", "none.bin"], F),
    "enc-key-is-dir": Case([*ENC, "p.txt", "-o", "c.enc", "--key", "dir"], F),
    "enc-input-missing": Case([*ENC, "none.txt", "-o", "c.enc", "--key", "k.bin"], F),
    "enc-output-dir-missing": Case([*ENC, "p.txt", "-o", "no/c.enc", "--key", "k.bin"], F),
    "enc-output-is-dir": Case([*ENC, "p.txt", "-o", "dir", "--key", "k.bin", "-f"], F),
    # encrypt file: what the fast path leaves to Typer
    "enc-unknown-option": Case([*ENC, "p.txt", "-o", "c.enc", "--key", "k.bin", "--bogus"], T),
    "enc-help": Case([*ENC, "p.txt", "--help"], T),
    "enc-h": Case([*ENC, "-h"], T),
    "enc-no-output": Case([*ENC, "p.txt", "--key", "k.bin"], T),
    "enc-no-input": Case([*ENC, "-o", "c.enc", "--key", "k.bin"], T),
    "enc-missing-value": Case([*ENC, "p.txt", "--key", "k.bin", "-o"], T),
    "enc-repeated": Case([*ENC, "p.txt", "-o", "a.enc", "-o", "c.enc", "--key", "k.bin"], T),
    "enc-extra-argument": Case([*ENC, "p.txt", "p.enc", "-o", "c.enc", "--key", "k.bin"], T),
    "enc-combined-flags": Case([*ENC, "p.txt", "-fo", "exists.bin", "--key", "k.bin"], T),
    "enc-attached-short": Case([*ENC, "p.txt", "-oc.enc", "--key", "k.bin"], T),
    "enc-value-like-option": Case([*ENC, "p.txt", "-o", "--force", "--key", "k.bin"], T),
    "enc-empty-value": Case([*ENC, "p.txt", "-o", "c.enc", "--key="], T),
    "enc-force-with-value": Case([*ENC, "p.txt", "-o", "c.enc", "--key", "k.bin", "--force=yes"], T),
    "enc-double-dash": Case([*ENC, "-o", "c.enc", "--key", "k.bin", "--", "p.txt"], T),
    "enc-profile": Case(["--profile", "lab", *ENC, "p.txt", "-o", "c.enc", "--key", "k.bin"], T),
    "enc-version": Case([*ENC, "p.txt", "-o", "c.enc", "--key", "k.bin", "--version"], T),
    "enc-group-typo": Case(["encrypt", "files", "p.txt", "-o", "c.enc", "--key", "k.bin"], T),
    "enc-no-command": Case(["encrypt", "-o", "c.enc", "file"], T),
    # decrypt file: successes
    "dec": Case([*DEC, "p.enc", "-o", "p.out", "--key", "k.bin"], F),
    "dec-order": Case([*DEC, "--key=k.bin", "--output", "p.out", "p.enc", "--force"], F),
    "dec-force": Case([*DEC, "p.enc", "-o", "exists.bin", "-k", "k.bin", "-f"], F),
    "dec-stdin": Case([*DEC, "-", "-o", "p.out", "--key", "k.bin"], F, stdin=SEALED),
    "dec-stdout": Case([*DEC, "p.enc", "-o", "-", "--key", "k.bin"], F),
    "dec-stdin-stdout": Case([*DEC, "-", "-o", "-", "--key", "k.bin", "-q"], F, stdin=SEALED),
    "dec-json": Case([*DEC, "p.enc", "-o", "p.out", "--key", "k.bin", "--json"], F),
    "dec-verbose": Case(["-v", "--verbose", *DEC, "p.enc", "-o", "p.out", "--key", "k.bin"], F),
    # decrypt file: errors of the command
    "dec-wrong-key": Case([*DEC, "p.enc", "-o", "p.out", "--key", "wrong.bin"], F),
    "dec-wrong-key-json": Case(["--json", *DEC, "p.enc", "-o", "p.out", "--key", "wrong.bin"], F),
    "dec-wrong-key-stdout": Case([*DEC, "p.enc", "-o", "-", "--key", "wrong.bin"], F),
    "dec-wrong-key-stdin": Case([*DEC, "-", "-o", "p.out", "--key", "wrong.bin"], F, stdin=SEALED),
    "dec-truncated": Case([*DEC, "trunc.enc", "-o", "p.out", "--key", "k.bin"], F),
    "dec-tiny": Case([*DEC, "tiny.enc", "-o", "p.out", "--key", "k.bin"], F),
    "dec-empty-stdin": Case([*DEC, "-", "-o", "p.out", "--key", "k.bin"], F),
    "dec-short-key": Case([*DEC, "p.enc", "-o", "p.out", "--key", "short.bin"], F),
    "dec-key-missing": Case([*DEC, "p.enc", "-o", "p.out", "--key", "none.bin"], F),
    "dec-output-exists": Case([*DEC, "p.enc", "-o", "exists.bin", "--key", "k.bin"], F),
    "dec-input-missing": Case([*DEC, "none.enc", "-o", "p.out", "--key", "k.bin"], F),
    "dec-input-is-dir": Case([*DEC, "dir", "-o", "p.out", "--key", "k.bin"], F),
    "dec-debug-error": Case([*DEC, "p.enc", "-o", "p.out", "--key", "wrong.bin", "--debug"], F),
    "dec-debug-json-error": Case(["--debug", "--json", *DEC, "none.enc", "-o", "p.out", "--key", "k.bin"], F),
    "dec-quiet-error": Case(["-q", *DEC, "p.enc", "-o", "p.out", "--key", "wrong.bin"], F),
    # decrypt file: Typer's
    "dec-no-key": Case([*DEC, "p.enc", "-o", "p.out"], T),
    "dec-new-key": Case([*DEC, "p.enc", "-o", "p.out", "--new-key", "k.bin"], T),
    "dec-help": Case([*DEC, "--help"], T),
    "dec-unknown": Case([*DEC, "p.enc", "-o", "p.out", "--key", "k.bin", "--json=1"], T),
    "dec-repeated-force": Case([*DEC, "p.enc", "-o", "p.out", "--key", "k.bin", "-f", "--force"], T),
    # the environment
    "env-debug-on": Case([*DEC, "p.enc", "-o", "p.out", "--key", "k.bin"], F, env={"COCOCTL_DEBUG": " Yes "}),
    "env-debug-on-error": Case([*DEC, "p.enc", "-o", "p.out", "--key", "wrong.bin"], F, env={"COCOCTL_DEBUG": "1"}),
    "env-debug-off": Case([*DEC, "p.enc", "-o", "p.out", "--key", "wrong.bin"], F, env={"COCOCTL_DEBUG": "0"}),
    "env-debug-empty": Case([*DEC, "p.enc", "-o", "p.out", "--key", "k.bin"], F, env={"COCOCTL_DEBUG": ""}),
    "env-debug-odd": Case([*DEC, "p.enc", "-o", "p.out", "--key", "k.bin"], T, env={"COCOCTL_DEBUG": "maybe"}),
    "env-config-bad": Case([*DEC, "p.enc", "-o", "p.out", "--key", "k.bin"], F, env={"COCOCTL_CONFIG": "bad.toml"}),
    "env-config-bad-usage": Case([*DEC, "p.enc", "-o", "p.out"], T, env={"COCOCTL_CONFIG": "bad.toml"}),
    "env-config-lab": Case([*ENC, "p.txt", "-o", "c.enc", "--key", "k.bin"], F, env={"COCOCTL_CONFIG": "lab.toml"}),
    "env-profile-missing": Case([*DEC, "p.enc", "-o", "p.out", "--key", "k.bin"], F, env={"COCOCTL_PROFILE": "x"}),
    "env-profile-lab": Case(
        [*DEC, "p.enc", "-o", "p.out", "--key", "k.bin"],
        F,
        env={"COCOCTL_CONFIG": "lab.toml", "COCOCTL_PROFILE": "lab"},
    ),
}

WITH_TRACEBACK = {"dec-debug-error", "dec-debug-json-error", "env-debug-on-error"}


def _environment(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCOCTL_") and k != "_COCOCTL_COMPLETE"}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), COLUMNS="120", **extra)
    return env


@dataclass
class Outcome:
    code: int
    stdout: bytes
    stderr: str
    files: dict[str, tuple[int, bytes]]  # name -> (mode, content as compared)
    modules: set[str]  # imported, from -X importtime

    @property
    def took_fast_path(self) -> bool:
        return "cococtl.cli.file_crypt" in self.modules and not any(
            name == "typer" or name.startswith("typer.") for name in self.modules
        )


def _plain_of(content: bytes, keys: list[bytes]) -> bytes:
    """A random ciphertext stands for its plaintext (it differs from run to run); anything else for itself."""
    from cryptography.exceptions import InvalidTag

    for key in keys:
        with contextlib.suppress(InvalidTag, ValueError):
            return b"sealed:" + AESGCM(key).decrypt(content[:12], content[12:], None)
    return content


def _run(root: Path, case: Case, *, fast_allowed: bool) -> Outcome:
    _populate(root)
    before = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
    (root / "home").mkdir()
    env = _environment(root / "home", case.env)
    if not fast_allowed:
        env["COCOCTL_NO_FAST_PATH"] = "1"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cococtl", *case.argv],
        input=case.stdin,
        capture_output=True,
        cwd=root,
        env=env,
        timeout=60,
    )
    stderr_lines = proc.stderr.decode("utf-8", "replace").splitlines(keepends=True)
    imported = [line for line in stderr_lines if line.startswith("import time:")]
    stderr = "".join(line for line in stderr_lines if not line.startswith("import time:"))
    stderr = stderr.replace(str(root), "<dir>")
    # keys a run may have created (--new-key) decrypt its ciphertexts too
    keys = [KEY] + [p.read_bytes() for p in root.iterdir() if p.is_file() and p.stat().st_size == 32]
    files = {}
    for path in sorted(root.iterdir()):
        if path.is_file() and before.get(path.name) != path.read_bytes():
            content = path.read_bytes()
            if len(content) == 32 and path.name not in before:
                content = b"a new 32-byte key"
            elif path.name == "k.bin":
                content = b"a replaced 32-byte key" if len(content) == 32 else content
            else:
                content = _plain_of(content, keys)
            files[path.name] = (stat.S_IMODE(path.stat().st_mode), content)
        elif path.is_file():
            files[path.name] = (stat.S_IMODE(path.stat().st_mode), b"unchanged")
    return Outcome(
        proc.returncode,
        _plain_of(proc.stdout, keys) if len(proc.stdout) >= 28 else proc.stdout,
        _without_frames(stderr),
        files,
        {line.rsplit("|", 1)[1].strip() for line in imported},
    )


def _without_frames(stderr: str) -> str:
    """--debug tracebacks: their frames differ (Typer's own, or none), the exception and the report do not."""
    return re.sub(r"(?m)^Traceback \(most recent call last\):\n(?:  .*\n)+", "Traceback:\n", stderr)


@pytest.mark.parametrize("name", list(CASES))
def test_fast_path_matches_typer(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    fast = _run(tmp_path / "a", case, fast_allowed=True)
    typer = _run(tmp_path / "b", case, fast_allowed=False)
    assert not typer.took_fast_path
    assert fast.took_fast_path == case.fast
    assert (fast.code, fast.stderr) == (typer.code, typer.stderr)
    assert ("Traceback:\n" in fast.stderr) == (name in WITH_TRACEBACK)
    assert fast.stdout == typer.stdout
    assert fast.files == typer.files


def test_the_table_covers_the_outcomes() -> None:
    assert len(CASES) >= 30
    assert sum(case.fast for case in CASES.values()) >= 30


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_key_is_typers_usage_error(tmp_path: Path) -> None:
    case = Case([*DEC, "p.enc", "-o", "p.out", "--key", "locked.bin"], T)
    outcomes = []
    for side, fast_allowed in (("a", True), ("b", False)):
        (tmp_path / side).mkdir()
        locked = tmp_path / side / "locked.bin"
        locked.write_bytes(KEY)
        locked.chmod(0)
        outcomes.append(_run(tmp_path / side, case, fast_allowed=fast_allowed))
    assert outcomes[0].code == 2 and not outcomes[0].took_fast_path
    assert (outcomes[0].code, outcomes[0].stderr) == (outcomes[1].code, outcomes[1].stderr)


@pytest.mark.parametrize("fast_allowed", [True, False])
def test_closed_stdout_is_exit_141(tmp_path: Path, fast_allowed: bool) -> None:
    (tmp_path / "k.bin").write_bytes(KEY)
    (tmp_path / "big.enc").write_bytes(_seal(KEY, os.urandom(4 << 20)))
    env = _environment(tmp_path, {} if fast_allowed else {"COCOCTL_NO_FAST_PATH": "1"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "cococtl", *DEC, "big.enc", "-o", "-", "--key", "k.bin"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100)
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 141
    assert stderr == b""


@pytest.mark.parametrize("fast_allowed", [True, False])
def test_sigterm_is_exit_130_without_a_message(tmp_path: Path, fast_allowed: bool) -> None:
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    (tmp_path / "k.bin").write_bytes(KEY)
    env = _environment(tmp_path, {} if fast_allowed else {"COCOCTL_NO_FAST_PATH": "1"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "cococtl", *ENC, "-", "-o", "c.enc", "--key", "k.bin"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(b"x" * 65536)
    proc.stdin.flush()
    time.sleep(1.5)  # well past start-up: cococtl is waiting for more input
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert (proc.returncode, stderr) == (130, b"")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.bin"]


def test_progress_bar_on_a_tty(tmp_path: Path) -> None:
    from tests.ptys import run_with_tty_stderr

    (tmp_path / "k.bin").write_bytes(KEY)
    (tmp_path / "big.enc").write_bytes(_seal(KEY, os.urandom(6 << 20)))
    argv = [sys.executable, "-X", "importtime", "-m", "cococtl", *DEC, str(tmp_path / "big.enc")]
    code, seen, _ = run_with_tty_stderr([*argv, "-o", str(tmp_path / "p"), "--key", str(tmp_path / "k.bin")])
    assert code == 0
    assert b"decrypting" in seen and b"rich.progress" in seen
    assert b"cococtl.cli.file_crypt" in seen and not re.search(rb"\|\s+typer\s*$", seen, re.MULTILINE)


def test_a_key_typer_would_find_unreadable_goes_to_typer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # (The subprocess version above needs a user that cannot read every file.)
    from cococtl.cli import fast

    (tmp_path / "k.bin").write_bytes(KEY)
    argv = [*DEC, "p.enc", "-o", "p.out", "--key", str(tmp_path / "k.bin")]
    assert fast.parse(argv) is not None
    assert fast.parse([*ENC, "p.txt", "-o", "c.enc", "--new-key", str(tmp_path / "none")]) is not None
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert fast.parse(argv) is None
    assert fast.parse([*ENC, "p.txt", "-o", "c.enc", "--new-key", str(tmp_path / "k.bin")]) is None
    assert fast.parse([*ENC, "p.txt", "-o", "c.enc", "--new-key", str(tmp_path / "none")]) is not None
