//! The thin process layer under [`crate::OcfRunner`]: spawn one program in a process group
//! of its own (through `posix_spawn`), feed it its standard input, read its output within
//! bounds, wait for it, and kill its group when its time is up. It knows nothing of OCF.
//!
//! What it guarantees, as Pacemaker's executor does:
//! - A program that exits is never followed by a kill: whatever it started in the
//!   background (a daemon started with `&`) keeps running.
//! - The wait is bounded by the deadline: at the timeout the whole group is killed
//!   (`SIGKILL`), and a process that even then does not exit (a sleep in D state) is left
//!   behind after a grace period rather than waited for.
//! - Output never holds the caller: reading stops when the program has exited (what it
//!   wrote is in the pipes by then; a child that keeps a pipe open is not waited for) and
//!   at the deadline, and never keeps more than `output_limit` bytes of a stream.
use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How long to wait for a killed group's leader to exit before leaving it behind.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// One program to run.
#[derive(Debug, Clone)]
pub struct Spawn {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Its whole environment (nothing is inherited).
    pub env: Vec<(OsString, OsString)>,
    /// What to write to its standard input (`None`: `/dev/null`).
    pub stdin: Option<Vec<u8>>,
    /// Whether to keep its standard output (otherwise `/dev/null`).
    pub capture_stdout: bool,
    /// How long it may run before its group is killed.
    pub timeout: Duration,
    /// The most bytes kept of each stream. Standard output beyond it kills the group (a
    /// program whose output is wanted and that prints without end is broken); standard
    /// error beyond it is read and dropped, keeping the last `output_limit` bytes (where
    /// an OCF agent's exit reason is).
    pub output_limit: usize,
}

/// How a program ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finished {
    /// Its exit code; `None` when a signal ended it (or it never ended, see `abandoned`).
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// Its time was up and its group was killed.
    pub timed_out: bool,
    /// It printed more than `output_limit` bytes on standard output and its group was
    /// killed.
    pub stdout_overflow: bool,
    /// It did not exit even after `SIGKILL` (a process stuck in the kernel): left behind.
    pub abandoned: bool,
    /// From the spawn to its exit.
    pub duration: Duration,
    /// The first `output_limit` bytes of its standard output (when captured).
    pub stdout: Vec<u8>,
    /// The last `output_limit` bytes of its standard error.
    pub stderr: Vec<u8>,
}

impl Finished {
    /// The exit code an operation records: 1 when it timed out or a signal ended it.
    pub fn rc(&self) -> i32 {
        if self.timed_out {
            1
        } else {
            self.code.unwrap_or(1)
        }
    }
}

/// Which part of a stream to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Head,
    Tail,
}

/// Either pipe end, read the same way.
enum Pipe {
    Out(std::process::ChildStdout),
    Err(std::process::ChildStderr),
}

impl Pipe {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Pipe::Out(p) => p.read(buf),
            Pipe::Err(p) => p.read(buf),
        }
    }

    fn raw(&self) -> i32 {
        match self {
            Pipe::Out(p) => p.as_raw_fd(),
            Pipe::Err(p) => p.as_raw_fd(),
        }
    }
}

struct Reader {
    pipe: Option<Pipe>,
    buf: Vec<u8>,
    keep: Keep,
    limit: usize,
    overflow: bool,
    /// Bytes read in all.
    total: usize,
}

impl Reader {
    fn new(pipe: Option<Pipe>, keep: Keep, limit: usize) -> Reader {
        Reader {
            pipe,
            buf: Vec::new(),
            keep,
            limit,
            overflow: false,
            total: 0,
        }
    }

