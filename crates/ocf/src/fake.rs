//! A recording, scripted [`Host`] for unit tests: a process table, files, HTTP answers and
//! command outputs held in memory, a virtual clock that `sleep` advances, and a log of
//! every effect in the order the agent asked for it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::host::{
    CommandOutput, CommandSpec, FileInfo, Host, HostError, MountSpec, ProcFiles, ProcInfo,
    SpawnSpec, UserIds,
};
use crate::http::{HttpResponse, HttpUrl};

/// One effect the agent asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `run`.
    Run(String),
    /// `spawn_detached`, with the pid it got.
    Spawn(PathBuf, u32),
    /// `signal_group`.
    SignalGroup(u32, Signal),
    /// `signal`.
    Signal(u32, Signal),
    /// `write_file`.
    Write(PathBuf, String),
    /// `remove_file`.
    Remove(PathBuf),
    /// `http_get`.
    Http(String),
    /// `mount`.
    Mount(String, PathBuf),
    /// `umount`.
    Umount(PathBuf),
    /// `unix_request`: the socket and the request, trimmed.
    Unix(PathBuf, String),
}

/// A scripted HTTP answer.
#[derive(Debug, Clone)]
pub enum FakeHttp {
    /// Answer with this status and body after this long (virtual time).
    Answer(u16, String, Duration),
    /// Fail to connect.
    Refused,
}

/// A scripted answer on a Unix socket.
#[derive(Debug, Clone)]
pub enum FakeUnix {
    /// Answer with this text after this long (virtual time).
    Answer(String, Duration),
    /// Nobody listens (`ConnectionRefused`).
    Refused,
}

/// Answers given in order; once they run out, the last one given repeats.
#[derive(Debug)]
struct Script<T> {
    queue: VecDeque<T>,
    last: Option<T>,
}

impl<T> Default for Script<T> {
    fn default() -> Self {
        Script {
            queue: VecDeque::new(),
            last: None,
        }
    }
}

impl<T: Clone> Script<T> {
    fn push(&mut self, v: T) {
        self.queue.push_back(v);
    }
    fn next(&mut self) -> Option<T> {
        if let Some(v) = self.queue.pop_front() {
            self.last = Some(v);
        }
        self.last.clone()
    }
}

/// A command's output and the file it writes, if any.
type ScriptedCommand = (CommandOutput, Option<(PathBuf, String)>);

#[derive(Debug)]
struct State {
    clock: Duration,
    next_pid: u32,
    procs: BTreeMap<u32, ProcInfo>,
    proc_files: BTreeMap<u32, ProcFiles>,
    proc_args: BTreeMap<u32, Vec<String>>,
    /// Processes that exit (code 0) by themselves once the clock reaches the time.
    exit_at: BTreeMap<u32, Duration>,
    ignore_term: BTreeSet<u32>,
    exit_codes: BTreeMap<u32, i32>,
    files: BTreeMap<PathBuf, (String, FileInfo)>,
    http: BTreeMap<String, Script<FakeHttp>>,
    unix: BTreeMap<(PathBuf, String), Script<FakeUnix>>,
    exit_on: BTreeMap<u32, Signal>,
    commands: BTreeMap<String, Script<ScriptedCommand>>,
    users: BTreeMap<String, UserIds>,
    calls: Vec<Call>,
    spawn_error: Option<(io::ErrorKind, String)>,
    die_on_spawn: Option<i32>,
    /// Paths under which writing, removing and creating directories is refused (EACCES).
    denied: BTreeSet<PathBuf>,
    /// Signals are refused (EPERM: the process belongs to another user).
    deny_signals: bool,
}

/// The fake host. Not `Sync`: one test, one host.
#[derive(Debug)]
pub struct FakeHost {
    base: Instant,
    state: RefCell<State>,
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost::new()
    }
}

/// The start time the fake gives every process it knows, in Unix milliseconds.
pub const FAKE_EPOCH_MS: u64 = 1_700_000_000_000;

impl FakeHost {
    /// An empty host: no processes but this one's pid space starting at 1000.
    pub fn new() -> FakeHost {
        FakeHost {
            base: Instant::now(),
            state: RefCell::new(State {
                clock: Duration::ZERO,
                next_pid: 1000,
                procs: BTreeMap::new(),
                proc_files: BTreeMap::new(),
                proc_args: BTreeMap::new(),
                exit_at: BTreeMap::new(),
                ignore_term: BTreeSet::new(),
                exit_codes: BTreeMap::new(),
                files: BTreeMap::new(),
                http: BTreeMap::new(),
                unix: BTreeMap::new(),
                exit_on: BTreeMap::new(),
                commands: BTreeMap::new(),
                users: BTreeMap::new(),
                calls: Vec::new(),
                spawn_error: None,
                die_on_spawn: None,
                denied: BTreeSet::new(),
                deny_signals: false,
            }),
        }
    }

