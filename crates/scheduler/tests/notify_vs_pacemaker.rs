//! Clone notifications against Pacemaker's own transition graphs: for every case of
//! Pacemaker's scheduler suite (`../shared/pacemaker-suite`, used in place) whose expected
//! graph (`exp/<case>.exp`) has `notify` operations and whose CIB crm-lite accepts, the
//! plan's notifications must be the graph's: the same instances told on the same nodes,
//! before or after the same operations, with the same `CRM_meta_notify_*` variables.
//!
//! Anonymous clone instance numbers are Pacemaker's own choice, so resource names and
//! resource lists are compared with the numbers removed (lists as sorted words, so a
//! missing or extra instance still counts); node lists as sorted words.
//!
//! Cases known to differ are listed in `KNOWN` with the reason. The test fails when another
//! case differs, and also when a known case starts to agree (the list must stay true).
//! Prints the count; fails when the suite is absent, unless a person set
//! `CRM_LITE_ALLOW_SKIP=1`.
#![allow(clippy::print_stdout)] // the count and the skip notice are the test's output
use std::collections::BTreeMap;

use cib::tree::Document;
use scheduler::{Input, NotifyStage, schedule};

/// Cases whose notifications differ, and why.
const KNOWN: [(&str, &str); 4] = [
    (
        "clone-no-shuffle",
        "the decisions differ (crm-lite keeps the DRBD instance where Pacemaker moves it)",
    ),
    (
        "interleave-pseudo-stop",
        "Pacemaker adds a second round of post-stop notifications after fencing \
         (notify_key_operation=stonith); crm-lite does not plan it",
    ),
    (
        "bug-1765",
        "not a core case: the decisions differ (crm-lite also demotes and promotes DRBD)",
    ),
    (
        "bug-cl-5212",
        "not a core case: Pacemaker cannot demote on a node without quorum and lists no demotion",
    ),
];

/// The variables compared: everything Pacemaker's notify operations carry under
/// `CRM_meta_notify_`.
fn compared(key: &str) -> bool {
    key.starts_with("notify_")
}

/// Drops an instance number (`rsc:2` → `rsc`).
fn base(id: &str) -> &str {
    match id.rsplit_once(':') {
        Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => b,
        _ => id,
    }
}

fn norm(key: &str, value: &str) -> String {
    let mut words: Vec<&str> = value.split_whitespace().collect();
    if key.ends_with("_resource") {
        words = words.into_iter().map(base).collect();
    }
    words.sort_unstable();
    words.join(" ")
}

/// (instance without number, node, stage, operation) → the variables of each such operation.
type Notifies = BTreeMap<(String, String, String, String), Vec<BTreeMap<String, String>>>;

fn pacemaker(exp: &str) -> Notifies {
    let (doc, err) = Document::parse(exp);
    assert!(err.is_none(), "the graph does not parse: {err:?}");
    let mut out = Notifies::new();
    for e in doc.all() {
        let el = doc.get(e);
        if el.name != "rsc_op" || el.attr("operation") != Some("notify") {
            continue;
        }
        let prim = doc.child(e, "primitive").map(|p| doc.get(p));
        let attrs = doc.child(e, "attributes").map(|a| doc.get(a));
        let (Some(prim), Some(attrs)) = (prim, attrs) else {
            continue;
        };
        let meta: BTreeMap<String, String> = attrs
            .attrs
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("CRM_meta_")?, v)))
            .filter(|(k, _)| compared(k))
            .map(|(k, v)| (k.to_owned(), norm(k, v)))
            .collect();
        let key = (
            base(prim.attr("id").unwrap_or_default()).to_owned(),
            el.attr("on_node").unwrap_or_default().to_owned(),
            meta.get("notify_type").cloned().unwrap_or_default(),
            meta.get("notify_operation").cloned().unwrap_or_default(),
        );
        out.entry(key).or_default().push(meta);
    }
    out
}

