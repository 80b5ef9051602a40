"""Fetch N resources from the local KBS double: one attested session (cococtl), paired in alternation with a
handshake per resource (the reference kbs-client's behaviour). Reports HTTP request counts and wall time.

Budget (DESIGN.md §5): N + 2 requests, not 3N.
Usage: python benchmarks/bench_kbs.py [--resources 100] [--pairs 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from pairing import Ratio, Run, alternate, load, report, side_rows, timed

from cococtl.devkbs.server import DevKbs, DevKbsConfig
from cococtl.evidence.sample import SampleAttester
from cococtl.kbs.admin import AdminCredentials, KbsAdmin
from cococtl.kbs.client import KbsClient, fetch_resources
from cococtl.policy.builtin import ALLOW_ALL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", type=int, default=100)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    paths = [f"default/key/k{i}" for i in range(args.resources)]
    started = load()
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="cococtl-bench-") as storage:
        kbs = DevKbs(DevKbsConfig(storage=Path(storage)))
        kbs.start()
        try:
            admin = KbsAdmin(KbsClient(kbs.url), AdminCredentials())
            admin.set_resource_policy(ALLOW_ALL)
            for path in paths:
                admin.set_resource(path, path.encode())

            def one_session(i: int) -> Run:
                def fetch() -> None:
                    with KbsClient(kbs.url) as client:
                        resources, _ = fetch_resources(client, SampleAttester(), paths)
                        counts["cococtl: one session"] = client.requests_made
                    assert len(resources) == len(paths)

                return timed(fetch, sync=False)

            def per_resource(i: int) -> Run:
                def fetch() -> None:
                    total = 0
                    for path in paths:
                        with KbsClient(kbs.url) as client:
                            fetch_resources(client, SampleAttester(), [path])
                            total += client.requests_made
                    counts["handshake per resource"] = total

                return timed(fetch, sync=False)

            rounds = alternate(
                {"cococtl: one session": one_session, "handshake per resource": per_resource}, args.pairs, warmup=True
            )
        finally:
            kbs.stop()
    rows = side_rows(rounds)
    for row in rows:
        row["requests"] = counts[str(row["what"])]
        row.pop("peak_rss_MiB", None)
    report(
        f"fetch {args.resources} resources from the KBS double, {args.pairs} pairs",
        rows,
        [(Ratio.of(rounds, "handshake per resource", "cococtl: one session"), None, False)],
        started_load=started,
        extra={"requests_budget": args.resources + 2, "requests": counts},
    )
    one = counts["cococtl: one session"]
    print(f"budget N + 2 = {args.resources + 2} requests: {'met' if one == args.resources + 2 else 'NOT met'} ({one})")


if __name__ == "__main__":
    main()
