//! Golden scenarios: every `cib-examples/<case>/cib.xml` is accepted by `crm-lite verify`,
//! and `crm-lite simulate --format actions` on it prints exactly `<case>/expected.txt`.
//! `UPDATE_EXPECT=1 cargo test -p crm-lite --test examples` rewrites the expected files;
//! review the diff. (Each expected file was also checked against crm_simulate with
//! `scripts/scheduler-fidelity --list`-style diffs; see cib-examples/README.md.)
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// "Now" for the scenarios, so failure-timeout and date rules never depend on the clock.
const NOW: &str = "1700000000";

fn examples() -> Vec<PathBuf> {
    test_support::cib_examples(env!("CARGO_MANIFEST_DIR"))
}

fn check(dir: &Path) -> Result<(), String> {
    let cib = dir.join("cib.xml");
    let verify = Command::cargo_bin("crm-lite")
        .map_err(|e| e.to_string())?
        .args(["verify", "--no-agent-check"])
        .arg(&cib)
        .output()
        .map_err(|e| e.to_string())?;
    if !verify.status.success() {
        return Err(format!(
            "crm-lite verify rejects {}:\n{}{}",
            cib.display(),
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        ));
    }
    let out = Command::cargo_bin("crm-lite")
        .map_err(|e| e.to_string())?
        .args(["simulate", "--format", "actions", "--now", NOW])
        .arg(&cib)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "crm-lite simulate failed on {}: {}",
            cib.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let actual = String::from_utf8_lossy(&out.stdout).into_owned();
    let expected_path = dir.join("expected.txt");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_path, &actual).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&expected_path).map_err(|e| {
        format!(
            "cannot read {}: {e} (run with UPDATE_EXPECT=1)",
            expected_path.display()
        )
    })?;
    if expected != actual {
        return Err(format!(
            "{}: simulate output differs from expected.txt\n--- expected\n{expected}--- actual\n{actual}",
            dir.display()
        ));
    }
    Ok(())
}

#[test]
fn every_example_verifies_and_simulates_as_recorded() {
    let dirs = examples();
    assert!(
        dirs.len() >= 4,
        "expected the cib-examples scenarios, found {dirs:?}"
    );
    let failures: Vec<String> = dirs.iter().filter_map(|d| check(d).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
