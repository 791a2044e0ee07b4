//! `crm-lite apply` on this machine with real agents (`ocf:heartbeat:Dummy`) and test agents
//! that fail or hang.
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tests::{built, have, require};

const STOCK_OCF: &str = "/usr/lib/ocf";

pub(crate) struct Lab {
    dir: tempfile::TempDir,
    pub(crate) crm_lite: PathBuf,
}

impl Lab {
    pub(crate) fn new() -> Option<Lab> {
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
        let Ok(()) = require(
            Path::new(STOCK_OCF)
                .join("resource.d/pacemaker/Dummy")
                .is_file(),
            "ocf:pacemaker:Dummy is not installed (Debian: pacemaker-resource-agents)",
        ) else {
            return None;
        };
        std::fs::create_dir_all(root.join("resource.d/pacemaker")).unwrap();
        // Pacemaker's agents find the shell functions through the heartbeat directory.
        symlink(
            Path::new(STOCK_OCF).join("resource.d/heartbeat/.ocf-shellfuncs"),
            root.join("resource.d/heartbeat/.ocf-shellfuncs"),
        )
        .unwrap();
        symlink(
            Path::new(STOCK_OCF).join("resource.d/pacemaker/Dummy"),
            root.join("resource.d/pacemaker/Dummy"),
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
  start) touch \"$OCF_RESKEY_state.begun\"; sleep 2; touch \"$OCF_RESKEY_state\"; exit 0 ;;
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

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A one-node CIB around `resources` and `constraints`.
    pub(crate) fn cib(&self, name: &str, resources: &str, constraints: &str) -> PathBuf {
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

    pub(crate) fn dummy(&self, id: &str, meta: &str) -> String {
        format!(
            r#"<primitive id="{id}" class="ocf" provider="heartbeat" type="Dummy"><instance_attributes id="{id}-p"><nvpair id="{id}-s" name="state" value="{}"/></instance_attributes>{meta}</primitive>"#,
            self.path("run").join(format!("{id}.state")).display()
        )
    }

    pub(crate) fn apply(&self, cib: &Path) -> (i32, String) {
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

    pub(crate) fn state(&self) -> String {
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
    pub(crate) fn admin(&self, args: &[&str]) -> (i32, String) {
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
pub(crate) struct Watcher(pub(crate) std::process::Child);

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Lab {
    /// `crm-lite apply --watch` on `cib`, its output in `watch.log`, once it watches.
    pub(crate) fn watch(&self, cib: &Path) -> Watcher {
        let log = std::fs::File::create(self.path("watch.log")).unwrap();
        let child = Command::new(&self.crm_lite)
            .args(["apply", "--watch", "--node", "testnode", "--state-dir"])
            .arg(self.path("state"))
            .arg(cib)
            .env("OCF_ROOT", self.path("ocf"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start crm-lite apply --watch");
        let watcher = Watcher(child);
        let read = || std::fs::read_to_string(self.path("watch.log")).unwrap_or_default();
        assert!(
            tests::wait_for(Duration::from_secs(20), || read().contains("watching")),
            "{}",
            read()
        );
        watcher
    }
}

#[test]
fn watch_runs_the_monitors_and_recovers_a_resource_that_died() {
    let Some(lab) = Lab::new() else { return };
    let monitor =
        r#"<operations><op id="a-mon" name="monitor" interval="1s" timeout="10s"/></operations>"#;
    let cib = lab.cib("cib.xml", &lab.dummy("a", monitor), "");
    let _watcher = lab.watch(&cib);
    let read = || std::fs::read_to_string(lab.path("watch.log")).unwrap_or_default();
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
    crash_mid_start_then_apply(false);
}

#[test]
fn a_resource_whose_start_a_crash_interrupted_is_stopped_when_the_cib_drops_it() {
    crash_mid_start_then_apply(true);
}

/// crm-lite is killed during the slow start of `s`; the next apply has the same CIB, or
/// (`drop_s`) one without `s`.
fn crash_mid_start_then_apply(drop_s: bool) {
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
        tests::wait_for(Duration::from_secs(20), || read().contains("start s on")
            && lab.path("run/s.state.begun").exists()),
        "{}",
        read()
    );
    // crm-lite dies in the middle of the slow start (the agent has begun it, after its
    // meta-data was read); the agent, in its own session, finishes the start on its own.
    watcher.0.kill().unwrap();
    let _ = watcher.0.wait();
    assert!(
        tests::wait_for(Duration::from_secs(10), || lab.path("run/s.state").exists()),
        "the interrupted start completed by itself"
    );
    let journal = std::fs::read_to_string(lab.path("state/journal")).unwrap_or_default();
    assert!(
        journal.contains(r#"rsc="s""#) && journal.contains(r#"pending="1""#),
        "the start was recorded as in flight:\n{journal}"
    );

    if drop_s {
        // Taken out of the CIB meanwhile: still probed (with its last definition), found
        // running, and stopped as the orphan it is.
        let without = lab.cib("without-s.xml", &lab.dummy("b", ""), "");
        let (code, out) = lab.apply(&without);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("probe s on testnode: rc 0"), "{out}");
        assert!(out.contains("stop s on testnode: ok"), "{out}");
        assert!(!lab.path("run/s.state").exists(), "{out}");
        return;
    }
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

/// A fence agent for tests: the fence-agents stdin protocol, every request it gets
/// appended to the file its `log` parameter names; `fail=yes` makes fencing fail.
const FENCE_AGENT: &str = r#"#!/bin/sh
input=$(cat)
get() { printf '%s\n' "$input" | sed -n "s/^$1=//p" | tail -1; }
action=$(get action)
log=$(get log)
[ -n "$log" ] && printf '%s\n---\n' "$input" >> "$log"
case "$action" in
  metadata) echo '<?xml version="1.0"?><resource-agent name="fence_crmlite_test"><parameters><parameter name="port" unique="0"><content type="string"/></parameter></parameters><actions><action name="reboot"/><action name="monitor"/><action name="metadata"/></actions></resource-agent>'; exit 0 ;;
  monitor|status) exit 0 ;;
  list) echo lost; exit 0 ;;
  reboot|off) [ "$(get fail)" = yes ] && exit 1; exit 0 ;;
  *) exit 1 ;;
esac
"#;

/// Write an executable script.
fn script(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl Lab {
    /// Install a test agent `ocf:test:<name>`.
    fn agent(&self, name: &str, body: &str) {
        script(&self.path("ocf/resource.d/test").join(name), body);
    }

    /// A CIB with its own cluster options, nodes and status.
    fn cib_full(
        &self,
        name: &str,
        options: &str,
        nodes: &str,
        resources: &str,
        constraints: &str,
        status: &str,
    ) -> PathBuf {
        let p = self.path(name);
        std::fs::write(
            &p,
            format!(
                r#"<cib validate-with="pacemaker-3.9" crm_feature_set="3.16.1" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config><cluster_property_set id="o">{options}</cluster_property_set></crm_config>
    <nodes>{nodes}</nodes>
    <resources>{resources}</resources>
    <constraints>{constraints}</constraints>
  </configuration>
  <status>{status}</status>
</cib>
"#
            ),
        )
        .unwrap();
        p
    }

    /// Two nodes, n1 and n2, that this machine hosts (`crm-lite-host=localhost`).
    fn hosted_nodes() -> String {
        ["n1", "n2"]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    r#"<node id="{}" uname="{n}"><instance_attributes id="{n}-a"><nvpair id="{n}-h" name="crm-lite-host" value="localhost"/></instance_attributes></node>"#,
                    i + 1
                )
            })
            .collect()
    }

    /// Instance attributes giving `param` a per-node value (`<run>/<id>@<node>.state`-like
    /// paths), through Pacemaker's rule-based sets.
    fn per_node(&self, id: &str, param: &str) -> String {
        let path = |n: &str| {
            self.path("run")
                .join(format!("{id}@{n}.state"))
                .display()
                .to_string()
        };
        Lab::per_node_value(id, param, [&path("n1"), &path("n2")])
    }

    /// Instance attributes giving `param` the value `values[0]` on n1 and `values[1]` on n2.
    fn per_node_value(id: &str, param: &str, values: [&str; 2]) -> String {
        ["n1", "n2"]
            .iter()
            .zip(values)
            .enumerate()
            .map(|(i, (n, v))| {
                format!(
                    r##"<instance_attributes id="{id}-{param}-{n}" score="{}"><rule id="{id}-{param}-{n}-r"><expression id="{id}-{param}-{n}-e" attribute="#uname" operation="eq" value="{n}"/></rule><nvpair id="{id}-{param}-{n}-v" name="{param}" value="{v}"/></instance_attributes>"##,
                    2 - i
                )
            })
            .collect()
    }

    fn apply_with(&self, cib: &Path, env: &[(&str, &Path)]) -> (i32, String) {
        let mut cmd = Command::new(&self.crm_lite);
        cmd.args(["apply", "--node", "testnode", "--state-dir"])
            .arg(self.path("state"))
            .arg(cib)
            .env("OCF_ROOT", self.path("ocf"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run crm-lite apply");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    /// What `crm_simulate` would do with the state apply left (None: not installed).
    fn pacemaker_summary(&self) -> Option<String> {
        if !have("crm_simulate") {
            return None;
        }
        let shadow = self.path("shadow");
        std::fs::create_dir_all(&shadow).unwrap();
        let sim = Command::new("crm_simulate")
            .args(["-S", "-x"])
            .arg(self.path("state/cib.xml"))
            .env("CIB_shadow_dir", &shadow)
            .env("LC_ALL", "C")
            .output()
            .expect("crm_simulate");
        let text = String::from_utf8_lossy(&sim.stdout).into_owned();
        Some(
            text.split("Transition Summary:")
                .nth(1)
                .and_then(|s| s.split("Executing").next())
                .unwrap_or(&text)
                .trim()
                .to_owned(),
        )
    }

    /// A lost node (`lost`) that ran `vip`, a fence device for it, and `vip` (Dummy).
    fn fencing_cib(&self, fail: bool) -> (PathBuf, PathBuf) {
        let fence_dir = self.path("fence");
        std::fs::create_dir_all(&fence_dir).unwrap();
        script(&fence_dir.join("fence_crmlite_test"), FENCE_AGENT);
        let device = format!(
            r#"<primitive id="fence-lost" class="stonith" type="fence_crmlite_test"><instance_attributes id="fl-p"><nvpair id="fl-log" name="log" value="{}"/><nvpair id="fl-h" name="pcmk_host_list" value="lost"/>{}</instance_attributes></primitive>"#,
            self.path("fence.log").display(),
            if fail {
                r#"<nvpair id="fl-f" name="fail" value="yes"/>"#
            } else {
                ""
            }
        );
        let status = r#"<node_state id="2" uname="lost" in_ccm="false" crmd="offline" join="member" expected="member"><lrm id="2"><lrm_resources><lrm_resource id="vip" class="ocf" provider="heartbeat" type="Dummy"><lrm_rsc_op id="vip_last_0" operation_key="vip_start_0" operation="start" crm-debug-origin="test" crm_feature_set="3.16.1" transition-key="1:0:0:00000000-0000-0000-0000-000000000000" transition-magic="0:0;1:0:0:00000000-0000-0000-0000-000000000000" exit-reason="" on_node="lost" call-id="1" rc-code="0" op-status="0" interval="0" last-rc-change="1" exec-time="1" queue-time="0" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/></lrm_resource></lrm_resources></lrm></node_state>"#;
        let cib = self.cib_full(
            "fence.xml",
            r#"<nvpair id="o-s" name="stonith-enabled" value="true"/>"#,
            r#"<node id="1" uname="testnode"/><node id="2" uname="lost"/>"#,
            &format!("{device}{}", self.dummy("vip", "")),
            "",
            status,
        );
        (cib, fence_dir)
    }
}

#[test]
fn a_lost_node_is_fenced_through_its_fence_agent_before_its_resource_is_recovered() {
    let Some(lab) = Lab::new() else { return };
    let (cib, fence_dir) = lab.fencing_cib(false);
    let (code, out) = lab.apply_with(&cib, &[("CRM_LITE_FENCE_DIR", &fence_dir)]);
    assert_eq!(code, 0, "{out}");
    let fenced = out
        .find("fence (reboot) lost: ok (by fence-lost)")
        .unwrap_or_else(|| panic!("no fence:\n{out}"));
    let started = out
        .find("start vip on testnode ...")
        .unwrap_or_else(|| panic!("no start:\n{out}"));
    assert!(fenced < started, "vip starts only after the fence:\n{out}");
    assert!(
        out.contains("stop vip on lost: done by fencing lost"),
        "{out}"
    );
    assert!(lab.path("run/vip.state").exists());
    // The agent got the fence-agents protocol on its standard input.
    let log = std::fs::read_to_string(lab.path("fence.log")).unwrap_or_default();
    let reboot = log
        .split("---")
        .find(|r| r.contains("action=reboot"))
        .unwrap_or_else(|| panic!("no reboot request:\n{log}"));
    assert!(reboot.contains("nodename=lost"), "{reboot}");
    assert!(
        reboot.contains("port=lost"),
        "the agent's host argument:\n{reboot}"
    );
    assert!(
        !reboot.contains("pcmk_host_list"),
        "pcmk_* stay Pacemaker's:\n{reboot}"
    );
    // The node is recorded as fenced (down, clean, no history), which Pacemaker reads as
    // nothing left to do.
    let state = lab.state();
    assert!(
        state.contains(r#"uname="lost" in_ccm="false" crmd="offline" join="down" expected="down""#),
        "{state}"
    );
    if let Some(summary) = lab.pacemaker_summary() {
        assert!(summary.is_empty(), "crm_simulate wants to act:\n{summary}");
    }
    let (code, out) = lab.apply_with(&cib, &[("CRM_LITE_FENCE_DIR", &fence_dir)]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to do"), "{out}");
}

#[test]
fn when_fencing_fails_the_lost_nodes_resource_is_not_started_elsewhere() {
    let Some(lab) = Lab::new() else { return };
    let (cib, fence_dir) = lab.fencing_cib(true);
    let (code, out) = lab.apply_with(&cib, &[("CRM_LITE_FENCE_DIR", &fence_dir)]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("fence (reboot) lost: FAILED (fence-lost rc 1)"),
        "{out}"
    );
    assert!(!out.contains("start vip on"), "{out}");
    assert!(!lab.path("run/vip.state").exists());
}

#[test]
fn a_cib_with_no_device_for_enabled_fencing_is_refused_before_anything_runs() {
    let Some(lab) = Lab::new() else { return };
    let cib = lab.cib_full(
        "nodev.xml",
        r#"<nvpair id="o-s" name="stonith-enabled" value="true"/>"#,
        r#"<node id="1" uname="testnode"/>"#,
        &lab.dummy("a", ""),
        "",
        "",
    );
    let (code, out) = lab.apply(&cib);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("configures no fencing device"), "{out}");
    assert!(!lab.path("run/a.state").exists());
}

#[test]
fn a_start_that_fails_on_one_node_moves_the_resource_and_its_colocated_partner() {
    let Some(lab) = Lab::new() else { return };
    // Like Dummy, but its start fails on the node named by `bad_node`.
    lab.agent(
        "picky",
        "#!/bin/sh
case \"$1\" in
  start) [ \"$OCF_RESKEY_CRM_meta_on_node\" = \"$OCF_RESKEY_bad_node\" ] && { echo 'ocf-exit-reason:not on this node' >&2; exit 1; }
         touch \"$OCF_RESKEY_state\"; exit 0 ;;
  stop) rm -f \"$OCF_RESKEY_state\"; exit 0 ;;
  monitor) [ -f \"$OCF_RESKEY_state\" ] && exit 0; exit 7 ;;
  meta-data) echo '<resource-agent name=\"picky\"/>'; exit 0 ;;
  *) exit 3 ;;
esac
"
    );
    let p = format!(
        r#"<primitive id="p" class="ocf" provider="test" type="picky"><instance_attributes id="p-all"><nvpair id="p-bad" name="bad_node" value="n1"/></instance_attributes>{}<meta_attributes id="p-m"><nvpair id="p-mt" name="migration-threshold" value="1"/></meta_attributes></primitive>"#,
        lab.per_node("p", "state")
    );
    let follower = format!(
        r#"<primitive id="f" class="ocf" provider="heartbeat" type="Dummy">{}</primitive>"#,
        lab.per_node("f", "state")
    );
    let cib = lab.cib_full(
        "picky.xml",
        r#"<nvpair id="o-s" name="stonith-enabled" value="false"/>"#,
        &Lab::hosted_nodes(),
        &format!("{p}{follower}"),
        r#"<rsc_location id="p-pref" rsc="p" node="n1" score="100"/><rsc_colocation id="f-with-p" rsc="f" with-rsc="p" score="INFINITY"/><rsc_order id="p-then-f" first="p" then="f"/>"#,
        "",
    );
    let (code, out) = lab.apply(&cib);
    // It converged, but says a start failed on the way.
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("converged, but 1 operation(s) failed"),
        "{out}"
    );
    assert!(
        out.contains("start p on n1: FAILED (rc 1, "),
        "the agent ran as n1:\n{out}"
    );
    assert!(out.contains("not on this node"), "{out}");
    assert!(out.contains("start p on n2: ok"), "{out}");
    assert!(out.contains("start f on n2: ok"), "{out}");
    assert!(lab.path("run/p@n2.state").exists());
    assert!(lab.path("run/f@n2.state").exists());
    assert!(!lab.path("run/f@n1.state").exists());
    assert!(lab.state().contains("fail-count-p#start_0"));
    if let Some(summary) = lab.pacemaker_summary() {
        assert!(summary.is_empty(), "crm_simulate wants to act:\n{summary}");
    }
}

#[test]
fn a_move_live_migrates_with_pacemakers_dummy_between_hosted_nodes() {
    let Some(lab) = Lab::new() else { return };
    let d = format!(
        r#"<primitive id="d" class="ocf" provider="pacemaker" type="Dummy">{}<meta_attributes id="d-m"><nvpair id="d-am" name="allow-migrate" value="true"/></meta_attributes></primitive>"#,
        lab.per_node("d", "state")
    );
    let cib = lab.cib_full(
        "mig.xml",
        r#"<nvpair id="o-s" name="stonith-enabled" value="false"/>"#,
        &Lab::hosted_nodes(),
        &d,
        r#"<rsc_location id="d-pref" rsc="d" node="n1" score="100"/>"#,
        "",
    );
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    // Both hosted nodes were probed, each with its own parameters.
    assert!(out.contains("probe d on n1: rc 7"), "{out}");
    assert!(out.contains("probe d on n2: rc 7"), "{out}");
    assert!(lab.path("run/d@n1.state").exists());

    let (code, out) = lab.admin(&["move", "d", "n2"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("migrate d from n1 to n2: migrate_to ok"),
        "{out}"
    );
    assert!(out.contains("migrate_from ok"), "{out}");
    assert!(
        !out.contains("start d on"),
        "a migration, not a restart:\n{out}"
    );
    assert!(!lab.path("run/d@n1.state").exists());
    assert!(lab.path("run/d@n2.state").exists());
    let state = lab.state();
    assert!(
        state.contains(r#"migrate_source="n1" migrate_target="n2""#),
        "{state}"
    );
    if let Some(summary) = lab.pacemaker_summary() {
        assert!(summary.is_empty(), "crm_simulate wants to act:\n{summary}");
    }
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to do"), "{out}");
}

#[test]
fn independent_actions_overlap_up_to_batch_limit_and_ordered_ones_never_do() {
    let Some(lab) = Lab::new() else { return };
    // Logs when each start begins and ends (ns), then behaves like `slow`.
    lab.agent(
        "timed",
        &format!(
            "#!/bin/sh
log={}
case \"$1\" in
  start) echo \"$OCF_RESOURCE_INSTANCE begin $(date +%s%N)\" >> $log; sleep 0.5
         echo \"$OCF_RESOURCE_INSTANCE end $(date +%s%N)\" >> $log; touch \"$OCF_RESKEY_state\"; exit 0 ;;
  stop) rm -f \"$OCF_RESKEY_state\"; exit 0 ;;
  monitor) [ -f \"$OCF_RESKEY_state\" ] && exit 0; exit 7 ;;
  meta-data) echo '<resource-agent name=\"timed\"/>'; exit 0 ;;
  *) exit 3 ;;
esac
",
            lab.path("timed.log").display()
        )
    );
    let rsc = |id: &str| {
        format!(
            r#"<primitive id="{id}" class="ocf" provider="test" type="timed"><instance_attributes id="{id}-p"><nvpair id="{id}-s" name="state" value="{}"/></instance_attributes></primitive>"#,
            lab.path("run").join(format!("{id}.state")).display()
        )
    };
    let spans = || -> std::collections::BTreeMap<String, (u128, u128)> {
        let log = std::fs::read_to_string(lab.path("timed.log")).unwrap_or_default();
        let mut m = std::collections::BTreeMap::new();
        for l in log.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            let t: u128 = f[2].parse().unwrap();
            let e = m.entry(f[0].to_owned()).or_insert((0, 0));
            if f[1] == "begin" { e.0 = t } else { e.1 = t }
        }
        m
    };
    let overlap = |a: (u128, u128), b: (u128, u128)| a.0 < b.1 && b.0 < a.1;
    // x, y, z free; z before w.
    let resources = format!("{}{}{}{}", rsc("x"), rsc("y"), rsc("z"), rsc("w"));
    let order = r#"<rsc_order id="z-then-w" first="z" then="w"/>"#;
    let options = |limit: u32| {
        format!(
            r#"<nvpair id="o-s" name="stonith-enabled" value="false"/><nvpair id="o-b" name="batch-limit" value="{limit}"/>"#
        )
    };
    let cib = lab.cib_full(
        "par.xml",
        &options(3),
        r#"<node id="1" uname="testnode"/>"#,
        &resources,
        order,
        "",
    );
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    let s = spans();
    assert_eq!(s.len(), 4, "{s:?}");
    assert!(
        overlap(s["x"], s["y"]) && overlap(s["y"], s["z"]),
        "{s:?}\n{out}"
    );
    assert!(s["z"].1 <= s["w"].0, "w waits for z: {s:?}");
    // The most running at one moment: at some start, count who runs then.
    let at_once = s
        .values()
        .map(|a| s.values().filter(|b| b.0 <= a.0 && a.0 < b.1).count())
        .max()
        .unwrap_or(0);
    assert!(at_once <= 3, "never more than batch-limit: {s:?}");

    // With batch-limit 1, nothing overlaps.
    let stopped = lab.cib_full(
        "none.xml",
        &format!(
            r#"{}<nvpair id="o-sa" name="stop-all-resources" value="true"/>"#,
            options(3)
        ),
        r#"<node id="1" uname="testnode"/>"#,
        &resources,
        order,
        "",
    );
    assert_eq!(lab.apply(&stopped).0, 0);
    std::fs::remove_file(lab.path("timed.log")).unwrap();
    let serial = lab.cib_full(
        "ser.xml",
        &options(1),
        r#"<node id="1" uname="testnode"/>"#,
        &resources,
        order,
        "",
    );
    let (code, out) = lab.apply(&serial);
    assert_eq!(code, 0, "{out}");
    let s = spans();
    assert_eq!(s.len(), 4, "{s:?}");
    for (a, x) in &s {
        for (b, y) in &s {
            assert!(a == b || !overlap(*x, *y), "{a} and {b} overlap: {s:?}");
        }
    }
}

