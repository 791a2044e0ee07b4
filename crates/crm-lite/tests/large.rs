//! `crm-lite simulate` on a CIB file large enough to be read in parts, one thread a part
//! (`simulate::read_lean`): the plan is the one made from the same text read in one
//! piece from standard input, also when a cut would fall in a comment.
use assert_cmd::Command;

/// Plan `text` with `simulate --format actions`, from a file and from standard input;
/// and what the file's reading logged.
fn plans(text: &str) -> (String, String, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("cib.xml");
    std::fs::write(&file, text).expect("write the CIB");
    let args = ["simulate", "--format", "actions", "--now", "1700000100"];
    let run = |stdin: bool| {
        let mut cmd = Command::cargo_bin("crm-lite").expect("crm-lite is built");
        cmd.args(args).env("CRM_LITE_LOG", "debug");
        if stdin {
            cmd.arg("-").write_stdin(text.as_bytes());
        } else {
            cmd.arg(&file);
        }
        let out = cmd.output().expect("crm-lite runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        (String::from_utf8(out.stdout).expect("UTF-8 output"), log)
    };
    let ((file, log), (stdin, _)) = (run(false), run(true));
    (file, stdin, log)
}

fn generated() -> String {
    let text = cib_gen::generate(&cib_gen::Config {
        nodes: 30,
        resources: 2500,
        seed: 5,
        status: true,
    });
    // Above the size below which simulate reads on one thread.
    assert!(text.len() > 6 << 20, "{} bytes", text.len());
    text
}

/// `text` plans the same from its file as from standard input, and its file's reading
/// logged `read` (on a machine of one core it is read in one part; this one has two at
/// least).
fn plans_alike(text: &str, read: &str) {
    let (file, stdin, log) = plans(text);
    assert!(
        file.contains("== actions") && file.lines().count() > 1000,
        "{file}"
    );
    assert_eq!(file, stdin);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(cores < 2 || log.contains(read), "{log}");
}

#[test]
fn a_large_cib_read_in_parts_plans_as_read_in_one() {
    plans_alike(&generated(), "read in parts");
}

#[test]
fn a_large_cib_whose_cut_falls_in_a_comment_plans_as_read_in_one() {
    // Each node of the status section after the middle commented out, its copy left in
    // place: every cut after the middle falls in a comment.
    let text = generated();
    let middle = text.len() / 2;
    let mut out = String::with_capacity(text.len() * 2);
    out.push_str(&text[..middle]);
    out.push_str(
        &text[middle..].replace("<node_state ", "<!-- <node_state x=\"1\"/> --><node_state "),
    );
    plans_alike(&out, "read again in one part");
}
