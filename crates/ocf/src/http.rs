//! A minimal, bounded HTTP/1.1 client for health checks: `GET`, `Connection: close`,
//! every step bounded by the caller's timeout, the body capped. `https://` URLs go
//! through rustls (feature `tls`, module [`tls`](self)): the certificate is verified against a
//! CA file or the system's CAs, and a failed verification is [`HttpError::Certificate`]
//! with the reason in words. Nothing TLS is loaded for an `http://` URL.
//! Agents reach it through [`crate::host::Host::http_get`], so tests can fake it.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[cfg(feature = "tls")]
mod tls;

/// The largest body read; the rest is ignored.
pub const MAX_BODY: usize = 1 << 20;

/// A parsed `http[s]://host[:port]/path` URL, with the CAs an `https` one trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `https://` rather than `http://`.
    pub https: bool,
    /// For `https`: a PEM file of the CAs to trust; `None` trusts the system's CAs.
    pub ca_file: Option<PathBuf>,
    /// The host as written (an IP literal or a name).
    pub host: String,
    /// The port (80, or 443 for https, when not given).
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
}

/// Why a URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Neither `http://` nor `https://`.
    #[error("only http:// and https:// URLs are supported, not {0}://")]
    Scheme(String),
    /// No scheme at all.
    #[error("expected http[s]://host[:port]/path")]
    NoScheme,
    /// No host.
    #[error("the URL has no host")]
    NoHost,
    /// The port is not a number from 1 to 65535.
    #[error("invalid port {0:?}")]
    Port(String),
    /// Whitespace or control characters.
    #[error("the URL contains whitespace or control characters")]
    Characters,
}

impl HttpUrl {
    /// Parse a URL.
    pub fn parse(url: &str) -> Result<HttpUrl, UrlError> {
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::Characters);
        }
        let (https, rest) = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            Some((scheme, _)) => return Err(UrlError::Scheme(scheme.to_string())),
            None => return Err(UrlError::NoScheme),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.contains('@') {
            return Err(UrlError::NoHost);
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or(UrlError::NoHost)?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        let port = match port {
            None if https => 443,
            None => 80,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(UrlError::Port(p.to_string())),
            },
        };
        Ok(HttpUrl {
            https,
            ca_file: None,
            host,
            port,
            path,
        })
    }

    fn addrs(&self) -> Vec<SocketAddr> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return vec![SocketAddr::new(ip, self.port)];
        }
        if self.host.eq_ignore_ascii_case("localhost") {
            return vec![
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port),
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), self.port),
            ];
        }
        // Other names go through the system resolver (e.g. the node's own name in
        // /etc/hosts).
        use std::net::ToSocketAddrs;
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map(|a| a.collect())
            .unwrap_or_default()
    }
}

impl std::fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}{}", self.host, self.port, self.path)
        } else {
            write!(f, "{scheme}://{}:{}{}", self.host, self.port, self.path)
        }
    }
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body (chunked encoding undone), lossily decoded, at most [`MAX_BODY`] bytes.
    pub body: String,
    /// From sending the request to the end of the body.
    pub elapsed: Duration,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The host name does not resolve.
    #[error("cannot resolve {0}")]
    Resolve(String),
    /// Connecting, sending or reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The timeout passed.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    /// The answer is not HTTP.
    #[error("malformed HTTP response: {0}")]
    Malformed(String),
    /// The server's certificate failed verification: not trusted, expired, or for
    /// another name (the text says which).
    #[error("{0}")]
    Certificate(String),
    /// Another TLS failure (handshake, protocol, the CA file).
    #[error("TLS: {0}")]
    Tls(String),
}

