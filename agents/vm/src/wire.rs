//! The monitor's fast path: libvirt's own RPC protocol (XDR over a socket), spoken directly
//! for the four calls a state query needs, without loading `libvirt.so.0` (whose 56
//! shared-library dependencies take 9 ms to load, most of a monitor's time).
//!
//! Only plain transports are spoken: the local read-only socket for `qemu:///system` and
//! TCP without authentication for `qemu+tcp://host[:port]/system`. Whatever else (TLS, SSH,
//! SASL or polkit authentication, URI parameters, an answer this code does not expect)
//! is [`WireError::Unsupported`], and the caller goes through the C library instead. The
//! procedure numbers and message layouts used here have not changed since libvirt 0.4
//! (2008): old clients must keep working against new daemons.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::virt::{DomInfo, DomState};

const PROGRAM: u32 = 0x2000_8086;
const VERSION: u32 = 1;
const PROC_OPEN: u32 = 1;
const PROC_CLOSE: u32 = 2;
const PROC_DOMAIN_GET_INFO: u32 = 16;
const PROC_DOMAIN_LOOKUP_BY_NAME: u32 = 23;
const PROC_AUTH_LIST: u32 = 66;
const PROC_DOMAIN_IS_PERSISTENT: u32 = 151;
const AUTH_NONE: u32 = 0;
const CONNECT_RO: u32 = 1;
/// `VIR_ERR_NO_DOMAIN`.
const ERR_NO_DOMAIN: u32 = 42;
/// The read-only socket of the system daemon.
pub const SYSTEM_RO_SOCKET: &str = "/run/libvirt/libvirt-sock-ro";
/// The read-only socket of the modular QEMU daemon (virtqemud), where it replaces libvirtd.
pub const MODULAR_RO_SOCKET: &str = "/run/libvirt/virtqemud-sock-ro";
/// libvirtd's default TCP port.
const DEFAULT_TCP_PORT: u16 = 16509;
/// The longest reply accepted (a domain-info reply is about 40 bytes).
const MAX_REPLY: usize = 1 << 20;

/// Where and how to speak to a daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket, and the URI to open on it.
    Unix(String, String),
    /// `host:port` over TCP, and the URI to open there.
    Tcp(String, u16, String),
}

/// Why the fast path gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The daemon cannot be reached: not listening, refused, reset.
    Connect(String),
    /// Something only the C library can do (or an answer this code does not know).
    Unsupported(String),
    /// An error libvirt reported, with its code.
    Libvirt(u32, String),
}

/// The endpoint for a URI, when the fast path can speak to it.
pub fn endpoint(uri: &str) -> Option<Endpoint> {
    if uri.contains('?') {
        return None;
    }
    match uri {
        "qemu:///system" | "qemu+unix:///system" => {
            return Some(Endpoint::Unix(
                SYSTEM_RO_SOCKET.into(),
                "qemu:///system".into(),
            ));
        }
        _ => {}
    }
    let rest = uri.strip_prefix("qemu+tcp://")?;
    let (authority, path) = rest.split_once('/')?;
    if path != "system" || authority.contains('@') {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, p.parse().ok()?),
        _ => (authority, DEFAULT_TCP_PORT),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some(Endpoint::Tcp(host.into(), port, "qemu:///system".into()))
}

/// Encode an XDR string.
fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_u32(buf, s.len() as u32);
    buf.extend_from_slice(s.as_bytes());
    buf.resize(buf.len() + (4 - s.len() % 4) % 4, 0);
}

fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// An XDR reader over a reply body.
struct Xdr<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Xdr<'a> {
    fn new(data: &'a [u8]) -> Xdr<'a> {
        Xdr { data, at: 0 }
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| WireError::Unsupported("short reply".into()))?;
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        Ok((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }
    fn string(&mut self) -> Result<String, WireError> {
        let n = self.u32()? as usize;
        let s = String::from_utf8_lossy(self.bytes(n)?).into_owned();
        self.bytes((4 - n % 4) % 4)?;
        Ok(s)
    }
    /// The raw bytes read from `from` up to here.
    fn since(&self, from: usize) -> &'a [u8] {
        &self.data[from..self.at]
    }
}

