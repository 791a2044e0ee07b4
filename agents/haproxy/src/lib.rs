//! `ocf:crm-lite:haproxy`: an OCF agent for HAProxy in master-worker mode, with reloads
//! that never drop a connection and health checks that read HAProxy's own view of its
//! backends. resource-agents has no HAProxy agent; this one replaces `systemd:haproxy`
//! and `ocf:heartbeat:anything`.
//!
//! * validate-all: `haproxy -c`; an invalid configuration is 6 with HAProxy's own alerts.
//! * start: `haproxy -W -db -S master_socket -f config`, spawned in its own session; done
//!   when the stats socket answers `show info`.
//! * monitor: depth 0 the master process and `show info`; depth 10 `show stat` and
//!   `require_backends` (the failure names each backend that falls short). 7 when not
//!   running, also where HAProxy or its configuration is missing.
//! * reload: validate first, so a bad configuration never reaches the running instance;
//!   save `show servers state` to the configuration's `server-state-file` (so the new
//!   worker keeps down servers down); then the master CLI's `reload`, and success only
//!   once `show proc` lists a new worker and that worker answers on the stats socket. A reload the master could not complete
//!   (`[failed: N]` grew) fails with HAProxy's alerts; the old workers keep serving.
//! * stop: SIGUSR1 to the master (soft stop: listeners close, connections finish), then
//!   SIGTERM and SIGKILL to the process group, always before the deadline.
//!
//! The agent speaks to both sockets itself ([`ocf::Host::unix_request`]), each request
//! bounded by the deadline. The pid file is trusted only while its process is alive, leads
//! its own session and started before the file was written.

#![deny(missing_docs)]

pub mod config;
pub mod runtime;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use ocf::host::{CommandSpec, HostError, SpawnSpec};
use ocf::metadata::ActionSpec;
use ocf::service::{kill_group_now, running_pid, wait_group_gone};
use ocf::{Action, ActionResult, AgentInfo, CheckLevel, Ctx, Failure, Status};

use config::Config;
use runtime::{Info, ProcTable};

/// The agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Haproxy;

/// How often waits for the process group look again, at most.
const POLL: Duration = Duration::from_millis(50);

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new(Action::Start, 60),
    ActionSpec::new(Action::Stop, 60),
    ActionSpec::new(Action::Monitor, 20).every(10).depth(0),
    ActionSpec::new(Action::Monitor, 20).every(30).depth(10),
    ActionSpec::new(Action::Reload, 60),
];

/// What the agent says about itself.
pub static INFO: AgentInfo = AgentInfo {
    name: "haproxy",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Manages HAProxy in master-worker mode",
    longdesc: "Runs HAProxy in master-worker mode with a master CLI socket. Start is done \
        when the stats socket answers 'show info'. Monitor depth 0 checks the master process \
        and 'show info'; depth 10 reads 'show stat' and checks that every backend in \
        require_backends has enough servers up. Reload validates the configuration with \
        haproxy -c first (a bad configuration never reaches the running instance), then \
        reloads through the master CLI and waits until the new worker answers; connections \
        are not dropped. Stop is a soft stop (connections finish) turned into a forced one \
        before the timeout. Parameters other than binary, config, pidfile, master_socket and \
        extra_args take effect without a restart; to apply an edited configuration file, \
        run reload.",
    params: config::PARAMS,
    actions: ACTIONS,
};

/// The longest a single socket request may take (less when the deadline is nearer).
const SOCKET_TIMEOUT: Duration = Duration::from_secs(5);

/// How often stop repeats the soft-stop signal.
const SOFT_STOP_REPEAT: Duration = Duration::from_secs(1);

/// How long monitor keeps asking a socket that does not answer before it reports it.
const MONITOR_RETRY: Duration = Duration::from_secs(1);

/// One request on a socket, done by `until` (at the latest the deadline).
fn ask(ctx: &Ctx<'_>, socket: &Path, command: &str, until: Instant) -> Result<String, String> {
    let left = until.saturating_duration_since(ctx.host.now());
    let timeout = ctx.bounded(SOCKET_TIMEOUT).min(left);
    if timeout.is_zero() {
        return Err(format!("no time left to ask '{command}'"));
    }
    ctx.host
        .unix_request(socket, &format!("{command}\n"), timeout)
        .map_err(|e| e.to_string())
}

fn show_info(ctx: &Ctx<'_>, stats: &Path, until: Instant) -> Result<Info, String> {
    runtime::parse_info(&ask(ctx, stats, "show info", until)?)
}

