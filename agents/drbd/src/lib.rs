//! `ocf:crm-lite:drbd`: a promotable OCF agent for one DRBD 9 resource. It replaces
//! `ocf:linbit:drbd` for the common case (one resource, Primary/Secondary, fencing done
//! by the cluster).
//!
//! * state: `drbdsetup events2 --now <resource>` (see [`state`]), every action reads it;
//! * start: `drbdadm up` (or `adjust` when the resource exists), then waits for the
//!   disks to leave Attaching/Negotiating; records the promotion score;
//! * stop: `drbdadm down`, which demotes first (retried while the device is held open,
//!   until the deadline), removes the score;
//! * promote: only with UpToDate data on every volume, else 1 with the reason;
//!   `drbdadm primary`;
//! * demote: `drbdadm secondary` (retried while the device is held open);
//! * monitor: 7 down, 0 Secondary, 8 Primary, 9 Primary without its local data or
//!   quorum; refreshes the promotion score;
//! * notify: refreshes the score, never fails;
//! * validate-all: the parameters, drbdadm, the configuration (`drbdadm dump`), the
//!   kernel module and the clone's meta attributes ([`config::check_clone`]).
//!
//! Promotion scores ([`state::Resource::promotion_score`]) go through
//! [`ocf::promotion`]: `crm_attribute --promotion` under Pacemaker, files under crm-lite.
//! Every drbdadm and drbdsetup call is bounded by the action's deadline.

#![deny(missing_docs)]

pub mod config;
pub mod state;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ocf::host::{CommandOutput, CommandSpec, HostError};
use ocf::metadata::{ActionSpec, Role as MdRole};
use ocf::{Action, ActionResult, AgentInfo, Ctx, Failure, Status};

use config::Config;
use state::{Resource, Role};

/// The agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Drbd;

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new(Action::Start, 240),
    ActionSpec::new(Action::Stop, 100),
    ActionSpec::new(Action::Promote, 90),
    ActionSpec::new(Action::Demote, 90),
    ActionSpec::new(Action::Notify, 90),
    ActionSpec::new(Action::Monitor, 20)
        .every(20)
        .role(MdRole::Unpromoted),
    ActionSpec::new(Action::Monitor, 20)
        .every(10)
        .role(MdRole::Promoted),
];

/// What the agent says about itself.
pub static INFO: AgentInfo = AgentInfo {
    name: "drbd",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Manages a DRBD 9 resource as a promotable clone",
    longdesc: "Brings one DRBD resource up (drbdadm up or adjust), promotes it to Primary \
        and demotes it to Secondary, and takes it down. The state comes from \
        drbdsetup events2 --now. Monitor returns 0 for Secondary, 8 for Primary, 7 when the \
        resource is down, and 9 for a Primary that lost its local data (an I/O error \
        detached the disk) or its quorum. Promotion scores follow the local disk state: \
        10000 UpToDate with every peer connected, 1000 UpToDate with a peer unreachable, \
        100 Consistent, none for Outdated, Inconsistent or Diskless. Promote refuses \
        without UpToDate data on every volume. Run it as a promotable clone with \
        clone-node-max=1, promoted-node-max=1, promoted-max=1 (2 needs \
        allow-two-primaries) and notify=true.",
    params: config::PARAMS,
    actions: ACTIONS,
};

/// The longest the agent waits between two looks at a changing state.
const POLL: Duration = Duration::from_millis(200);

/// Why the agent could not read the resource's state.
#[derive(Debug)]
enum Unreadable {
    /// drbdsetup is not installed.
    NoTools(String),
    /// The kernel module is not loaded and cannot be.
    NoModule(String),
    /// Anything else (a timeout, an unexpected exit, unparsable output).
    Other(String),
}

impl Unreadable {
    fn reason(&self) -> &str {
        match self {
            Unreadable::NoTools(r) | Unreadable::NoModule(r) | Unreadable::Other(r) => r,
        }
    }

    /// The failure for actions that need DRBD here (start, promote, validate-all).
    fn failure(self) -> Failure {
        match self {
            Unreadable::NoTools(r) | Unreadable::NoModule(r) => Failure::installed(r),
            Unreadable::Other(r) => Failure::generic(r),
        }
    }
}

fn search_path() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    format!("{path}:{}", config::SBIN_PATH)
}

fn tool(ctx: &Ctx<'_>, name: &str) -> Result<PathBuf, Unreadable> {
    ctx.host
        .find_executable(name, &search_path())
        .ok_or_else(|| {
            Unreadable::NoTools(format!(
                "{name} not found (install drbd-utils 9 on this node)"
            ))
        })
}

