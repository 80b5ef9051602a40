"""README.md runs top to bottom (issue #12).

Every fenced ``sh``, ``bash`` and ``console`` block of README.md runs, in the order of the text, in ONE bash
session (``set -euo pipefail``) in a temp copy of ``examples/``, against local peers this test starts on
127.0.0.1: the KBS double (``cococtl kbs dev-server --allow-all``, as the README's set-up block starts it), and a
gRPC Attestation Service + RVPS double (the servicers of tests/integration/test_as_grpc.py). The README reads
their addresses from the environment variables it documents (``COCOCTL_KBS_URL``, ``COCOCTL_AS_URL``,
``COCOCTL_RVPS_URL``), so its text stays what a user types.

Conventions:

- ``<!-- readme-test: skip (REASON) -->`` on the line before a block skips it; the reason is printed. Keep these
  few: a block that cannot run here (a cluster, the set-up this test does itself).
- In a ``console`` block only ``$ `` lines (and their ``\\`` continuations) run; the rest is sample output.
- ``make demo`` runs ``scripts/demo.sh`` (what the target runs once installed); ``make test`` is not re-run, as this
  test is part of it. Any other ``make`` fails the walk.
- ``skopeo`` is the key-provider-capable skopeo ``make test`` builds (``.tools/bin/skopeo-go``).

A failing block is reported with its README line (and the line of the failing command), its text and its output.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from cococtl.protos import attestation_pb2_grpc, reference_pb2_grpc
from tests.integration.peers import free_port, wait_for_port
from tests.integration.test_as_grpc import FakeAttestationService, FakeRvps

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
SHELLS = {"sh", "bash", "console"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
SKIP = re.compile(r"^\s*<!--\s*readme-test:\s*skip\s*\((?P<reason>.+)\)\s*-->\s*$")
MARKER = re.compile(r"^\s*<!--\s*readme-test")
WALK_TIMEOUT = 300.0  # seconds, for the whole walk; a block that hangs is named in the failure


@dataclass(frozen=True)
class Block:
    line: int  # README line of the block's first line (the one after the opening fence)
    lang: str
    text: str
    skip: str | None = None


def _console_commands(lines: list[str]) -> list[str]:
    """The ``$ `` lines of a console block and their continuations; other lines are sample output (kept blank,
    so line numbers still match)."""
    out, continuing = [], False
    for line in lines:
        if line.startswith("$ ") or continuing:
            command = line[2:] if line.startswith("$ ") and not continuing else line
            out.append(command)
            continuing = command.rstrip().endswith("\\")
        else:
            out.append("")
    return out


def parse_readme(text: str) -> list[Block]:
    """Every fenced shell block, in order; refuses a skip marker that is not right before a shell block."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            if MARKER.search(lines[index]) and not SKIP.match(lines[index]):
                raise ValueError(f"README.md:{index + 1}: malformed readme-test marker: {lines[index].strip()}")
            index += 1
            continue
        indent, fence, lang = match["indent"], match["fence"], match["lang"]
        body, end = [], index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            body.append(lines[end][len(indent) :] if lines[end].startswith(indent) else lines[end].lstrip())
            end += 1
        if end == len(lines):
            raise ValueError(f"README.md:{index + 1}: the code block is never closed")
        previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        skip = SKIP.match(previous)
        if lang in SHELLS:
            commands = _console_commands(body) if lang == "console" else body
            blocks.append(Block(index + 2, lang, "\n".join(commands), skip["reason"] if skip else None))
        elif skip:
            raise ValueError(f"README.md:{index + 1}: a readme-test skip marker before a {lang or 'plain'} block")
        index = end + 1
    for number, line in enumerate(lines, 1):
        if SKIP.match(line):
            following = next((lines[i] for i in range(number, len(lines)) if lines[i].strip()), "")
            fence = FENCE.match(following)
            if not fence or fence["lang"] not in SHELLS:
                raise ValueError(f"README.md:{number}: a readme-test skip marker not followed by a shell block")
    return blocks


# `make demo` and `make test` in Quick start: run what the demo target runs; never recurse into the test suite.
MAKE = f"""make() {{
  case "$*" in
    demo) echo "readme-test: make demo -> bash scripts/demo.sh (the target's install step is make test's own)"
          bash {ROOT / "scripts" / "demo.sh"} ;;
    test) echo "readme-test: make test is not re-run (this test is part of it)" ;;
    *) echo "readme-test: make $* is not handled by the README walk" >&2; return 2 ;;
  esac
}}
"""


