"""Shared by every benchmark: run commands, pair each with its yardstick in alternation, report ratios.

On a shared machine the speed of everything drifts by 2x within a minute, so medians taken side by side
(all of A, then all of B) mean little. Instead the sides alternate, one run of each per round, and a ratio
A/B is taken within one round, where both saw the same machine; the report gives the median of those
per-round ratios with their min and max. The order rotates from round to round (A B, B A, A B, … and
A B C, B C A, C A B, … for three), so that no side always runs first, right after another side's
cleanup. A spread wider than ``WIDE`` (max/min) is called out as too wide to conclude from; so is a
budget that lies inside [min, max].

Every timed run is preceded by ``sync`` (untimed), so it does not pay for the previous run's writes, and
each side gets a fresh output path (callers remove it, untimed, after the run).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

WIDE = 1.5  # max/min of the per-round ratios above which a comparison is called inconclusive

# A benchmark stopped with SIGTERM (a timeout, kill PID) still removes its temp dir: SystemExit unwinds it.
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mib: float
    returncode: int
    cpu_seconds: float = 0.0  # user + system time of the child (0: not measured)


def measure(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdin: int | None = None,
    stdout: int | None = None,
    sync: bool = True,
    cwd: Path | None = None,
) -> Run:
    """Run ``argv`` once; return its wall time, and the child's own CPU time and peak RSS (from wait4).

    ``sync`` flushes dirty pages first (untimed), so a run does not pay for the previous run's writes.
    """
    if sync:
        os.sync()
    out = subprocess.DEVNULL if stdout is None else stdout
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), env=env, stdin=stdin, stdout=out, stderr=errors, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        err = errors.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed ({proc.returncode}): {err}")
    return Run(elapsed, usage.ru_maxrss / 1024, proc.returncode, usage.ru_utime + usage.ru_stime)


def timed(action: Callable[[], object], *, sync: bool = True) -> Run:
    """Time an in-process action (several commands in a row, a download) like :func:`measure`."""
    if sync:
        os.sync()
    start = time.perf_counter()
    action()
    return Run(time.perf_counter() - start, 0.0, 0)


Side = Callable[[int], Run]  # runs one side once for round ``i`` (setup and cleanup untimed, inside)


@dataclass
class Rounds:
    """Timings of every side, round by round."""

    names: list[str]
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def seconds(self, name: str) -> list[float]:
        return [r.seconds for r in self.runs[name]]

    def ratios(self, name: str, yardstick: str) -> list[float]:
        return [a / b for a, b in zip(self.seconds(name), self.seconds(yardstick), strict=True)]


def alternate(sides: dict[str, Side], pairs: int, *, warmup: bool = False, quiet: bool = False) -> Rounds:
    """Run the sides in turn, one run each per round, for ``pairs`` rounds, rotating the order (see above).

    ``warmup`` adds an untimed round first (page cache, bytecode caches).
    """
    names = list(sides)
    result = Rounds(names, {name: [] for name in sides})
    if warmup:
        for side in sides.values():
            side(-1)
    for i in range(pairs):
        start = i % len(names)
        for name in names[start:] + names[:start]:
            result.runs[name].append(sides[name](i))
        if not quiet:
            line = "  ".join(f"{name} {runs[-1].seconds:.3f}s" for name, runs in result.runs.items())
            print(f"  round {i + 1}/{pairs}: {line}", file=sys.stderr, flush=True)
    return result


@dataclass(frozen=True)
class Ratio:
    """How long ``what`` took relative to ``yardstick``, round by round (>1: slower than the yardstick)."""

    what: str
    yardstick: str
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, rounds: Rounds, what: str, yardstick: str) -> Ratio:
        values = rounds.ratios(what, yardstick)
        return cls(what, yardstick, statistics.median(values), min(values), max(values), len(values))

    @property
    def wide(self) -> bool:
        return self.low <= 0 or self.high / self.low > WIDE

    def text(self) -> str:
        return f"{self.median:.2f}x [{self.low:.2f}-{self.high:.2f}]"

    def verdict(self, budget: float | None = None, *, at_most: bool = True) -> str:
        """A sentence on the budget (ratio <= budget if ``at_most``, else >=) and on the spread."""
        parts: list[str] = []
        if budget is not None:

            def ok(value: float) -> bool:
                return value <= budget if at_most else value >= budget

            sign = "<=" if at_most else ">="
            if ok(self.low) and ok(self.high):
                parts.append(f"budget {sign} {budget}x met in every round")
            elif not ok(self.low) and not ok(self.high):
                parts.append(f"budget {sign} {budget}x NOT met in any round")
            else:
                state = "met" if ok(self.median) else "NOT met"
                parts.append(f"budget {sign} {budget}x {state} at the median, but the spread crosses it")
        if self.wide:
            parts.append(f"spread too wide to conclude (max/min {self.high / max(self.low, 1e-9):.1f} > {WIDE})")
        return "; ".join(parts) or "ok"

    def as_json(self, budget: float | None = None, *, at_most: bool = True) -> dict[str, object]:
        return {
            "what": self.what,
            "vs": self.yardstick,
            "ratio_median": round(self.median, 3),
            "ratio_min": round(self.low, 3),
            "ratio_max": round(self.high, 3),
            "pairs": self.n,
            "budget": budget,
            "budget_kind": None if budget is None else ("at_most" if at_most else "at_least"),
            "verdict": self.verdict(budget, at_most=at_most),
            "wide": self.wide,
        }


def side_rows(rounds: Rounds, *, mib: float | None = None) -> list[dict[str, object]]:
    """One row per side: median, min and max seconds (and MiB/s if ``mib`` is given), median CPU seconds,
    peak RSS."""
    rows: list[dict[str, object]] = []
    for name in rounds.names:
        secs = rounds.seconds(name)
        med = statistics.median(secs)
        row: dict[str, object] = {
            "what": name,
            "median_s": round(med, 3),
            "min_s": round(min(secs), 3),
            "max_s": round(max(secs), 3),
        }
        if mib is not None:
            row["MiB_per_s"] = round(mib / med, 1)
        cpu = [r.cpu_seconds for r in rounds.runs[name]]
        if any(cpu):
            # CPU time drifts less than wall time when other work shares the machine: a second opinion.
            row["cpu_median_s"] = round(statistics.median(cpu), 3)
        rss = max(r.peak_rss_mib for r in rounds.runs[name])
        row["peak_rss_MiB"] = round(rss, 1) if rss else "-"
        rows.append(row)
    return rows


def table(title: str, rows: list[dict[str, object]]) -> None:
    print(f"\n{title}")
    if not rows:
        return
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    widths = {k: max(len(k), *(len(str(r.get(k, ""))) for r in rows)) for k in keys}
    print("  ".join(k.ljust(widths[k]) for k in keys))
    for row in rows:
        print("  ".join(str(row.get(k, "")).ljust(widths[k]) for k in keys))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def report(
    title: str,
    sides: list[dict[str, object]],
    ratios: list[tuple[Ratio, float | None, bool]],
    *,
    started_load: str,
    extra: dict[str, object] | None = None,
) -> None:
    """Print the per-side table, one line per ratio with its verdict, and one ``JSON`` line."""
    table(title, sides)
    print()
    for ratio, budget, at_most in ratios:
        print(
            f"{ratio.what} / {ratio.yardstick}: {ratio.text()} over {ratio.n} pairs - "
            f"{ratio.verdict(budget, at_most=at_most)}"
        )
    ended = load()
    print(f"load average: {started_load} at the start, {ended} at the end")
    document = {
        "benchmark": title,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_start": started_load,
        "load_end": ended,
        "sides": sides,
        "ratios": [r.as_json(b, at_most=m) for r, b, m in ratios],
        **(extra or {}),
    }
    print("JSON " + json.dumps(document))


def cococtl_argv(value: str | None) -> list[str]:
    """The cococtl command to benchmark: ``--cococtl`` (split on spaces), else the one beside this Python."""
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print(
            "warning: PYTHONDONTWRITEBYTECODE is set: a cococtl without __pycache__ compiles itself at every start",
            file=sys.stderr,
        )
    if value:
        return value.split()
    found = shutil.which("cococtl", path=str(Path(sys.executable).parent)) or shutil.which("cococtl")
    if not found:
        raise SystemExit("cococtl is not installed in this environment (run make test or pip install -e .)")
    return [found]


def parse_size(text: str) -> int:
    """``1G``, ``256M``, ``4096K`` or a number of bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def write_random(path: Path, size: int) -> None:
    """``size`` incompressible bytes, streamed (this process stays small: children inherit nothing big)."""
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as out:
        left = size
        while left > 0:
            out.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)


def remove(*paths: Path) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
