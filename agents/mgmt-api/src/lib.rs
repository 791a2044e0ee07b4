//! `ocf:crm-lite:mgmt-api`: an OCF agent for an HTTP management API service (OpenNebula's
//! sunstone, CloudStack's management server, any control-plane daemon that answers HTTP).
//!
//! * start: spawn the command detached (own session and process group, output to
//!   `log_file`), record its pid, wait until the health check passes or the deadline comes;
//!   a running, healthy service is left alone.
//! * monitor: depth 0 the process, depth 10 the HTTP status, depth 20 also the body;
//!   a passing but slow check is degraded (190); not running is 7, also on nodes where the
//!   software is missing.
//! * stop: SIGTERM to the process group, SIGKILL before the deadline, a definite answer.
//!
//! The pid file is trusted only while its process is alive, leads its own session, and
//! started before the pid file was written (a recycled pid fails the last test).

#![deny(missing_docs)]

pub mod config;

use std::time::Duration;

use nix::sys::signal::Signal;
use ocf::host::{HostError, SpawnSpec};
use ocf::metadata::ActionSpec;
use ocf::service::{kill_group_now, running_pid, wait_group_gone};
use ocf::{Action, ActionResult, AgentInfo, CheckLevel, Ctx, Failure, Status};

use config::{Config, Health};

/// The agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct MgmtApi;

/// How often waits for the process group look again, at most.
const POLL: Duration = Duration::from_millis(100);

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new(Action::Start, 60),
    ActionSpec::new(Action::Stop, 30),
    ActionSpec::new(Action::Monitor, 20).every(10).depth(0),
    ActionSpec::new(Action::Monitor, 20).every(30).depth(10),
    ActionSpec::new(Action::Monitor, 20).every(120).depth(20),
];

/// What the agent says about itself.
pub static INFO: AgentInfo = AgentInfo {
    name: "mgmt-api",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Manages an HTTP management API service",
    longdesc: "Starts, stops and monitors a control-plane HTTP service (such as OpenNebula \
        sunstone or the CloudStack management server) that runs in the foreground. Monitor \
        depth 0 checks the process, depth 10 the HTTP status of health_url (http or https, \
        the certificate verified against health_ca), depth 20 also the body against \
        expect_body. A passing check slower than slow_ms reports degraded \
        (190).",
    params: config::PARAMS,
    actions: ACTIONS,
};

/// The outcome of one health check.
enum Check {
    Healthy { elapsed: Duration },
    Unhealthy(String),
}

/// How long one health check may take while start waits for the service: short, so that a
/// service that dies (or a socket that accepts but never answers) is noticed at once
/// rather than at the deadline.
const START_ATTEMPT: Duration = Duration::from_secs(2);

/// One health check, given at most `limit` and never more than the deadline leaves.
fn check_health(ctx: &Ctx<'_>, h: &Health, with_body: bool, limit: Option<Duration>) -> Check {
    let timeout = limit.map_or(ctx.remaining(), |l| ctx.bounded(l));
    if timeout.is_zero() {
        return Check::Unhealthy("no time left for the health check".into());
    }
    match ctx.host.http_get(&h.url, timeout) {
        Err(e) => Check::Unhealthy(format!("health check failed: {e}")),
        Ok(r) if r.status != h.expect_status => Check::Unhealthy(format!(
            "health check GET {} returned status {}, expected {}",
            h.url, r.status, h.expect_status
        )),
        Ok(r) => match &h.expect_body {
            Some(re) if with_body && !re.is_match(&r.body) => Check::Unhealthy(format!(
                "health check GET {} body does not match {:?}",
                h.url,
                re.as_str()
            )),
            _ => Check::Healthy { elapsed: r.elapsed },
        },
    }
}

/// The failure for a host error: 4 when permission was refused, else 1.
fn host_failure(what: &str, e: &HostError) -> Failure {
    e.failure(what)
}

