"""Encrypt and decrypt an OCI image with one large layer: cococtl's native engine vs skopeo 1.19 (built from
the Go module proxy) with `cococtl keyprovider` as its key provider. Reports wall time and peak RSS of each run.

Budget (DESIGN.md §5): native >= 1.5x faster than skopeo + key provider; RSS <= 64 MiB.
Usage: python benchmarks/bench_image.py [--layer-mib 256] [--skopeo PATH]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import Run, measure, report

ROOT = Path(__file__).parents[1]


def _layout(root: Path, layer_mib: int) -> None:
    """One uncompressed tar layer holding a random file (incompressible, so skopeo keeps it as is)."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    tar_path = root / "layer.tar"
    # Streamed from a file, so this (parent) process stays small: children inherit its RSS until they exec.
    chunk = os.urandom(1 << 20)
    with open(root / "data.bin", "wb") as data:
        for _ in range(layer_mib):
            data.write(chunk)
    with tarfile.open(tar_path, "w") as archive:
        archive.add(root / "data.bin", arcname="data.bin")
    (root / "data.bin").unlink()
    digest = hashlib.sha256()
    with open(tar_path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    layer_digest = digest.hexdigest()
    size = tar_path.stat().st_size
    tar_path.rename(blobs / layer_digest)
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]}}
    ).encode()
    (blobs / hashlib.sha256(config).hexdigest()).write_bytes(config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": f"sha256:{hashlib.sha256(config).hexdigest()}",
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": f"sha256:{layer_digest}",
                    "size": size,
                }
            ],
        }
    ).encode()
    (blobs / hashlib.sha256(manifest).hexdigest()).write_bytes(manifest)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": f"sha256:{hashlib.sha256(manifest).hexdigest()}",
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": "v1"},
                    }
                ],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layer-mib", type=int, default=256)
    parser.add_argument("--skopeo", default=str(ROOT / ".tools" / "bin" / "skopeo-go"))
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    cococtl = shutil.which("cococtl", path=str(Path(sys.executable).parent)) or "cococtl"
    kid = "kbs:///default/key/bench"
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        _layout(work / "src", args.layer_mib)
        kek = os.urandom(32)
        (work / "kek").write_bytes(kek)
        (work / "keys.json").write_text(json.dumps({"default/key/bench": base64.b64encode(kek).decode()}))
        (work / "ocicrypt.conf").write_text(
            json.dumps(
                {
                    "key-providers": {
                        "attestation-agent": {
                            "cmd": {"path": cococtl, "args": ["keyprovider", "--keys-file", str(work / "keys.json")]}
                        }
                    }
                }
            )
        )
        env = {**os.environ, "OCICRYPT_KEYPROVIDER_CONFIG": str(work / "ocicrypt.conf")}
        src = f"oci:{work / 'src'}:v1"
        runs: dict[str, Run] = {
            "native encrypt": measure(
                [
                    cococtl,
                    "encrypt",
                    "image",
                    src,
                    f"oci:{work / 'n-enc'}:v1",
                    "--keyid",
                    kid,
                    "--key",
                    str(work / "kek"),
                ],
                sync=True,
            ),
            "native decrypt": measure(
                [
                    cococtl,
                    "decrypt",
                    "image",
                    f"oci:{work / 'n-enc'}:v1",
                    f"oci:{work / 'n-dec'}:v1",
                    "--key",
                    str(work / "kek"),
                ],
                sync=True,
            ),
            "skopeo+provider encrypt": measure(
                [
                    args.skopeo,
                    "--insecure-policy",
                    "copy",
                    "--encryption-key",
                    f"provider:attestation-agent:keypath={work / 'kek'}::keyid={kid}::algorithm=A256GCM",
                    src,
                    f"oci:{work / 's-enc'}:v1",
                ],
                env=env,
                sync=True,
            ),
            "skopeo+provider decrypt": measure(
                [
                    args.skopeo,
                    "--insecure-policy",
                    "copy",
                    "--decryption-key",
                    "provider:attestation-agent:offline_fs_kbc::null",
                    f"oci:{work / 's-enc'}:v1",
                    f"oci:{work / 's-dec'}:v1",
                ],
                env=env,
                sync=True,
            ),
        }
    rows = [
        {"what": name, "seconds": round(run.seconds, 3), "peak_rss_MiB": round(run.peak_rss_mib, 1)}
        for name, run in runs.items()
    ]
    report(f"OCI image with one {args.layer_mib} MiB layer", rows)
    for op in ("encrypt", "decrypt"):
        ratio = runs[f"skopeo+provider {op}"].seconds / runs[f"native {op}"].seconds
        rss = runs[f"native {op}"].peak_rss_mib
        print(
            f"{op}: native is {ratio:.2f}x faster (budget >= 1.5x: {'met' if ratio >= 1.5 else 'NOT met'}); "
            f"native RSS {rss:.0f} MiB (budget <= 64: {'met' if rss <= 64 else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
