//! `ocf:crm-lite:mysql`: a promotable MySQL/MariaDB agent with GTID replication that never
//! promotes stale data.
//!
//! * start: the server (`mariadbd`/`mysqld`, no `mysqld_safe`) in its own session,
//!   always read-only and without replication threads; ready when it answers on its
//!   socket. Replication already set up is resumed.
//! * monitor: 7 stopped; 8 writable (promoted); 9 when promoted but read-only or not
//!   answering; 0 for a replica whose applier is healthy and within `max_lag`. A replica
//!   with a broken applier fails; one past `max_lag` fails (or is degraded, 190). Healthy
//!   replicas publish a promotion score that grows with their applied GTID position
//!   ([`config::score`]); the others publish none.
//! * promote: stop receiving, apply the relay log to the end (bounded by the deadline),
//!   check that no other node's server is ahead, forget the source, turn writes on.
//! * demote: read_only on (checked), then replicate from the new primary when the notify
//!   variables name it; otherwise the post-promote notification sets that up.
//! * notify: post-promote and post-start point the local replica at the promoted node.
//! * stop: SIGTERM (a clean shutdown), SIGKILL to the group before the deadline.
//!
//! The agent speaks the client protocol itself ([`mysql_wire`]) over the Unix socket, and
//! over TCP to the other nodes' servers at promote. Passwords come only from files of
//! mode 0600 or stricter and travel only inside the protocol.

#![deny(missing_docs)]

pub mod config;

use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mysql_wire::{Conn, ResultSet, Transport, WireError};
use nix::sys::signal::Signal;
use ocf::env::Notification;
use ocf::host::{CommandSpec, SpawnSpec};
use ocf::metadata::ActionSpec;
use ocf::promotion::{self, Backend};
use ocf::service::{kill_group_now, running_pid, runtime_file, wait_group_gone};
use ocf::{Action, ActionResult, AgentInfo, CheckLevel, Ctx, Failure, Role, Status};

use config::{Config, Flavor, Health, Position, ReplicaStatus};

/// The agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mysql;

const POLL: Duration = Duration::from_millis(50);

/// The longest one connection attempt to the local server may take.
const LOCAL_CONNECT: Duration = Duration::from_secs(5);

/// The longest a peer may take to answer at promote.
const PEER_TIMEOUT: Duration = Duration::from_secs(2);

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new(Action::Start, 120),
    ActionSpec::new(Action::Stop, 120),
    ActionSpec::new(Action::Monitor, 20)
        .every(10)
        .role(Role::Promoted),
    ActionSpec::new(Action::Monitor, 20)
        .every(11)
        .role(Role::Unpromoted),
    ActionSpec::new(Action::Promote, 120),
    ActionSpec::new(Action::Demote, 120),
    ActionSpec::new(Action::Notify, 90),
];

/// What the agent says about itself.
pub static INFO: AgentInfo = AgentInfo {
    name: "mysql",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Manages a MariaDB/MySQL primary with GTID replicas",
    longdesc: "A promotable agent for MariaDB (10.x, 11.x) and MySQL 8. Every instance \
        starts as a read-only replica. Replicas replicate by GTID (MASTER_USE_GTID=slave_pos \
        on MariaDB, SOURCE_AUTO_POSITION on MySQL) and publish a promotion score that grows \
        with the GTID position they have applied, so the most advanced replica wins. A replica \
        whose SQL thread is stopped or failed, or that lags more than max_lag, gets no score. \
        Promote applies the relay log to the end, refuses when another node's server is \
        ahead, and only then turns writes on. Demote turns read_only on and checks it. Use \
        with notify=true so that replicas follow a newly promoted node.",
    params: config::PARAMS,
    actions: ACTIONS,
};

type Local = Conn<UnixStream>;

fn wire(what: &str, e: WireError) -> String {
    format!("{what}: {e}")
}

/// One statement; the error names `what` (never the statement: it may hold a password).
fn run<S: Transport>(c: &mut Conn<S>, what: &str, sql: &str) -> Result<ResultSet, String> {
    c.query(sql).map_err(|e| wire(what, e))
}