def build_script(blocks: list[Block], state: Path) -> tuple[str, dict[int, Block]]:
    """One bash script: each block in a brace group (so cd, exports and variables carry on) with its output in
    STATE/<line>.log; STATE/current names the running block, and an ERR trap records the failing script line."""
    parts = [
        "set -euo pipefail",
        f'trap \'printf "%s\\n" "$LINENO" > {state}/failed-line\' ERR',
        MAKE,
    ]
    starts: dict[int, Block] = {}
    for block in blocks:
        if block.skip is not None:
            continue
        parts.append(f"printf '%s\\n' {block.line} > {state}/current")
        parts.append("{")
        starts[sum(part.count("\n") + 1 for part in parts) + 1] = block
        parts.append(block.text)
        parts.append(f"}} > {state}/{block.line}.log 2>&1 < /dev/null")
    parts.append(f"printf 'done\\n' > {state}/current")
    return "\n".join(parts) + "\n", starts


def readme_line(script_line: int, starts: dict[int, Block]) -> int | None:
    """Map a line of the generated script back to README.md."""
    begun = [start for start in starts if start <= script_line]
    if not begun:
        return None
    start = max(begun)
    block = starts[start]
    offset = script_line - start
    return block.line + offset if offset <= block.text.count("\n") else None


def _numbered(block: Block) -> str:
    return "\n".join(f"{block.line + i:5d}  {line}" for i, line in enumerate(block.text.splitlines()))


@dataclass
class Peers:
    kbs_url: str
    grpc_url: str


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Peers]:
    port = free_port()
    kbs_log = (tmp_path / "devkbs.log").open("wb")
    kbs = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "cococtl"),
            "kbs",
            "dev-server",
            "--allow-all",
            "--port",
            str(port),
            "--storage",
            str(tmp_path / "kbs-storage"),
        ],
        stdout=kbs_log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    attestation_pb2_grpc.add_AttestationServiceServicer_to_server(FakeAttestationService(), server)
    reference_pb2_grpc.add_ReferenceValueProviderServiceServicer_to_server(FakeRvps(), server)
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        wait_for_port(port, proc=kbs)
        yield Peers(f"http://127.0.0.1:{port}", f"grpc://127.0.0.1:{grpc_port}")
    finally:
        server.stop(grace=0).wait(5)
        kbs.terminate()
        try:
            kbs.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kbs.kill()
            kbs.wait(timeout=10)
        kbs_log.close()


def test_readme_blocks_parse() -> None:
    blocks = parse_readme(README.read_text())
    assert len(blocks) >= 10
    skipped = [block for block in blocks if block.skip]
    assert all(block.skip and block.skip.strip() for block in skipped)
    assert len(skipped) <= 3, "keep README skips few: " + "; ".join(f"line {b.line}: {b.skip}" for b in skipped)
    assert any(re.search(r"^make demo\b", block.text, re.M) for block in blocks)


def test_parser_conventions() -> None:
    text = (
        "# t\n\n```sh\necho one\n```\n\n<!-- readme-test: skip (a reason (with parens)) -->\n```bash\nexit 1\n```\n"
        "\n  ```console\n  $ echo two \\\n  three\n  two three\n  ```\n\n```toml\na = 1\n```\n"
    )
    blocks = parse_readme(text)
    assert [(b.line, b.lang, b.skip) for b in blocks] == [
        (4, "sh", None),
        (9, "bash", "a reason (with parens)"),
        (13, "console", None),
    ]
    assert blocks[2].text == "echo two \\\nthree\n"
    with pytest.raises(ValueError, match=r"skip marker (before a toml|not followed)"):
        parse_readme("<!-- readme-test: skip (x) -->\n```toml\na = 1\n```\n")
    with pytest.raises(ValueError, match="malformed"):
        parse_readme("<!-- readme-test: skip -->\n```sh\ntrue\n```\n")


