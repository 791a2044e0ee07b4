//! `ocf:crm-lite:filesystem`: an OCF agent that mounts a file system and keeps it mounted:
//! ext4, xfs and other block file systems (`/dev/drbdN` included), CephFS through the
//! kernel client or ceph-fuse, NFS, bind mounts and tmpfs. A drop-in for the parameters of
//! `ocf:heartbeat:Filesystem`.
//!
//! * monitor: depth 0 reads `/proc/self/mountinfo` and nothing else; depth 10 adds a read
//!   test and depth 20 a write-and-read-back of a status file, each in a child process
//!   bounded by the deadline ([`ocf::Host::run_check`]). The agent's own process never
//!   stats or lists the mount point: on a CephFS or NFS mount whose server is gone, such a
//!   call sleeps uninterruptibly, beyond the reach even of SIGKILL.
//! * start: fsck when asked, `mount`, then the mount must appear in mountinfo (helpers such
//!   as `mount.fuse.ceph` report success when the mount failed). Missing device, module or
//!   helper → 5, so the cluster tries another node; an invalid type or options → 6.
//! * stop: `umount`; when busy, the processes that hold the mount (open files, working or
//!   root directory, memory maps under it; from `/proc`, bounded work) get SIGTERM, then
//!   SIGKILL, and the unmount is retried, always with a definite answer before the deadline.
//!   A FUSE mount's daemon (ceph-fuse) outlives the unmount while it closes its sessions:
//!   stop waits for it to exit ([`fuse_daemons`]), so the next start finds its pid file free.
//!
//! Invariant: a mount is this resource's only if mountinfo lists it on `directory` with a
//! compatible type ([`config::Config::matches`]); nothing else is ever unmounted, and no
//! process is signalled unless it holds a path under `directory` or, once the FUSE mount on
//! `directory` is gone, it is the daemon that served it (`/dev/fuse` open, `directory` among
//! its arguments).

#![deny(missing_docs)]

pub mod config;
pub mod mountinfo;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use ocf::host::{CommandSpec, HostError};
use ocf::metadata::ActionSpec;
use ocf::{Action, ActionResult, AgentInfo, CheckLevel, Ctx, Failure, Status};

use config::{Config, ForceUnmount, Kind, MountVerdict};
use mountinfo::Mount;

/// The agent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filesystem;

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new(Action::Start, 60),
    ActionSpec::new(Action::Stop, 60),
    ActionSpec::new(Action::Monitor, 40).every(20).depth(0),
    ActionSpec::new(Action::Monitor, 40).every(60).depth(10),
    ActionSpec::new(Action::Monitor, 40).every(120).depth(20),
];

/// What the agent says about itself.
pub static INFO: AgentInfo = AgentInfo {
    name: "filesystem",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Manages a mounted file system",
    longdesc: "Mounts and unmounts a file system: ext4, xfs and other block file systems \
        (including DRBD devices), CephFS through the kernel client (fstype ceph) or ceph-fuse \
        (fstype fuse.ceph), NFS, bind mounts and tmpfs. Monitor depth 0 reads \
        /proc/self/mountinfo only; depth 10 also reads from the file system and depth 20 \
        writes and reads back a status file, both in a child process bounded by the \
        operation timeout, so a hung network file system makes the monitor fail instead of \
        hang. Stop signals the processes that hold the mount (SIGTERM, then SIGKILL) as \
        force_unmount allows, and for FUSE (ceph-fuse) waits until the daemon that served \
        the mount has exited.",
    params: config::PARAMS,
    actions: ACTIONS,
};

/// Where the mount table is read.
pub const MOUNTINFO: &str = "/proc/self/mountinfo";
/// The SIGTERM phase of a busy stop lasts at most this long before SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(5);
/// After a forced unmount, a FUSE daemon's SIGTERM phase lasts at most this long.
pub const FORCED_TERM_GRACE: Duration = Duration::from_secs(1);

/// The longest pause between looks at a process that should exit.
const POLL: Duration = Duration::from_millis(50);

