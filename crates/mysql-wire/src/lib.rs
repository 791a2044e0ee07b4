//! `mysql-wire`: the smallest client of the MySQL/MariaDB client/server protocol that an
//! OCF agent needs: the v10 handshake, authentication (`mysql_native_password`,
//! `unix_socket`/`auth_socket`, and `caching_sha2_password` over a secure transport such
//! as a Unix socket), `COM_QUERY` and text result sets, OK and ERR packets.
//!
//! * The parsing and packet building are pure functions over bytes ([`parse_handshake`],
//!   [`handshake_response`], [`native_password`], [`parse_err`], [`parse_row`], ...),
//!   unit-tested with bytes captured from MariaDB 10.11.
//! * [`Conn`] holds one connection over any [`Transport`] (a Unix or TCP stream) and bounds
//!   every read and write by one [`Instant`] deadline: no call outlives it.
//!
//! Invariants: no function panics on malformed server bytes (they are
//! [`WireError::Protocol`]); passwords are only ever sent inside the protocol, never
//! logged; nothing here spawns a process.
#![deny(missing_docs)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// Why a conversation with the server failed.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Reading or writing the stream failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The deadline passed.
    #[error("no answer from the server in time")]
    Timeout,
    /// The server sent bytes this client does not understand.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server answered with an ERR packet.
    #[error("server error {code} ({state}): {message}")]
    Server {
        /// The error number, e.g. 1045 (access denied).
        code: u16,
        /// The SQLSTATE.
        state: String,
        /// The message.
        message: String,
    },
    /// Authentication needs something this client cannot do.
    #[error("authentication: {0}")]
    Auth(String),
}

fn proto(msg: impl Into<String>) -> WireError {
    WireError::Protocol(msg.into())
}

/// A stream the protocol can run over, whose reads and writes can be bounded.
pub trait Transport: Read + Write {
    /// Bound every following read and write by `d`.
    fn set_timeouts(&self, d: Duration) -> io::Result<()>;
}

impl Transport for UnixStream {
    fn set_timeouts(&self, d: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(d))?;
        self.set_write_timeout(Some(d))
    }
}

impl Transport for TcpStream {
    fn set_timeouts(&self, d: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(d))?;
        self.set_write_timeout(Some(d))
    }
}

/// Capability flags this client uses.
pub mod caps {
    /// New, more secure passwords.
    pub const LONG_PASSWORD: u32 = 0x0000_0001;
    /// Longer column flags.
    pub const LONG_FLAG: u32 = 0x0000_0004;
    /// The 4.1 protocol.
    pub const PROTOCOL_41: u32 = 0x0000_0200;
    /// Transaction status in OK packets.
    pub const TRANSACTIONS: u32 = 0x0000_2000;
    /// 4.1 authentication (length-prefixed auth data).
    pub const SECURE_CONNECTION: u32 = 0x0000_8000;
    /// Several result sets.
    pub const MULTI_RESULTS: u32 = 0x0002_0000;
    /// Authentication plugins.
    pub const PLUGIN_AUTH: u32 = 0x0008_0000;
}

/// What the client announces.
pub const CLIENT_CAPS: u32 = caps::LONG_PASSWORD
    | caps::LONG_FLAG
    | caps::PROTOCOL_41
    | caps::TRANSACTIONS
    | caps::SECURE_CONNECTION
    | caps::MULTI_RESULTS
    | caps::PLUGIN_AUTH;

/// The largest packet this client accepts (a reply bigger than that is an error).
pub const MAX_PACKET: usize = 16 << 20;