#[test]
fn a_plan_that_needs_a_node_this_machine_does_not_host_is_refused() {
    let Some(lab) = Lab::new() else { return };
    let cib = lab.cib_full(
        "far.xml",
        r#"<nvpair id="o-s" name="stonith-enabled" value="false"/>"#,
        r#"<node id="1" uname="testnode"/><node id="2" uname="far"/>"#,
        &lab.dummy("a", ""),
        r#"<rsc_location id="a-far" rsc="a" node="far" score="INFINITY"/><rsc_location id="a-not-here" rsc="a" node="testnode" score="-INFINITY"/>"#,
        r#"<node_state id="2" uname="far" in_ccm="true" crmd="online" join="member" expected="member"/>"#,
    );
    let (code, out) = lab.apply(&cib);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("on node far, which this machine cannot act on"),
        "{out}"
    );
    assert!(!lab.path("run/a.state").exists());
}

#[test]
fn a_resource_taken_out_of_the_cib_is_stopped_with_the_parameters_it_ran_with() {
    let Some(lab) = Lab::new() else { return };
    let both = format!("{}{}", lab.dummy("a", ""), lab.dummy("b", ""));
    let cib = lab.cib("both.xml", &both, "");
    assert_eq!(lab.apply(&cib).0, 0);
    assert!(lab.path("run/a.state").exists());
    let only_b = lab.cib("only-b.xml", &lab.dummy("b", ""), "");
    let (code, out) = lab.apply(&only_b);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("stop a on testnode: ok"), "{out}");
    assert!(
        !lab.path("run/a.state").exists(),
        "Dummy got its state parameter"
    );
    assert!(lab.path("run/b.state").exists());
    let (code, out) = lab.apply(&only_b);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to do"), "{out}");
}