/// At most this many descriptors are read per process when looking for holders.
pub const MAX_FDS: usize = 65_536;
/// Directories searched for mount helpers (`mount.nfs`, `mount.fuse.ceph`).
const HELPER_DIRS: &[&str] = &["/sbin", "/usr/sbin", "/bin", "/usr/bin"];

/// The failure for a host error: 4 when permission was refused, else 1.
fn host_failure(what: &str, e: &HostError) -> Failure {
    e.failure(what)
}

/// The mount table, parsed; unreadable lines are logged and skipped.
fn mounts(ctx: &Ctx<'_>) -> Result<Vec<Mount>, Failure> {
    let text = ctx
        .host
        .read_file(Path::new(MOUNTINFO))
        .map_err(|e| Failure::generic(format!("cannot read {MOUNTINFO}: {e}")))?;
    let (mounts, diagnostics) = mountinfo::parse(&text);
    for d in diagnostics {
        tracing::warn!("{d}");
    }
    Ok(mounts)
}

fn our_mount(ctx: &Ctx<'_>, cfg: &Config) -> Result<Option<Mount>, Failure> {
    Ok(cfg.find(&mounts(ctx)?).cloned())
}

/// A process that keeps the file system busy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its pid.
    pub pid: u32,
    /// How it holds the mount (`cwd`, `root`, `exe`, `fd`, `map`).
    pub how: &'static str,
    /// The path it holds.
    pub path: String,
}

/// The processes holding anything under `dir`, from `/proc`, never this agent or its
/// ancestors (the cluster manager), nor pid 1. The scan stops at the deadline.
pub fn find_holders(ctx: &Ctx<'_>, dir: &str) -> Vec<Holder> {
    let procs = ctx.host.processes();
    let parents: BTreeMap<u32, u32> = procs.iter().map(|p| (p.pid, p.ppid)).collect();
    let mut protected = vec![1, std::process::id()];
    let mut cur = std::process::id();
    while let Some(&pp) = parents.get(&cur) {
        if pp <= 1 || protected.contains(&pp) {
            break;
        }
        protected.push(pp);
        cur = pp;
    }
    let dir = Path::new(dir);
    let mut holders = Vec::new();
    for p in procs
        .iter()
        .filter(|p| p.alive() && !protected.contains(&p.pid))
    {
        if ctx.expired() {
            tracing::warn!("holder scan cut short by the deadline");
            break;
        }
        let Some(files) = ctx.host.process_files(p.pid, MAX_FDS) else {
            continue;
        };
        if let Some((how, path)) = files.all().find(|(_, path)| path.starts_with(dir)) {
            holders.push(Holder {
                pid: p.pid,
                how,
                path: path.display().to_string(),
            });
        }
    }
    holders
}

/// The user-space daemons serving a FUSE mount on `dir` (ceph-fuse, sshfs): processes with
/// `/dev/fuse` open and `dir` as one of their arguments. Unmounting cuts the kernel's side;
/// the daemon then closes its sessions (ceph-fuse: its MDS session, pid file and admin
/// socket) and exits on its own, a little later.
pub fn fuse_daemons(ctx: &Ctx<'_>, dir: &str) -> Vec<u32> {
    let fuse = Path::new("/dev/fuse");
    ctx.host
        .processes()
        .iter()
        .filter(|p| p.alive() && p.pid != 1 && p.pid != std::process::id())
        .filter(|p| {
            ctx.host
                .process_args(p.pid)
                .is_some_and(|args| args.iter().skip(1).any(|a| a == dir))
        })
        .filter(|p| {
            ctx.host
                .process_files(p.pid, MAX_FDS)
                .is_some_and(|f| f.fds.iter().any(|fd| fd == fuse))
        })
        .map(|p| p.pid)
        .collect()
}

fn describe(holders: &[Holder]) -> String {
    let mut s: Vec<String> = holders
        .iter()
        .take(5)
        .map(|h| format!("pid {} ({} {})", h.pid, h.how, h.path))
        .collect();
    if holders.len() > 5 {
        s.push(format!("and {} more", holders.len() - 5));
    }
    s.join(", ")
}

