#!/usr/bin/env bash
# The libvirt lab for the vm agent's system tests and benchmark, on one machine with no
# systemd. Idempotent.
#
#   scripts/vm-lab.sh up     install QEMU 7.2 + libvirt 9, start virtlogd and libvirtd,
#                            a second libvirtd (own mount namespace, own host UUID,
#                            qemu+tcp://127.0.0.1:16510/system) for live migration, and
#                            build the tiny guest (kernel + busybox initramfs that powers
#                            off on the ACPI button) into the cache directory
#   scripts/vm-lab.sh install  only the packages (scripts/test runs this first)
#   scripts/vm-lab.sh guest    the packages and the tiny guest, no daemon (the replays run
#                            a libvirtd in each lab node themselves)
#   scripts/vm-lab.sh stop   end the daemons this script started, by their pid files
#   scripts/vm-lab.sh domain NAME CONSOLE   print the tiny guest's domain XML (128 MiB, TCG,
#                            no disk, no network, its serial console in the file CONSOLE)
#   scripts/vm-lab.sh private-dirs DIR   private copies of libvirt's directories under DIR
#                            (etc, lib, cache, log; no domain of this host's), for a libvirtd
#                            that acts as another host once they are bind-mounted
#   scripts/vm-lab.sh env    print the lab's paths as shell variables
#
# A libvirtd that was already answering on qemu:///system is used, never stopped.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CACHE=${CRM_LITE_TEST_CACHE:-/var/cache/crm-lite-test}
GUEST=$CACHE/vm-guest
RUN=/run/crm-lite-test/vm-lab
LIBVIRTD_PID=$RUN/libvirtd.pid
VIRTLOGD_PID=$RUN/virtlogd.pid
N2=$RUN/libvirt2
URI1=qemu:///system
PORT2=16510
URI2=qemu+tcp://127.0.0.1:$PORT2/system

# Alive and not a zombie (pid 1 here does not reap orphans, so a killed daemon lingers as Z).
alive_pid() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
alive_pidfile() { [ -s "$1" ] && alive_pid "$(cat "$1")"; }
answers() { timeout 5 virsh -c "$1" version >/dev/null 2>&1; }
wait_answers() {
    for _ in $(seq 300); do answers "$1" && return 0; sleep 0.1; done
    die "libvirt at $1 does not answer after 30 s"
}

install() {
    # Debian 12's qemu-system-x86 is 7.2; the image may carry qemu-utils 10.0 from
    # bookworm-backports, which breaks qemu-system-common < 8.0: pin qemu-utils to the
    # bookworm version so both come from the same release.
    local have_q have_l
    have_q=$(dpkg-query -W -f='${Status}' qemu-system-x86 2>/dev/null || true)
    have_l=$(dpkg-query -W -f='${Status}' libvirt-daemon-system 2>/dev/null || true)
    if [[ $have_q != *"install ok installed"* || $have_l != *"install ok installed"* ]]; then
        [ "$(id -u)" -eq 0 ] || die "QEMU and libvirt are missing: run as root to install them"
        export DEBIAN_FRONTEND=noninteractive
        local apt=(apt-get -o DPkg::Lock::Timeout=900 -y -q --no-install-recommends)
        apt-get -o DPkg::Lock::Timeout=900 update -q >/dev/null || die "apt-get update failed"
        local qv
        # awk reads to the end: leaving early would kill apt-cache with SIGPIPE, which
        # pipefail turns into a failure (exit 141) on a machine without QEMU yet.
        qv=$(apt-cache madison qemu-system-x86 | awk '$6 ~ /^bookworm\/main$/ && v == "" {v = $3} END {print v}')
        [ -n "$qv" ] || die "no bookworm qemu-system-x86 in apt's sources"
        say "installing qemu-system-x86 $qv (qemu-utils pinned to it), libvirt"
        "${apt[@]}" --allow-downgrades install "qemu-system-x86=$qv" "qemu-utils=$qv" \
            libvirt-daemon-system libvirt-clients >/dev/null
    fi
    need_pkgs uuid-runtime gzip cpio
}

# What udev would do on a stock host: libvirt runs QEMU as libvirt-qemu (group kvm).
kvm_perms() {
    if [ -e /dev/kvm ]; then
        chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
    fi
}

daemons_up() {
    mkdir -p "$RUN" /run/libvirt
    if answers "$URI1" && ! alive_pidfile "$LIBVIRTD_PID"; then
        say "libvirtd already answers on $URI1 (not started here)"
    else
        alive_pidfile "$VIRTLOGD_PID" || virtlogd --daemon --pid-file "$VIRTLOGD_PID"
        if ! alive_pidfile "$LIBVIRTD_PID"; then
            libvirtd --daemon --pid-file "$LIBVIRTD_PID"
        fi
        wait_answers "$URI1"
    fi
    second_up
}

