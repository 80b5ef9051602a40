"""Start-up latency: `cococtl --version`, `--help`, `encrypt --help`, `kbs --help` and one TAB completion,
each paired in alternation with `python -c pass` of the same interpreter (the floor any Python CLI pays).

Budgets (DESIGN.md §5): <= 120 ms median wall and <= 12x `python -c pass` (issue #13 aims at 70 ms / 3.5x).
Usage: python benchmarks/bench_startup.py [--pairs 15] [--cococtl "python -m cococtl"]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from pairing import Ratio, Run, Side, alternate, cococtl_argv, load, measure, report

BUDGET_MS = 120
BUDGET_X = 12.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--cococtl", default=None, help="command to run (default: the venv's cococtl)")
    args = parser.parse_args()
    cococtl = cococtl_argv(args.cococtl)
    complete_env = dict(os.environ, _COCOCTL_COMPLETE="complete_bash", COMP_WORDS="cococtl enc", COMP_CWORD="1")
    cases: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "cococtl --version": ([*cococtl, "--version"], None),
        "cococtl --help": ([*cococtl, "--help"], None),
        "cococtl encrypt --help": ([*cococtl, "encrypt", "--help"], None),
        "cococtl kbs --help": ([*cococtl, "kbs", "--help"], None),
        # TAB runs only the shell function of completions/cococtl.bash (issue #12: <= 10 ms, a fresh bash included);
        # cococtl itself answers only dynamic values, through Typer's protocol (the last row).
        "TAB completion (bash script)": (
            [
                "bash",
                "--norc",
                "--noprofile",
                "-c",
                f"source {Path(__file__).parents[1] / 'completions' / 'cococtl.bash'}; "
                "COMP_WORDS=(cococtl kbs get-resource --t); COMP_CWORD=3; _cococtl cococtl 2>/dev/null",
            ],
            None,
        ),
        "completion by cococtl (dynamic values)": (cococtl, complete_env),
    }
    floor = "python -c pass"

    def runs(argv: list[str], env: dict[str, str] | None) -> Side:
        def side(i: int) -> Run:
            return measure(argv, env=env, sync=False)

        return side

    started = load()
    rows: list[dict[str, object]] = []
    ratios: list[tuple[Ratio, float | None, bool]] = []
    medians: dict[str, float] = {}
    for name, (argv, env) in cases.items():
        rounds = alternate(
            {name: runs(argv, env), floor: runs([sys.executable, "-c", "pass"], None)},
            args.pairs,
            warmup=True,
            quiet=True,
        )
        medians[name] = statistics.median(rounds.seconds(name)) * 1000
        floor_ms = statistics.median(rounds.seconds(floor)) * 1000
        ratio = Ratio.of(rounds, name, floor)
        rows.append(
            {
                "what": name,
                "median_ms": round(medians[name], 1),
                "min_ms": round(min(rounds.seconds(name)) * 1000, 1),
                "max_ms": round(max(rounds.seconds(name)) * 1000, 1),
                "floor_ms": round(floor_ms, 1),
                "x_floor": ratio.text(),
                "budget_ms": "met" if medians[name] <= BUDGET_MS else "NOT met",
            }
        )
        ratios.append((ratio, BUDGET_X, True))
    report(
        f"start-up, {args.pairs} pairs each with `python -c pass`",
        rows,
        ratios,
        started_load=started,
        extra={"budget_ms": BUDGET_MS, "medians_ms": {k: round(v, 1) for k, v in medians.items()}},
    )


if __name__ == "__main__":
    main()
