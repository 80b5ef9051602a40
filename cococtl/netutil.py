"""Shared network settings: TLS trust (system roots plus ``--cert-file``), retry timing, and deadlines that
bound a whole HTTP exchange."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import socket
import tempfile
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from cococtl.errors import InvalidInputError, NotFoundError, UnreachableError, printable


@lru_cache(maxsize=8)
def ca_bundle(cert_file: str | None) -> str | bool:
    """The ``verify=`` value for requests: True (system/certifi roots) or a bundle adding ``cert_file``.

    ``--cert-file`` adds a trust root; it does not replace the usual ones.
    """
    if not cert_file:
        return True
    path = Path(cert_file)
    try:
        extra = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"certificate file {cert_file} does not exist") from None
    if b"-----BEGIN CERTIFICATE-----" not in extra:
        raise InvalidInputError(f"certificate file {cert_file} holds no PEM certificate")
    import certifi

    fd, bundle = tempfile.mkstemp(prefix="cococtl-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as handle:
        handle.write(Path(certifi.where()).read_bytes())
        handle.write(b"\n" + extra)
    atexit.register(lambda: _remove(bundle))
    return bundle


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def backoff_delays(retries: int, *, first: float = 0.2, factor: float = 2.0, cap: float = 5.0) -> list[float]:
    """Delays between attempts: ``retries`` of them, growing geometrically up to ``cap`` seconds."""
    return [min(cap, first * factor**n) for n in range(max(0, retries))]


# ---------------------------------------------------------------------------------------------------------------
# Deadlines for a whole HTTP exchange (connect + headers + body).
#
# requests' ``timeout`` bounds each socket operation, not the exchange: a peer that sends one byte every half
# second never trips it. A :class:`Deadline` runs a watchdog thread that shuts down every socket the exchange
# opened (or reused) when time is up, so a blocked read returns at once; the read loops also check the clock.

MAX_ANSWER_BYTES = 16 << 20
"""What a KBS or AS answer may weigh once decoded: tokens, JWEs and policies are kilobytes."""

_current = threading.local()


class Deadline:
    """A watchdog for one exchange. ``progress_bytes`` makes it a progress deadline (for downloads): each time
    that many body bytes have arrived, the deadline moves ``timeout`` seconds on; otherwise it is fixed."""

    def __init__(self, timeout: float, *, progress_bytes: int | None = None) -> None:
        self.timeout = timeout
        self.progress_bytes = progress_bytes
        self.deadline = time.monotonic() + timeout
        self.expired = False
        self.waiting_for = ""  # what the exchange was waiting for when it expired, if not the peer's answer
        self._since_progress = 0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="cococtl-deadline", daemon=True)

    def __enter__(self) -> Deadline:
        self._previous = getattr(_current, "deadline", None)
        _current.deadline = self
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        _current.deadline = self._previous
        self._stop.set()
        self._thread.join(timeout=1.0)

    def remaining(self) -> float:
        return max(0.001, self.deadline - time.monotonic())

    def check(self) -> None:
        """Raise :class:`DeadlineExceeded` when time is up (called between reads)."""
        if self.expired or time.monotonic() >= self.deadline:
            self.expired = True
            raise DeadlineExceeded(self.timeout)

    def progressed(self, count: int) -> None:
        """``count`` more body bytes arrived."""
        if self.progress_bytes is None:
            return
        self._since_progress += count
        if self._since_progress >= self.progress_bytes:
            self._since_progress = 0
            self.deadline = time.monotonic() + self.timeout

    def track(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shutdown(sock)

    def _watch(self) -> None:
        while not self._stop.is_set():
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                with self._lock:
                    self.expired = True
                    sockets = list(self._sockets)
                for sock in sockets:
                    _shutdown(sock)
                return
            self._stop.wait(min(remaining, 1.0))


class DeadlineExceeded(Exception):
    """The exchange ran past its deadline (translated into UnreachableError by the callers)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"no complete answer within {timeout:g} s")
        self.timeout = timeout


class AnswerTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _track(sock: socket.socket | None) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.track(sock)


