//! Every effect an agent has on the operating system goes through [`Host`]: spawning and
//! signalling processes, running commands, reading `/proc`, files, mounts, HTTP and Unix
//! sockets. The real implementation is [`RealHost`]; [`crate::fake::FakeHost`] records calls
//! and answers from a script, so most agent logic is tested without root and without
//! services.

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::http::{self, HttpResponse, HttpUrl};
use crate::unix;

/// A failed host operation.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A system call or file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A command or request did not finish in time (and was killed).
    #[error("{what}: timed out after {after:?}")]
    Timeout {
        /// What was being done.
        what: String,
        /// How long it was given.
        after: Duration,
    },
    /// Something the caller named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// An HTTP request failed.
    #[error("{what}: {source}")]
    Http {
        /// The URL.
        what: String,
        /// The error.
        #[source]
        source: http::HttpError,
    },
}

impl HostError {
    /// Whether the system refused permission (EACCES or EPERM).
    pub fn is_permission_denied(&self) -> bool {
        match self {
            HostError::Io { source, .. } => source.kind() == io::ErrorKind::PermissionDenied,
            HostError::Http {
                source: http::HttpError::Io(e),
                ..
            } => e.kind() == io::ErrorKind::PermissionDenied,
            HostError::Http { .. } | HostError::Timeout { .. } | HostError::NotFound(_) => false,
        }
    }

    /// The agent's failure for this error, `what` in front: 4 (insufficient privileges)
    /// when the system refused permission, else 1.
    pub fn failure(&self, what: &str) -> crate::Failure {
        let reason = format!("{what}: {self}");
        if self.is_permission_denied() {
            crate::Failure::perm(reason)
        } else {
            crate::Failure::generic(reason)
        }
    }

    /// An I/O error with context.
    pub fn io(what: impl Into<String>, source: io::Error) -> HostError {
        HostError::Io {
            what: what.into(),
            source,
        }
    }
}

/// A command to run to completion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandSpec {
    /// The program (a path, or a name looked up in `PATH`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Bytes for its standard input (none: `/dev/null`).
    pub stdin: Option<Vec<u8>>,
}

impl CommandSpec {
    /// `program args...`.
    pub fn new<I, S>(program: impl Into<String>, args: I) -> CommandSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CommandSpec {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            ..CommandSpec::default()
        }
    }

    /// The command line, for messages.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a finished command left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Its exit code, when it exited.
    pub code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
}

impl CommandOutput {
    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// The numeric identity a service runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIds {
    /// The user name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
}

/// A long-running service to start in its own session and process group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpawnSpec {
    /// The program, as an absolute path.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its working directory.
    pub cwd: Option<PathBuf>,
    /// Variables to set.
    pub env: Vec<(String, String)>,
    /// Prefixes of variables of the agent's own environment that the service must not see
    /// (e.g. `OCF_`, so that parameters and secrets stay with the agent).
    pub env_remove_prefixes: Vec<String>,
    /// Where standard output and error go (appended); none: `/dev/null`.
    pub log_file: Option<PathBuf>,
    /// Run as this user (with its supplementary groups).
    pub user: Option<UserIds>,
}

/// What `/proc/<pid>/stat` says of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcInfo {
    /// Its pid.
    pub pid: u32,
    /// Its parent.
    pub ppid: u32,
    /// Its process group.
    pub pgrp: u32,
    /// Its session.
    pub session: u32,
    /// Its state letter (`R`, `S`, `D`, `Z`, ...).
    pub state: char,
    /// When it started, in milliseconds since the Unix epoch.
    pub start_unix_ms: u64,
}

impl ProcInfo {
    /// Whether it is alive (a zombie is not).
    pub fn alive(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// What the agents need to know of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
    /// A regular file.
    pub is_file: bool,
    /// A directory.
    pub is_dir: bool,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Last modification, in milliseconds since the Unix epoch.
    pub mtime_unix_ms: u64,
}

/// A mount to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// The source (device, `host:/path`, `tmpfs`, or a directory for bind mounts).
    pub source: String,
    /// The mount point.
    pub target: PathBuf,
    /// The file system type (`none` for bind mounts).
    pub fstype: String,
    /// The option string, as `mount -o` takes it.
    pub options: String,
}