#[test]
fn a_promotable_clone_is_promoted_where_its_agent_scores_highest() {
    let Some(lab) = Lab::new() else { return };
    // Promotable: its start and monitor leave this node's promotion score (the `score`
    // parameter, per node) where crm-lite's executor collects it.
    lab.agent(
        "promo",
        "#!/bin/sh
base=${OCF_RESOURCE_INSTANCE%%:*}
st=\"$OCF_RESKEY_state\"
score() { mkdir -p \"$CRM_LITE_ATTR_DIR\" && echo \"$OCF_RESKEY_score\" > \"$CRM_LITE_ATTR_DIR/master-$base\"; }
case \"$1\" in
  start) touch \"$st\"; score; exit 0 ;;
  stop) rm -f \"$st\" \"$st.promoted\" \"$CRM_LITE_ATTR_DIR/master-$base\"; exit 0 ;;
  promote) touch \"$st.promoted\"; exit 0 ;;
  demote) rm -f \"$st.promoted\"; exit 0 ;;
  monitor) [ -f \"$st\" ] || exit 7; score; [ -f \"$st.promoted\" ] && exit 8; exit 0 ;;
  meta-data) echo '<resource-agent name=\"promo\"/>'; exit 0 ;;
  *) exit 3 ;;
esac
"
    );
    let scores = Lab::per_node_value("p", "score", ["5", "10"]);
    let clone = format!(
        r#"<clone id="p-clone"><meta_attributes id="pc-m"><nvpair id="pc-p" name="promotable" value="true"/><nvpair id="pc-pm" name="promoted-max" value="1"/></meta_attributes><primitive id="p" class="ocf" provider="test" type="promo">{}{scores}<operations><op id="p-m1" name="monitor" interval="5s" role="Promoted"/><op id="p-m2" name="monitor" interval="6s" role="Unpromoted"/></operations></primitive></clone>"#,
        lab.per_node("p", "state")
    );
    let cib = lab.cib_full(
        "promo.xml",
        r#"<nvpair id="o-s" name="stonith-enabled" value="false"/>"#,
        &Lab::hosted_nodes(),
        &clone,
        "",
        "",
    );
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("promote p on n2: ok"), "{out}");
    assert!(!out.contains("promote p on n1"), "{out}");
    assert!(lab.path("run/p@n2.state.promoted").exists());
    assert!(lab.path("run/p@n1.state").exists());
    let state = lab.state();
    assert!(
        state.contains(r#"name="master-p" value="10""#),
        "the scores are in the status as Pacemaker keeps them:\n{state}"
    );
    if let Some(summary) = lab.pacemaker_summary() {
        assert!(summary.is_empty(), "crm_simulate wants to act:\n{summary}");
    }
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to do"), "{out}");
    // crm-lite status names the roles as crm_mon does.
    let (code, out) = lab.admin(&["status"]);
    assert_eq!(code, 0, "{out}");
    let row = |role: &str, node: &str| {
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["*", "p", role, node])
    };
    assert!(row("Promoted", "n2") && row("Unpromoted", "n1"), "{out}");
}

