//! Every `cib-examples/<case>/cib.xml` against Pacemaker itself:
//! - `crm_verify -x` finds no error in it (the only warnings allowed are the ones a lost
//!   node causes: it will be fenced, it is unclean, its operations cannot run, and those of
//!   a cluster without fencing or quorum);
//! - `crm-lite simulate --format actions` prints exactly what
//!   `../shared/tools/pacemaker-oracle --strip-instances` prints for `crm_simulate`.
//!
//! Both fail when their tool is missing (`test_support::require`). One CIB is an exception
//! to the oracle, and the test checks that it still is: `crm_simulate -S` gives up on
//! `vmmanager-no-quorum` ("An invalid transition was produced", exit 1) because the stops
//! on the nodes a partition without quorum cannot fence never run. For it, crm-lite's
//! actions and blocked actions are compared with `crm_simulate`'s transition summary,
//! which `-R` prints without simulating the transition.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt as _;
use test_support::{require, shared_dir};

/// Same "now" as `examples.rs`.
const NOW: &str = "1700000000";

/// Examples on which `crm_simulate -S` (and so the oracle) fails, and why.
const ORACLE_CANNOT_SIMULATE: &[(&str, &str)] = &[(
    "vmmanager-no-quorum",
    "a partition without quorum cannot fence, so the stops on its lost nodes never run",
)];

fn examples() -> Vec<PathBuf> {
    test_support::cib_examples(env!("CARGO_MANIFEST_DIR"))
}

fn have(program: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Path::new(d).join(program).is_file())
}

fn name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A scratch directory for `crm_simulate`'s shadow copy (it writes one even for `-x`),
/// removed when dropped.
fn shadow_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}

/// The warnings `crm_verify -VV` logs for a CIB whose status has a lost node (it will be
/// fenced, it is unclean, its operations cannot run), and the two it logs for the
/// one-machine demo (fencing disabled, no quorum recorded): they describe what the example
/// shows, not a fault in its configuration.
fn lost_node_warning(line: &str) -> bool {
    [
        "will be fenced",
        "is unclean",
        "is unrunnable (node",
        "for fencing",
        "Blind faith: not fencing unseen nodes",
        "due to lack of quorum",
        "cannot be fenced",
    ]
    .iter()
    .any(|w| line.contains(w))
}

fn crm_verify(dir: &Path) -> Result<(), String> {
    let cib = dir.join("cib.xml");
    let shadow = shadow_dir();
    let out = Command::new("crm_verify")
        .arg("-x")
        .arg(&cib)
        .arg("-VV")
        .env("CIB_shadow_dir", shadow.path())
        .output()
        .map_err(|e| format!("crm_verify: {e}"))?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code();
    let errors = text.contains("Errors found") || text.contains("error:");
    let other_warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("warning:") && !lost_node_warning(l))
        .collect();
    let clean = code == Some(0) || code == Some(78) && text.contains("Warnings found");
    if !clean || errors || !other_warnings.is_empty() {
        return Err(format!(
            "crm_verify -x {} (exit {code:?}):\n{text}",
            cib.display()
        ));
    }
    Ok(())
}