fn run(ctx: &Ctx<'_>, program: &Path, args: Vec<String>) -> Result<CommandOutput, String> {
    let cmd = CommandSpec::new(program.display().to_string(), args);
    tracing::debug!(command = %cmd.display(), "running");
    ctx.host.run(&cmd, ctx.remaining()).map_err(|e| match e {
        HostError::Timeout { after, .. } => {
            format!("{} did not finish within {after:?}", cmd.display())
        }
        e => format!("cannot run {}: {e}", cmd.display()),
    })
}

/// A command's exit code, or the signal that ended it, for messages.
fn exit_code(out: &CommandOutput) -> String {
    match (out.code, out.signal) {
        (Some(c), _) => c.to_string(),
        (None, Some(s)) => format!("signal {s}"),
        (None, None) => "unknown".to_string(),
    }
}

/// The resource's state: `Ok(None)` when it is down.
fn read_state(ctx: &Ctx<'_>, resource: &str) -> Result<Option<Resource>, Unreadable> {
    let drbdsetup = tool(ctx, "drbdsetup")?;
    let args = ["events2", "--now", resource].map(String::from).to_vec();
    let out = run(ctx, &drbdsetup, args).map_err(Unreadable::Other)?;
    if state::module_missing(out.code, &out.stderr) {
        return Err(Unreadable::NoModule(format!(
            "the DRBD kernel module is not available: {}",
            state::last_message(&out.stderr)
        )));
    }
    if state::unknown_resource(out.code, &out.stderr) {
        return Ok(None);
    }
    if !out.success() {
        return Err(Unreadable::Other(format!(
            "drbdsetup events2 --now {resource} exited with {}: {}",
            exit_code(&out),
            state::last_message(&out.stderr)
        )));
    }
    let r = state::parse_events2(&out.stdout, resource)
        .map_err(|e| Unreadable::Other(e.to_string()))?;
    if let Some(r) = &r {
        tracing::debug!("state: {}", r.summary());
    }
    Ok(r)
}

/// Record this node's promotion score for the state; failures are logged, not fatal (the
/// next monitor tries again).
fn record_score(ctx: &Ctx<'_>, r: Option<&Resource>) {
    let score = r.and_then(Resource::promotion_score);
    if let Err(e) = ocf::promotion::set_score(ctx, score) {
        tracing::warn!("{e}");
    }
}

/// `drbdadm -c <conf> <args> <resource>`: `Err` with drbdsetup's message on failure.
fn drbdadm(ctx: &Ctx<'_>, cfg: &Config, args: &[&str]) -> Result<(), Failure> {
    let prog = tool(ctx, "drbdadm").map_err(Unreadable::failure)?;
    let out = run(ctx, &prog, cfg.drbdadm_args(args))
        .map_err(|m| Failure::from_message(&m, Failure::generic))?;
    if out.success() {
        return Ok(());
    }
    let what = format!("drbdadm {} {}", args.join(" "), cfg.resource);
    if state::module_missing(out.code, &out.stderr)
        || out.stderr.contains("Failed to modprobe drbd")
    {
        return Err(Failure::installed(format!(
            "{what}: the DRBD kernel module is not available: {}",
            state::drbdadm_failure(&out.stderr)
        )));
    }
    // Run by a user the kernel refuses (EPERM, EACCES): 4, not 1.
    Err(Failure::from_message(
        &format!(
            "{what} failed with exit code {}: {}",
            exit_code(&out),
            state::drbdadm_failure(&out.stderr)
        ),
        Failure::generic,
    ))
}

/// `drbdadm <verb>`, repeated while DRBD refuses it (a device held open by a file system
/// being unmounted, a state change in progress) until the graceful deadline; the last
/// refusal then. A failure that repeating cannot cure (no drbdadm, no module) ends it
/// at once.
fn drbdadm_retrying(ctx: &Ctx<'_>, cfg: &Config, verb: &str) -> Result<(), Failure> {
    let mut last = None;
    let done = ctx.poll(ctx.deadline.graceful_until(), POLL, || {
        match drbdadm(ctx, cfg, &[verb]) {
            Ok(()) => Some(Ok(())),
            Err(f) if f.exit() == ocf::OcfExit::ErrGeneric => {
                tracing::info!("{}; retrying", f.reason());
                last = Some(f);
                None
            }
            Err(f) => Some(Err(f)),
        }
    });
    match (done, last) {
        (Some(r), _) => r,
        (None, Some(f)) => Err(f),
        (None, None) => Err(Failure::generic(format!(
            "no time left to run drbdadm {verb} {}",
            cfg.resource
        ))),
    }
}

