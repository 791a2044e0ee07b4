//! The state store under a careless operator (issue 20, items 5-8): commands made while an
//! apply runs, a corrupt state file, a crash in the middle of a start, `status` during a
//! round.
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::apply::{Lab, Watcher};

/// A test agent whose start takes `delay` seconds (a number, or a file that holds it) and
/// logs `begin` and `end` lines to the file its `log` parameter names; monitor reports its
/// state file like Dummy.
const LOGGED: &str = r#"#!/bin/sh
d="$OCF_RESKEY_delay"; [ -f "$d" ] && d=$(cat "$d")
case "$1" in
  start) echo "begin $$" >> "$OCF_RESKEY_log"; sleep "$d"
         touch "$OCF_RESKEY_state"; echo "end $$" >> "$OCF_RESKEY_log"; exit 0 ;;
  stop) rm -f "$OCF_RESKEY_state"; exit 0 ;;
  monitor) [ -f "$OCF_RESKEY_state" ] && exit 0; exit 7 ;;
  meta-data) echo '<resource-agent name="logged"/>'; exit 0 ;;
  *) exit 3 ;;
esac
"#;

impl Lab {
    /// Install the `logged` agent; the primitive `id` that uses it (`extra`: more
    /// primitive children, e.g. operations).
    fn logged(&self, id: &str, delay: &str, extra: &str) -> String {
        let p = self.path("ocf/resource.d/test/logged");
        if !p.exists() {
            std::fs::write(&p, LOGGED).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        format!(
            r#"<primitive id="{id}" class="ocf" provider="test" type="logged"><instance_attributes id="{id}-p"><nvpair id="{id}-s" name="state" value="{}"/><nvpair id="{id}-l" name="log" value="{}"/><nvpair id="{id}-d" name="delay" value="{delay}"/></instance_attributes>{extra}</primitive>"#,
            self.path("run").join(format!("{id}.state")).display(),
            self.path("run").join(format!("{id}.log")).display(),
        )
    }

    /// `crm-lite apply` on `cib` in the background, its output in `log`.
    fn apply_in_background(&self, cib: &Path, log: &str) -> Watcher {
        let f = std::fs::File::create(self.path(log)).unwrap();
        let child = Command::new(&self.crm_lite)
            .args(["apply", "--node", "testnode", "--state-dir"])
            .arg(self.path("state"))
            .arg(cib)
            .env("OCF_ROOT", self.path("ocf"))
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .expect("start crm-lite apply");
        Watcher(child)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    fn run_file(&self, name: &str) -> PathBuf {
        self.path("run").join(name)
    }
}

/// Wait for the background apply to end; its exit code.
fn finish(w: &mut Watcher) -> i32 {
    for _ in 0..3000 {
        if let Ok(Some(st)) = w.0.try_wait() {
            return st.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    -1
}

#[test]
fn a_ban_made_while_apply_runs_is_kept_and_carried_out_by_that_apply() {
    let Some(lab) = Lab::new() else { return };
    let resources = format!("{}{}", lab.logged("s", "2", ""), lab.dummy("b", ""));
    let cib = lab.cib(
        "cib.xml",
        &resources,
        r#"<rsc_order id="s-then-b" first="s" then="b" kind="Mandatory"/>"#,
    );
    let mut apply = lab.apply_in_background(&cib, "apply.log");
    assert!(
        tests::wait_for(Duration::from_secs(20), || lab
            .read("run/s.log")
            .contains("begin")),
        "{}",
        lab.read("apply.log")
    );
    // The round that starts s and then b is under way: the ban arrives in the middle.
    let (code, out) = lab.admin(&["ban", "b", "testnode"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(finish(&mut apply), 0, "{}", lab.read("apply.log"));
    let state = lab.state();
    assert!(
        state.contains(r#"id="cli-ban-b-on-testnode""#),
        "the ban survives the apply's saves:\n{state}"
    );
    // The same apply saw the ban at its next round: b is not left running here.
    assert!(
        !lab.run_file("b.state").exists(),
        "{}",
        lab.read("apply.log")
    );
    let (_, out) = lab.admin(&["status"]);
    assert!(!out.contains("b "), "{out}");
}

#[test]
fn a_ban_and_a_clear_during_apply_watch_are_picked_up_at_once_and_kept() {
    let Some(lab) = Lab::new() else { return };
    let monitor = |id: &str| {
        format!(
            r#"<operations><op id="{id}-mon" name="monitor" interval="1s" timeout="10s"/></operations>"#
        )
    };
    let resources = format!(
        "{}{}",
        lab.dummy("a", &monitor("a")),
        lab.dummy("c", &monitor("c"))
    );
    let cib = lab.cib("cib.xml", &resources, "");
    let _watcher = lab.watch(&cib);
    let a = lab.path("run/a.state");
    assert!(a.exists(), "{}", lab.read("watch.log"));
    let (code, out) = lab.admin(&["ban", "a", "testnode"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        tests::wait_for(Duration::from_secs(10), || !a.exists()),
        "the watching apply stops a:\n{}",
        lab.read("watch.log")
    );
    // c's monitor keeps saving the state every second: the ban stays in it.
    std::thread::sleep(Duration::from_secs(3));
    let state = lab.state();
    assert!(state.contains("cli-ban-a-on-testnode"), "{state}");
    assert!(!a.exists(), "{}", lab.read("watch.log"));
    let (code, out) = lab.admin(&["clear", "a"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        tests::wait_for(Duration::from_secs(10), || a.exists()),
        "the watching apply starts a again:\n{}",
        lab.read("watch.log")
    );
}

#[test]
fn a_corrupt_state_file_is_refused_naming_it_and_restore_puts_back_the_last_good_copy() {
    let Some(lab) = Lab::new() else { return };
    let cib = lab.cib("cib.xml", &lab.dummy("a", ""), "");
    assert_eq!(lab.apply(&cib).0, 0);
    assert_eq!(lab.admin(&["ban", "a", "testnode"]).0, 0);
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(!lab.path("run/a.state").exists(), "{out}");
    let state_file = lab.path("state/cib.xml");
    let good = lab.state();
    // Truncated, as a full disk or a careless editor leaves it.
    std::fs::write(&state_file, &good[..good.len() / 2]).unwrap();
    let (code, out) = lab.apply(&cib);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(&state_file.display().to_string()), "{out}");
    assert!(
        out.contains("corrupt") && out.contains("crm-lite restore"),
        "{out}"
    );
    assert!(
        !lab.path("run/a.state").exists(),
        "nothing ran on a forgotten ban: {out}"
    );
    for cmd in [
        &["status"][..],
        &["ban", "a", "testnode"],
        &["cleanup", "a"],
    ] {
        let (code, out) = lab.admin(cmd);
        assert_ne!(code, 0, "{cmd:?}: {out}");
        assert!(out.contains("corrupt"), "{cmd:?}: {out}");
    }
    let (code, out) = lab.admin(&["restore"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("cib-") && out.contains(".raw"), "{out}");
    assert!(lab.path("state/cib.xml.corrupt").exists());
    assert!(
        lab.state().contains("cli-ban-a-on-testnode"),
        "{}",
        lab.state()
    );
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(
        !lab.path("run/a.state").exists(),
        "the ban holds after the restore: {out}"
    );
    // Restoring a state that reads fine would throw newer state away: refused.
    let (code, out) = lab.admin(&["restore"]);
    assert_ne!(code, 0, "{out}");

    // A journal with a byte that is not UTF-8 is an error, not "no journal".
    let mut j = br#"<journal base="0.0.0"/>"#.to_vec();
    j.extend_from_slice(b"\n<op node=\"testnode\" rsc=\"a\xff\"/>\n");
    std::fs::write(lab.path("state/journal"), j).unwrap();
    let (code, out) = lab.apply(&cib);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains(&lab.path("state/journal").display().to_string()) && out.contains("not UTF-8"),
        "{out}"
    );
}

#[test]
fn after_a_crash_mid_start_the_next_apply_waits_for_the_orphaned_agent() {
    let Some(lab) = Lab::new() else { return };
    let cib = lab.cib("cib.xml", &lab.logged("s", "3", ""), "");
    let mut first = lab.apply_in_background(&cib, "first.log");
    assert!(
        tests::wait_for(Duration::from_secs(20), || lab
            .read("run/s.log")
            .contains("begin")),
        "{}",
        lab.read("first.log")
    );
    // crm-lite dies; its agent, in its own process group, goes on starting s.
    first.0.kill().unwrap();
    let _ = first.0.wait();
    let (code, out) = lab.apply(&cib);
    // Wait for whatever started s to finish, then read its log.
    assert!(tests::wait_for(Duration::from_secs(10), || {
        let log = lab.read("run/s.log");
        log.matches("begin").count() == log.matches("end").count()
    }));
    let log = lab.read("run/s.log");
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines.len() == 2 && lines[0].starts_with("begin") && lines[1].starts_with("end"),
        "one start, never two at once:\n{log}\n{out}"
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("still runs (pid"), "{out}");
    assert!(out.contains("probe s on testnode: rc 0"), "{out}");
    assert!(!out.contains("start s on"), "{out}");
}

#[test]
fn an_orphaned_agent_past_its_timeout_is_killed_before_the_resource_is_probed() {
    let Some(lab) = Lab::new() else { return };
    let op =
        r#"<operations><op id="s-start" name="start" interval="0" timeout="2s"/></operations>"#;
    let delay = lab.path("delay");
    std::fs::write(&delay, "60").unwrap();
    let cib = lab.cib(
        "cib.xml",
        &lab.logged("s", &delay.display().to_string(), op),
        "",
    );
    let mut first = lab.apply_in_background(&cib, "first.log");
    assert!(
        tests::wait_for(Duration::from_secs(20), || lab
            .read("run/s.log")
            .contains("begin")),
        "{}",
        lab.read("first.log")
    );
    first.0.kill().unwrap();
    let _ = first.0.wait();
    let pid: i32 = lab
        .read("run/s.log")
        .trim()
        .trim_start_matches("begin ")
        .parse()
        .unwrap_or(0);
    assert!(pid > 0);
    // The next start is quick.
    std::fs::write(&delay, "0").unwrap();
    let started = std::time::Instant::now();
    let (code, out) = lab.apply(&cib);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("its process group was killed"), "{code} {out}");
    assert!(started.elapsed() < Duration::from_secs(30), "{out}");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z"),
        "the orphan is gone"
    );
    // Only then does the new apply start s (once more, after the killed attempt).
    let log = lab.read("run/s.log");
    assert_eq!(log.matches("begin").count(), 2, "{log}\n{out}");
    assert!(
        log.lines().nth(1).is_some_and(|l| l.starts_with("begin")),
        "{log}"
    );
}

#[test]
fn status_during_a_round_shows_what_already_runs_and_what_is_under_way() {
    let Some(lab) = Lab::new() else { return };
    let resources = format!("{}{}", lab.dummy("a", ""), lab.logged("s", "3", ""));
    let cib = lab.cib(
        "cib.xml",
        &resources,
        r#"<rsc_order id="a-then-s" first="a" then="s" kind="Mandatory"/>"#,
    );
    let mut apply = lab.apply_in_background(&cib, "apply.log");
    assert!(
        tests::wait_for(Duration::from_secs(20), || lab
            .read("run/s.log")
            .contains("begin")),
        "{}",
        lab.read("apply.log")
    );
    let (code, out) = lab.admin(&["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("(none active)"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains(" a ") && l.contains("Started") && l.contains("testnode")),
        "{out}"
    );
    assert!(
        out.contains("An apply round is in progress: start s on testnode"),
        "{out}"
    );
    assert_eq!(finish(&mut apply), 0, "{}", lab.read("apply.log"));
}
