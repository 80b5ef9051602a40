"""KBS resource URIs: ``kbs:///repo/type/tag``, ``kbs+<plugin>:///path?query`` and the plain ``repo/type/tag`` form.

The rules are the guest's (guest-components attestation-agent/deps/resource_uri/src/lib.rs, ``TryFrom<Url>``):
the scheme is ``kbs`` (the ``resource`` plugin) or ``kbs+<plugin>`` (a non-empty plugin name), the path is
split on ``/`` after its leading slash, and a query is kept. Trustee routes such a URI to
``/kbs/v0/<plugin>/<path>?<query>`` (kbs/src/api_server.rs); only the resource plugin needs
``repo/type/tag``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from cococtl.errors import InvalidInputError

# Trustee's resource backend accepts exactly this per segment (kbs/src/plugins/.../resource/backend.rs).
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+[A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ResourcePath:
    """A three-segment KBS resource location."""

    repository: str
    type: str
    tag: str

    @property
    def path(self) -> str:
        return f"{self.repository}/{self.type}/{self.tag}"

    @property
    def uri(self) -> str:
        return f"kbs:///{self.path}"

    def __str__(self) -> str:
        return self.path


DEFAULT_PLUGIN = "resource"
_PLUGIN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class ResourceUri:
    """A resource at any KBS plugin; ``key`` identifies it (``repo/type/tag`` for plain resources)."""

    plugin: str
    segments: tuple[str, ...]
    query: str | None = None
    kbs_address: str = ""

    @property
    def path(self) -> str:
        return "/".join(self.segments)

    @property
    def endpoint(self) -> str:
        """The part of the KBS URL after ``/kbs/v0/``."""
        return f"{self.plugin}/{self.path}" + (f"?{self.query}" if self.query is not None else "")

    @property
    def uri(self) -> str:
        scheme = "kbs" if self.plugin == DEFAULT_PLUGIN else f"kbs+{self.plugin}"
        return f"{scheme}://{self.kbs_address}/{self.path}" + (f"?{self.query}" if self.query is not None else "")

    @property
    def key(self) -> str:
        if self.plugin == DEFAULT_PLUGIN and self.query is None:
            return self.path
        return f"{'kbs' if self.plugin == DEFAULT_PLUGIN else 'kbs+' + self.plugin}:///{self.path}" + (
            f"?{self.query}" if self.query is not None else ""
        )

    def __str__(self) -> str:
        return self.key


def parse_resource_uri(text: str) -> ResourceUri:
    """Parse a resource URI the way the guest does; the plain ``repo/type/tag`` form means the resource plugin.

    A plain resource (scheme ``kbs``, no query) must also be a valid Trustee resource path (3 segments).
    """
    raw = text.strip()
    if not raw.startswith(("kbs:", "kbs+")):
        return ResourceUri(DEFAULT_PLUGIN, tuple(parse_resource_path(raw).path.split("/")))
    parts = urlsplit(raw)
    scheme = parts.scheme
    if scheme == "kbs":
        plugin = DEFAULT_PLUGIN
    elif scheme.startswith("kbs+") and _PLUGIN.match(scheme[4:]):
        plugin = scheme[4:]
    elif scheme.startswith("kbs+"):
        raise InvalidInputError(f"invalid KBS URI {text!r}: scheme kbs+ needs a plugin name, e.g. kbs+pkcs11")
    else:
        raise InvalidInputError(f"invalid KBS URI {text!r}: the scheme must be kbs or kbs+<plugin>")
    if parts.fragment:
        raise InvalidInputError(f"invalid KBS URI {text!r}: a fragment has no meaning here")
    if not parts.path.startswith("/") or parts.path == "/":
        raise InvalidInputError(
            f"invalid KBS URI {text!r}: expected kbs://<addr-of-kbs>/<path> (e.g. kbs:///default/key/k1)"
        )
    query = parts.query if "?" in raw else None
    uri = ResourceUri(plugin, tuple(parts.path[1:].split("/")), query, parts.netloc)
    if plugin == DEFAULT_PLUGIN:
        parse_resource_path(uri.path)
    return uri


def parse_resource_path(text: str) -> ResourcePath:
    """Parse ``repo/type/tag``, ``/repo/type/tag`` or ``kbs://[host]/repo/type/tag``.

    Raises :class:`InvalidInputError` with the reason when ``text`` is not a valid resource
    location for Trustee (exactly three segments of ``[A-Za-z0-9_-][A-Za-z0-9_.-]*``).
    """
    raw = text.strip()
    if raw.startswith(("kbs://", "kbs+")):
        parts = urlsplit(raw)
        if parts.scheme != "kbs" and not (parts.scheme.startswith("kbs+") and len(parts.scheme) > 4):
            raise InvalidInputError(f"invalid KBS URI {text!r}: the scheme must be kbs:// or kbs+<plugin>://")
        if parts.query or parts.fragment or parts.scheme not in ("kbs", "kbs+resource"):
            raise InvalidInputError(
                f"invalid KBS resource URI {text!r}: a key or resource path here is kbs:///<repo>/<type>/<tag>"
            )
        body = parts.path
    else:
        body = raw
    segments = body.lstrip("/").split("/") if body else []
    if len(segments) != 3:
        raise InvalidInputError(
            f"invalid KBS resource path {text!r}: expected <repo>/<type>/<tag> (3 segments), got {len(segments)}",
            hint="example: default/key/key_id1 or kbs:///default/key/key_id1",
        )
    for segment in segments:
        if not _SEGMENT.match(segment):
            raise InvalidInputError(
                f"invalid KBS resource path {text!r}: segment {segment!r} must match [A-Za-z0-9_-][A-Za-z0-9_.-]*"
            )
    return ResourcePath(*segments)
