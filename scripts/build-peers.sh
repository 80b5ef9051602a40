#!/usr/bin/env bash
# Builds the upstream-library test peers in tests/peers/<name>/ into .tools/peers/<name>.
# Each peer is a small program of ours that links the upstream library (Go modules from the module
# proxy, Rust crates from crates.io, pinned by go.sum / Cargo.lock). A build is cached: it is redone
# only when a file of the peer changes (a stamp holds the hash of its sources and lock files).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/.tools/peers"
mkdir -p "$out"
export GOFLAGS="${GOFLAGS:--mod=mod} -buildvcs=false"
export CGO_ENABLED=0

peer_hash() {
  (cd "$1" && find . -type f ! -path './target/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

for dir in "$here"/tests/peers/*/; do
  [ -d "$dir" ] || continue
  name=$(basename "$dir")
  stamp="$out/.$name.stamp"
  hash=$(peer_hash "$dir")
  if [ -x "$out/$name" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then continue; fi
  echo "build-peers: building $name" >&2
  start=$(date +%s)
  if [ -f "$dir/go.mod" ]; then
    tags=()
    if [ -f "$dir/buildflags" ]; then tags=(-tags "$(cat "$dir/buildflags")"); fi
    (cd "$dir" && go build -trimpath "${tags[@]}" -o "$out/$name" .)
  elif [ -f "$dir/Cargo.toml" ]; then
    (cd "$dir" && CARGO_TARGET_DIR="$here/.tools/cargo-target" cargo build --release --locked --quiet)
    bin=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$dir/Cargo.toml" | head -n 1)
    cp "$here/.tools/cargo-target/release/$bin" "$out/$name"
  else
    echo "build-peers: $name has neither go.mod nor Cargo.toml" >&2; exit 1
  fi
  echo "$hash" > "$stamp"
  echo "build-peers: $name built in $(( $(date +%s) - start )) s" >&2
done