    fn now_ms(&self) -> u64 {
        FAKE_EPOCH_MS + u64::try_from(self.state.borrow().clock.as_millis()).unwrap_or(0)
    }

    /// Add a live process leading its own session and group.
    pub fn add_process(&self, pid: u32) {
        let start = self.now_ms();
        self.state.borrow_mut().procs.insert(
            pid,
            ProcInfo {
                pid,
                ppid: 1,
                pgrp: pid,
                session: pid,
                state: 'S',
                start_unix_ms: start,
            },
        );
    }

    /// Add a process to an existing group.
    pub fn add_group_member(&self, pid: u32, pgrp: u32) {
        self.add_process(pid);
        if let Some(p) = self.state.borrow_mut().procs.get_mut(&pid) {
            p.pgrp = pgrp;
            p.session = pgrp;
        }
    }

    /// Give a process files in use (answered by `process_files` while it lives).
    pub fn set_process_files(&self, pid: u32, files: ProcFiles) {
        self.state.borrow_mut().proc_files.insert(pid, files);
    }

    /// Give a process a command line (answered by `process_args` while it lives).
    pub fn set_process_args(&self, pid: u32, args: &[&str]) {
        let args = args.iter().map(|a| a.to_string()).collect();
        self.state.borrow_mut().proc_args.insert(pid, args);
    }

    /// Make a process exit (code 0) by itself once `after` more virtual time has passed.
    pub fn exits_after(&self, pid: u32, after: Duration) {
        let mut s = self.state.borrow_mut();
        let at = s.clock + after;
        s.exit_at.insert(pid, at);
    }

    /// Set a process's state letter (`D` for uninterruptible sleep, ...).
    pub fn set_state(&self, pid: u32, state: char) {
        if let Some(p) = self.state.borrow_mut().procs.get_mut(&pid) {
            p.state = state;
        }
    }

    /// Make a process a zombie.
    pub fn make_zombie(&self, pid: u32) {
        if let Some(p) = self.state.borrow_mut().procs.get_mut(&pid) {
            p.state = 'Z';
        }
    }

    /// Remove a process, as if it died and was reaped, with an exit code for `try_reap`.
    pub fn kill_process(&self, pid: u32, code: i32) {
        let mut s = self.state.borrow_mut();
        s.procs.remove(&pid);
        s.exit_codes.insert(pid, code);
    }

    /// Make a process exit (code 0) when it receives `signal`, its whole process group with
    /// it: a master process that takes its workers down on a soft-stop signal.
    pub fn exits_on(&self, pid: u32, signal: Signal) {
        self.state.borrow_mut().exit_on.insert(pid, signal);
    }

    /// Make a process group ignore SIGTERM.
    pub fn ignore_term(&self, pgrp: u32) {
        self.state.borrow_mut().ignore_term.insert(pgrp);
    }

    /// Whether a pid is alive.
    pub fn is_alive(&self, pid: u32) -> bool {
        self.state
            .borrow()
            .procs
            .get(&pid)
            .is_some_and(ProcInfo::alive)
    }

    /// Put a file in place.
    pub fn add_file(&self, path: impl Into<PathBuf>, contents: &str, mode: u32) {
        let mtime = self.now_ms();
        self.state.borrow_mut().files.insert(
            path.into(),
            (
                contents.to_string(),
                FileInfo {
                    is_file: true,
                    is_dir: false,
                    mode,
                    uid: 0,
                    mtime_unix_ms: mtime,
                },
            ),
        );
    }

    /// Put a directory in place.
    pub fn add_dir(&self, path: impl Into<PathBuf>) {
        self.state.borrow_mut().files.insert(
            path.into(),
            (
                String::new(),
                FileInfo {
                    is_file: false,
                    is_dir: true,
                    mode: 0o755,
                    uid: 0,
                    mtime_unix_ms: FAKE_EPOCH_MS,
                },
            ),
        );
    }

    /// Put an executable in place.
    pub fn add_executable(&self, path: impl Into<PathBuf>) {
        self.add_file(path, "#!", 0o755);
    }

