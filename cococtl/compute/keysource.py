"""Where a run gets its decryption keys: a KBS after attestation, or an offline_fs keys file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cococtl.crypto.keys import key_from_offline_fs, load_offline_fs_json
from cococtl.errors import InvalidInputError


@dataclass(frozen=True)
class KeyBatch:
    """Keys fetched from one source, with what the run reports about how they were obtained."""

    keys: dict[str, bytes]
    attestation: dict[str, Any] | None = None
    requests: int = 0


class KeySource(Protocol):
    def fetch(self, kbs_url: str | None, paths: Sequence[str]) -> KeyBatch:
        """Return the raw key for every ``repo/type/tag`` in ``paths`` (one session per call)."""
        ...


@dataclass
class OfflineKeySource:
    """offline_fs-style keys (``{"repo/type/tag": base64}``), like CoCo's offline_fs_kbc: no attestation."""

    keys_file: Path
    _cache: dict[str, str] = field(default_factory=dict)

    def fetch(self, kbs_url: str | None, paths: Sequence[str]) -> KeyBatch:
        if not self._cache:
            self._cache = load_offline_fs_json(self.keys_file)
        keys = {path: key_from_offline_fs(self._cache, path, source=str(self.keys_file)) for path in paths}
        return KeyBatch(keys, {"kbs": None, "tee": None, "source": f"offline keys file {self.keys_file}"})


class MissingKeySource:
    """Used when the run was given no key source: fine for plaintext resources, an error otherwise."""

    def fetch(self, kbs_url: str | None, paths: Sequence[str]) -> KeyBatch:
        raise InvalidInputError(
            f"the manifest needs keys ({', '.join(paths)}) but no key source was given",
            hint="pass --keys-file with offline_fs key JSON (cococtl keys generate)",
        )
