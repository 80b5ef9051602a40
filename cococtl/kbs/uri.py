"""KBS resource URIs: ``kbs:///repo/type/tag`` and the plain ``repo/type/tag`` path form."""

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
        if parts.query or parts.fragment:
            raise InvalidInputError(f"invalid KBS resource URI {text!r}: queries are not supported here")
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
