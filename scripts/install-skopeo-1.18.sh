#!/usr/bin/env bash
# A key-provider-capable skopeo (Debian 13's) in a private prefix, without touching the system libc:
# the .debs are unpacked into .tools/skopeo-1.18 and run through trixie's own dynamic loader.
# The mirror is taken from this machine's apt sources. Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prefix="$here/.tools/skopeo-1.18"
wrapper="$here/.tools/bin/skopeo-1.18"
if [ -x "$wrapper" ] && "$wrapper" --version >/dev/null 2>&1; then exit 0; fi

mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\(http[^ ]*\/debian\)\/* .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
fi
[ -n "$mirror" ] || { echo "install-skopeo-1.18: no Debian mirror found in the apt sources" >&2; exit 1; }

apt_dir="$prefix/apt"
rm -rf "$prefix"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/dl" "$prefix/root" "$(dirname "$wrapper")"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$apt_dir/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root)
apt-get "${opts[@]}" update -qq
(cd "$apt_dir/dl" && apt-get "${opts[@]}" download -qq skopeo/trixie libc6/trixie)
for deb in "$apt_dir"/dl/*.deb; do dpkg-deb -x "$deb" "$prefix/root"; done
rm -rf "$apt_dir"

arch_lib=$(ls -d "$prefix"/root/usr/lib/*-linux-gnu | head -n 1)
loader=$(ls "$arch_lib"/ld-linux-*.so.* | head -n 1)
sys_lib="/lib/$(basename "$arch_lib")"
cat > "$wrapper" <<WRAP
#!/bin/sh
exec "$loader" --library-path "$arch_lib:$sys_lib:/usr$sys_lib" "$prefix/root/usr/bin/skopeo" "\$@"
WRAP
chmod +x "$wrapper"
"$wrapper" --version
