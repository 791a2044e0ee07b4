//! `ocf:crm-lite:mgmt-api` with an `https://` health_url against a real TLS server
//! (`openssl s_server -www`) on 127.0.0.1, with a CA and certificates that `openssl`
//! makes for each test: trusted, signed by another CA, for another name, expired.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tests::{Agent, built, free_port, have, is_root, require, wait_for};

/// A throw-away PKI: one CA (`ca.pem`), a second CA nobody trusts (`other-ca.pem`), and
/// server certificates in a directory readable by everyone (ocf-tester runs as nobody).
struct Pki {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

impl Pki {
    fn new() -> Option<Pki> {
        let Ok(()) = require(have("openssl"), "openssl is not installed") else {
            return None;
        };
        let Ok(()) = require(built("mgmt-api").is_some(), "mgmt-api is not built") else {
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        for ca in ["ca", "other-ca"] {
            let mut args = vec!["req", "-x509", "-nodes", "-days", "2"];
            args.extend(EC);
            let (key, pem, subj) = (
                format!("{ca}.key"),
                format!("{ca}.pem"),
                format!("/CN=crm-lite test {ca}"),
            );
            args.extend(["-keyout", &key, "-out", &pem, "-subj", &subj]);
            openssl(d, &args);
        }
        std::fs::write(
            d.join("ca.cnf"),
            "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\n\
             serial = serial\nunique_subject = no\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n",
        )
        .unwrap();
        std::fs::write(d.join("index.txt"), "").unwrap();
        std::fs::write(d.join("serial"), "1000\n").unwrap();
        let pki = Pki { dir };
        pki.server_cert("good", "ca", "IP:127.0.0.1", None);
        pki.server_cert("stranger", "other-ca", "IP:127.0.0.1", None);
        pki.server_cert("other-name", "ca", "DNS:api.example.org", None);
        pki.server_cert(
            "expired",
            "ca",
            "IP:127.0.0.1",
            Some(("20200101000000Z", "20200201000000Z")),
        );
        Some(pki)
    }

    /// `<name>.pem`/`<name>.key`, signed by `ca`, for `san`, valid for two days or `dates`.
    fn server_cert(&self, name: &str, ca: &str, san: &str, dates: Option<(&str, &str)>) {
        let d = self.dir.path();
        let ext = format!("{name}.ext");
        std::fs::write(
            d.join(&ext),
            format!(
                "basicConstraints = CA:FALSE\nkeyUsage = digitalSignature\n\
                 extendedKeyUsage = serverAuth\nsubjectAltName = {san}\n"
            ),
        )
        .unwrap();
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let mut args = vec!["req", "-new", "-nodes"];
        args.extend(EC);
        args.extend([
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=crm-lite test server",
        ]);
        openssl(d, &args);
        let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
        let mut sign = vec![
            "ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", &ca_pem, "-keyfile", &ca_key,
            "-in", &csr, "-out", &pem, "-extfile", &ext,
        ];
        match dates {
            Some((from, to)) => sign.extend(["-startdate", from, "-enddate", to]),
            None => sign.extend(["-days", "2"]),
        }
        openssl(d, &sign);
        for f in [key, pem] {
            std::fs::set_permissions(
                d.join(f),
                std::os::unix::fs::PermissionsExt::from_mode(0o644),
            )
            .unwrap();
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The `openssl s_server` command line serving `cert` on `port`.
    fn server_command(&self, cert: &str, port: u16) -> String {
        format!(
            "openssl s_server -quiet -www -accept 127.0.0.1:{port} -cert {} -key {}",
            self.path(&format!("{cert}.pem")).display(),
            self.path(&format!("{cert}.key")).display()
        )
    }
}

/// An agent instance managing `openssl s_server` with certificate `cert`; stopped on drop.
struct Managed {
    agent: Agent,
    pidfile: PathBuf,
}

impl Managed {
    fn new(pki: &Pki, cert: &str, port: u16, extra: &[(&str, &str)]) -> Managed {
        let command = pki.server_command(cert, port);
        let url = format!("https://127.0.0.1:{port}/");
        let pidfile = pki.path(&format!("{cert}-{port}.pid"));
        let log = pki.path(&format!("{cert}-{port}.log"));
        let ca = pki.path("ca.pem");
        let mut params: Vec<(&str, &str)> = vec![
            ("command", &command),
            ("health_url", &url),
            ("health_ca", ca.to_str().unwrap()),
            ("pidfile", pidfile.to_str().unwrap()),
            ("log_file", log.to_str().unwrap()),
        ];
        params.extend_from_slice(extra);
        Managed {
            agent: Agent::new(&built("mgmt-api").unwrap(), "api", &params),
            pidfile,
        }
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(&self.pidfile)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok());
        let _ = self
            .agent
            .run_with("stop", &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
        if let Some(pid) = pid.filter(|p| *p > 1) {
            // Only the group this test started.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// An `openssl s_server` the test runs itself, killed on drop.
struct Server(Child);

impl Server {
    fn start(pki: &Pki, cert: &str) -> (Server, u16) {
        let port = free_port();
        let cmd = pki.server_command(cert, port);
        let words: Vec<&str> = cmd.split(' ').collect();
        let child = Command::new(words[0])
            .args(&words[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl s_server");
        assert!(
            wait_for(Duration::from_secs(5), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            }),
            "s_server did not listen on {port}"
        );
        (Server(child), port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_trusted_certificate_passes_and_every_bad_one_is_named_in_the_exit_reason() {
    let Some(pki) = Pki::new() else { return };
    let port = free_port();
    let m = Managed::new(&pki, "good", port, &[]);
    let a = &m.agent;
    let start = a.run("start");
    assert_eq!(start.code, 0, "{start:?}");
    for level in ["10", "20"] {
        let mon = a.run_with(
            "monitor",
            &[
                ("OCF_CHECK_LEVEL", level),
                ("OCF_RESKEY_expect_body", "s_server"),
            ],
        );
        assert_eq!(mon.code, 0, "level {level}: {mon:?}");
    }

    // The same server, but health_ca names a CA that did not sign its certificate.
    let other = pki.path("other-ca.pem");
    let mon = a.run_with(
        "monitor",
        &[
            ("OCF_CHECK_LEVEL", "10"),
            ("OCF_RESKEY_health_ca", other.to_str().unwrap()),
        ],
    );
    assert_eq!(mon.code, 1, "{mon:?}");
    assert!(mon.reason().unwrap().contains("not trusted"), "{mon:?}");

    // The certificate is for 127.0.0.1; asked as localhost it is for another name.
    let as_localhost = format!("https://localhost:{port}/");
    let mon = a.run_with(
        "monitor",
        &[
            ("OCF_CHECK_LEVEL", "10"),
            ("OCF_RESKEY_health_url", &as_localhost),
        ],
    );
    assert_eq!(mon.code, 1, "{mon:?}");
    assert!(mon.reason().unwrap().contains("another name"), "{mon:?}");

    // Servers with a certificate from a CA nobody trusts, for another name, expired.
    for (cert, needle) in [
        ("stranger", "not trusted"),
        ("other-name", "another name"),
        ("expired", "expired"),
    ] {
        let (_server, other_port) = Server::start(&pki, cert);
        let url = format!("https://127.0.0.1:{other_port}/");
        let mon = a.run_with(
            "monitor",
            &[("OCF_CHECK_LEVEL", "10"), ("OCF_RESKEY_health_url", &url)],
        );
        assert_eq!(mon.code, 1, "{cert}: {mon:?}");
        assert!(
            mon.reason().unwrap().contains(needle),
            "{cert}: expected {needle:?} in {mon:?}"
        );
    }

    // A start whose server never gets a trusted certificate fails with that reason.
    let bad = Managed::new(&pki, "expired", free_port(), &[]);
    let start = bad
        .agent
        .run_with("start", &[("OCF_RESKEY_CRM_meta_timeout", "4000")]);
    assert_eq!(start.code, 1, "{start:?}");
    assert!(start.reason().unwrap().contains("expired"), "{start:?}");

    assert_eq!(a.run("stop").code, 0);
}

#[test]
fn passes_ocf_tester_with_an_https_health_url() {
    let Ok(()) = require(
        have("ocf-tester"),
        "ocf-tester (Debian resource-agents) is not installed",
    ) else {
        return;
    };
    let Ok(()) = require(is_root(), "ocf-tester needs root (it runs su nobody)") else {
        return;
    };
    let Some(pki) = Pki::new() else { return };
    let m = Managed::new(&pki, "good", free_port(), &[]);
    tests::ocf_tester(&m.agent, "api");
}