def test_examples_app_image_holds_the_example_algorithm() -> None:
    """examples/app is build_image() of examples/algo.py (one gzip layer, mtime 0): the layer's tar is exact."""
    index = json.loads((EXAMPLES / "app" / "index.json").read_text())
    (entry,) = index["manifests"]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "latest"

    def blob(digest: str) -> bytes:
        data = (EXAMPLES / "app" / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest.removeprefix("sha256:")
        return data

    manifest = json.loads(blob(entry["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    (layer,) = manifest["layers"]
    tar = gzip.decompress(blob(layer["digest"]))
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(tar).hexdigest()}"]
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        (member,) = archive.getmembers()
        assert (member.name, member.mtime, member.mode) == ("algo.py", 0, 0o644)
        extracted = archive.extractfile(member)
        assert extracted is not None and extracted.read() == (EXAMPLES / "algo.py").read_bytes()
    annotation = (EXAMPLES / "annotation.txt").read_text().strip()
    assert json.loads(base64.b64decode(annotation))["kid"].startswith("kbs:///")


@dataclass
class Walk:
    ok: bool
    report: str  # the failure (block, README line, output), or one line per block that ran


def run_walk(blocks: list[Block], cwd: Path, state: Path, env: dict[str, str], timeout: float) -> Walk:
    """Run the blocks in one bash session; on failure, name the block, the README line and show its output."""
    script, starts = build_script(blocks, state)
    (state / "walk.sh").write_text(script)
    proc = subprocess.Popen(
        ["bash", "--noprofile", "--norc", str(state / "walk.sh")],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    timed_out = False
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever a block left running ends with the walk
            os.killpg(proc.pid, signal.SIGKILL)
    ran = [block for block in blocks if block.skip is None]
    current = (state / "current").read_text().strip() if (state / "current").exists() else ""
    if proc.returncode == 0 and not timed_out and current == "done":
        return Walk(
            True, "\n".join(f"README.md:{b.line}: ok ({b.lang}, {b.text.count(chr(10)) + 1} lines)" for b in ran)
        )
    rest = output.decode(errors="replace")
    failed = next((block for block in ran if str(block.line) == current), None)
    if failed is None:
        return Walk(False, f"the README walk exited {proc.returncode} outside any block:\n{rest}")
    where = ""
    if not timed_out and (state / "failed-line").exists():
        line = readme_line(int((state / "failed-line").read_text()), starts)
        if line is not None:
            where = f", at README.md:{line}"
    what = f"timed out after {timeout:g} s" if timed_out else f"exited {proc.returncode}"
    log = state / f"{failed.line}.log"
    return Walk(
        False,
        f"the README block at README.md:{failed.line} {what}{where}\n--- block ---\n{_numbered(failed)}\n"
        f"--- its output ---\n{log.read_text(errors='replace') if log.exists() else ''}{rest}",
    )


def test_a_failing_block_is_named_with_its_line_and_output(tmp_path: Path) -> None:
    text = '```sh\nexport A=1\n```\n\n```sh\necho "A=$A"\nfalse\necho never\n```\n\n```sh\necho not run\n```\n'
    env = {"PATH": "/usr/bin:/bin"}
    walk = run_walk(parse_readme(text), tmp_path, tmp_path, env, 30)
    assert not walk.ok
    assert walk.report.startswith("the README block at README.md:6 exited 1, at README.md:7\n"), walk.report
    assert "A=1" in walk.report and "never" not in walk.report.split("--- its output ---")[1]
    (tmp_path / "slow").mkdir()
    walk = run_walk(parse_readme("```sh\ntrue\n```\n```sh\nsleep 60\n```\n"), tmp_path, tmp_path / "slow", env, 1)
    assert walk.report.startswith("the README block at README.md:5 timed out after 1 s"), walk.report


def test_readme_runs_top_to_bottom(tmp_path: Path, peers: Peers) -> None:
    blocks = parse_readme(README.read_text())
    for block in blocks:
        if block.skip:
            print(f"README.md:{block.line}: skipped: {block.skip}")
    skopeo = ROOT / ".tools" / "bin" / "skopeo-go"
    if not skopeo.is_file():
        pytest.fail(f"{skopeo} is missing: run `make test` (scripts/install-skopeo-go.sh)")
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "skopeo").symlink_to(skopeo)
    walk_dir, state, home, tmp = (tmp_path / name for name in ("walk", "state", "home", "tmp"))
    shutil.copytree(EXAMPLES, walk_dir)
    for directory in (state, home, tmp):
        directory.mkdir(exist_ok=True)
    path = [
        str(shims),
        str(Path(sys.executable).parent),
        str(ROOT / ".tools" / "bin"),
        "/usr/local/bin",
        "/usr/bin",
        "/bin",
    ]
    nowhere = "http://127.0.0.1:9"  # anything that leaves loopback through a proxy-aware client fails fast
    env = {
        "PATH": os.pathsep.join(path),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NO_COLOR": "1",
        "TERM": "dumb",
        **dict.fromkeys(("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"), nowhere),
        **dict.fromkeys(("no_proxy", "NO_PROXY", "no_grpc_proxy"), "127.0.0.1,localhost"),
        "COCOCTL_KBS_URL": peers.kbs_url,
        "COCOCTL_AS_URL": peers.grpc_url,
        "COCOCTL_RVPS_URL": peers.grpc_url,
    }
    walk = run_walk(blocks, walk_dir, state, env, WALK_TIMEOUT)
    print(walk.report)
    assert walk.ok, walk.report