# private_dirs DIR: copies of libvirt's etc, lib, cache and log directories under DIR, without
# this host's domains, for a libvirtd that acts as another host once they are bind-mounted.
private_dirs() {
    local d=$1
    rm -rf "$d"
    mkdir -p "$d"/{run,lib,cache,log,etc}
    cp -a /etc/libvirt/. "$d/etc/"
    cp -a /var/lib/libvirt/. "$d/lib/" 2>/dev/null || true
    cp -a /var/cache/libvirt/. "$d/cache/" 2>/dev/null || true
    rm -rf "$d"/lib/qemu/domain-* "$d"/etc/qemu/*.xml "$d"/etc/qemu/autostart/* \
        "$d"/etc/qemu/networks/autostart/*
}

# domain NAME CONSOLE: the tiny guest's domain XML, its serial console in the file CONSOLE.
domain() {
    cat <<XML
<domain type='qemu'><name>$1</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>$GUEST/vmlinuz</kernel>
    <initrd>$GUEST/initrd.gz</initrd><cmdline>console=ttyS0 panic=-1 quiet</cmdline></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='$2'/><target port='0'/></serial>
    <memballoon model='none'/></devices></domain>
XML
}

# A second libvirtd, as if on another host: private copies of libvirt's directories
# bind-mounted in its own mount namespace, its own host UUID, TCP on 127.0.0.1 only.
second_up() {
    if alive_pidfile "$N2/libvirtd.pid"; then wait_answers "$URI2"; return 0; fi
    private_dirs "$N2"
    cat >>"$N2/etc/libvirtd.conf" <<EOC
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "$PORT2"
auth_tcp = "none"
host_uuid = "$(uuidgen)"
EOC
    printf 'stdio_handler = "file"\nmigration_port_min = 49300\nmigration_port_max = 49340\n' \
        >>"$N2/etc/qemu.conf"
    unshare -m --propagation private sh -c "
        mount --bind '$N2/run' /run/libvirt && mount --bind '$N2/lib' /var/lib/libvirt &&
        mount --bind '$N2/cache' /var/cache/libvirt && mount --bind '$N2/etc' /etc/libvirt &&
        mount --bind '$N2/log' /var/log/libvirt &&
        exec libvirtd --daemon --listen --pid-file '$N2/libvirtd.pid'"
    wait_answers "$URI2"
}

# A tiny guest: Debian's cloud kernel and busybox (extracted, not installed) with an init
# that runs acpid, so the ACPI power button powers it off. Boots under TCG in seconds.
guest() {
    [ -s "$GUEST/vmlinuz" ] && [ -s "$GUEST/initrd.gz" ] && return 0
    local w
    w=$(mktemp -d)
    trap 'rm -rf "$w"' RETURN
    (
        cd "$w"
        local kpkg
        kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image/ {print $2; exit}')
        [ -n "$kpkg" ] || die "no linux-image-cloud-amd64 in apt's sources"
        apt-get download -q "$kpkg" busybox-static >/dev/null
        mkdir k bb root
        dpkg-deb -x "$kpkg"_*.deb k
        dpkg-deb -x busybox-static_*.deb bb
        mkdir -p root/{bin,proc,sys,dev,etc/acpi/PWRF,lib/modules}
        cp bb/bin/busybox root/bin/busybox
        find k/lib/modules \( -name button.ko -o -name evdev.ko \) -exec cp {} root/lib/modules/ \;
        cat >root/etc/acpi/PWRF/00000080 <<'EOS'
#!/bin/busybox sh
echo "tinyguest: power button, powering off" >/dev/console
/bin/busybox poweroff -f
EOS
        cat >root/init <<'EOS'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
insmod /lib/modules/evdev.ko; insmod /lib/modules/button.ko
acpid -c /etc/acpi -l /dev/console
echo "tinyguest: up" >/dev/console
while :; do sleep 3600; done
EOS
        chmod +x root/init root/etc/acpi/PWRF/00000080
        mkdir -p "$GUEST"
        cp k/boot/vmlinuz-* "$GUEST/vmlinuz.tmp"
        (cd root && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 >"$GUEST/initrd.gz.tmp"
        mv "$GUEST/initrd.gz.tmp" "$GUEST/initrd.gz"
        mv "$GUEST/vmlinuz.tmp" "$GUEST/vmlinuz"
    )
    chmod 0755 "$CACHE" "$GUEST"
    chmod 0644 "$GUEST"/*
}

stop_pidfile() {
    local f=$1 pid
    alive_pidfile "$f" || { rm -f "$f"; return 0; }
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive_pid "$pid" || break; sleep 0.1; done
    if alive_pid "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
    rm -f "$f"
}

case "${1:-up}" in
install)
    install
    ;;
guest)
    install
    kvm_perms
    guest
    ;;
up)
    install
    kvm_perms
    guest
    daemons_up
    say "vm lab up: $URI1 and $URI2, guest in $GUEST"
    ;;
stop)
    stop_pidfile "$N2/libvirtd.pid"
    stop_pidfile "$LIBVIRTD_PID"
    stop_pidfile "$VIRTLOGD_PID"
    ;;
domain)
    [ $# -eq 3 ] || die "usage: $0 domain NAME CONSOLE"
    domain "$2" "$3"
    ;;
private-dirs)
    [ $# -eq 2 ] || die "usage: $0 private-dirs DIR"
    private_dirs "$2"
    ;;
env)
    printf 'VM_LAB_GUEST=%s\nVM_LAB_URI1=%s\nVM_LAB_URI2=%s\nVM_LAB_LIBVIRTD_PID=%s\n' \
        "$GUEST" "$URI1" "$URI2" "$LIBVIRTD_PID"
    ;;
*) die "usage: $0 install|guest|up|stop|domain|private-dirs|env" ;;
esac
