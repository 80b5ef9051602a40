"""Encrypt and decrypt a large file with cococtl, paired in alternation with its yardsticks on the same bytes:
the copy limit (`dd bs=1M` to a fresh file) and `openssl enc -aes-256-ctr` (what users compare with); and
`encrypt --force` over an existing output, paired with a fresh write.

Budgets (DESIGN.md §5, issue #13): encrypt and decrypt <= 1.3x the copy's time and <= 1x openssl's;
--force over an existing file <= 1.1x a fresh write; peak RSS <= 64 MiB whatever the size.
Every run writes a fresh output path (removed, untimed, afterwards); `sync` runs untimed before each.
Usage: python benchmarks/bench_file_crypto.py [--size 1G] [--pairs 5] [--only enc,dec,force] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from pairing import (
    Ratio,
    Rounds,
    Run,
    Side,
    alternate,
    cococtl_argv,
    load,
    measure,
    parse_size,
    remove,
    report,
    side_rows,
    write_random,
)

RSS_BUDGET_MIB = 64


def _free_bytes(directory: Path) -> int:
    info = os.statvfs(directory)
    return info.f_bfree * info.f_frsize


def _wait_for_space(directory: Path, at_least: int, timeout: float = 30.0) -> None:
    """Wait (untimed) until the file system has ``at_least`` bytes free: a --force run's old file is
    released by a detached process after cococtl returns, and the next run should not share the disk with it."""
    deadline = time.monotonic() + timeout
    while _free_bytes(directory) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=1 << 30, help="file size: 1G (default), 256M, 10G")
    parser.add_argument("--pairs", type=int, default=5, help="rounds of alternation (default 5)")
    parser.add_argument("--only", default="enc,dec,force", help="comma-separated groups: enc, dec, force")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the files (default: a temp dir)")
    parser.add_argument(
        "--cococtl", default=None, help='command to run (default: the venv\'s cococtl), e.g. "python -m cococtl"'
    )
    parser.add_argument("--no-openssl", action="store_true", help="skip the openssl yardstick")
    args = parser.parse_args()
    cococtl = [*cococtl_argv(args.cococtl), "-q"]
    groups = set(args.only.split(","))
    use_openssl = not args.no_openssl and shutil.which("openssl") is not None
    mib = args.size / (1 << 20)
    started = load()
    with tempfile.TemporaryDirectory(prefix="cococtl-bench-", dir=args.dir) as tmp:
        work = Path(tmp)
        plain, key, enc, ossl_enc = work / "plain.bin", work / "k", work / "plain.enc", work / "plain.ossl"
        needed = args.size * (5 if "force" in groups else 4)
        if shutil.disk_usage(work).free < needed:
            raise SystemExit(f"{work} needs about {needed >> 20} MiB free for --size {args.size >> 20} MiB")
        write_random(plain, args.size)
        key.write_bytes(os.urandom(32))
        # openssl takes the key on argv only because this is a throwaway benchmark key.
        ossl = ["openssl", "enc", "-aes-256-ctr", "-K", os.urandom(32).hex(), "-iv", os.urandom(16).hex()]
        measure([*cococtl, "encrypt", "file", str(plain), "-o", str(enc), "--key", str(key)])
        if use_openssl:
            measure([*ossl, "-in", str(plain), "-out", str(ossl_enc)])

        def writes_to(name: str, argv_for: Callable[[Path], list[str]]) -> Side:
            """A side that writes a fresh output each run and removes it afterwards (untimed)."""

            def side(i: int) -> Run:
                out = work / f"out-{name}-{i}"
                run = measure(argv_for(out))
                remove(out)
                return run

            return side

        results: list[tuple[str, Rounds]] = []
        ratios: list[tuple[Ratio, float | None, bool]] = []
        if "enc" in groups:
            sides: dict[str, Side] = {
                "cococtl encrypt": writes_to(
                    "enc", lambda o: [*cococtl, "encrypt", "file", str(plain), "-o", str(o), "--key", str(key)]
                ),
                "dd copy of the plaintext": writes_to(
                    "dd", lambda o: ["dd", f"if={plain}", f"of={o}", "bs=1M", "status=none"]
                ),
            }
            if use_openssl:
                sides["openssl enc"] = writes_to("ossl", lambda o: [*ossl, "-in", str(plain), "-out", str(o)])
            rounds = alternate(sides, args.pairs)
            results.append(("encrypt", rounds))
            ratios.append((Ratio.of(rounds, "cococtl encrypt", "dd copy of the plaintext"), 1.3, True))
            if use_openssl:
                ratios.append((Ratio.of(rounds, "cococtl encrypt", "openssl enc"), 1.0, True))
        if "dec" in groups:
            sides = {
                "cococtl decrypt": writes_to(
                    "dec", lambda o: [*cococtl, "decrypt", "file", str(enc), "-o", str(o), "--key", str(key)]
                ),
                "dd copy of the ciphertext": writes_to(
                    "dd", lambda o: ["dd", f"if={enc}", f"of={o}", "bs=1M", "status=none"]
                ),
            }
            if use_openssl:
                sides["openssl dec"] = writes_to("ossl", lambda o: [*ossl, "-d", "-in", str(ossl_enc), "-out", str(o)])
            rounds = alternate(sides, args.pairs)
            results.append(("decrypt", rounds))
            ratios.append((Ratio.of(rounds, "cococtl decrypt", "dd copy of the ciphertext"), 1.3, True))
            if use_openssl:
                ratios.append((Ratio.of(rounds, "cococtl decrypt", "openssl dec"), 1.0, True))
        if "force" in groups:
            target = work / "existing.enc"

            def fresh_write(i: int) -> Run:
                out = work / f"out-fresh-{i}"
                run = measure([*cococtl, "encrypt", "file", str(plain), "-o", str(out), "--key", str(key)])
                out.rename(target)  # untimed: the next side overwrites it
                return run

            def force_write(i: int) -> Run:
                run = measure(
                    [*cococtl, "encrypt", "file", str(plain), "-o", str(target), "--key", str(key), "--force"]
                )
                os.sync()
                before = _free_bytes(work)
                remove(target)
                _wait_for_space(work, before + args.size - (64 << 20))
                return run

            rounds = alternate(
                {"cococtl encrypt (fresh output)": fresh_write, "cococtl encrypt --force": force_write}, args.pairs
            )
            results.append(("--force", rounds))
            ratios.append((Ratio.of(rounds, "cococtl encrypt --force", "cococtl encrypt (fresh output)"), 1.1, True))
        rows: list[dict[str, object]] = []
        for _, rounds in results:
            rows += side_rows(rounds, mib=mib)
        rss = max(
            (
                r.peak_rss_mib
                for _, rounds in results
                for n in rounds.names
                if n.startswith("cococtl")
                for r in rounds.runs[n]
            ),
            default=0.0,
        )
    report(
        f"file crypto, {mib:.0f} MiB, file -> file, {args.pairs} pairs in alternation",
        rows,
        ratios,
        started_load=started,
        extra={"size_bytes": args.size, "cococtl_peak_rss_MiB": round(rss, 1), "rss_budget_MiB": RSS_BUDGET_MIB},
    )
    print(
        f"cococtl peak RSS {rss:.1f} MiB: budget <= {RSS_BUDGET_MIB} MiB "
        f"{'met' if rss <= RSS_BUDGET_MIB else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
