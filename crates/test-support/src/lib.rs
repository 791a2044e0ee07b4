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
    let mut dir = PathBuf::from(manifest_dir);
    loop {
        if dir.join("Cargo.lock").is_file() {
            let beside = dir.join("../shared");
            if beside.is_dir() {
                return beside;
            }
            return main_repository(&dir).map_or(beside, |main| main.join("../shared"));
        }
        if !dir.pop() {
            return PathBuf::from(manifest_dir).join("../../../shared");
        }
    }
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
