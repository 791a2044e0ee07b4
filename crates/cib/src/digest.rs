//! Pacemaker's operation digests, shared by the scheduler (which compares them with the
//! recorded ones to decide restart or reload) and the executor (which records them).
//!
//! The canonical form is the operation's parameters written as ` <parameters a="1" b="2"/>`
//! plus a newline: attributes sorted by name, values escaped as Pacemaker 2.1's XML writer
//! escapes them, then MD5. Which parameters go in is the caller's business: the resource's
//! parameters for the node, no `CRM_meta_*` ones except `CRM_meta_timeout` for recurring
//! operations. Pure: no I/O.

/// Pacemaker's `op-digest` of an operation with these parameters.
pub fn op_digest(params: &[(String, String)]) -> String {
    md5_hex(canonical(params.iter().map(|(k, v)| (k.as_str(), v.as_str()))).as_bytes())
}

/// Pacemaker's `op-restart-digest`: the digest of only the parameters named in
/// `force_restart` (the recorded `op-force-restart`, names separated by spaces).
pub fn restart_digest(params: &[(String, String)], force_restart: &str) -> String {
    let keep: Vec<&str> = force_restart.split_whitespace().collect();
    md5_hex(
        canonical(
            params
                .iter()
                .filter(|(k, _)| keep.contains(&k.as_str()))
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .as_bytes(),
    )
}

/// The text that is hashed.
fn canonical<'a>(params: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut sorted: Vec<(&str, &str)> = params.collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    sorted.dedup_by(|a, b| a.0 == b.0);
    let mut s = String::from(" <parameters");
    for (k, v) in sorted {
        s.push(' ');
        s.push_str(k);
        s.push_str("=\"");
        escape_into(&mut s, v);
        s.push('"');
    }
    s.push_str("/>\n");
    s
}

/// Pacemaker 2.1's attribute escaping: markup characters as entities, tab as four spaces,
/// newline and carriage return as `\n`/`\r`, other control bytes (and a lone byte above
/// 0x7e) as a backslash and octal. Its quirk is kept: at the first two consecutive bytes
/// above 0x7f (a multi-byte UTF-8 character) it stops escaping and copies the rest as is.
fn escape_into(s: &mut String, v: &str) {
    let b = v.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c & 0x80 != 0 && b.get(i + 1).is_some_and(|n| n & 0x80 != 0) {
            out.extend_from_slice(&b[i..]);
            break;
        }
        match c {
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\'' => out.extend_from_slice(b"&apos;"),
            b'&' => out.extend_from_slice(b"&amp;"),
            b'\t' => out.extend_from_slice(b"    "),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            c if !(b' '..=b'~').contains(&c) => {
                // As a C `char` (signed) widened to `unsigned int`.
                let wide = c as i8 as i32 as u32;
                out.extend_from_slice(format!("\\{wide:03o}").as_bytes());
            }
            c => out.push(c),
        }
        i += 1;
    }
    s.push_str(&String::from_utf8_lossy(&out));
}

/// MD5 (RFC 1321, RustCrypto's `md-5`) of `data`, as lowercase hex.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    // By hand, not `write!("{:02x}")`: the formatter cost more than the hash itself.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(32);
    for b in md5::Md5::digest(data) {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_rfc_1321_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_hex(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn canonical_form_sorts_and_escapes() {
        let c = canonical(
            p(&[("z", "a<b"), ("a", "x\ty\n\"'&")])
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        assert_eq!(
            c,
            " <parameters a=\"x    y\\n&quot;&apos;&amp;\" z=\"a&lt;b\"/>\n"
        );
    }

    #[test]
    fn digests_match_an_independent_md5_of_the_canonical_form() {
        // Reference values from Python's hashlib over the canonical text.
        let all = p(&[("ip", "192.0.2.10"), ("cidr_netmask", "24")]);
        assert_eq!(op_digest(&all), "ae06a3ac7cfcb6a2ecf8efb773617766");
        assert_eq!(
            restart_digest(&all, " ip "),
            "00b33024faa29667a75591f76303da03"
        );
        let recurring = p(&[
            ("url", "http://127.0.0.1/?a=1&b=\"x\""),
            ("CRM_meta_timeout", "20000"),
        ]);
        assert_eq!(op_digest(&recurring), "5738c5cba23e9454399e0cea943cd25a");
    }

    #[test]
    fn restart_digest_keeps_only_the_named_parameters() {
        let all = p(&[("a", "1"), ("b", "2")]);
        assert_eq!(restart_digest(&all, " a "), op_digest(&p(&[("a", "1")])));
        assert_eq!(restart_digest(&all, ""), op_digest(&[]));
    }

    #[test]
    fn digest_of_no_parameters_is_pacemakers() {
        // Seen in Pacemaker's own scheduler tests for resources without parameters.
        assert_eq!(op_digest(&[]), "f2317cad3d54cec5d7d7aa7d0bf35cf8");
    }
}