impl MgmtApi {
    /// Everything validate-all and start check on this host: the binary, the user, the
    /// working directory and the environment file. Returns the spawn description.
    fn local_checks(&self, ctx: &Ctx<'_>, cfg: &Config) -> Result<SpawnSpec, Failure> {
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
        let program = ctx
            .host
            .find_executable(&cfg.argv[0], &path)
            .ok_or_else(|| {
                Failure::installed(format!(
                    "binary {:?} not found or not executable",
                    cfg.argv[0]
                ))
            })?;
        let user = match &cfg.user {
            Some(name) => Some(
                ctx.host
                    .user(name)
                    .ok_or_else(|| Failure::installed(format!("user {name:?} does not exist")))?,
            ),
            None => None,
        };
        if let Some(dir) = &cfg.workdir {
            if !ctx.host.file_info(dir).is_some_and(|i| i.is_dir) {
                return Err(Failure::installed(format!(
                    "workdir {} is not a directory",
                    dir.display()
                )));
            }
        }
        let env = match &cfg.env_file {
            Some(f) => {
                let text = ctx
                    .host
                    .read_file(f)
                    .map_err(|e| Failure::installed(format!("env_file {}: {e}", f.display())))?;
                config::parse_env_file(&text)
                    .map_err(|e| Failure::args(format!("env_file {}: {e}", f.display())))?
            }
            None => Vec::new(),
        };
        if let Some(ca) = cfg.health.as_ref().and_then(|h| h.url.ca_file.as_ref()) {
            ctx.host
                .read_file(ca)
                .map_err(|e| Failure::installed(format!("health_ca {}: {e}", ca.display())))?;
        }
        Ok(SpawnSpec {
            program,
            args: cfg.argv[1..].to_vec(),
            cwd: Some(cfg.workdir.clone().unwrap_or_else(|| "/".into())),
            env,
            env_remove_prefixes: ["OCF_", "HA_", "PCMK_", "CRM_"].map(String::from).to_vec(),
            log_file: cfg.log_file.clone(),
            user,
        })
    }

    fn tail_of_log(ctx: &Ctx<'_>, cfg: &Config) -> String {
        let Some(log) = &cfg.log_file else {
            return String::new();
        };
        let text = ctx.host.read_file(log).unwrap_or_default();
        match text.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(last) => format!(
                "; last log line: {}",
                last.trim().chars().take(200).collect::<String>()
            ),
            None => String::new(),
        }
    }

    /// Wait until the service passes its health check, or fail (and clean up) at the
    /// deadline or when the process dies.
    fn await_ready(&self, ctx: &Ctx<'_>, cfg: &Config, pid: u32, ours: bool) -> ActionResult {
        let mut pause = Duration::from_millis(10);
        loop {
            if ours {
                if let Some(code) = ctx.host.try_reap(pid) {
                    let _ = ctx.host.remove_file(&cfg.pidfile);
                    return Err(Failure::generic(format!(
                        "{} exited with status {code} while starting{}",
                        cfg.argv[0],
                        Self::tail_of_log(ctx, cfg)
                    )));
                }
            }
            if !ctx.host.process(pid).is_some_and(|p| p.alive()) {
                let _ = ctx.host.remove_file(&cfg.pidfile);
                return Err(Failure::generic(format!(
                    "{} exited while starting{}",
                    cfg.argv[0],
                    Self::tail_of_log(ctx, cfg)
                )));
            }
            let last = match &cfg.health {
                None => return Ok(Status::Success),
                Some(h) => match check_health(ctx, h, true, Some(START_ATTEMPT)) {
                    Check::Healthy { .. } => return Ok(Status::Success),
                    Check::Unhealthy(why) => why,
                },
            };
            // Keep a moment to kill what we started if it never gets healthy.
            let give_up = ctx.deadline.graceful_until();
            let left = give_up.saturating_duration_since(ctx.host.now());
            if left.is_zero() {
                if ours {
                    kill_group_now(ctx, pid, &cfg.pidfile, POLL);
                }
                return Err(Failure::generic(format!(
                    "not healthy before the start timeout: {last}"
                )));
            }
            ctx.host.sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }
}

