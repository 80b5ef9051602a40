"""The diff_id of a layer (sha256 of its uncompressed tar), hashed on a second thread while the layer streams.

The guest checks each decrypted layer against the config's ``rootfs.diff_ids`` after decompressing it; cococtl
checks the same thing, and nothing more (the private options' ``digest`` is informational: skopeo stores the
source digest there and then compresses tar layers, so it need not match what decrypts).
"""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib

from cococtl.errors import IntegrityError

_CHUNK = 1 << 20
_GZIP = 16 + zlib.MAX_WBITS


class DiffIdHasher:
    """Feed a layer blob's bytes in order; :meth:`hexdigest` gives the sha256 of its uncompressed content."""

    def __init__(self, gzipped: bool, depth: int = 4) -> None:
        self._gzipped = gzipped
        self._digest = hashlib.sha256()
        self._inflater = zlib.decompressobj(_GZIP) if gzipped else None
        self._error: str | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def feed(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is not None:
                continue
            try:
                self._consume(chunk)
            except zlib.error as error:
                self._error = f"the layer is not valid gzip ({error})"

    def _consume(self, data: bytes) -> None:
        if self._inflater is None:
            self._digest.update(data)
            return
        while data:
            out = self._inflater.decompress(data, _CHUNK)
            self._digest.update(out)
            data = self._inflater.unconsumed_tail
            if self._inflater.eof:
                # Go's gzip reader reads concatenated members, and so does the guest: start the next one.
                data = self._inflater.unused_data + data
                self._inflater = zlib.decompressobj(_GZIP)

    def close(self) -> None:
        """Stop the hashing thread (idempotent)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.close()
        if self._error is not None:
            raise IntegrityError(self._error)
        if self._inflater is not None:
            while tail := self._inflater.flush():
                self._digest.update(tail)
        return self._digest.hexdigest()
