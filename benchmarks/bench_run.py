"""`cococtl run` on a large encrypted dataset over loopback HTTP and S3 (moto), paired in alternation with
the same steps done by hand, one command after another: download the object with one streamed GET
(`curl`, for S3 too: moto serves path-style GETs like the one cococtl's boto3 client sends), `cococtl
decrypt file`, `openssl dgst -sha3-256` against the manifest's hash, then the algorithm.

(The yardstick used to download from S3 with boto3's `download_file`, whose parallel ranged GETs are
slow against moto: the ratio came out at 0.1x, i.e. a comparison with a slower path, not an overhead.)

Budget (DESIGN.md §5): cococtl run wall <= 1.2x the raw steps' wall.
Usage: python benchmarks/bench_run.py [--size 512M] [--pairs 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from pairing import (
    Ratio,
    Run,
    alternate,
    cococtl_argv,
    load,
    measure,
    parse_size,
    remove,
    report,
    side_rows,
    timed,
    write_random,
)

from tests.integration.peers import free_port, start_moto, wait_for_port

ALGORITHM = "#!/bin/sh\nwc -c datasets/* > results/size.txt\n"


def _sha3(path: Path) -> str:
    digest = hashlib.sha3_256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=parse_size, default=512 << 20, help="dataset size (default 512M)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--cococtl", default=None, help="command to run (default: the venv's cococtl)")
    args = parser.parse_args()
    cococtl = cococtl_argv(args.cococtl)
    started = load()
    with tempfile.TemporaryDirectory(prefix="cococtl-bench-", dir=args.dir) as tmp:
        work = Path(tmp)
        www = work / "www"
        www.mkdir()
        write_random(work / "data.csv", args.size)
        sha3 = _sha3(work / "data.csv")
        key, algo_key = os.urandom(32), os.urandom(32)
        (work / "key").write_bytes(key)
        subprocess.run(
            [
                *cococtl,
                "-q",
                "encrypt",
                "file",
                str(work / "data.csv"),
                "-o",
                str(www / "data.enc"),
                "--key",
                str(work / "key"),
            ],
            check=True,
        )
        (work / "data.csv").unlink()
        (work / "algo").write_text(ALGORITHM)
        (work / "algo").chmod(0o755)
        (work / "algo-key").write_bytes(algo_key)
        subprocess.run(
            [
                *cococtl,
                "-q",
                "encrypt",
                "file",
                str(work / "algo"),
                "-o",
                str(www / "algo.enc"),
                "--key",
                str(work / "algo-key"),
            ],
            check=True,
        )
        (work / "keys.json").write_text(
            json.dumps(
                {
                    "default/key/data": base64.b64encode(key).decode(),
                    "default/key/algo": base64.b64encode(algo_key).decode(),
                }
            )
        )
        port = free_port()
        http = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(www)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        moto = start_moto()
        try:
            wait_for_port(port, proc=http)
            import boto3

            s3 = boto3.client(
                "s3",
                endpoint_url=moto.url,
                aws_access_key_id="x",
                aws_secret_access_key="x",  # noqa: S106 - moto accepts anything, region_name="us-east-1"
            )
            s3.create_bucket(Bucket="bench")
            s3.upload_file(str(www / "data.enc"), "bench", "data.enc")
            env = {
                **os.environ,
                "AWS_ENDPOINT_URL": moto.url,
                "AWS_ACCESS_KEY_ID": "x",
                "AWS_SECRET_ACCESS_KEY": "x",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
            openssl = shutil.which("openssl")
            if not openssl:
                raise SystemExit("openssl is needed for the by-hand SHA3-256 step")
            results_rows: list[dict[str, object]] = []
            ratios: list[tuple[Ratio, float | None, bool]] = []
            for label, data_uri, raw_url in (
                ("http", f"http://127.0.0.1:{port}/data.enc", f"http://127.0.0.1:{port}/data.enc"),
                ("s3", "s3://bench/data.enc", f"{moto.url}/bench/data.enc"),
            ):
                manifest = {
                    "computation_id": f"bench-{label}",
                    "algorithm": {
                        "uri": f"http://127.0.0.1:{port}/algo.enc",
                        "encrypted": True,
                        "kbs_resource_path": "default/key/algo",
                        "algo_type": "bin",
                        "hash": _sha3(work / "algo"),
                    },
                    "datasets": [
                        {
                            "uri": data_uri,
                            "encrypted": True,
                            "filename": "data.csv",
                            "kbs_resource_path": "default/key/data",
                            "hash": sha3,
                        }
                    ],
                }
                manifest_path = work / f"m-{label}.json"
                manifest_path.write_text(json.dumps(manifest))

                def run_side(i: int, manifest_path: Path = manifest_path, label: str = label) -> Run:
                    results = work / f"results-{label}-{i}"
                    run = measure(
                        [
                            *cococtl,
                            "-q",
                            "run",
                            str(manifest_path),
                            "--keys-file",
                            str(work / "keys.json"),
                            "--results",
                            str(results),
                        ],
                        env=env,
                    )
                    remove(results)
                    return run

                def raw_side(i: int, raw_url: str = raw_url, label: str = label) -> Run:
                    raw_dir = work / f"raw-{label}-{i}"
                    (raw_dir / "datasets").mkdir(parents=True)
                    (raw_dir / "results").mkdir()
                    plain = raw_dir / "datasets" / "data.csv"

                    def steps() -> None:
                        subprocess.run(["curl", "-sSf", "-o", str(raw_dir / "data.enc"), raw_url], check=True)
                        subprocess.run(
                            [
                                *cococtl,
                                "-q",
                                "decrypt",
                                "file",
                                str(raw_dir / "data.enc"),
                                "-o",
                                str(plain),
                                "--key",
                                str(work / "key"),
                            ],
                            check=True,
                        )
                        digest = subprocess.run(
                            [openssl, "dgst", "-sha3-256", "-r", str(plain)], check=True, capture_output=True, text=True
                        ).stdout.split()[0]
                        if digest != sha3:
                            raise SystemExit(f"by-hand SHA3-256 {digest} != {sha3}")
                        shutil.copy(work / "algo", raw_dir / "algo")
                        subprocess.run(["./algo"], cwd=raw_dir, check=True)

                    run = timed(steps)
                    remove(raw_dir)
                    return run

                rounds = alternate({f"cococtl run ({label})": run_side, f"raw steps ({label})": raw_side}, args.pairs)
                results_rows.extend(side_rows(rounds, mib=args.size / (1 << 20)))
                ratios.append((Ratio.of(rounds, f"cococtl run ({label})", f"raw steps ({label})"), 1.2, True))
        finally:
            http.terminate()
            http.wait(timeout=10)
            moto.stop()
    report(
        f"cococtl run with a {args.size >> 20} MiB encrypted dataset vs the same steps by hand, {args.pairs} pairs",
        results_rows,
        ratios,
        started_load=started,
        extra={"size_bytes": args.size},
    )


if __name__ == "__main__":
    main()