fn show_proc(ctx: &Ctx<'_>, master: &Path, until: Instant) -> Result<ProcTable, String> {
    runtime::parse_proc(&ask(ctx, master, "show proc", until)?)
}

/// Ask until an answer parses or `until` passes; the last error otherwise.
fn ask_until<T>(
    ctx: &Ctx<'_>,
    until: Instant,
    mut once: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let mut last = String::new();
    ctx.poll(until, Duration::from_millis(100), || match once() {
        Ok(v) => Some(v),
        Err(e) => {
            last = e;
            None
        }
    })
    .ok_or(last)
}

/// The configuration's global `server-state-file`, if it declares one.
fn cfg_state_file(ctx: &Ctx<'_>, cfg: &Config) -> Option<PathBuf> {
    let text = ctx.host.read_file(&cfg.config).ok()?;
    config::scan_config(&text).server_state_file
}

/// HAProxy's alerts in its log from byte `from` on, as a reason ("" when there are none).
fn log_alerts(ctx: &Ctx<'_>, log: &Path, from: usize) -> String {
    let text = ctx.host.read_file(log).unwrap_or_default();
    let tail = text.get(from..).unwrap_or("");
    match config::alerts_reason(tail) {
        Some(r) => format!(": {r}"),
        None => String::new(),
    }
}

