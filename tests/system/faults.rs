//! The executor's faults (issue 20, items 1-4): what stock and badly behaved agents do to
//! `crm-lite apply` and `crm-lite verify`. Daemons that agents start must outlive a
//! successful start; a child that keeps the agent's pipes open must not hold crm-lite; a
//! start that always fails is tried once per node, not in a loop; meta-data is read with
//! a size cap.
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tests::{built, require};

const STOCK_OCF: &str = "/usr/lib/ocf";

/// A scratch OCF root with test agents, a state directory, and the processes the agents
/// started (killed by pid when the test ends, pass or fail).
struct Lab {
    dir: tempfile::TempDir,
    crm_lite: PathBuf,
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Every daemon a test agent started wrote its pid under run/.
        for e in std::fs::read_dir(self.path("run"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let pid = std::fs::read_to_string(e.path())
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok());
            if let Some(pid) = pid.filter(|p| *p > 1) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
    !matches!(state, None | Some('Z') | Some('X'))
}

impl Lab {
    fn new() -> Option<Lab> {
        let Ok(()) = require(
            built("crm-lite").is_some(),
            "target/<profile>/crm-lite is not built (run cargo build --workspace)",
        ) else {
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("ocf");
        std::fs::create_dir_all(root.join("resource.d/test")).unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        Some(Lab {
            dir,
            crm_lite: built("crm-lite").unwrap(),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Install `ocf:test:<name>` with these `case` arms (meta-data and the rest added).
    fn agent(&self, name: &str, arms: &str) {
        script(
            &self.path("ocf/resource.d/test").join(name),
            &format!(
                "#!/bin/sh\ncase \"$1\" in\n{arms}\n  meta-data) echo '<resource-agent name=\"{name}\"><version>1.0</version></resource-agent>'; exit 0 ;;\n  *) exit 3 ;;\nesac\n"
            ),
        );
    }

    /// A daemon agent: start leaves a process behind (as `how` starts it, which must
    /// write its pid to "$OCF_RESKEY_pid"); monitor checks that process; stop kills it.
    fn daemon_agent(&self, name: &str, how: &str) {
        self.agent(
            name,
            &format!(
                r#"  start) {how}
    exit 0 ;;
  stop) [ -f "$OCF_RESKEY_pid" ] && kill -9 $(cat "$OCF_RESKEY_pid") 2>/dev/null; rm -f "$OCF_RESKEY_pid"; exit 0 ;;
  monitor) [ -f "$OCF_RESKEY_pid" ] || exit 7
    s=$(sed 's/.*) //' /proc/$(cat "$OCF_RESKEY_pid")/stat 2>/dev/null | cut -c1)
    case "$s" in ''|Z|X) exit 7 ;; esac
    exit 0 ;;"#
            ),
        );
    }

    fn primitive(&self, id: &str, provider: &str, agent: &str, params: &[(&str, &str)]) -> String {
        let nv: String = params
            .iter()
            .map(|(k, v)| format!(r#"<nvpair id="{id}-{k}" name="{k}" value="{v}"/>"#))
            .collect();
        format!(
            r#"<primitive id="{id}" class="ocf" provider="{provider}" type="{agent}"><instance_attributes id="{id}-ia">{nv}</instance_attributes></primitive>"#
        )
    }

    /// A CIB with `options` (nvpairs), `nodes` and `resources`.
    fn cib(&self, name: &str, options: &str, nodes: &str, resources: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(
            &p,
            format!(
                r#"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/>{options}</cluster_property_set></crm_config>
    <nodes>{nodes}</nodes>
    <resources>{resources}</resources>
    <constraints/>
  </configuration>
  <status/>
</cib>
"#
            ),
        )
        .unwrap();
        p
    }

    fn one_node() -> &'static str {
        r#"<node id="1" uname="testnode"/>"#
    }

    /// Two nodes, n1 and n2, both hosted on this machine.
    fn two_nodes() -> String {
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

    fn command(&self, args: &[&str], cib: &Path) -> Command {
        let mut cmd = Command::new(&self.crm_lite);
        cmd.args(args)
            .arg("--node")
            .arg("testnode")
            .arg("--state-dir")
            .arg(self.path("state"))
            .arg(cib)
            .env("OCF_ROOT", self.path("ocf"));
        cmd
    }

    /// `crm-lite apply`, bounded: a hang fails the test instead of holding it.
    fn apply(&self, cib: &Path, limit: Duration) -> (i32, String, Duration) {
        let log = self.path("apply.log");
        let file = std::fs::File::create(&log).unwrap();
        let started = Instant::now();
        let mut child = self
            .command(&["apply"], cib)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0)
            .spawn()
            .expect("run crm-lite apply");
        let code = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st.code().unwrap_or(-1);
            }
            if started.elapsed() > limit {
                // Our own apply, in its own group: end it and what it started.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = child.wait();
                break -2;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = started.elapsed();
        (
            code,
            std::fs::read_to_string(&log).unwrap_or_default(),
            took,
        )
    }

    fn pid(&self, file: &str) -> i32 {
        std::fs::read_to_string(self.path("run").join(file))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    fn state(&self) -> String {
        std::fs::read_to_string(self.path("state/cib.xml")).unwrap_or_default()
    }
}

#[test]
fn the_daemon_of_stock_anything_outlives_a_successful_start() {
    let Some(lab) = Lab::new() else { return };
    let anything = Path::new(STOCK_OCF).join("resource.d/heartbeat/anything");
    let Ok(()) = require(
        anything.is_file(),
        "ocf:heartbeat:anything is not installed (Debian: resource-agents)",
    ) else {
        return;
    };
    let Ok(()) = require(
        tests::is_root(),
        "ocf:heartbeat:anything runs `su`: needs root",
    ) else {
        return;
    };
    let root = lab.path("ocf");
    std::fs::create_dir_all(root.join("resource.d/heartbeat")).unwrap();
    symlink(Path::new(STOCK_OCF).join("lib"), root.join("lib")).unwrap();
    symlink(&anything, root.join("resource.d/heartbeat/anything")).unwrap();
    let pidfile = lab.path("run/anything.pid");
    let rsc = lab.primitive(
        "daemon",
        "heartbeat",
        "anything",
        &[
            ("binfile", "/bin/sleep"),
            ("cmdline_options", "3600"),
            ("pidfile", &pidfile.display().to_string()),
        ],
    );
    let cib = lab.cib("cib.xml", "", Lab::one_node(), &rsc);
    let (code, out, _) = lab.apply(&cib, Duration::from_secs(60));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("start daemon on testnode: ok"), "{out}");
    let pid = lab.pid("anything.pid");
    assert!(pid > 0, "anything wrote its pid file:\n{out}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        alive(pid),
        "the daemon anything started was killed after its start"
    );

    // The next apply, made to probe again, finds it running and does nothing.
    let (code, out) = {
        let o = Command::new(&lab.crm_lite)
            .args(["cleanup", "daemon", "--state-dir"])
            .arg(lab.path("state"))
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(0), "{out}");
    let (code, out, _) = lab.apply(&cib, Duration::from_secs(60));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("probe daemon on testnode: rc 0"), "{out}");
    assert!(out.contains("nothing to do"), "{out}");
}

#[test]
fn a_daemon_that_forks_away_from_its_agent_keeps_running() {
    let Some(lab) = Lab::new() else { return };
    // The classic double fork: the agent's shell starts a shell that starts the daemon
    // and exits, so the daemon is nobody's child, but still in the agent's group.
    lab.daemon_agent(
        "forker",
        r#"sh -c 'sleep 3600 </dev/null >/dev/null 2>&1 & echo $! > "$OCF_RESKEY_pid"'"#,
    );
    let pid = lab.path("run/forker.pid").display().to_string();
    let rsc = lab.primitive("d", "test", "forker", &[("pid", &pid)]);
    let cib = lab.cib("cib.xml", "", Lab::one_node(), &rsc);
    let (code, out, _) = lab.apply(&cib, Duration::from_secs(60));
    assert_eq!(code, 0, "{out}");
    let daemon = lab.pid("forker.pid");
    assert!(daemon > 0, "{out}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(daemon), "the forked daemon was killed:\n{out}");
}

#[test]
fn a_child_that_keeps_the_agents_stderr_open_does_not_hold_apply() {
    let Some(lab) = Lab::new() else { return };
    // setsid: the child leaves the agent's group, and keeps stdout and stderr (the
    // executor's pipe) open for an hour.
    lab.daemon_agent(
        "holder",
        r#"setsid sleep 3600 & echo $! > "$OCF_RESKEY_pid"
    echo "started, stderr still open" >&2; sleep 0.5"#,
    );
    let pid = lab.path("run/holder.pid").display().to_string();
    let rsc = lab.primitive("h", "test", "holder", &[("pid", &pid)]);
    let cib = lab.cib("cib.xml", "", Lab::one_node(), &rsc);
    let (code, out, took) = lab.apply(&cib, Duration::from_secs(60));
    assert_ne!(code, -2, "apply hung on the open pipe:\n{out}");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("start h on testnode: ok"), "{out}");
    assert!(took < Duration::from_secs(20), "took {took:?}:\n{out}");
    assert!(alive(lab.pid("holder.pid")));
}

/// An agent whose start always fails (and whose stop and monitor find nothing).
fn failing_lab() -> Option<Lab> {
    let lab = Lab::new()?;
    lab.agent(
        "failer",
        r#"  start) touch "$OCF_RESKEY_log.$OCF_RESKEY_CRM_meta_on_node.$$"; echo 'ocf-exit-reason:the service refused to start' >&2; exit 1 ;;
  stop) exit 0 ;;
  monitor) exit 7 ;;"#,
    );
    Some(lab)
}

