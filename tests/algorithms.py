"""Small real algorithms for tests: a python script, a shell 'bin', a WASI module in WAT, and a local wheel."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

PYTHON_ALGORITHM = """\
import sys, pathlib
import cococtl_test_helper
rows = pathlib.Path("datasets").glob("*")
total = sum(len(p.read_bytes()) for p in rows)
pathlib.Path("results").mkdir(exist_ok=True)
pathlib.Path("results/summary.txt").write_text(cococtl_test_helper.describe(total, sys.argv[1:]))
print("python algorithm done", flush=True)
print("a warning on stderr", file=sys.stderr)
"""

BIN_ALGORITHM = """\
#!/bin/sh
set -e
cat datasets/* | wc -c > results/bytes.txt
echo "args: $*" > results/args.txt
echo "bin algorithm done"
exit "${EXIT_WITH:-0}"
"""

# WASI module: writes "wasm ok\\n" to stdout and creates out.txt in the first preopen (guest ".", host results/).
WAT_ALGORITHM = """\
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "wasm ok\\n")
  (data (i32.const 32) "out.txt")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 8))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 32) (i32.const 7) (i32.const 9)
                         (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 48))
      (then (call $proc_exit (i32.const 4))))
    (drop (call $fd_write (i32.load (i32.const 48)) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 0))))
"""


def build_helper_wheel(directory: Path) -> Path:
    """Build a tiny pure-Python wheel by hand (no index, no build backend needed)."""
    name, version = "cococtl_test_helper", "1.0"
    module = "def describe(total, args):\n    return f\"bytes={total} args={','.join(args)}\\n\"\n"
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": module.encode(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: cococtl-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record_lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record_lines.append(f"{path},sha256={digest},{len(data)}")
    record_lines.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record_lines) + "\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def offline_requirements(wheel: Path) -> str:
    return f"--no-index\n--find-links {wheel.parent}\ncococtl_test_helper==1.0\n"
