//! `ocf:crm-lite:drbd` against `drbd-emu`, an emulator of drbdadm and drbdsetup 9.22: the
//! DRBD kernel module does not exist on these machines (modprobe fails, drbdsetup exits
//! 20), so no real DRBD resource can come up. The emulator prints the real formats and exit
//! codes and lets the tests inject what the kernel would do. What stays real: every
//! drbdadm command line the agent issued is replayed through the real `drbdadm -d` (dry
//! run) against a real two-node drbd.conf, and the emulator's "module missing" answers
//! are compared with what the real tools print on this machine.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use tests::drbd_emu::{self, State};
use tests::{Agent, Outcome, built, have, ocf_tester_with, require, validated_metadata};

const EMU: &str = env!("CARGO_BIN_EXE_drbd-emu");

/// A temp dir with `bin/drbdadm` and `bin/drbdsetup` linked to the emulator, its state
/// file, a real drbd.conf for this host and a peer, and the attribute directory.
struct Lab {
    dir: tempfile::TempDir,
    agent: Agent,
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .expect("hostname")
        .to_string_lossy()
        .into_owned()
}

impl Lab {
    fn new() -> Option<Lab> {
        let Ok(()) = require(
            built("drbd").is_some(),
            "target/<profile>/drbd is not built (run cargo build --workspace)",
        ) else {
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for tool in ["drbdadm", "drbdsetup"] {
            std::os::unix::fs::symlink(EMU, bin.join(tool)).unwrap();
        }
        // A real configuration: drbdadm -d parses it. The disks are placeholders (drbdadm
        // -d does not open them), the peer address is on loopback.
        let conf = format!(
            "global {{ usage-count no; }}\n\
             resource r0 {{\n\
             \x20 device /dev/drbd100 minor 100;\n\
             \x20 disk /dev/loop0;\n\
             \x20 meta-disk internal;\n\
             \x20 on {} {{ node-id 0; address 127.0.0.1:7790; }}\n\
             \x20 on peer {{ node-id 1; address 127.0.0.2:7790; }}\n\
             }}\n",
            hostname()
        );
        std::fs::write(dir.path().join("r0.res"), conf).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut agent = Agent::new(
            &built("drbd").unwrap(),
            "data:0",
            &[
                ("drbd_resource", "r0"),
                ("drbdconf", &dir.path().join("r0.res").display().to_string()),
            ],
        );
        for (k, v) in [
            ("PATH", path),
            (
                drbd_emu::STATE_VAR,
                dir.path().join("state.json").display().to_string(),
            ),
            (
                "CRM_LITE_ATTR_DIR",
                dir.path().join("attrs").display().to_string(),
            ),
        ] {
            agent.env.insert(k.into(), v);
        }
        Some(Lab { dir, agent })
    }

    fn state_file(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("r0.res")
    }

    fn edit(&self, f: impl FnOnce(&mut drbd_emu::Resource)) {
        State::edit(&self.state_file(), "r0", f);
    }

    fn module_missing(&self) {
        let mut s = State::load(&self.state_file()).unwrap();
        s.module_missing = true;
        s.save(&self.state_file()).unwrap();
    }

    fn emu(&self) -> drbd_emu::Resource {
        State::load(&self.state_file())
            .unwrap()
            .resources
            .get("r0")
            .cloned()
            .unwrap_or_default()
    }

    fn score(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("attrs/master-data"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    fn run(&self, action: &str) -> Outcome {
        self.agent.run(action)
    }

    fn probe(&self) -> Outcome {
        self.agent
            .run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")])
    }

    /// The emulator's log: one line per drbdadm or drbdsetup call.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(drbd_emu::log_path(&self.state_file()))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn expect(o: &Outcome, code: i32, what: &str) {
    assert_eq!(o.code, code, "{what}: {o:?}");
    assert!(o.stdout.is_empty(), "{what} wrote to stdout: {o:?}");
}

#[test]
fn lifecycle_start_promote_demote_stop_with_scores() {
    let Some(lab) = Lab::new() else { return };
    expect(&lab.probe(), 7, "probe of a down resource");
    expect(&lab.run("start"), 0, "start");
    assert!(lab.emu().up);
    expect(&lab.run("monitor"), 0, "monitor Secondary");
    assert_eq!(lab.score().as_deref(), Some("10000"));
    expect(&lab.run("start"), 0, "start of a started resource");
    expect(&lab.run("promote"), 0, "promote");
    assert_eq!(lab.emu().role, "Primary");
    expect(&lab.run("monitor"), 8, "monitor Primary");
    expect(&lab.run("promote"), 0, "promote of a Primary");
    expect(&lab.run("demote"), 0, "demote");
    assert_eq!(lab.emu().role, "Secondary");
    expect(&lab.run("monitor"), 0, "monitor after demote");
    expect(&lab.run("stop"), 0, "stop");
    assert!(!lab.emu().up);
    assert_eq!(lab.score(), None, "stop removes the score");
    expect(&lab.run("monitor"), 7, "monitor after stop");
    expect(&lab.run("stop"), 0, "stop of a stopped resource");
    let calls = lab.calls();
    let conf = lab.conf().display().to_string();
    for want in ["dump", "up", "adjust", "primary", "secondary", "down"] {
        let line = format!("drbdadm -c {conf} {want} r0");
        assert!(calls.contains(&line), "no {line:?} in {calls:#?}");
    }
}

#[test]
fn promote_is_refused_without_uptodate_data() {
    let Some(lab) = Lab::new() else { return };
    for (disk, score) in [
        ("Outdated", None),
        ("Inconsistent", None),
        ("Consistent", Some("100")),
    ] {
        lab.edit(|r| r.attach_disk = disk.into());
        expect(&lab.run("start"), 0, disk);
        assert_eq!(lab.score().as_deref(), score, "{disk}");
        let o = lab.run("promote");
        expect(&o, 1, disk);
        assert_eq!(
            o.reason(),
            Some(
                format!("cannot promote: volume 0 of r0 is {disk}, promote needs UpToDate data")
                    .as_str()
            )
        );
        assert_eq!(lab.emu().role, "Secondary");
        expect(&lab.run("stop"), 0, disk);
    }
    assert!(
        !lab.calls().iter().any(|c| c.contains(" primary ")),
        "drbdadm primary was run"
    );
}

#[test]
fn drbds_own_refusal_reaches_the_exit_reason() {
    let Some(lab) = Lab::new() else { return };
    expect(&lab.run("start"), 0, "start");
    lab.edit(|r| r.peer.as_mut().unwrap().role = "Primary".into());
    let o = lab.run("promote");
    expect(&o, 1, "promote beside a Primary peer");
    let reason = o.reason().unwrap_or_default();
    assert!(
        reason.contains("(-1) Multiple primaries not allowed by config")
            && reason.contains("exit code 11"),
        "{reason}"
    );
    expect(&lab.run("stop"), 0, "stop");
}

#[test]
fn a_primary_that_loses_its_disk_is_9_and_recovers() {
    let Some(lab) = Lab::new() else { return };
    expect(&lab.run("start"), 0, "start");
    expect(&lab.run("promote"), 0, "promote");
    // An I/O error: on-io-error detach leaves the Primary Diskless.
    lab.edit(|r| r.disk = "Diskless".into());
    let o = lab.run("monitor");
    expect(&o, 9, "monitor of a Diskless Primary");
    assert_eq!(
        o.reason(),
        Some("r0 is Primary but its volume 0 is Diskless (I/O goes to the peer)")
    );
    assert_eq!(lab.score(), None, "no score without local data");
    lab.edit(|r| r.peer.as_mut().unwrap().reachable = false);
    let o = lab.run("monitor");
    expect(&o, 9, "and its peer gone");
    assert!(
        o.reason().unwrap().contains("no peer has UpToDate data"),
        "{o:?}"
    );
    // Pacemaker's recovery: demote, stop, start (adjust re-attaches).
    expect(&lab.run("demote"), 0, "demote");
    expect(&lab.run("stop"), 0, "stop");
    lab.edit(|r| r.peer.as_mut().unwrap().reachable = true);
    expect(&lab.run("start"), 0, "start");
    expect(&lab.run("monitor"), 0, "monitor");
    assert_eq!(lab.score().as_deref(), Some("10000"));
    expect(&lab.run("stop"), 0, "stop");
}

#[test]
fn scores_follow_the_peer_and_a_held_device_delays_demote() {
    let Some(lab) = Lab::new() else { return };
    expect(&lab.run("start"), 0, "start");
    lab.edit(|r| r.peer.as_mut().unwrap().reachable = false);
    expect(&lab.run("monitor"), 0, "monitor without the peer");
    assert_eq!(lab.score().as_deref(), Some("1000"));
    let post = lab.agent.run_with(
        "notify",
        &[
            ("OCF_RESKEY_CRM_meta_notify_type", "post"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "start"),
        ],
    );
    expect(&post, 0, "notify");
    lab.edit(|r| r.peer.as_mut().unwrap().reachable = true);
    let pre = lab.agent.run_with(
        "notify",
        &[
            ("OCF_RESKEY_CRM_meta_notify_type", "pre"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "promote"),
        ],
    );
    expect(&pre, 0, "notify");
    assert_eq!(lab.score().as_deref(), Some("10000"), "notify refreshed it");
    expect(&lab.run("promote"), 0, "promote");
    lab.edit(|r| r.held_open = true);
    let o = lab
        .agent
        .run_with("demote", &[("OCF_RESKEY_CRM_meta_timeout", "2000")]);
    expect(&o, 1, "demote while held open");
    assert!(
        o.reason()
            .unwrap()
            .contains("(-12) Device is held open by someone"),
        "{o:?}"
    );
    assert!(o.took < std::time::Duration::from_secs(2), "{:?}", o.took);
    lab.edit(|r| r.held_open = false);
    expect(&lab.run("demote"), 0, "demote once released");
    expect(&lab.run("stop"), 0, "stop");
}

#[test]
fn without_the_kernel_module_start_is_5_and_probes_7() {
    let Some(lab) = Lab::new() else { return };
    lab.module_missing();
    let o = lab.run("start");
    expect(&o, 5, "start");
    let reason = o.reason().unwrap_or_default();
    assert!(
        reason.starts_with("the DRBD kernel module is not available: Failed to modprobe drbd"),
        "{reason}"
    );
    expect(&lab.run("validate-all"), 5, "validate-all");
    expect(&lab.probe(), 7, "probe");
    expect(&lab.run("stop"), 0, "stop");
    expect(&lab.run("promote"), 5, "promote");
}

#[test]
fn bad_configuration_is_refused_with_the_parameter_named() {
    let Some(lab) = Lab::new() else { return };
    let o = lab
        .agent
        .run_with("validate-all", &[("OCF_RESKEY_drbd_resource", "r9")]);
    expect(&o, 2, "a resource the configuration lacks");
    assert!(
        o.reason()
            .unwrap()
            .contains("'r9' not defined in your config"),
        "{o:?}"
    );
    let o = lab.agent.run_with(
        "validate-all",
        &[
            ("OCF_RESKEY_crm_feature_set", "3.16.2"),
            ("OCF_RESKEY_CRM_meta_clone_max", "2"),
            ("OCF_RESKEY_CRM_meta_promotable", "false"),
        ],
    );
    expect(&o, 6, "a clone that is not promotable");
    let o = lab.agent.run_with(
        "start",
        &[
            ("OCF_RESKEY_CRM_meta_clone_max", "3"),
            ("OCF_RESKEY_CRM_meta_promoted_max", "1"),
        ],
    );
    expect(&o, 6, "more clones than hosts");
    assert!(
        o.reason().unwrap().contains("declares only 2 hosts"),
        "{o:?}"
    );
    assert!(!lab.emu().up, "a refused start brought nothing up");
}

#[test]
fn ocf_tester_passes_and_meta_data_validates() {
    let Some(lab) = Lab::new() else { return };
    let Ok(()) = require(
        have("ocf-tester"),
        "ocf-tester (resource-agents) is not installed",
    ) else {
        return;
    };
    let env: Vec<(&str, &str)> = ["PATH", drbd_emu::STATE_VAR, "CRM_LITE_ATTR_DIR"]
        .iter()
        .map(|k| (*k, lab.agent.env[*k].as_str()))
        .collect();
    let text = ocf_tester_with(&lab.agent, "data", &env);
    assert!(!text.contains("partially supports"), "{text}");
    assert!(!lab.emu().up, "ocf-tester leaves the resource stopped");
    let Ok(md) = validated_metadata(&lab.agent) else {
        return;
    };
    assert!(md.contains("<action name=\"promote\""));
}

/// Every drbdadm command line the agent issued, replayed through the real drbdadm with
/// `-d` (dry run: it parses the configuration and prints the drbdsetup and drbdmeta calls
/// it would make, without the kernel module).
#[test]
fn every_drbdadm_command_the_agent_issues_is_accepted_by_the_real_drbdadm() {
    let Some(lab) = Lab::new() else { return };
    let real = Path::new("/usr/sbin/drbdadm");
    let Ok(()) = require(real.is_file(), "drbdadm (drbd-utils) is not installed") else {
        return;
    };
    // Drive every action that runs drbdadm.
    for action in [
        "validate-all",
        "start",
        "start",
        "promote",
        "demote",
        "promote",
        "stop",
    ] {
        expect(&lab.run(action), 0, action);
    }
    let lines: BTreeSet<String> = lab
        .calls()
        .into_iter()
        .filter_map(|l| l.strip_prefix("drbdadm ").map(str::to_string))
        .collect();
    let verbs: BTreeSet<&str> = lines
        .iter()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(
        verbs,
        ["adjust", "down", "dump", "primary", "secondary", "up"]
            .into_iter()
            .collect(),
        "{lines:#?}"
    );
    for line in &lines {
        let args: Vec<&str> = line.split_whitespace().collect();
        let out = Command::new(real)
            .arg("-d")
            .args(&args)
            .output()
            .expect("run drbdadm -d");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "drbdadm -d {line} failed: {stdout}{stderr}"
        );
        // The dry run says what it would do: the drbdsetup call of each verb.
        let want = match args[2] {
            "up" | "adjust" => "drbdsetup new-resource r0 0",
            "primary" => "drbdsetup primary r0",
            "secondary" => "drbdsetup secondary r0",
            "down" => "drbdsetup down r0",
            _ => "resource r0",
        };
        assert!(stdout.contains(want), "drbdadm -d {line}: {stdout}{stderr}");
    }
    // A command the real drbdadm refuses is caught the same way.
    let out = Command::new(real)
        .args(["-d", "-c"])
        .arg(lab.conf())
        .args(["primary", "r9"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// The emulator's answers without the kernel module are the real tools' answers on this
/// machine (where the module is missing).
#[test]
fn the_emulated_missing_module_matches_the_real_tools() {
    let Some(lab) = Lab::new() else { return };
    let Ok(()) = require(
        Path::new("/usr/sbin/drbdsetup").is_file(),
        "drbdsetup (drbd-utils) is not installed",
    ) else {
        return;
    };
    // Not a missing requirement but another machine: where the module exists, the real
    // tools would load it (drbdsetup runs modprobe) and there is nothing to compare.
    let module_here = Path::new("/proc/drbd").exists()
        || Command::new("/usr/sbin/modinfo")
            .arg("drbd")
            .output()
            .is_ok_and(|o| o.status.success());
    if module_here {
        eprintln!("skipped: the DRBD kernel module exists here, so no missing module to compare");
        return;
    }
    lab.module_missing();
    let conf = lab.conf().display().to_string();
    for (tool, args) in [
        ("drbdsetup", vec!["events2", "--now", "r0"]),
        ("drbdsetup", vec!["status", "r0", "--json"]),
        ("drbdadm", vec!["-c", &conf, "up", "r0"]),
        ("drbdadm", vec!["-c", &conf, "primary", "r0"]),
        ("drbdadm", vec!["-c", &conf, "down", "r0"]),
    ] {
        // Both found on PATH: drbdadm names the drbdsetup it runs as it was called.
        let real = Command::new(tool)
            .args(&args)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .unwrap();
        let emu = Command::new(tool)
            .args(&args)
            .env("PATH", lab.dir.path().join("bin"))
            .env(drbd_emu::STATE_VAR, lab.state_file())
            .output()
            .unwrap();
        let what = format!("{tool} {}", args.join(" "));
        assert_eq!(emu.status.code(), real.status.code(), "{what}");
        assert_eq!(
            String::from_utf8_lossy(&emu.stdout),
            String::from_utf8_lossy(&real.stdout),
            "{what}"
        );
        assert_eq!(
            String::from_utf8_lossy(&emu.stderr),
            String::from_utf8_lossy(&real.stderr),
            "{what}"
        );
    }
}

/// `cib-examples/drbd-filesystem/cib.xml` is a CIB both Pacemaker and crm-lite accept.
#[test]
fn the_drbd_filesystem_cib_example_verifies() {
    let Ok(()) = require(
        have("crm_verify"),
        "crm_verify (pacemaker-cli-utils) is not installed",
    ) else {
        return;
    };
    let Ok(()) = require(
        built("crm-lite").is_some(),
        "target/<profile>/crm-lite is not built (run cargo build --workspace)",
    ) else {
        return;
    };
    let cib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cib-examples/drbd-filesystem/cib.xml");
    let out = Command::new("crm_verify")
        .arg("-x")
        .arg(&cib)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "crm_verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(built("crm-lite").unwrap())
        .arg("verify")
        .arg(&cib)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "crm-lite verify: {text}");
    assert!(!text.contains("error:"), "{text}");
}

/// Under Pacemaker the score goes through the real `crm_attribute --promotion`. Without a
/// running cluster it fails (exit 102); the agent logs that and still answers truthfully.
#[test]
fn under_pacemaker_a_score_that_cannot_be_recorded_is_logged_not_fatal() {
    let Some(lab) = Lab::new() else { return };
    let Ok(()) = require(
        have("crm_attribute"),
        "crm_attribute (pacemaker-cli-utils) is not installed",
    ) else {
        return;
    };
    let pcmk = [
        ("CRM_LITE_ATTR_DIR", ""),
        ("OCF_RESKEY_crm_feature_set", "3.16.1"),
        ("OCF_RESKEY_CRM_meta_clone_max", "2"),
        ("OCF_RESKEY_CRM_meta_clone_node_max", "1"),
        ("OCF_RESKEY_CRM_meta_promoted_max", "1"),
        ("OCF_RESKEY_CRM_meta_promoted_node_max", "1"),
        ("OCF_RESKEY_CRM_meta_promotable", "true"),
        ("OCF_RESKEY_CRM_meta_notify", "true"),
    ];
    let o = lab.agent.run_with("start", &pcmk);
    expect(&o, 0, "start");
    assert!(
        o.stderr
            .contains("cannot record promotion score: crm_attribute exited with"),
        "{o:?}"
    );
    expect(&lab.agent.run_with("promote", &pcmk), 0, "promote");
    expect(&lab.agent.run_with("monitor", &pcmk), 8, "monitor");
    expect(&lab.agent.run_with("stop", &pcmk), 0, "stop");
    assert_eq!(lab.score(), None, "no file was written under Pacemaker");
}