#[test]
fn hosted_nodes_keep_their_agents_runtime_files_apart() {
    let Some(lab) = Lab::new() else { return };
    let Ok(()) = require(
        tests::is_root(),
        "needs root (agents write to /run/resource-agents)",
    ) else {
        return;
    };
    // ocf:heartbeat:Dummy keeps its state in $HA_RSCTMP: on one machine, two emulated
    // nodes would otherwise see each other's resource.
    let id = format!("solo{}", std::process::id());
    let solo = format!(r#"<primitive id="{id}" class="ocf" provider="heartbeat" type="Dummy"/>"#);
    let pref = format!(r#"<rsc_location id="solo-pref" rsc="{id}" node="n1" score="100"/>"#);
    let opts = r#"<nvpair id="o-s" name="stonith-enabled" value="false"/>"#;
    let cib = lab.cib_full("solo.xml", opts, &Lab::hosted_nodes(), &solo, &pref, "");
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("start {id} on n1")), "{out}");
    let n1_state = Path::new("/run/resource-agents/n1").join(format!("Dummy-{id}.state"));
    assert!(n1_state.exists(), "{out}");
    assert!(
        !Path::new("/run/resource-agents/n2")
            .join(format!("Dummy-{id}.state"))
            .exists()
    );

    // Forget the history: probes find it on n1 only, so nothing moves or restarts.
    std::fs::remove_dir_all(lab.path("state")).unwrap();
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("probe {id} on n1: rc 0")), "{out}");
    assert!(out.contains(&format!("probe {id} on n2: rc 7")), "{out}");
    assert!(!out.contains("start ") && !out.contains("stop "), "{out}");

    // Leave nothing behind in /run.
    let empty = lab.cib_full("none.xml", opts, &Lab::hosted_nodes(), "", "", "");
    let (code, out) = lab.apply(&empty);
    assert_eq!(code, 0, "{out}");
    assert!(!n1_state.exists(), "{out}");
}

