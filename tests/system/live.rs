//! `crm-lite verify --live` and `crm-lite simulate --live` against a running Pacemaker, in a
//! 3-node lab (`LAB_STACK=pacemaker`, lab `ccp`) running three Dummy resources with a
//! location preference, a colocation and an anti-colocation: once Pacemaker has placed them,
//! crm-lite reads the same CIB through cibadmin and agrees with crm_verify -L (valid) and
//! crm_simulate -L (nothing to do), and says where each resource runs as crm_resource does.
//! After a node is lost and Pacemaker has recovered, they agree again.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tests::lab::Lab;
use tests::{built, have, is_root, require};

const LAB: &str = "ccp";
const RSCS: [&str; 3] = ["d1", "d2", "d3"];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Where Pacemaker runs `rsc`, asked on `from`.
fn located(lab: &Lab, from: &str, rsc: &str) -> Option<String> {
    let out = lab.exec(from, &["crm_resource", "--locate", "-r", rsc]);
    text(&out.stdout)
        .lines()
        .filter(|l| !l.contains("UNCLEAN"))
        .find_map(|l| l.split("running on:").nth(1))
        .map(|n| n.trim().to_string())
}

/// crm_simulate -L -R's transition summary lines, asked on `from`.
fn pacemaker_summary(lab: &Lab, from: &str) -> Vec<String> {
    let out = lab.exec(from, &["env", "LC_ALL=C", "crm_simulate", "-L", "-R"]);
    assert!(
        out.status.success(),
        "crm_simulate -L -R: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
        .lines()
        .skip_while(|l| !l.starts_with("Transition Summary:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("Executing"))
        .map(|l| l.trim().to_string())
        .collect()
}

/// One `== name` section of `simulate --format actions`.
fn section(out: &str, name: &str) -> BTreeSet<String> {
    let head = format!("== {name}");
    out.lines()
        .skip_while(|l| *l != head)
        .skip(1)
        .take_while(|l| !l.starts_with("== "))
        .map(str::to_owned)
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out after {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Checks crm-lite's --live answers against Pacemaker's on `node`.
fn agree(lab: &Lab, crm_lite: &str, node: &str) {
    let pcmk = lab.exec(node, &["crm_verify", "-L"]);
    let ours = lab.exec(node, &[crm_lite, "verify", "--live"]);
    assert_eq!(
        ours.status.code(),
        pcmk.status.code(),
        "verify --live vs crm_verify -L on {node}: {}{} / {}",
        text(&ours.stdout),
        text(&ours.stderr),
        text(&pcmk.stderr)
    );
    assert_eq!(ours.status.code(), Some(0), "the lab's CIB is valid");
    assert!(
        !text(&ours.stdout).contains("error:"),
        "{}",
        text(&ours.stdout)
    );

    let summary = pacemaker_summary(lab, node);
    let now = format!("{}", tests::lab::now() as i64);
    let out = lab.exec(
        node,
        &[
            crm_lite, "simulate", "--live", "--format", "actions", "--now", &now,
        ],
    );
    assert!(
        out.status.success(),
        "simulate --live: {}",
        text(&out.stderr)
    );
    let plan = text(&out.stdout);
    // A converged cluster: Pacemaker has nothing to do, and neither has crm-lite.
    assert!(summary.is_empty(), "crm_simulate -L -R plans: {summary:?}");
    let actions = section(&plan, "actions");
    assert!(actions.is_empty(), "simulate --live plans: {actions:?}");
    // And it places every resource where Pacemaker runs it.
    let placement = section(&plan, "placement");
    for rsc in RSCS {
        let at = located(lab, node, rsc).unwrap_or_else(|| panic!("{rsc} runs nowhere"));
        let line = format!("{rsc}: {at} (Started)");
        assert!(
            placement.contains(&line),
            "simulate --live placement lacks {line:?}: {placement:?}"
        );
    }
}

#[test]
fn verify_live_and_simulate_live_agree_with_crm_verify_and_crm_simulate_on_a_running_pacemaker() {
    let Ok(()) = require(is_root(), "root (network and mount namespaces)") else {
        return;
    };
    let Ok(()) = require(have("crm_simulate"), "crm_simulate (pacemaker-cli-utils)") else {
        return;
    };
    let Some(bin) = built("crm-lite") else {
        let Ok(()) = require(false, "crm-lite built (cargo build -p crm-lite)") else {
            return;
        };
        return;
    };
    let crm_lite = bin.to_str().expect("utf-8 path").to_string();
    let lab = Lab::up_named(LAB, 3, "pacemaker", &[]).unwrap_or_else(|e| panic!("{e}"));
    for rsc in RSCS {
        let xml = format!(
            r#"<primitive id="{rsc}" class="ocf" provider="pacemaker" type="Dummy"><operations><op id="{rsc}-mon" name="monitor" interval="10s"/></operations></primitive>"#
        );
        let out = lab.exec("n1", &["cibadmin", "-C", "-o", "resources", "-X", &xml]);
        assert!(out.status.success(), "cibadmin: {}", text(&out.stderr));
    }
    let constraints = r#"<constraints>
  <rsc_location id="d1-prefers-n2" rsc="d1" node="n2" score="50"/>
  <rsc_colocation id="d2-with-d1" rsc="d2" with-rsc="d1" score="INFINITY"/>
  <rsc_colocation id="d3-apart" rsc="d3" with-rsc="d1" score="-INFINITY"/>
</constraints>"#;
    let out = lab.exec(
        "n1",
        &["cibadmin", "-M", "-o", "constraints", "-X", constraints],
    );
    assert!(out.status.success(), "cibadmin: {}", text(&out.stderr));
    let settled = |lab: &Lab| {
        RSCS.iter().all(|r| located(lab, "n1", r).is_some())
            && pacemaker_summary(lab, "n1").is_empty()
    };
    wait_until(
        "Pacemaker placed d1, d2, d3",
        Duration::from_secs(60),
        || settled(&lab),
    );
    assert_eq!(located(&lab, "n1", "d1").as_deref(), Some("n2"));
    agree(&lab, &crm_lite, "n1");
    agree(&lab, &crm_lite, "n3");

    // n2 loses its power: Pacemaker fences it and moves d1 and d2; then they agree again.
    lab.must(&["kill", "n2"]);
    wait_until(
        "d1 and d2 recovered off n2",
        Duration::from_secs(60),
        || {
            settled(&lab)
                && ["d1", "d2"]
                    .iter()
                    .all(|r| located(&lab, "n1", r).is_some_and(|n| n != "n2"))
        },
    );
    agree(&lab, &crm_lite, "n1");
}
