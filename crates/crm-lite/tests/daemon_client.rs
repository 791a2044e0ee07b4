//! The commands as clients of a running daemon, end to end: the real `crm-lite` binary
//! talks to a stand-in daemon on a socket (`CRM_LITE_SOCKET`) that records each request
//! line and answers from a script. Without a daemon, `apply` says it acts on this machine.
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use assert_cmd::Command;

/// Listens on `path`, takes one client, records its request line and answers `lines`.
fn stand_in(path: &Path, lines: &[&str]) -> JoinHandle<String> {
    let listener = UnixListener::bind(path).unwrap_or_else(|e| panic!("bind: {e}"));
    let lines: Vec<String> = lines.iter().map(|l| format!("{l}\n")).collect();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap_or_else(|e| panic!("accept: {e}"));
        let mut request = String::new();
        let _ = BufReader::new(&stream).read_line(&mut request);
        if !request.is_empty() {
            let mut w = &stream;
            for l in &lines {
                let _ = w.write_all(l.as_bytes());
            }
        }
        request
    })
}

const CIB: &str = r#"<cib validate-with="pacemaker-3.9" epoch="4" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
"#;

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sock = t.path().join("crm-lite.sock");
    let cib = t.path().join("web.xml");
    std::fs::write(&cib, CIB).unwrap_or_else(|e| panic!("{e}"));
    (t, sock, cib)
}

fn crm_lite(sock: &Path) -> Command {
    let mut c = Command::cargo_bin("crm-lite").unwrap_or_else(|e| panic!("{e}"));
    c.env("CRM_LITE_SOCKET", sock);
    c
}