/// A password from a file that only its owner can read.
fn read_secret(ctx: &Ctx<'_>, param: &str, path: Option<&Path>) -> Result<String, Failure> {
    let Some(path) = path else {
        return Ok(String::new());
    };
    let info = ctx.host.file_info(path).ok_or_else(|| {
        Failure::installed(format!(
            "parameter {param}: {} does not exist",
            path.display()
        ))
    })?;
    if info.mode & 0o077 != 0 {
        return Err(Failure::configured(format!(
            "parameter {param}: {} has mode {:o}; it must be 0600 or stricter",
            path.display(),
            info.mode
        )));
    }
    let text = ctx.host.read_file(path).map_err(|e| {
        Failure::installed(format!(
            "parameter {param}: cannot read {}: {e}",
            path.display()
        ))
    })?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

fn promoted_marker(ctx: &Ctx<'_>) -> PathBuf {
    runtime_file(ctx.env, "mysql", ".promoted")
}

fn score_cache(ctx: &Ctx<'_>) -> PathBuf {
    runtime_file(ctx.env, "mysql", ".score")
}

fn log_file(ctx: &Ctx<'_>) -> PathBuf {
    runtime_file(ctx.env, "mysql", ".log")
}

/// The last lines of the server's output, for a reason.
fn log_tail(ctx: &Ctx<'_>) -> String {
    let text = ctx.host.read_file(&log_file(ctx)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(2)..].join(" | ");
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {tail}")
    }
}

/// Publish (or remove) this node's promotion score, writing only on a change. A failure
/// to record it is logged, never an action failure (a demote or stop must not fail on a
/// cluster that does not answer).
fn publish_score(ctx: &Ctx<'_>, score: Option<i64>) {
    let want = score.map(|s| format!("{s}\n"));
    let current = match Backend::for_env(ctx.env) {
        Backend::Files(dir) => ctx
            .host
            .read_file(&dir.join(promotion::attribute_name(ctx.env.resource_base())))
            .ok(),
        Backend::Pacemaker => ctx.host.read_file(&score_cache(ctx)).ok(),
    };
    if current == want {
        return;
    }
    match promotion::set_score(ctx, score) {
        Ok(()) => {
            tracing::debug!(?score, "promotion score");
            if Backend::for_env(ctx.env) == Backend::Pacemaker {
                let cache = score_cache(ctx);
                let _ = match &want {
                    Some(w) => ctx
                        .host
                        .create_dir_all(cache.parent().unwrap_or(Path::new("/")))
                        .and_then(|()| ctx.host.write_file(&cache, w, 0o644)),
                    None => ctx.host.remove_file(&cache),
                };
            }
        }
        Err(e) => tracing::warn!("{e}"),
    }
}

/// The server's state as monitor sees it.
struct Observed {
    read_only: bool,
    position: Position,
    status: Option<ReplicaStatus>,
}

impl Mysql {
    fn config(ctx: &Ctx<'_>) -> Result<Config, Failure> {
        Config::from_params(&ctx.params)
    }

