#!/usr/bin/env bash
# Host prerequisites for Beemesh (Debian 12): installs only the missing system packages and applies
# the adjustments these hosts need (../../README.md, "Host prerequisites"), each detected first so a
# host that is already right is left alone. Says what it changed. Idempotent.
set -euo pipefail

# chromium: the dashboard test drives the system browser with Playwright (no browser download offline).
# hey, iperf3: the data-plane benchmark builds them into its client image (real clients on both sides).
# gcc: compiles the sidecar image's preloaded library (apps/sidecar/image/packed-mmap.c).
PACKAGES=(podman slirp4netns runc nftables catatonit uidmap iproute2 busybox-static binutils gcc curl procps tcpdump chromium hey iperf3)
changed=()

say() { echo "host-setup: $*"; }

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ "$(id -u)" -ne 0 ]; then
  if [ "${#missing[@]}" -gt 0 ]; then
    say "missing packages: ${missing[*]}"
    say "run as root: sudo bash tooling/scripts/host-setup.sh"
    exit 1
  fi
  say "packages present; run as root to check the host adjustments (sudo bash $0)"
  exit 0
fi

if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  changed+=("installed ${missing[*]}")
fi

# crun (Podman's preferred runtime) fails on cgroup v1/hybrid hosts ("cgroups in hybrid mode not
# supported"); runc works there. Only switch when crun would be chosen on such a host.
runtime_conf=/etc/containers/containers.conf.d/50-beemesh-runtime.conf
if [ ! -f /sys/fs/cgroup/cgroup.controllers ] && [ ! -f "$runtime_conf" ]; then
  current=$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null || echo unknown)
  if [ "$current" != "runc" ]; then
    mkdir -p "$(dirname "$runtime_conf")"
    printf '# Written by beemesh host-setup: crun does not support cgroup v1/hybrid hosts.\n[engine]\nruntime = "runc"\n' >"$runtime_conf"
    changed+=("OCI runtime $current -> runc in $runtime_conf (cgroup v1/hybrid host)")
  fi
fi

# Podman's default container rlimits (nofile 1048576) exceed the hard limits of some hosts, and the
# pod's infra container takes no per-container rlimits over the API: set defaults that fit.
ulimits_conf=/etc/containers/containers.conf.d/51-beemesh-ulimits.conf
hard_nofile=$(ulimit -Hn)
if [ "$hard_nofile" != "unlimited" ] && [ "$hard_nofile" -lt 1048576 ] && [ ! -f "$ulimits_conf" ]; then
  pid_max=$(cat /proc/sys/kernel/pid_max)
  hard_nproc=$(ulimit -Hu)
  { [ "$hard_nproc" = "unlimited" ] || [ "$hard_nproc" -gt "$pid_max" ]; } && hard_nproc=$pid_max
  mkdir -p "$(dirname "$ulimits_conf")"
  printf '# Written by beemesh host-setup: the host hard limits are below Podman'"'"'s defaults.\n[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' \
    "$hard_nofile" "$hard_nofile" "$hard_nproc" "$hard_nproc" >"$ulimits_conf"
  changed+=("default container rlimits nofile=$hard_nofile nproc=$hard_nproc in $ulimits_conf")
fi

# slirp4netns needs /dev/net/tun; rootless Podman needs it usable by ordinary users (0666).
if [ ! -c /dev/net/tun ]; then
  mkdir -p /dev/net
  mknod -m 0666 /dev/net/tun c 10 200
  changed+=("created /dev/net/tun (mode 0666)")
elif [ "$(stat -c %a /dev/net/tun)" != "666" ]; then
  chmod 0666 /dev/net/tun
  changed+=("/dev/net/tun mode -> 0666 (rootless slirp4netns)")
fi

# Rootless tests (packages/netns) run as an ordinary user with subordinate UID/GID ranges, the
# way rootless Podman runs: a system user without home or login shell, and a range far above the
# ranges useradd hands out (100000+) so it overlaps no real user's.
test_user=beemesh-test
test_range=1879048192-1879113727
if ! id -u "$test_user" >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin "$test_user"
  changed+=("created user $test_user (rootless tests)")
fi
if ! grep -q "^$test_user:" /etc/subuid 2>/dev/null; then
  usermod --add-subuids "$test_range" "$test_user"
  changed+=("subordinate UIDs $test_range for $test_user (/etc/subuid)")
fi
if ! grep -q "^$test_user:" /etc/subgid 2>/dev/null; then
  usermod --add-subgids "$test_range" "$test_user"
  changed+=("subordinate GIDs $test_range for $test_user (/etc/subgid)")
fi

if [ "${#changed[@]}" -eq 0 ]; then
  say "host already prepared; nothing changed"
else
  for c in "${changed[@]}"; do say "changed: $c"; done
fi
