//! The parsers against bytes captured from MariaDB 10.11.19 (Debian 12), and a whole
//! conversation against a scripted in-memory server.

use super::*;
use std::collections::VecDeque;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The greeting of MariaDB 10.11.19 on its Unix socket, 4-byte header included.
const GREETING: &str = "680000000a352e352e352d31302e31312e31392d4d6172696144422d302b646562313275312d6c6f670005000000435a7b7a76605e3600fef7080200ff81150000000000001d000000333e7a6f3e284a7b505a5476006d7973716c5f6e61746976655f70617373776f726400";

#[test]
fn mariadb_greeting_parses() {
    let bytes = unhex(GREETING);
    let h = parse_handshake(&bytes[4..]).unwrap();
    assert_eq!(h.server_version, "5.5.5-10.11.19-MariaDB-0+deb12u1-log");
    assert_eq!(h.connection_id, 5);
    assert_eq!(h.seed.len(), 20);
    assert_eq!(&h.seed[..8], b"CZ{zv`^6");
    assert_eq!(h.auth_plugin, "mysql_native_password");
    assert!(h.capabilities & caps::PLUGIN_AUTH != 0);
    assert!(h.capabilities & caps::PROTOCOL_41 != 0);
}

#[test]
fn truncated_greetings_are_errors_not_panics() {
    let bytes = unhex(GREETING);
    for n in 0..bytes.len() - 4 {
        let _ = parse_handshake(&bytes[4..4 + n]);
    }
    assert!(parse_handshake(&[9, 0]).is_err());
}

#[test]
fn native_password_matches_the_servers_formula() {
    // The server stores SHA1(SHA1(pw)); it checks SHA1(reply XOR SHA1(seed + stored)).
    let seed = b"01234567890123456789";
    let reply = native_password(b"replpw", seed);
    let stored = sha1_digest(&sha1_digest(b"replpw"));
    let mut salted = seed.to_vec();
    salted.extend_from_slice(&stored);
    let mix = sha1_digest(&salted);
    let stage1: Vec<u8> = reply.iter().zip(mix).map(|(a, b)| a ^ b).collect();
    assert_eq!(sha1_digest(&stage1), stored);
    assert!(native_password(b"", seed).is_empty());
}

#[test]
fn handshake_response_layout() {
    let p = handshake_response("root", &[1, 2, 3], "mysql_native_password");
    assert_eq!(u32::from_le_bytes([p[0], p[1], p[2], p[3]]), CLIENT_CAPS);
    assert_eq!(p[8], 45);
    assert_eq!(&p[32..37], b"root\0");
    assert_eq!(&p[37..41], &[3, 1, 2, 3]);
    assert_eq!(&p[41..], b"mysql_native_password\0");
}

#[test]
fn err_packets_carry_code_state_and_message() {
    let mut p = vec![0xff, 0x15, 0x04];
    p.extend_from_slice(b"#28000Access denied for user 'x'@'localhost'");
    match parse_err(&p) {
        WireError::Server {
            code,
            state,
            message,
        } => {
            assert_eq!(code, 1045);
            assert_eq!(state, "28000");
            assert!(message.starts_with("Access denied"));
        }
        e => panic!("{e}"),
    }
    assert!(matches!(parse_err(&[0xff]), WireError::Protocol(_)));
}

#[test]
fn rows_decode_nulls_and_length_encoded_values() {
    let row = [1, b'7', 0xfb, 0xfc, 3, 0, b'a', b'b', b'c'];
    assert_eq!(
        parse_row(&row, 3).unwrap(),
        vec![Some("7".into()), None, Some("abc".into())]
    );
    assert!(parse_row(&row, 4).is_err());
    assert!(parse_row(&[5, b'a'], 1).is_err());
}

#[test]
fn quoting_escapes_quotes_and_backslashes() {
    assert_eq!(quote(r"it's a\b"), r"'it\'s a\\b'");
}

/// An in-memory server: answers are queued packets; what the client writes is kept.
struct Script {
    input: VecDeque<u8>,
    written: Vec<u8>,
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.input.len());
        for b in buf.iter_mut().take(n) {
            *b = self.input.pop_front().unwrap();
        }
        Ok(n)
    }
}
impl Write for Script {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
impl Transport for Script {
    fn set_timeouts(&self, _: Duration) -> io::Result<()> {
        Ok(())
    }
}

fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let n = payload.len();
    let mut v = vec![n as u8, (n >> 8) as u8, (n >> 16) as u8, seq];
    v.extend_from_slice(payload);
    v
}