    fn hostname(ctx: &Ctx<'_>) -> String {
        ctx.host
            .read_file(Path::new("/proc/sys/kernel/hostname"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    fn local_node(ctx: &Ctx<'_>, cfg: &Config) -> String {
        cfg.local_node(ctx.env, &Self::hostname(ctx))
    }

    /// Log in to the local server, within `until`.
    fn connect(ctx: &Ctx<'_>, cfg: &Config, until: Instant) -> Result<(Local, Flavor), String> {
        let pw = read_secret(
            ctx,
            "admin_password_file",
            cfg.admin_password_file.as_deref(),
        )
        .map_err(|f| f.reason().to_string())?;
        let until = until.min(ctx.deadline.end());
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("no time left to connect".into());
        }
        let stream = ocf::unix::connect(&cfg.socket, left)
            .map_err(|e| format!("cannot connect to {}: {e}", cfg.socket.display()))?;
        let conn = Conn::login(stream, &cfg.admin_user, pw.as_bytes(), true, until)
            .map_err(|e| wire(&format!("cannot log in as {}", cfg.admin_user), e))?;
        let flavor = Flavor::from_version(&conn.handshake().server_version);
        Ok((conn, flavor))
    }

    fn observe(c: &mut Local, flavor: Flavor, domain: u32) -> Result<Observed, String> {
        let rs = run(c, "cannot read the position", flavor.position_query())?;
        let read_only = rs.scalar() != Some("0");
        let text = rs.rows.first().and_then(|r| r.get(1)).cloned().flatten();
        let position = Position::parse(flavor, text.as_deref().unwrap_or(""))?;
        let st = run(c, "cannot read the replica status", flavor.status_query())?;
        let mut status = ReplicaStatus::from_result(&st);
        if let Some(s) = status.as_mut() {
            s.note_applied(flavor, &position, domain);
        }
        Ok(Observed {
            read_only,
            position,
            status,
        })
    }

    fn test_query(c: &mut Local, cfg: &Config) -> Result<(), String> {
        run(
            c,
            &format!("cannot read {}", cfg.test_table),
            &format!("SELECT COUNT(*) FROM {}", cfg.test_table),
        )
        .map(|_| ())
    }

    /// Point the local server at `node`'s server and start replicating, unless it already
    /// replicates from there.
    fn replicate_from(
        ctx: &Ctx<'_>,
        cfg: &Config,
        c: &mut Local,
        flavor: Flavor,
        node: &str,
    ) -> Result<(), Failure> {
        let (host, port) = cfg.address_of(node);
        let st = run(c, "cannot read the replica status", flavor.status_query())
            .map_err(Failure::generic)?;
        if let Some(s) = ReplicaStatus::from_result(&st) {
            if s.source_host == host && s.source_port == port && s.running() {
                tracing::info!(node, "already replicating from {host}:{port}");
                return Ok(());
            }
        }
        let pw = read_secret(
            ctx,
            "replication_password_file",
            cfg.replication_password_file.as_deref(),
        )?;
        let g = |r: Result<ResultSet, String>| r.map(|_| ()).map_err(Failure::generic);
        g(run(c, "cannot stop replication", flavor.stop_replica()))?;
        if flavor == Flavor::MariaDb {
            // A former primary's own transactions are in its binlog, not in its slave
            // position: start from what it has, not from what it once replicated.
            g(run(
                c,
                "cannot align gtid_slave_pos",
                "SET GLOBAL gtid_slave_pos = @@global.gtid_current_pos",
            ))?;
        }
        g(run(
            c,
            "cannot set the replication source",
            &flavor.change_source(&host, port, &cfg.replication_user, &pw),
        ))?;
        g(run(c, "cannot start replication", flavor.start_replica()))?;
        tracing::info!(node, "replicating from {host}:{port}");
        Ok(())
    }

    /// The primary a notification names, other than this node: the one being promoted,
    /// else one already promoted and not being demoted.
    fn primary_from_notification(n: &Notification, me: &str) -> Option<String> {
        let other = |p: &ocf::env::Peer| p.node.clone().filter(|node| node != me);
        n.promote.iter().find_map(other).or_else(|| {
            n.promoted
                .iter()
                .filter(|p| !n.demote.iter().any(|d| d.resource == p.resource))
                .find_map(other)
        })
    }

    /// Under Pacemaker, the instance it already has in the promoted role, if another node
    /// holds it (`crm_resource --locate`, bounded by the deadline).
    fn pacemaker_primary(ctx: &Ctx<'_>, me: &str) -> Option<String> {
        ctx.env.crm_feature_set.as_ref()?;
        let cmd = CommandSpec::new(
            "crm_resource",
            ["--locate", "--resource", ctx.env.resource_base()],
        );
        match ctx.host.run(&cmd, ctx.bounded(Duration::from_secs(5))) {
            Ok(out) if out.success() => config::promoted_from_locate(&out.stdout, me),
            Ok(out) => {
                tracing::info!("crm_resource --locate: {}", out.stderr.trim());
                None
            }
            Err(e) => {
                tracing::info!("crm_resource --locate: {e}");
                None
            }
        }
    }

    /// At promote: the position of every other listed node's server that answers; fails
    /// when one is ahead of `mine`.
    fn check_peers(
        ctx: &Ctx<'_>,
        cfg: &Config,
        flavor: Flavor,
        me: &str,
        mine: &Position,
    ) -> Result<(), Failure> {
        if cfg.nodes.is_empty() {
            tracing::warn!("node_addresses is not set: no check that another node is ahead");
            return Ok(());
        }
        let pw = read_secret(
            ctx,
            "replication_password_file",
            cfg.replication_password_file.as_deref(),
        )?;
        for (node, (host, port)) in cfg.nodes.iter().filter(|(n, _)| n.as_str() != me) {
            let until = ctx.host.now() + ctx.bounded(PEER_TIMEOUT);
            // Err(true): the server answered but could not be compared (refuse);
            // Err(false): nobody answered in time (a failed node: skip).
            let peer = (|| -> Result<Vec<Position>, (bool, String)> {
                let gone = |e: String| (false, e);
                let addr = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(|e| gone(e.to_string()))?
                    .next()
                    .ok_or_else(|| gone("no address".into()))?;
                let left = until.saturating_duration_since(ctx.host.now());
                if left.is_zero() {
                    return Err(gone("no time left".into()));
                }
                let s = TcpStream::connect_timeout(&addr, left).map_err(|e| gone(e.to_string()))?;
                let answered = |e: WireError| match e {
                    WireError::Timeout | WireError::Io(_) => (false, e.to_string()),
                    e => (true, e.to_string()),
                };
                let mut c = Conn::login(s, &cfg.replication_user, pw.as_bytes(), false, until)
                    .map_err(answered)?;
                let rs = c.query(flavor.position_query()).map_err(answered)?;
                let text = rs.rows.first().and_then(|r| r.get(1)).cloned().flatten();
                let mut out = vec![
                    Position::parse(flavor, text.as_deref().unwrap_or(""))
                        .map_err(|e| (true, e))?,
                ];
                // What it received but may not have applied yet counts too (needs a
                // monitoring privilege; without it, the applied position is all we see).
                if let Ok(st) = c.query(flavor.status_query()) {
                    if let Some(r) = ReplicaStatus::from_result(&st) {
                        if let Ok(p) = Position::parse(flavor, &r.received) {
                            out.push(p);
                        }
                    }
                }
                Ok(out)
            })();
            match peer {
                Ok(positions) => {
                    if let Some(p) = positions.iter().find(|p| mine.is_behind(p, cfg.domain)) {
                        return Err(Failure::generic(format!(
                            "node {node} ({host}:{port}) is ahead: it has {} transactions \
                             in domain {} against our {}; not promoting stale data",
                            p.progress(cfg.domain),
                            cfg.domain,
                            mine.progress(cfg.domain)
                        )));
                    }
                    tracing::info!(node, "not ahead of us");
                }
                Err((true, e)) => {
                    return Err(Failure::generic(format!(
                        "node {node} ({host}:{port}) answers but cannot be compared ({e}); \
                         not promoting without knowing it is not ahead"
                    )));
                }
                Err((false, e)) => {
                    tracing::info!(node, "not reachable at promote ({e}); skipped");
                }
            }
        }
        Ok(())
    }

    fn await_ready(ctx: &Ctx<'_>, cfg: &Config, pid: u32) -> Result<(Local, Flavor), Failure> {
        let give_up = ctx.deadline.graceful_until();
        let mut last;
        let mut pause = Duration::from_millis(10);
        loop {
            if let Some(code) = ctx.host.try_reap(pid) {
                return Err(Failure::generic(format!(
                    "the server exited with status {code} while starting{}",
                    log_tail(ctx)
                )));
            }
            if !ctx.host.process(pid).is_some_and(|p| p.alive()) {
                return Err(Failure::generic(format!(
                    "the server exited while starting{}",
                    log_tail(ctx)
                )));
            }
            let until = (ctx.host.now() + LOCAL_CONNECT).min(give_up);
            match Self::connect(ctx, cfg, until)
                .and_then(|(mut c, f)| run(&mut c, "SELECT 1", "SELECT 1").map(|_| (c, f)))
            {
                Ok(v) => return Ok(v),
                Err(e) => last = e,
            }
            let left = give_up.saturating_duration_since(ctx.host.now());
            if left.is_zero() {
                kill_group_now(ctx, pid, &cfg.pid, POLL);
                return Err(Failure::generic(format!(
                    "the server did not answer before the start timeout: {last}{}",
                    log_tail(ctx)
                )));
            }
            ctx.host.sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    fn flavor_of_binary(ctx: &Ctx<'_>, binary: &Path) -> Flavor {
        let out = ctx.host.run(
            &CommandSpec::new(binary.display().to_string(), ["--version"]),
            ctx.bounded(Duration::from_secs(10)),
        );
        match out {
            Ok(o) => Flavor::from_binary_version(&o.stdout),
            Err(_) => Flavor::MariaDb,
        }
    }

    fn find_binary(ctx: &Ctx<'_>, cfg: &Config) -> Result<PathBuf, Failure> {
        let path = std::env::var("PATH").unwrap_or_default();
        ctx.host
            .find_executable(&cfg.binary, &format!("{path}:{}", config::SBIN_PATH))
            .ok_or_else(|| {
                Failure::installed(format!(
                    "parameter binary: {:?} not found or not executable",
                    cfg.binary
                ))
            })
    }

    fn local_checks(ctx: &Ctx<'_>, cfg: &Config) -> Result<PathBuf, Failure> {
        let binary = Self::find_binary(ctx, cfg)?;
        if !ctx.host.file_info(&cfg.config).is_some_and(|i| i.is_file) {
            return Err(Failure::installed(format!(
                "parameter config: {} does not exist",
                cfg.config.display()
            )));
        }
        if !ctx.host.file_info(&cfg.datadir).is_some_and(|i| i.is_dir) {
            return Err(Failure::installed(format!(
                "parameter datadir: {} is not a directory",
                cfg.datadir.display()
            )));
        }
        if ctx.host.user(&cfg.user).is_none() {
            return Err(Failure::installed(format!(
                "parameter user: no such user {:?}",
                cfg.user
            )));
        }
        read_secret(
            ctx,
            "replication_password_file",
            cfg.replication_password_file.as_deref(),
        )?;
        read_secret(
            ctx,
            "admin_password_file",
            cfg.admin_password_file.as_deref(),
        )?;
        Ok(binary)
    }

    /// Monitor's verdict on a running server.
    fn assess_running(ctx: &Ctx<'_>, cfg: &Config, promoted_marker_set: bool) -> ActionResult {
        let until = ctx.host.now() + ctx.bounded(LOCAL_CONNECT);
        let fail = |e: String| {
            if promoted_marker_set {
                Failure::failed_promoted(format!("promoted server does not answer: {e}"))
            } else {
                Failure::generic(format!("the server does not answer: {e}"))
            }
        };
        let (mut c, flavor) = Self::connect(ctx, cfg, until).map_err(fail)?;
        let seen = Self::observe(&mut c, flavor, cfg.domain).map_err(fail)?;
        let deep = ctx.check_level() >= CheckLevel::Medium;
        if !seen.read_only {
            if deep {
                Self::test_query(&mut c, cfg).map_err(Failure::failed_promoted)?;
            }
            publish_score(ctx, Some(config::PROMOTED_SCORE));
            return Ok(Status::RunningPromoted);
        }
        if promoted_marker_set {
            publish_score(ctx, None);
            return Err(Failure::failed_promoted(
                "promoted, but the server is read-only",
            ));
        }
        let health = config::assess(seen.status.as_ref(), cfg.max_lag);
        match &health {
            Health::Broken(why) => {
                publish_score(ctx, None);
                return Err(Failure::generic(format!(
                    "replica broken, no promotion score: {why}"
                )));
            }
            Health::Lagging(lag) => {
                publish_score(ctx, None);
                let why = format!(
                    "replica is {lag} s behind (max_lag {}), no promotion score",
                    cfg.max_lag
                );
                if cfg.evict_lagging {
                    return Err(Failure::generic(why));
                }
                tracing::warn!("{why}");
                return Ok(Status::Degraded);
            }
            Health::SourceUnreachable(why) => tracing::warn!("{why}; keeping the score"),
            Health::Standalone | Health::Healthy => {}
        }
        if deep {
            Self::test_query(&mut c, cfg).map_err(Failure::generic)?;
        }
        publish_score(ctx, Some(config::score(seen.position.progress(cfg.domain))));
        Ok(Status::Success)
    }
}

impl ocf::Agent for Mysql {
    fn info(&self) -> &'static AgentInfo {
        &INFO
    }

    fn validate(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = Self::config(ctx)?;
        Self::local_checks(ctx, &cfg)?;
        Ok(Status::Success)
    }

    fn start(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = Self::config(ctx)?;
        let binary = Self::local_checks(ctx, &cfg)?;
        let _ = ctx.host.remove_file(&promoted_marker(ctx));
        let (mut c, flavor) = match running_pid(ctx, &cfg.pid) {
            Some(pid) => {
                tracing::info!(pid, "already running");
                Self::await_ready(ctx, &cfg, pid)?
            }
            None => {
                let flavor = Self::flavor_of_binary(ctx, &binary);
                for dir in [cfg.pid.parent(), cfg.socket.parent()]
                    .into_iter()
                    .flatten()
                {
                    ctx.host
                        .create_dir_all(dir)
                        .map_err(|e| Failure::io(format!("cannot create {}", dir.display()), &e))?;
                }
                let log = log_file(ctx);
                if let Some(dir) = log.parent() {
                    let _ = ctx.host.create_dir_all(dir);
                }
                let _ = ctx.host.remove_file(&log);
                let spec = SpawnSpec {
                    program: binary.clone(),
                    args: cfg.server_args(flavor),
                    cwd: Some(cfg.datadir.clone()),
                    env: Vec::new(),
                    env_remove_prefixes: ["OCF_", "HA_", "PCMK_", "CRM_"]
                        .map(String::from)
                        .to_vec(),
                    log_file: Some(log),
                    user: None,
                };
                let pid = ctx
                    .host
                    .spawn_detached(&spec)
                    .map_err(|e| e.failure("cannot start the server"))?;
                tracing::info!(pid, "started {} {}", binary.display(), spec.args.join(" "));
                Self::await_ready(ctx, &cfg, pid)?
            }
        };
        // Always a read-only replica after start.
        for s in flavor.set_read_only(true) {
            run(&mut c, "cannot set read_only", &s).map_err(Failure::generic)?;
        }
        let st = run(
            &mut c,
            "cannot read the replica status",
            flavor.status_query(),
        )
        .map_err(Failure::generic)?;
        if let Some(s) = ReplicaStatus::from_result(&st) {
            if !s.running() {
                run(&mut c, "cannot resume replication", flavor.start_replica())
                    .map_err(Failure::generic)?;
                tracing::info!(
                    "resumed replication from {}:{}",
                    s.source_host,
                    s.source_port
                );
            }
        }
        Ok(Status::Success)
    }

    fn stop(&self, ctx: &Ctx<'_>) -> ActionResult {
        let pid_path = PathBuf::from(ctx.params.str("pid").unwrap_or("/run/mysqld/mysqld.pid"));
        publish_score(ctx, None);
        let _ = ctx.host.remove_file(&promoted_marker(ctx));
        let Some(pid) = running_pid(ctx, &pid_path) else {
            return Ok(Status::Success);
        };
        ctx.host
            .signal(pid, Signal::SIGTERM)
            .map_err(|e| e.failure("cannot stop the server"))?;
        if !wait_group_gone(ctx, pid, ctx.deadline.graceful_until(), POLL) {
            tracing::warn!(pid, "no clean shutdown in time, sending SIGKILL");
            ctx.host
                .signal_group(pid, Signal::SIGKILL)
                .map_err(|e| e.failure("cannot kill the server"))?;
            if !wait_group_gone(ctx, pid, ctx.deadline.end(), POLL) {
                return Err(Failure::generic(format!(
                    "process group {pid} survived SIGKILL"
                )));
            }
        }
        let _ = ctx.host.remove_file(&pid_path);
        tracing::info!(pid, "stopped");
        Ok(Status::Success)
    }

    fn monitor(&self, ctx: &Ctx<'_>) -> ActionResult {
        let pid_path = PathBuf::from(ctx.params.str("pid").unwrap_or("/run/mysqld/mysqld.pid"));
        if running_pid(ctx, &pid_path).is_none() {
            return Ok(Status::NotRunning);
        }
        let cfg = Self::config(ctx)?;
        let marker = ctx.host.file_info(&promoted_marker(ctx)).is_some();
        Self::assess_running(ctx, &cfg, marker)
    }

    fn promote(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = Self::config(ctx)?;
        let (mut c, flavor) =
            Self::connect(ctx, &cfg, ctx.deadline.end()).map_err(Failure::generic)?;
        let seen = Self::observe(&mut c, flavor, cfg.domain).map_err(Failure::generic)?;
        let me = Self::local_node(ctx, &cfg);
        let marker = promoted_marker(ctx);
        if !seen.read_only {
            tracing::info!("already writable");
            ctx.host
                .write_file(&marker, "promoted\n", 0o644)
                .map_err(|e| Failure::io(format!("cannot write {}", marker.display()), &e))?;
            publish_score(ctx, Some(config::PROMOTED_SCORE));
            return Ok(Status::Success);
        }
        let health = config::assess(seen.status.as_ref(), cfg.max_lag);
        if !health.promotable() {
            publish_score(ctx, None);
            return Err(Failure::generic(format!(
                "refusing to promote: {}",
                match health {
                    Health::Broken(w) => w,
                    Health::Lagging(l) => format!("{l} s behind (max_lag {})", cfg.max_lag),
                    _ => String::new(),
                }
            )));
        }
        let g = |r: Result<ResultSet, String>| r.map_err(Failure::generic);
        if seen.status.is_some() {
            // Receive nothing more, then apply everything received.
            g(run(&mut c, "cannot stop the IO thread", flavor.stop_io()))?;
            let st = g(run(
                &mut c,
                "cannot read the replica status",
                flavor.status_query(),
            ))?;
            let received = ReplicaStatus::from_result(&st)
                .map(|s| s.received)
                .unwrap_or_default();
            if !received.is_empty() {
                let secs = ctx.remaining().as_secs().saturating_sub(1).max(1);
                c.set_deadline(ctx.deadline.end());
                let rs = g(run(
                    &mut c,
                    "cannot wait for the relay log to be applied",
                    &flavor.wait_applied(&received, secs),
                ))?;
                if rs.scalar() != Some("0") {
                    let _ = c.query(flavor.start_replica());
                    return Err(Failure::generic(format!(
                        "the relay log was not applied up to {received} before the timeout; \
                         not promoting"
                    )));
                }
            }
        }
        let now = Self::observe(&mut c, flavor, cfg.domain).map_err(Failure::generic)?;
        if let Some(s) = now.status.as_ref().filter(|s| s.sql_errno != 0) {
            return Err(Failure::generic(format!(
                "refusing to promote: replication SQL error {}: {}",
                s.sql_errno, s.sql_error
            )));
        }
        if let Err(f) = Self::check_peers(ctx, &cfg, flavor, &me, &now.position) {
            if now.status.is_some() {
                let _ = c.query(flavor.start_replica());
            }
            publish_score(ctx, None);
            return Err(f);
        }
        if now.status.is_some() {
            g(run(
                &mut c,
                "cannot stop replication",
                flavor.stop_replica(),
            ))?;
            g(run(
                &mut c,
                "cannot reset replication",
                flavor.reset_replica(),
            ))?;
        }
        ctx.host
            .write_file(&marker, "promoted\n", 0o644)
            .map_err(|e| Failure::io(format!("cannot write {}", marker.display()), &e))?;
        for s in flavor.set_read_only(false) {
            g(run(&mut c, "cannot turn read_only off", &s))?;
        }
        publish_score(ctx, Some(config::PROMOTED_SCORE));
        tracing::info!(
            position = now.position.progress(cfg.domain),
            "promoted: writable"
        );
        Ok(Status::Success)
    }

    fn demote(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = Self::config(ctx)?;
        let pid_path = cfg.pid.clone();
        if running_pid(ctx, &pid_path).is_none() {
            let _ = ctx.host.remove_file(&promoted_marker(ctx));
            return Err(Failure::generic("cannot demote: the server is not running"));
        }
        let (mut c, flavor) =
            Self::connect(ctx, &cfg, ctx.deadline.end()).map_err(Failure::generic)?;
        for s in flavor.set_read_only(true) {
            run(&mut c, "cannot set read_only", &s).map_err(Failure::generic)?;
        }
        let ro = run(&mut c, "cannot read read_only", "SELECT @@global.read_only")
            .map_err(Failure::generic)?;
        if ro.scalar() != Some("1") {
            return Err(Failure::generic("read_only is still off after demote"));
        }
        let _ = ctx.host.remove_file(&promoted_marker(ctx));
        let me = Self::local_node(ctx, &cfg);
        let primary = ctx
            .env
            .meta
            .notification
            .as_ref()
            .and_then(|n| Self::primary_from_notification(n, &me))
            .or_else(|| Self::pacemaker_primary(ctx, &me));
        match primary {
            Some(node) => Self::replicate_from(ctx, &cfg, &mut c, flavor, &node)?,
            None => tracing::info!(
                "read-only; replication starts when a node is promoted (post-promote notify)"
            ),
        }
        let seen = Self::observe(&mut c, flavor, cfg.domain).map_err(Failure::generic)?;
        let health = config::assess(seen.status.as_ref(), cfg.max_lag);
        publish_score(
            ctx,
            health
                .promotable()
                .then(|| config::score(seen.position.progress(cfg.domain))),
        );
        Ok(Status::Success)
    }

    fn notify(&self, ctx: &Ctx<'_>) -> ActionResult {
        let Some(n) = ctx.env.meta.notification.as_ref() else {
            return Ok(Status::Success);
        };
        let cfg = Self::config(ctx)?;
        let me = Self::local_node(ctx, &cfg);
        let post = n.kind == ocf::env::NotifyType::Post;
        tracing::info!(op = %n.operation, post, node = %me, "notification");
        let target = match (post, n.operation.as_str()) {
            // The new primary is known: every other running replica follows it.
            (true, "promote") => n
                .promote
                .iter()
                .filter_map(|p| p.node.clone())
                .find(|node| *node != me),
            // A replica that just started follows the current primary.
            (true, "start")
                if n.start
                    .iter()
                    .any(|p| p.node.as_deref() == Some(me.as_str())) =>
            {
                n.promoted
                    .iter()
                    .filter(|p| !n.stop.iter().any(|s| s.resource == p.resource))
                    .filter_map(|p| p.node.clone())
                    .find(|node| *node != me)
            }
            _ => None,
        };
        let Some(node) = target else {
            return Ok(Status::Success);
        };
        if running_pid(ctx, &cfg.pid).is_none() {
            return Ok(Status::Success);
        }
        let (mut c, flavor) =
            Self::connect(ctx, &cfg, ctx.deadline.end()).map_err(Failure::generic)?;
        let seen = Self::observe(&mut c, flavor, cfg.domain).map_err(Failure::generic)?;
        if !seen.read_only {
            tracing::warn!(node, "writable here: not following another primary");
            return Ok(Status::Success);
        }
        Self::replicate_from(ctx, &cfg, &mut c, flavor, &node)?;
        Ok(Status::Success)
    }
}

#[cfg(test)]
mod tests;
