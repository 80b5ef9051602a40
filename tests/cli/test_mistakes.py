"""The 25-mistake walk (issue #12): realistic mistakes a new user makes, each answered with a clear one-line
message (`error: …`, perhaps a `hint: …` line) and a documented exit code other than 1, never a traceback."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Setup = Callable[[Path], list[str]]


def _key(d: Path) -> Path:
    (d / "k").write_bytes(os.urandom(32))
    return d / "k"


def _plain(d: Path) -> Path:
    (d / "p").write_bytes(b"plain")
    return d / "p"


def _sealed(d: Path) -> Path:
    import io

    from cococtl.crypto import gcm

    out = io.BytesIO()
    gcm.encrypt_stream(_key(d).read_bytes(), io.BytesIO(b"secret data"), out)
    (d / "c").write_bytes(out.getvalue())
    return d / "c"


def _manifest(d: Path, document: object) -> Path:
    (d / "m.json").write_text(json.dumps(document))
    return d / "m.json"


DEAD = "http://127.0.0.1:9"
MISTAKES: dict[str, tuple[Setup, int, str]] = {
    "encrypt a file that does not exist": (lambda d: ["encrypt", "file", str(d / "nope"), "-o", str(d / "o"), "--key", str(_key(d))], 6, "nope"),
    "a base64 key file": (lambda d: [(d / "b64").write_text(base64.b64encode(os.urandom(32)).decode()) and "encrypt", "file", str(_plain(d)), "-o", str(d / "o"), "--key", str(d / "b64")], 3, "base64"),
    "a key of the wrong length": (lambda d: [(d / "short").write_bytes(b"x" * 16) and "encrypt", "file", str(_plain(d)), "-o", str(d / "o"), "--key", str(d / "short")], 3, "32"),
    "an output that exists": (lambda d: ["encrypt", "file", str(_plain(d)), "-o", str(_plain(d)), "--key", str(_key(d))], 3, "--force"),
    "decrypt with another key": (lambda d: ["decrypt", "file", str(_sealed(d)), "-o", str(d / "o"), "--key", str((d / "k2").write_bytes(os.urandom(32)) and d / "k2")], 7, "key"),
    "decrypt something too short": (lambda d: ["decrypt", "file", str((d / "tiny").write_bytes(b"abc") and d / "tiny"), "-o", str(d / "o"), "--key", str(_key(d))], 3, "at least 28"),
    "export with a bad resource path": (lambda d: ["keys", "export", str((d / "keys.json").write_text("{}") and d / "keys.json"), "default/key", str(d / "out")], 3, "3 segments"),
    "export a key the file lacks": (lambda d: ["keys", "export", str((d / "keys.json").write_text(json.dumps({"default/key/a": base64.b64encode(bytes(32)).decode()})) and d / "keys.json"), "default/key/b", str(d / "out")], 6, "default/key/b"),
    "a manifest that is not JSON": (lambda d: ["run", str((d / "m.json").write_text("{ nope") and d / "m.json")], 3, "JSON"),
    "run with results left from last time": (lambda d: [(d / "res").mkdir() or ((d / "res" / "old").write_text("x") and "run"), str(_manifest(d, {"algorithm": {"uri": "https://h/a", "hash": "11" * 32}})), "--results", str(d / "res")], 3, "not empty"),
    "run a manifest without hashes": (lambda d: ["run", str(_manifest(d, {"algorithm": {"uri": "https://h/a"}})), "--results", str(d / "r")], 3, "no hash"),
    "a resource path with two segments": (lambda d: ["kbs", "--url", DEAD, "get-resource", "--path", "default/key", "--tee", "sample"], 3, "3 segments"),
    "a KBS that is not running": (lambda d: ["kbs", "--url", DEAD, "attest", "--tee", "sample"], 4, "cannot reach"),
    "a KBS URL without a scheme": (lambda d: ["kbs", "--url", "127.0.0.1:8080", "attest", "--tee", "sample"], 3, "http://"),
    "upload a file that does not exist": (lambda d: ["kbs", "--url", DEAD, "set-resource", "--path", "a/b/c", "--resource-file", str(d / "nope")], 6, "nope"),
    "two resource policies at once": (lambda d: ["kbs", "--url", DEAD, "set-resource-policy", "--allow-all", "--deny-all"], 3, "exactly one"),
    "a Rego policy with a syntax error": (lambda d: ["policy", "check", str((d / "p.rego").write_text("package policy\ndefault allow =\n") and d / "p.rego")], 3, "p.rego"),
    "an image kid that is not kbs:///": (lambda d: ["encrypt", "image", "oci:" + str(d / "src"), "oci:" + str(d / "dst"), "--keyid", "default/key/k", "--key", str(_key(d))], 3, "kbs:///"),
    "an image layout that does not exist": (lambda d: ["encrypt", "image", "oci:" + str(d / "src"), "oci:" + str(d / "dst"), "--keyid", "kbs:///default/key/k", "--key", str(_key(d))], 6, "does not exist"),
    "decrypt an image without a key": (lambda d: ["decrypt", "image", "oci:" + str(d / "src"), "oci:" + str(d / "dst")], 3, "--key"),
    "an annotation that is not base64": (lambda d: ["inspect", "annotation", "%%%"], 3, "base64"),
    "a TEE name that does not exist": (lambda d: ["kbs", "--url", DEAD, "attest", "--tee", "tdxx"], 2, "--tee"),
    "evidence that is not JSON": (lambda d: ["as", "attest", "--url", DEAD, "--tee", "snp", "--evidence", str((d / "e").write_text("nope") and d / "e")], 3, "not JSON"),
    "zero offline keys": (lambda d: ["keys", "generate", "--count", "0"], 2, "count"),
    "policy input that does not exist": (lambda d: ["policy", "check", str((d / "p.rego").write_text("package policy\ndefault allow = true\n") and d / "p.rego"), "--input", str(d / "nope.json")], 6, "nope.json"),
    "a profile the config lacks": (lambda d: ["--profile", "nope", "config", "show"], 3, "nope"),
}  # fmt: skip


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_mistake_gets_one_clear_line(mistake: str, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup, code, needle = MISTAKES[mistake]
    if mistake == "a profile the config lacks":
        (tmp_path / "config.toml").write_text('[profiles.lab]\nkbs_url = "http://x"\n')
        monkeypatch.setenv("COCOCTL_CONFIG", str(tmp_path / "config.toml"))
        code = 6
    result = cli(*setup(tmp_path), expect=None)
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert result.exit_code not in (0, 1) and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if code == 2:  # Click's usage errors: a usage line, a hint line, and the error
        assert any(needle in line for line in lines), result.stderr
        return
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and needle in errors[0] + " ".join(lines), result.stderr
    assert all(line.startswith(("error: ", "hint: ", "warning: ")) for line in lines), result.stderr


def test_the_walk_has_at_least_25_mistakes() -> None:
    assert len(MISTAKES) >= 25