def is_address(host: str) -> bool:
    """Whether ``host`` is an IP address literal (``[v6]`` included), which needs no lookup."""
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def lookup_within(host: str, port: int | None, timeout: float) -> list[Any]:
    """``getaddrinfo(host, port)`` within ``timeout`` seconds, in a helper thread that is abandoned when time is
    up (the lookup cannot be interrupted); raises TimeoutError then, or the lookup's own OSError."""
    found: dict[str, Any] = {}

    def lookup() -> None:
        try:
            found["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            found["error"] = exc

    resolver = threading.Thread(target=lookup, name="cococtl-resolve", daemon=True)
    resolver.start()
    resolver.join(timeout)
    if resolver.is_alive():
        raise TimeoutError(f"resolving {host} took longer than {timeout:g} s")
    if "error" in found:
        raise found["error"]
    infos: list[Any] = found["infos"]
    return infos


def _resolve_within_deadline(host: str, port: int | None) -> list[str] | None:
    """The addresses of ``host``, looked up within the current deadline (getaddrinfo cannot be interrupted, so
    it runs in a helper thread that is abandoned at the deadline); None when there is no deadline or ``host`` is
    already an address."""
    deadline: Deadline | None = getattr(_current, "deadline", None)
    if deadline is None or is_address(host):
        return None
    try:
        infos = lookup_within(host, port, deadline.remaining())
    except TimeoutError:
        deadline.expired = True
        deadline.waiting_for = f"the name {host}"
        raise
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@lru_cache(maxsize=1)
def _pool_classes() -> dict[str, Any]:
    """urllib3 connection pools whose connections report their sockets to the current :class:`Deadline`."""
    from urllib3 import connection, connectionpool

    class _Tracked:
        sock: socket.socket | None
        _dns_host: str

        def _new_conn(self) -> socket.socket:
            addresses = _resolve_within_deadline(self._dns_host, getattr(self, "port", None))
            if addresses is None:
                sock: socket.socket = super()._new_conn()  # type: ignore[misc]
                _track(sock)
                return sock
            name, last = self._dns_host, None
            for address in addresses:  # each address in resolver order, as create_connection tries them
                self._dns_host = address
                try:
                    sock = super()._new_conn()  # type: ignore[misc]
                except OSError as exc:  # urllib3's NewConnectionError and ConnectTimeoutError are OSErrors
                    last = exc
                    continue
                finally:
                    self._dns_host = name
                _track(sock)
                return sock
            assert last is not None
            raise last

        def request(self, *args: Any, **kwargs: Any) -> None:
            _track(self.sock)  # a kept-alive connection reused by this exchange
            super().request(*args, **kwargs)  # type: ignore[misc]

    class _Http(_Tracked, connection.HTTPConnection):
        pass

    class _Https(_Tracked, connection.HTTPSConnection):
        pass

    class _HttpPool(connectionpool.HTTPConnectionPool):
        ConnectionCls = _Http

    class _HttpsPool(connectionpool.HTTPSConnectionPool):
        ConnectionCls = _Https

    return {"http": _HttpPool, "https": _HttpsPool}


def install_deadlines(session: Any) -> Any:
    """Mount adapters on a requests session whose sockets a :class:`Deadline` can cut (idempotent)."""
    if getattr(session, "_cococtl_deadlines", False):
        return session
    from requests.adapters import HTTPAdapter

    class _Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = _pool_classes()

    session.mount("http://", _Adapter())
    session.mount("https://", _Adapter())
    session._cococtl_deadlines = True
    return session


def _peer_failure(exc: BaseException) -> str | None:
    """A requests/urllib3 failure of the peer, in words with a ``{peer}`` placeholder (None when ``exc`` is not
    one; ``"timeout"`` for a timeout)."""
    import http.client

    import requests
    import urllib3

    text = printable(exc, 200)
    errno_text = re.search(r"\[Errno -?\d+\] ([^'\"()]+)", str(exc))
    if errno_text:
        text = printable(errno_text.group(1).strip(), 200)
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return "{peer} redirected too many times"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "the answer of {peer} does not decode (a broken Content-Encoding)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError):
        detail = "a malformed chunk" if "chunk" in text.lower() else "the connection was cut"
        return f"{{peer}} broke off its answer ({detail})"
    if isinstance(exc, http.client.IncompleteRead | urllib3.exceptions.IncompleteRead):
        return "{peer} broke off its answer (fewer bytes than announced)"
    if isinstance(exc, urllib3.exceptions.DecodeError):
        return "the answer of {peer} does not decode (a broken Content-Encoding)"
    if isinstance(exc, requests.exceptions.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, requests.exceptions.ConnectionError | urllib3.exceptions.HTTPError | OSError):
        return f"cannot reach {{peer}}: {text}"
    if isinstance(exc, requests.exceptions.RequestException | http.client.HTTPException) or _from_http_stack(exc):
        # e.g. requests' redirect bookkeeping raising RuntimeError over a body that does not decode
        return f"the exchange with {{peer}} failed ({type(exc).__name__}: {text})"
    return None


def _from_http_stack(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside requests, urllib3 or http.client (a peer's doing, not our bug)."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    markers = (f"{os.sep}requests{os.sep}", f"{os.sep}urllib3{os.sep}", f"{os.sep}http{os.sep}client.py")
    return last is not None and any(marker in last for marker in markers)


def read_body(response: Any, deadline: Deadline, limit: int) -> bytes:
    """The whole (decoded) body, at most ``limit`` bytes, before the deadline. urllib3 ≥ 2.6 bounds the output
    of each decompressing read by the amount asked, so a gzip bomb costs no more memory than ``limit``."""
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 << 10):
        deadline.check()
        size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(limit)
        parts.append(chunk)
    deadline.check()
    return b"".join(parts)


def _tls_reason(exc: Exception) -> str:
    """The OpenSSL reason inside requests' nested SSLError text (``[SSL: CERTIFICATE_VERIFY_FAILED] ...``)."""
    import re

    match = re.search(r"\[SSL: [A-Z_]+\][^'\")]*", str(exc))
    return printable(match.group(0).strip() if match else exc, 200)


def bounded_request(
    session: Any,
    method: str,
    url: str,
    *,
    what: str,
    peer: str,
    timeout: float,
    limit: int = MAX_ANSWER_BYTES,
    tls_hint: str = "pass --cert-file with the peer's CA certificate",
    **kwargs: Any,
) -> Any:
    """One request whose whole exchange (connect, headers, body) ends within ``timeout`` seconds and whose body
    is at most ``limit`` bytes; every failure is a CococtlError (exit 4) in words. Returns the response with its
    body read (``.content``, ``.json()`` and ``.text`` work). Redirects are never followed."""
    import requests

    install_deadlines(session)
    kwargs.setdefault("allow_redirects", False)
    response = None
    try:
        with Deadline(timeout) as deadline:
            try:
                response = session.request(method, url, timeout=timeout, stream=True, **kwargs)
                body = read_body(response, deadline, limit)
            except requests.exceptions.SSLError as exc:
                if "WRONG_VERSION_NUMBER" in str(exc) or "record layer failure" in str(exc):
                    # the TLS ClientHello was answered in plain text: an http:// server behind an https:// URL
                    raise UnreachableError(
                        f"{what}: {peer} answers in plain HTTP, not HTTPS", hint="use an http:// URL for it"
                    ) from None
                raise UnreachableError(
                    f"{what}: TLS verification of {peer} failed: {_tls_reason(exc)}", hint=tls_hint
                ) from None
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
                raise InvalidInputError(f"{what}: {printable(exc, 200)}") from None
            except DeadlineExceeded:
                raise
            except Exception as exc:
                if deadline.expired:
                    raise DeadlineExceeded(timeout) from None
                reason = _peer_failure(exc)
                if reason is None:
                    raise
                if reason == "timeout":
                    raise DeadlineExceeded(timeout) from None
                raise UnreachableError(f"{what}: " + reason.replace("{peer}", peer)) from None
    except DeadlineExceeded:
        if deadline.waiting_for:
            raise UnreachableError(
                f"{what}: {deadline.waiting_for} of {peer} did not resolve within {timeout:g} s",
                hint="check the DNS set-up (or /etc/hosts), or raise the timeout",
            ) from None
        raise UnreachableError(
            f"{what}: {peer} did not answer within {timeout:g} s", hint="if the peer is only slow, raise the timeout"
        ) from None
    except AnswerTooLarge as exc:
        raise UnreachableError(f"{what}: the answer from {peer} is too large (more than {exc.limit} bytes)") from None
    finally:
        if response is not None:
            response.close()
    response._content = body
    response._content_consumed = True
    if response.encoding is None:
        response.encoding = "utf-8"  # never guess a charset over a large body
    return response
