# Shared set-up for the project's scripts: sourced, not run.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Agents run scripts with a clean environment (no HOME): the lab's fence agent sources this too.
export PATH="${HOME:+$HOME/.cargo/bin:}$PATH"

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install Debian packages that are not installed yet (apt-get update first, once).
need_pkgs() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "packages missing (${missing[*]}): run as root to install them"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# A Rust toolchain new enough for edition 2024: the one on PATH, or rustup's.
ensure_rust() {
    if command -v cargo >/dev/null 2>&1 && cargo --version | awk '{split($2,v,"."); exit !(v[1]>1 || v[2]>=85)}'; then
        return 0
    fi
    need_pkgs curl ca-certificates build-essential
    say "installing Rust with rustup (Debian 12's cargo is too old for edition 2024)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    export PATH="$HOME/.cargo/bin:$PATH"
}

# The system packages the agents, tests and benchmarks use.
TEST_PKGS=(build-essential pkg-config procps psmisc kmod util-linux e2fsprogs xfsprogs iproute2 curl ca-certificates
    libxml2-utils resource-agents pacemaker-resource-agents pacemaker-cli-utils hyperfine python3 haproxy drbd-utils mariadb-server mariadb-client
    ceph-mon ceph-osd ceph-mds ceph-fuse ceph-common
    uuid-runtime cpio openssl man-db bash-completion
    corosync pacemaker fence-agents libcpg-dev libcfg-dev libcmap-dev libquorum-dev libvotequorum-dev)
# QEMU 7.2 and libvirt 9 (for the vm agent) are installed by scripts/vm-lab.sh install: it
# pins qemu-utils to bookworm's version, which a plain apt-get install cannot do.
