//! The five deployments replayed in the lab (`scripts/replay-<name>`, issue 17 part 2), each in
//! its short form: one failure (two for Cloudmin: a host of each group, then the operator's
//! move), then assertions on the facts the replay prints (`FACT ...` lines): the victim was
//! fenced, what it ran answers again on a survivor and only after the fence, no acknowledged
//! database row was lost, the alert agent wrote the fencing alert, and the lab observer saw no
//! resource active twice and no start of the victim's resources before its fence.
//!
//! The product is crm-lite's own daemon: every replay runs under `LAB_STACK=crm-lite` (the
//! `crm-lite` of this build on every node), and OpenStack's runs twice more: with the
//! database primary's host killed under load (`REPLAY_FAULT=db`: the most advanced replica
//! promoted, no acknowledged row lost: issue 16), and under stock Pacemaker on the same
//! Corosync (`LAB_STACK=pacemaker`), the drop-in proof that the same agents and CIB behave the
//! same there. The replays run one at a time (each lab has up to five nodes on a machine of
//! two cores), under lab names `rp1`..`rp5`.

use std::process::Command;
use std::sync::Mutex;

use tests::lab::project_root;
use tests::{built, have, is_root, require, target_dir};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The `FACT` lines of one replay.
struct Facts(Vec<String>);

impl Facts {
    /// The fact that starts with `prefix` (panics, with every fact, when there is none).
    fn line(&self, prefix: &str) -> &str {
        self.0
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no fact {prefix:?} in:\n{}", self.0.join("\n")))
    }

    /// The seconds of the fact `<prefix> after <S> s ...`.
    fn after(&self, prefix: &str) -> f64 {
        let line = self.line(prefix);
        line.split(" after ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{line:?}: no time (facts:\n{})", self.0.join("\n")))
    }

    /// `<name>` answered on a survivor, after `<victim>` was fenced.
    fn answered_after_fence(&self, name: &str, victim: &str) {
        let fenced = self.after(&format!("fenced {victim} "));
        let answered = self.after(&format!("answered {name} "));
        assert!(
            answered >= fenced,
            "{name} answered {answered:.2} s after the fault, before {victim} was fenced ({fenced:.2} s)"
        );
    }

    /// The database: writes acknowledged after the fault, and none lost. When the primary ran
    /// on `victim`, the first write after the fault came only after its fence; otherwise the
    /// primary never stopped taking writes.
    fn no_row_lost(&self, victim: &str) {
        let line = self.line("rows ");
        let field = |k: &str| -> u64 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{line:?}: no {k}="))
        };
        assert_eq!(field("lost"), 0, "{line}");
        assert!(
            field("acked-before-fault") > 0,
            "no write before the fault: {line}"
        );
        assert!(
            field("acked") > field("acked-before-fault"),
            "no write after the fault: {line}"
        );
        self.replicas_follow(field("on-new-primary"));
        if before(self, "db-primary") == victim {
            self.answered_after_fence("db-writes", victim);
        } else {
            assert!(
                self.after("answered db-writes ") < 2.0,
                "{}",
                self.line("answered db-writes ")
            );
        }
    }

    /// Every other running database instance replicates from the new primary without error
    /// and holds its `rows` (under `gtid_strict_mode` a replica ahead of the new primary
    /// would stop with an error: the one promoted was the most advanced). Returns how many
    /// replicas there were.
    fn replicas_follow(&self, rows: u64) -> usize {
        let primary = self
            .line("rows ")
            .split_whitespace()
            .find_map(|w| w.strip_prefix("primary="))
            .and_then(|n| n.strip_prefix('n'))
            .and_then(|i| i.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("{}: no primary=n<i>", self.line("rows ")));
        let ip = format!("follows=192.0.2.{} ", 10 + primary);
        let replicas: Vec<&String> = self
            .0
            .iter()
            .filter(|l| l.starts_with("replica "))
            .collect();
        for r in &replicas {
            assert!(
                r.contains(&ip)
                    && r.contains(" io=Yes sql=Yes ")
                    && r.contains(&format!(" rows={rows}/{rows} "))
                    && r.ends_with(" error=none"),
                "{r} (the new primary is n{primary}, {rows} rows)"
            );
        }
        replicas.len()
    }

    /// The observer's verdict, and the fencing alert of each victim.
    fn clean(&self, victims: &[&str]) {
        let obs = self.line("observer: ");
        assert!(
            obs.contains("double-active=0") && obs.contains("early-starts=0"),
            "{obs}\n{}",
            self.0
                .iter()
                .filter(|l| l.starts_with("observer-saw "))
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            !obs.contains("rounds=0 "),
            "the observer never sampled: {obs}"
        );
        for v in victims {
            let alert = self.line(&format!("alert fencing {v} "));
            assert!(
                alert.contains(" written ") && alert.contains("rc=0"),
                "{alert}"
            );
        }
    }
}

