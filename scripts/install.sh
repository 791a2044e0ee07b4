#!/usr/bin/env bash
# Build in release mode and install the agents as ocf:crm-lite:<name> and crm-lite into
# /usr/local/sbin. Idempotent. OCF_ROOT and SBINDIR override the destinations.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

OCF_ROOT=${OCF_ROOT:-/usr/lib/ocf}
SBINDIR=${SBINDIR:-/usr/local/sbin}
AGENTS=(vm drbd filesystem mysql haproxy mgmt-api)

ensure_rust
say "building (release)"
cargo build --release --workspace --bins --quiet

dest="$OCF_ROOT/resource.d/crm-lite"
install -d -m 0755 "$dest" "$SBINDIR"
installed=()
for a in "${AGENTS[@]}"; do
    if [ -x "target/release/$a" ]; then
        install -m 0755 "target/release/$a" "$dest/$a"
        installed+=("$a")
    fi
done
install -m 0755 target/release/crm-lite "$SBINDIR/crm-lite"
say "installed agents in $dest: ${installed[*]}"
say "installed $SBINDIR/crm-lite"