/// What a process has open or in use, as `/proc/<pid>` names it: the targets of its
/// `cwd`, `root` and `exe` links, of every link under `fd/`, and the file of every mapping
/// in `maps`. Reading these never touches the file systems they point into (the kernel
/// names the files from its own records), so a hung network file system cannot block it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcFiles {
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// The root directory (differs from `/` under chroot).
    pub root: Option<PathBuf>,
    /// The executable.
    pub exe: Option<PathBuf>,
    /// Targets of open file descriptors that name a path (not sockets, pipes, anon inodes).
    pub fds: Vec<PathBuf>,
    /// Files mapped into memory (libraries, mmapped data), each once.
    pub maps: Vec<PathBuf>,
}

impl ProcFiles {
    /// Every path the process uses, with what it is (`cwd`, `root`, `exe`, `fd`, `map`).
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &Path)> {
        [("cwd", &self.cwd), ("root", &self.root), ("exe", &self.exe)]
            .into_iter()
            .filter_map(|(what, p)| p.as_deref().map(|p| (what, p)))
            .chain(self.fds.iter().map(|p| ("fd", p.as_path())))
            .chain(self.maps.iter().map(|p| ("map", p.as_path())))
    }
}

/// The arguments in the bytes of `/proc/<pid>/cmdline` (NUL-terminated, lossily UTF-8);
/// `None` when empty (a kernel thread or a zombie).
pub fn parse_cmdline(raw: &[u8]) -> Option<Vec<String>> {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    if raw.is_empty() {
        return None;
    }
    Some(
        raw.split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// The file paths in the text of `/proc/<pid>/maps`: the sixth field onward of each line
/// that names a file (starts with `/`), each path once, in order of first appearance.
/// Pseudo-mappings (`[heap]`, `[vdso]`, anonymous) are left out.
pub fn parse_proc_maps(maps: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for line in maps.lines() {
        // address perms offset dev inode pathname; the path may contain spaces.
        let mut rest = line;
        for _ in 0..5 {
            rest = rest.trim_start();
            rest = rest.find(' ').map_or("", |i| &rest[i..]);
        }
        let path = rest.trim_start();
        if path.starts_with('/') && !out.iter().any(|p| p.as_os_str() == path) {
            out.push(PathBuf::from(path));
        }
    }
    out
}

/// The operating system as agents see it.
pub trait Host {
    /// The monotonic clock.
    fn now(&self) -> Instant;
    /// Wait.
    fn sleep(&self, d: Duration);
    /// Run a command to completion in its own process group; past `timeout` the whole
    /// group is killed and [`HostError::Timeout`] returned.
    fn run(&self, cmd: &CommandSpec, timeout: Duration) -> Result<CommandOutput, HostError>;
    /// Start a service detached from the agent: own session and process group, stdin
    /// from `/dev/null`. Returns its pid.
    fn spawn_detached(&self, spec: &SpawnSpec) -> Result<u32, HostError>;
    /// Collect a child of this process that has exited, without waiting: its exit code (or
    /// 128 + signal), or `None` while it runs or when it is not our child.
    fn try_reap(&self, pid: u32) -> Option<i32>;
    /// Send a signal to a whole process group. A group that no longer exists is not an error.
    fn signal_group(&self, pgrp: u32, signal: Signal) -> Result<(), HostError>;
    /// Send a signal to one process. A process that no longer exists is not an error.
    fn signal(&self, pid: u32, signal: Signal) -> Result<(), HostError>;
    /// One process, from `/proc/<pid>/stat`.
    fn process(&self, pid: u32) -> Option<ProcInfo>;
    /// Every process, from `/proc`.
    fn processes(&self) -> Vec<ProcInfo>;
    /// Read a whole file.
    fn read_file(&self, path: &Path) -> io::Result<String>;
    /// Write a file atomically (temporary file, fsync, rename) with the given mode.
    fn write_file(&self, path: &Path, contents: &str, mode: u32) -> io::Result<()>;
    /// Remove a file; a missing file is not an error.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Create a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Facts about a path (following symlinks); `None` when it does not exist.
    fn file_info(&self, path: &Path) -> Option<FileInfo>;
    /// `GET` an HTTP URL within `timeout`.
    fn http_get(&self, url: &HttpUrl, timeout: Duration) -> Result<HttpResponse, HostError>;
    /// Send `request` to the Unix stream socket at `path`, close the writing half and read
    /// the answer until the peer closes, all within `timeout` (see [`crate::unix`]). A
    /// socket that is missing or not listened on is [`HostError::Io`] with the kind
    /// `NotFound` or `ConnectionRefused`; a late answer is [`HostError::Timeout`].
    fn unix_request(
        &self,
        path: &Path,
        request: &str,
        timeout: Duration,
    ) -> Result<String, HostError>;
    /// Look up a user.
    fn user(&self, name: &str) -> Option<UserIds>;
    /// Mount a file system.
    fn mount(&self, spec: &MountSpec) -> Result<(), HostError>;
    /// Unmount; `force` uses `MNT_FORCE`.
    fn umount(&self, target: &Path, force: bool) -> Result<(), HostError>;

    /// Run a short check whose process may get stuck in uninterruptible sleep (I/O on a
    /// hung NFS or CephFS mount, which ignores even SIGKILL). Like [`Host::run`], but past
    /// `timeout` the whole group gets SIGKILL and the call returns at once, without waiting
    /// for the group to die: the answer is never later than `timeout`. The default runs
    /// [`Host::run`].
    fn run_check(&self, cmd: &CommandSpec, timeout: Duration) -> Result<CommandOutput, HostError> {
        self.run(cmd, timeout)
    }

    /// The files a process uses, from `/proc/<pid>` (see [`ProcFiles`]); `None` when the
    /// process is gone or not readable. At most `max_fds` descriptors are read, so the work
    /// per process is bounded. The default knows no process.
    fn process_files(&self, _pid: u32, _max_fds: usize) -> Option<ProcFiles> {
        None
    }

    /// A process's command line, from `/proc/<pid>/cmdline` (arguments not valid UTF-8 are
    /// converted lossily); `None` when the process is gone, a kernel thread, or not readable.
    /// The default knows no process.
    fn process_args(&self, _pid: u32) -> Option<Vec<String>> {
        None
    }

    /// Find an executable: a path containing `/` is checked as it is, a bare name is looked
    /// up in `search_path` (colon-separated, like `PATH`).
    fn find_executable(&self, program: &str, search_path: &str) -> Option<PathBuf> {
        let is_exec = |p: &Path| {
            self.file_info(p)
                .is_some_and(|i| i.is_file && i.mode & 0o111 != 0)
        };
        if program.contains('/') {
            let p = PathBuf::from(program);
            return is_exec(&p).then_some(p);
        }
        search_path
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(program))
            .find(|p| is_exec(p))
    }

    /// The live members of a process group (zombies are not members).
    fn group_members(&self, pgrp: u32) -> Vec<u32> {
        self.processes()
            .into_iter()
            .filter(|p| p.pgrp == pgrp && p.alive())
            .map(|p| p.pid)
            .collect()
    }
}

/// The real operating system.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealHost;

fn boot_time_ms() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .map_or(0, |s| s * 1000)
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// Parse the contents of `/proc/<pid>/stat`. The command name may contain spaces and
/// parentheses, so fields are counted from the last `)`.
pub fn parse_proc_stat(stat: &str, boot_ms: u64, ticks: u64) -> Option<ProcInfo> {
    let pid = stat.split_whitespace().next()?.parse().ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); field N is f[N - 3].
    let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let ticks_since_boot = field(22)?;
    Some(ProcInfo {
        pid,
        state: f.first()?.chars().next()?,
        ppid: u32::try_from(field(4)?).ok()?,
        pgrp: u32::try_from(field(5)?).ok()?,
        session: u32::try_from(field(6)?).ok()?,
        start_unix_ms: boot_ms + ticks_since_boot * 1000 / ticks,
    })
}

