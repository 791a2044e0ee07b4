//! The control socket of `crm-lite daemon`, both sides: a Unix stream socket (mode 0600,
//! only root, or the daemon's own user, may talk to it) speaking JSON lines. A client sends
//! one [`ClientMsg`] line; the daemon answers with [`ServerMsg`] lines: any number of
//! `progress` lines, then one `done` (or one `status`), then it closes the connection.
//!
//! ```text
//! → {"apply":{"file":"web.xml","xml":"<cib ...>"}}
//! ← {"progress":"start web-fs on n2"}
//! ← {"done":{"ok":true,"message":"converged"}}
//! → "status"
//! ← {"status":{"local":"n1","quorate":true,...}}
//! ```
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use ::daemon::{ClientId, Reply, Request, Status};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/crm-lite/crm-lite.sock";

/// The socket the commands talk to: `CRM_LITE_SOCKET`, else [`DEFAULT_SOCKET`].
pub fn socket_path() -> PathBuf {
    std::env::var_os("CRM_LITE_SOCKET").map_or_else(|| PathBuf::from(DEFAULT_SOCKET), PathBuf::from)
}

/// The longest request line the daemon reads (a CIB of a few thousand resources fits).
const MAX_REQUEST: u64 = 64 << 20;

/// What a client asks, one JSON line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientMsg {
    /// `crm-lite apply FILE`.
    Apply {
        /// The file's name, for messages.
        file: String,
        /// Its text.
        xml: String,
    },
    /// `crm-lite move` / `ban`.
    Place {
        /// The resource.
        rsc: String,
        /// The node.
        node: String,
        /// Ban rather than move.
        ban: bool,
    },
    /// `crm-lite clear`.
    Clear {
        /// The resource.
        rsc: String,
        /// Only on this node.
        node: Option<String>,
    },
    /// `crm-lite cleanup`.
    Cleanup {
        /// The resource (every one if none).
        rsc: Option<String>,
        /// The node (every one if none).
        node: Option<String>,
    },
    /// `crm-lite status`: answered by the runtime itself, from the node's state.
    Status,
}

impl ClientMsg {
    /// The state machine's request, or `None` for `status` (which the runtime answers).
    pub fn into_request(self) -> Option<Request> {
        Some(match self {
            ClientMsg::Apply { file, xml } => Request::Apply { file, xml },
            ClientMsg::Place { rsc, node, ban } => Request::Place { rsc, node, ban },
            ClientMsg::Clear { rsc, node } => Request::Clear { rsc, node },
            ClientMsg::Cleanup { rsc, node } => Request::Cleanup { rsc, node },
            ClientMsg::Status => return None,
        })
    }
}

/// What the daemon answers, one JSON line each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerMsg {
    /// A progress line.
    Progress(String),
    /// The end: it worked or not, and what to print last.
    Done {
        /// It worked.
        ok: bool,
        /// The last line.
        message: String,
    },
    /// The answer to `status` (also the end).
    Status(Box<Status>),
}

impl ServerMsg {
    /// Whether this line ends the conversation.
    pub fn is_last(&self) -> bool {
        !matches!(self, ServerMsg::Progress(_))
    }
}

impl From<Reply> for ServerMsg {
    fn from(r: Reply) -> ServerMsg {
        match r {
            Reply::Progress(line) => ServerMsg::Progress(line),
            Reply::Done { ok, message } => ServerMsg::Done { ok, message },
        }
    }
}

fn line_of<T: Serialize>(msg: &T) -> String {
    // These types serialize without fail (no maps with non-string keys, no floats).
    let mut s = serde_json::to_string(msg).unwrap_or_else(|e| {
        serde_json::json!({"done": {"ok": false, "message": format!("unencodable answer: {e}")}})
            .to_string()
    });
    s.push('\n');
    s
}

// ---------------------------------------------------------------------------------------
// The daemon's side.

/// A request that came in on the socket, with where its answers go.
#[derive(Debug)]
pub struct Incoming {
    /// The client, numbered by the server.
    pub client: ClientId,
    /// What it asks.
    pub msg: ClientMsg,
    /// Its answers (the client's thread writes them to the socket until the last one).
    pub replies: Sender<ServerMsg>,
}

/// The listening socket: an accept thread, one thread per client; requests come out of
/// [`Server::try_recv`].
#[derive(Debug)]
pub struct Server {
    path: PathBuf,
    requests: Receiver<Incoming>,
}

