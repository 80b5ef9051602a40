"""Encrypt and decrypt an OCI image with one large layer: cococtl's native engine paired in alternation with
skopeo 1.19 (built from the Go module proxy) using `cococtl keyprovider` as its key provider, for an
uncompressed tar layer and a gzip layer. Both decrypt sides read the same (skopeo-encrypted) image.

Budget (DESIGN.md §5): native >= 1.5x faster than skopeo + key provider (issue #13: >= 2x); RSS <= 64 MiB.
Usage: python benchmarks/bench_image.py [--size 256M] [--pairs 3] [--kinds tar,gzip] [--skopeo PATH]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from pairing import (
    Ratio,
    Run,
    Side,
    alternate,
    cococtl_argv,
    load,
    measure,
    parse_size,
    remove,
    report,
    side_rows,
    write_random,
)

SPEEDUP_BUDGET = 1.5

ROOT = Path(__file__).parents[1]


def _layout(root: Path, layer_mib: int, *, gzipped: bool) -> None:
    """One layer holding a random file (incompressible): an uncompressed tar, or the same tar gzipped."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    tar_path = root / "layer.tar"
    # Streamed from a file, so this (parent) process stays small: children inherit its RSS until they exec.
    write_random(root / "data.bin", layer_mib << 20)
    with tarfile.open(tar_path, "w") as archive:
        archive.add(root / "data.bin", arcname="data.bin")
    (root / "data.bin").unlink()
    diff_id = _sha256_file(tar_path)
    media_type = "application/vnd.oci.image.layer.v1.tar"
    if gzipped:
        with open(tar_path, "rb") as raw, gzip.open(root / "layer.tar.gz", "wb", compresslevel=1) as packed:
            shutil.copyfileobj(raw, packed, 1 << 20)
        tar_path.unlink()
        tar_path = root / "layer.tar.gz"
        media_type += "+gzip"
    layer_digest = _sha256_file(tar_path)
    size = tar_path.stat().st_size
    tar_path.rename(blobs / layer_digest)
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]}}
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
            "layers": [{"mediaType": media_type, "digest": f"sha256:{layer_digest}", "size": size}],
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


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=256 << 20, help="layer size (default 256M)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--kinds", default="tar,gzip", help="layer kinds: tar (uncompressed), gzip")
    parser.add_argument("--skopeo", default=str(ROOT / ".tools" / "bin" / "skopeo-go"))
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--cococtl", default=None, help="command to run (default: the venv's cococtl)")
    args = parser.parse_args()
    cococtl = cococtl_argv(args.cococtl)
    kid = "kbs:///default/key/bench"
    layer_mib = args.size >> 20
    started = load()
    rows: list[dict[str, object]] = []
    ratios: list[tuple[Ratio, float | None, bool]] = []
    with tempfile.TemporaryDirectory(prefix="cococtl-bench-", dir=args.dir) as tmp:
        work = Path(tmp)
        kek = os.urandom(32)
        (work / "kek").write_bytes(kek)
        (work / "keys.json").write_text(json.dumps({"default/key/bench": base64.b64encode(kek).decode()}))
        provider = [*cococtl, "keyprovider", "--keys-file", str(work / "keys.json")]
        (work / "ocicrypt.conf").write_text(
            json.dumps({"key-providers": {"attestation-agent": {"cmd": {"path": provider[0], "args": provider[1:]}}}})
        )
        env = {**os.environ, "OCICRYPT_KEYPROVIDER_CONFIG": str(work / "ocicrypt.conf")}

        def bench_kind(kind: str) -> None:
            src_dir = work / f"src-{kind}"
            _layout(src_dir, layer_mib, gzipped=kind == "gzip")
            src = f"oci:{src_dir}:v1"
            # One encrypted image (by skopeo, the reference) that both sides decrypt: the same bytes in.
            encrypted = work / f"enc-{kind}"
            skopeo_enc = [
                args.skopeo,
                "--insecure-policy",
                "copy",
                "--encryption-key",
                f"provider:attestation-agent:keypath={work / 'kek'}::keyid={kid}::algorithm=A256GCM",
            ]
            measure([*skopeo_enc, src, f"oci:{encrypted}:v1"], env=env)

            def to_fresh(
                tag: str, argv_for: Callable[[str], list[str]], *, side_env: dict[str, str] | None = None
            ) -> Side:
                def side(i: int) -> Run:
                    out = work / f"out-{tag}-{i}"
                    run = measure(argv_for(f"oci:{out}:v1"), env=side_env)
                    remove(out)
                    return run

                return side

            enc_sides: dict[str, Side] = {
                f"native encrypt ({kind})": to_fresh(
                    "ne",
                    lambda dst: [*cococtl, "encrypt", "image", src, dst, "--keyid", kid, "--key", str(work / "kek")],
                ),
                f"skopeo encrypt ({kind})": to_fresh("se", lambda dst: [*skopeo_enc, src, dst], side_env=env),
            }
            dec_src = f"oci:{encrypted}:v1"
            dec_sides: dict[str, Side] = {
                f"native decrypt ({kind})": to_fresh(
                    "nd", lambda dst: [*cococtl, "decrypt", "image", dec_src, dst, "--key", str(work / "kek")]
                ),
                f"skopeo decrypt ({kind})": to_fresh(
                    "sd",
                    lambda dst: [
                        args.skopeo,
                        "--insecure-policy",
                        "copy",
                        "--decryption-key",
                        "provider:attestation-agent:offline_fs_kbc::null",
                        dec_src,
                        dst,
                    ],
                    side_env=env,
                ),
            }
            for op, sides in (("encrypt", enc_sides), ("decrypt", dec_sides)):
                rounds = alternate(sides, args.pairs)
                rows.extend(side_rows(rounds, mib=layer_mib))
                # Speed-up: skopeo's time over native's, round by round (>1: native is faster).
                ratios.append(
                    (Ratio.of(rounds, f"skopeo {op} ({kind})", f"native {op} ({kind})"), SPEEDUP_BUDGET, False)
                )
            remove(src_dir, encrypted)

        for kind in args.kinds.split(","):
            bench_kind(kind)
    rss = max((float(str(r["peak_rss_MiB"])) for r in rows if str(r["what"]).startswith("native")), default=0.0)
    report(
        f"OCI image with one {layer_mib} MiB layer, native vs skopeo + key provider, {args.pairs} pairs",
        rows,
        ratios,
        started_load=started,
        extra={"layer_bytes": args.size, "native_peak_rss_MiB": rss, "rss_budget_MiB": 64, "skopeo": args.skopeo},
    )
    print(f"native peak RSS {rss:.1f} MiB: budget <= 64 MiB {'met' if rss <= 64 else 'NOT met'}")


if __name__ == "__main__":
    main()