/// A connection to a daemon.
struct Conn<S> {
    stream: S,
    serial: u32,
}

impl<S: Read + Write> Conn<S> {
    /// One call: the reply body on success, the libvirt error otherwise.
    fn call(&mut self, proc_: u32, args: &[u8]) -> Result<Vec<u8>, WireError> {
        self.serial += 1;
        let mut msg = Vec::with_capacity(28 + args.len());
        put_u32(&mut msg, (28 + args.len()) as u32);
        for v in [PROGRAM, VERSION, proc_, 0, self.serial, 0] {
            put_u32(&mut msg, v);
        }
        msg.extend_from_slice(args);
        self.stream.write_all(&msg).map_err(io)?;
        loop {
            let mut len = [0u8; 4];
            self.stream.read_exact(&mut len).map_err(io)?;
            let len = u32::from_be_bytes(len) as usize;
            if !(28..=MAX_REPLY).contains(&len) {
                return Err(WireError::Unsupported(format!("reply of {len} bytes")));
            }
            let mut body = vec![0u8; len - 4];
            self.stream.read_exact(&mut body).map_err(io)?;
            let mut x = Xdr::new(&body);
            let (prog, _vers, p, kind, serial, status) =
                (x.u32()?, x.u32()?, x.u32()?, x.u32()?, x.u32()?, x.u32()?);
            // Asynchronous event messages (kind 2) and other programs' replies are not ours.
            if prog != PROGRAM || kind != 1 || p != proc_ || serial != self.serial {
                continue;
            }
            let rest = body[24..].to_vec();
            return match status {
                0 => Ok(rest),
                1 => {
                    let mut e = Xdr::new(&rest);
                    let code = e.u32()?;
                    let _domain = e.u32()?;
                    let message = if e.u32()? == 1 {
                        e.string()?
                    } else {
                        format!("libvirt error {code}")
                    };
                    Err(WireError::Libvirt(code, message))
                }
                s => Err(WireError::Unsupported(format!("reply status {s}"))),
            };
        }
    }

