"""Connect the run pipeline to the real fetchers and key sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cococtl.compute.runner import Fetch, ResourceSpec
from cococtl.errors import InvalidInputError
from cococtl.sources.base import FetchSettings
from cococtl.sources.registry import fetcher_for


def make_fetch(settings: FetchSettings) -> Fetch:
    """A fetcher for every non-OCI source type, sharing TLS, timeout and retry settings."""

    def fetch(resource: ResourceSpec, directory: Path) -> Path:
        if resource.source_type == "oci-image":
            return fetch_oci(resource.uri, directory)
        return fetcher_for(resource.source_type)(resource.uri, directory, settings)

    return fetch


def fetch_oci(uri: str, directory: Path) -> Path:
    """Local ``oci:DIR[:TAG]`` layouts are read natively; registry pulls need skopeo (not in this build)."""
    from cococtl.oci.layout import parse_reference
    from cococtl.oci.transfer import copy_image

    if not uri.startswith("oci:"):
        raise InvalidInputError(
            f"{uri}: only local oci:DIR[:TAG] image layouts are supported by cococtl run so far",
            hint=f"copy the image first: skopeo copy {uri} oci:./image:latest",
        )
    return copy_image(parse_reference(uri), directory / "image")


def oci_peers() -> dict[str, Any]:
    """The OCI hooks of the run pipeline: which kids an image needs, and native layer decryption."""
    from cococtl.oci.image import decrypt_layers, layer_kids

    return {"oci_kids": layer_kids, "oci_decrypt": decrypt_layers}