impl Server {
    /// Listens on `path` (its directory created 0755; a stale socket of a daemon that is gone
    /// is replaced; one that answers is a daemon already running, an error).
    pub fn bind(path: &Path) -> Result<Server> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                bail!(
                    "a crm-lite daemon already listens on {} (one per node)",
                    path.display()
                );
            }
            std::fs::remove_file(path)
                .with_context(|| format!("failed to remove the stale socket {}", path.display()))?;
        }
        // Created under a umask that leaves nobody else a moment to connect, then 0600.
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
        let bound = UnixListener::bind(path);
        nix::sys::stat::umask(old);
        let listener = bound.with_context(|| format!("failed to listen on {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("failed to set the mode of {}", path.display()))?;
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("control-accept".into())
            .spawn(move || accept_loop(listener, tx))
            .context("failed to start the control socket's thread")?;
        Ok(Server {
            path: path.to_owned(),
            requests: rx,
        })
    }

    /// The next request, if one came.
    pub fn try_recv(&self) -> Option<Incoming> {
        self.requests.try_recv().ok()
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn accept_loop(listener: UnixListener, tx: Sender<Incoming>) {
    let me = nix::unistd::geteuid().as_raw();
    for (n, stream) in listener.incoming().enumerate() {
        let Ok(stream) = stream else { continue };
        let client = ClientId(n as u64 + 1);
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("control-{}", client.0))
            .spawn(move || serve_client(stream, client, me, tx));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot serve a control client");
        }
    }
}

fn serve_client(stream: UnixStream, client: ClientId, me: u32, tx: Sender<Incoming>) {
    let mut out = match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    };
    let refuse = |out: &mut UnixStream, message: String| {
        let _ = out.write_all(line_of(&ServerMsg::Done { ok: false, message }).as_bytes());
    };
    match peer_uid(&stream) {
        Some(uid) if uid == 0 || uid == me => {}
        other => {
            tracing::warn!(?other, "control socket: a client of another user refused");
            refuse(&mut out, "only root may ask the crm-lite daemon".into());
            return;
        }
    }
    // A client has a while to say what it wants; then the connection is dropped.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut line = String::new();
    let mut reader = BufReader::new(std::io::Read::take(&stream, MAX_REQUEST));
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let msg = match serde_json::from_str::<ClientMsg>(line.trim_end()) {
        Ok(m) => m,
        Err(e) => {
            refuse(
                &mut out,
                format!("a request the daemon does not understand: {e}"),
            );
            return;
        }
    };
    let (rtx, rrx) = channel();
    if tx
        .send(Incoming {
            client,
            msg,
            replies: rtx,
        })
        .is_err()
    {
        refuse(&mut out, "the daemon is shutting down".into());
        return;
    }
    for m in rrx {
        if out.write_all(line_of(&m).as_bytes()).is_err() || m.is_last() {
            return;
        }
    }
    refuse(&mut out, "the daemon ended before answering".into());
}

fn peer_uid(stream: &UnixStream) -> Option<u32> {
    nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)
        .ok()
        .map(|c| c.uid())
}

// ---------------------------------------------------------------------------------------
// The clients' side.

/// How long a client waits for the daemon's first answer line unless
/// `CRM_LITE_ANSWER_TIMEOUT` (seconds) says otherwise. The daemon answers every request at
/// once (the status, a refusal, or a first progress line), so silence this long means it
/// is stuck.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The exit code of a command whose daemon did not answer in time (Pacemaker's
/// `CRM_EX_TIMEOUT`, as `timeout(1)`).
pub const EXIT_TIMEOUT: u8 = 124;

/// The daemon accepted a request and did not answer it in time.
#[derive(Debug)]
pub struct NoAnswer {
    /// The socket.
    pub path: PathBuf,
    /// How long the client waited.
    pub waited: Duration,
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the crm-lite daemon on {} accepted the request but did not answer within {} s: \
             it may be stuck (see its log, journalctl -u crm-lite); whether the request was \
             carried out is unknown (crm-lite status tells)",
            self.path.display(),
            self.waited.as_secs_f64()
        )
    }
}

impl std::error::Error for NoAnswer {}

/// A connection to a running daemon.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    path: PathBuf,
    answer_timeout: Duration,
}

impl Client {
    /// Connects to the daemon on `path`; `None` when none listens there (no socket, or a
    /// stale one).
    pub fn connect(path: &Path) -> Option<Client> {
        UnixStream::connect(path).ok().map(|stream| Client {
            stream,
            path: path.to_owned(),
            answer_timeout: ANSWER_TIMEOUT,
        })
    }

    /// Waits at most `t` for the daemon's first answer line.
    pub fn with_answer_timeout(mut self, t: Duration) -> Client {
        self.answer_timeout = t;
        self
    }