/// Poll the state until `done` holds or the graceful deadline passes; the last state read.
fn wait_state(
    ctx: &Ctx<'_>,
    cfg: &Config,
    mut done: impl FnMut(Option<&Resource>) -> bool,
) -> Result<Option<Resource>, Failure> {
    let mut last = None;
    let mut err = None;
    let ok = ctx.poll(ctx.deadline.graceful_until(), POLL, || {
        match read_state(ctx, &cfg.resource) {
            Ok(r) => {
                let d = done(r.as_ref());
                last = r;
                d.then_some(())
            }
            Err(e) => {
                err = Some(e.reason().to_string());
                None
            }
        }
    });
    match (ok, err) {
        (Some(()), _) => Ok(last),
        (None, Some(e)) if last.is_none() => Err(Failure::generic(e)),
        _ => Ok(last),
    }
}

impl Drbd {
    /// The checks start and validate-all share. Returns the configuration.
    fn check(&self, ctx: &Ctx<'_>) -> Result<Config, Failure> {
        let cfg = Config::from_params(&ctx.params)?;
        let drbdadm_path = tool(ctx, "drbdadm").map_err(Unreadable::failure)?;
        if !ctx.host.file_info(&cfg.conf).is_some_and(|i| i.is_file) {
            return Err(Failure::installed(format!(
                "drbdconf {} does not exist on this node",
                cfg.conf.display()
            )));
        }
        let out = run(ctx, &drbdadm_path, cfg.drbdadm_args(&["dump"])).map_err(Failure::generic)?;
        if !out.success() {
            let msg = state::drbdadm_failure(&out.stderr);
            return Err(if msg.contains("not defined in your config") {
                Failure::args(format!(
                    "resource {} in {}: {msg}",
                    cfg.resource,
                    cfg.conf.display()
                ))
            } else {
                Failure::configured(format!("drbdadm cannot read {}: {msg}", cfg.conf.display()))
            });
        }
        let (hosts, two_primaries) = config::scan_dump(&out.stdout);
        for w in config::check_clone(ctx.env, hosts, two_primaries)? {
            tracing::warn!("{w}");
        }
        Ok(cfg)
    }
}