/// Which cluster manager runs in the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    /// crm-lite's daemon (`crm-lite daemon` of this build on every node).
    CrmLite,
    /// Stock Pacemaker on the lab's Corosync.
    Pacemaker,
}

/// Runs `scripts/replay-<name>` (its short form, or `REPLAY_FAULT=fault`) in lab `lab` under
/// `stack`; its facts (panics when it fails).
fn replay(name: &str, lab: &str, stack: Stack, fault: Option<&str>) -> Option<Facts> {
    let Ok(()) = require(is_root(), "root (network and mount namespaces)") else {
        return None;
    };
    let mut tools = vec![
        ("haproxy", "haproxy"),
        ("mariadbd", "mariadb-server"),
        ("mariadb", "mariadb-client"),
        ("curl", "curl"),
        ("python3", "python3"),
        ("corosync", "corosync"),
    ];
    if stack == Stack::Pacemaker {
        tools.push(("pacemakerd", "pacemaker"));
    }
    for (tool, why) in tools {
        let Ok(()) = require(
            have(tool) || std::path::Path::new("/usr/sbin").join(tool).is_file(),
            &format!("{why} (scripts/lib.sh TEST_PKGS)"),
        ) else {
            return None;
        };
    }
    let bins = [
        "crm-lite",
        "mgmt-api",
        "haproxy",
        "mysql",
        "filesystem",
        "drbd",
        "tiny-httpd",
        "lab-observer",
        "drbd-emu",
    ];
    let Ok(()) = require(
        bins.iter().all(|b| built(b).is_some()),
        "the agents, tiny-httpd, lab-observer and drbd-emu built (cargo build --workspace --bins)",
    ) else {
        return None;
    };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = Command::new(project_root().join(format!("scripts/replay-{name}")));
    cmd.env("LAB_NAME", lab)
        .env(
            "LAB_STACK",
            match stack {
                Stack::CrmLite => "crm-lite",
                Stack::Pacemaker => "pacemaker",
            },
        )
        .env("LAB_AGENTS", target_dir())
        // The crm-lite of this build, never an older one found elsewhere.
        .env("CRM_LITE", target_dir().join("crm-lite"))
        .env("REPLAY_TIMEOUT", "60")
        .env_remove("REPLAY_LONG")
        .env_remove("REPLAY_FAULT")
        .env_remove("REPLAY_KEEP");
    if let Some(f) = fault {
        cmd.env("REPLAY_FAULT", f);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("scripts/replay-{name}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    let first = format!(
        "stack={}",
        if stack == Stack::CrmLite {
            "crm-lite"
        } else {
            "pacemaker"
        }
    );
    assert!(
        stdout.lines().next().is_some_and(|l| l.contains(&first)),
        "scripts/replay-{name} did not run under {first}:\n{stdout}"
    );
    assert!(
        out.status.success(),
        "scripts/replay-{name} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Some(Facts(
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix("FACT "))
            .map(String::from)
            .collect(),
    ))
}

/// The victim named by the fact `before <key>=<node> ...`.
fn before(f: &Facts, key: &str) -> String {
    let line = f.line("before ");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{line:?}: no {key}="))
        .to_string()
}