    /// Read once (the pipe is readable or at its end). Returns false at the end.
    fn read_once(&mut self) -> bool {
        let Some(p) = self.pipe.as_mut() else {
            return false;
        };
        let mut chunk = [0u8; 64 * 1024];
        match p.read(&mut chunk) {
            Ok(0) => {
                self.pipe = None;
                false
            }
            Ok(n) => {
                self.take(&chunk[..n]);
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(_) => {
                self.pipe = None;
                false
            }
        }
    }

    fn take(&mut self, bytes: &[u8]) {
        self.total += bytes.len();
        match self.keep {
            Keep::Head => {
                let room = self.limit.saturating_sub(self.buf.len());
                if bytes.len() > room {
                    self.overflow = true;
                }
                self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            Keep::Tail => {
                self.buf.extend_from_slice(bytes);
                if self.buf.len() > 2 * self.limit.max(1) {
                    let cut = self.buf.len() - self.limit;
                    self.buf.drain(..cut);
                    self.overflow = true;
                }
            }
        }
    }

    /// Read what is already in the pipe, without waiting for more.
    fn drain_now(&mut self) {
        if self.pipe.is_some() {
            self.drain_pipe();
        }
        if self.keep == Keep::Tail && self.buf.len() > self.limit {
            let cut = self.buf.len() - self.limit;
            self.buf.drain(..cut);
        }
    }

    fn drain_pipe(&mut self) {
        let Some(p) = self.pipe.as_ref() else {
            return;
        };
        let fd = p.raw();
        // SAFETY: fcntl on a descriptor this reader owns.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
            }
        }
        // Bounded too: a child that goes on writing must not keep the caller reading.
        let mut budget = self.limit + 64 * 1024;
        let mut before = self.total;
        while self.read_once() {
            if self.keep == Keep::Head && self.overflow {
                break;
            }
            budget = budget.saturating_sub(self.total - before);
            before = self.total;
            if budget == 0 {
                break;
            }
        }
        self.pipe = None;
    }
}

