"""Image references on any side: ``oci:DIR[:TAG]`` natively, ``docker://…`` through skopeo and a temp layout."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from cococtl.oci.layout import ImageRef, parse_reference
from cococtl.oci.skopeo import RegistryOptions, Skopeo, temporary_layout


def is_registry(reference: str) -> bool:
    return reference.startswith("docker://")


@contextlib.contextmanager
def readable(reference: str, registry: RegistryOptions, skopeo: Skopeo | None = None) -> Iterator[ImageRef]:
    """A local layout holding ``reference`` for the duration of the block."""
    if not is_registry(reference):
        yield parse_reference(reference)
        return
    with temporary_layout() as scratch:
        layout = Path(scratch) / "image"
        (skopeo or Skopeo()).copy(
            reference, f"oci:{layout}:latest", registry.source_args(), stall_timeout=registry.stall_timeout
        )
        yield ImageRef(layout, "latest")


@contextlib.contextmanager
def writable(reference: str, registry: RegistryOptions, skopeo: Skopeo | None = None) -> Iterator[ImageRef]:
    """A local layout to write; pushed to ``reference`` when the block succeeds (if it is a registry)."""
    if not is_registry(reference):
        yield parse_reference(reference)
        return
    with temporary_layout() as scratch:
        local = ImageRef(Path(scratch) / "image", "latest")
        yield local
        (skopeo or Skopeo()).copy(
            f"oci:{local.directory}:latest", reference, registry.dest_args(), stall_timeout=registry.stall_timeout
        )


def fetch_image(reference: str, directory: Path, registry: RegistryOptions, skopeo: Skopeo | None = None) -> Path:
    """Bring an image into a fresh local layout at ``directory / 'image'`` (for ``cococtl run``)."""
    from cococtl.oci.transfer import copy_image

    target = directory / "image"
    if is_registry(reference):
        (skopeo or Skopeo()).copy(
            reference, f"oci:{target}", registry.source_args(), stall_timeout=registry.stall_timeout
        )
        return target
    return copy_image(parse_reference(reference), target)