fn pid_of(n: u32) -> Option<Pid> {
    i32::try_from(n).ok().filter(|n| *n > 0).map(Pid::from_raw)
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// [`Host::run`] and [`Host::run_check`]: on timeout the group is killed, and reaped only
/// when `reap` is set (a process in uninterruptible sleep is never reaped, so waiting for
/// it could hang the caller).
fn run_command(
    cmd: &CommandSpec,
    timeout: Duration,
    reap: bool,
) -> Result<CommandOutput, HostError> {
    let what = cmd.display();
    let mut c = Command::new(&cmd.program);
    c.args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = c.spawn().map_err(|e| HostError::io(&what, e))?;
    let pgrp = child.id();
    if let (Some(mut sin), Some(data)) = (child.stdin.take(), cmd.stdin.clone()) {
        std::thread::spawn(move || {
            let _ = sin.write_all(&data);
        });
    }
    let (tx, rx) = std::sync::mpsc::channel();
    for (idx, r) in [
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .enumerate()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            let _ = tx.send((idx, buf));
        });
    }
    drop(tx);
    let start = Instant::now();
    // A waiting thread hears of the exit at once (no polling delay); on timeout it is left
    // blocked when the child cannot be reaped.
    let (wtx, wrx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = wtx.send(child.wait());
    });
    let status = match wrx.recv_timeout(timeout) {
        Ok(st) => st.map_err(|e| HostError::io(&what, e))?,
        Err(_) => {
            let _ = RealHost.signal_group(pgrp, Signal::SIGKILL);
            if reap {
                let _ = wrx.recv();
            }
            return Err(HostError::Timeout {
                what,
                after: timeout,
            });
        }
    };
    // A daemon the command left behind may hold the pipes open: read only while the
    // command's time lasts (at least a moment), and never kill what it started.
    let mut outs = [Vec::new(), Vec::new()];
    let until = start + timeout.max(Duration::from_millis(100));
    for _ in 0..2 {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.max(Duration::from_millis(50))) {
            Ok((idx, buf)) => outs[idx] = buf,
            Err(_) => break,
        }
    }
    let [out, err] = outs;
    Ok(CommandOutput {
        code: status.code(),
        signal: status.signal(),
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    })
}