/// A plain HTTP GET on loopback: the body, or None when nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    reply.split("\r\n\r\n").nth(1).map(str::to_owned)
}

#[test]
fn apply_runs_the_real_mgmt_api_agent_and_watch_restarts_a_killed_server() {
    let Some(lab) = Lab::new() else { return };
    let Ok(()) = require(
        built("mgmt-api").is_some() && have("python3"),
        "target/<profile>/mgmt-api is not built or python3 is missing",
    ) else {
        return;
    };
    std::fs::create_dir_all(lab.path("ocf/resource.d/crm-lite")).unwrap();
    symlink(
        built("mgmt-api").unwrap(),
        lab.path("ocf/resource.d/crm-lite/mgmt-api"),
    )
    .unwrap();
    let www = lab.path("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("health"), "ok\n").unwrap();
    let (port1, port2) = (tests::free_port(), tests::free_port());
    let api = |id: &str, port: u16| {
        let pidfile = lab.path("run").join(format!("{id}.pid"));
        format!(
            r#"<primitive id="{id}" class="ocf" provider="crm-lite" type="mgmt-api"><instance_attributes id="{id}-p">
<nvpair id="{id}-c" name="command" value="python3 -m http.server {port} --bind 127.0.0.1 --directory {}"/>
<nvpair id="{id}-h" name="health_url" value="http://127.0.0.1:{port}/health"/>
<nvpair id="{id}-b" name="expect_body" value="^ok"/>
<nvpair id="{id}-pf" name="pidfile" value="{}"/>
<nvpair id="{id}-w" name="workdir" value="{}"/>
</instance_attributes><operations><op id="{id}-m" name="monitor" interval="1s" timeout="10s"/></operations></primitive>"#,
            www.display(),
            pidfile.display(),
            lab.path("run").display()
        )
    };
    let resources = format!("{}{}", api("api-1", port1), api("api-2", port2));
    let order = r#"<rsc_order id="o1" first="api-1" then="api-2" kind="Mandatory"/>"#;
    let cib = lab.cib("api.xml", &resources, order);
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    let (s1, s2) = (
        out.find("start api-1 on testnode: ok").expect(&out),
        out.find("] start api-2 on testnode ...").expect(&out),
    );
    assert!(s1 < s2, "api-2 starts only after api-1 is up:\n{out}");
    assert_eq!(http_get(port1, "/health").as_deref(), Some("ok\n"));
    assert_eq!(http_get(port2, "/health").as_deref(), Some("ok\n"));
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to do"), "{out}");

    // --watch: the server of api-1 is killed; the next monitor fails and it is restarted.
    let pid_of = || {
        std::fs::read_to_string(lab.path("run/api-1.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
    };
    let old = pid_of().expect("api-1's pid file");
    let watcher = lab.watch(&cib);
    let read = || std::fs::read_to_string(lab.path("watch.log")).unwrap_or_default();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        tests::wait_for(Duration::from_secs(30), || {
            pid_of().is_some_and(|p| p != old) && http_get(port1, "/health").is_some()
        }),
        "{}",
        read()
    );
    drop(watcher);
    let out = read();
    assert!(out.contains("monitor api-1 on testnode failed"), "{out}");
    assert_eq!(http_get(port1, "/health").as_deref(), Some("ok\n"));

    // Taken out of the CIB: both servers stop.
    let empty = lab.cib("empty.xml", "", "");
    let (code, out) = lab.apply(&empty);
    assert_eq!(code, 0, "{out}");
    assert!(http_get(port1, "/health").is_none(), "{out}");
    assert!(http_get(port2, "/health").is_none(), "{out}");
}

#[test]
fn a_changed_reloadable_parameter_reloads_and_a_unique_one_restarts() {
    let Some(lab) = Lab::new() else { return };
    // A pre-OCF-1.1 agent with a reload action: `weight` (unique=0) can be reloaded,
    // `state` (unique=1) cannot. Every call is logged.
    let log = lab.path("calls.log");
    lab.agent(
        "reloader",
        &format!(
            r#"#!/bin/sh
echo "$1 weight=$OCF_RESKEY_weight" >> {log}
case "$1" in
  start) touch "$OCF_RESKEY_state"; exit 0 ;;
  stop) rm -f "$OCF_RESKEY_state"; exit 0 ;;
  reload) exit 0 ;;
  monitor) [ -f "$OCF_RESKEY_state" ] && exit 0; exit 7 ;;
  meta-data) cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="reloader"><version>1.0</version>
