//! Pacemaker's own scheduler suite (799 CIBs in `../shared/pacemaker-suite/xml`, GPL data
//! used in place, never copied): no CIB makes the parser panic, and every CIB that
//! `crm_verify` accepts is accepted here (by the reader and by `check_runnable`, as `crm-lite
//! verify` checks it) or rejected only with `unsupported:` errors.
//!
//! Fails when the suite or `crm_verify` is absent, unless a person set `CRM_LITE_ALLOW_SKIP=1`.
#![allow(clippy::print_stdout)] // the skip notice is the test's output
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn suite_dir() -> PathBuf {
    test_support::shared_dir(env!("CARGO_MANIFEST_DIR")).join("pacemaker-suite/xml")
}

fn crm_verify() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("crm_verify"))
        .find(|p| p.is_file())
}

#[test]
fn crm_verify_accepted_cibs_are_accepted_or_unsupported() {
    let dir = suite_dir();
    let entries = std::fs::read_dir(&dir);
    let Ok(()) = test_support::require(entries.is_ok(), &format!("{} is absent", dir.display()))
    else {
        return;
    };
    let Ok(entries) = entries else { return };
    let verify = crm_verify();
    let Ok(()) = test_support::require(
        verify.is_some(),
        "crm_verify is not installed (Debian: pacemaker-cli-utils)",
    ) else {
        return;
    };
    let Some(verify) = verify else { return };
    let shadow = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    let check = |f: &PathBuf| -> Option<String> {
        let name = f.file_name()?.to_string_lossy().into_owned();
        let bytes = std::fs::read(f).ok()?;
        // What `crm-lite verify` checks beyond the reader: what crm-lite would run.
        let read = || {
            let mut p = cib::parse_bytes(&name, &bytes);
            p.check_runnable();
            p
        };
        let parsed = match std::panic::catch_unwind(read) {
            Ok(p) => p,
            Err(_) => return Some(format!("{name}: parser panicked")),
        };
        let accepted = Command::new(&verify)
            .arg("-x")
            .arg(f)
            .env("CIB_shadow_dir", shadow.path())
            .env("LC_ALL", "C")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let bad: Vec<String> = parsed
            .diagnostics
            .iter()
            .filter(|d| d.is_error() && !d.is_unsupported())
            .map(|d| d.to_string())
            .collect();
        (accepted && !bad.is_empty()).then(|| format!("{name}: {}", bad.join("; ")))
    };
    let half = files.len().div_ceil(2);
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(half.max(1))
            .map(|chunk| s.spawn(move || chunk.iter().filter_map(check).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec!["checker thread panicked".into()])
            })
            .collect()
    });
    assert!(
        files.len() > 700,
        "only {} CIBs in {}",
        files.len(),
        dir.display()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