fn ours(cib: &cib::Cib, now: i64) -> Notifies {
    let plan = schedule(
        cib,
        &Input {
            now: Some(now),
            explain: false,
        },
    );
    let mut out = Notifies::new();
    for n in &plan.notifications {
        let stage = match n.stage {
            NotifyStage::Pre => "pre",
            NotifyStage::Post => "post",
        };
        let key = (
            base(&n.rsc).to_owned(),
            n.node.clone(),
            stage.to_owned(),
            n.operation.to_owned(),
        );
        let meta = n
            .vars
            .iter()
            .filter(|(k, _)| compared(k))
            .map(|(k, v)| (k.clone(), norm(k, v)))
            .collect();
        out.entry(key).or_default().push(meta);
    }
    out
}

/// What differs between Pacemaker's notifications and ours, one line each.
fn differences(theirs: &Notifies, mine: &Notifies) -> Vec<String> {
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<_> = theirs.keys().chain(mine.keys()).collect();
    for key in keys {
        let (mut t, mut m) = (
            theirs.get(key).cloned().unwrap_or_default(),
            mine.get(key).cloned().unwrap_or_default(),
        );
        if t.len() != m.len() {
            let what = if t.len() > m.len() {
                "missing"
            } else {
                "extra"
            };
            out.push(format!("{what}: {key:?}"));
            continue;
        }
        t.sort();
        m.sort();
        for (tv, mv) in t.iter().zip(&m) {
            for k in tv.keys().chain(mv.keys()) {
                if tv.get(k) != mv.get(k) {
                    out.push(format!(
                        "{key:?} {k}: pacemaker {:?}, crm-lite {:?}",
                        tv.get(k),
                        mv.get(k)
                    ));
                }
            }
        }
    }
    out.dedup();
    out
}

#[test]
fn notifications_match_pacemakers_transition_graphs() {
    let suite = test_support::shared_dir(env!("CARGO_MANIFEST_DIR")).join("pacemaker-suite");
    let found = std::fs::read_dir(suite.join("exp"));
    let Ok(()) = test_support::require(found.is_ok(), &format!("{} is absent", suite.display()))
    else {
        return;
    };
    let Ok(dir) = found else { return };
    let mut cases: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".exp")
                .map(str::to_owned)
        })
        .collect();
    cases.sort();
    // crm_simulate without -t uses the clock; so does this comparison (failure-timeout).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let (mut with_notify, mut agree, mut ops, mut ops_same) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for case in &cases {
        let Ok(exp) = std::fs::read_to_string(suite.join(format!("exp/{case}.exp"))) else {
            continue;
        };
        if !exp.contains(r#"operation="notify""#) {
            continue;
        }
        let theirs = pacemaker(&exp);
        if theirs.is_empty() {
            continue;
        }
        let Ok(xml) = std::fs::read(suite.join(format!("xml/{case}.xml"))) else {
            continue;
        };
        let parsed = cib::parse_bytes(case, &xml);
        if parsed.has_errors() {
            // Refused (unsupported features, or what crm_verify rejects): nothing to compare.
            continue;
        }
        with_notify += 1;
        let mine = ours(&parsed.cib, now);
        for (key, t) in &theirs {
            ops += t.len();
            if let Some(m) = mine.get(key) {
                let (mut t, mut m) = (t.clone(), m.clone());
                t.sort();
                m.sort();
                if t == m {
                    ops_same += t.len();
                }
            }
        }
        let diff = differences(&theirs, &mine);
        let known = KNOWN.iter().find(|(c, _)| c == case);
        match (diff.is_empty(), known) {
            (true, None) => agree += 1,
            (true, Some(_)) => failures.push(format!("{case} now agrees: take it out of KNOWN")),
            (false, Some(_)) => {}
            (false, None) => failures.push(format!(
                "{case}: {} difference(s)\n    {}",
                diff.len(),
                diff.iter()
                    .take(4)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n    ")
            )),
        }
    }
    println!(
        "notifications agree on {agree} of {with_notify} suite cases with notifications; \
         {ops_same} of Pacemaker's {ops} notify operations planned alike, variables included"
    );
    assert!(with_notify >= 40, "only {with_notify} cases compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
