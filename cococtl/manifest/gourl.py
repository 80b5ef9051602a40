"""Go's ``net/url.Parse``, ported for Cocos' source-type inference (which rejects what Go rejects).

A faithful port of ``Parse``/``parse``/``getScheme``/``parseAuthority``/``parseHost``/``unescape`` of Go's
``src/net/url/url.go`` (Go 1.26; line numbers below are from that file) with the ``GODEBUG`` defaults of the
Cocos module (``go 1.25.3`` in its go.mod, so ``urlstrictcolons=0``). Strings are handled as UTF-8 bytes,
like Go. Error messages are Go's ``err.Error()``, except that the text Go takes from
``netip.ParseAddr`` for a bad bracketed IPv6 literal is approximated.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

# The encoding modes of net/url (gen_encoding_table.go); only the ones unescape distinguishes matter here.
_PATH, _HOST, _ZONE, _USER_PASSWORD, _FRAGMENT = "path", "host", "zone", "userpassword", "fragment"
_HEX = frozenset(b"0123456789abcdefABCDEF")
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
# shouldEscape(c, encodeHost) is false for these (gen_encoding_table.go, the encodeHost/encodeZone branch,
# the unreserved marks and the reserved characters encodeHost lets through).
_HOST_OK = _ALNUM | frozenset(b"!$&'()*+,;=:[]<>\"-_.~")
_USERINFO_OK = _ALNUM | frozenset(b"-._:~!$&'()*+,;=%@")  # validUserinfo, url.go:1263


class GoURLError(ValueError):
    """What Go's ``url.Parse`` returns as ``err``; ``str()`` is Go's ``err.Error()``."""


@dataclass(frozen=True)
class GoURL:
    scheme: str = ""
    opaque: str = ""
    user: str | None = None
    host: str = ""
    path: str = ""
    raw_path: str = ""
    omit_host: bool = False
    force_query: bool = False
    raw_query: str = ""
    fragment: str = ""
    raw_fragment: str = ""


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def go_quote(data: bytes) -> str:
    """Go's ``strconv.Quote`` of a byte string (as ``%q`` prints it)."""
    out = ['"']
    text = data.decode("utf-8", "surrogateescape")
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # an invalid UTF-8 byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char in ('"', "\\"):
            out.append("\\" + char)
        elif char in named:
            out.append(named[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif char == " " or (code >= 0x20 and char.isprintable()):
            out.append(char)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _unescape(data: bytes, mode: str) -> bytes:
    """``unescape`` (url.go:106): validate %-escapes (and host bytes) and decode."""
    index = 0
    while index < len(data):
        byte = data[index]
        if byte == 0x25:  # '%'
            if index + 2 >= len(data) or data[index + 1] not in _HEX or data[index + 2] not in _HEX:
                raise GoURLError("invalid URL escape " + go_quote(data[index : index + 3]))
            escape = data[index : index + 3]
            value = int(escape[1:], 16)
            if mode == _HOST and int(chr(escape[1]), 16) < 8 and escape != b"%25":
                raise GoURLError("invalid URL escape " + go_quote(escape))
            if mode == _ZONE and escape != b"%25" and value != 0x20 and value not in _HOST_OK:
                raise GoURLError("invalid URL escape " + go_quote(escape))
            index += 3
        else:
            if mode in (_HOST, _ZONE) and byte < 0x80 and byte not in _HOST_OK:
                raise GoURLError("invalid character " + go_quote(bytes([byte])) + " in host name")
            index += 1
    out = bytearray()
    index = 0
    while index < len(data):
        if data[index] == 0x25:
            out.append(int(data[index + 1 : index + 3], 16))
            index += 3
        else:
            out.append(data[index])
            index += 1
    return bytes(out)


def _get_scheme(raw: bytes) -> tuple[bytes, bytes]:
    """``getScheme`` (url.go:369)."""
    for index, byte in enumerate(raw):
        if 0x61 <= byte <= 0x7A or 0x41 <= byte <= 0x5A:
            continue
        if 0x30 <= byte <= 0x39 or byte in b"+-.":
            if index == 0:
                return b"", raw
            continue
        if byte == 0x3A:
            if index == 0:
                raise GoURLError("missing protocol scheme")
            return raw[:index], raw[index + 1 :]
        return b"", raw
    return b"", raw


def _valid_optional_port(port: bytes) -> bool:
    """``validOptionalPort`` (url.go:762)."""
    if not port:
        return True
    return port[:1] == b":" and all(0x30 <= b <= 0x39 for b in port[1:])


def _parse_ip_literal(hostname: str) -> None:
    """``netip.ParseAddr`` on the unbracketed literal, then refuse plain IPv4 (url.go:599-606)."""
    address, _, zone = hostname.partition("%")
    try:
        if "%" in hostname and not zone:
            raise ValueError("zone must be a non-empty string")
        if ":" not in address:
            ipaddress.IPv4Address(address)
            if zone:
                raise ValueError("IPv4 addresses cannot have a zone")
            raise GoURLError("invalid IP-literal")
        ipaddress.IPv6Address(address)
    except ValueError as error:
        if isinstance(error, GoURLError):
            raise
        quoted = go_quote(hostname.encode("utf-8", "surrogateescape"))
        raise GoURLError(f"invalid host: ParseAddr({quoted}): {error}") from None


def _parse_host(host: bytes) -> bytes:
    """``parseHost`` (url.go:549), with urlstrictcolons=0."""
    open_bracket = host.rfind(b"[")
    if open_bracket > 0:
        raise GoURLError("invalid IP-literal")
    if open_bracket == 0:
        close_bracket = host.rfind(b"]")
        if close_bracket < 0:
            raise GoURLError("missing ']' in host")
        colon_port = host[close_bracket + 1 :]
        if not _valid_optional_port(colon_port):
            raise GoURLError(f"invalid port {go_quote(colon_port)} after host")
        unescaped_port = _unescape(colon_port, _HOST)
        hostname = host[1:close_bracket]
        zone_at = hostname.find(b"%25")
        if zone_at >= 0:
            unescaped = _unescape(hostname[:zone_at], _HOST) + _unescape(hostname[zone_at:], _ZONE)
        else:
            unescaped = _unescape(hostname, _HOST)
        _parse_ip_literal(_text(unescaped))
        return b"[" + unescaped + b"]" + unescaped_port
    first_colon = host.find(b":")
    if first_colon != -1:
        # Go 1.26 is strict about extra colons in http(s) hosts only when urlstrictcolons=1 (url.go:607-633);
        # the Cocos module's go line keeps the old default: the port is what follows the last colon.
        colon_port = host[host.rfind(b":") :]
        if not _valid_optional_port(colon_port):
            raise GoURLError(f"invalid port {go_quote(colon_port)} after host")
    return _unescape(host, _HOST)


def _parse_authority(authority: bytes) -> tuple[str | None, bytes]:
    """``parseAuthority`` (url.go:512): (unescaped "user[:password]" or None, host)."""
    at = authority.rfind(b"@")
    host = _parse_host(authority if at < 0 else authority[at + 1 :])
    if at < 0:
        return None, host
    userinfo = authority[:at]
    if not all(byte in _USERINFO_OK for byte in userinfo):  # validUserinfo: ASCII runes from its list only
        raise GoURLError("net/url: invalid userinfo")
    if b":" not in userinfo:
        return _text(_unescape(userinfo, _USER_PASSWORD)), host
    username, _, password = userinfo.partition(b":")
    return _text(_unescape(username, _USER_PASSWORD)) + ":" + _text(_unescape(password, _USER_PASSWORD)), host


def _parse(raw: bytes) -> GoURL:
    """``parse(rawURL, viaRequest=false)`` (url.go:432)."""
    if any(byte < 0x20 or byte == 0x7F for byte in raw):
        raise GoURLError("net/url: invalid control character in URL")
    if raw == b"*":
        return GoURL(path="*")
    scheme_bytes, rest = _get_scheme(raw)
    scheme = _text(scheme_bytes).lower()
    force_query = False
    raw_query = b""
    if rest.endswith(b"?") and rest.count(b"?") == 1:
        force_query = True
        rest = rest[:-1]
    else:
        rest, _, raw_query = rest.partition(b"?")
    if not rest.startswith(b"/"):
        if scheme:
            return GoURL(scheme=scheme, opaque=_text(rest), force_query=force_query, raw_query=_text(raw_query))
        if b":" in rest.partition(b"/")[0]:
            raise GoURLError("first path segment in URL cannot contain colon")
    user: str | None = None
    host = b""
    omit_host = False
    if (scheme or not rest.startswith(b"///")) and rest.startswith(b"//"):
        authority, slash, tail = rest[2:].partition(b"/")
        rest = slash + tail
        user, host = _parse_authority(authority)
    elif scheme and rest.startswith(b"/"):
        omit_host = True
    path = _unescape(rest, _PATH)  # setPath (url.go:660)
    return GoURL(
        scheme=scheme,
        user=user,
        host=_text(host),
        path=_text(path),
        raw_path=_text(rest) if _escape_path(path) != rest else "",
        omit_host=omit_host,
        force_query=force_query,
        raw_query=_text(raw_query),
    )


_PATH_OK = _ALNUM | frozenset(b"-_.~$&+,/:;=@")


def _escape_path(path: bytes) -> bytes:
    """``escape(path, encodePath)``: only to know whether Go keeps ``RawPath``."""
    return b"".join(bytes([b]) if b in _PATH_OK else f"%{b:02X}".encode() for b in path)


_FRAGMENT_OK = _ALNUM | frozenset(b"-_.~$&+,/:;=?@!()*")


def _escape_fragment(fragment: bytes) -> bytes:
    return b"".join(bytes([b]) if b in _FRAGMENT_OK else f"%{b:02X}".encode() for b in fragment)


def go_url_parse(uri: str) -> GoURL:
    """Go's ``url.Parse(uri)``: the parsed URL, or :class:`GoURLError` carrying Go's exact message."""
    raw = uri.encode("utf-8", "surrogateescape")
    without_fragment, hashed, fragment = raw.partition(b"#")
    try:
        parsed = _parse(without_fragment)
    except GoURLError as error:
        raise GoURLError(f"parse {go_quote(without_fragment)}: {error}") from None
    if not hashed or not fragment:
        return parsed
    try:
        decoded = _unescape(fragment, _FRAGMENT)  # setFragment (url.go:727)
    except GoURLError as error:
        raise GoURLError(f"parse {go_quote(raw)}: {error}") from None
    raw_fragment = _text(fragment) if _escape_fragment(decoded) != fragment else ""
    return GoURL(
        scheme=parsed.scheme,
        opaque=parsed.opaque,
        user=parsed.user,
        host=parsed.host,
        path=parsed.path,
        raw_path=parsed.raw_path,
        omit_host=parsed.omit_host,
        force_query=parsed.force_query,
        raw_query=parsed.raw_query,
        fragment=_text(decoded),
        raw_fragment=raw_fragment,
    )
