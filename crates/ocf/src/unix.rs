//! A bounded request over a Unix stream socket, for daemons that take commands on one
//! (HAProxy's stats socket and master CLI, and the like): connect, write the request,
//! close the writing half, read the answer until the daemon closes. Every step is bounded
//! by the caller's timeout, connecting to a socket whose backlog is full (a hung daemon)
//! included, and the answer is capped at [`MAX_ANSWER`]. Agents reach it through
//! [`crate::host::Host::unix_request`], so tests can fake it.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// The largest answer read; the rest is ignored.
pub const MAX_ANSWER: usize = 16 << 20;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum UnixError {
    /// The socket could not be reached: missing, refused, no permission. The
    /// [`io::ErrorKind`] tells which (`NotFound`, `ConnectionRefused`, ...).
    #[error("cannot connect: {0}")]
    Connect(#[source] io::Error),
    /// Sending or reading failed after connecting.
    #[error("{0}")]
    Io(#[source] io::Error),
    /// The timeout passed before the daemon closed the connection.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
}

impl UnixError {
    /// The error as an [`io::Error`], keeping its kind (`TimedOut` for a timeout).
    pub fn into_io(self) -> io::Error {
        match self {
            UnixError::Connect(e) => io::Error::new(e.kind(), format!("cannot connect: {e}")),
            UnixError::Io(e) => e,
            UnixError::Timeout(t) => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no complete answer within {t:?}"),
            ),
        }
    }
}

/// Connect within `timeout`. A listening socket whose backlog is full would make a
/// blocking `connect(2)` wait without bound; a non-blocking one answers `EAGAIN` at once,
/// and the attempt is repeated until the timeout. The stream is returned in blocking mode,
/// for callers that hold a conversation (a database protocol) rather than one request.
pub fn connect(path: &Path, timeout: Duration) -> Result<UnixStream, UnixError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match connect_nonblocking(path) {
            Ok(stream) => {
                stream.set_nonblocking(false).map_err(UnixError::Io)?;
                return Ok(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = timeout.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Err(UnixError::Timeout(timeout));
                }
                std::thread::sleep(pause.min(left));
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(UnixError::Connect(e)),
        }
    }
}

/// One non-blocking `connect(2)` to a Unix stream socket.
fn connect_nonblocking(path: &Path) -> io::Result<UnixStream> {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;

    let bytes = path.as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid (empty) value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket path too long or not a path",
        ));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let len = (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
    // SAFETY: addr is a valid sockaddr_un and len does not exceed its size.
    let rc = unsafe { libc::connect(fd, (&raw const addr).cast::<libc::sockaddr>(), len) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(UnixStream::from(owned))
}

/// Send `request` to the stream socket at `path` and return everything the peer writes
/// until it closes the connection (lossily decoded), all within `timeout`.
pub fn request(path: &Path, request: &[u8], timeout: Duration) -> Result<String, UnixError> {
    let start = Instant::now();
    let left = || -> Result<Duration, UnixError> {
        let rem = timeout.saturating_sub(start.elapsed());
        if rem.is_zero() {
            Err(UnixError::Timeout(timeout))
        } else {
            Ok(rem)
        }
    };
    let mut stream = connect(path, left()?)?;
    stream
        .set_write_timeout(Some(left()?))
        .map_err(UnixError::Io)?;
    stream
        .write_all(request)
        .map_err(|e| timed_out(e, timeout))?;
    // The peer sees end of input: daemons that would otherwise wait for more commands
    // (HAProxy's master CLI) answer and close.
    stream.shutdown(Shutdown::Write).map_err(UnixError::Io)?;
    let mut answer = Vec::with_capacity(4096);
    let mut buf = [0u8; 16384];
    loop {
        stream
            .set_read_timeout(Some(left()?))
            .map_err(UnixError::Io)?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = MAX_ANSWER.saturating_sub(answer.len());
                answer.extend_from_slice(&buf[..n.min(room)]);
                if room <= n {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out(e, timeout)),
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn timed_out(e: io::Error, timeout: Duration) -> UnixError {
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        UnixError::Timeout(timeout)
    } else {
        UnixError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn request_sends_half_closes_and_reads_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cli.sock");
        let l = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            // Reading to the end only works because the client closed its writing half.
            let mut req = String::new();
            s.read_to_string(&mut req).unwrap();
            s.write_all(b"Name: HAProxy\nPid: 42\n\n").unwrap();
            req
        });
        let answer = request(&path, b"show info\n", Duration::from_secs(5)).unwrap();
        assert_eq!(answer, "Name: HAProxy\nPid: 42\n\n");
        assert_eq!(server.join().unwrap(), "show info\n");
    }

    #[test]
    fn a_silent_peer_times_out_in_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("silent.sock");
        let l = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (_s, _) = l.accept().unwrap();
            std::thread::sleep(Duration::from_millis(700));
        });
        let t0 = Instant::now();
        let e = request(&path, b"show info\n", Duration::from_millis(200)).unwrap_err();
        assert!(matches!(e, UnixError::Timeout(_)), "{e}");
        assert!(t0.elapsed() < Duration::from_millis(600));
        assert_eq!(e.into_io().kind(), io::ErrorKind::TimedOut);
        server.join().unwrap();
    }

    #[test]
    fn a_full_backlog_times_out_instead_of_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.sock");
        let _l = UnixListener::bind(&path).unwrap();
        // Nobody accepts: fill the backlog until the kernel refuses more.
        let mut held = Vec::new();
        loop {
            match connect_nonblocking(&path) {
                Ok(s) => held.push(s),
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
                    break;
                }
            }
            assert!(held.len() < 100_000, "the backlog never filled");
        }
        let t0 = Instant::now();
        let e = request(&path, b"show info\n", Duration::from_millis(200)).unwrap_err();
        assert!(matches!(e, UnixError::Timeout(_)), "{e}");
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_millis(600),
            "{took:?}"
        );
    }

    #[test]
    fn missing_and_dead_sockets_are_connect_errors_with_their_kind() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.sock");
        match request(&missing, b"x\n", Duration::from_secs(1)) {
            Err(UnixError::Connect(e)) => assert_eq!(e.kind(), io::ErrorKind::NotFound),
            other => panic!("{other:?}"),
        }
        let dead = dir.path().join("dead.sock");
        drop(UnixListener::bind(&dead).unwrap());
        match request(&dead, b"x\n", Duration::from_secs(1)) {
            Err(UnixError::Connect(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused)
            }
            other => panic!("{other:?}"),
        }
    }
}
