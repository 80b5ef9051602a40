"""Source types and URI normalisation, after Cocos' ``inferSourceType`` (agent package, releases after v0.8.2).

The rule (pinned by upstream's ``TestInferSourceTypeDetailed`` in agent/resource_test.go and checked
URI by URI against Go itself by tests/integration/test_cocos_peer.py): Go's ``url.Parse`` must accept the
URI (a parse error means no type: ``https://h:x/`` or ``a%zz/b`` have none); a known scheme
maps to its type; a URI without a scheme is an OCI reference when it holds a ``/``; any other scheme is an
OCI reference ``name:tag`` when the URI has no ``://`` and the rest is opaque (cocos agent/service.go
``inferSourceType`` at 747aaaa5, lines 697-734). cococtl adds ``file://`` for local runs. Where Cocos finds no
type (a bare ``host:port/repo`` that Go refuses to parse, an unknown scheme), the manifest must say it.
"""

from __future__ import annotations

from cococtl.manifest.gourl import GoURLError, go_url_parse

SOURCE_TYPES = ("oci-image", "s3", "gcs", "https", "http", "file")

_SCHEME_TYPES = {"docker": "oci-image", "oci": "oci-image", "s3": "s3", "gs": "gcs", "https": "https", "http": "http"}


def infer_source_type(uri: str) -> str:
    """The source type Cocos infers for ``uri``; "" when it cannot tell (Cocos then fails the run).

    ``file://`` URIs (any case of the scheme) are a cococtl extra for local runs.
    """
    if not uri:
        return ""
    try:
        parsed = go_url_parse(uri)  # Go: u, err := url.Parse(uri); an error means no type
    except GoURLError:
        return ""
    if parsed.scheme in _SCHEME_TYPES:
        return _SCHEME_TYPES[parsed.scheme]
    if parsed.scheme == "file" and uri[len("file:") :].startswith("//"):
        return "file"
    if parsed.scheme == "":
        return "oci-image" if "/" in uri else ""
    return "oci-image" if "://" not in uri and parsed.opaque else ""


def no_type_reason(uri: str) -> str:
    """Why Cocos infers no type for ``uri`` (for the error message)."""
    try:
        parsed = go_url_parse(uri)
    except GoURLError as error:
        return f"Go's url.Parse refuses it ({error})"
    if parsed.scheme:
        return f"the scheme {parsed.scheme!r} is not one Cocos knows"
    return "it has no scheme and no '/'"


def oci_reference(uri: str) -> str:
    """Cocos prepends ``docker://`` to bare OCI references (``ubuntu:latest``, ``reg:5000/img``)."""
    if "://" in uri or uri.startswith(("oci:", "docker-archive:", "dir:")):
        return uri
    return f"docker://{uri}"
