//! What agents that run a service process of their own share: where its runtime files go,
//! whether the pid in a pid file is really that service, and waiting for or killing its
//! process group within the deadline.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::dispatch::Ctx;
use crate::env::OcfEnv;

/// Where runtime files go when `HA_RSCTMP` is not set (Pacemaker's default).
pub const DEFAULT_RSCTMP: &str = "/run/resource-agents";

/// Slack allowed between a process's start time (second resolution from the kernel's boot
/// time) and the pid file's modification time.
pub const START_SLACK_MS: u64 = 2_000;

/// A per-instance runtime file: `$HA_RSCTMP/<agent>-<instance><suffix>`, with characters
/// outside `[A-Za-z0-9._-]` in the instance name replaced by `_` (`db:1` → `db_1`).
pub fn runtime_file(env: &OcfEnv, agent: &str, suffix: &str) -> PathBuf {
    let instance: String = env
        .instance_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(env.rsctmp.as_deref().unwrap_or(DEFAULT_RSCTMP))
        .join(format!("{agent}-{instance}{suffix}"))
}

/// The pid recorded in `pidfile`, if that process is alive, leads its own session and
/// group (as every service spawned through [`crate::Host::spawn_detached`] does), and
/// started before the file was written: a recycled pid fails the last test.
pub fn running_pid(ctx: &Ctx<'_>, pidfile: &Path) -> Option<u32> {
    let text = ctx.host.read_file(pidfile).ok()?;
    let pid: u32 = text.lines().next()?.trim().parse().ok()?;
    let written = ctx.host.file_info(pidfile)?.mtime_unix_ms;
    let p = ctx.host.process(pid)?;
    let ours = p.alive()
        && p.session == pid
        && p.pgrp == pid
        && p.start_unix_ms <= written + START_SLACK_MS;
    if !ours {
        tracing::debug!(pid, "pid file {} is stale", pidfile.display());
    }
    ours.then_some(pid)
}

/// Wait until the process group has no live member, until `until`, polling at most every
/// `max_pause`; true when it emptied. Reaps the leader when it is our child.
pub fn wait_group_gone(ctx: &Ctx<'_>, pgrp: u32, until: Instant, max_pause: Duration) -> bool {
    ctx.poll(until, max_pause, || {
        let _ = ctx.host.try_reap(pgrp);
        ctx.host.group_members(pgrp).is_empty().then_some(())
    })
    .is_some()
}

/// Kill a process group at once and remove its pid file (start gave up on it).
pub fn kill_group_now(ctx: &Ctx<'_>, pgrp: u32, pidfile: &Path, max_pause: Duration) {
    let _ = ctx.host.signal_group(pgrp, Signal::SIGKILL);
    let _ = wait_group_gone(ctx, pgrp, ctx.deadline.end(), max_pause);
    let _ = ctx.host.remove_file(pidfile);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_files_follow_ha_rsctmp_and_sanitize_the_instance() {
        let env = OcfEnv::from_vars([("HA_RSCTMP", "/tmp/rsc"), ("OCF_RESOURCE_INSTANCE", "db:1")]);
        assert_eq!(
            runtime_file(&env, "haproxy", ".master.sock"),
            PathBuf::from("/tmp/rsc/haproxy-db_1.master.sock")
        );
        let bare = OcfEnv::from_vars([("OCF_RESOURCE_INSTANCE", "a/b")]);
        assert_eq!(
            runtime_file(&bare, "x", ".pid"),
            PathBuf::from("/run/resource-agents/x-a_b.pid")
        );
    }
}
