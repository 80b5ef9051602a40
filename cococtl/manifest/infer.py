"""Source types and URI normalisation, ported from Cocos' ``inferSourceType`` (agent/service.go)."""

from __future__ import annotations

SOURCE_TYPES = ("oci-image", "s3", "gcs", "https", "http", "file")

_SCHEME_TYPES = {"docker": "oci-image", "oci": "oci-image", "s3": "s3", "gs": "gcs", "https": "https", "http": "http"}


def _go_scheme(uri: str) -> tuple[str, str] | None:
    """Go's ``url.getScheme``: (lower-cased scheme, rest), ("", uri) when there is none, None on error."""
    for index, char in enumerate(uri):
        if char.isascii() and char.isalpha():
            continue
        if char.isascii() and (char.isdigit() or char in "+-."):
            if index == 0:
                return "", uri
            continue
        if char == ":":
            if index == 0:
                return None  # Go: "missing protocol scheme"
            return uri[:index].lower(), uri[index + 1 :]
        return "", uri
    return "", uri


def infer_source_type(uri: str) -> str:
    """The source type Cocos infers for ``uri``; "" when it cannot tell (Cocos then fails the run).

    ``file://`` URIs are a cococtl extra for local runs.
    """
    if not uri or any(ord(c) < 0x20 or ord(c) == 0x7F for c in uri):
        return ""
    if uri.startswith("file://"):
        return "file"
    parsed = _go_scheme(uri)
    if parsed is None:
        return ""
    scheme, rest = parsed
    if scheme in _SCHEME_TYPES:
        return _SCHEME_TYPES[scheme]
    if scheme == "":
        return "oci-image" if "/" in uri else ""
    if "://" not in uri and rest and not rest.startswith("/"):
        return "oci-image"
    return ""


def oci_reference(uri: str) -> str:
    """Cocos prepends ``docker://`` to bare OCI references (``ubuntu:latest``, ``reg:5000/img``)."""
    if "://" in uri or uri.startswith(("oci:", "docker-archive:", "dir:")):
        return uri
    return f"docker://{uri}"
