"""Warnings for a person, from library code: on stderr, each message once per process, none under ``-q``.

The CLI sets :func:`set_quiet` from ``-q``; a library user who wants no output can do the same. Warnings logged
on the ``cococtl.*`` loggers (e.g. entries skipped while extracting an image) follow the same switch.
"""

from __future__ import annotations

import sys
import threading

_state = {"quiet": False}
_seen: set[str] = set()
_lock = threading.Lock()


def set_quiet(quiet: bool) -> None:
    """Quiet or not; also forgets which messages were shown (a new command starts afresh)."""
    _state["quiet"] = quiet
    with _lock:
        _seen.clear()
    # Not quiet is the level a new logger has (NOTSET): logging is imported only when it is in use already or -q
    # needs a level set (importing it costs ~5 ms of start-up, e.g. of the fast `encrypt file`).
    if quiet or "logging" in sys.modules:
        import logging

        logging.getLogger("cococtl").setLevel(logging.ERROR if quiet else logging.NOTSET)


def warn(message: str, *, once: bool = True) -> None:
    """``warning: MESSAGE`` on stderr (unless quiet; only the first time when ``once``)."""
    if _state["quiet"]:
        return
    with _lock:
        if once and message in _seen:
            return
        _seen.add(message)
    print(f"warning: {message}", file=sys.stderr, flush=True)