<parameters>
<parameter name="state" unique="1"><content type="string"/></parameter>
<parameter name="weight" unique="0"><content type="string"/></parameter>
</parameters>
<actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s"/><action name="reload" timeout="20s"/>
<action name="meta-data" timeout="5s"/></actions>
</resource-agent>
XML
    exit 0 ;;
  *) exit 3 ;;
esac
"#,
            log = log.display()
        ),
    );
    let rsc = |weight: &str, state: &str| {
        format!(
            r#"<primitive id="r" class="ocf" provider="test" type="reloader"><instance_attributes id="r-p"><nvpair id="r-s" name="state" value="{}"/><nvpair id="r-w" name="weight" value="{weight}"/></instance_attributes></primitive>"#,
            lab.path("run").join(state).display()
        )
    };
    // What the agent was asked to do (each apply also reads its meta-data once).
    let calls = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with("meta-data"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let cib = lab.cib("r1.xml", &rsc("1", "r.state"), "");
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    let state = lab.state();
    assert!(
        state.contains(r#"op-force-restart=" state ""#) && state.contains("op-restart-digest="),
        "the start is recorded with what forces a restart, as Pacemaker records it:\n{state}"
    );

    // Pacemaker reads the recorded history the same way: a new weight is a reload.
    let changed = state.replace(r#"name="weight" value="1""#, r#"name="weight" value="2""#);
    assert_ne!(changed, state);
    std::fs::write(lab.path("changed.xml"), &changed).unwrap();
    if have("crm_simulate") {
        let sim = Command::new("crm_simulate")
            .args(["-S", "-x"])
            .arg(lab.path("changed.xml"))
            .env("CIB_shadow_dir", lab.path("run"))
            .env("LC_ALL", "C")
            .output()
            .expect("crm_simulate");
        let text = String::from_utf8_lossy(&sim.stdout);
        assert!(text.contains("Reload") && text.contains(" r "), "{text}");
    }
    let before = calls().lines().count();
    let (code, out) = lab.apply(&lab.cib("r2.xml", &rsc("2", "r.state"), ""));
    assert_eq!(code, 0, "{out}");
    let new: Vec<String> = calls().lines().skip(before).map(str::to_owned).collect();
    assert_eq!(new, ["reload weight=2"], "{out}");
    let (code, out) = lab.apply(&lab.cib("r2.xml", &rsc("2", "r.state"), ""));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to do"), "{out}");

    // A new state file (unique) cannot be reloaded: stop, then start.
    let before = calls().lines().count();
    let (code, out) = lab.apply(&lab.cib("r3.xml", &rsc("2", "other.state"), ""));
    assert_eq!(code, 0, "{out}");
    let new: Vec<String> = calls().lines().skip(before).map(str::to_owned).collect();
    assert_eq!(new, ["stop weight=2", "start weight=2"], "{out}");
    assert!(lab.path("run/other.state").exists());
}

#[test]
fn the_history_of_a_node_the_cib_no_longer_names_is_dropped_not_inherited() {
    let Some(lab) = Lab::new() else { return };
    // testnode (id 1) runs a; then the CIB names n1 (also id 1) and n2 instead. Pacemaker
    // matches node status by id: kept, testnode's history would pass for n1's.
    let cib = lab.cib("one.xml", &lab.dummy("a", ""), "");
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("start a on testnode: ok"), "{out}");
    let a = format!(
        r#"<primitive id="a" class="ocf" provider="heartbeat" type="Dummy">{}</primitive>"#,
        lab.per_node("a", "state")
    );
    let pref = r#"<rsc_location id="a-pref" rsc="a" node="n1" score="100"/>"#;
    let opts = r#"<nvpair id="o-s" name="stonith-enabled" value="false"/>"#;
    let two = lab.cib_full("two.xml", opts, &Lab::hosted_nodes(), &a, pref, "");
    let (code, out) = lab.apply(&two);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("the history of node testnode is dropped"),
        "{out}"
    );
    assert!(out.contains("probe a on n1: rc 7"), "{out}");
    assert!(out.contains("start a on n1: ok"), "{out}");
    assert!(!lab.state().contains(r#"uname="testnode""#));
}

/// A promotable clone `p-clone` (notify=true) of the `notifier` test agent on the hosted
/// nodes n1 and n2 (n2 scores higher), and `app` ordered after its promotion. The agent
/// logs each notification to `notify.log` (one line, in order) and its variables to
/// `notify.log.vars`; it fails the first notification of kind `fail_once` (e.g.
/// `post-start`), if any. Returns the lab, the CIB and the log's path.
fn notifying_clone_lab(fail_once: &str) -> Option<(Lab, PathBuf, PathBuf)> {
    let lab = Lab::new()?;
    let log = lab.path("notify.log");
    // Promotable, like the promo agent; every notification is logged with its variables.
    lab.agent(
        "notifier",
        &format!(
            r#"#!/bin/sh
base=${{OCF_RESOURCE_INSTANCE%%:*}}
st="$OCF_RESKEY_state"
score() {{ mkdir -p "$CRM_LITE_ATTR_DIR" && echo "$OCF_RESKEY_score" > "$CRM_LITE_ATTR_DIR/master-$base"; }}
case "$1" in
  start) touch "$st"; score; exit 0 ;;
  stop) rm -f "$st" "$st.promoted"; exit 0 ;;
  promote) touch "$st.promoted"; echo "promote on $OCF_RESKEY_CRM_meta_on_node" >> {log}; exit 0 ;;
  demote) rm -f "$st.promoted"; exit 0 ;;
  notify)
    echo "notify $OCF_RESKEY_CRM_meta_notify_type-$OCF_RESKEY_CRM_meta_notify_operation on $OCF_RESKEY_CRM_meta_on_node start=$OCF_RESKEY_CRM_meta_notify_start_uname promote=$OCF_RESKEY_CRM_meta_notify_promote_uname" >> {log}
    echo "$OCF_RESKEY_CRM_meta_notify_type-$OCF_RESKEY_CRM_meta_notify_operation on $OCF_RESKEY_CRM_meta_on_node: key=$OCF_RESKEY_CRM_meta_notify_key_type-$OCF_RESKEY_CRM_meta_notify_key_operation active=$OCF_RESKEY_CRM_meta_notify_active_uname promoted=$OCF_RESKEY_CRM_meta_notify_promoted_uname unpromoted=$OCF_RESKEY_CRM_meta_notify_unpromoted_uname promote_rsc=$OCF_RESKEY_CRM_meta_notify_promote_resource all=$OCF_RESKEY_CRM_meta_notify_all_uname notify=$OCF_RESKEY_CRM_meta_notify clone=$OCF_RESKEY_CRM_meta_clone clone_max=$OCF_RESKEY_CRM_meta_clone_max master_max=$OCF_RESKEY_CRM_meta_master_max" >> {log}.vars
    # Fails the first notification it gets of kind $fail_once, if one is set (mkdir is
    # atomic: of two instances notified at once, only one fails).
    if [ "$OCF_RESKEY_CRM_meta_notify_type-$OCF_RESKEY_CRM_meta_notify_operation" = "{fail_once}" ] && mkdir {log}.failed 2>/dev/null; then
      echo "ocf-exit-reason:told to fail once" >&2; exit 1
    fi
    exit 0 ;;
  monitor) [ -f "$st" ] || exit 7; score; [ -f "$st.promoted" ] && exit 8; exit 0 ;;
  meta-data) echo '<resource-agent name="notifier"/>'; exit 0 ;;
  *) exit 3 ;;
