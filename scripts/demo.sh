#!/usr/bin/env bash
# `make demo`: a short end-to-end tour. Everything happens in a temporary directory.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$here/.venv/bin:$PATH"
work=$(mktemp -d -t cococtl-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step cococtl --version
step cococtl keys new dataset.key
step cococtl keys generate --repo default --count 3 -o offline_fs_keys.json
step cococtl keys export offline_fs_keys.json kbs:///default/key/key_id1 image.kek
step cococtl --json encrypt file "$here/examples/datasets/iris.csv" -o iris.csv.enc --key dataset.key
step cococtl decrypt file iris.csv.enc -o iris.csv --key dataset.key
step cmp iris.csv "$here/examples/datasets/iris.csv"
printf '\nTampering with one byte of the ciphertext must fail with exit 7 and leave nothing behind:\n'
printf 'X' | dd of=iris.csv.enc bs=1 seek=40 conv=notrunc status=none
set +e; cococtl decrypt file iris.csv.enc -o tampered.csv --key dataset.key; rc=$?; set -e
printf 'exit code %s; tampered.csv exists: %s\n' "$rc" "$([ -e tampered.csv ] && echo yes || echo no)"
[ "$rc" = 7 ] && [ ! -e tampered.csv ]
printf '\ndemo complete\n'