fn crm_lite_actions(cib: &Path) -> Result<String, String> {
    let out = Command::cargo_bin("crm-lite")
        .map_err(|e| e.to_string())?
        .args(["simulate", "--format", "actions", "--now", NOW])
        .arg(cib)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "crm-lite simulate failed on {}: {}",
            cib.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The lines of one `== name` section of the `--format actions` text.
fn section(text: &str, name: &str) -> BTreeSet<String> {
    let head = format!("== {name}");
    text.lines()
        .skip_while(|l| *l != head)
        .skip(1)
        .take_while(|l| !l.starts_with("== "))
        .map(str::to_owned)
        .collect()
}

/// `crm_simulate -R`'s transition summary, decomposed as the oracle does:
/// (actions, blocked). Only the verbs these examples need; any other fails the test.
fn summary_actions(cib: &Path) -> Result<(BTreeSet<String>, BTreeSet<String>), String> {
    let shadow = shadow_dir();
    let out = Command::new("crm_simulate")
        .arg("-R")
        .arg("-x")
        .arg(cib)
        .env("CIB_shadow_dir", shadow.path())
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| format!("crm_simulate: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "crm_simulate -R -x {} failed: {}",
            cib.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut actions, mut blocked) = (BTreeSet::new(), BTreeSet::new());
    let items = text
        .lines()
        .skip_while(|l| !l.starts_with("Transition Summary:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty());
    for line in items {
        let item = line.trim().trim_start_matches("* ");
        let mut words = item.split_whitespace();
        let (Some(verb), Some(rsc)) = (words.next(), words.next()) else {
            return Err(format!("unreadable summary line: {line}"));
        };
        let rsc = rsc.split(':').next().unwrap_or(rsc);
        let inside = item
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(inside, _)| inside)
            .ok_or_else(|| format!("summary line without a node: {line}"))?;
        let mut where_ = inside.split_whitespace().collect::<Vec<_>>();
        let node = where_.pop().ok_or_else(|| format!("no node in: {line}"))?;
        let promoted = where_.contains(&"Promoted");
        let mut decomposed = Vec::new();
        match verb {
            "Stop" => {
                if promoted {
                    decomposed.push(format!("demote {rsc} on {node}"));
                }
                decomposed.push(format!("stop {rsc} on {node}"));
            }
            "Start" if !promoted => decomposed.push(format!("start {rsc} on {node}")),
            _ => return Err(format!("summary verb this test does not decompose: {line}")),
        }
        let target = if item.ends_with("blocked") || item.ends_with("(blocked)") {
            &mut blocked
        } else {
            &mut actions
        };
        target.extend(decomposed);
    }
    Ok((actions, blocked))
}

#[test]
fn every_example_passes_crm_verify() {
    let Ok(()) = require(
        have("crm_verify"),
        "crm_verify (pacemaker-cli-utils) is not installed",
    ) else {
        return;
    };
    let dirs = examples();
    assert!(
        dirs.len() >= 10,
        "expected the cib-examples, found {dirs:?}"
    );
    // cib-examples/README.md says every example passes: no CIB may sit where this loop
    // does not look (a folder without cib.xml, or a second XML file in one).
    let root = dirs[0].parent().map(Path::to_path_buf).unwrap_or_default();
    let mut unchecked = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if !path.is_dir() {
            continue;
        }
        let files = std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for f in files.filter_map(|f| f.ok().map(|f| f.path())) {
            if f.extension().is_some_and(|x| x == "xml")
                && !(f.ends_with("cib.xml") && dirs.contains(&path))
            {
                unchecked.push(f);
            }
        }
        if !dirs.contains(&path) {
            unchecked.push(path);
        }
    }
    assert!(
        unchecked.is_empty(),
        "examples crm_verify does not check: {unchecked:?}"
    );
    let failures: Vec<String> = dirs.iter().filter_map(|d| crm_verify(d).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_example_plans_what_pacemaker_plans() {
    let oracle = shared_dir(env!("CARGO_MANIFEST_DIR")).join("tools/pacemaker-oracle");
    let Ok(()) = require(
        have("crm_simulate") && have("python3"),
        "crm_simulate (pacemaker-cli-utils) or python3 is not installed",
    ) else {
        return;
    };
    let Ok(()) = require(
        oracle.is_file(),
        "../shared/tools/pacemaker-oracle is absent",
    ) else {
        return;
    };
    let mut failures = Vec::new();
    for dir in examples() {
        let case = name(&dir);
        let cib = dir.join("cib.xml");
        let ours = match crm_lite_actions(&cib) {
            Ok(o) => o,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let out = Command::new(&oracle)
            .arg("--strip-instances")
            .arg(&cib)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", oracle.display()));
        let exception = ORACLE_CANNOT_SIMULATE.iter().find(|(c, _)| *c == case);
        if let Some((_, why)) = exception {
            if out.status.success() {
                failures.push(format!(
                    "{case}: the oracle now simulates it ({why} no longer holds): \
                     remove it from ORACLE_CANNOT_SIMULATE"
                ));
                continue;
            }
            match summary_actions(&cib) {
                Ok((actions, blocked)) => {
                    let (a, b) = (section(&ours, "actions"), section(&ours, "blocked"));
                    if a != actions || b != blocked {
                        failures.push(format!(
                            "{case}: crm_simulate's summary plans\n  actions {actions:?}\n  \
                             blocked {blocked:?}\ncrm-lite plans\n  actions {a:?}\n  blocked {b:?}"
                        ));
                    }
                }
                Err(e) => failures.push(format!("{case}: {e}")),
            }
            continue;
        }
        if !out.status.success() {
            failures.push(format!(
                "{case}: the oracle failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let theirs = String::from_utf8_lossy(&out.stdout);
        if theirs != ours {
            failures.push(format!(
                "{case}: crm-lite and crm_simulate differ\n--- crm_simulate\n{theirs}--- crm-lite\n{ours}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