esac
"#,
            log = log.display(),
            fail_once = fail_once,
        ),
    );
    lab.agent(
        "after",
        &format!(
            "#!/bin/sh\ncase \"$1\" in\n  start) echo \"start after\" >> {log}; touch \"$OCF_RESKEY_state\"; exit 0 ;;\n  \
             stop) rm -f \"$OCF_RESKEY_state\"; exit 0 ;;\n  monitor) [ -f \"$OCF_RESKEY_state\" ] && exit 0; exit 7 ;;\n  \
             meta-data) echo '<resource-agent name=\"after\"/>'; exit 0 ;;\n  *) exit 3 ;;\nesac\n",
            log = log.display()
        ),
    );
    let scores = Lab::per_node_value("p", "score", ["5", "10"]);
    let resources = format!(
        r#"<clone id="p-clone"><meta_attributes id="pc-m"><nvpair id="pc-p" name="promotable" value="true"/><nvpair id="pc-n" name="notify" value="true"/></meta_attributes><primitive id="p" class="ocf" provider="test" type="notifier">{}{scores}</primitive></clone><primitive id="app" class="ocf" provider="test" type="after"><instance_attributes id="app-p"><nvpair id="app-s" name="state" value="{}"/></instance_attributes></primitive>"#,
        lab.per_node("p", "state"),
        lab.path("run/app.state").display()
    );
    let order = r#"<rsc_order id="promote-then-app" first="p-clone" first-action="promote" then="app" then-action="start" kind="Mandatory"/>"#;
    let cib = lab.cib_full(
        "notify.xml",
        r#"<nvpair id="o-s" name="stonith-enabled" value="false"/>"#,
        &Lab::hosted_nodes(),
        &resources,
        order,
        "",
    );
    Some((lab, cib, log))
}