/// How many starts the failing agent saw on `node`.
fn starts(lab: &Lab, node: &str) -> usize {
    std::fs::read_dir(lab.path("attempts"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("start.{node}."))
        })
        .count()
}

#[test]
fn a_start_that_always_fails_is_tried_once_per_node_then_the_resource_stays_stopped() {
    let Some(lab) = failing_lab() else { return };
    std::fs::create_dir_all(lab.path("attempts")).unwrap();
    let log = lab.path("attempts/start").display().to_string();
    let rsc = lab.primitive("f", "test", "failer", &[("log", &log)]);
    let cib = lab.cib("cib.xml", "", &Lab::two_nodes(), &rsc);
    let (code, out, _) = lab.apply(&cib, Duration::from_secs(60));
    assert_ne!(code, 0, "a failed start makes apply fail:\n{out}");
    assert_eq!(starts(&lab, "n1"), 1, "{out}");
    assert_eq!(starts(&lab, "n2"), 1, "{out}");
    assert!(out.contains("the service refused to start"), "{out}");
    assert!(
        out.contains("converged, but 2 operation(s) failed"),
        "{out}"
    );
    for node in ["n1", "n2"] {
        assert!(
            out.contains(&format!(
                "f stays off {node}: its start failed there (fail count INFINITY)"
            )),
            "{out}"
        );
    }
    assert!(!out.contains("not converged"), "{out}");
    // Pacemaker's start-failure-is-fatal: the fail count is INFINITY on both nodes.
    let state = lab.state();
    assert_eq!(
        state
            .matches(r#"name="fail-count-f#start_0" value="INFINITY""#)
            .count(),
        2,
        "{state}"
    );
    // Applying again tries nothing: the failures still stand.
    let (_, out, _) = lab.apply(&cib, Duration::from_secs(60));
    assert_eq!(starts(&lab, "n1") + starts(&lab, "n2"), 2, "{out}");

    // With start-failure-is-fatal=false and migration-threshold=3, three tries per node.
    let lab2 = failing_lab().unwrap();
    std::fs::create_dir_all(lab2.path("attempts")).unwrap();
    let log = lab2.path("attempts/start").display().to_string();
    let rsc = lab2
        .primitive("f", "test", "failer", &[("log", &log)])
        .replace(
            "</primitive>",
            r#"<meta_attributes id="f-m"><nvpair id="f-mt" name="migration-threshold" value="3"/></meta_attributes></primitive>"#,
        );
    let cib = lab2.cib(
        "cib.xml",
        r#"<nvpair id="o-f" name="start-failure-is-fatal" value="false"/>"#,
        &Lab::two_nodes(),
        &rsc,
    );
    let (code, out, _) = lab2.apply(&cib, Duration::from_secs(60));
    assert_ne!(code, 0, "{out}");
    assert_eq!((starts(&lab2, "n1"), starts(&lab2, "n2")), (3, 3), "{out}");
}

#[test]
fn under_watch_a_start_that_always_fails_is_not_retried_in_a_loop() {
    let Some(lab) = failing_lab() else { return };
    std::fs::create_dir_all(lab.path("attempts")).unwrap();
    let log = lab.path("attempts/start").display().to_string();
    let rsc = lab.primitive("f", "test", "failer", &[("log", &log)]);
    let cib = lab.cib("cib.xml", "", Lab::one_node(), &rsc);
    let file = std::fs::File::create(lab.path("watch.log")).unwrap();
    let mut child = lab
        .command(&["apply", "--watch"], &cib)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("start crm-lite apply --watch");
    std::thread::sleep(Duration::from_secs(4));
    // Ours, by pid.
    let _ = child.kill();
    let _ = child.wait();
    let out = std::fs::read_to_string(lab.path("watch.log")).unwrap_or_default();
    assert!(out.contains("watching"), "{out}");
    assert_eq!(starts(&lab, "testnode"), 1, "{out}");
}

#[test]
fn under_watch_a_start_that_keeps_failing_without_a_ban_waits_for_the_recheck_interval() {
    let Some(lab) = failing_lab() else { return };
    std::fs::create_dir_all(lab.path("attempts")).unwrap();
    let log = lab.path("attempts/start").display().to_string();
    let rsc = lab.primitive("f", "test", "failer", &[("log", &log)]);
    // No ban after a failed start, no threshold: only pacing bounds the retries.
    let cib = lab.cib(
        "cib.xml",
        r#"<nvpair id="o-f" name="start-failure-is-fatal" value="false"/><nvpair id="o-r" name="cluster-recheck-interval" value="1h"/>"#,
        Lab::one_node(),
        &rsc,
    );
    let file = std::fs::File::create(lab.path("watch.log")).unwrap();
    let mut child = lab
        .command(&["apply", "--watch", "--max-rounds", "5"], &cib)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("start crm-lite apply --watch");
    let read = || std::fs::read_to_string(lab.path("watch.log")).unwrap_or_default();
    let waiting = tests::wait_for(Duration::from_secs(20), || {
        read().contains("planning again in 3600 s")
    });
    std::thread::sleep(Duration::from_secs(2));
    // Ours, by pid.
    let _ = child.kill();
    let _ = child.wait();
    let out = read();
    assert!(waiting, "{out}");
    // The first pass of at most 5 rounds (a probe, then a start in each), then a wait.
    let n = starts(&lab, "testnode");
    assert!((1..=4).contains(&n), "{n} starts:\n{out}");
}

/// Meta-data that never ends.
fn endless_lab() -> Option<Lab> {
    let lab = Lab::new()?;
    script(
        &lab.path("ocf/resource.d/test/endless"),
        "#!/bin/sh\ncase \"$1\" in\n  meta-data) echo '<resource-agent name=\"endless\"><parameters>'; yes '<parameter name=\"p\"/>' ;;\n  monitor) exit 7 ;;\n  *) exit 0 ;;\nesac\n",
    );
    Some(lab)
}

/// Run `cmd` to its end (at most `limit`); its exit code, output and peak memory (KiB).
fn run_measured(mut cmd: Command, limit: Duration) -> (i32, String, i64) {
    let out_path = std::env::temp_dir().join(format!("faults-{}.log", std::process::id()));
    let file = std::fs::File::create(&out_path).unwrap();
    // Reaped below by wait4, which also gives its peak memory.
    #[allow(clippy::zombie_processes)]
    let child = cmd
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn");
    let pid = child.id() as i32;
    let started = Instant::now();
    let (mut status, mut usage) = (0i32, unsafe { std::mem::zeroed::<libc::rusage>() });
    loop {
        // SAFETY: wait4 on our own child with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if started.elapsed() > limit {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            // SAFETY: as above.
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            status = -1;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let code = if status == -1 {
        -2
    } else {
        libc::WEXITSTATUS(status)
    };
    (code, text, usage.ru_maxrss)
}

#[test]
fn verify_reads_endless_meta_data_with_a_cap_and_says_so() {
    let Some(lab) = endless_lab() else { return };
    let rsc = lab.primitive("e", "test", "endless", &[("p", "1")]);
    let cib = lab.cib("cib.xml", "", Lab::one_node(), &rsc);
    let mut cmd = Command::new(&lab.crm_lite);
    cmd.arg("verify").arg(&cib).env("OCF_ROOT", lab.path("ocf"));
    let (code, out, maxrss_kib) = run_measured(cmd, Duration::from_secs(30));
    assert_ne!(code, -2, "verify did not finish:\n{out}");
    assert_eq!(code, 0, "the CIB itself is valid:\n{out}");
    assert!(
        out.contains("printed more than 1048576 bytes"),
        "verify says why it cannot check the agent:\n{out}"
    );
    assert!(out.contains("endless"), "{out}");
    assert!(maxrss_kib < 100 * 1024, "verify peaked at {maxrss_kib} KiB");
}

#[test]
fn apply_reads_endless_meta_data_with_a_cap_and_still_runs_the_agent() {
    let Some(lab) = endless_lab() else { return };
    let rsc = lab.primitive("e", "test", "endless", &[("p", "1")]);
    let cib = lab.cib("cib.xml", "", Lab::one_node(), &rsc);
    let (code, out, maxrss_kib) =
        run_measured(lab.command(&["apply"], &cib), Duration::from_secs(60));
    assert_ne!(code, -2, "apply did not finish:\n{out}");
    // The agent's start succeeds (its meta-data is only needed for reloads).
    assert!(out.contains("start e on testnode: ok"), "{out}");
    assert!(out.contains("printed more than 1048576 bytes"), "{out}");
    assert!(maxrss_kib < 100 * 1024, "apply peaked at {maxrss_kib} KiB");
}
