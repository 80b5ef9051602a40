"""Fetch N resources from the local KBS double: one attested session (cococtl) vs a handshake per resource
(the reference kbs-client's behaviour). Reports HTTP request counts and wall time.

Budget (DESIGN.md §5): N + 2 requests, not 3N.
Usage: python benchmarks/bench_kbs.py [--resources 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import report

from cococtl.devkbs.server import DevKbs, DevKbsConfig
from cococtl.evidence.sample import SampleAttester
from cococtl.kbs.admin import AdminCredentials, KbsAdmin
from cococtl.kbs.client import KbsClient, fetch_resources
from cococtl.policy.builtin import ALLOW_ALL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", type=int, default=100)
    args = parser.parse_args()
    paths = [f"default/key/k{i}" for i in range(args.resources)]
    with tempfile.TemporaryDirectory() as storage:
        kbs = DevKbs(DevKbsConfig(storage=Path(storage)))
        kbs.start()
        try:
            admin = KbsAdmin(KbsClient(kbs.url), AdminCredentials())
            admin.set_resource_policy(ALLOW_ALL)
            for path in paths:
                admin.set_resource(path, path.encode())
            start = time.perf_counter()
            with KbsClient(kbs.url) as client:
                resources, _ = fetch_resources(client, SampleAttester(), paths)
                one_session = client.requests_made
            one_session_s = time.perf_counter() - start
            assert len(resources) == len(paths)
            start = time.perf_counter()
            per_resource = 0
            for path in paths:
                with KbsClient(kbs.url) as client:
                    fetch_resources(client, SampleAttester(), [path])
                    per_resource += client.requests_made
            per_resource_s = time.perf_counter() - start
        finally:
            kbs.stop()
    report(
        f"fetch {args.resources} resources from the KBS double",
        [
            {"mode": "cococtl: one session", "requests": one_session, "seconds": round(one_session_s, 3)},
            {"mode": "handshake per resource", "requests": per_resource, "seconds": round(per_resource_s, 3)},
        ],
    )
    print(
        f"budget N + 2 = {args.resources + 2} requests: {'met' if one_session == args.resources + 2 else 'NOT met'};"
        f" {per_resource_s / one_session_s:.1f}x faster than a handshake per resource"
    )


if __name__ == "__main__":
    main()
