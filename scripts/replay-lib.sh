# scripts/replay-lib.sh: what the five deployment replays (scripts/replay-<name>) share.
# Sourced, not run.
# shellcheck shell=bash
#
# A replay brings one deployment of cib-examples/ up in the lab (scripts/lab, LAB_NAME=rp by
# default) with real services (MariaDB primary and replicas with GTID and semi-synchronous
# replication, HAProxy, HTTP servers behind ocf:crm-lite:mgmt-api, tmpfs mounts, the DRBD
# emulator), injects the failure the deployment fears, and prints what an operator watches as
# `FACT ...` lines (also kept in /tmp/crm-lite-replay-<name>.facts): the fence, each service answering again, the alert, the
# database rows acknowledged before the fault and found after it, and the lab observer's
# verdict (no resource active twice, no recovery before the fence).
#
# Environment:
#   LAB_STACK   crm-lite (default, as scripts/lab: crm-lite's daemon on every node, the CIB
#               loaded with `crm-lite apply` on a node, states read from `crm-lite status
#               --json`) or pacemaker (stock Pacemaker on the lab's Corosync, the CIB loaded
#               with cibadmin, states from crm_mon). Only stack_load_cib, stack_where,
#               stack_show and stack_move below differ.
#   LAB_NAME    the lab's name (default rp); its state is in /tmp/crm-lite-lab-$LAB_NAME.
#   TOKEN       Corosync's token in ms (each replay sets its deployment's default).
#   REPLAY_LONG=1   the longer form (more faults); REPLAY_KEEP=1 leaves the lab up at the end.
#   REPLAY_TIMEOUT  seconds to wait for each recovery (default 90).

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export LAB_NAME=${LAB_NAME:-rp}
export LAB_STACK=${LAB_STACK:-crm-lite}
export LAB_DIR=/tmp/crm-lite-lab-$LAB_NAME
R=$LAB_DIR/replay
LABSH=$ROOT/scripts/lab
REPLAY_TIMEOUT=${REPLAY_TIMEOUT:-90}
MYSQL_PW=repl-pw-lab
# Every node's MariaDB files live in the node's own /run (a power loss keeps them; the lab's
# `start` empties /run, as a reboot of a diskless node would).
NODE_RUN=/run/crm-lite-replay

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.2f", b - a }'; }
note() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*" >&2; }
fact() { printf 'FACT %s\n' "$*" | tee -a "$R/facts"; }
lab() { "$LABSH" "$@"; }
node_ip() { echo "192.0.2.$((10 + ${1#n}))"; }

# The directory with the built binaries (agents, tiny-httpd, lab-observer, drbd-emu).
bin_dir() {
    local d
    for d in "${LAB_AGENTS:-}" "$ROOT/target/release" "$ROOT/target/debug"; do
        [ -n "$d" ] && [ -x "$d/tiny-httpd" ] && [ -x "$d/lab-observer" ] && [ -x "$d/mgmt-api" ] && { echo "$d"; return 0; }
    done
    die "the agents, tiny-httpd and lab-observer are not built (cargo build --workspace --bins)"
}

# ---------------------------------------------------------------------------------------
# The stack: the only functions that differ between Pacemaker and crm-lite.

# stack_load_cib DIR: hand DIR/cib.xml (made by scripts/replay-cib) to the cluster, from n1.
stack_load_cib() {
    case "$LAB_STACK" in
        pacemaker) lab exec n1 cibadmin --replace -o configuration --xml-file "$1/configuration.xml" ;;
        crm-lite) lab exec n1 "$(bin_dir)/crm-lite" apply "$1/cib.xml" ;;
        *) die "LAB_STACK must be pacemaker or crm-lite (not '$LAB_STACK')" ;;
    esac
}

# stack_where RSC [ASK_NODE]: one line `<node> <role>` (Started, Promoted, Unpromoted) for each
# active instance of RSC (a primitive's id, or a clone's primitive id), as the cluster on
# ASK_NODE (default n1) reports it.
stack_where() {
    local rsc=$1 ask=${2:-n1}
    case "$LAB_STACK" in
        pacemaker)
            lab exec "$ask" crm_mon -1 --output-as=xml 2>/dev/null | python3 -c '