impl Haproxy {
    /// Everything validate-all, start and reload check on this host: the binary, the
    /// configuration file, the stats socket, the backends. Returns the binary's path and
    /// the stats socket.
    fn local_checks(&self, ctx: &Ctx<'_>, cfg: &Config) -> Result<(PathBuf, PathBuf), Failure> {
        let path = std::env::var("PATH").unwrap_or_default();
        let search = format!("{path}:{}", config::SBIN_PATH);
        let binary = ctx
            .host
            .find_executable(&cfg.binary, &search)
            .ok_or_else(|| {
                Failure::installed(format!(
                    "binary {:?} not found or not executable",
                    cfg.binary
                ))
            })?;
        let Some(info) = ctx.host.file_info(&cfg.config) else {
            return Err(Failure::installed(format!(
                "configuration {} does not exist",
                cfg.config.display()
            )));
        };
        let facts = if info.is_file {
            let text = ctx.host.read_file(&cfg.config).map_err(|e| {
                let reason = format!("cannot read {}: {e}", cfg.config.display());
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    Failure::perm(reason)
                } else {
                    Failure::installed(reason)
                }
            })?;
            Some(config::scan_config(&text))
        } else {
            None
        };
        let (stats, warnings) =
            config::choose_stats_socket(cfg.stats_socket.as_deref(), facts.as_ref(), &cfg.config)?;
        for w in warnings {
            tracing::warn!("{w}");
        }
        if let Some(f) = facts.as_ref().filter(|_| !cfg.has_more_files()) {
            config::check_backends_declared(&cfg.require, f).map_err(Failure::configured)?;
        }
        Ok((binary, stats))
    }

    /// `haproxy -c`: 6 with HAProxy's own message when the configuration is invalid.
    fn check_config(&self, ctx: &Ctx<'_>, cfg: &Config, binary: &Path) -> Result<(), Failure> {
        let cmd = CommandSpec::new(binary.display().to_string(), cfg.check_args());
        let out = ctx.host.run(&cmd, ctx.remaining()).map_err(|e| match e {
            HostError::Timeout { after, .. } => Failure::generic(format!(
                "the configuration check did not finish within {after:?}"
            )),
            e => Failure::generic(format!("cannot check the configuration: {e}")),
        })?;
        let text = format!("{}{}", out.stderr, out.stdout);
        if !out.success() {
            let reason = config::check_failure_reason(&text);
            // An unreadable file is this host's permissions, not an invalid configuration.
            if ocf::exit::mentions_permission(&reason) {
                return Err(Failure::perm(format!("haproxy -c: {reason}")));
            }
            return Err(Failure::configured(format!(
                "configuration {} is invalid: {reason}",
                cfg.config.display(),
            )));
        }
        for w in config::warnings(&text) {
            tracing::warn!("haproxy -c: {w}");
        }
        Ok(())
    }

    /// The stats socket for monitor: from the parameter or the configuration file.
    fn stats_socket_for_monitor(&self, ctx: &Ctx<'_>, cfg: &Config) -> Result<PathBuf, Failure> {
        if let Some(s) = &cfg.stats_socket {
            return Ok(s.clone());
        }
        let text = ctx.host.read_file(&cfg.config).map_err(|e| {
            Failure::generic(format!(
                "cannot find the stats socket: cannot read {}: {e}",
                cfg.config.display()
            ))
        })?;
        let facts = config::scan_config(&text);
        config::choose_stats_socket(None, Some(&facts), &cfg.config)
            .map(|(s, _)| s)
            .map_err(|f| Failure::generic(f.reason().to_string()))
    }

    /// Wait until a worker answers `show info` and the master's CLI lists it, or fail (and
    /// clean up what we started) at the deadline or when the master dies. The worker
    /// serves before the master is settled: HAProxy 2.6's master re-executes itself once
    /// its worker runs (to shed the configuration's memory), and a reload or stop sent in
    /// that window is lost.
    fn await_ready(
        &self,
        ctx: &Ctx<'_>,
        cfg: &Config,
        stats: &Path,
        pid: u32,
        ours: bool,
    ) -> ActionResult {
        let mut pause = Duration::from_millis(10);
        loop {
            let exited = if ours { ctx.host.try_reap(pid) } else { None };
            if exited.is_some() || !ctx.host.process(pid).is_some_and(|p| p.alive()) {
                let _ = ctx.host.remove_file(&cfg.pidfile);
                let status = exited.map_or(String::new(), |c| format!(" with status {c}"));
                return Err(Failure::generic(format!(
                    "haproxy exited{status} while starting{}",
                    log_alerts(ctx, &cfg.log_file(), 0)
                )));
            }
            // Requests end in time to kill what we started if it never gets ready.
            let give_up = ctx.deadline.graceful_until();
            let ready = show_info(ctx, stats, give_up).and_then(|info| {
                let table = show_proc(ctx, &cfg.master_socket, give_up)
                    .map_err(|e| format!("the master CLI does not answer yet: {e}"))?;
                if table.workers.is_empty() {
                    return Err("the master lists no worker yet".to_string());
                }
                Ok(info)
            });
            let last = match ready {
                Ok(info) => {
                    tracing::info!(
                        master = pid,
                        worker = info.pid,
                        version = %info.version,
                        "haproxy is serving"
                    );
                    return Ok(Status::Success);
                }
                Err(e) => e,
            };
            // Keep a moment to kill what we started if it never answers.
            let left = ctx
                .deadline
                .graceful_until()
                .saturating_duration_since(ctx.host.now());
            if left.is_zero() {
                if ours {
                    kill_group_now(ctx, pid, &cfg.pidfile, POLL);
                }
                return Err(Failure::generic(format!(
                    "haproxy was not ready before the start timeout (stats socket {}): {last}",
                    stats.display()
                )));
            }
            ctx.host.sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Before a reload: write `show servers state` to the configuration's
    /// `server-state-file`, from which the new worker (with `load-server-state-from-file
    /// global`) takes each server's state instead of assuming it up until its first check.
    /// A failure here is logged: the reload goes on without the states.
    fn save_server_state(&self, ctx: &Ctx<'_>, file: Option<&Path>, stats: &Path) {
        let Some(file) = file else {
            return;
        };
        let saved = ask(ctx, stats, "show servers state", ctx.deadline.end()).and_then(|text| {
            if !text.starts_with("1\n") {
                return Err(format!(
                    "'show servers state' answered {:?}",
                    text.lines().next().unwrap_or("")
                ));
            }
            ctx.host
                .write_file(file, &text, 0o600)
                .map_err(|e| format!("cannot write {}: {e}", file.display()))
        });
        match saved {
            Ok(()) => tracing::info!("server states saved to {}", file.display()),
            Err(e) => tracing::warn!("server states not saved: {e}"),
        }
    }

    /// The running master's command line, from `/proc`.
    fn master_cmdline(&self, ctx: &Ctx<'_>, pid: u32) -> Option<Vec<String>> {
        let raw = ctx
            .host
            .read_file(Path::new(&format!("/proc/{pid}/cmdline")))
            .ok()?;
        Some(
            raw.split('\0')
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    /// After the master was asked to reload: wait for the verdict. Success is a new worker
    /// (one `before` did not list) answering on the stats socket; failure is a grown
    /// `[failed: N]` count.
    fn await_reload(
        &self,
        ctx: &Ctx<'_>,
        cfg: &Config,
        stats: &Path,
        before: &ProcTable,
        log_from: usize,
    ) -> ActionResult {
        let mut last = String::from("the master CLI did not answer");
        let verdict = ctx.poll(ctx.deadline.end(), Duration::from_millis(50), || {
            let table = match show_proc(ctx, &cfg.master_socket, ctx.deadline.end()) {
                Ok(t) => t,
                Err(e) => {
                    last = format!("the master CLI does not answer: {e}");
                    return None;
                }
            };
            if table.failed > before.failed {
                return Some(Err(()));
            }
            let new: Vec<u32> = table
                .workers
                .iter()
                .copied()
                .filter(|w| !before.workers.contains(w) && !before.old_workers.contains(w))
                .collect();
            if table.reloads <= before.reloads || new.is_empty() {
                last = "no new worker yet".to_string();
                return None;
            }
            match show_info(ctx, stats, ctx.deadline.end()) {
                Ok(info) if new.contains(&info.pid) => Some(Ok(info.pid)),
                Ok(info) => {
                    last = format!(
                        "worker {} still answers on the stats socket, not the new {new:?}",
                        info.pid
                    );
                    None
                }
                Err(e) => {
                    last = e;
                    None
                }
            }
        });
        match verdict {
            Some(Ok(worker)) => {
                tracing::info!(worker, "reloaded; the new worker is serving");
                Ok(Status::Success)
            }
            Some(Err(())) => Err(Failure::generic(format!(
                "haproxy could not load the new configuration and keeps serving the previous \
                 one{}",
                log_alerts(ctx, &cfg.log_file(), log_from)
            ))),
            None => Err(Failure::generic(format!(
                "the reload did not complete before the timeout: {last}"
            ))),
        }
    }
}

impl ocf::Agent for Haproxy {
    fn info(&self) -> &'static AgentInfo {
        &INFO
    }

    fn validate(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = Config::from_params(&ctx.params, ctx.env)?;
        let (binary, _) = self.local_checks(ctx, &cfg)?;
        self.check_config(ctx, &cfg, &binary)?;
        Ok(Status::Success)
    }

    fn start(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = Config::from_params(&ctx.params, ctx.env)?;
        let (binary, stats) = self.local_checks(ctx, &cfg)?;
        if let Some(pid) = running_pid(ctx, &cfg.pidfile) {
            tracing::info!(pid, "already running");
            return self.await_ready(ctx, &cfg, &stats, pid, false);
        }
        self.check_config(ctx, &cfg, &binary)?;
        for dir in [
            cfg.pidfile.parent(),
            cfg.master_socket.parent(),
            stats.parent(),
        ]
        .into_iter()
        .flatten()
        {
            ctx.host
                .create_dir_all(dir)
                .map_err(|e| Failure::io(format!("cannot create {}", dir.display()), &e))?;
        }
        let log = cfg.log_file();
        let _ = ctx.host.remove_file(&log);
        let spec = SpawnSpec {
            program: binary.clone(),
            args: cfg.master_args(),
            cwd: Some("/".into()),
            env: Vec::new(),
            env_remove_prefixes: ["OCF_", "HA_", "PCMK_", "CRM_"].map(String::from).to_vec(),
            log_file: Some(log),
            user: None,
        };
        let pid = ctx
            .host
            .spawn_detached(&spec)
            .map_err(|e| e.failure("cannot start haproxy"))?;
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
        tracing::info!(pid, "started {} {}", binary.display(), spec.args.join(" "));
        self.await_ready(ctx, &cfg, &stats, pid, true)
    }

    fn stop(&self, ctx: &Ctx<'_>) -> ActionResult {
        let pidfile = Config::pidfile(&ctx.params, ctx.env);
        let Some(pid) = running_pid(ctx, &pidfile) else {
            let _ = ctx.host.remove_file(&pidfile);
            return Ok(Status::Success);
        };
        // Soft stop: the master tells its workers to close their listeners and finish their
        // connections, and exits when they have. The signal is repeated every second: one
        // that arrives while the master re-executes itself is lost.
        let graceful = ctx.deadline.graceful_until();
        let mut gone = false;
        while !gone && ctx.host.now() < graceful {
            ctx.host
                .signal(pid, Signal::SIGUSR1)
                .map_err(|e| e.failure("cannot stop haproxy"))?;
            let slice = (ctx.host.now() + SOFT_STOP_REPEAT).min(graceful);
            gone = wait_group_gone(ctx, pid, slice, POLL);
        }
        if !gone {
            tracing::warn!(
                pid,
                "connections still open at the soft-stop limit, forcing"
            );
            ctx.host
                .signal_group(pid, Signal::SIGTERM)
                .map_err(|e| e.failure("cannot stop haproxy"))?;
            let now = ctx.host.now();
            let half = now + ctx.deadline.end().saturating_duration_since(now) / 2;
            if !wait_group_gone(ctx, pid, half, POLL) {
                tracing::warn!(pid, "still running after SIGTERM, sending SIGKILL");
                ctx.host
                    .signal_group(pid, Signal::SIGKILL)
                    .map_err(|e| e.failure("cannot kill haproxy"))?;
                if !wait_group_gone(ctx, pid, ctx.deadline.end(), POLL) {
                    return Err(Failure::generic(format!(
                        "process group {pid} survived SIGKILL"
                    )));
                }
            }
        }
        let _ = ctx.host.remove_file(&pidfile);
        tracing::info!(pid, "stopped");
        Ok(Status::Success)
    }

    fn monitor(&self, ctx: &Ctx<'_>) -> ActionResult {
        let pidfile = Config::pidfile(&ctx.params, ctx.env);
        let Some(pid) = running_pid(ctx, &pidfile) else {
            return Ok(Status::NotRunning);
        };
        let cfg = Config::from_params(&ctx.params, ctx.env)?;
        let stats = self.stats_socket_for_monitor(ctx, &cfg)?;
        let until = ctx.host.now() + ctx.bounded(MONITOR_RETRY);
        if ctx.check_level() == CheckLevel::Basic {
            return match ask_until(ctx, until, || show_info(ctx, &stats, ctx.deadline.end())) {
                Ok(_) => Ok(Status::Success),
                Err(e) => Err(Failure::generic(format!(
                    "haproxy master {pid} runs but the stats socket {} does not answer: {e}",
                    stats.display()
                ))),
            };
        }
        let rows = ask_until(ctx, until, || {
            runtime::parse_stat(&ask(ctx, &stats, "show stat", ctx.deadline.end())?)
        })
        .map_err(|e| {
            Failure::generic(format!(
                "haproxy master {pid} runs but the stats socket {} does not answer: {e}",
                stats.display()
            ))
        })?;
        runtime::check_backends(&rows, &cfg.require).map_err(Failure::generic)?;
        Ok(Status::Success)
    }

    fn reload(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = Config::from_params(&ctx.params, ctx.env)?;
        let (binary, stats) = self.local_checks(ctx, &cfg)?;
        // A configuration that does not pass never reaches the running instance.
        self.check_config(ctx, &cfg, &binary)?;
        let Some(pid) = running_pid(ctx, &cfg.pidfile) else {
            tracing::info!("not running; the configuration applies at the next start");
            return Ok(Status::Success);
        };
        // The master re-executes itself with its original arguments.
        let wanted = cfg.master_args();
        if let Some(running) = self
            .master_cmdline(ctx, pid)
            .map(|argv| argv.into_iter().skip(1).collect::<Vec<_>>())
            .filter(|args| *args != wanted)
        {
            return Err(Failure::generic(format!(
                "the running master has the arguments '{}' but the parameters ask for '{}'; \
                 config, master_socket and extra_args change only with a restart",
                running.join(" "),
                wanted.join(" ")
            )));
        }
        let until = ctx.host.now() + ctx.bounded(MONITOR_RETRY);
        let before = ask_until(ctx, until, || {
            show_proc(ctx, &cfg.master_socket, ctx.deadline.end())
        })
        .map_err(|e| {
            Failure::generic(format!(
                "the master CLI {} does not answer: {e}",
                cfg.master_socket.display()
            ))
        })?;
        self.save_server_state(ctx, cfg_state_file(ctx, &cfg).as_deref(), &stats);
        let log = cfg.log_file();
        let log_from = ctx.host.read_file(&log).map_or(0, |t| t.len());
        // The master re-executes itself and drops the connection: no answer is expected.
        match ctx
            .host
            .unix_request(&cfg.master_socket, "reload\n", ctx.bounded(SOCKET_TIMEOUT))
        {
            Err(HostError::Io { source, what })
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::NotFound
                        | std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::PermissionDenied
                ) =>
            {
                return Err(Failure::generic(format!(
                    "cannot ask the master to reload: {what}: {source}"
                )));
            }
            // Answered, or dropped by the re-executing master: the verdict comes next.
            _ => {}
        }
        tracing::info!(master = pid, "reload requested");
        self.await_reload(ctx, &cfg, &stats, &before, log_from)
    }
}

#[cfg(test)]
mod tests;