impl ocf::Agent for Drbd {
    fn info(&self) -> &'static AgentInfo {
        &INFO
    }

    fn validate(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = self.check(ctx)?;
        read_state(ctx, &cfg.resource).map_err(Unreadable::failure)?;
        Ok(Status::Success)
    }

    fn start(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = self.check(ctx)?;
        let before = read_state(ctx, &cfg.resource).map_err(Unreadable::failure)?;
        let verb = if before.is_some() { "adjust" } else { "up" };
        drbdadm(ctx, &cfg, &[verb])?;
        let settled =
            |r: Option<&Resource>| r.is_some_and(|r| r.devices.iter().all(|d| !d.disk.transient()));
        let r = wait_state(ctx, &cfg, settled)?;
        let Some(r) = r else {
            return Err(Failure::generic(format!(
                "drbdadm {verb} {} succeeded but the resource is not up",
                cfg.resource
            )));
        };
        if !settled(Some(&r)) {
            tracing::warn!("start ends with disks still settling: {}", r.summary());
        }
        record_score(ctx, Some(&r));
        tracing::info!("started: {}", r.summary());
        Ok(Status::Success)
    }

    fn stop(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = match Config::from_params(&ctx.params) {
            Ok(c) => c,
            Err(f) => {
                tracing::warn!("{}; nothing can be running", f.reason());
                return Ok(Status::Success);
            }
        };
        let r = match read_state(ctx, &cfg.resource) {
            Ok(r) => r,
            Err(Unreadable::NoTools(why) | Unreadable::NoModule(why)) => {
                tracing::info!("{why}: {} cannot be running", cfg.resource);
                record_score(ctx, None);
                return Ok(Status::Success);
            }
            Err(Unreadable::Other(why)) => return Err(Failure::generic(why)),
        };
        if r.is_some() {
            drbdadm_retrying(ctx, &cfg, "down")?;
            if let Some(r) = read_state(ctx, &cfg.resource).map_err(Unreadable::failure)? {
                return Err(Failure::generic(format!(
                    "drbdadm down succeeded but {} is still up: {}",
                    cfg.resource,
                    r.summary()
                )));
            }
        }
        record_score(ctx, None);
        Ok(Status::Success)
    }

    fn monitor(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = match Config::from_params(&ctx.params) {
            Ok(c) => c,
            Err(f) if ctx.is_probe() => {
                tracing::warn!("{}; reporting not running", f.reason());
                return Ok(Status::NotRunning);
            }
            Err(f) => return Err(f),
        };
        let r = match read_state(ctx, &cfg.resource) {
            Ok(r) => r,
            Err(Unreadable::NoTools(why) | Unreadable::NoModule(why)) => {
                tracing::info!("{why}: {} is not running", cfg.resource);
                return Ok(Status::NotRunning);
            }
            Err(Unreadable::Other(why)) => return Err(Failure::generic(why)),
        };
        let Some(r) = r else {
            record_score(ctx, None);
            return Ok(Status::NotRunning);
        };
        record_score(ctx, Some(&r));
        if !r.all_peers_connected() {
            tracing::warn!("a peer is not connected: {}", r.summary());
        }
        match r.role {
            Role::Primary => match r.primary_failure() {
                Some(why) => Err(Failure::failed_promoted(why)),
                None => Ok(Status::RunningPromoted),
            },
            Role::Secondary => Ok(Status::Success),
            Role::Unknown => Err(Failure::generic(format!(
                "{} reports an unknown role: {}",
                cfg.resource,
                r.summary()
            ))),
        }
    }

    fn promote(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = Config::from_params(&ctx.params)?;
        let r = read_state(ctx, &cfg.resource).map_err(Unreadable::failure)?;
        let Some(r) = r else {
            return Err(Failure::generic(format!(
                "cannot promote {}: it is not up",
                cfg.resource
            )));
        };
        if r.role == Role::Primary {
            record_score(ctx, Some(&r));
            return Ok(Status::Success);
        }
        if let Some(why) = r.promote_refusal() {
            record_score(ctx, Some(&r));
            return Err(Failure::generic(format!("cannot promote: {why}")));
        }
        drbdadm(ctx, &cfg, &["primary"]).map_err(|f| f.context("promote"))?;
        let r = wait_state(ctx, &cfg, |r| r.is_some_and(|r| r.role == Role::Primary))?;
        record_score(ctx, r.as_ref());
        match r {
            Some(r) if r.role == Role::Primary => Ok(Status::Success),
            Some(r) => Err(Failure::generic(format!(
                "drbdadm primary succeeded but the resource is {:?}",
                r.role
            ))),
            None => Err(Failure::generic(format!(
                "{} went down during promote",
                cfg.resource
            ))),
        }
    }

    fn demote(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = Config::from_params(&ctx.params)?;
        let r = match read_state(ctx, &cfg.resource) {
            Ok(r) => r,
            Err(Unreadable::NoTools(why) | Unreadable::NoModule(why)) => {
                tracing::info!("{why}: {} is not running", cfg.resource);
                return Ok(Status::NotRunning);
            }
            Err(Unreadable::Other(why)) => return Err(Failure::generic(why)),
        };
        let Some(r) = r else {
            record_score(ctx, None);
            return Ok(Status::NotRunning);
        };
        if r.role != Role::Primary {
            record_score(ctx, Some(&r));
            return Ok(Status::Success);
        }
        drbdadm_retrying(ctx, &cfg, "secondary").map_err(|f| f.context("demote"))?;
        let r = read_state(ctx, &cfg.resource).map_err(Unreadable::failure)?;
        record_score(ctx, r.as_ref());
        match r {
            Some(r) if r.role == Role::Primary => Err(Failure::generic(format!(
                "drbdadm secondary succeeded but {} is still Primary",
                cfg.resource
            ))),
            _ => Ok(Status::Success),
        }
    }

    fn notify(&self, ctx: &Ctx<'_>) -> ActionResult {
        let Some(n) = &ctx.env.meta.notification else {
            return Ok(Status::Success);
        };
        tracing::debug!(kind = ?n.kind, operation = %n.operation, "notification");
        let Ok(cfg) = Config::from_params(&ctx.params) else {
            return Ok(Status::Success);
        };
        // Whatever happened around us (a peer promoted, demoted, started or stopped),
        // the local view of the peers changed: refresh the score. Never fail.
        match read_state(ctx, &cfg.resource) {
            Ok(r) => record_score(ctx, r.as_ref()),
            Err(e) => tracing::warn!("notify: {}", e.reason()),
        }
        Ok(Status::Success)
    }
}

#[cfg(test)]
mod tests;
