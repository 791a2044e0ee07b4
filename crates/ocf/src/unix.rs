//! A bounded request over a Unix stream socket, for daemons that take commands on one
//! (HAProxy's stats socket and master CLI, and the like): connect, write the request,
//! close the writing half, read the answer until the daemon closes. Every step, connecting
//! included, is bounded by the caller's timeout, and the answer is capped at
//! [`MAX_ANSWER`]. Agents reach it through [`crate::host::Host::unix_request`], so tests
//! can fake it.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
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

/// Connect within `timeout`. A listening socket whose backlog is full makes `connect(2)`
/// block; the attempt then runs on a helper thread that is abandoned at the timeout (it
/// ends with the agent's short-lived process).
fn connect(path: &Path, timeout: Duration) -> Result<UnixStream, UnixError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let owned: PathBuf = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(UnixStream::connect(&owned));
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(UnixError::Connect(e)),
        Err(_) => Err(UnixError::Timeout(timeout)),
    }
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
