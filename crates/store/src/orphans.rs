//! Agents that a crashed apply left running. Each operation an apply runs carries a marker
//! in its agent's environment ([`crate::Store::call_marker`]: the call id and the state
//! directory); the journal names the calls that were in flight. Before the next apply
//! probes such a resource, it waits for the orphaned agent (the leader of its own process
//! group, whose environment holds the marker) to finish, or kills its group once the
//! operation's own timeout has passed, as the executor would have.
use std::path::Path;
use std::time::{Duration, Instant};

/// The meta-attribute that carries the marker: the agent sees it as
/// `OCF_RESKEY_CRM_meta_crm_lite_call`.
pub const MARKER_META: &str = "crm_lite_call";
const MARKER_ENV: &str = "OCF_RESKEY_CRM_meta_crm_lite_call";

/// The meta-attribute `(name, value)` to give the agent of call `call` of the apply that
/// keeps its state in `dir` (absolute: the same directory however it was spelled).
pub(crate) fn marker_of(dir: &Path, call: i64) -> (String, String) {
    (MARKER_META.to_owned(), format!("{call}@{}", dir.display()))
}

/// An orphaned agent found running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// Its pid, also its process group.
    pub pid: i32,
    /// How long it may still run before its operation's timeout.
    pub remaining: Duration,
}

/// What became of an orphaned agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// It finished on its own (after `waited`).
    Finished {
        /// How long the wait took.
        waited: Duration,
    },
    /// Its operation's timeout passed: its process group was killed.
    Killed,
}

fn environ(pid: i32) -> Option<Vec<u8>> {
    std::fs::read(format!("/proc/{pid}/environ")).ok()
}

/// `(pgid, starttime in clock ticks)` from `/proc/<pid>/stat`.
fn stat(pid: i32) -> Option<(i32, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = s.rsplit_once(") ")?;
    let f: Vec<&str> = rest.split(' ').collect();
    // After the command: state ppid pgrp session ... starttime is field 22 (index 19 here).
    let state = f.first()?;
    if *state == "Z" || *state == "X" {
        return None;
    }
    Some((f.get(2)?.parse().ok()?, f.get(19)?.parse().ok()?))
}

fn uptime_ticks() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some((secs * hz() as f64) as u64)
}

fn hz() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as u64 } else { 100 }
}

/// The running agent whose environment carries `marker` (the value of
/// [`crate::Store::call_marker`]):
/// the process that leads its own group (the agent; what it forked shares its group or
/// left it, and is not waited for).
pub fn find(marker: &str) -> Option<Orphan> {
    let want = format!("{MARKER_ENV}={marker}");
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Some(env) = environ(pid) else { continue };
        if !env.split(|&b| b == 0).any(|v| v == want.as_bytes()) {
            continue;
        }
        let Some((pgid, start)) = stat(pid) else {
            continue;
        };
        if pgid != pid {
            continue;
        }
        let timeout_ms = env
            .split(|&b| b == 0)
            .find_map(|v| v.strip_prefix(b"OCF_RESKEY_CRM_meta_timeout="))
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
            .unwrap_or(20_000);
        let age = uptime_ticks()
            .map(|now| Duration::from_millis(now.saturating_sub(start) * 1000 / hz()))
            .unwrap_or_default();
        return Some(Orphan {
            pid,
            remaining: Duration::from_millis(timeout_ms).saturating_sub(age),
        });
    }
    None
}

/// Wait for the orphaned agent `o` to finish; once its operation's timeout has passed,
/// kill its process group.
pub fn settle(o: &Orphan) -> Settled {
    let started = Instant::now();
    let deadline = started + o.remaining;
    let alive = || stat(o.pid).is_some_and(|(pgid, _)| pgid == o.pid);
    while alive() {
        if Instant::now() >= deadline {
            tracing::warn!(
                pid = o.pid,
                "orphaned agent past its timeout: killing its group"
            );
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(o.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let until = Instant::now() + Duration::from_secs(5);
            while alive() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            return Settled::Killed;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Settled::Finished {
        waited: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    /// `find`, given the new process a moment to be listed with its environment.
    fn found(marker: &str) -> Orphan {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            match find(marker) {
                Some(o) => return o,
                None if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
                None => panic!("the agent with {marker} is not found"),
            }
        }
    }

    fn spawn(marker: &str, timeout_ms: u64, secs: &str) -> std::process::Child {
        Command::new("sleep")
            .arg(secs)
            .env(MARKER_ENV, marker)
            .env("OCF_RESKEY_CRM_meta_timeout", timeout_ms.to_string())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn an_orphan_is_found_by_its_marker_waited_for_and_killed_past_its_timeout() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (_, marker) = marker_of(t.path(), 7);
        let mut quick = spawn(&marker, 20_000, "0.3");
        let o = found(&marker);
        assert_eq!(o.pid, quick.id() as i32);
        assert!(o.remaining > Duration::from_secs(15), "{o:?}");
        // Reaping is the parent's business; here the test is the parent.
        let reaper = std::thread::spawn(move || quick.wait());
        assert!(matches!(settle(&o), Settled::Finished { .. }));
        let _ = reaper.join();
        assert_eq!(find(&marker), None);
        assert_eq!(find(&marker_of(t.path(), 8).1), None);

        let (_, marker) = marker_of(t.path(), 9);
        let mut slow = spawn(&marker, 300, "30");
        let o = found(&marker);
        let reaper = std::thread::spawn(move || slow.wait());
        let begun = Instant::now();
        assert_eq!(settle(&o), Settled::Killed);
        assert!(begun.elapsed() < Duration::from_secs(5));
        let _ = reaper.join();
    }
}
