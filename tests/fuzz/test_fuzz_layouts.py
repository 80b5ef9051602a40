"""OCI layouts (``inspect``, ``decrypt image``, cococtl.oci.layout): random index.json / manifest / config /
blob shapes, non-object entries, non-numeric sizes, missing blobs, blobs that are directories or symlink loops."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cococtl.oci.layout import Layout
from tests.fuzz.conftest import check_cli, expect_clean, fuzz_settings, snapshot
from tests.fuzz.strategies import json_values
from tests.oci_images import build_image

KEK = os.urandom(32)
_TEMPLATE: dict[str, Path] = {}


def _template(base: Path, cli: Any) -> Path:
    """One encrypted two-layer image (built once per session), copied for each example."""
    if "enc" not in _TEMPLATE:
        plain = base / "plain"
        build_image(plain, [{"app/main": b"#!/bin/sh\n"}, {"data/iris.csv": b"1,2\n"}])
        (base / "kek").write_bytes(KEK)
        cli(
            "encrypt",
            "image",
            f"oci:{plain}",
            f"oci:{base / 'enc'}",
            "--keyid",
            "kbs:///default/key/k1",
            "--key",
            base / "kek",
            "--layer",
            "0",
        )
        _TEMPLATE["enc"] = base / "enc"
    return _TEMPLATE["enc"]


def _blobs(root: Path) -> list[Path]:
    return sorted((root / "blobs" / "sha256").iterdir())


def _regular(path: Path) -> Path:
    """The harness itself must not block on a FIFO an earlier mutation left (nor follow a loop)."""
    if path.is_symlink() or not path.is_file():
        raise OSError(f"{path} is not a regular file")
    return path


def _json_blob(root: Path, kind: str) -> Path:
    index = json.loads(_regular(root / "index.json").read_text())
    manifest_path = _regular(root / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1])
    if kind == "manifest":
        return manifest_path
    manifest = json.loads(manifest_path.read_text())
    return _regular(root / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1])


size_values = st.one_of(st.integers(-5, 10**12), st.text(max_size=5), st.floats(), st.none(), st.just([1]))
descriptor = st.fixed_dictionaries(
    {},
    optional={
        "mediaType": st.sampled_from(
            [
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.oci.image.index.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
                "application/vnd.oci.image.layer.v1.tar",
            ]
        )
        | json_values,
        "digest": st.sampled_from(["sha256:" + "0" * 64, "sha256:xyz", "md5:1"]) | json_values,
        "size": size_values,
        "annotations": st.one_of(json_values, st.just({"org.opencontainers.image.ref.name": "latest"})),
        "platform": json_values,
    },
)
mutations = st.one_of(
    st.tuples(
        st.just("index"),
        st.one_of(json_values, st.fixed_dictionaries({"manifests": st.lists(descriptor | json_values, max_size=3)})),
    ),
    st.tuples(
        st.just("manifest-field"),
        st.sampled_from(["layers", "config", "mediaType", "manifests"]),
        st.one_of(json_values, st.lists(descriptor | json_values, max_size=3), descriptor),
    ),
    st.tuples(
        st.just("layer-field"),
        st.integers(0, 1),
        st.sampled_from(["size", "digest", "mediaType", "annotations"]),
        st.one_of(size_values, json_values),
    ),
    st.tuples(st.just("config"), json_values),
    st.tuples(
        st.just("blob"),
        st.integers(0, 10),
        st.sampled_from(["missing", "dir", "loop", "empty", "garbage", "dangling", "fifo"]),
    ),
    st.tuples(st.just("raw"), st.sampled_from(["index.json", "oci-layout"]), st.binary(max_size=40)),
)


def _apply(root: Path, mutation: tuple[Any, ...]) -> None:
    kind = mutation[0]
    if kind == "index":
        (root / "index.json").write_text(json.dumps(mutation[1]))
    elif kind == "manifest-field":
        path = _json_blob(root, "manifest")
        manifest = json.loads(path.read_text())
        manifest[mutation[1]] = mutation[2]
        path.write_text(json.dumps(manifest))  # the digest no longer matches: that is part of the test
    elif kind == "layer-field":
        path = _json_blob(root, "manifest")
        manifest = json.loads(path.read_text())
        manifest["layers"][mutation[1]][mutation[2]] = mutation[3]
        data = json.dumps(manifest).encode()
        digest = hashlib.sha256(data).hexdigest()
        (root / "blobs" / "sha256" / digest).write_bytes(data)
        index = json.loads(_regular(root / "index.json").read_text())
        index["manifests"][0]["digest"], index["manifests"][0]["size"] = f"sha256:{digest}", len(data)
        (root / "index.json").write_text(json.dumps(index))
    elif kind == "config":
        _json_blob(root, "config").write_text(json.dumps(mutation[1]))
    elif kind == "blob":
        blobs = _blobs(root)
        blob = blobs[mutation[1] % len(blobs)]
        if blob.is_dir() and not blob.is_symlink():
            blob.rmdir()
        else:
            blob.unlink()
        how = mutation[2]
        if how == "dir":
            blob.mkdir()
        elif how == "loop":
            blob.symlink_to(blob.name)
        elif how == "empty":
            blob.write_bytes(b"")
        elif how == "garbage":
            blob.write_bytes(os.urandom(64))
        elif how == "dangling":
            blob.symlink_to("/nonexistent/blob")
        elif how == "fifo":
            os.mkfifo(blob)
    else:
        (root / mutation[1]).write_bytes(mutation[2])


@fuzz_settings(150)
@given(mutation=mutations, second=st.none() | mutations)
def test_layouts(
    cli: Any, tmp_path: Path, scratch: Callable[[], Path], private_tmpdir: Path, mutation: Any, second: Any
) -> None:
    base = tmp_path / "template"
    base.mkdir(exist_ok=True)
    template = _template(base, cli)
    where = scratch()
    root = where / "src"
    shutil.copytree(template, root, symlinks=True)
    (where / "kek").write_bytes(KEK)
    for item in (mutation, second):
        if item is not None:
            try:
                _apply(root, item)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError, OSError):
                pass  # an earlier mutation already broke what this one edits
    expect_clean(lambda: Layout.open(root).resolve(None))
    check_cli(cli("inspect", f"oci:{root}", "--key", where / "kek", expect=None))
    check_cli(cli("inspect", f"oci:{root}", "--verify", expect=None))
    before = snapshot(where, private_tmpdir) - snapshot(root)
    result = cli("decrypt", "image", f"oci:{root}", f"oci:{where / 'dst'}", "--key", where / "kek", expect=None)
    check_cli(result)
    if result.exit_code != 0:
        after = snapshot(where, private_tmpdir) - snapshot(root)
        assert after == before, f"left behind: {sorted(after - before)[:10]}"