    fn query(&mut self, uri: &str, name: &str) -> Result<Option<DomInfo>, WireError> {
        let auth = self.call(PROC_AUTH_LIST, &[])?;
        let mut a = Xdr::new(&auth);
        let n = a.u32()?;
        let types: Vec<u32> = (0..n.min(20)).map(|_| a.u32()).collect::<Result<_, _>>()?;
        if !(types.is_empty() || types.contains(&AUTH_NONE)) {
            return Err(WireError::Unsupported(format!(
                "the daemon asks for authentication {types:?}"
            )));
        }
        let mut open = Vec::new();
        put_u32(&mut open, 1);
        put_str(&mut open, uri);
        put_u32(&mut open, CONNECT_RO);
        self.call(PROC_OPEN, &open).map_err(not_libvirt)?;
        let mut args = Vec::new();
        put_str(&mut args, name);
        let dom = match self.call(PROC_DOMAIN_LOOKUP_BY_NAME, &args) {
            Ok(d) => d,
            Err(WireError::Libvirt(ERR_NO_DOMAIN, _)) => return Ok(None),
            Err(e) => return Err(e),
        };
        // remote_nonnull_domain: name, uuid[16], id.
        let mut d = Xdr::new(&dom);
        d.string()?;
        d.bytes(16)?;
        d.u32()?;
        let dom = d.since(0).to_vec();
        let info = match self.call(PROC_DOMAIN_GET_INFO, &dom) {
            Ok(i) => i,
            Err(WireError::Libvirt(ERR_NO_DOMAIN, _)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut i = Xdr::new(&info);
        let state = i.u32()?;
        let max_mem = i.u64()?;
        let _memory = i.u64()?;
        let vcpus = i.u32()?;
        let persistent = match self.call(PROC_DOMAIN_IS_PERSISTENT, &dom) {
            Ok(p) => Xdr::new(&p).u32()? == 1,
            Err(WireError::Libvirt(ERR_NO_DOMAIN, _)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let _ = self.call(PROC_CLOSE, &[]);
        Ok(Some(DomInfo {
            state: DomState::from_raw(u8::try_from(state).unwrap_or(u8::MAX)),
            vcpus,
            max_mem_kib: max_mem,
            persistent,
        }))
    }
}

fn io(e: std::io::Error) -> WireError {
    WireError::Connect(e.to_string())
}

/// An error on open means the daemon wants something of the C library (a driver URI it
/// resolves differently, authentication): let the library try.
fn not_libvirt(e: WireError) -> WireError {
    match e {
        WireError::Libvirt(code, m) => WireError::Unsupported(format!("open: {m} ({code})")),
        e => e,
    }
}

/// Ask the daemon at `ep` about domain `name`; every socket operation waits at most
/// `timeout` (the caller bounds the whole query).
pub fn query(ep: &Endpoint, name: &str, timeout: Duration) -> Result<Option<DomInfo>, WireError> {
    let timeout = timeout.max(Duration::from_millis(1));
    match ep {
        Endpoint::Unix(path, uri) => {
            let s = UnixStream::connect(path)
                .or_else(|e| match e.kind() {
                    // No such socket: the modular daemon's, or a layout only the library knows.
                    std::io::ErrorKind::NotFound => UnixStream::connect(MODULAR_RO_SOCKET),
                    _ => Err(e),
                })
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => WireError::Unsupported(format!("{path}: {e}")),
                    _ => WireError::Connect(format!("{path}: {e}")),
                })?;
            s.set_read_timeout(Some(timeout)).map_err(io)?;
            s.set_write_timeout(Some(timeout)).map_err(io)?;
            Conn {
                stream: s,
                serial: 0,
            }
            .query(uri, name)
        }
        Endpoint::Tcp(host, port, uri) => {
            use std::net::ToSocketAddrs;
            let addr = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(|e| WireError::Connect(format!("{host}:{port}: {e}")))?
                .next()
                .ok_or_else(|| WireError::Connect(format!("{host}: no address")))?;
            let s = TcpStream::connect_timeout(&addr, timeout)
                .map_err(|e| WireError::Connect(format!("{host}:{port}: {e}")))?;
            s.set_read_timeout(Some(timeout)).map_err(io)?;
            s.set_write_timeout(Some(timeout)).map_err(io)?;
            let _ = s.set_nodelay(true);
            Conn {
                stream: s,
                serial: 0,
            }
            .query(uri, name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_found_only_for_plain_transports() {
        assert_eq!(
            endpoint("qemu:///system"),
            Some(Endpoint::Unix(
                SYSTEM_RO_SOCKET.into(),
                "qemu:///system".into()
            ))
        );
        assert_eq!(
            endpoint("qemu+tcp://127.0.0.1:16510/system"),
            Some(Endpoint::Tcp(
                "127.0.0.1".into(),
                16510,
                "qemu:///system".into()
            ))
        );
        assert_eq!(
            endpoint("qemu+tcp://node2/system"),
            Some(Endpoint::Tcp(
                "node2".into(),
                16509,
                "qemu:///system".into()
            ))
        );
        assert_eq!(
            endpoint("qemu+tcp://[::1]:16510/system"),
            Some(Endpoint::Tcp("::1".into(), 16510, "qemu:///system".into()))
        );
        for other in [
            "qemu:///session",
            "qemu+ssh://node2/system",
            "qemu+tls://node2/system",
            "qemu:///system?socket=/tmp/x",
            "qemu+tcp://user@node2/system",
            "xen:///system",
        ] {
            assert_eq!(endpoint(other), None, "{other}");
        }
    }

    /// A scripted daemon: answers each call from `replies` (status, body) in order.
    struct Script {
        replies: Vec<(u32, Vec<u8>)>,
        out: Vec<u8>,
        sent: Vec<u8>,
        serial: u32,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.out.is_empty() {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let n = buf.len().min(self.out.len());
            buf[..n].copy_from_slice(&self.out[..n]);
            self.out.drain(..n);
            Ok(n)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.sent.extend_from_slice(buf);
            let proc_ = u32::from_be_bytes([buf[12], buf[13], buf[14], buf[15]]);
            self.serial += 1;
            if self.replies.is_empty() {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            let (status, body) = self.replies.remove(0);
            // An event message first: it must be skipped.
            let mut ev = Vec::new();
            for v in [PROGRAM, VERSION, 315, 2, 0, 0] {
                put_u32(&mut ev, v);
            }
            put_u32(&mut self.out, (ev.len() + 4) as u32);
            self.out.extend_from_slice(&ev);
            let mut m = Vec::new();
            for v in [PROGRAM, VERSION, proc_, 1, self.serial, status] {
                put_u32(&mut m, v);
            }
            m.extend_from_slice(&body);
            put_u32(&mut self.out, (m.len() + 4) as u32);
            self.out.extend_from_slice(&m);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn words(v: &[u32]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in v {
            put_u32(&mut b, *w);
        }
        b
    }

    fn domain_ret() -> Vec<u8> {
        let mut b = Vec::new();
        put_str(&mut b, "web1");
        b.extend_from_slice(&[7u8; 16]);
        put_u32(&mut b, 3);
        b
    }

    fn error(code: u32, msg: &str) -> Vec<u8> {
        let mut b = words(&[code, 10, 1]);
        put_str(&mut b, msg);
        b
    }

    fn run(replies: Vec<(u32, Vec<u8>)>) -> Result<Option<DomInfo>, WireError> {
        Conn {
            stream: Script {
                replies,
                out: Vec::new(),
                sent: Vec::new(),
                serial: 0,
            },
            serial: 0,
        }
        .query("qemu:///system", "web1")
    }

    #[test]
    fn a_running_domain_is_read_from_its_info() {
        // state 1, maxMem 131072 KiB (hyper), memory, nrVirtCpu 2, cpuTime.
        let info = words(&[1, 0, 131_072, 0, 131_072, 2, 0, 99]);
        let got = run(vec![
            (0, words(&[1, AUTH_NONE])),
            (0, vec![]),
            (0, domain_ret()),
            (0, info),
            (0, words(&[1])),
            (0, vec![]),
        ]);
        assert_eq!(
            got,
            Ok(Some(DomInfo {
                state: DomState::Running,
                vcpus: 2,
                max_mem_kib: 131_072,
                persistent: true
            }))
        );
    }

    #[test]
    fn no_domain_is_the_error_code_whatever_the_message() {
        let got = run(vec![
            (0, words(&[1, AUTH_NONE])),
            (0, vec![]),
            (
                1,
                error(42, "Domain not found: no domain with matching name 'web1'"),
            ),
        ]);
        assert_eq!(got, Ok(None));
        let got = run(vec![
            (0, words(&[1, AUTH_NONE])),
            (0, vec![]),
            (1, error(42, "domain not found: an entirely new wording")),
        ]);
        assert_eq!(got, Ok(None));
        let got = run(vec![
            (0, words(&[1, AUTH_NONE])),
            (0, vec![]),
            (1, error(1, "internal error")),
        ]);
        assert_eq!(got, Err(WireError::Libvirt(1, "internal error".into())));
    }

    #[test]
    fn authentication_and_open_errors_are_left_to_the_library() {
        let got = run(vec![(0, words(&[1, 2]))]);
        assert!(matches!(got, Err(WireError::Unsupported(_))), "{got:?}");
        let got = run(vec![
            (0, words(&[1, AUTH_NONE])),
            (1, error(38, "no connection driver available")),
        ]);
        assert!(matches!(got, Err(WireError::Unsupported(_))), "{got:?}");
    }

    #[test]
    fn a_closed_socket_is_a_connection_error() {
        let got = run(vec![]);
        assert!(matches!(
            got,
            Err(WireError::Connect(_)) | Err(WireError::Unsupported(_))
        ));
    }
}