/// The VIP's controller powered off: the facts any stack must show.
fn openstack_vip_lost(f: &Facts) {
    let victim = before(f, "vip");
    f.answered_after_fence("keystone-through-vip", &victim);
    // cinder-volume moves only if it ran there (it keeps away from the database primary,
    // which may be the VIP's controller too).
    if before(f, "cinder-volume") == victim {
        f.answered_after_fence("cinder-volume", &victim);
    } else {
        assert!(
            f.after("answered cinder-volume ") < 2.0,
            "{}",
            f.line("answered cinder-volume ")
        );
    }
    assert!(!f.line("after ").contains(&format!("vip={victim}")));
    f.no_row_lost(&victim);
    f.clean(&[&victim]);
}

#[test]
fn replay_openstack_controller_with_the_vip_lost() {
    let Some(f) = replay("openstack", "rp1", Stack::CrmLite, None) else {
        return;
    };
    openstack_vip_lost(&f);
}

#[test]
fn replay_openstack_under_pacemaker_the_drop_in_proof() {
    let Some(f) = replay("openstack", "rp1", Stack::Pacemaker, None) else {
        return;
    };
    openstack_vip_lost(&f);
}

#[test]
fn replay_openstack_database_primary_host_killed_under_load() {
    let Some(f) = replay("openstack", "rp1", Stack::CrmLite, Some("db")) else {
        return;
    };
    let victim = before(&f, "db-primary");
    assert!(
        f.line("fault ")
            .starts_with(&format!("fault kill {victim} at ")),
        "the primary's host is the one killed: {}",
        f.line("fault ")
    );
    // A replica promoted on a survivor, after the fence: writes resumed there, and it held
    // every row acknowledged before (semi-synchronous replication: only the most advanced
    // replica has them all).
    let promoted = f.line("db promoted on ");
    assert!(
        !promoted.ends_with(&victim) && !promoted.ends_with("none"),
        "{promoted}"
    );
    let primary = promoted.rsplit(' ').next().unwrap_or_default();
    assert!(
        f.line("rows ").contains(&format!("primary={primary} ")),
        "{}",
        f.line("rows ")
    );
    f.no_row_lost(&victim);
    assert!(
        f.replicas_follow(rows_on_primary(&f)) >= 1,
        "no surviving replica checked:\n{}",
        f.0.join("\n")
    );
    f.clean(&[&victim]);
}

