"""Start-up latency: `cococtl --version`, `encrypt --help`, `kbs --help`, one TAB completion, vs `python -c pass`.

Budget (DESIGN.md §5): <= 120 ms median wall and <= 12x `python -c pass`.
Usage: python benchmarks/bench_startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import measure, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    cococtl = shutil.which("cococtl", path=str(Path(sys.executable).parent)) or "cococtl"
    complete_env = dict(os.environ, _COCOCTL_COMPLETE="complete_bash", COMP_WORDS="cococtl enc", COMP_CWORD="1")
    cases = {
        "python -c pass": ([sys.executable, "-c", "pass"], None),
        "cococtl --version": ([cococtl, "--version"], None),
        "cococtl encrypt --help": ([cococtl, "encrypt", "--help"], None),
        "cococtl kbs --help": ([cococtl, "kbs", "--help"], None),
        "cococtl --help": ([cococtl, "--help"], None),
        "TAB completion": ([cococtl], complete_env),
    }
    rows = []
    baseline = 0.0
    for name, (argv, env) in cases.items():
        measure(argv, env=env)  # warm the page cache
        times = [measure(argv, env=env).seconds * 1000 for _ in range(args.repeat)]
        median = statistics.median(times)
        baseline = baseline or median
        rows.append(
            {
                "what": name,
                "median_ms": round(median, 1),
                "min_ms": round(min(times), 1),
                "x_python": round(median / baseline, 1),
                "budget": "-"
                if name.startswith("python")
                else ("met" if median <= 120 and median <= 12 * baseline else "NOT met"),
            }
        )
    report(f"start-up, median of {args.repeat}", rows)


if __name__ == "__main__":
    main()