import sys, xml.etree.ElementTree as ET
want = sys.argv[1]
try:
    root = ET.parse(sys.stdin).getroot()
except ET.ParseError:
    sys.exit(0)
for r in root.iter("resource"):
    if r.get("id", "").split(":")[0] != want or r.get("active") != "true" or r.get("failed") == "true":
        continue
    for n in r.findall("node"):
        print(n.get("name"), r.get("role"))
' "$rsc"
            ;;
        crm-lite)
            # crm-lite's own JSON (`crm-lite status --json`, the daemon's Status): resources
            # as they run now, one entry per resource and role with its nodes.
            lab exec "$ask" "$(bin_dir)/crm-lite" status --json 2>/dev/null | python3 -c '
import json, sys
want = sys.argv[1]
try:
    doc = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
# One row per node without a daemon (`resource`, `node`); with one, per role (`id`, `nodes`).
for r in doc.get("resources", []):
    rid = r.get("resource") or r.get("id", "")
    nodes = [r["node"]] if r.get("node") else r.get("nodes", [])
    if rid.split(":")[0] != want or r.get("role") == "Stopped" or r.get("failed"):
        continue
    for n in nodes:
        print(n, r.get("role", "Started"))
' "$rsc"
            ;;
    esac
}

# stack_show ASK: the cluster's status as an operator reads it, from node ASK.
stack_show() {
    case "$LAB_STACK" in
        pacemaker) lab exec "$1" crm_mon -1 2>/dev/null ;;
        crm-lite) lab exec "$1" "$(bin_dir)/crm-lite" status 2>/dev/null ;;
    esac
}

# stack_move RSC NODE: what the operator types to move RSC to NODE (a location constraint of
# score INFINITY, as `crm_resource --move` writes it).
stack_move() {
    case "$LAB_STACK" in
        pacemaker) lab exec "$2" crm_resource --move -r "$1" -N "$2" ;;
        crm-lite) lab exec "$2" "$(bin_dir)/crm-lite" move "$1" "$2" ;;
    esac
}

# ---------------------------------------------------------------------------------------
# Built on the pair above.

# wait_role RSC ROLE [ASK] [TIMEOUT] [NOT_ON]: prints the node where RSC runs in ROLE (other than
# NOT_ON), waiting for it.
wait_role() {
    local rsc=$1 role=$2 ask=${3:-n1} limit=${4:-$REPLAY_TIMEOUT} not_on=${5:-} end n
    end=$(($(date +%s) + limit))
    while [ "$(date +%s)" -lt "$end" ]; do
        n=$(stack_where "$rsc" "$ask" | awk -v r="$role" -v x="$not_on" '!f && $2 == r && $1 != x { print $1; f = 1 }')
        [ -n "$n" ] && { echo "$n"; return 0; }
        sleep 0.5
    done
    return 1
}

# wait_all_started ASK TIMEOUT RSC...: every RSC active somewhere (a promotable one promoted).
wait_all_started() {
    local ask=$1 limit=$2 r
    shift 2
    for r in "$@"; do
        case "$r" in *@*) ;; *) r=$r@Started ;; esac
        wait_role "${r%@*}" "${r#*@}" "$ask" "$limit" >/dev/null || {
            note "$r not up after $limit s:"
            stack_show "$ask" >&2 || true
            return 1
        }
    done
}

# ---------------------------------------------------------------------------------------
# Lab and services.

replay_down() {
    local rc=$?
    [ -e "$R/observer.stop" ] || touch "$R/observer.stop" 2>/dev/null || true
    [ -n "${DRBD_LINK_PID:-}" ] && kill "$DRBD_LINK_PID" 2>/dev/null
    # The facts outlive the lab.
    [ -s "$R/facts" ] && cp "$R/facts" "/tmp/crm-lite-replay-${REPLAY_NAME:-x}.facts"
    if [ -n "${REPLAY_KEEP:-}" ]; then
        note "lab $LAB_NAME left up (REPLAY_KEEP): LAB_NAME=$LAB_NAME scripts/lab down"
    else
        lab down >/dev/null 2>&1 || lab down || true
    fi
    return "$rc"
}