/// The server's greeting (Protocol::HandshakeV10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// e.g. `5.5.5-10.11.19-MariaDB-0+deb12u1` or `8.4.3`.
    pub server_version: String,
    /// The connection id.
    pub connection_id: u32,
    /// The 20-byte authentication seed.
    pub seed: Vec<u8>,
    /// The server's capability flags (lower 32 bits).
    pub capabilities: u32,
    /// The default authentication plugin.
    pub auth_plugin: String,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| proto("packet too short"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn nul_str(&mut self) -> Result<&'a [u8], WireError> {
        let rest = &self.buf[self.pos..];
        let n = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| proto("unterminated string"))?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }
    fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }
    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
    /// A length-encoded integer; `None` for the NULL marker 0xfb.
    fn lenenc(&mut self) -> Result<Option<u64>, WireError> {
        let first = self.u8()?;
        Ok(Some(match first {
            0xfb => return Ok(None),
            0xfc => u64::from(self.u16()?),
            0xfd => {
                let b = self.take(3)?;
                u64::from(b[0]) | (u64::from(b[1]) << 8) | (u64::from(b[2]) << 16)
            }
            0xfe => {
                let b = self.take(8)?;
                u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            }
            0xff => return Err(proto("invalid length-encoded integer 0xff")),
            n => u64::from(n),
        }))
    }
    fn lenenc_bytes(&mut self) -> Result<Option<&'a [u8]>, WireError> {
        match self.lenenc()? {
            None => Ok(None),
            Some(n) => {
                let n = usize::try_from(n).map_err(|_| proto("string too long"))?;
                self.take(n).map(Some)
            }
        }
    }
}

/// Parse the server's greeting.
pub fn parse_handshake(p: &[u8]) -> Result<Handshake, WireError> {
    let mut c = Cursor::new(p);
    match c.u8()? {
        10 => {}
        0xff => return Err(parse_err(p)),
        v => return Err(proto(format!("unsupported protocol version {v}"))),
    }
    let server_version = String::from_utf8_lossy(c.nul_str()?).into_owned();
    let connection_id = c.u32()?;
    let mut seed = c.take(8)?.to_vec();
    c.take(1)?;
    let cap_low = u32::from(c.u16()?);
    let mut capabilities = cap_low;
    let mut auth_plugin = String::from("mysql_native_password");
    if !c.is_empty() {
        c.take(1)?; // character set
        c.u16()?; // status
        capabilities |= u32::from(c.u16()?) << 16;
        let auth_len = usize::from(c.u8()?);
        c.take(10)?;
        if capabilities & caps::SECURE_CONNECTION != 0 {
            let n = auth_len.saturating_sub(8).max(13);
            let part2 = c.take(n)?;
            // The second part ends with a NUL that is not part of the seed.
            let part2 = part2.strip_suffix(&[0]).unwrap_or(part2);
            seed.extend_from_slice(part2);
        }
        if capabilities & caps::PLUGIN_AUTH != 0 && !c.is_empty() {
            let rest = c.rest();
            let name = rest.strip_suffix(&[0]).unwrap_or(rest);
            auth_plugin = String::from_utf8_lossy(name).into_owned();
        }
    }
    Ok(Handshake {
        server_version,
        connection_id,
        seed,
        capabilities,
        auth_plugin,
    })
}

/// SHA-1 (RustCrypto's `sha1`), only for `mysql_native_password`'s scramble.
fn sha1_digest(data: &[u8]) -> [u8; 20] {
    use sha1::Digest;
    sha1::Sha1::digest(data).into()
}