impl Filesystem {
    /// Whether this node can mount the type: in `/proc/filesystems`, a helper, or a module
    /// `modprobe` knows. Unknown names are 6, known ones missing here are 5.
    fn check_support(&self, ctx: &Ctx<'_>, cfg: &Config) -> Result<(), Failure> {
        let helper = |name: &str| {
            HELPER_DIRS
                .iter()
                .any(|d| ctx.host.file_info(&Path::new(d).join(name)).is_some())
        };
        let missing = |what: String| {
            if config::is_known_fstype(&cfg.fstype) {
                Failure::installed(what)
            } else {
                Failure::configured(format!("fstype {:?} is not a file system type", cfg.fstype))
            }
        };
        match cfg.kind {
            Kind::Bind | Kind::Tmpfs => return Ok(()),
            Kind::CephFuse if !helper("mount.fuse.ceph") || !helper("ceph-fuse") => {
                return Err(Failure::installed(
                    "ceph-fuse and its mount.fuse.ceph helper are not installed",
                ));
            }
            Kind::Nfs if !helper("mount.nfs") => {
                return Err(Failure::installed(
                    "mount.nfs is not installed (Debian package nfs-common)",
                ));
            }
            _ => {}
        }
        let kernel_type = if cfg.fstype.starts_with("fuse.") {
            "fuse"
        } else {
            cfg.fstype.as_str()
        };
        let known = ctx
            .host
            .read_file(Path::new("/proc/filesystems"))
            .map(|t| {
                t.lines()
                    .any(|l| l.split_whitespace().last() == Some(kernel_type))
            })
            .unwrap_or(false);
        if known {
            return Ok(());
        }
        // A type the kernel does not know of, served by its helper alone (mount.ntfs-3g).
        if !config::is_known_fstype(&cfg.fstype) && helper(&format!("mount.{}", cfg.fstype)) {
            return Ok(());
        }
        // Not loaded: ask modprobe whether a module exists (a dry run). A helper such as
        // mount.ceph or mount.nfs does not replace the kernel's file system.
        let probe = CommandSpec::new("modprobe", ["-n", "-q", &format!("fs-{kernel_type}")]);
        match ctx.host.run(&probe, ctx.bounded(Duration::from_secs(5))) {
            Ok(o) if o.success() => Ok(()),
            Ok(_) => Err(missing(format!(
                "this node cannot mount {}: the kernel has no {kernel_type} file system \
                 (not in /proc/filesystems, no module)",
                cfg.fstype
            ))),
            // No modprobe here: let mount itself decide.
            Err(_) => Ok(()),
        }
    }

    /// Everything validate-all and start check on this host (the mount is not there yet):
    /// the type, the device or source, the mount point.
    fn local_checks(&self, ctx: &Ctx<'_>, cfg: &Config) -> Result<(), Failure> {
        self.check_support(ctx, cfg)?;
        match cfg.kind {
            Kind::Block => {
                let path = config::device_path(&cfg.device);
                if ctx.host.file_info(Path::new(&path)).is_none() {
                    return Err(Failure::installed(format!(
                        "device {} does not exist on this node",
                        cfg.device
                    )));
                }
            }
            Kind::Bind
                if !ctx
                    .host
                    .file_info(Path::new(&cfg.device))
                    .is_some_and(|i| i.is_dir || i.is_file) =>
            {
                return Err(Failure::installed(format!(
                    "bind source {} does not exist on this node",
                    cfg.device
                )));
            }
            _ => {}
        }
        match ctx.host.file_info(Path::new(&cfg.directory)) {
            Some(i) if i.is_dir => Ok(()),
            Some(_) => Err(Failure::installed(format!(
                "mount point {} is not a directory",
                cfg.directory
            ))),
            None if cfg.create_directory => Ok(()),
            None => Err(Failure::installed(format!(
                "mount point {} does not exist (create_directory=false)",
                cfg.directory
            ))),
        }
    }

