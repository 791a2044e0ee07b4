//! What every test of crm-lite shares: the rule for requirements.
//!
//! A test whose requirement (a package, root, `../shared`) is missing **fails**. Only a
//! person who sets `CRM_LITE_ALLOW_SKIP=1` by hand may skip it: the test then prints
//! `skipped: <reason>` and passes. `scripts/test` and `.ci/run` never set that variable.
#![deny(missing_docs)]

use std::path::PathBuf;

/// A test skipped for want of a requirement (only under `CRM_LITE_ALLOW_SKIP=1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skipped;

/// Whether a person allowed missing requirements to skip tests (`CRM_LITE_ALLOW_SKIP=1`).
pub fn skip_allowed() -> bool {
    std::env::var("CRM_LITE_ALLOW_SKIP").is_ok_and(|v| v == "1")
}

/// Check a requirement: `Ok` when met. When it is not met the test fails with a panic
/// naming it, unless skipping is allowed ([`skip_allowed`]): then `Err` after printing
/// `skipped: <reason>` (to the real stderr, past the test harness's capture).
/// Use as `let Ok(()) = require(..) else { return };`.
pub fn require(met: bool, reason: &str) -> Result<(), Skipped> {
    if met {
        return Ok(());
    }
    assert!(
        skip_allowed(),
        "requirement not met: {reason} (a person may skip this test by setting \
         CRM_LITE_ALLOW_SKIP=1; CI never does)"
    );
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "skipped: {reason}");
    Err(Skipped)
}

/// `../shared` beside the project root (the team's reference material: Pacemaker's
/// scheduler suite and its tools), found from a crate's manifest directory. In a git
/// worktree (`.git` is a file naming the main repository's `.git/worktrees/<name>`) whose
/// own parent has no `shared`, it is the one beside the main repository.
pub fn shared_dir(manifest_dir: &str) -> PathBuf {
    let Some(dir) = workspace_root(manifest_dir) else {
        return PathBuf::from(manifest_dir).join("../../../shared");
    };
    let beside = dir.join("../shared");
    if beside.is_dir() {
        return beside;
    }
    main_repository(&dir).map_or(beside, |main| main.join("../shared"))
}

/// The workspace root (the directory with `Cargo.lock`) at or above `manifest_dir`.
fn workspace_root(manifest_dir: &str) -> Option<PathBuf> {
    let mut dir = PathBuf::from(manifest_dir);
    while !dir.join("Cargo.lock").is_file() {
        if !dir.pop() {
            return None;
        }
    }
    Some(dir)
}

/// The main repository of the git worktree at `root`, when `root/.git` is a file
/// `gitdir: <main>/.git/worktrees/<name>`.
fn main_repository(root: &std::path::Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(root.join(".git")).ok()?;
    let gitdir = PathBuf::from(text.strip_prefix("gitdir:")?.trim());
    // <main>/.git/worktrees/<name> -> <main>
    let main = gitdir.parent()?.parent()?.parent()?;
    main.join("Cargo.lock")
        .is_file()
        .then(|| main.to_path_buf())
}

/// Pacemaker's scheduler suite in `../shared` and the names of its core cases
/// (`core.txt`); `None` when the suite is absent and a person allowed skipping (the test
/// fails otherwise, as [`require`] says).
pub fn pacemaker_core_cases(manifest_dir: &str) -> Option<(PathBuf, Vec<String>)> {
    let suite = shared_dir(manifest_dir).join("pacemaker-suite");
    let listed = std::fs::read_to_string(suite.join("core.txt"));
    require(
        listed.is_ok(),
        &format!("Pacemaker's scheduler suite at {}", suite.display()),
    )
    .ok()?;
    let cases = listed
        .ok()?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    Some((suite, cases))
}

/// The scenario folders of `cib-examples/` (each with a `cib.xml`), sorted, found from a
/// crate's manifest directory inside the workspace.
pub fn cib_examples(manifest_dir: &str) -> Vec<PathBuf> {
    let root = workspace_root(manifest_dir)
        .unwrap_or_else(|| panic!("no workspace above {manifest_dir}"))
        .join("cib-examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("cib.xml").is_file())
        .collect();
    dirs.sort();
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_met_requirement_is_ok() {
        assert_eq!(require(true, "nothing"), Ok(()));
    }

    #[test]
    fn shared_is_found_beside_the_workspace_root() {
        let d = shared_dir(env!("CARGO_MANIFEST_DIR"));
        assert!(d.ends_with("../shared"), "{}", d.display());
        // `d` is `<root>/../shared`: <root> is the project's checkout, or the main
        // repository of the git worktree this checkout is.
        let root = d.parent().and_then(std::path::Path::parent);
        assert!(
            root.is_some_and(|r| r.join("Cargo.lock").is_file()),
            "{}",
            d.display()
        );
    }
}