/// SHA-256 (RustCrypto's `sha2`), for `caching_sha2_password`'s scramble.
fn sha256_digest(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// `mysql_native_password`: SHA1(password) XOR SHA1(seed + SHA1(SHA1(password))).
/// Empty for an empty password.
pub fn native_password(password: &[u8], seed: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = sha1_digest(password);
    let stage2 = sha1_digest(&stage1);
    let mut salted = seed.to_vec();
    salted.extend_from_slice(&stage2);
    let mix = sha1_digest(&salted);
    stage1.iter().zip(mix).map(|(a, b)| a ^ b).collect()
}

/// The answer to a plugin's challenge, or an error for plugins this client cannot serve.
/// `unix_socket`/`auth_socket` need nothing (the server reads the peer's uid).
pub fn auth_data(plugin: &str, password: &[u8], seed: &[u8]) -> Result<Vec<u8>, WireError> {
    match plugin {
        "mysql_native_password" => Ok(native_password(password, seed)),
        "unix_socket" | "auth_socket" => Ok(Vec::new()),
        // Fast path: the scramble; when its cache is cold the server asks for the
        // password itself, which `Conn` sends on a secure transport only.
        "caching_sha2_password" => Ok(caching_sha2_scramble(password, seed)),
        "mysql_clear_password" => {
            let mut v = password.to_vec();
            v.push(0);
            Ok(v)
        }
        other => Err(WireError::Auth(format!(
            "the server asks for plugin {other}, which this client does not support"
        ))),
    }
}

/// `caching_sha2_password`'s fast-path scramble:
/// SHA256(password) XOR SHA256(SHA256(SHA256(password)) + seed). Empty for no password.
pub fn caching_sha2_scramble(password: &[u8], seed: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let p1 = sha256_digest(password);
    let p2 = sha256_digest(&p1);
    let mut salted = p2.to_vec();
    salted.extend_from_slice(seed);
    let mix = sha256_digest(&salted);
    p1.iter().zip(mix).map(|(a, b)| a ^ b).collect()
}

/// The client's answer to the greeting (Protocol::HandshakeResponse41).
pub fn handshake_response(user: &str, auth: &[u8], plugin: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(64 + user.len() + auth.len());
    p.extend_from_slice(&CLIENT_CAPS.to_le_bytes());
    p.extend_from_slice(&(MAX_PACKET as u32).to_le_bytes());
    p.push(45); // utf8mb4_general_ci
    p.extend_from_slice(&[0u8; 23]);
    p.extend_from_slice(user.as_bytes());
    p.push(0);
    p.push(u8::try_from(auth.len()).unwrap_or(u8::MAX));
    p.extend_from_slice(&auth[..auth.len().min(255)]);
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    p
}

/// Parse an ERR packet (first byte 0xff) into [`WireError::Server`].
pub fn parse_err(p: &[u8]) -> WireError {
    let mut c = Cursor::new(p);
    let parsed = (|| {
        c.u8()?;
        let code = c.u16()?;
        let rest = c.rest();
        let (state, msg) = match rest.strip_prefix(b"#") {
            Some(r) if r.len() >= 5 => (String::from_utf8_lossy(&r[..5]).into_owned(), &r[5..]),
            _ => (String::from("HY000"), rest),
        };
        Ok::<_, WireError>(WireError::Server {
            code,
            state,
            message: String::from_utf8_lossy(msg).into_owned(),
        })
    })();
    parsed.unwrap_or_else(|e| e)
}

/// What an OK packet reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ok {
    /// Rows changed.
    pub affected_rows: u64,
    /// The server status flags.
    pub status: u16,
}

/// Parse an OK packet (first byte 0x00, or 0xfe for the EOF-style OK).
pub fn parse_ok(p: &[u8]) -> Result<Ok, WireError> {
    let mut c = Cursor::new(p);
    c.u8()?;
    let affected_rows = c.lenenc()?.unwrap_or(0);
    c.lenenc()?;
    let status = if c.is_empty() { 0 } else { c.u16()? };
    Ok(Ok {
        affected_rows,
        status,
    })
}

/// The name of a column, from a Protocol::ColumnDefinition41 packet.
pub fn parse_column_name(p: &[u8]) -> Result<String, WireError> {
    let mut c = Cursor::new(p);
    for _ in 0..4 {
        c.lenenc_bytes()?; // catalog, schema, table, org_table
    }
    let name = c.lenenc_bytes()?.unwrap_or_default();
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// One text-protocol row of `n` columns; NULL is `None`.
pub fn parse_row(p: &[u8], n: usize) -> Result<Vec<Option<String>>, WireError> {
    let mut c = Cursor::new(p);
    let mut row = Vec::with_capacity(n);
    for _ in 0..n {
        row.push(
            c.lenenc_bytes()?
                .map(|b| String::from_utf8_lossy(b).into_owned()),
        );
    }
    Ok(row)
}

fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xfe) && p.len() < 9
}