    /// A file's contents.
    pub fn file(&self, path: impl AsRef<Path>) -> Option<String> {
        self.state
            .borrow()
            .files
            .get(path.as_ref())
            .map(|(c, _)| c.clone())
    }

    /// Queue an HTTP answer for a URL (as `HttpUrl`'s Display prints it); when the queue
    /// is used up, the last answer given repeats.
    pub fn push_http(&self, url: &str, answer: FakeHttp) {
        self.state
            .borrow_mut()
            .http
            .entry(url.to_string())
            .or_default()
            .push(answer);
    }

    /// Queue an answer of the Unix socket at `path` to `request` (compared trimmed); when
    /// the queue is used up, the last answer given repeats. A request nothing was queued
    /// for finds no socket (`NotFound`).
    pub fn push_unix(&self, path: impl Into<PathBuf>, request: &str, answer: FakeUnix) {
        self.state
            .borrow_mut()
            .unix
            .entry((path.into(), request.trim().to_string()))
            .or_default()
            .push(answer);
    }

    /// Queue a command's output, keyed by its program; when the queue is used up, the last
    /// output given repeats.
    pub fn push_command(&self, program: &str, out: CommandOutput) {
        self.state
            .borrow_mut()
            .commands
            .entry(program.to_string())
            .or_default()
            .push((out, None));
    }

    /// Queue a command's output that also writes a file when given, as a command with a
    /// side effect would (`mount` changing `/proc/self/mountinfo`). Repeats like
    /// [`FakeHost::push_command`], side effect included.
    pub fn push_command_writing(
        &self,
        program: &str,
        out: CommandOutput,
        path: impl Into<PathBuf>,
        contents: &str,
    ) {
        self.state
            .borrow_mut()
            .commands
            .entry(program.to_string())
            .or_default()
            .push((out, Some((path.into(), contents.to_string()))));
    }

    /// Add a user.
    pub fn add_user(&self, name: &str, uid: u32, gid: u32) {
        self.state.borrow_mut().users.insert(
            name.to_string(),
            UserIds {
                name: name.to_string(),
                uid,
                gid,
            },
        );
    }

    /// Make the next spawn fail.
    pub fn fail_spawn(&self, message: &str) {
        self.state.borrow_mut().spawn_error = Some((io::ErrorKind::Other, message.to_string()));
    }

    /// Make the next spawn fail as execve does on a program this user may not run (EACCES).
    pub fn deny_spawn(&self) {
        self.state.borrow_mut().spawn_error =
            Some((io::ErrorKind::PermissionDenied, "Permission denied".into()));
    }

    /// Refuse writing, removing and creating directories at or under `path` (EACCES).
    pub fn deny(&self, path: impl Into<PathBuf>) {
        self.state.borrow_mut().denied.insert(path.into());
    }

    /// Refuse every signal (EPERM), as for processes of another user.
    pub fn deny_signals(&self) {
        self.state.borrow_mut().deny_signals = true;
    }

    fn check_denied(&self, path: &Path) -> io::Result<()> {
        if self
            .state
            .borrow()
            .denied
            .iter()
            .any(|d| path.starts_with(d))
        {
            return Err(io::Error::from_raw_os_error(13));
        }
        Ok(())
    }

    fn check_signal(&self, what: String) -> Result<(), HostError> {
        if self.state.borrow().deny_signals {
            return Err(HostError::io(what, io::Error::from_raw_os_error(1)));
        }
        Ok(())
    }

    /// Make spawned processes die at once with this exit code.
    pub fn spawned_die_with(&self, code: i32) {
        self.state.borrow_mut().die_on_spawn = Some(code);
    }

    /// Every effect so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.borrow().calls.clone()
    }

    /// Virtual time passed.
    pub fn elapsed(&self) -> Duration {
        self.state.borrow().clock
    }

    fn record(&self, c: Call) {
        self.state.borrow_mut().calls.push(c);
    }
}

impl Host for FakeHost {
    fn now(&self) -> Instant {
        self.base + self.state.borrow().clock
    }

