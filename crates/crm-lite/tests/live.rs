//! `verify --live` and `simulate --live` read the CIB through `cibadmin -Q`, which (like
//! crm_verify -L and crm_simulate -L) reads `CIB_file` instead of a running Pacemaker when it
//! is set: so, without a cluster, `--live` on an example says what the example's file says,
//! and with no CIB at all both crm-lite and crm_verify -L end with 66 (the lab test
//! `tests/system/live.rs` checks them against a running Pacemaker).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt as _;
use test_support::require;

const NOW: &str = "1700000000";

fn have(program: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Path::new(d).join(program).is_file())
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../cib-examples")
        .join(name)
        .join("cib.xml")
}

fn crm_lite(args: &[&str], cib_file: Option<&Path>) -> Output {
    let mut cmd = Command::cargo_bin("crm-lite").expect("crm-lite built");
    cmd.args(args).env_remove("CIB_file");
    if let Some(f) = cib_file {
        cmd.env("CIB_file", f);
    }
    cmd.output().expect("run crm-lite")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn live_reads_what_cibadmin_gives_and_plans_and_checks_as_for_the_file() {
    let Ok(()) = require(have("cibadmin"), "cibadmin (pacemaker-cli-utils)") else {
        return;
    };
    for case in ["cloudmin-host-down", "demo-stack", "drbd-filesystem"] {
        let file = example(case);
        let f = file.to_str().expect("utf-8 path");
        let from_file = crm_lite(&["simulate", "--format", "actions", "--now", NOW, f], None);
        let live = crm_lite(
            &["simulate", "--live", "--format", "actions", "--now", NOW],
            Some(&file),
        );
        assert!(
            from_file.status.success(),
            "{case}: {}",
            text(&from_file.stderr)
        );
        assert!(live.status.success(), "{case}: {}", text(&live.stderr));
        assert!(text(&live.stdout).contains("== actions"), "{case}");
        assert_eq!(
            text(&live.stdout),
            text(&from_file.stdout),
            "{case}: simulate"
        );

        let from_file = crm_lite(&["verify", "--no-agent-check", f], None);
        let live = crm_lite(&["verify", "--live", "--no-agent-check"], Some(&file));
        assert_eq!(
            live.status.code(),
            from_file.status.code(),
            "{case}: verify"
        );
        // The same diagnostics, named after the live CIB rather than the file.
        assert_eq!(
            text(&live.stdout),
            text(&from_file.stdout).replace(f, "live CIB"),
            "{case}: verify"
        );
    }
}

#[test]
fn with_no_cib_to_read_live_ends_with_66_as_crm_verify_does_and_says_why() {
    let Ok(()) = require(have("cibadmin"), "cibadmin (pacemaker-cli-utils)") else {
        return;
    };
    let missing = Path::new("/nonexistent/crm-lite-live-test/cib.xml");
    for args in [&["verify", "--live"][..], &["simulate", "--live"][..]] {
        let out = crm_lite(args, Some(missing));
        assert_eq!(
            out.status.code(),
            Some(66),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(err.contains("no live CIB to read"), "{args:?}: {err}");
        assert!(err.contains("Pacemaker running"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    }
    if have("crm_verify") {
        let pcmk = Command::new("crm_verify")
            .arg("-L")
            .env("CIB_file", missing)
            .output()
            .expect("crm_verify");
        assert_eq!(pcmk.status.code(), Some(66), "crm_verify -L with no CIB");
    }
}