    fn fsck(&self, ctx: &Ctx<'_>, cfg: &Config) -> Result<(), Failure> {
        let cmd = cfg.fsck_command();
        tracing::info!("checking {} with {}", cfg.device, cmd.display());
        // Like every command that touches the storage: bounded, never waited on past
        // the deadline (a read of a dead device sleeps uninterruptibly).
        let out = ctx
            .host
            .run_check(&cmd, ctx.remaining())
            .map_err(|e| host_failure("fsck", &e))?;
        match out.code {
            // Bit flags: 1 errors corrected, 2 reboot advised (not for an unmounted file
            // system); 4 and up mean errors left or fsck itself failed.
            Some(0..=3) => Ok(()),
            code => Err(Failure::generic(format!(
                "fsck of {} failed (exit {}): {}",
                cfg.device,
                code.map_or_else(|| "by signal".to_string(), |c| c.to_string()),
                config::first_line(&format!("{}{}", out.stderr, out.stdout))
            ))),
        }
    }

    /// After a failed mount, tell a bad option from a wrong or missing file system.
    fn probe_device(&self, ctx: &Ctx<'_>, cfg: &Config) -> Failure {
        let cmd = CommandSpec::new("blkid", ["-p", "-o", "value", "-s", "TYPE", &cfg.device]);
        let probed = ctx
            .host
            .run_check(&cmd, ctx.bounded(Duration::from_secs(5)))
            .ok()
            .filter(|o| o.success())
            .map(|o| o.stdout.trim().to_string())
            .filter(|t| !t.is_empty());
        config::judge_refused_device(cfg, probed.as_deref())
    }

    fn mount(&self, ctx: &Ctx<'_>, cfg: &Config) -> ActionResult {
        let cmd = cfg.mount_command();
        tracing::info!("mounting: {}", cfg.mount_command_for_log());
        let result = ctx.host.run_check(&cmd, ctx.remaining());
        // Whatever mount said, mountinfo has the last word.
        let all = mounts(ctx)?;
        if cfg.find(&all).is_some() {
            tracing::info!("mounted {} on {}", cfg.device, cfg.directory);
            return Ok(Status::Success);
        }
        let out = match result {
            Err(HostError::Timeout { after, .. }) => {
                return Err(Failure::generic(format!(
                    "mount of {} on {} did not finish within {} ms",
                    cfg.device,
                    cfg.directory,
                    after.as_millis()
                )));
            }
            Err(e) => return Err(host_failure("cannot run mount", &e)),
            Ok(out) => out,
        };
        if out.success() {
            // A helper that lies, or a directory that is a symbolic link (the kernel lists
            // the resolved path). Undo a mount we cannot see under our name.
            if !all.iter().any(|m| m.mount_point == cfg.directory) {
                let _ = ctx.host.run_check(
                    &cfg.umount_command(false),
                    ctx.bounded(Duration::from_secs(5)),
                );
            }
            return Err(Failure::generic(format!(
                "mount exited 0 but {} is not mounted on {} (a failing mount helper, or a \
                 mount point that is a symbolic link){}",
                cfg.device,
                cfg.directory,
                match config::first_line(&format!("{}{}", out.stderr, out.stdout)) {
                    m if m == "no message" => String::new(),
                    m => format!(": {m}"),
                }
            )));
        }
        Err(match config::classify_mount_error(cfg, &out.stderr) {
            MountVerdict::Installed(m) => Failure::installed(m),
            MountVerdict::Configured(m) => Failure::configured(m),
            MountVerdict::Generic(m) => {
                Failure::from_message(&format!("mount failed: {m}"), Failure::generic)
            }
            MountVerdict::ProbeDevice => self.probe_device(ctx, cfg),
        })
    }

    /// Depth 10: read from the device (block file systems, bypassing the cache) and read
    /// the mount point's first directory entries, in child processes.
    fn read_test(&self, ctx: &Ctx<'_>, cfg: &Config, m: &Mount) -> Result<(), Failure> {
        if cfg.kind == Kind::Block {
            let dev = if m.source.starts_with("/dev/") {
                m.source.clone()
            } else {
                config::device_path(&cfg.device)
            };
            let cmd = CommandSpec::new(
                "dd",
                [
                    format!("if={dev}"),
                    "of=/dev/null".into(),
                    "bs=4096".into(),
                    "count=1".into(),
                    "iflag=direct".into(),
                    "status=none".into(),
                ],
            );
            self.check(ctx, &cmd, &format!("read test of {dev}"))?;
        }
        let cmd = CommandSpec::new("find", [cfg.directory.as_str(), "-maxdepth", "0", "-empty"]);
        self.check(ctx, &cmd, &format!("read test of {}", cfg.directory))
            .map(|_| ())
    }