    /// Sends `msg`, hands each progress line to `progress`, and returns the last answer.
    pub fn ask(
        self,
        msg: &ClientMsg,
        mut progress: impl FnMut(&str) -> Result<()>,
    ) -> Result<ServerMsg> {
        let path = self.path.display().to_string();
        let mut w = &self.stream;
        w.write_all(line_of(msg).as_bytes())
            .with_context(|| format!("failed to send the request to the daemon on {path}"))?;
        // The first answer comes at once or the daemon is stuck; later ones follow the
        // cluster (an operation may take its whole timeout), and end when it settles.
        self.stream
            .set_read_timeout(Some(self.answer_timeout.max(Duration::from_millis(1))))
            .with_context(|| format!("failed to set a timeout on {path}"))?;
        let mut first = true;
        let reader = BufReader::new(&self.stream);
        for line in reader.lines() {
            let line = match line {
                Err(e)
                    if first
                        && matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                {
                    return Err(NoAnswer {
                        path: self.path.clone(),
                        waited: self.answer_timeout,
                    }
                    .into());
                }
                other => other
                    .with_context(|| format!("failed to read the daemon's answer on {path}"))?,
            };
            if first {
                first = false;
                self.stream
                    .set_read_timeout(None)
                    .with_context(|| format!("failed to clear the timeout on {path}"))?;
            }
            let m: ServerMsg = serde_json::from_str(&line)
                .with_context(|| format!("the daemon on {path} answered {line:?}"))?;
            match m {
                ServerMsg::Progress(p) => progress(&p)?,
                last => return Ok(last),
            }
        }
        bail!("the daemon on {path} closed the connection before it answered")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_is_one_line_and_reads_back_the_same() {
        let msgs = [
            ClientMsg::Apply {
                file: "web.xml".into(),
                xml: "<cib>\n  <configuration/>\n</cib>\n".into(),
            },
            ClientMsg::Place {
                rsc: "web".into(),
                node: "n2".into(),
                ban: true,
            },
            ClientMsg::Clear {
                rsc: "web".into(),
                node: None,
            },
            ClientMsg::Cleanup {
                rsc: None,
                node: Some("n3".into()),
            },
            ClientMsg::Status,
        ];
        for m in msgs {
            let line = line_of(&m);
            assert_eq!(line.matches('\n').count(), 1, "{line}");
            assert_eq!(serde_json::from_str::<ClientMsg>(&line).ok(), Some(m));
        }
        let done = ServerMsg::Done {
            ok: false,
            message: "epoch 3 is older than 5".into(),
        };
        assert_eq!(
            line_of(&done),
            "{\"done\":{\"ok\":false,\"message\":\"epoch 3 is older than 5\"}}\n"
        );
        assert!(done.is_last() && !ServerMsg::Progress("x".into()).is_last());
    }

    #[test]
    fn the_server_answers_a_request_with_its_progress_then_done_and_refuses_garbage() {
        let t = tempfile::tempdir().expect("tempdir");
        let path = t.path().join("run/ctl.sock");
        let server = Server::bind(&path).expect("bind");
        let mode = std::fs::metadata(&path)
            .expect("socket")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the socket is for its owner only");
        // A second daemon on the same socket is refused.
        let again = Server::bind(&path).expect_err("second bind");
        assert!(again.to_string().contains("already listens"), "{again}");

        let client = std::thread::spawn({
            let path = path.clone();
            move || {
                let mut seen = Vec::new();
                let last = Client::connect(&path)
                    .expect("connect")
                    .ask(
                        &ClientMsg::Place {
                            rsc: "web".into(),
                            node: "n2".into(),
                            ban: false,
                        },
                        |p| {
                            seen.push(p.to_owned());
                            Ok(())
                        },
                    )
                    .expect("answer");
                (seen, last)
            }
        });
        let incoming = loop {
            if let Some(i) = server.try_recv() {
                break i;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(
            incoming.msg.clone().into_request(),
            Some(Request::Place {
                rsc: "web".into(),
                node: "n2".into(),
                ban: false
            })
        );
        incoming
            .replies
            .send(Reply::Progress("move web to n2".into()).into())
            .expect("send");
        incoming
            .replies
            .send(
                Reply::Done {
                    ok: true,
                    message: "converged".into(),
                }
                .into(),
            )
            .expect("send");
        let (seen, last) = client.join().expect("client");
        assert_eq!(seen, ["move web to n2"]);
        assert_eq!(
            last,
            ServerMsg::Done {
                ok: true,
                message: "converged".into()
            }
        );

        let mut raw = UnixStream::connect(&path).expect("connect");
        raw.write_all(b"{\"reboot\":{}}\n").expect("write");
        let mut answer = String::new();
        BufReader::new(&raw).read_line(&mut answer).expect("read");
        assert!(answer.contains("does not understand"), "{answer}");
        assert!(server.try_recv().is_none(), "garbage reaches nobody");

        drop(server);
        assert!(!path.exists(), "the socket goes with the server");
        assert!(Client::connect(&path).is_none());
    }
}
