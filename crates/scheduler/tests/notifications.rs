//! Clone notifications for the demo stack's database clone (promotable, `notify=true`)
//! starting from nothing on two nodes. The expected notifications and variables are the
//! ones `crm_simulate -S -G` puts in its transition graph for the same CIB.
mod common;

use scheduler::{NotifyStage, Plan, Step};

fn plan() -> Plan {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../cib-examples/demo-stack/cib.xml"
    );
    let xml = std::fs::read_to_string(path)
        .expect("read the demo stack")
        .replace("admin_epoch=\"0\">", "admin_epoch=\"0\" have-quorum=\"1\">")
        .replace(
            "<status/>",
            r#"<status><node_state id="1" uname="node-a" in_ccm="true" crmd="online" join="member" expected="member"/><node_state id="2" uname="node-b" in_ccm="true" crmd="online" join="member" expected="member"/></status>"#,
        );
    common::plan_of(&xml)
}

fn var<'a>(vars: &'a [(String, String)], name: &str) -> &'a str {
    vars.iter()
        .find(|(k, _)| k == name)
        .map_or_else(|| panic!("no {name} in {vars:?}"), |(_, v)| v.as_str())
}

#[test]
fn post_start_and_pre_and_post_promote_reach_both_instances_as_crm_simulate_plans() {
    let plan = plan();
    let mut got: Vec<(String, NotifyStage, &str)> = plan
        .notifications
        .iter()
        .map(|n| (n.node.clone(), n.stage, n.operation))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("node-a".to_owned(), NotifyStage::Pre, "promote"),
            ("node-a".to_owned(), NotifyStage::Post, "promote"),
            ("node-a".to_owned(), NotifyStage::Post, "start"),
            ("node-b".to_owned(), NotifyStage::Pre, "promote"),
            ("node-b".to_owned(), NotifyStage::Post, "promote"),
            ("node-b".to_owned(), NotifyStage::Post, "start"),
        ]
    );
    for n in &plan.notifications {
        assert_eq!(n.rsc, "db");
        assert_eq!(var(&n.vars, "notify_start_uname"), "node-a node-b");
        assert_eq!(var(&n.vars, "notify_start_resource"), "db:0 db:1");
        assert_eq!(var(&n.vars, "notify_promote_uname"), "node-a");
        assert_eq!(var(&n.vars, "notify_active_uname"), " ");
        assert_eq!(var(&n.vars, "notify_all_uname"), "node-a node-b");
        let (ty, key) = match (n.stage, n.operation) {
            (NotifyStage::Pre, op) => ("pre", op.to_owned()),
            (NotifyStage::Post, "start") => ("post", "running".to_owned()),
            (NotifyStage::Post, _) => ("post", "promoted".to_owned()),
        };
        assert_eq!(var(&n.vars, "notify_type"), ty);
        assert_eq!(var(&n.vars, "notify_key_type"), ty);
        assert_eq!(var(&n.vars, "notify_key_operation"), key);
    }
}

#[test]
fn the_apis_wait_for_the_post_promote_notifications() {
    let plan = plan();
    let promote_posts: Vec<usize> = plan
        .notifications
        .iter()
        .enumerate()
        .filter(|(_, n)| n.stage == NotifyStage::Post && n.operation == "promote")
        .map(|(i, _)| i)
        .collect();
    let api_starts: Vec<usize> = plan
        .actions
        .iter()
        .enumerate()
        .filter(|(_, a)| a.rsc.starts_with("api-"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!((promote_posts.len(), api_starts.len()), (2, 2));
    for &n in &promote_posts {
        for &a in &api_starts {
            assert!(
                plan.notify_edges
                    .contains(&(Step::Notify(n), Step::Action(a))),
                "post-promote notification {n} is not ordered before {:?}",
                plan.actions[a]
            );
        }
    }
}