/// The lines of a log the test agents write (none yet: empty).
fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_notifying_clone_hears_about_starts_and_promotions_before_what_follows_it() {
    let Some((lab, cib, log)) = notifying_clone_lab("") else {
        return;
    };
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    let lines = log_lines(&log);
    let at = |l: &str| {
        lines
            .iter()
            .position(|x| x == l)
            .unwrap_or_else(|| panic!("no {l:?} in\n{}\n{out}", lines.join("\n")))
    };
    // (An empty list is a single space, as Pacemaker passes it.)
    // Both instances start (in the first round, without scores yet: no promotion), each
    // hears of both starts afterwards.
    let post_start_1 = at("notify post-start on n1 start=n1 n2 promote= ");
    let post_start_2 = at("notify post-start on n2 start=n1 n2 promote= ");
    // n2 scores higher: both hear before and after its promotion, in that order.
    let pre_1 = at("notify pre-promote on n1 start=  promote=n2");
    let pre_2 = at("notify pre-promote on n2 start=  promote=n2");
    let promote = at("promote on n2");
    let post_1 = at("notify post-promote on n1 start=  promote=n2");
    let post_2 = at("notify post-promote on n2 start=  promote=n2");
    let app = at("start after");
    assert!(
        post_start_1.max(post_start_2) < pre_1.min(pre_2),
        "{lines:?}"
    );
    assert!(pre_1.max(pre_2) < promote, "{lines:?}");
    assert!(promote < post_1.min(post_2), "{lines:?}");
    // What is ordered after the promote waits for its post notifications too.
    assert!(post_1.max(post_2) < app, "{lines:?}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("notify")).count(),
        6,
        "{lines:?}"
    );
    // Notifications are not recorded in the history, as under Pacemaker.
    assert!(
        !lab.state().contains(r#"operation="notify""#),
        "{}",
        lab.state()
    );
    // The rest of Pacemaker's variables, as crm_simulate puts them in its graph for this
    // case: before the promotion both instances are active and unpromoted; the lists
    // describe the state before the transition, also after it; the clone settings with
    // their values in force, and the instance number.
    let vars = log_lines(&log.with_extension("log.vars"));
    let (i1, i2) = match vars.iter().find(|v| v.starts_with("pre-promote on n1:")) {
        Some(v) if v.contains("clone=0") => ("0", "1"),
        _ => ("1", "0"),
    };
    for node in ["n1", "n2"] {
        let clone = if node == "n1" { i1 } else { i2 };
        for (stage, key) in [("pre", "pre-promote"), ("post", "post-promoted")] {
            let want = format!(
                "{stage}-promote on {node}: key={key} active=n1 n2 promoted=  unpromoted=n1 n2 \
                 promote_rsc=p:{i2} all=n1 n2 notify=true clone={clone} clone_max=2 master_max=1"
            );
            assert!(vars.contains(&want), "no {want:?} in\n{}", vars.join("\n"));
        }
    }
}

#[test]
fn a_failed_notification_stops_the_round_without_a_record_and_the_plan_is_made_again() {
    let Some((lab, cib, log)) = notifying_clone_lab("post-start") else {
        return;
    };
    let (code, out) = lab.apply(&cib);
    // As Pacemaker's controller treats it: a failed graph action (the transition stops,
    // and the scheduler runs again), but nothing in the history and no fail count.
    assert!(
        out.contains("FAILED (rc 1, ") && out.contains("told to fail once"),
        "{out}"
    );
    assert!(
        out.contains("not recorded, no fail count; the round stops and the plan is made again"),
        "{out}"
    );
    let state = lab.state();
    assert!(!state.contains(r#"operation="notify""#), "{state}");
    assert!(!state.contains("fail-count-p"), "{state}");
    // The next round goes on from where the cluster is: both instances run, n2 is
    // promoted with its notifications, and what follows the promotion starts.
    let lines = log_lines(&log);
    for want in [
        "notify pre-promote on n1 start=  promote=n2",
        "notify post-promote on n2 start=  promote=n2",
        "promote on n2",
        "start after",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "no {want:?} in {lines:?}\n{out}"
        );
    }
    // The post-start notifications are not sent again (nothing starts any more).
    let post_starts = lines
        .iter()
        .filter(|l| l.starts_with("notify post-start"))
        .count();
    assert!(post_starts <= 2, "{lines:?}");
    // The failure shows in the exit status, as every failed operation does.
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("converged, but 1 operation(s) failed"),
        "{out}"
    );
}