fn coldef(name: &str) -> Vec<u8> {
    let mut p = vec![3, b'd', b'e', b'f', 0, 0, 0, name.len() as u8];
    p.extend_from_slice(name.as_bytes());
    p.extend_from_slice(&[0, 0x0c, 0x21, 0, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0]);
    p
}

#[test]
fn a_whole_conversation_with_auth_switch_and_a_result_set() {
    let mut input = unhex(GREETING);
    // Auth switch to unix_socket, then OK.
    let mut switch = vec![0xfe];
    switch.extend_from_slice(b"unix_socket\0");
    input.extend(packet(2, &switch));
    input.extend(packet(4, &[0, 0, 0, 2, 0, 0, 0]));
    // SELECT 1 AS a, NULL AS b
    input.extend(packet(1, &[2]));
    input.extend(packet(2, &coldef("a")));
    input.extend(packet(3, &coldef("b")));
    input.extend(packet(4, &[0xfe, 0, 0, 2, 0]));
    input.extend(packet(5, &[1, b'1', 0xfb]));
    input.extend(packet(6, &[0xfe, 0, 0, 2, 0]));
    // SET GLOBAL read_only=ON → OK
    input.extend(packet(1, &[0, 0, 0, 2, 0, 0, 0]));
    // a failing statement
    let mut err = vec![0xff, 0x7a, 0x04];
    err.extend_from_slice(b"#42S02Table 't.x' doesn't exist");
    input.extend(packet(1, &err));
    let script = Script {
        input: input.into(),
        written: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut c = Conn::login(script, "root", b"", true, deadline).unwrap();
    assert!(c.handshake().server_version.contains("MariaDB"));
    let rs = c.query("SELECT 1 AS a, NULL AS b").unwrap();
    assert_eq!(rs.columns, vec!["a", "b"]);
    assert_eq!(rs.get(0, "A"), Some("1"));
    assert_eq!(rs.get(0, "b"), None);
    assert_eq!(rs.scalar(), Some("1"));
    assert_eq!(c.query("SET GLOBAL read_only=ON").unwrap().rows.len(), 0);
    match c.query("SELECT * FROM t.x") {
        Err(WireError::Server { code: 1146, .. }) => {}
        other => panic!("{other:?}"),
    }
    // The client's writes: the response (seq 1), the switch answer (seq 3), three queries.
    let w = &c.stream.written;
    assert_eq!(w[3], 1);
    let query_at = w.windows(9).position(|x| x == b"\x03SELECT 1").unwrap();
    assert_eq!(w[query_at - 1], 0, "a command starts at sequence 0");
}

#[test]
fn a_silent_server_times_out_at_the_deadline() {
    let script = Script {
        input: VecDeque::new(),
        written: Vec::new(),
    };
    // An empty input reads as a closed connection; a passed deadline is a timeout.
    let past = Instant::now();
    assert!(matches!(
        Conn::login(script, "root", b"", true, past),
        Err(WireError::Timeout)
    ));
}

#[test]
fn caching_sha2_scramble_matches_the_servers_check() {
    // The server caches SHA256(SHA256(pw)) and checks
    // SHA256(reply XOR SHA256(cached + seed)) == cached.
    let seed = b"abcdefghijklmnopqrst";
    let reply = caching_sha2_scramble(b"pw", seed);
    let cached = sha256_digest(&sha256_digest(b"pw"));
    let mut salted = cached.to_vec();
    salted.extend_from_slice(seed);
    let mix = sha256_digest(&salted);
    let p1: Vec<u8> = reply.iter().zip(mix).map(|(a, b)| a ^ b).collect();
    assert_eq!(sha256_digest(&p1), cached);
    assert!(caching_sha2_scramble(b"", seed).is_empty());
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn sha1_and_sha256_match_fips_180_vectors() {
    let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_eq!(
        hex(&sha1_digest(b"")),
        "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    );
    assert_eq!(
        hex(&sha1_digest(b"abc")),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        hex(&sha1_digest(long)),
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
    );
    assert_eq!(
        hex(&sha256_digest(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(&sha256_digest(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex(&sha256_digest(long)),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
}
