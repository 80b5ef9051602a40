"""Connect the run pipeline to the real fetchers and key sources."""

from __future__ import annotations

from pathlib import Path

from cococtl.compute.runner import Fetch, ResourceSpec
from cococtl.errors import InvalidInputError
from cococtl.sources.base import FetchSettings
from cococtl.sources.registry import fetcher_for


def make_fetch(settings: FetchSettings) -> Fetch:
    """A fetcher for every non-OCI source type, sharing TLS, timeout and retry settings."""

    def fetch(resource: ResourceSpec, directory: Path) -> Path:
        if resource.source_type == "oci-image":
            raise InvalidInputError(
                f"{resource.uri}: OCI image resources are not supported yet by cococtl run",
                hint="publish the algorithm or dataset as an encrypted file over HTTP(S), S3, GCS or file://",
            )
        return fetcher_for(resource.source_type)(resource.uri, directory, settings)

    return fetch
