"""``--attester-cmd 'CMD {report_data_hex}'``: an external program prints the primary evidence JSON."""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass
from typing import Any

from cococtl.errors import ExternalToolError, InvalidInputError

PLACEHOLDER = "{report_data_hex}"


@dataclass(frozen=True)
class CommandAttester:
    command: str
    tee_name: str
    timeout: float = 60.0

    @property
    def tee(self) -> str:
        return self.tee_name

    def evidence(self, report_data: bytes) -> Any:
        argv = shlex.split(self.command)
        if not argv:
            raise InvalidInputError("--attester-cmd is empty")
        if not any(PLACEHOLDER in arg for arg in argv):
            raise InvalidInputError(f"--attester-cmd must contain {PLACEHOLDER} where the report data goes")
        argv = [arg.replace(PLACEHOLDER, report_data.hex()) for arg in argv]
        try:
            done = subprocess.run(argv, capture_output=True, timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise ExternalToolError(f"attester command {argv[0]!r} not found") from None
        except subprocess.TimeoutExpired:
            raise ExternalToolError(f"attester command timed out after {self.timeout:g} s") from None
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip()[-500:]
            raise ExternalToolError(f"attester command exited with {done.returncode}: {tail}")
        try:
            return json.loads(done.stdout)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ExternalToolError("attester command did not print JSON evidence on stdout") from None