    fn sleep(&self, d: Duration) {
        let mut s = self.state.borrow_mut();
        s.clock += d;
        let now = s.clock;
        let due: Vec<u32> = s
            .exit_at
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(pid, _)| *pid)
            .collect();
        for pid in due {
            s.exit_at.remove(&pid);
            if s.procs.remove(&pid).is_some() {
                s.exit_codes.insert(pid, 0);
            }
        }
    }

    fn run(&self, cmd: &CommandSpec, timeout: Duration) -> Result<CommandOutput, HostError> {
        self.record(Call::Run(cmd.display()));
        let mut s = self.state.borrow_mut();
        match s.commands.get_mut(&cmd.program).and_then(Script::next) {
            Some((out, effect)) => {
                drop(s);
                if let Some((path, contents)) = effect {
                    self.add_file(path, &contents, 0o644);
                }
                Ok(out)
            }
            None => {
                s.clock += timeout;
                Err(HostError::Timeout {
                    what: cmd.display(),
                    after: timeout,
                })
            }
        }
    }

    fn spawn_detached(&self, spec: &SpawnSpec) -> Result<u32, HostError> {
        if let Some((kind, e)) = self.state.borrow_mut().spawn_error.take() {
            return Err(HostError::io(
                format!("spawn {}", spec.program.display()),
                io::Error::new(kind, e),
            ));
        }
        let pid = {
            let mut s = self.state.borrow_mut();
            s.next_pid += 1;
            s.next_pid
        };
        self.record(Call::Spawn(spec.program.clone(), pid));
        let die = self.state.borrow().die_on_spawn;
        match die {
            Some(code) => self.kill_process(pid, code),
            None => self.add_process(pid),
        }
        Ok(pid)
    }

    fn try_reap(&self, pid: u32) -> Option<i32> {
        self.state.borrow_mut().exit_codes.remove(&pid)
    }

    fn signal_group(&self, pgrp: u32, signal: Signal) -> Result<(), HostError> {
        self.record(Call::SignalGroup(pgrp, signal));
        self.check_signal(format!("signal process group {pgrp}"))?;
        let mut s = self.state.borrow_mut();
        let dies = match signal {
            Signal::SIGKILL => true,
            Signal::SIGTERM => !s.ignore_term.contains(&pgrp),
            _ => false,
        };
        if dies {
            let members: Vec<u32> = s
                .procs
                .values()
                .filter(|p| p.pgrp == pgrp)
                .map(|p| p.pid)
                .collect();
            for pid in members {
                s.procs.remove(&pid);
                s.exit_codes.insert(pid, 128 + signal as i32);
            }
        }
        Ok(())
    }

    fn signal(&self, pid: u32, signal: Signal) -> Result<(), HostError> {
        self.record(Call::Signal(pid, signal));
        self.check_signal(format!("signal process {pid}"))?;
        let mut s = self.state.borrow_mut();
        if signal == Signal::SIGKILL {
            s.procs.remove(&pid);
        } else if s.exit_on.get(&pid) == Some(&signal) {
            let pgrp = s.procs.get(&pid).map_or(pid, |p| p.pgrp);
            let members: Vec<u32> = s
                .procs
                .values()
                .filter(|p| p.pgrp == pgrp || p.pid == pid)
                .map(|p| p.pid)
                .collect();
            for m in members {
                s.procs.remove(&m);
                s.exit_codes.insert(m, 0);
            }
        }
        Ok(())
    }

    fn process(&self, pid: u32) -> Option<ProcInfo> {
        self.state.borrow().procs.get(&pid).copied()
    }

    fn processes(&self) -> Vec<ProcInfo> {
        self.state.borrow().procs.values().copied().collect()
    }

    fn process_files(&self, pid: u32, max_fds: usize) -> Option<ProcFiles> {
        let s = self.state.borrow();
        s.procs.get(&pid).filter(|p| p.alive())?;
        let mut f = s.proc_files.get(&pid).cloned().unwrap_or_default();
        f.fds.truncate(max_fds);
        Some(f)
    }

    fn process_args(&self, pid: u32) -> Option<Vec<String>> {
        let s = self.state.borrow();
        s.procs.get(&pid).filter(|p| p.alive())?;
        s.proc_args.get(&pid).cloned()
    }

    fn read_file(&self, path: &Path) -> io::Result<String> {
        self.file(path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn write_file(&self, path: &Path, contents: &str, mode: u32) -> io::Result<()> {
        self.record(Call::Write(path.to_path_buf(), contents.to_string()));
        self.check_denied(path)?;
        self.add_file(path, contents, mode);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.record(Call::Remove(path.to_path_buf()));
        self.check_denied(path)?;
        self.state.borrow_mut().files.remove(path);
        Ok(())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.check_denied(path)?;
        self.add_dir(path);
        Ok(())
    }

    fn file_info(&self, path: &Path) -> Option<FileInfo> {
        self.state.borrow().files.get(path).map(|(_, i)| *i)
    }

    fn http_get(&self, url: &HttpUrl, timeout: Duration) -> Result<HttpResponse, HostError> {
        let key = url.to_string();
        self.record(Call::Http(key.clone()));
        let answer = self
            .state
            .borrow_mut()
            .http
            .get_mut(&key)
            .and_then(Script::next);
        match answer {
            Some(FakeHttp::Answer(status, body, took)) if took <= timeout => {
                self.sleep(took);
                Ok(HttpResponse {
                    status,
                    body,
                    elapsed: took,
                })
            }
            Some(FakeHttp::Answer(..)) => {
                self.sleep(timeout);
                Err(HostError::Timeout {
                    what: format!("GET {key}"),
                    after: timeout,
                })
            }
            Some(FakeHttp::Refused) | None => Err(HostError::io(
                format!("GET {key}"),
                io::Error::from(io::ErrorKind::ConnectionRefused),
            )),
        }
    }

    fn unix_request(
        &self,
        path: &Path,
        request: &str,
        timeout: Duration,
    ) -> Result<String, HostError> {
        let key = (path.to_path_buf(), request.trim().to_string());
        self.record(Call::Unix(key.0.clone(), key.1.clone()));
        let what = format!("{} on {}", key.1, path.display());
        let answer = self
            .state
            .borrow_mut()
            .unix
            .get_mut(&key)
            .and_then(Script::next);
        match answer {
            Some(FakeUnix::Answer(text, took)) if took <= timeout => {
                self.sleep(took);
                Ok(text)
            }
            Some(FakeUnix::Answer(..)) => {
                self.sleep(timeout);
                Err(HostError::Timeout {
                    what,
                    after: timeout,
                })
            }
            Some(FakeUnix::Refused) => Err(HostError::io(
                what,
                io::Error::from(io::ErrorKind::ConnectionRefused),
            )),
            None => Err(HostError::io(
                what,
                io::Error::from(io::ErrorKind::NotFound),
            )),
        }
    }

    fn user(&self, name: &str) -> Option<UserIds> {
        self.state.borrow().users.get(name).cloned()
    }

    fn mount(&self, spec: &MountSpec) -> Result<(), HostError> {
        self.record(Call::Mount(spec.source.clone(), spec.target.clone()));
        Ok(())
    }

    fn umount(&self, target: &Path, _force: bool) -> Result<(), HostError> {
        self.record(Call::Umount(target.to_path_buf()));
        Ok(())
    }
}

/// Parameters for unit tests: `pairs` parsed against `specs` without requiring the required
/// ones. Panics (a test failure) when a value does not parse.
pub fn params(specs: &[crate::ParamSpec], pairs: &[(&str, &str)]) -> crate::Params {
    let raw: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    match crate::Params::parse(specs, &raw, crate::params::Requirement::Relax) {
        Ok((p, _)) => p,
        Err(e) => panic!("test parameters {pairs:?} do not parse: {e:?}"),
    }
}

/// Run one action of `agent` on the fake host, as the dispatcher would: the environment is
/// `base` with `extra` laid over it (an empty value removes a variable). Checks that
/// nothing but meta-data reached stdout; returns the exit code and stderr.
pub fn run_action(
    agent: &dyn crate::Agent,
    host: &FakeHost,
    mut base: Vec<(String, String)>,
    action: &str,
    extra: &[(&str, &str)],
) -> (crate::OcfExit, String) {
    for (k, v) in extra {
        base.retain(|(n, _)| n != k);
        if !v.is_empty() {
            base.push((k.to_string(), v.to_string()));
        }
    }
    let env = crate::OcfEnv::from_vars(base);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = crate::dispatch::execute(agent, Some(action), &env, host, &mut out, &mut err);
    assert!(
        out.is_empty() || action == "meta-data",
        "stdout written by {action}"
    );
    (code, String::from_utf8_lossy(&err).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_kills_a_group_unless_ignored_and_kill_always_does() {
        let h = FakeHost::new();
        h.add_process(10);
        h.add_group_member(11, 10);
        h.add_process(20);
        h.ignore_term(20);
        h.signal_group(10, Signal::SIGTERM).unwrap();
        h.signal_group(20, Signal::SIGTERM).unwrap();
        assert!(h.group_members(10).is_empty());
        assert_eq!(h.group_members(20), vec![20]);
        h.signal_group(20, Signal::SIGKILL).unwrap();
        assert!(!h.is_alive(20));
        assert_eq!(h.try_reap(20), Some(137));
        assert_eq!(h.calls().len(), 3);
    }

    #[test]
    fn process_files_follow_the_process_and_bound_the_fds() {
        let h = FakeHost::new();
        h.add_process(10);
        h.set_process_files(
            10,
            ProcFiles {
                cwd: Some("/mnt/a".into()),
                fds: vec!["/mnt/a/1".into(), "/mnt/a/2".into()],
                ..ProcFiles::default()
            },
        );
        assert_eq!(h.process_files(10, 1).unwrap().fds.len(), 1);
        h.signal(10, Signal::SIGKILL).unwrap();
        assert!(h.process_files(10, 10).is_none());
    }

    #[test]
    fn commands_with_side_effects_write_their_file() {
        let h = FakeHost::new();
        let ok = CommandOutput {
            code: Some(0),
            ..CommandOutput::default()
        };
        h.push_command("mount", ok.clone());
        h.push_command_writing(
            "mount",
            ok,
            "/proc/self/mountinfo",
            "1 2 0:1 / /m rw - tmpfs t rw",
        );
        let cmd = CommandSpec::new("mount", ["/m"]);
        h.run(&cmd, Duration::from_secs(1)).unwrap();
        assert!(h.file("/proc/self/mountinfo").is_none());
        h.run(&cmd, Duration::from_secs(1)).unwrap();
        assert!(h.file("/proc/self/mountinfo").unwrap().contains("/m"));
    }

    #[test]
    fn unix_answers_are_scripted_per_socket_and_request() {
        let h = FakeHost::new();
        let sock = Path::new("/run/admin.sock");
        h.push_unix(sock, "show info", FakeUnix::Refused);
        h.push_unix(
            sock,
            "show info\n",
            FakeUnix::Answer("Pid: 7\n".into(), Duration::from_millis(5)),
        );
        let t = Duration::from_secs(1);
        let e = h.unix_request(sock, "show info\n", t).unwrap_err();
        assert!(
            matches!(&e, HostError::Io { source, .. } if source.kind() == io::ErrorKind::ConnectionRefused),
            "{e}"
        );
        assert_eq!(h.unix_request(sock, "show info\n", t).unwrap(), "Pid: 7\n");
        assert_eq!(h.unix_request(sock, "show info", t).unwrap(), "Pid: 7\n");
        assert_eq!(h.elapsed(), Duration::from_millis(10));
        let e = h.unix_request(sock, "show stat\n", t).unwrap_err();
        assert!(
            matches!(&e, HostError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound),
            "{e}"
        );
        assert!(matches!(
            h.unix_request(sock, "show info", Duration::from_millis(1)),
            Err(HostError::Timeout { .. })
        ));
        assert_eq!(
            h.calls()[0],
            Call::Unix(sock.to_path_buf(), "show info".into())
        );
    }

    #[test]
    fn a_process_that_exits_on_a_signal_takes_its_group_along() {
        let h = FakeHost::new();
        h.add_process(10);
        h.add_group_member(11, 10);
        h.exits_on(10, Signal::SIGUSR1);
        h.signal(10, Signal::SIGUSR2).unwrap();
        assert!(h.is_alive(10) && h.is_alive(11));
        h.signal(10, Signal::SIGUSR1).unwrap();
        assert!(h.group_members(10).is_empty());
        assert_eq!(h.try_reap(10), Some(0));
    }

    #[test]
    fn zombies_are_not_group_members() {
        let h = FakeHost::new();
        h.add_process(10);
        h.make_zombie(10);
        assert!(h.group_members(10).is_empty());
    }

    #[test]
    fn sleep_advances_the_virtual_clock() {
        let h = FakeHost::new();
        let t0 = h.now();
        h.sleep(Duration::from_secs(3));
        assert_eq!(h.now() - t0, Duration::from_secs(3));
    }

    #[test]
    fn a_process_told_to_exit_later_is_gone_once_the_clock_passes_it() {
        let h = FakeHost::new();
        h.add_process(10);
        h.set_process_args(10, &["ceph-fuse", "/mnt"]);
        h.exits_after(10, Duration::from_secs(2));
        h.sleep(Duration::from_secs(1));
        assert!(h.is_alive(10));
        assert_eq!(h.process_args(10).unwrap(), ["ceph-fuse", "/mnt"]);
        h.sleep(Duration::from_secs(1));
        assert!(!h.is_alive(10));
        assert!(h.process_args(10).is_none());
    }
}
