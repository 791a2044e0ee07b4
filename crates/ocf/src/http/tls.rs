//! `https://` for [`super::get`]: rustls with the `ring` provider. The server's
//! certificate is verified (chain, validity dates, name) against the URL's CA file or the
//! system's CAs, and a failed verification becomes [`HttpError::Certificate`] saying why in
//! words an operator can act on. Only reached for an `https://` URL.

use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::{HttpError, HttpUrl, io_error};

/// Connect TLS over `tcp` (whose timeouts the caller has set) and finish the handshake.
pub(super) fn handshake(
    tcp: TcpStream,
    url: &HttpUrl,
    timeout: Duration,
) -> Result<StreamOwned<ClientConnection, TcpStream>, HttpError> {
    let roots = roots(url.ca_file.as_deref())?;
    // rustls 0.23.48 deprecates the ring provider for lacking post-quantum key exchange;
    // a health check of a node's own API needs none, and aws-lc would need cmake and a C
    // toolchain's assembler on every build machine.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(url.host.clone())
        .map_err(|_| HttpError::Tls(format!("{:?} is not a valid server name", url.host)))?;
    let conn =
        ClientConnection::new(Arc::new(config), name).map_err(|e| HttpError::Tls(e.to_string()))?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
            return Err(match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                    HttpError::Timeout(timeout)
                }
                _ => io_error(e),
            });
        }
    }
    Ok(stream)
}

/// The CAs to trust: every certificate in `ca_file`, or the system's.
fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, HttpError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    HttpError::Tls(format!("cannot read CA file {}: {e}", path.display()))
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(HttpError::Tls(format!(
                    "CA file {} holds no usable certificate",
                    path.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(HttpError::Tls(
                    "no system CA certificates found (install ca-certificates, or name a CA \
                     file)"
                        .to_string(),
                ));
            }
        }
    }
    Ok(roots)
}

/// A rustls error in an operator's words.
pub(super) fn classify(e: &rustls::Error) -> HttpError {
    let rustls::Error::InvalidCertificate(c) = e else {
        return HttpError::Tls(e.to_string());
    };
    HttpError::Certificate(match c {
        CertificateError::UnknownIssuer => {
            "the server's certificate is not trusted: no trusted CA signed it".to_string()
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "the server's certificate has expired".to_string()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "the server's certificate is not valid yet".to_string()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "the server's certificate is for another name".to_string()
        }
        other => format!("the server's certificate is not trusted: {other:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_failures_are_named_for_an_operator() {
        let text =
            |c: CertificateError| classify(&rustls::Error::InvalidCertificate(c)).to_string();
        assert!(text(CertificateError::UnknownIssuer).contains("not trusted"));
        assert!(text(CertificateError::Expired).contains("expired"));
        assert!(text(CertificateError::NotValidForName).contains("another name"));
        assert!(text(CertificateError::BadSignature).contains("not trusted"));
        let other = classify(&rustls::Error::HandshakeNotComplete);
        assert!(matches!(other, HttpError::Tls(_)), "{other}");
    }

    #[test]
    fn a_ca_file_without_certificates_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("empty.pem");
        std::fs::write(&f, "not a certificate\n").unwrap();
        let e = roots(Some(&f)).unwrap_err().to_string();
        assert!(
            e.contains("empty.pem") && e.contains("no usable certificate"),
            "{e}"
        );
        let e = roots(Some(&dir.path().join("missing.pem")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read CA file"), "{e}");
    }
}
