"""Write init-data TOML: the document, and the ``aa.toml`` / ``cdh.toml`` files it carries.

Values are written as TOML multi-line literal strings (``'''``) when they can be, so the embedded files stay
readable and byte-for-byte what was given; anything else is a basic string with escapes. Every rendering is
parsed back and compared before it is returned.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cococtl.errors import InvalidInputError
from cococtl.initdata.core import ALGORITHMS, DEFAULT_ALGORITHM, VERSION

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def basic_string(value: str) -> str:
    """A one-line TOML basic string."""
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _CONTROL.match(char):
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def multiline_basic(value: str) -> str:
    """A TOML multi-line basic string (``\"\"\"``) holding ``value`` exactly."""
    out = []
    quotes = 0  # raw quotes just written: a third in a row would close the string
    for index, char in enumerate(value):
        if char == '"':
            if quotes == 2 or index == len(value) - 1:
                out.append('\\"')
                quotes = 0
            else:
                out.append(char)
                quotes += 1
            continue
        quotes = 0
        if char == "\\":
            out.append("\\\\")
        elif char == "\r":
            out.append("\\r")
        elif char != "\n" and char != "\t" and _CONTROL.match(char):
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"""\n' + "".join(out) + '"""'


def literal_or_basic(value: str) -> str:
    """``'''\\n<value>'''`` when TOML can hold ``value`` literally, else a multi-line basic string."""
    literal_ok = "'''" not in value and not value.endswith("'") and not _CONTROL.search(value) and "\r" not in value
    rendered = "'''\n" + value + "'''" if literal_ok else multiline_basic(value)
    _check_round_trip(rendered, value)
    return rendered


def _check_round_trip(rendered: str, value: str) -> None:
    try:
        parsed = tomllib.loads(f"x = {rendered}\n")["x"]
    except tomllib.TOMLDecodeError:
        parsed = None
    if parsed != value:  # a bug here would silently change what gets measured
        raise InvalidInputError("internal: a value cannot be written to TOML unchanged")


@dataclass
class Skeleton:
    """What ``cococtl initdata new`` puts in the document."""

    kbs_url: str
    kbs_cert: str | None = None
    as_url: str | None = None
    policy: str | None = None
    image_security_policy: str | None = None
    image_security_policy_uri: str | None = None
    registry_certs: Sequence[str] = ()
    credentials: Sequence[tuple[str, str]] = ()
    algorithm: str = DEFAULT_ALGORITHM
    extra: Mapping[str, str] = field(default_factory=dict)


def aa_toml(s: Skeleton) -> str:
    lines = ["[token_configs]"]
    if s.as_url:
        lines += ["[token_configs.coco_as]", f"url = {basic_string(s.as_url)}", ""]
    lines += ["[token_configs.kbs]", f"url = {basic_string(s.kbs_url)}"]
    if s.kbs_cert:
        lines.append(f"cert = {multiline_basic(s.kbs_cert)}")
    return "\n".join(lines) + "\n"


def cdh_toml(s: Skeleton) -> str:
    lines = [f"socket = {basic_string('unix:///run/confidential-containers/cdh.sock')}"]
    if s.credentials:
        lines.append("credentials = [")
        for uri, path in s.credentials:
            lines.append(f"    {{ resource_uri = {basic_string(uri)}, path = {basic_string(path)} }},")
        lines.append("]")
    else:
        lines.append("credentials = []")
    lines += ["", "[kbc]", 'name = "cc_kbc"', f"url = {basic_string(s.kbs_url)}"]
    if s.kbs_cert:
        lines.append(f"kbs_cert = {multiline_basic(s.kbs_cert)}")
    image: list[str] = []
    if s.image_security_policy_uri:
        image.append(f"image_security_policy_uri = {basic_string(s.image_security_policy_uri)}")
    if s.image_security_policy is not None:
        image.append(f"image_security_policy = {multiline_basic(s.image_security_policy)}")
    if s.registry_certs:
        image.append("extra_root_certificates = [" + ", ".join(multiline_basic(c) for c in s.registry_certs) + "]")
    if image:
        lines += ["", "[image]", *image]
    return "\n".join(lines) + "\n"


def render(s: Skeleton) -> bytes:
    if s.algorithm not in ALGORITHMS:
        raise InvalidInputError(f"--algorithm must be one of {', '.join(ALGORITHMS)}")
    if s.image_security_policy is not None:
        try:
            json.loads(s.image_security_policy)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"the image security policy is not JSON: {exc}") from None
    data: dict[str, str] = {"aa.toml": aa_toml(s), "cdh.toml": cdh_toml(s)}
    if s.policy is not None:
        data["policy.rego"] = s.policy
    for key, value in s.extra.items():
        if key in data:
            raise InvalidInputError(f"--data {key}: this entry is already made from the other options")
        data[key] = value
    return render_document(VERSION, s.algorithm, data)


def render_document(version: str, algorithm: str, data: Mapping[str, str]) -> bytes:
    lines = [f"version = {basic_string(version)}", f"algorithm = {basic_string(algorithm)}", "", "[data]"]
    for key, value in data.items():
        bare = re.fullmatch(r"[A-Za-z0-9_-]+", key) is not None
        lines.append(f"{key if bare else basic_string(key)} = {literal_or_basic(value)}")
        lines.append("")
    text = "\n".join(lines)
    document = tomllib.loads(text)
    if document != {"version": version, "algorithm": algorithm, "data": dict(data)}:
        raise InvalidInputError("internal: the rendered init-data does not parse back to its content")
    return text.encode("utf-8")
