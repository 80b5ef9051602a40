#!/usr/bin/env bash
# Installs the system tools the test suite's real peers need. Idempotent and quiet when done.
# Each later part of the project adds its tools here (skopeo, docker-registry, ...).
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
need=()
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