# replay_up NAME NODES: bring the lab up (the stack of LAB_STACK) and prepare $R.
replay_up() {
    local name=$1 count=$2 n b
    [ "$(id -u)" -eq 0 ] || die "the replays need root (network and mount namespaces, MariaDB)"
    need_pkgs haproxy mariadb-server mariadb-client curl python3
    b=$(bin_dir)
    REPLAY_NAME=$name
    REPLAY_T0=$(now)
    # A lab of an earlier run under this name is taken down first.
    lab down >/dev/null 2>&1 || true
    trap replay_down EXIT
    LAB_AGENTS=$b lab up "$count" >&2
    mkdir -p "$R"
    : > "$R/facts"
    : > "$R/guest-args"
    for n in $(seq 1 "$count"); do
        install -d -m 0755 "$LAB_DIR/n$n/run/crm-lite-replay"
        install -d -m 0755 -o mysql -g mysql "$LAB_DIR/n$n/run/crm-lite-replay/mysqld"
    done
    # The alert agent (Pacemaker runs it as hacluster: it and its file are reachable by all).
    cat > "$R/alert-agent" <<'EOF'
#!/bin/sh
# Alert agent of the replays: one line per alert, in the recipient file.
printf '%s kind=%s node=%s rsc=%s task=%s rc=%s desc=%s\n' \
    "${CRM_alert_timestamp_epoch:-$(date +%s)}.${CRM_alert_timestamp_usec:-0}" "$CRM_alert_kind" \
    "$CRM_alert_node" "${CRM_alert_rsc:--}" "${CRM_alert_task:--}" "${CRM_alert_rc:--}" \
    "$(echo "$CRM_alert_desc" | tr '\n' ' ')" >> "$CRM_alert_recipient"
EOF
    chmod 0755 "$R/alert-agent"
    : > "$R/alerts.log"
    chmod 0666 "$R/alerts.log"
    chmod 0755 "$R" "$LAB_DIR"
    fact "replay $name stack=$LAB_STACK nodes=$count token=${TOKEN:-1000}ms lab=$LAB_NAME"
}

# replay_cib FOLDER NAME=nI...: the lab form of cib-examples/FOLDER/cib.xml in $R/cib.
replay_cib() {
    local folder=$1 args=() m
    shift
    for m in "$@"; do args+=(--node "$m"); done
    # The real guests of guests_up.
    mapfile -t -O "${#args[@]}" args < "$R/guest-args"
    "$ROOT/scripts/replay-cib" "$ROOT/cib-examples/$folder/cib.xml" "$R/cib" --lab-dir "$LAB_DIR" \
        --tiny-httpd "$(bin_dir)/tiny-httpd" --alert-agent "$R/alert-agent" "${args[@]}"
    note "lab form of cib-examples/$folder: $R/cib/cib.xml"
}

# ---------------------------------------------------------------------------------------
# Real guests: where a VM is the point, the tiny QEMU guest of scripts/vm-lab.sh under a
# libvirtd of each lab node.

# guests_up RSC...: a libvirtd in every node (private copies of libvirt's directories
# bind-mounted in the node's own mount namespace, QEMU's output to files: no virtlogd) and
# the domain XML of each RSC at $R/RSC.xml: 128 MiB, TCG, no disk and no network, its
# console in the node's own $NODE_RUN/RSC.console. Call it before replay_cib, which keeps
# each RSC a real ocf:crm-lite:vm (the arguments are kept in $R/guest-args).
guests_up() {
    local r n d
    "$ROOT/scripts/vm-lab.sh" guest >&2
    while read -r n; do
        d=$LAB_DIR/$n/libvirt
        "$ROOT/scripts/vm-lab.sh" private-dirs "$d"
        printf 'stdio_handler = "file"\n' >> "$d/etc/qemu.conf"
        lab exec "$n" sh -ec "
            mount --bind '$d/lib' /var/lib/libvirt; mount --bind '$d/cache' /var/cache/libvirt
            mount --bind '$d/etc' /etc/libvirt; mount --bind '$d/log' /var/log/libvirt
            libvirtd --daemon --pid-file $NODE_RUN/libvirtd.pid"
    done < "$LAB_DIR/nodes"
    while read -r n; do
        for _ in $(seq 300); do
            lab exec "$n" timeout 5 virsh -c qemu:///system version >/dev/null 2>&1 && continue 2
            sleep 0.1
        done
        die "the libvirtd of $n does not answer after 30 s"
    done < "$LAB_DIR/nodes"
    for r in "$@"; do
        "$ROOT/scripts/vm-lab.sh" domain "$r" "$NODE_RUN/$r.console" > "$R/$r.xml"
        echo "--real-vm=$r=$R/$r.xml" >> "$R/guest-args"
    done
}