/// A result: the column names and the rows (empty for statements that return none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultSet {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<Option<String>>>,
    /// Rows changed, for statements without a result set.
    pub affected_rows: u64,
}

impl ResultSet {
    /// The value of `column` in row `row`; `None` for NULL, a missing column or row.
    pub fn get(&self, row: usize, column: &str) -> Option<&str> {
        let i = self
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(column))?;
        self.rows.get(row)?.get(i)?.as_deref()
    }

    /// The first value of the first row.
    pub fn scalar(&self) -> Option<&str> {
        self.rows.first()?.first()?.as_deref()
    }
}

/// One authenticated connection.
#[derive(Debug)]
pub struct Conn<S: Transport> {
    stream: S,
    /// Bytes read but not consumed yet: a result set arrives in a few large reads, not
    /// two system calls per packet.
    inbuf: Vec<u8>,
    inpos: usize,
    seq: u8,
    deadline: Instant,
    handshake: Handshake,
}

impl<S: Transport> Conn<S> {
    /// Run the handshake on a fresh stream and log in as `user`. `secure` says whether the
    /// transport is a Unix socket (or otherwise private): only then is a password sent in
    /// clear when `caching_sha2_password` asks for it.
    pub fn login(
        stream: S,
        user: &str,
        password: &[u8],
        secure: bool,
        deadline: Instant,
    ) -> Result<Conn<S>, WireError> {
        let mut conn = Conn {
            stream,
            inbuf: Vec::with_capacity(16 * 1024),
            inpos: 0,
            seq: 0,
            deadline,
            handshake: Handshake {
                server_version: String::new(),
                connection_id: 0,
                seed: Vec::new(),
                capabilities: 0,
                auth_plugin: String::new(),
            },
        };
        let greeting = conn.read_packet()?;
        conn.handshake = parse_handshake(&greeting)?;
        let plugin = conn.handshake.auth_plugin.clone();
        let data = auth_data(&plugin, password, &conn.handshake.seed).or_else(|_| {
            // Unknown default plugin: answer as native and let the server switch.
            Ok::<_, WireError>(native_password(password, &conn.handshake.seed))
        })?;
        conn.write_packet(&handshake_response(user, &data, &plugin))?;
        for _ in 0..4 {
            let p = conn.read_packet()?;
            match p.first() {
                Some(0x00) => {
                    conn.seq = 0;
                    return Ok(conn);
                }
                Some(0xff) => return Err(parse_err(&p)),
                Some(0xfe) => {
                    // AuthSwitchRequest: plugin name, then a new seed.
                    let mut c = Cursor::new(&p[1..]);
                    let name = String::from_utf8_lossy(c.nul_str()?).into_owned();
                    let seed = c.rest();
                    let seed = seed.strip_suffix(&[0]).unwrap_or(seed).to_vec();
                    let data = auth_data(&name, password, &seed)?;
                    conn.write_packet(&data)?;
                }
                Some(0x01) => match p.get(1) {
                    Some(3) => {} // fast authentication succeeded; OK follows
                    Some(4) if secure => {
                        let mut v = password.to_vec();
                        v.push(0);
                        conn.write_packet(&v)?;
                    }
                    _ => {
                        return Err(WireError::Auth(
                            "the server wants caching_sha2_password full authentication, \
                             which needs TLS or a Unix socket"
                                .into(),
                        ));
                    }
                },
                _ => return Err(proto("unexpected packet during authentication")),
            }
        }
        Err(WireError::Auth("too many authentication rounds".into()))
    }

    /// The server's greeting.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// Move the deadline (for a longer statement on the same connection).
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    fn left(&self) -> Result<Duration, WireError> {
        let d = self.deadline.saturating_duration_since(Instant::now());
        if d.is_zero() {
            Err(WireError::Timeout)
        } else {
            Ok(d)
        }
    }

