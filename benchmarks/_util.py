"""Shared helpers for the benchmark scripts: run a command, measure wall time and peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mib: float
    returncode: int


def measure(
    argv: Sequence[str], *, env: dict[str, str] | None = None, stdin: int | None = None, sync: bool = False
) -> Run:
    """Run ``argv`` once; return its wall time and the child's own peak RSS (from wait4).

    ``sync`` flushes dirty pages first (untimed), so a run does not pay for the previous run's writes.
    """
    if sync:
        os.sync()
    start = time.perf_counter()
    proc = subprocess.Popen(list(argv), env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err}")
    if proc.stderr:
        proc.stderr.close()
    return Run(elapsed, usage.ru_maxrss / 1024, proc.returncode)


def report(title: str, rows: list[dict[str, object]]) -> None:
    """Print a table for people and a JSON line for scripts."""
    print(f"\n{title}")
    if rows:
        keys = list(rows[0])
        widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
        print("  ".join(k.ljust(widths[k]) for k in keys))
        for row in rows:
            print("  ".join(str(row[k]).ljust(widths[k]) for k in keys))
    print("JSON " + json.dumps({"benchmark": title, "rows": rows}))