# is_guest RSC: RSC is a real guest in this replay (see guests_up).
is_guest() { grep -qxF -- "--real-vm=$1=$R/$1.xml" "$R/guest-args"; }

# vm_probe RSC: the observer's probe of a VM: its QEMU process, or the stand-in's port.
vm_probe() {
    if is_guest "$1"; then echo "$1=proc:guest=$1,"; else echo "$1=port:$(port_of "$1")"; fi
}

# watch_vm FROM NAME RSC NODE...: RSC up again on one of the NODEs, a guest booted
# (watch_guest) or a stand-in answering from FROM (watch_answer); `answered NAME` reports it.
watch_vm() {
    local from=$1 name=$2 rsc=$3
    shift 3
    if is_guest "$rsc"; then
        watch_guest "$name" "$rsc" "$@"
    else
        # shellcheck disable=SC2046
        watch_answer "$from" "$name" $(urls_of "$rsc" "$@")
    fi
}

# guest_up_on NODE RSC: the guest RSC runs on NODE (libvirt says so) and has booted (its
# console there says "tinyguest: up").
guest_up_on() {
    grep -q 'tinyguest: up' "$LAB_DIR/$1/run/crm-lite-replay/$2.console" 2>/dev/null &&
        [ "$(lab exec "$1" timeout 5 virsh -c qemu:///system domstate "$2" 2>/dev/null | sed -n 1p)" = running ]
}

# guest_fact RSC ASK: where the guest runs (as the cluster on ASK says) and whether it booted
# there within a minute.
guest_fact() {
    local n booted=no
    n=$(wait_role "$1" Started "$2") || { fact "guest $1 not started"; return 0; }
    for _ in $(seq 600); do
        guest_up_on "$n" "$1" && { booted=yes; break; }
        sleep 0.1
    done
    fact "guest $1 on $n booted=$booted"
}

# watch_guest NAME RSC NODE...: as watch_answer, for a real guest: the first of the NODEs
# where RSC is up (guest_up_on); `answered NAME` reports it.
watch_guest() {
    local name=$1 rsc=$2
    shift 2
    (
        end=$(($(date +%s) + REPLAY_TIMEOUT))
        while [ "$(date +%s)" -lt "$end" ]; do
            for n in "$@"; do
                if guest_up_on "$n" "$rsc"; then echo "$(now) guest $rsc on $n"; exit 0; fi
            done
            sleep 0.1
        done
        exit 1
    ) > "$R/answer-$name" 2>/dev/null &
    ANSWER_PID[$name]=$!
    echo "guest $rsc on $*" > "$R/answer-$name.what"
}

# port_of RSC: the port of an HTTP stand-in (from the lab CIB's ports file).
port_of() { awk -v r="$1" '$1 == r { print $2 }' "$R/cib/ports"; }

