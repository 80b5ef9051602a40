"""Write an image into a staging layout beside its destination and publish it only when it is complete.

A failed or interrupted encrypt/decrypt leaves nothing at the destination: the staging directory is removed. One
killed with SIGKILL cannot clean up; its staging directory names its owner and the next write to the same
destination removes it (:mod:`cococtl.ownership`).
On success a new destination is renamed into place; into an existing layout the blobs are moved first
(content-addressed, so harmless) and ``index.json`` is replaced last, atomically.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cococtl.errors import InvalidInputError, OutputExistsError
from cococtl.oci.layout import REF_NAME, Layout
from cococtl.ownership import OWNER_FILE, claim, remove_orphans


def _check_destination(root: Path, tag: str | None, force: bool) -> Layout | None:
    """The existing layout to merge into (None when the destination is new or an empty directory)."""
    if not root.exists():
        return None
    if root.is_dir() and not any(root.iterdir()):
        return None
    if not (root / "index.json").is_file():
        raise OutputExistsError(f"{root} exists and is not an OCI image layout", hint="choose a new directory")
    layout = Layout.open(root)
    entries = [e for e in layout.index()["manifests"] if isinstance(e, dict)]
    if tag is None:
        clash = [e for e in entries if REF_NAME not in (e.get("annotations") or {})]
        what = "an untagged image"
    else:
        clash = [e for e in entries if (e.get("annotations") or {}).get(REF_NAME) == tag]
        what = f"an image tagged {tag!r}"
    if clash and not force:
        raise OutputExistsError(f"{root} already holds {what}", hint="pass --force to replace it, or use another tag")
    return layout


@contextlib.contextmanager
def staged_layout(root: Path, tag: str | None, *, force: bool = False) -> Iterator[Layout]:
    """A fresh layout to write into; it becomes ``root`` (or is merged into it) only if the block succeeds."""
    existing = _check_destination(root, tag, force)
    root.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{root.name}.cococtl-"
    stale = remove_orphans(root.parent, prefix + "*")
    if stale:
        from cococtl.notices import warn

        warn(f"removed {len(stale)} staging layout(s) of {root} left by a killed cococtl")
    stage = Path(tempfile.mkdtemp(prefix=prefix, dir=root.parent))
    try:
        claim(stage)
        layout = Layout.create(stage)
        yield layout
        (stage / OWNER_FILE).unlink()
        if existing is None:
            os.replace(stage, root)  # onto nothing, or onto an empty directory
            return
        _merge(layout, existing, tag)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _merge(staged: Layout, existing: Layout, tag: str | None) -> None:
    blobs = staged.root / "blobs" / "sha256"
    for blob in blobs.iterdir():
        target = existing.root / "blobs" / "sha256" / blob.name
        if not target.exists():
            os.replace(blob, target)
    for entry in staged.index()["manifests"]:
        if not isinstance(entry, dict):
            raise InvalidInputError("the staged index is corrupt")
        descriptor = {k: v for k, v in entry.items() if k != "annotations"}
        existing.tag_manifest(descriptor, tag)
