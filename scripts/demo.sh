#!/usr/bin/env bash
# `make demo`: the main job, end to end on this machine (see `cococtl demo --help`).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
exec "$here/.venv/bin/cococtl" demo "$@"