    /// Depth 20: write a status file (fsync) and read it back, in a child process.
    fn write_test(&self, ctx: &Ctx<'_>, cfg: &Config, m: &Mount) -> Result<(), Failure> {
        if m.read_only() {
            tracing::debug!("{} is mounted read-only: no write test", cfg.directory);
            return Ok(());
        }
        let node = match &ctx.env.meta.on_node {
            Some(n) => n.clone(),
            None => ctx
                .host
                .read_file(Path::new("/proc/sys/kernel/hostname"))
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "localhost".into()),
        };
        let file = cfg.status_file(&node);
        let stamp = ctx
            .host
            .process(std::process::id())
            .map_or(0, |p| p.start_unix_ms);
        let token = format!("{node} {} {stamp}", std::process::id());
        let read_flag = if cfg.kind == Kind::Block {
            "iflag=direct"
        } else {
            ""
        };
        let status_dir = Path::new(&file)
            .parent()
            .map_or_else(|| cfg.directory.clone(), |p| p.display().to_string());
        // Builtins where possible: every exec costs milliseconds on a busy node.
        let script = "set -e; [ -d \"$4\" ] || mkdir -p -- \"$4\"
dd of=\"$1\" conv=fsync status=none <<EOF
$2
EOF
dd if=\"$1\" bs=4096 status=none $3";
        let cmd = CommandSpec::new(
            "sh",
            ["-c", script, "sh", &file, &token, read_flag, &status_dir],
        );
        let out = self.check(ctx, &cmd, &format!("write test of {file}"))?;
        if out.trim_end() != token {
            return Err(Failure::generic(format!(
                "write test of {file}: read back {:?}, wrote {token:?}",
                config::first_line(&out)
            )));
        }
        Ok(())
    }

    /// Run a check in a child, bounded by the deadline; its stdout on success.
    fn check(&self, ctx: &Ctx<'_>, cmd: &CommandSpec, what: &str) -> Result<String, Failure> {
        let left = ctx.remaining();
        if left.is_zero() {
            return Err(Failure::generic(format!("{what}: no time left")));
        }
        match ctx.host.run_check(cmd, left) {
            Ok(o) if o.success() => Ok(o.stdout),
            Ok(o) => Err(Failure::generic(format!(
                "{what} failed: {}",
                config::first_line(&o.stderr)
            ))),
            Err(HostError::Timeout { after, .. }) => Err(Failure::generic(format!(
                "{what} did not answer within {} ms (hung file system?)",
                after.as_millis()
            ))),
            Err(e) => Err(host_failure(what, &e)),
        }
    }

    /// Stop: unmount, dealing with holders as `force_unmount` allows, until the deadline.
    fn unmount(&self, ctx: &Ctx<'_>, cfg: &Config) -> ActionResult {
        let mut term_sent: BTreeMap<u32, Instant> = BTreeMap::new();
        let mut attempts = 0u32;
        let mut last_error = String::new();
        let mut last_holders: Vec<Holder> = Vec::new();
        let mut pause = Duration::from_millis(20);
        let mut forced = false;
        loop {
            if our_mount(ctx, cfg)?.is_none() {
                if attempts > 0 {
                    tracing::info!("unmounted {}", cfg.directory);
                }
                if matches!(cfg.kind, Kind::CephFuse | Kind::Fuse) {
                    return self.end_fuse_daemons(ctx, cfg, forced);
                }
                return Ok(Status::Success);
            }
            if ctx.expired() {
                let held = if last_holders.is_empty() {
                    String::new()
                } else {
                    format!("; held by {}", describe(&last_holders))
                };
                return Err(Failure::generic(format!(
                    "{} is still mounted at the deadline after {attempts} unmount attempts: \
                     {last_error}{held}",
                    cfg.directory
                )));
            }
            let force =
                cfg.force_unmount == ForceUnmount::True && cfg.kind.is_network() && attempts > 0;
            let cmd = cfg.umount_command(force);
            attempts += 1;
            // A plain unmount of a network file system may hang flushing to a dead server:
            // keep time for the forced one.
            let slice = if cfg.kind.is_network() && !force {
                ctx.bounded((ctx.remaining() / 3).max(Duration::from_secs(1)))
            } else {
                ctx.remaining()
            };
            if force {
                tracing::warn!("forcing the unmount: {}", cmd.display());
                forced = true;
            }
            let busy = match ctx.host.run_check(&cmd, slice) {
                Ok(o) if o.success() => continue,
                Ok(o) => {
                    last_error = config::first_line(&o.stderr);
                    // "not mounted" (someone else was quicker) is settled by mountinfo
                    // on the next round, after a pause: never a busy loop.
                    o.stderr.contains("busy")
                }
                Err(e) => {
                    last_error = e.to_string();
                    false
                }
            };
            tracing::info!(attempt = attempts, "unmount failed: {last_error}");
            if busy && cfg.force_unmount != ForceUnmount::False {
                last_holders = find_holders(ctx, &cfg.directory);
                let now = ctx.host.now();
                let mut signalled = Vec::new();
                for h in &last_holders {
                    let kill_at = term_sent
                        .get(&h.pid)
                        .map(|t| (*t + TERM_GRACE).min(ctx.deadline.graceful_until()));
                    let signal = match kill_at {
                        None if now < ctx.deadline.graceful_until() => Signal::SIGTERM,
                        Some(at) if now < at => continue,
                        _ => Signal::SIGKILL,
                    };
                    tracing::warn!(
                        pid = h.pid,
                        "sending {signal} to pid {} ({} {})",
                        h.pid,
                        h.how,
                        h.path
                    );
                    if let Err(e) = ctx.host.signal(h.pid, signal) {
                        tracing::warn!("{e}");
                    }
                    term_sent.entry(h.pid).or_insert(now);
                    signalled.push(h.pid);
                }
                let stuck = !last_holders.is_empty()
                    && last_holders
                        .iter()
                        .all(|h| ctx.host.process(h.pid).is_some_and(|p| p.state == 'D'));
                if stuck && cfg.kind.is_network() && cfg.force_unmount == ForceUnmount::True {
                    // Blocked on the file system itself: no signal helps, a forced unmount
                    // (the next attempt) aborts their requests.
                    tracing::warn!("the holders are in uninterruptible sleep: forcing the unmount");
                } else if !last_holders.is_empty() {
                    // Wait for the holders to go (or for the time to escalate), then retry.
                    let until = last_holders
                        .iter()
                        .filter_map(|h| term_sent.get(&h.pid))
                        .map(|t| (*t + TERM_GRACE).min(ctx.deadline.graceful_until()))
                        .min()
                        .map_or(ctx.deadline.end(), |t| {
                            t.max(now + Duration::from_millis(50))
                        })
                        .min(ctx.deadline.end());
                    let pids: Vec<u32> = last_holders.iter().map(|h| h.pid).collect();
                    let _ = ctx.poll(until, Duration::from_millis(50), || {
                        pids.iter()
                            .all(|p| !ctx.host.process(*p).is_some_and(|p| p.alive()))
                            .then_some(())
                    });
                    continue;
                }
            }
            let left = ctx.deadline.end().saturating_duration_since(ctx.host.now());
            ctx.host.sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

impl Filesystem {
    /// After a FUSE file system is unmounted, wait for its daemon to exit: a stop that
    /// returned while ceph-fuse still held its pid file and MDS session would make the next
    /// start on this node fail. A clean unmount gives the daemon until the graceful part of
    /// the deadline; after a forced one (its server gone, its requests aborted) there is
    /// nothing left to flush, so it gets SIGTERM at once. Then SIGKILL; a daemon that
    /// outlives even that fails the stop.
    fn end_fuse_daemons(&self, ctx: &Ctx<'_>, cfg: &Config, forced: bool) -> ActionResult {
        let pids = fuse_daemons(ctx, &cfg.directory);
        if pids.is_empty() {
            return Ok(Status::Success);
        }
        let living = || -> Vec<u32> {
            pids.iter()
                .copied()
                .filter(|p| ctx.host.process(*p).is_some_and(|p| p.alive()))
                .collect()
        };
        let all_gone = || living().is_empty().then_some(());
        if !forced {
            tracing::info!(
                "waiting for the FUSE daemon (pid {pids:?}) of {} to exit",
                cfg.directory
            );
            if ctx
                .poll(ctx.deadline.graceful_until(), POLL, all_gone)
                .is_some()
            {
                return Ok(Status::Success);
            }
        }
        // SIGTERM gets half of what is left, at most TERM_GRACE (after a forced unmount,
        // FORCED_TERM_GRACE: a daemon whose server is gone does not exit on SIGTERM either);
        // SIGKILL the rest.
        let grace = if forced {
            FORCED_TERM_GRACE
        } else {
            TERM_GRACE
        };
        let term_until = ctx.host.now() + (ctx.remaining() / 2).min(grace);
        for (signal, until) in [
            (Signal::SIGTERM, term_until),
            (Signal::SIGKILL, ctx.deadline.end()),
        ] {
            for pid in living() {
                tracing::warn!(
                    "sending {signal} to the FUSE daemon (pid {pid}) of the unmounted {}",
                    cfg.directory
                );
                if let Err(e) = ctx.host.signal(pid, signal) {
                    tracing::warn!("{e}");
                }
            }
            if ctx.poll(until, POLL, all_gone).is_some() {
                return Ok(Status::Success);
            }
        }
        Err(Failure::generic(format!(
            "{} is unmounted but its FUSE daemon (pid {:?}) did not exit, even after SIGKILL",
            cfg.directory,
            living()
        )))
    }
}

impl ocf::Agent for Filesystem {
    fn info(&self) -> &'static AgentInfo {
        &INFO
    }

    fn validate(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = Config::from_params(&ctx.params)?;
        cfg.check_clone(ctx.env.meta.clone_max)?;
        if our_mount(ctx, &cfg)?.is_none() {
            self.local_checks(ctx, &cfg)?;
        }
        Ok(Status::Success)
    }

    fn start(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = Config::from_params(&ctx.params)?;
        cfg.check_clone(ctx.env.meta.clone_max)?;
        if let Some(m) = our_mount(ctx, &cfg)? {
            tracing::info!("{} is already mounted on {}", m.source, cfg.directory);
            return Ok(Status::Success);
        }
        self.local_checks(ctx, &cfg)?;
        if ctx.host.file_info(Path::new(&cfg.directory)).is_none() {
            ctx.host
                .create_dir_all(Path::new(&cfg.directory))
                .map_err(|e| Failure::io(format!("cannot create {}", cfg.directory), &e))?;
        }
        if cfg.wants_fsck() {
            self.fsck(ctx, &cfg)?;
        }
        self.mount(ctx, &cfg)
    }

    fn stop(&self, ctx: &Ctx<'_>) -> ActionResult {
        let Some(cfg) = Config::lenient(&ctx.params) else {
            tracing::warn!(
                "no usable directory parameter: nothing of this resource can be mounted"
            );
            return Ok(Status::Success);
        };
        self.unmount(ctx, &cfg)
    }

    fn monitor(&self, ctx: &Ctx<'_>) -> ActionResult {
        let Some(cfg) = Config::lenient(&ctx.params) else {
            tracing::warn!("no usable directory parameter: reporting not running");
            return Ok(Status::NotRunning);
        };
        let Some(m) = our_mount(ctx, &cfg)? else {
            return Ok(Status::NotRunning);
        };
        let level = ctx.check_level();
        if level >= CheckLevel::Medium {
            self.read_test(ctx, &cfg, &m)?;
        }
        if level >= CheckLevel::Deep {
            self.write_test(ctx, &cfg, &m)?;
        }
        Ok(Status::Success)
    }
}

#[cfg(test)]
mod tests;
