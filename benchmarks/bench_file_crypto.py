"""Encrypt and decrypt a large file with cococtl, next to `openssl enc -aes-256-ctr` on the same file.

Budget (DESIGN.md §5): cococtl's throughput >= openssl's, file to file; peak RSS <= 64 MiB.
Usage: python benchmarks/bench_file_crypto.py [--size-mib 1024] [--repeat 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import Run, measure, report


def _cococtl() -> str:
    found = shutil.which("cococtl", path=str(Path(sys.executable).parent)) or shutil.which("cococtl")
    if not found:
        raise SystemExit("cococtl is not installed in this environment (run make test or pip install -e .)")
    return found


def _make_input(path: Path, size: int) -> None:
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as out:
        for _ in range(size >> 20):
            out.write(chunk)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the files (default: a temp dir)")
    args = parser.parse_args()
    cococtl = _cococtl()
    if not shutil.which("openssl"):
        raise SystemExit("openssl is needed for the comparison")
    size = args.size_mib << 20
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        plain, key = work / "plain.bin", work / "k"
        _make_input(plain, size)
        key.write_bytes(os.urandom(32))
        hexkey, hexiv = os.urandom(32).hex(), os.urandom(16).hex()
        ossl = ["openssl", "enc", "-aes-256-ctr", "-K", hexkey, "-iv", hexiv]
        commands = {
            # openssl takes the key on argv here only because this is a throwaway benchmark key.
            "openssl enc": [*ossl, "-in", str(plain), "-out", str(work / "out.ossl")],
            "openssl dec": [*ossl, "-d", "-in", str(work / "out.ossl"), "-out", str(work / "out.ossl.dec")],
            "cococtl enc": [cococtl, "encrypt", "file", str(plain), "-o", str(work / "out.enc"), "--key", str(key)],
            "cococtl dec": [
                cococtl,
                "decrypt",
                "file",
                str(work / "out.enc"),
                "-o",
                str(work / "out.dec"),
                "--key",
                str(key),
            ],
        }
        runs: dict[str, list[Run]] = {name: [] for name in commands}
        for round_number in range(args.repeat):
            for path in work.glob("out*"):
                path.unlink()
            # Alternate the order: on a VM the cost of page-cache writeback lands on whoever runs next.
            order = list(commands) if round_number % 2 == 0 else [*list(commands)[2:], *list(commands)[:2]]
            for name in order:
                runs[name].append(measure(commands[name], sync=True))
        rows = []
        for name, results in runs.items():
            seconds = statistics.median(r.seconds for r in results)
            rows.append(
                {
                    "what": name,
                    "median_s": round(seconds, 3),
                    "MiB_per_s": round(args.size_mib / seconds, 1),
                    "peak_rss_MiB": round(max(r.peak_rss_mib for r in results), 1),
                }
            )
        by = {r["what"]: r for r in rows}
        for direction in ("enc", "dec"):
            ratio = float(by[f"cococtl {direction}"]["MiB_per_s"]) / float(by[f"openssl {direction}"]["MiB_per_s"])
            by[f"cococtl {direction}"]["vs_openssl"] = f"{ratio:.2f}x"
            by[f"openssl {direction}"]["vs_openssl"] = "1.00x"
        report(f"file crypto, {args.size_mib} MiB, file -> file, median of {args.repeat}", rows)
        ok = all(float(by[f"cococtl {d}"]["peak_rss_MiB"]) <= 64 for d in ("enc", "dec"))
        print(f"budget: RSS <= 64 MiB {'met' if ok else 'NOT met'}; throughput ratios above (budget >= 1.00x)")


if __name__ == "__main__":
    main()
