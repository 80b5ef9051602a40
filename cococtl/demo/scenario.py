"""The demo scenario: local KBS double + loopback HTTP storage + encrypted algorithm and dataset + a run."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cococtl.compute.keysource import KbsKeySource
from cococtl.compute.runner import RunOptions, RunReport, run_computation
from cococtl.compute.wiring import make_peers
from cococtl.crypto.files import encrypt_file
from cococtl.crypto.keys import create_key_file
from cococtl.demo.httpd import StaticServer
from cococtl.devkbs.server import DevKbs, DevKbsConfig
from cococtl.evidence.sample import SampleAttester
from cococtl.kbs.admin import AdminCredentials, KbsAdmin
from cococtl.kbs.client import KbsClient
from cococtl.manifest.model import load_manifest
from cococtl.oci.build import build_image
from cococtl.oci.image import encrypt_image
from cococtl.oci.layout import parse_reference
from cococtl.policy.builtin import ALLOW_ALL
from cococtl.sources.base import FetchSettings

ALGORITHM_KEY = "default/key/iris-algorithm"
DATASET_KEY = "default/key/iris-dataset"


@dataclass
class DemoResult:
    workdir: Path
    report: RunReport
    summary: str
    steps: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _asset(name: str) -> bytes:
    return resources.files("cococtl.demo").joinpath("assets", name).read_bytes()


def run_demo(workdir: Path, *, say: Callable[[str], None], sink: Callable[[str, bytes], None]) -> DemoResult:
    """Run the whole scenario in ``workdir`` (which must exist and be empty)."""
    started = time.monotonic()
    www, secrets, kbs_dir = workdir / "www", workdir / "keys", workdir / "kbs-storage"
    for directory in (www, secrets, kbs_dir, workdir / "oci"):
        directory.mkdir(mode=0o700)
    plain = workdir / "plaintext"
    plain.mkdir()
    (plain / "iris_algorithm.py").write_bytes(_asset("iris_algorithm.py"))
    (plain / "iris.csv").write_bytes(_asset("iris.csv"))

    kbs = DevKbs(DevKbsConfig(storage=kbs_dir))
    kbs.start()
    storage = StaticServer(www).start()
    try:
        say(f"1. started the local KBS double at {kbs.url} (sample TEE, Trustee's default policy)")
        say(f"2. started loopback HTTP storage at {storage.url}")
        algo_key = create_key_file(secrets / "algorithm.key", force=False)
        data_key = create_key_file(secrets / "dataset.key", force=False)
        say(f"3. generated two AES-256 keys in {secrets} (0600)")
        build_image(plain / "image", [{"iris_algorithm.py": _asset("iris_algorithm.py")}], tag="v1")
        image = workdir / "oci" / "iris-algorithm"
        encrypt_image(
            parse_reference(f"oci:{plain / 'image'}:v1"),
            parse_reference(f"oci:{image}:v1"),
            algo_key,
            f"kbs:///{ALGORITHM_KEY}",
        )
        encrypt_file(data_key, plain / "iris.csv", www / "iris.csv.enc")
        say(
            f"4. packaged the algorithm as an OCI image and encrypted it (ocicrypt, kid kbs:///{ALGORITHM_KEY}) "
            f"into the local layout {image}, and encrypted the dataset (Go/Cocos AES-256-GCM) into the HTTP storage"
        )
        admin = KbsAdmin(KbsClient(kbs.url), AdminCredentials())
        admin.set_resource(ALGORITHM_KEY, algo_key)
        admin.set_resource(DATASET_KEY, data_key)
        admin.set_resource_policy(ALLOW_ALL)
        say(f"5. provisioned both keys to the KBS ({ALGORITHM_KEY}, {DATASET_KEY}) and an allow-all policy")
        manifest_path = workdir / "manifest.json"
        manifest = {
            "computation_id": "iris-demo",
            "kbs": {"url": kbs.url},
            "algorithm": {
                "type": "oci-image",
                "uri": f"oci:{image}:v1",
                "encrypted": True,
                "kbs_resource_path": ALGORITHM_KEY,
                "algo_type": "python",
                "hash": hashlib.sha3_256(_asset("iris_algorithm.py")).hexdigest(),
            },
            "datasets": [
                {
                    "type": "http",
                    "uri": f"{storage.url}/iris.csv.enc",
                    "encrypted": True,
                    "kbs_resource_path": DATASET_KEY,
                    "filename": "iris.csv",
                    "hash": hashlib.sha3_256(_asset("iris.csv")).hexdigest(),
                }
            ],
        }
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
        say(f"6. wrote the manifest (seed form) to {manifest_path}")
        say(
            "7. running it: attest with sample evidence, fetch both keys in one session, download, decrypt, "
            "verify SHA3-256, execute"
        )
        parsed = load_manifest(manifest_path)
        peers = make_peers(FetchSettings(timeout=10, retries=1), KbsKeySource(SampleAttester(), timeout=10))
        report = run_computation(
            parsed, peers, RunOptions(results_dir=workdir / "results", workdir_parent=workdir), sink=sink
        )
    finally:
        storage.stop()
        kbs.stop()
    shutil.rmtree(plain)
    summary_file = workdir / "results" / "summary.txt"
    summary = summary_file.read_text().strip() if summary_file.is_file() else ""
    return DemoResult(workdir, report, summary, seconds=time.monotonic() - started)


def manual_steps(workdir: Path) -> str:
    """The same scenario as commands a person can type."""
    return f"""# Repeat the demo by hand (in {workdir}):
cococtl kbs dev-server --port 8080 --storage {workdir}/kbs-storage &        # the local KBS double
(cd {workdir}/www && python3 -m http.server 8000 --bind 127.0.0.1) &        # loopback storage
cococtl inspect oci:{workdir}/oci/iris-algorithm:v1 --key {workdir}/keys/algorithm.key   # the encrypted image
cococtl kbs set-resource --path {ALGORITHM_KEY} --resource-file {workdir}/keys/algorithm.key
cococtl kbs set-resource --path {DATASET_KEY} --resource-file {workdir}/keys/dataset.key
cococtl kbs set-resource-policy --allow-all
sed -e 's#http://127.0.0.1:[0-9]*/iris.csv#http://127.0.0.1:8000/iris.csv#' \\
    -e 's#"url": "http://127.0.0.1:[0-9]*"#"url": "http://127.0.0.1:8080"#' \\
    {workdir}/manifest.json > {workdir}/manifest-manual.json
cococtl run {workdir}/manifest-manual.json --tee sample --results {workdir}/results-manual
"""