/// Run `spec` to its end (or its deadline). An error only when it cannot be started.
pub fn run(spec: &Spawn) -> std::io::Result<Finished> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(if spec.capture_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        // A process group, not a session: the standard library then starts the program
        // with posix_spawn rather than fork, which copies none of the caller's memory map.
        .process_group(0);
    // The exit is reported through a pipe whose write end the waiter closes: poll sees it
    // the moment it happens, beside the output pipes. Close-on-exec, so that agents
    // started meanwhile by other threads do not inherit it.
    let (wake_r, wake_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let started = Instant::now();
    let deadline = started + spec.timeout;
    let mut child = cmd.spawn()?;
    let pgid = Pid::from_raw(child.id() as i32);
    if let (Some(text), Some(mut stdin)) = (spec.stdin.as_ref(), child.stdin.take()) {
        // A few hundred bytes fit in the pipe: this does not block on the program.
        use std::io::Write;
        let _ = stdin.write_all(text);
    }
    let mut out = Reader::new(
        child.stdout.take().map(Pipe::Out),
        Keep::Head,
        spec.output_limit,
    );
    let mut err = Reader::new(
        child.stderr.take().map(Pipe::Err),
        Keep::Tail,
        spec.output_limit,
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send((status, Instant::now()));
        drop(wake_w);
    });

    let mut fin = Finished::default();
    let mut kill_deadline: Option<Instant> = None;
    let kill = |why: &str| {
        tracing::debug!(pgid = pgid.as_raw(), why, "killing the process group");
        let _ = killpg(pgid, Signal::SIGKILL);
    };
    let exited = loop {
        let now = Instant::now();
        let until = kill_deadline.unwrap_or(deadline);
        if now >= until {
            if kill_deadline.is_some() {
                break false;
            }
            fin.timed_out = true;
            kill("timeout");
            kill_deadline = Some(now + KILL_GRACE);
            continue;
        }
        let wait_ms = (until - now).as_millis().min(i32::MAX as u128) as i32;
        let mut fds = vec![libc::pollfd {
            fd: wake_r.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        for r in [&out, &err] {
            if let Some(p) = &r.pipe {
                fds.push(libc::pollfd {
                    fd: p.raw(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
        }
        // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms.max(1)) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            // Should not happen; fall back to waiting for the exit alone.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let ready = |fd: i32| fds.iter().any(|p| p.fd == fd && p.revents != 0);
        for r in [&mut out, &mut err] {
            if r.pipe.as_ref().is_some_and(|p| ready(p.raw())) {
                r.read_once();
            }
        }
        if out.overflow && !fin.stdout_overflow {
            fin.stdout_overflow = true;
            out.pipe = None;
            kill("standard output over its limit");
            kill_deadline.get_or_insert(Instant::now() + KILL_GRACE);
        }
        if fds[0].revents != 0 {
            break true;
        }
    };
    // The program has exited: what it wrote is in the pipes. Anything it left running
    // may hold them open; it is not waited for.
    out.drain_now();
    err.drain_now();
    fin.stdout_overflow |= out.overflow;
    if exited {
        if let Ok((status, at)) = rx.recv() {
            fin.duration = at - started;
            if let Ok(st) = status {
                fin.code = st.code();
                fin.signal = st.signal();
            }
        }
    } else {
        fin.abandoned = true;
        fin.duration = started.elapsed();
        tracing::warn!(
            program = %spec.program.display(),
            "the process did not exit after SIGKILL: left behind"
        );
    }
    drop::<OwnedFd>(wake_r);
    fin.stdout = out.buf;
    fin.stderr = err.buf;
    if fin.stdout_overflow {
        fin.code = None;
    }
    Ok(fin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout_ms: u64) -> Spawn {
        Spawn {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            stdin: None,
            capture_stdout: true,
            timeout: Duration::from_millis(timeout_ms),
            output_limit: 1 << 16,
        }
    }

    fn alive(pid: i32) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
        !matches!(state, None | Some('Z') | Some('X'))
    }

    #[test]
    fn what_a_program_started_in_the_background_survives_its_exit() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let pidfile = t.path().join("pid");
        let f = run(&sh(
            &format!(
                "sleep 30 >/dev/null 2>&1 & echo $! > {}; echo bye >&2; exit 0",
                pidfile.display()
            ),
            5000,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.code, Some(0), "{f:?}");
        assert!(!f.timed_out);
        assert_eq!(String::from_utf8_lossy(&f.stderr), "bye\n");
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0);
        assert!(pid > 0);
        std::thread::sleep(Duration::from_millis(100));
        assert!(alive(pid), "the background child was killed");
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }

    #[test]
    fn a_child_holding_the_pipes_open_does_not_hold_the_caller() {
        // setsid: the child is outside the group and keeps stdout and stderr open.
        let f =
            run(&sh("setsid sleep 30 & echo $!; exit 3", 20_000)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.code, Some(3), "{f:?}");
        assert!(f.duration < Duration::from_secs(5), "{f:?}");
        let pid: i32 = String::from_utf8_lossy(&f.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        assert!(pid > 0 && alive(pid), "{f:?}");
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }

    #[test]
    fn endless_output_is_bounded_and_stdout_over_the_limit_kills_the_program() {
        let f = run(&sh("yes", 20_000)).unwrap_or_else(|e| panic!("{e}"));
        assert!(f.stdout_overflow, "{f:?}");
        assert_eq!(f.stdout.len(), 1 << 16);
        assert!(f.duration < Duration::from_secs(5));
        let f = run(&sh(
            "yes >&2 & sleep 1; kill $!; wait $!; echo 'ocf-exit-reason:last' >&2; exit 1",
            20_000,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.code, Some(1));
        assert!(f.stderr.len() <= 1 << 16, "{}", f.stderr.len());
        assert!(
            String::from_utf8_lossy(&f.stderr).ends_with("ocf-exit-reason:last\n"),
            "the tail is kept"
        );
    }

    #[test]
    fn a_child_that_keeps_writing_after_the_exit_is_not_read_forever() {
        let f = run(&sh("setsid yes >&2 & echo $!; sleep 0.2; exit 0", 20_000))
            .unwrap_or_else(|e| panic!("{e}"));
        let pid: i32 = String::from_utf8_lossy(&f.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        if pid > 0 {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        assert_eq!(f.code, Some(0), "{f:?}");
        assert!(f.duration < Duration::from_secs(5));
        assert!(f.stderr.len() <= 1 << 16);
    }

    #[test]
    fn at_the_deadline_the_group_is_killed_even_when_a_pipe_stays_open() {
        let f =
            run(&sh("setsid sleep 30 & echo $!; sleep 30", 300)).unwrap_or_else(|e| panic!("{e}"));
        let pid: i32 = String::from_utf8_lossy(&f.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        if pid > 0 {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        assert!(f.timed_out, "{f:?}");
        assert_eq!(f.signal, Some(libc::SIGKILL));
        assert!(f.duration < Duration::from_secs(3), "{f:?}");
    }
}
