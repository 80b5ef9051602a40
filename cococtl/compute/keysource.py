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


@dataclass
class KbsKeySource:
    """Attest once per KBS and fetch every key that KBS holds in that one session (N + 2 requests)."""

    attester: Any
    cert_file: str | None = None
    timeout: float = 30.0
    tee_key_type: str = "ec-p256"

    def fetch(self, kbs_url: str | None, paths: Sequence[str]) -> KeyBatch:
        from cococtl.kbs.client import KbsClient, fetch_resources, token_claims_summary
        from cococtl.kbs.jwe import TeeKeyPair

        if not kbs_url:
            raise InvalidInputError(
                f"the manifest needs keys ({', '.join(paths)}) but names no KBS",
                hint="add kbs: {url: ...} to the manifest, pass --kbs-url, or use --keys-file",
            )
        with KbsClient(kbs_url, cert_file=self.cert_file, timeout=self.timeout) as client:
            keys, token = fetch_resources(client, self.attester, paths, keypair=TeeKeyPair.generate(self.tee_key_type))
            requests = client.requests_made
        return KeyBatch(
            keys, {"kbs": kbs_url, "tee": self.attester.tee, "claims": token_claims_summary(token)}, requests
        )
