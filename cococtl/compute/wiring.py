"""Connect the run pipeline to the real fetchers and key sources."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cococtl.compute.keysource import KeySource
from cococtl.compute.runner import Fetch, Peers, ResourceSpec
from cococtl.sources.base import FetchSettings
from cococtl.sources.registry import fetcher_for

if TYPE_CHECKING:
    from cococtl.oci.skopeo import RegistryOptions


def make_fetch(settings: FetchSettings, registry: RegistryOptions | None = None) -> Fetch:
    """A fetcher for every non-OCI source type, sharing TLS, timeout and retry settings."""

    def fetch(resource: ResourceSpec, directory: Path) -> Path:
        if resource.source_type == "oci-image":
            return fetch_oci(resource.uri, directory, registry)
        return fetcher_for(resource.source_type)(resource.uri, directory, settings)

    return fetch


def fetch_oci(uri: str, directory: Path, registry: RegistryOptions | None = None) -> Path:
    """``oci:DIR[:TAG]`` layouts are read natively; ``docker://`` images are pulled with skopeo."""
    from cococtl.oci.skopeo import RegistryOptions
    from cococtl.oci.transport import fetch_image

    return fetch_image(uri, directory, registry or RegistryOptions())


def make_peers(settings: FetchSettings, keys: KeySource, registry: RegistryOptions | None = None) -> Peers:
    """The run pipeline's peers: every fetcher, the key source, and native OCI layer decryption."""
    from cococtl.oci.image import decrypt_layers, layer_kids

    return Peers(fetch=make_fetch(settings, registry), keys=keys, oci_kids=layer_kids, oci_decrypt=decrypt_layers)