    fn io(e: io::Error) -> WireError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => WireError::Timeout,
            _ => WireError::Io(e),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), WireError> {
        let mut got = 0;
        while got < buf.len() {
            if self.inpos < self.inbuf.len() {
                let n = (buf.len() - got).min(self.inbuf.len() - self.inpos);
                buf[got..got + n].copy_from_slice(&self.inbuf[self.inpos..self.inpos + n]);
                self.inpos += n;
                got += n;
                continue;
            }
            let left = self.left()?;
            self.stream.set_timeouts(left).map_err(Self::io)?;
            self.inbuf.resize(16 * 1024, 0);
            self.inpos = 0;
            match self.stream.read(&mut self.inbuf) {
                Ok(0) => {
                    self.inbuf.clear();
                    return Err(WireError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    )));
                }
                Ok(n) => self.inbuf.truncate(n),
                Err(e) => {
                    self.inbuf.clear();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(Self::io(e));
                    }
                }
            }
        }
        Ok(())
    }

    fn read_packet(&mut self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::new();
        loop {
            let mut head = [0u8; 4];
            self.read_exact(&mut head)?;
            let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
            self.seq = head[3].wrapping_add(1);
            if out.len() + len > MAX_PACKET {
                return Err(proto("packet larger than 16 MiB"));
            }
            let start = out.len();
            out.resize(start + len, 0);
            self.read_exact(&mut out[start..])?;
            if len < 0xff_ffff {
                return Ok(out);
            }
        }
    }

    fn write_packet(&mut self, payload: &[u8]) -> Result<(), WireError> {
        if payload.len() >= 0xff_ffff {
            return Err(proto("statement too long"));
        }
        let n = payload.len();
        let mut buf = Vec::with_capacity(n + 4);
        buf.extend_from_slice(&[n as u8, (n >> 8) as u8, (n >> 16) as u8, self.seq]);
        buf.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        let left = self.left()?;
        self.stream.set_timeouts(left).map_err(Self::io)?;
        self.stream.write_all(&buf).map_err(Self::io)?;
        Ok(())
    }

    /// Run one statement (`COM_QUERY`) and read its whole answer.
    pub fn query(&mut self, sql: &str) -> Result<ResultSet, WireError> {
        self.seq = 0;
        let mut p = Vec::with_capacity(sql.len() + 1);
        p.push(0x03);
        p.extend_from_slice(sql.as_bytes());
        self.write_packet(&p)?;
        let first = self.read_packet()?;
        let result = match first.first() {
            Some(0x00) => {
                let ok = parse_ok(&first)?;
                ResultSet {
                    affected_rows: ok.affected_rows,
                    ..ResultSet::default()
                }
            }
            Some(0xff) => return Err(parse_err(&first)),
            Some(0xfb) => return Err(proto("LOCAL INFILE requests are refused")),
            Some(_) => {
                let n = Cursor::new(&first)
                    .lenenc()?
                    .ok_or_else(|| proto("NULL column count"))?;
                let n = usize::try_from(n).map_err(|_| proto("too many columns"))?;
                let mut columns = Vec::with_capacity(n);
                for _ in 0..n {
                    columns.push(parse_column_name(&self.read_packet()?)?);
                }
                let eof = self.read_packet()?;
                if !is_eof(&eof) {
                    return Err(proto("no EOF after the column definitions"));
                }
                let mut rows = Vec::new();
                loop {
                    let p = self.read_packet()?;
                    if is_eof(&p) {
                        break;
                    }
                    if p.first() == Some(&0xff) {
                        return Err(parse_err(&p));
                    }
                    rows.push(parse_row(&p, n)?);
                }
                ResultSet {
                    columns,
                    rows,
                    affected_rows: 0,
                }
            }
            None => return Err(proto("empty answer")),
        };
        Ok(result)
    }
}

/// Quote a string as an SQL literal (`'...'`), escaping quotes, backslashes and NUL.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        match ch {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests;