impl Host for RealHost {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }

    fn run(&self, cmd: &CommandSpec, timeout: Duration) -> Result<CommandOutput, HostError> {
        run_command(cmd, timeout, true)
    }

    fn run_check(&self, cmd: &CommandSpec, timeout: Duration) -> Result<CommandOutput, HostError> {
        run_command(cmd, timeout, false)
    }

    fn process_files(&self, pid: u32, max_fds: usize) -> Option<ProcFiles> {
        let base = PathBuf::from(format!("/proc/{pid}"));
        let link = |name: &str| std::fs::read_link(base.join(name)).ok();
        let maps = std::fs::read_to_string(base.join("maps")).ok()?;
        let mut fds = Vec::new();
        if let Ok(dir) = std::fs::read_dir(base.join("fd")) {
            for e in dir.filter_map(Result::ok).take(max_fds) {
                if let Ok(t) = std::fs::read_link(e.path()) {
                    if t.is_absolute() {
                        fds.push(t);
                    }
                }
            }
        }
        Some(ProcFiles {
            cwd: link("cwd"),
            root: link("root"),
            exe: link("exe"),
            fds,
            maps: parse_proc_maps(&maps),
        })
    }

    fn process_args(&self, pid: u32) -> Option<Vec<String>> {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        parse_cmdline(&raw)
    }

    fn spawn_detached(&self, spec: &SpawnSpec) -> Result<u32, HostError> {
        let what = format!("spawn {}", spec.program.display());
        let mut c = Command::new(&spec.program);
        c.args(&spec.args).stdin(Stdio::null());
        for (k, _) in std::env::vars_os() {
            let name = k.to_string_lossy();
            if spec
                .env_remove_prefixes
                .iter()
                .any(|p| name.starts_with(p.as_str()))
            {
                c.env_remove(&k);
            }
        }
        c.envs(spec.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &spec.cwd {
            c.current_dir(dir);
        }
        match &spec.log_file {
            Some(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o640)
                    .open(path)
                    .map_err(|e| HostError::io(format!("open log file {}", path.display()), e))?;
                if let Some(u) = &spec.user {
                    let _ = nix::unistd::chown(
                        path,
                        Some(nix::unistd::Uid::from_raw(u.uid)),
                        Some(nix::unistd::Gid::from_raw(u.gid)),
                    );
                }
                let f2 = f
                    .try_clone()
                    .map_err(|e| HostError::io(format!("open log file {}", path.display()), e))?;
                c.stdout(f).stderr(f2);
            }
            None => {
                c.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        // Everything the child needs is computed before the fork: between fork and exec
        // only plain system calls are made (no allocation, no file lookups).
        let ids = match &spec.user {
            Some(u) => {
                let name = CString::new(u.name.as_str())
                    .map_err(|_| HostError::NotFound(format!("invalid user name {:?}", u.name)))?;
                let gid = nix::unistd::Gid::from_raw(u.gid);
                let groups = nix::unistd::getgrouplist(&name, gid).map_err(|e| {
                    HostError::io(format!("groups of user {}", u.name), io::Error::from(e))
                })?;
                Some((groups, gid, nix::unistd::Uid::from_raw(u.uid)))
            }
            None => None,
        };
        // SAFETY: the closure makes only async-signal-safe system calls (setsid, setgroups,
        // setgid, setuid) on values prepared before the fork.
        unsafe {
            c.pre_exec(move || {
                nix::unistd::setsid().map_err(io::Error::from)?;
                if let Some((groups, gid, uid)) = &ids {
                    nix::unistd::setgroups(groups).map_err(io::Error::from)?;
                    nix::unistd::setgid(*gid).map_err(io::Error::from)?;
                    nix::unistd::setuid(*uid).map_err(io::Error::from)?;
                }
                Ok(())
            });
        }
        let child = c.spawn().map_err(|e| HostError::io(what, e))?;
        Ok(child.id())
    }

    fn try_reap(&self, pid: u32) -> Option<i32> {
        use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
        match waitpid(pid_of(pid)?, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => Some(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => Some(128 + sig as i32),
            _ => None,
        }
    }

    fn signal_group(&self, pgrp: u32, signal: Signal) -> Result<(), HostError> {
        let Some(p) = pid_of(pgrp).filter(|p| p.as_raw() > 1) else {
            return Err(HostError::NotFound(format!("invalid process group {pgrp}")));
        };
        match killpg(p, signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(e) => Err(HostError::io(
                format!("send {signal} to process group {pgrp}"),
                io::Error::from(e),
            )),
        }
    }

    fn signal(&self, pid: u32, signal: Signal) -> Result<(), HostError> {
        let Some(p) = pid_of(pid).filter(|p| p.as_raw() > 1) else {
            return Err(HostError::NotFound(format!("invalid pid {pid}")));
        };
        match kill(p, signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(e) => Err(HostError::io(
                format!("send {signal} to process {pid}"),
                io::Error::from(e),
            )),
        }
    }

    fn process(&self, pid: u32) -> Option<ProcInfo> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        parse_proc_stat(&stat, boot_time_ms(), clock_ticks())
    }

    fn processes(&self) -> Vec<ProcInfo> {
        let (boot, ticks) = (boot_time_ms(), clock_ticks());
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name();
            let name = name.to_str()?;
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            parse_proc_stat(&stat, boot, ticks)
        })
        .collect()
    }

    fn read_file(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn write_file(&self, path: &Path, contents: &str, mode: u32) -> io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
        let tmp = dir.join(format!(
            ".{}.tmp.{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let result = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(mode)
                .open(&tmp)?;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
            f.write_all(contents.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn file_info(&self, path: &Path) -> Option<FileInfo> {
        let m = std::fs::metadata(path).ok()?;
        Some(FileInfo {
            is_file: m.is_file(),
            is_dir: m.is_dir(),
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            mtime_unix_ms: m.modified().map(unix_ms).unwrap_or(0),
        })
    }

    fn http_get(&self, url: &HttpUrl, timeout: Duration) -> Result<HttpResponse, HostError> {
        http::get(url, timeout).map_err(|source| HostError::Http {
            what: format!("GET {url}"),
            source,
        })
    }

    fn unix_request(
        &self,
        path: &Path,
        request: &str,
        timeout: Duration,
    ) -> Result<String, HostError> {
        let what = format!("{} on {}", request.trim(), path.display());
        unix::request(path, request.as_bytes(), timeout).map_err(|e| match e {
            unix::UnixError::Timeout(after) => HostError::Timeout { what, after },
            e => HostError::io(what, e.into_io()),
        })
    }

    fn user(&self, name: &str) -> Option<UserIds> {
        let u = nix::unistd::User::from_name(name).ok()??;
        Some(UserIds {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        })
    }

    fn mount(&self, spec: &MountSpec) -> Result<(), HostError> {
        use nix::mount::{MsFlags, mount};
        let mut flags = MsFlags::empty();
        let mut data = Vec::new();
        for o in spec.options.split(',').filter(|o| !o.is_empty()) {
            match o {
                "ro" => flags |= MsFlags::MS_RDONLY,
                "rw" | "defaults" => {}
                "bind" => flags |= MsFlags::MS_BIND,
                "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
                "nosuid" => flags |= MsFlags::MS_NOSUID,
                "nodev" => flags |= MsFlags::MS_NODEV,
                "noexec" => flags |= MsFlags::MS_NOEXEC,
                "noatime" => flags |= MsFlags::MS_NOATIME,
                "relatime" => flags |= MsFlags::MS_RELATIME,
                "sync" => flags |= MsFlags::MS_SYNCHRONOUS,
                other => data.push(other),
            }
        }
        let data = data.join(",");
        let fstype = (spec.fstype != "none").then_some(spec.fstype.as_str());
        mount(
            Some(spec.source.as_str()),
            &spec.target,
            fstype,
            flags,
            (!data.is_empty()).then_some(data.as_str()),
        )
        .map_err(|e| {
            HostError::io(
                format!(
                    "mount {} on {} ({})",
                    spec.source,
                    spec.target.display(),
                    spec.fstype
                ),
                io::Error::from(e),
            )
        })
    }

    fn umount(&self, target: &Path, force: bool) -> Result<(), HostError> {
        use nix::mount::{MntFlags, umount2};
        let flags = if force {
            MntFlags::MNT_FORCE
        } else {
            MntFlags::empty()
        };
        umount2(target, flags)
            .map_err(|e| HostError::io(format!("unmount {}", target.display()), io::Error::from(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_splits_at_nuls_and_kernel_threads_have_none() {
        assert_eq!(
            parse_cmdline(b"ceph-fuse\0/srv/a b\0-o\0rw\0").unwrap(),
            ["ceph-fuse", "/srv/a b", "-o", "rw"]
        );
        assert_eq!(
            parse_cmdline(b"sshfs\0\xff\0").unwrap(),
            ["sshfs", "\u{fffd}"]
        );
        assert!(parse_cmdline(b"").is_none());
        let me = RealHost
            .process_args(std::process::id())
            .expect("our own command line");
        assert!(!me.is_empty());
    }

    #[test]
    fn proc_stat_parses_names_with_spaces_and_parentheses() {
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 500 1000 10 18446744073709551615";
        let p = parse_proc_stat(stat, 1_000_000, 100).expect("parses");
        assert_eq!(
            (p.pid, p.ppid, p.pgrp, p.session, p.state),
            (4242, 1, 4242, 4242, 'S')
        );
        assert_eq!(p.start_unix_ms, 1_000_000 + 5_000);
        assert!(p.alive());
        assert!(parse_proc_stat("garbage", 0, 100).is_none());
    }

    #[test]
    fn run_captures_output_and_exit_code() {
        let out = RealHost
            .run(
                &CommandSpec::new("sh", ["-c", "echo out; echo err >&2; exit 3"]),
                Duration::from_secs(10),
            )
            .expect("runs");
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
    }

    #[test]
    fn run_passes_stdin() {
        let mut cmd = CommandSpec::new("cat", Vec::<String>::new());
        cmd.stdin = Some(b"nodename=n1\naction=reboot\n".to_vec());
        let out = RealHost.run(&cmd, Duration::from_secs(10)).expect("runs");
        assert_eq!(out.stdout, "nodename=n1\naction=reboot\n");
    }

    #[test]
    fn run_kills_the_whole_group_on_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}; wait", marker.display());
        let t0 = Instant::now();
        let err = RealHost
            .run(
                &CommandSpec::new("sh", ["-c", script.as_str()]),
                Duration::from_millis(300),
            )
            .unwrap_err();
        assert!(matches!(err, HostError::Timeout { .. }), "{err}");
        assert!(t0.elapsed() < Duration::from_secs(5));
        let grandchild: u32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild was in the group: it is gone or a zombie awaiting its reaper.
        let deadline = Instant::now() + Duration::from_secs(5);
        while RealHost.process(grandchild).is_some_and(|p| p.alive()) {
            assert!(
                Instant::now() < deadline,
                "grandchild {grandchild} survived"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn write_file_is_atomic_and_sets_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        RealHost.write_file(&p, "one", 0o600).unwrap();
        RealHost.write_file(&p, "two", 0o600).unwrap();
        assert_eq!(RealHost.read_file(&p).unwrap(), "two");
        let info = RealHost.file_info(&p).unwrap();
        assert_eq!(info.mode, 0o600);
        assert!(info.is_file);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        RealHost.remove_file(&p).unwrap();
        RealHost.remove_file(&p).unwrap();
    }

    #[test]
    fn find_executable_searches_the_path() {
        assert!(
            RealHost
                .find_executable("sh", "/nonexistent:/bin:/usr/bin")
                .is_some()
        );
        assert!(
            RealHost
                .find_executable("no-such-program-xyz", "/bin:/usr/bin")
                .is_none()
        );
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        RealHost.write_file(&plain, "x", 0o644).unwrap();
        assert!(
            RealHost
                .find_executable(plain.to_str().unwrap(), "")
                .is_none()
        );
    }

    #[test]
    fn proc_maps_yield_each_file_once_with_spaces_and_without_pseudo_mappings() {
        let maps = "\
55d0c0a00000-55d0c0a02000 r--p 00000000 fe:00 131 /usr/bin/sleep
55d0c0a02000-55d0c0a06000 r-xp 00002000 fe:00 131 /usr/bin/sleep
55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0 [heap]
7f00a0000000-7f00a0001000 rw-s 00000000 07:00 12 /mnt/data/my file.db
7f00a0002000-7f00a0003000 r--p 00000000 07:00 13 /mnt/data/gone (deleted)
7f00a0004000-7f00a0005000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
";
        assert_eq!(
            parse_proc_maps(maps),
            [
                "/usr/bin/sleep",
                "/mnt/data/my file.db",
                "/mnt/data/gone (deleted)"
            ]
            .map(PathBuf::from)
            .to_vec()
        );
        assert!(parse_proc_maps("").is_empty());
    }

    #[test]
    fn process_files_lists_cwd_open_files_and_maps() {
        let dir = tempfile::tempdir().unwrap();
        let held = dir.path().join("held");
        let _f = std::fs::File::create(&held).unwrap();
        let me = RealHost
            .process_files(std::process::id(), 4096)
            .expect("own /proc entry");
        assert_eq!(me.cwd, std::env::current_dir().ok());
        assert_eq!(me.root.as_deref(), Some(Path::new("/")));
        assert!(me.fds.contains(&held), "{:?}", me.fds);
        assert!(me.maps.iter().any(|m| Some(m) == me.exe.as_ref()), "{me:?}");
        assert!(me.all().any(|(what, p)| what == "fd" && p == held));
        assert!(RealHost.process_files(u32::MAX, 10).is_none());
    }

    #[test]
    fn run_check_answers_at_the_timeout() {
        let t0 = Instant::now();
        let err = RealHost
            .run_check(
                &CommandSpec::new("sh", ["-c", "trap '' TERM; sleep 30"]),
                Duration::from_millis(200),
            )
            .unwrap_err();
        assert!(matches!(err, HostError::Timeout { .. }), "{err}");
        assert!(t0.elapsed() < Duration::from_secs(2));
        let out = RealHost
            .run_check(
                &CommandSpec::new("true", Vec::<String>::new()),
                Duration::from_secs(5),
            )
            .unwrap();
        assert!(out.success());
    }

    #[test]
    fn this_process_is_listed_alive() {
        let me = std::process::id();
        let p = RealHost.process(me).expect("self in /proc");
        assert!(p.alive());
        assert!(RealHost.processes().iter().any(|p| p.pid == me));
        assert!(p.start_unix_ms <= unix_ms(SystemTime::now()) + 1000);
    }
}