#[test]
fn apply_hands_the_file_to_the_daemon_and_prints_its_progress_until_done() {
    let (t, sock, cib) = setup();
    let daemon = stand_in(
        &sock,
        &[
            r#"{"progress":"configuration 0.4.0 accepted"}"#,
            r#"{"progress":"start web on n2"}"#,
            r#"{"done":{"ok":true,"message":"converged"}}"#,
        ],
    );
    let out = crm_lite(&sock)
        .args(["apply", cib.to_str().expect("utf-8")])
        .args([
            "--state-dir",
            t.path().join("state").to_str().expect("utf-8"),
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].contains("the cluster daemon runs on this node") && lines[0].contains("handing"),
        "{stdout}"
    );
    assert_eq!(
        &lines[1..],
        [
            "configuration 0.4.0 accepted",
            "start web on n2",
            "converged"
        ]
    );
    let request: serde_json::Value =
        serde_json::from_str(&daemon.join().expect("stand-in")).expect("a JSON request line");
    assert_eq!(request["apply"]["xml"], CIB);
    assert!(
        request["apply"]["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("web.xml"))
    );
    assert!(
        !t.path().join("state").exists(),
        "nothing local was written"
    );
}

#[test]
fn apply_fails_when_the_daemon_says_so_and_refuses_an_invalid_cib_before_asking() {
    let (_t, sock, cib) = setup();
    let daemon = stand_in(
        &sock,
        &[
            r#"{"done":{"ok":false,"message":"refused: epoch 0.4.0 is older than the cluster's 0.9.2"}}"#,
        ],
    );
    let out = crm_lite(&sock)
        .args(["apply", cib.to_str().expect("utf-8")])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("older than the cluster's 0.9.2"),
        "{stdout}"
    );
    daemon.join().expect("stand-in");

    std::fs::remove_file(&sock).expect("rm socket");
    let daemon = stand_in(&sock, &[r#"{"done":{"ok":true,"message":"converged"}}"#]);
    std::fs::write(&cib, "<cib><configuration><resources><primitive/>").expect("write");
    let out = crm_lite(&sock)
        .args(["apply", cib.to_str().expect("utf-8")])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(78),
        "an invalid CIB is refused as verify does"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("web.xml"),
        "the error names the file"
    );
    assert_eq!(
        daemon.join().expect("stand-in"),
        "",
        "the daemon was asked nothing"
    );
}

#[test]
fn status_move_ban_clear_cleanup_ask_the_daemon() {
    let (_t, sock, _) = setup();
    let status = r#"{"status":{"local":"n1","quorate":true,"coordinator":"n1","version":"0.4.7","nodes":[{"name":"n1","id":1,"state":"online"},{"name":"n2","id":2,"state":"UNCLEAN"}],"resources":[{"id":"web","agent":"ocf:crm-lite:mgmt-api","role":"Started","nodes":["n1"]}],"failures":[],"fencing":["1796466538.100 n2 off failed"],"busy":false}}"#;
    let daemon = stand_in(&sock, &[status]);
    let out = crm_lite(&sock)
        .args(["status"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("n2 (id 2): UNCLEAN"), "{text}");
    assert!(
        text.contains("Fencing history:\n  * 1796466538.100 n2 off failed"),
        "{text}"
    );
    assert_eq!(daemon.join().expect("stand-in").trim(), r#""status""#);

    std::fs::remove_file(&sock).expect("rm socket");
    let daemon = stand_in(&sock, &[status]);
    let out = crm_lite(&sock)
        .args(["status", "--json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON status");
    assert_eq!(v["coordinator"], "n1");
    assert_eq!(v["nodes"][1]["state"], "UNCLEAN");
    daemon.join().expect("stand-in");

    for (args, want) in [
        (
            vec!["move", "web", "n2"],
            r#"{"place":{"rsc":"web","node":"n2","ban":false}}"#,
        ),
        (
            vec!["ban", "web", "n1"],
            r#"{"place":{"rsc":"web","node":"n1","ban":true}}"#,
        ),
        (
            vec!["clear", "web"],
            r#"{"clear":{"rsc":"web","node":null}}"#,
        ),
        (
            vec!["cleanup", "web"],
            r#"{"cleanup":{"rsc":"web","node":null}}"#,
        ),
    ] {
        std::fs::remove_file(&sock).expect("rm socket");
        let daemon = stand_in(
            &sock,
            &[
                r#"{"progress":"cli-prefer-web added"}"#,
                r#"{"done":{"ok":true,"message":"done"}}"#,
            ],
        );
        let out = crm_lite(&sock)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "cli-prefer-web added\ndone\n"
        );
        assert_eq!(daemon.join().expect("stand-in").trim(), want, "{args:?}");
    }
}

#[test]
fn without_a_daemon_apply_says_it_acts_on_this_machine() {
    let (t, sock, cib) = setup();
    let out = crm_lite(&sock)
        .args(["apply", "--dry-run", cib.to_str().expect("utf-8")])
        .args([
            "--state-dir",
            t.path().join("state").to_str().expect("utf-8"),
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().next().is_some_and(
            |l| l.contains("no cluster daemon on this node") && l.contains("on this machine")
        ),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Listens on `path`, takes one client, reads its request and then says nothing until
/// `release` is dropped (a daemon that accepts and is stuck); returns the request.
fn stuck(path: &Path, release: std::sync::mpsc::Receiver<()>) -> JoinHandle<String> {
    let listener = UnixListener::bind(path).unwrap_or_else(|e| panic!("bind: {e}"));
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap_or_else(|e| panic!("accept: {e}"));
        let mut request = String::new();
        let _ = BufReader::new(&stream).read_line(&mut request);
        let _ = release.recv();
        drop(stream);
        request
    })
}

#[test]
fn a_daemon_that_accepts_and_never_answers_is_a_clear_error_with_exit_124() {
    let (_t, sock, _) = setup();
    for args in [vec!["status"], vec!["move", "web", "n2"]] {
        let _ = std::fs::remove_file(&sock);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let daemon = stuck(&sock, wait);
        let start = std::time::Instant::now();
        let out = crm_lite(&sock)
            .env("CRM_LITE_ANSWER_TIMEOUT", "1")
            .args(&args)
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let took = start.elapsed();
        drop(release);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(124), "{args:?}: {stderr}");
        assert!(
            stderr.contains("accepted the request but did not answer within 1 s")
                && stderr.contains(sock.to_str().expect("utf-8")),
            "{stderr}"
        );
        assert!(took < std::time::Duration::from_secs(10), "{took:?}");
        assert!(!daemon.join().expect("stand-in").is_empty(), "it was asked");
    }
}

#[test]
fn the_answer_timeout_is_for_the_first_answer_a_transition_may_take_longer() {
    let (_t, sock, _) = setup();
    let listener = UnixListener::bind(&sock).unwrap_or_else(|e| panic!("bind: {e}"));
    let daemon = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap_or_else(|e| panic!("accept: {e}"));
        let mut request = String::new();
        let _ = BufReader::new(&stream).read_line(&mut request);
        let mut w = &stream;
        let _ = w.write_all(b"{\"progress\":\"asking the cluster to move web to n2\"}\n");
        std::thread::sleep(std::time::Duration::from_millis(2500));
        let _ = w.write_all(b"{\"done\":{\"ok\":true,\"message\":\"the cluster converged\"}}\n");
    });
    let out = crm_lite(&sock)
        .env("CRM_LITE_ANSWER_TIMEOUT", "1")
        .args(["move", "web", "n2"])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.ends_with("the cluster converged\n"), "{stdout}");
    daemon.join().expect("stand-in");
}

#[test]
fn status_shows_a_failed_resource_with_the_operation_that_failed() {
    let (_t, sock, _) = setup();
    let status = r#"{"status":{"local":"n1","quorate":true,"coordinator":"n1","version":"0.4.7","nodes":[{"name":"n1","id":1,"state":"online"}],"resources":[{"id":"web","agent":"ocf:crm-lite:mgmt-api","role":"Started","nodes":["n1"],"failed":true,"failed_op":"monitor (every 10 s): rc 7 (not running)"},{"id":"db","agent":"ocf:crm-lite:mysql","role":"Promoted","nodes":["n1"]}],"failures":[],"fencing":[],"busy":false}}"#;
    let daemon = stand_in(&sock, &[status]);
    let out = crm_lite(&sock)
        .args(["status"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.lines().any(|l| l.contains("web")
            && l.contains("Started    n1 FAILED (monitor (every 10 s): rc 7 (not running))")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("db") && l.contains("Promoted") && !l.contains("FAILED")),
        "{text}"
    );
    daemon.join().expect("stand-in");
    std::fs::remove_file(&sock).expect("rm socket");
    let daemon = stand_in(&sock, &[status]);
    let out = crm_lite(&sock)
        .args(["status", "--output-as", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON status");
    assert_eq!(v["resources"][0]["failed"], true);
    assert_eq!(
        v["resources"][0]["failed_op"],
        "monitor (every 10 s): rc 7 (not running)"
    );
    assert_eq!(v["resources"][1]["failed"], false);
    daemon.join().expect("stand-in");
}
