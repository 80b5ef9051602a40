"""`cococtl run` on a large encrypted dataset over loopback HTTP and S3, against the same work done by hand
in the same run: raw download + decrypt + SHA3-256 check + algorithm.

Budget (DESIGN.md §5): cococtl run wall <= 1.2x the sum of the raw steps.
Usage: python benchmarks/bench_run.py [--size-mib 1024] [--dir DIR]
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
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from _util import measure, report

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
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    cococtl = shutil.which("cococtl", path=str(Path(sys.executable).parent)) or "cococtl"
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        www = work / "www"
        www.mkdir()
        chunk = os.urandom(1 << 20)
        with open(work / "data.csv", "wb") as out:
            for _ in range(args.size_mib):
                out.write(chunk)
        sha3 = _sha3(work / "data.csv")
        key, algo_key = os.urandom(32), os.urandom(32)
        (work / "key").write_bytes(key)
        subprocess.run(
            [
                cococtl,
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
                cococtl,
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
            rows = []
            for label, data_uri in (("http", f"http://127.0.0.1:{port}/data.enc"), ("s3", "s3://bench/data.enc")):
                manifest = {
                    "computation_id": f"bench-{label}",
                    "algorithm": {
                        "uri": f"http://127.0.0.1:{port}/algo.enc",
                        "encrypted": True,
                        "kbs_resource_path": "default/key/algo",
                        "algo_type": "bin",
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
                (work / "m.json").write_text(json.dumps(manifest))
                results = work / f"results-{label}"
                run = measure(
                    [
                        cococtl,
                        "-q",
                        "run",
                        str(work / "m.json"),
                        "--keys-file",
                        str(work / "keys.json"),
                        "--results",
                        str(results),
                    ],
                    env=env,
                    sync=True,
                )
                # The same steps by hand.
                raw_dir = work / f"raw-{label}"
                (raw_dir / "datasets").mkdir(parents=True)
                (raw_dir / "results").mkdir()
                os.sync()
                start = time.perf_counter()
                if label == "http":
                    subprocess.run(["curl", "-sSf", "-o", str(raw_dir / "data.enc"), data_uri], check=True)
                else:
                    s3.download_file("bench", "data.enc", str(raw_dir / "data.enc"))
                download = time.perf_counter() - start
                start = time.perf_counter()
                subprocess.run(
                    [
                        cococtl,
                        "-q",
                        "decrypt",
                        "file",
                        str(raw_dir / "data.enc"),
                        "-o",
                        str(raw_dir / "datasets" / "data.csv"),
                        "--key",
                        str(work / "key"),
                    ],
                    check=True,
                )
                decrypt = time.perf_counter() - start
                start = time.perf_counter()
                assert _sha3(raw_dir / "datasets" / "data.csv") == sha3
                verify = time.perf_counter() - start
                start = time.perf_counter()
                shutil.copy(work / "algo", raw_dir / "algo")
                subprocess.run(["./algo"], cwd=raw_dir, check=True)
                algorithm = time.perf_counter() - start
                raw_total = download + decrypt + verify + algorithm
                rows.append(
                    {
                        "source": label,
                        "cococtl_run_s": round(run.seconds, 2),
                        "raw_total_s": round(raw_total, 2),
                        "download_s": round(download, 2),
                        "decrypt_s": round(decrypt, 2),
                        "sha3_s": round(verify, 2),
                        "algorithm_s": round(algorithm, 2),
                        "ratio": round(run.seconds / raw_total, 2),
                        "run_peak_rss_MiB": round(run.peak_rss_mib, 1),
                    }
                )
                shutil.rmtree(raw_dir)
                shutil.rmtree(results)
        finally:
            http.terminate()
            http.wait(timeout=10)
            moto.stop()
    report(f"cococtl run with a {args.size_mib} MiB encrypted dataset", rows)
    for row in rows:
        print(
            f"{row['source']}: run/raw = {row['ratio']} (budget <= 1.2: {'met' if row['ratio'] <= 1.2 else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
