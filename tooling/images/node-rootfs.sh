#!/usr/bin/env bash
# Assembles a minimal root filesystem for a Node.js container image built `FROM scratch`, offline:
# the node binary plus every shared library it links (found with ldd), at their absolute paths.
#
#   tooling/images/node-rootfs.sh <node-binary> <dest-dir>
#
# Result: <dest-dir>/usr/local/bin/node, <dest-dir>/lib*/…, the dynamic loader, /tmp and a minimal
# /etc/passwd and /etc/group (uid 0 and 1337, the sidecar's uid). A Containerfile then only needs
#   FROM scratch
#   COPY rootfs/ /
# Deterministic for a given node binary and host libraries (file times are not preserved), so a
# content hash of the inputs can serve as the image tag.
set -euo pipefail

if [ $# -ne 2 ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
node_bin=$1
dest=$2

[ -x "$node_bin" ] || { echo "node-rootfs: $node_bin is not an executable" >&2; exit 1; }
command -v ldd >/dev/null || { echo "node-rootfs: ldd is missing (apt-get install libc-bin)" >&2; exit 1; }

mkdir -p "$dest/usr/local/bin" "$dest/tmp" "$dest/etc"
chmod 1777 "$dest/tmp"
cp -L "$node_bin" "$dest/usr/local/bin/node"

# ldd prints "libX.so => /path (addr)" or "/lib64/ld-linux-x86-64.so.2 (addr)"; the vDSO has no file.
ldd "$node_bin" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' | sort -u |
  while read -r lib; do
    mkdir -p "$dest$(dirname "$lib")"
    cp -L "$lib" "$dest$lib"
  done

printf 'root:x:0:0:root:/root:/sbin/nologin\nsidecar:x:1337:1337:sidecar:/tmp:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"$dest/etc/passwd"
printf 'root:x:0:\nsidecar:x:1337:\nnobody:x:65534:\n' >"$dest/etc/group"