/// The connection: plain TCP, or TLS over it.
enum Conn {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            #[cfg(feature = "tls")]
            Conn::Tls(s) => &s.sock,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Conn::Tls(s) => match s.read(buf) {
                // A server that closes without close_notify: the response parser decides
                // whether what came is whole.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// An I/O error, or the TLS error inside it.
fn io_error(e: std::io::Error) -> HttpError {
    #[cfg(feature = "tls")]
    if let Some(t) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return tls::classify(t);
    }
    HttpError::Io(e)
}

/// `GET url`, all of it within `timeout`.
pub fn get(url: &HttpUrl, timeout: Duration) -> Result<HttpResponse, HttpError> {
    let start = Instant::now();
    let left = |start: Instant| -> Result<Duration, HttpError> {
        let rem = timeout.saturating_sub(start.elapsed());
        if rem.is_zero() {
            Err(HttpError::Timeout(timeout))
        } else {
            Ok(rem)
        }
    };
    let addrs = url.addrs();
    if addrs.is_empty() {
        return Err(HttpError::Resolve(url.host.clone()));
    }
    let mut last_err = None;
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, left(start)?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let stream = match (stream, last_err) {
        (Some(s), _) => s,
        (None, Some(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
            return Err(HttpError::Timeout(timeout));
        }
        (None, Some(e)) => return Err(HttpError::Io(e)),
        (None, None) => return Err(HttpError::Resolve(url.host.clone())),
    };
    let _ = stream.set_nodelay(true);
    let mut stream = if url.https {
        #[cfg(feature = "tls")]
        {
            stream.set_read_timeout(Some(left(start)?))?;
            stream.set_write_timeout(Some(left(start)?))?;
            Conn::Tls(Box::new(tls::handshake(stream, url, timeout)?))
        }
        #[cfg(not(feature = "tls"))]
        return Err(HttpError::Tls(
            "this program was built without https support".to_string(),
        ));
    } else {
        Conn::Plain(stream)
    };
    let host_header = if url.host.contains(':') {
        format!("[{}]:{}", url.host, url.port)
    } else {
        format!("{}:{}", url.host, url.port)
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: crm-lite-ocf\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path
    );
    stream.tcp().set_write_timeout(Some(left(start)?))?;
    stream.write_all(request.as_bytes()).map_err(io_error)?;
    stream.flush().map_err(io_error)?;

    let mut raw = Vec::with_capacity(4096);
    let mut buf = [0u8; 8192];
    loop {
        stream.tcp().set_read_timeout(Some(left(start)?))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if complete(&raw) || raw.len() > MAX_BODY + 65536 {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(HttpError::Timeout(timeout));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    let (status, body) = parse_response(&raw)?;
    Ok(HttpResponse {
        status,
        body,
        elapsed: start.elapsed(),
    })
}

fn header_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Whether a response is complete before the peer closes (Content-Length reached, or the
/// last chunk seen).
fn complete(raw: &[u8]) -> bool {
    let Some(end) = header_end(raw) else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    if let Some(n) = header_value(&head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        return raw.len() - end >= n;
    }
    if header_value(&head, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        return raw[end..].windows(5).any(|w| w == b"0\r\n\r\n");
    }
    false
}

/// Parse a raw response into status and body.
pub fn parse_response(raw: &[u8]) -> Result<(u16, String), HttpError> {
    let end =
        header_end(raw).ok_or_else(|| HttpError::Malformed("no end of headers".to_string()))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/") {
        return Err(HttpError::Malformed(format!("status line {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HttpError::Malformed(format!("status line {status_line:?}")))?;
    let mut body = &raw[end..];
    let decoded;
    if header_value(&head, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        decoded = dechunk(body);
        body = &decoded;
    } else if let Some(n) =
        header_value(&head, "content-length").and_then(|v| v.parse::<usize>().ok())
    {
        body = &body[..n.min(body.len())];
    }
    let body = &body[..body.len().min(MAX_BODY)];
    Ok((status, String::from_utf8_lossy(body).into_owned()))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..nl]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        data = &data[nl + 2..];
        if size == 0 || data.len() < size {
            out.extend_from_slice(&data[..size.min(data.len())]);
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn urls_parse_with_defaults_and_ipv6() {
        let u = HttpUrl::parse("http://127.0.0.1:8080/health?x=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8080, "/health?x=1")
        );
        let u = HttpUrl::parse("http://localhost").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        let u = HttpUrl::parse("http://[::1]:81/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 81));
        assert_eq!(u.to_string(), "http://[::1]:81/x");
        let u = HttpUrl::parse("HTTP://h?q").unwrap();
        assert_eq!(u.path, "/?q");
        assert!(!u.https);
        let u = HttpUrl::parse("https://api.example/health").unwrap();
        assert!(u.https);
        assert_eq!((u.port, u.path.as_str()), (443, "/health"));
        assert_eq!(u.to_string(), "https://api.example:443/health");
    }

    #[test]
    fn malformed_urls_are_rejected_with_a_reason() {
        assert_eq!(
            HttpUrl::parse("ftp://x/").unwrap_err(),
            UrlError::Scheme("ftp".into())
        );
        assert_eq!(
            HttpUrl::parse("localhost:80").unwrap_err(),
            UrlError::NoScheme
        );
        assert_eq!(HttpUrl::parse("http:///x").unwrap_err(), UrlError::NoHost);
        assert_eq!(
            HttpUrl::parse("http://h:0/").unwrap_err(),
            UrlError::Port("0".into())
        );
        assert_eq!(
            HttpUrl::parse("http://h:99999/").unwrap_err(),
            UrlError::Port("99999".into())
        );
        assert_eq!(
            HttpUrl::parse("http://h/a b").unwrap_err(),
            UrlError::Characters
        );
        assert_eq!(HttpUrl::parse("http://u@h/").unwrap_err(), UrlError::NoHost);
    }

    #[test]
    fn responses_parse_with_length_and_chunks() {
        let (s, b) =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA").unwrap();
        assert_eq!((s, b.as_str()), (200, "ok"));
        let (s, b) = parse_response(
            b"HTTP/1.1 503 No\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((s, b.as_str()), (503, "abcde"));
        let (s, b) = parse_response(b"HTTP/1.0 404 Not Found\r\n\r\ngone").unwrap();
        assert_eq!((s, b.as_str()), (404, "gone"));
        assert!(parse_response(b"SSH-2.0-x\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200").is_err());
    }

    #[test]
    fn get_talks_to_a_real_socket_and_times_out_on_silence() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                .unwrap();
            // A second connection that never answers.
            let (_silent, _) = l.accept().unwrap();
            std::thread::sleep(Duration::from_millis(600));
            req
        });
        let url = HttpUrl::parse(&format!("http://127.0.0.1:{port}/health")).unwrap();
        let r = get(&url, Duration::from_secs(5)).unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "hello"));
        let t0 = Instant::now();
        let e = get(&url, Duration::from_millis(200)).unwrap_err();
        assert!(matches!(e, HttpError::Timeout(_)), "{e}");
        assert!(t0.elapsed() < Duration::from_millis(550));
        let req = server.join().unwrap();
        assert!(req.starts_with("GET /health HTTP/1.1\r\n"), "{req}");
        assert!(req.contains("Connection: close"));
    }

    #[test]
    fn get_reports_a_refused_connection() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = HttpUrl::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        assert!(matches!(
            get(&url, Duration::from_secs(1)),
            Err(HttpError::Io(_))
        ));
    }
}