impl ocf::Agent for MgmtApi {
    fn info(&self) -> &'static AgentInfo {
        &INFO
    }

    fn validate(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = Config::from_params(&ctx.params, ctx.env)?;
        self.local_checks(ctx, &cfg)?;
        Ok(Status::Success)
    }

    fn start(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = Config::from_params(&ctx.params, ctx.env)?;
        let spec = self.local_checks(ctx, &cfg)?;
        if let Some(pid) = running_pid(ctx, &cfg.pidfile) {
            tracing::info!(pid, "already running");
            return self.await_ready(ctx, &cfg, pid, false);
        }
        if let Some(dir) = cfg.pidfile.parent() {
            ctx.host
                .create_dir_all(dir)
                .map_err(|e| Failure::io(format!("cannot create {}", dir.display()), &e))?;
        }
        let pid = ctx
            .host
            .spawn_detached(&spec)
            .map_err(|e| host_failure("cannot start the service", &e))?;
        if let Err(e) = ctx
            .host
            .write_file(&cfg.pidfile, &format!("{pid}\n"), 0o644)
        {
            kill_group_now(ctx, pid, &cfg.pidfile, POLL);
            return Err(Failure::io(
                format!("cannot write pid file {}", cfg.pidfile.display()),
                &e,
            ));
        }
        tracing::info!(pid, "started {}", spec.program.display());
        self.await_ready(ctx, &cfg, pid, true)
    }

    fn stop(&self, ctx: &Ctx<'_>) -> ActionResult {
        let pidfile = Config::pidfile(&ctx.params, ctx.env);
        let Some(pid) = running_pid(ctx, &pidfile) else {
            let _ = ctx.host.remove_file(&pidfile);
            return Ok(Status::Success);
        };
        ctx.host
            .signal_group(pid, Signal::SIGTERM)
            .map_err(|e| host_failure("cannot stop the service", &e))?;
        if !wait_group_gone(ctx, pid, ctx.deadline.graceful_until(), POLL) {
            tracing::warn!(pid, "still running after SIGTERM, sending SIGKILL");
            ctx.host
                .signal_group(pid, Signal::SIGKILL)
                .map_err(|e| host_failure("cannot kill the service", &e))?;
            if !wait_group_gone(ctx, pid, ctx.deadline.end(), POLL) {
                return Err(Failure::generic(format!(
                    "process group {pid} survived SIGKILL"
                )));
            }
        }
        let _ = ctx.host.remove_file(&pidfile);
        tracing::info!(pid, "stopped");
        Ok(Status::Success)
    }

    fn monitor(&self, ctx: &Ctx<'_>) -> ActionResult {
        let pidfile = Config::pidfile(&ctx.params, ctx.env);
        if running_pid(ctx, &pidfile).is_none() {
            return Ok(Status::NotRunning);
        }
        let level = ctx.check_level();
        if level == CheckLevel::Basic {
            return Ok(Status::Success);
        }
        let cfg = Config::from_params(&ctx.params, ctx.env)?;
        let Some(h) = &cfg.health else {
            return Ok(Status::Success);
        };
        match check_health(ctx, h, level >= CheckLevel::Deep, None) {
            Check::Unhealthy(why) => Err(Failure::generic(why)),
            Check::Healthy { elapsed } => match cfg.slow_ms {
                Some(slow) if elapsed > Duration::from_millis(slow) => {
                    tracing::warn!(
                        elapsed_ms = elapsed.as_millis() as u64,
                        "health check slower than slow_ms={slow}"
                    );
                    Ok(Status::Degraded)
                }
                _ => Ok(Status::Success),
            },
        }
    }
}

#[cfg(test)]
mod tests;