# haproxy_cfg "FRONT_PORT:RSC,RSC..." ...: HAProxy's configuration, one frontend per argument,
# each balancing over the named stand-ins on every lab node (checked every 500 ms).
haproxy_cfg() {
    local spec port list r n
    {
        cat <<EOF
global
    maxconn 200
    stats socket $NODE_RUN/haproxy.sock mode 600 level admin
defaults
    mode http
    timeout connect 500ms
    timeout client 5s
    timeout server 5s
    retries 2
    option redispatch
EOF
        for spec in "$@"; do
            port=${spec%%:*}
            list=${spec#*:}
            printf 'frontend f%s\n    bind :%s\n    default_backend b%s\nbackend b%s\n' "$port" "$port" "$port" "$port"
            for r in ${list//,/ }; do
                while read -r n; do
                    printf '    server %s-%s %s:%s check inter 500ms fall 1 rise 1\n' "$r" "$n" "$(node_ip "$n")" "$(port_of "$r")"
                done < "$LAB_DIR/nodes"
            done
        done
    } > "$R/haproxy.cfg"
}

# mysql_prepare: a MariaDB data directory for every lab node (from one template made by
# mariadb-install-db and kept in /tmp), each with its own server_id, GTID, binary log and
# semi-synchronous replication (AFTER_SYNC), listening on the node's address, port 3306.
mysql_prepare() {
    local tpl n i ver
    ver=$(mariadbd --version 2>/dev/null | awk '{print $3}' | tr -c 'a-zA-Z0-9.\n' _)
    tpl=/tmp/crm-lite-replay-mysql-template-2-$ver
    if [ ! -e "$tpl/.complete" ]; then
        note "initialising a MariaDB template in $tpl"
        rm -rf "$tpl" "$tpl.tmp"
        install -d -o mysql -g mysql "$tpl.tmp"
        mariadb-install-db --no-defaults --user=mysql --skip-test-db --datadir="$tpl.tmp" \
            --auth-root-authentication-method=socket --innodb-log-file-size=8M >/dev/null
        printf "FLUSH PRIVILEGES;\nCREATE USER 'repl'@'%%' IDENTIFIED BY '%s';\nGRANT ALL PRIVILEGES ON *.* TO 'repl'@'%%';\nCREATE USER 'app'@'%%' IDENTIFIED BY '%s';\nGRANT SELECT, INSERT ON t.* TO 'app'@'%%';\nCREATE DATABASE t;\nCREATE TABLE t.w (id INT PRIMARY KEY, at DOUBLE);\n" "$MYSQL_PW" "$MYSQL_PW" |
            mariadbd --no-defaults --bootstrap --user=mysql --datadir="$tpl.tmp" --innodb-log-file-size=8M >/dev/null 2>&1
        touch "$tpl.tmp/.complete"
        mv "$tpl.tmp" "$tpl"
    fi
    umask 077
    printf '%s' "$MYSQL_PW" > "$R/repl.pw"
    printf '[client]\nuser=app\npassword=%s\nconnect-timeout=1\n' "$MYSQL_PW" > "$R/client.cnf"
    umask 022
    for n in "$@"; do
        i=${n#n}
        cp -a "$tpl" "$LAB_DIR/$n/run/crm-lite-replay/mysql"
        rm -f "$LAB_DIR/$n/run/crm-lite-replay/mysql/.complete"
        cat > "$LAB_DIR/$n/run/crm-lite-replay/my.cnf" <<EOF
[mysqld]
server_id=$i
log_bin=mysql-bin
binlog_format=ROW
log_slave_updates=1
gtid_strict_mode=1
bind_address=0.0.0.0
skip_name_resolve
innodb_buffer_pool_size=32M
innodb_log_file_size=8M
performance_schema=OFF
rpl_semi_sync_master_enabled=1
rpl_semi_sync_slave_enabled=1
rpl_semi_sync_master_timeout=5000
rpl_semi_sync_master_wait_point=AFTER_SYNC
EOF
    done
}

# drbd_prepare RESOURCE NODE_A NODE_B: ocf:crm-lite:drbd runs on the DRBD emulator (drbd-emu as
# drbdadm and drbdsetup, one state file in each node's own /run) for a resource mirrored between
# two nodes, and a link process keeps each side's view of its peer true: the peer's role and
# disk, and whether it is reachable (powered on). No data is replicated: the file system the
# deployment mounts on DRBD is a tmpfs stand-in (see scripts/replay-cib). The link rewrites a
# node's state file only when the peer changed, so a race with the agent's own write is
# possible but narrow.
drbd_prepare() {
    local res=$1 a=$2 b=$3 d
    d=$(bin_dir)
    mkdir -p "$R/drbd-bin"
    ln -sf "$d/drbd-emu" "$R/drbd-bin/drbdadm"
    ln -sf "$d/drbd-emu" "$R/drbd-bin/drbdsetup"
    printf 'global { usage-count no; }\nresource %s {\n  device /dev/drbd100 minor 100;\n  disk /dev/loop0;\n  meta-disk internal;\n  on %s { node-id 0; address %s:7790; }\n  on %s { node-id 1; address %s:7790; }\n}\n' \
        "$res" "$a" "$(node_ip "$a")" "$b" "$(node_ip "$b")" > "$R/drbd.conf"
    # The agent as the nodes see it: the same binary, with the emulator first on PATH.
    rm -f "$LAB_DIR/ocf/crm-lite/drbd"
    printf '#!/bin/sh\nPATH=%s:$PATH DRBD_EMU_STATE=%s/drbd-emu.json exec %s/drbd "$@"\n' \
        "$R/drbd-bin" "$NODE_RUN" "$d" > "$LAB_DIR/ocf/crm-lite/drbd"
    chmod 0755 "$LAB_DIR/ocf/crm-lite/drbd"
    python3 -c '
import json, os, subprocess, sys, time
lab, name, res, a, b, run = sys.argv[1:]
path = lambda n: f"{lab}/{n}{run}/drbd-emu.json"
def alive(n):
    out = subprocess.run(["ip", "netns", "pids", f"{name}-{n}"], capture_output=True, text=True).stdout
    return bool(out.strip())
def load(n):
    try:
        with open(path(n)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
while os.path.isdir(lab):
    for me, peer in ((a, b), (b, a)):
        s, p = load(me), load(peer)
        if not s or res not in s.get("resources", {}):
            continue
        r = s["resources"][res]
        pr = (p or {}).get("resources", {}).get(res)
        up = alive(peer) and pr is not None and pr.get("up")
        want = {"reachable": bool(up)}
        if up:
            want.update(role=pr.get("role", "Secondary"), disk=pr.get("disk", "UpToDate"))
        cur = r.get("peer") or {}
        if any(cur.get(k) != v for k, v in want.items()):
            cur.update(want)
            r["peer"] = cur
            tmp = path(me) + ".link"
            with open(tmp, "w") as f:
                json.dump(s, f)
            os.replace(tmp, path(me))
            print(time.time(), me, "sees", peer, want, flush=True)
    time.sleep(0.2)
' "$LAB_DIR" "$LAB_NAME" "$res" "$a" "$b" "$NODE_RUN" > "$R/drbd-link.log" 2>&1 &
    DRBD_LINK_PID=$!
}

# writer_start NODE DBNODE...: from NODE, insert rows one by one into the primary (whichever of
# the DBNODEs accepts a write), appending the id of each acknowledged insert to $R/acked. It logs
# in as `app`, which has only SELECT and INSERT on t: read_only holds for it (the replication
# account has SUPER, which a read-only replica would let write).
writer_start() {
    local from=$1
    shift
    local ips=""
    local n
    for n in "$@"; do ips="$ips $(node_ip "$n")"; done
    : > "$R/acked"
    rm -f "$R/writer.stop"
    cat > "$R/writer.sh" <<EOF
#!/bin/bash
i=0
while [ ! -e $R/writer.stop ]; do
    i=\$((i + 1))
    ok=
    for ip in \$cur $ips; do
        if mariadb --defaults-extra-file=$R/client.cnf -h "\$ip" -N -e "INSERT INTO t.w VALUES (\$i, UNIX_TIMESTAMP(NOW(6)))" 2>/dev/null; then
            echo "\$i \$(date +%s.%N) \$ip" >> $R/acked
            cur=\$ip
            ok=1
            break
        fi
    done
    [ -n "\$ok" ] || sleep 0.1
done
EOF
    chmod 0755 "$R/writer.sh"
    lab exec "$from" setsid "$R/writer.sh" </dev/null >/dev/null 2>&1 &
    WRITER_PID=$!
}

# writer_check ASK DBNODE...: stop the writer; compare the acknowledged rows with the rows on
# the primary.
writer_check() {
    local ask=$1 before=$2 primary n present lost
    shift 2
    touch "$R/writer.stop"
    wait "$WRITER_PID" 2>/dev/null || true
    primary=$(wait_role "${DB_RSC:-db}" Promoted "$ask" 30) || primary=""
    [ -n "$primary" ] || { fact "rows primary=none (no promoted database)"; return 1; }
    lab exec "$ask" mariadb --defaults-extra-file="$R/client.cnf" -h "$(node_ip "$primary")" -N \
        -e "SELECT id FROM t.w ORDER BY id" > "$R/present" 2>"$R/present.err" || {
        fact "rows primary=$primary unreadable: $(cat "$R/present.err")"
        return 1
    }
    present=$(wc -l < "$R/present")
    lost=$(awk '{print $1}' "$R/acked" | sort | comm -23 - <(sort "$R/present") | wc -l)
    again=$(awk -v t="$T_FAULT" -v ip="$(node_ip "$primary")" '$2 > t && $3 == ip { print $2; exit }' "$R/acked")
    if [ -n "$again" ]; then
        fact "answered db-writes after $(since "$T_FAULT" "$again") s (the first insert acknowledged by $primary since the fault)"
    else
        fact "answered db-writes never (no insert acknowledged after the fault)"
    fi
    fact "rows acked-before-fault=$before acked=$(wc -l < "$R/acked") on-new-primary=$present primary=$primary lost=$lost"
    replicas_fact "$ask" "$primary" "$present"
}

# replicas_fact ASK PRIMARY ROWS: each other running instance of the database replicates from
# PRIMARY and holds its ROWS. Under gtid_strict_mode a replica that was ahead of the new
# primary (a transaction the primary lacks) stops with an error instead: so this also says
# that the replica promoted was the most advanced one.
replicas_fact() {
    local ask=$1 primary=$2 rows=$3 n end st io sql err have
    for n in $(stack_where "${DB_RSC:-db}" "$ask" | awk -v p="$primary" '$1 != p && $2 != "Promoted" { print $1 }'); do
        end=$(($(date +%s) + 30))
        while :; do
            st=$(lab exec "$ask" mariadb -urepl -p"$MYSQL_PW" -h "$(node_ip "$n")" --connect-timeout=1 \
                -e "SHOW SLAVE STATUS\G" 2>/dev/null || true)
            io=$(awk '$1 == "Slave_IO_Running:" { print $2 }' <<< "$st")
            sql=$(awk '$1 == "Slave_SQL_Running:" { print $2 }' <<< "$st")
            err=$(awk -F': ' '$1 ~ /Last_(IO|SQL)_Error$/ && $2 != "" && e == "" { e = $2 } END { print e }' <<< "$st")
            have=$(lab exec "$ask" mariadb --defaults-extra-file="$R/client.cnf" -h "$(node_ip "$n")" -N \
                -e "SELECT COUNT(*) FROM t.w" 2>/dev/null || echo "?")
            if grep -q "Master_Host: $(node_ip "$primary")\$" <<< "$st" && [ "$io" = Yes ] && [ "$sql" = Yes ] && [ "$have" = "$rows" ]; then
                break
            fi
            [ "$(date +%s)" -lt "$end" ] || break
            sleep 0.5
        done
        fact "replica $n follows=$(awk '$1 == "Master_Host:" { print $2 }' <<< "$st") io=${io:-none} sql=${sql:-none} rows=$have/$rows error=${err:-none}"
    done
}

# observer_start RSC=mount:/DIR|RSC=port:N ...: the lab observer, until observer_finish.
observer_start() {
    rm -f "$R/observer.stop"
    "$(bin_dir)/lab-observer" --lab "$LAB_NAME" --nodes "$(paste -sd, "$LAB_DIR/nodes")" \
        --stop "$R/observer.stop" --fence-log "$LAB_DIR/fence.log" --victims "$R/victims" "$@" \
        > "$R/observer.out" 2>&1 &
    OBSERVER_PID=$!
}

observer_finish() {
    touch "$R/observer.stop"
    wait "$OBSERVER_PID" 2>/dev/null || true
    # What the observer saw wrong, as facts: a failed check then names the resource and time.
    grep -E '^(double|early|passing) ' "$R/observer.out" | head -8 | while read -r l; do fact "observer-saw $l"; done || true
    fact "$(grep '^observer:' "$R/observer.out" || echo "observer: did not report ($(tail -2 "$R/observer.out"))")"
}

# fault HOW NODE: kill (power loss) or cut (link down) NODE; sets T_FAULT.
fault() {
    T_FAULT=$(now)
    lab "$1" "$2"
    echo "$2 $T_FAULT" >> "$R/victims"
    fact "fault $1 $2 at $T_FAULT"
}

# fence_fact NODE: the first successful fence of NODE after T_FAULT, from the lab's fence log.
fence_fact() {
    local end line
    end=$(($(date +%s) + REPLAY_TIMEOUT))
    while [ "$(date +%s)" -lt "$end" ]; do
        line=$(awk -v n="$1" -v t="$T_FAULT" '$3 == n && $4 == "ok" && $2 != "on" && $1 >= t { print; exit }' "$LAB_DIR/fence.log")
        [ -n "$line" ] && break
        sleep 0.2
    done
    if [ -n "$line" ]; then
        T_FENCED=$(echo "$line" | awk '{print $1}')
        fact "fenced $1 after $(since "$T_FAULT" "$T_FENCED") s ($(echo "$line" | awk '{print $2}'))"
    else
        T_FENCED=
        fact "fenced $1 never (fence log: $(tr '\n' ';' < "$LAB_DIR/fence.log"))"
    fi
}

# watch_answer FROM NAME URL [URL...]: start waiting, from node FROM, until one of the URLs
# answers (HTTP 200), in the background (call it right after the fault: it measures from then);
# `answered NAME` prints the fact.
declare -A ANSWER_PID
watch_answer() {
    local from=$1 name=$2
    shift 2
    lab exec "$from" bash -c '
        end=$(( $(date +%s) + '"$REPLAY_TIMEOUT"' ))
        while [ "$(date +%s)" -lt "$end" ]; do
            for u in "$@"; do
                if curl -fs -m 0.5 -o /dev/null "$u"; then echo "$(date +%s.%N) $u"; exit 0; fi
            done
            sleep 0.1
        done
        exit 1' _ "$@" > "$R/answer-$name" 2>/dev/null &
    ANSWER_PID[$name]=$!
    echo "$from $*" > "$R/answer-$name.what"
}

# answered NAME: the time from T_FAULT until NAME answered (see watch_answer).
answered() {
    local t
    wait "${ANSWER_PID[$1]}" 2>/dev/null || true
    t=$(cat "$R/answer-$1")
    if [ -n "$t" ]; then
        fact "answered $1 after $(since "$T_FAULT" "${t%% *}") s at ${t#* } (from $(cut -d' ' -f1 "$R/answer-$1.what"))"
    else
        fact "answered $1 never (from $(cat "$R/answer-$1.what"))"
    fi
}

# urls_of RSC NODE...: the stand-in's URL on each of the nodes.
urls_of() {
    local p n
    p=$(port_of "$1")
    shift
    for n in "$@"; do echo "http://$(node_ip "$n"):$p/"; done
}

# stopped_fact RSC ASK: RSC runs nowhere (as the cluster on ASK says).
stopped_fact() {
    local on
    on=$(stack_where "$1" "$2" | awk '{print $1}' | paste -sd, -)
    fact "placement $1 ${on:-stopped}"
}

# alert_fact NODE: the alerts written for NODE's fencing and the resources started since the
# fault.
alert_fact() {
    local f
    f=$(awk -v t="$T_FAULT" -v n="$1" '$1 >= t && $2 == "kind=fencing" && index($0, n) { print; exit }' "$R/alerts.log")
    if [ -n "$f" ]; then
        fact "alert fencing $1 written after $(since "$T_FAULT" "${f%% *}") s: ${f#* }"
    else
        fact "alert fencing $1 none (alerts: $(wc -l < "$R/alerts.log") lines)"
    fi
    fact "alert resource-starts-since-fault=$(awk -v t="$T_FAULT" '$1 >= t && $2 == "kind=resource" && $5 == "task=start" && $6 == "rc=0"' "$R/alerts.log" | wc -l)"
}

# alert_start_fact RSC: the alert of RSC's first successful start since T_FAULT.
alert_start_fact() {
    local f
    f=$(awk -v t="$T_FAULT" -v r="rsc=$1" '$1 >= t && $2 == "kind=resource" && $4 == r && $5 == "task=start" && $6 == "rc=0" { print; exit }' "$R/alerts.log")
    if [ -n "$f" ]; then
        fact "alert start $1 written after $(since "$T_FAULT" "${f%% *}") s: ${f#* }"
    else
        fact "alert start $1 none"
    fi
}

# survivors NODE...: the lab's nodes that are not named.
survivors() {
    local n skip
    while read -r n; do
        skip=
        for x in "$@"; do [ "$n" = "$x" ] && skip=1; done
        [ -n "$skip" ] || echo "$n"
    done < "$LAB_DIR/nodes"
}

replay_end() {
    observer_finish
    fact "replay $REPLAY_NAME done in $(since "$REPLAY_T0") s"
}