/// The `on-new-primary=` count of the `rows` fact.
fn rows_on_primary(f: &Facts) -> u64 {
    let line = f.line("rows ");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("on-new-primary="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{line:?}: no on-new-primary="))
}

#[test]
fn replay_opennebula_front_end_with_the_drbd_primary_lost() {
    let Some(f) = replay("opennebula", "rp2", Stack::CrmLite, None) else {
        return;
    };
    let victim = before(&f, "drbd-primary");
    // The VMs are real QEMU guests, booted on the compute hosts.
    for vm in ["vm-101", "vm-102", "vm-103", "vm-104"] {
        let guest = f.line(&format!("guest {vm} "));
        assert!(
            (guest.contains(" on n4 ") || guest.contains(" on n5 "))
                && guest.ends_with(" booted=yes"),
            "{guest}"
        );
    }
    f.answered_after_fence("api-1", &victim);
    // HAProxy on the other front-ends, with api-2, kept Sunstone reachable.
    assert!(f.after("answered sunstone-through-haproxy ") < f.after(&format!("fenced {victim} ")));
    let after = f.line("after ");
    for key in ["drbd-primary", "one-state-fs", "api-1", "db-primary"] {
        assert!(
            !after.contains(&format!("{key}={victim}")) && !after.contains(&format!("{key}=none")),
            "{after}"
        );
    }
    f.no_row_lost(&victim);
    f.clean(&[&victim]);
}

#[test]
fn replay_cloudstack_host_lost() {
    let Some(f) = replay("cloudstack", "rp3", Stack::CrmLite, None) else {
        return;
    };
    for vm in ["vm-ha-web1", "vm-ha-db1"] {
        // Real QEMU guests: booted on the lost host before, booted on the HA host after.
        assert_eq!(
            f.line(&format!("guest {vm} ")),
            format!("guest {vm} on n3 booted=yes")
        );
        let answered = f.line(&format!("answered {vm} "));
        assert!(
            answered.contains(&format!(" at guest {vm} on n5 ")),
            "{answered}"
        );
        f.answered_after_fence(vm, "n3");
        // On the HA host of the same CloudStack cluster.
        assert_eq!(
            f.line(&format!("placement {vm} ")),
            format!("placement {vm} n5")
        );
    }
    assert_eq!(
        f.line("placement vm-local-build "),
        "placement vm-local-build stopped"
    );
    // The management servers were never on the lost host: they answered throughout.
    assert!(f.after("answered management-through-haproxy:8080 ") < 2.0);
    f.clean(&["n3"]);
}

#[test]
fn replay_vmmanager_partition_without_quorum() {
    let Some(f) = replay("vmmanager", "rp4", Stack::CrmLite, None) else {
        return;
    };
    for n in ["n4", "n5"] {
        let q = f.line(&format!("quorum {n} "));
        assert!(
            q.contains("quorate=No") && q.ends_with("before its fence: yes"),
            "{q}"
        );
    }
    assert_eq!(f.line("quorum n1 "), "quorum n1 quorate=Yes sees=3");
    // The 450 ms token profile: the majority fences a silent node within a few seconds.
    assert!(f.after("fenced n4 ") < 5.0, "{}", f.line("fenced n4 "));
    // vm-1005 and vm-1006 are real QEMU guests: booted on n4 and n5 before the cut, and
    // booted again on the majority after the fences.
    for (vm, home) in [("vm-1005", "n4"), ("vm-1006", "n5")] {
        assert_eq!(
            f.line(&format!("guest {vm} ")),
            format!("guest {vm} on {home} booted=yes")
        );
        let answered = f.line(&format!("answered {vm} "));
        assert!(
            answered.contains(&format!(" at guest {vm} on n")) && !answered.contains(home),
            "{answered}"
        );
    }
    f.answered_after_fence("vm-1005", "n4");
    f.answered_after_fence("vm-1006", "n5");
    f.clean(&["n4", "n5"]);
}

#[test]
fn replay_cloudmin_failover_groups() {
    let Some(f) = replay("cloudmin", "rp5", Stack::CrmLite, None) else {
        return;
    };
    // The VMs that move are real QEMU guests: booted on their home before the faults, and
    // up again (libvirt says running, the console says booted) on a survivor after them.
    assert_eq!(f.line("guest vm-erp "), "guest vm-erp on n1 booted=yes");
    assert_eq!(f.line("guest vm-crm "), "guest vm-crm on n4 booted=yes");
    assert!(
        f.line("answered vm-erp ")
            .contains(" at guest vm-erp on n2 "),
        "{}",
        f.line("answered vm-erp ")
    );
    assert!(
        f.line("answered vm-crm-after-move ")
            .contains(" at guest vm-crm on n5 "),
        "{}",
        f.line("answered vm-crm-after-move ")
    );
    f.answered_after_fence("vm-erp", "n1");
    for (rsc, place) in [
        ("vm-erp", "n2"),
        ("vm-wiki", "n3"),
        ("vm-shop", "stopped"),
        ("vm-mail", "stopped"),
        ("vm-crm", "stopped"),
    ] {
        assert_eq!(
            f.line(&format!("placement {rsc} ")),
            format!("placement {rsc} {place}")
        );
    }
    // The manual group waits for the operator: vm-crm answers only after the move.
    assert!(f.after("answered vm-crm-after-move ") > 0.0);
    let start = f.line("alert start vm-crm ");
    assert!(
        start.contains(" written ") && start.contains("node=n5"),
        "{start}"
    );
    f.clean(&["n1", "n4"]);
}
