#!/usr/bin/env bash
# Installs the system tools the test suite's real peers need. Idempotent and quiet when done.
#   skopeo (Debian 12's 1.9.3, no key-provider support), docker-registry (an OCI registry on loopback),
#   and a key-provider-capable skopeo 1.19 built from the Go module proxy as .tools/bin/skopeo-go
#   (scripts/install-skopeo-go.sh; it replaced Debian 13's skopeo run through its own loader).
#   swtpm, tpm2-tools and the swtpm TCTI: the software TPM the tpm / az-*-vtpm attester tests quote from.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v skopeo >/dev/null || need+=(skopeo)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v swtpm >/dev/null || need+=(swtpm swtpm-tools)
command -v tpm2_createprimary >/dev/null || need+=(tpm2-tools)
[ -e /usr/lib/"$(uname -m)"-linux-gnu/libtss2-tcti-swtpm.so.0 ] || need+=(libtss2-tcti-swtpm0)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The Debian package starts a registry on all interfaces with its own config: tests run their own on loopback.
if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
  $SUDO systemctl stop docker-registry || true
fi
bash "$(dirname "$0")/install-skopeo-go.sh"
