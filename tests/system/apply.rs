//! `crm-lite apply` on this machine with real agents (`ocf:heartbeat:Dummy`) and test agents
//! that fail or hang.
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tests::{built, have, require};

const STOCK_OCF: &str = "/usr/lib/ocf";

struct Lab {
    dir: tempfile::TempDir,
    crm_lite: PathBuf,
}

impl Lab {
    fn new() -> Option<Lab> {
        let Ok(()) = require(
            built("crm-lite").is_some(),
            "target/<profile>/crm-lite is not built (run cargo build --workspace)",
        ) else {
            return None;
        };
        let Ok(()) = require(
            Path::new(STOCK_OCF)
                .join("resource.d/heartbeat/Dummy")
                .is_file(),
            "ocf:heartbeat:Dummy is not installed (Debian: resource-agents)",
        ) else {
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        // An OCF root with the stock Dummy (and its shell functions) and two test agents.
        let root = dir.path().join("ocf");
        std::fs::create_dir_all(root.join("resource.d/heartbeat")).unwrap();
        std::fs::create_dir_all(root.join("resource.d/test")).unwrap();
        symlink(Path::new(STOCK_OCF).join("lib"), root.join("lib")).unwrap();
        symlink(
            Path::new(STOCK_OCF).join("resource.d/heartbeat/Dummy"),
            root.join("resource.d/heartbeat/Dummy"),
        )
        .unwrap();
        let agent = |name: &str, start: &str| {
            let p = root.join("resource.d/test").join(name);
            std::fs::write(
                &p,
                format!(
                    "#!/bin/sh\ncase \"$1\" in\n  start) {start} ;;\n  stop) exit 0 ;;\n  monitor) exit 7 ;;\n  \
                     meta-data) echo '<resource-agent name=\"{name}\"/>'; exit 0 ;;\n  *) exit 3 ;;\nesac\n"
                ),
            )
            .unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        agent(
            "failer",
            "echo 'ocf-exit-reason:the service refused to start' >&2; exit 1",
        );
        agent("hanger", "sleep 30; exit 0");
        // Starts slowly, then records its state; monitor reports it like Dummy.
        let slow = root.join("resource.d/test/slow");
        std::fs::write(
            &slow,
            "#!/bin/sh
case \"$1\" in
  start) sleep 2; touch \"$OCF_RESKEY_state\"; exit 0 ;;
               stop) rm -f \"$OCF_RESKEY_state\"; exit 0 ;;
  monitor) [ -f \"$OCF_RESKEY_state\" ] && exit 0; exit 7 ;;
               meta-data) echo '<resource-agent name=\"slow\"/>'; exit 0 ;;
  *) exit 3 ;;
esac
",
        )
        .unwrap();
        std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        Some(Lab {
            dir,
            crm_lite: built("crm-lite").unwrap(),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A one-node CIB around `resources` and `constraints`.
    fn cib(&self, name: &str, resources: &str, constraints: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(
            &p,
            format!(
                r#"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="testnode"/></nodes>
    <resources>{resources}</resources>
    <constraints>{constraints}</constraints>
  </configuration>
  <status/>
</cib>
"#
            ),
        )
        .unwrap();
        p
    }

    fn dummy(&self, id: &str, meta: &str) -> String {
        format!(
            r#"<primitive id="{id}" class="ocf" provider="heartbeat" type="Dummy"><instance_attributes id="{id}-p"><nvpair id="{id}-s" name="state" value="{}"/></instance_attributes>{meta}</primitive>"#,
            self.path("run").join(format!("{id}.state")).display()
        )
    }

    fn apply(&self, cib: &Path) -> (i32, String) {
        let out = Command::new(&self.crm_lite)
            .args(["apply", "--node", "testnode", "--state-dir"])
            .arg(self.path("state"))
            .arg(cib)
            .env("OCF_ROOT", self.path("ocf"))
            .output()
            .expect("run crm-lite apply");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    fn state(&self) -> String {
        std::fs::read_to_string(self.path("state/cib.xml")).unwrap_or_default()
    }
}

#[test]
fn apply_starts_in_order_is_idempotent_and_stops_in_reverse() {
    let Some(lab) = Lab::new() else { return };
    let order = r#"<rsc_order id="a-then-b" first="a" then="b" kind="Mandatory"/>"#;
    let resources = format!("{}{}", lab.dummy("a", ""), lab.dummy("b", ""));
    let cib = lab.cib("cib.xml", &resources, order);
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("probe a on testnode: rc 7"), "{out}");
    let (sa, sb) = (
        out.find("start a on").unwrap(),
        out.find("start b on").unwrap(),
    );
    assert!(sa < sb, "a starts before b:\n{out}");
    assert!(lab.path("run/a.state").exists() && lab.path("run/b.state").exists());

    // Applying again to a converged machine runs nothing.
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to do"), "{out}");
    assert!(!out.contains("start "), "{out}");

    // Pacemaker reads the same state and sees nothing to do either.
    if have("crm_simulate") {
        let shadow = lab.path("shadow");
        std::fs::create_dir_all(&shadow).unwrap();
        let sim = Command::new("crm_simulate")
            .args(["-S", "-x"])
            .arg(lab.path("state/cib.xml"))
            .env("CIB_shadow_dir", &shadow)
            .env("LC_ALL", "C")
            .output()
            .expect("crm_simulate");
        let text = String::from_utf8_lossy(&sim.stdout);
        let summary = text
            .split("Transition Summary:")
            .nth(1)
            .and_then(|s| s.split("Executing").next())
            .unwrap_or("missing");
        assert!(
            summary.trim().is_empty(),
            "crm_simulate wants to act:\n{text}"
        );
    }

    // Stopping the first stops the then before it.
    let stopped = r#"<meta_attributes id="a-m"><nvpair id="a-tr" name="target-role" value="Stopped"/></meta_attributes>"#;
    let resources = format!("{}{}", lab.dummy("a", stopped), lab.dummy("b", ""));
    let cib2 = lab.cib("cib2.xml", &resources, order);
    let (code, out) = lab.apply(&cib2);
    assert_eq!(code, 0, "{out}");
    let (pa, pb) = (
        out.find("stop a on").unwrap(),
        out.find("stop b on").unwrap(),
    );
    assert!(pb < pa, "b stops before a:\n{out}");
    assert!(!lab.path("run/a.state").exists() && !lab.path("run/b.state").exists());
}

#[test]
fn a_failing_start_is_recorded_counted_and_not_retried_past_the_threshold() {
    let Some(lab) = Lab::new() else { return };
    let failer = r#"<primitive id="f" class="ocf" provider="test" type="failer"><meta_attributes id="f-m"><nvpair id="f-mt" name="migration-threshold" value="1"/></meta_attributes></primitive>"#;
    let cib = lab.cib("cib.xml", failer, "");
    let (code, out) = lab.apply(&cib);
    assert_ne!(code, 0, "a failed operation makes apply fail:\n{out}");
    assert!(out.contains("FAILED (rc 1"), "{out}");
    assert!(out.contains("the service refused to start"), "{out}");
    assert_eq!(
        out.matches("start f on testnode ...").count(),
        1,
        "one attempt only:\n{out}"
    );
    let state = lab.state();
    assert!(state.contains("fail-count-f#start_0"), "{state}");
    assert!(state.contains("f_last_failure_0"), "{state}");
}

#[test]
fn an_agent_past_its_timeout_is_killed_and_recorded_as_timed_out() {
    let Some(lab) = Lab::new() else { return };
    let hanger = r#"<primitive id="h" class="ocf" provider="test" type="hanger"><meta_attributes id="h-m"><nvpair id="h-mt" name="migration-threshold" value="1"/></meta_attributes><operations><op id="h-start" name="start" interval="0" timeout="1s"/></operations></primitive>"#;
    let cib = lab.cib("cib.xml", hanger, "");
    let started = Instant::now();
    let (code, out) = lab.apply(&cib);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("timed out"), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let state = lab.state();
    assert!(
        state.contains("op-status=\"2\""),
        "a timeout is op-status 2:\n{state}"
    );
}

impl Lab {
    fn admin(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(&self.crm_lite)
            .args(args)
            .arg("--state-dir")
            .arg(self.path("state"))
            .output()
            .expect("run crm-lite");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }
}

#[test]
fn ban_clear_cleanup_and_status_act_on_the_state_that_apply_keeps() {
    let Some(lab) = Lab::new() else { return };
    let cib = lab.cib("cib.xml", &lab.dummy("a", ""), "");
    assert_eq!(lab.apply(&cib).0, 0);
    let (code, out) = lab.admin(&["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("a") && out.contains("Started") && out.contains("testnode"),
        "{out}"
    );

    // A ban survives the next apply of the same file and stops the resource here.
    let (code, out) = lab.admin(&["ban", "a", "testnode"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("stop a on testnode"), "{out}");
    assert!(!lab.path("run/a.state").exists());
    let (_, out) = lab.admin(&["status"]);
    assert!(out.contains("(none active)"), "{out}");

    // Clearing it lets the resource come back.
    assert_eq!(lab.admin(&["clear", "a"]).0, 0);
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("start a on testnode"), "{out}");

    // Cleanup forgets the history: the next apply probes, finds it running, does nothing.
    let (code, out) = lab.admin(&["cleanup", "a"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("probe a on testnode: rc 0"), "{out}");
    assert!(out.contains("nothing to do"), "{out}");

    // Unknown names are refused, naming what is wrong.
    let (code, out) = lab.admin(&["ban", "nope", "testnode"]);
    assert_ne!(code, 0);
    assert!(out.contains("no resource named nope"), "{out}");
    let (code, out) = lab.admin(&["move", "a", "elsewhere"]);
    assert_ne!(code, 0);
    assert!(out.contains("no node named elsewhere"), "{out}");
}

/// Kills the watching apply (by its pid) when the test ends, pass or fail.
struct Watcher(std::process::Child);

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn watch_runs_the_monitors_and_recovers_a_resource_that_died() {
    let Some(lab) = Lab::new() else { return };
    let monitor =
        r#"<operations><op id="a-mon" name="monitor" interval="1s" timeout="10s"/></operations>"#;
    let cib = lab.cib("cib.xml", &lab.dummy("a", monitor), "");
    let log = std::fs::File::create(lab.path("watch.log")).unwrap();
    let child = Command::new(&lab.crm_lite)
        .args(["apply", "--watch", "--node", "testnode", "--state-dir"])
        .arg(lab.path("state"))
        .arg(&cib)
        .env("OCF_ROOT", lab.path("ocf"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start crm-lite apply --watch");
    let _watcher = Watcher(child);
    let read = || std::fs::read_to_string(lab.path("watch.log")).unwrap_or_default();
    assert!(
        tests::wait_for(Duration::from_secs(20), || read().contains("watching")),
        "{}",
        read()
    );
    assert!(lab.path("run/a.state").exists());
    // The resource dies behind the cluster's back.
    std::fs::remove_file(lab.path("run/a.state")).unwrap();
    assert!(
        tests::wait_for(Duration::from_secs(20), || {
            read().contains("recovering") && lab.path("run/a.state").exists()
        }),
        "{}",
        read()
    );
    let out = read();
    assert!(out.contains("monitor a on testnode failed (rc 7)"), "{out}");
    assert!(
        lab.state().contains("fail-count-a#monitor_1000"),
        "{}",
        lab.state()
    );
}

#[test]
fn a_crash_mid_apply_loses_nothing_and_the_next_apply_starts_nothing_twice() {
    let Some(lab) = Lab::new() else { return };
    let slow = format!(
        r#"<primitive id="s" class="ocf" provider="test" type="slow"><instance_attributes id="s-p"><nvpair id="s-st" name="state" value="{}"/></instance_attributes></primitive>"#,
        lab.path("run/s.state").display()
    );
    let resources = format!("{slow}{}", lab.dummy("b", ""));
    let cib = lab.cib(
        "cib.xml",
        &resources,
        r#"<rsc_order id="s-then-b" first="s" then="b" kind="Mandatory"/>"#,
    );
    let log = std::fs::File::create(lab.path("crash.log")).unwrap();
    let child = Command::new(&lab.crm_lite)
        .args(["apply", "--node", "testnode", "--state-dir"])
        .arg(lab.path("state"))
        .arg(&cib)
        .env("OCF_ROOT", lab.path("ocf"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start crm-lite apply");
    let mut watcher = Watcher(child);
    let read = || std::fs::read_to_string(lab.path("crash.log")).unwrap_or_default();
    assert!(
        tests::wait_for(Duration::from_secs(20), || read().contains("start s on")),
        "{}",
        read()
    );
    // crm-lite dies in the middle of the slow start; the agent, in its own session,
    // finishes the start on its own.
    watcher.0.kill().unwrap();
    let _ = watcher.0.wait();
    assert!(
        tests::wait_for(Duration::from_secs(10), || lab.path("run/s.state").exists()),
        "the interrupted start completed by itself"
    );
    assert!(
        lab.state().contains("op-status=\"-1\""),
        "the start was recorded as in flight"
    );

    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("stopped during an operation on s"), "{out}");
    assert!(
        out.contains("probe s on testnode: rc 0"),
        "the probe finds it running:\n{out}"
    );
    assert!(
        !out.contains("start s on"),
        "s is not started twice:\n{out}"
    );
    assert!(out.contains("start b on"), "{out}");
    assert!(lab.path("run/b.state").exists());
}
