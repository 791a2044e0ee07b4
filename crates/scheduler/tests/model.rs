//! `Model` (re-planning after one operation result, the CIB kept in memory) gives the plan
//! that parsing the updated CIB from scratch gives.
use scheduler::{Input, Model, OpResult, Plan};

const NOW: i64 = 1_700_000_100;

fn generated() -> String {
    cib_gen::generate(&cib_gen::Config {
        nodes: 16,
        resources: 500,
        seed: 1,
        status: true,
    })
}

fn input() -> Input {
    Input {
        now: Some(NOW),
        explain: false,
    }
}

/// The plan of the model's tree written out and parsed again.
fn from_scratch(model: &Model) -> Plan {
    let xml = model.document().to_xml();
    let parsed = cib::parse("again.xml", &xml);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    scheduler::schedule(&parsed.cib, &input())
}

fn model() -> Model {
    let parsed = cib::parse("gen.xml", &generated());
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    Model::new(parsed, input())
}

/// A running primitive's recurring monitor on an online node: (node, rsc, class, agent,
/// provider, monitor op id, interval).
fn running_monitor(model: &Model) -> (String, String, String, String, Option<String>, String, u64) {
    let cib = model.cib();
    for ns in &cib.status.nodes {
        if !ns.online() {
            continue;
        }
        for h in &ns.resources {
            if h.state.failed || !h.state.role.is_active() || h.id.as_str().contains(':') {
                continue;
            }
            if let Some(op) = h
                .ops
                .iter()
                .find(|o| o.operation == "monitor" && o.interval_ms > 0)
            {
                return (
                    ns.uname.as_str().to_owned(),
                    h.id.as_str().to_owned(),
                    h.class.clone().unwrap_or_default(),
                    h.agent.clone().unwrap_or_default(),
                    h.provider.clone(),
                    op.id.clone(),
                    op.interval_ms,
                );
            }
        }
    }
    panic!("the generated CIB has no running primitive with a recurring monitor");
}

fn op_attrs(id: &str, operation: &str, interval: u64, rc: i32, call: u32) -> Vec<(String, String)> {
    [
        ("id", id.to_owned()),
        ("operation_key", format!("{id}_{operation}_{interval}")),
        ("operation", operation.to_owned()),
        (
            "transition-key",
            format!("{call}:0:0:00000000-0000-0000-0000-000000000000"),
        ),
        ("call-id", call.to_string()),
        ("rc-code", rc.to_string()),
        ("op-status", "0".to_owned()),
        ("interval", interval.to_string()),
        ("last-rc-change", NOW.to_string()),
        ("exec-time", "10".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn record(
    model: &mut Model,
    node: &str,
    rsc: &str,
    class: &str,
    agent: &str,
    provider: Option<&str>,
    attrs: &[(String, String)],
) {
    let attrs: Vec<(&str, &str)> = attrs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    model
        .record(&OpResult {
            node,
            rsc,
            class,
            provider,
            agent,
            attrs: &attrs,
        })
        .expect("the result records");
}

#[test]
fn a_failed_monitor_replans_as_the_updated_cib_does() {
    let mut model = model();
    let before = model.plan();
    assert_eq!(
        before,
        from_scratch(&model),
        "the model plans as the CIB before any result"
    );
    let (node, rsc, class, agent, provider, op_id, interval) = running_monitor(&model);
    let attrs = op_attrs(&op_id, "monitor", interval, 7, 100_000);
    record(
        &mut model,
        &node,
        &rsc,
        &class,
        &agent,
        provider.as_deref(),
        &attrs,
    );
    let after = model.plan();
    assert_ne!(
        before, after,
        "a failed monitor of {rsc} on {node} changes the plan"
    );
    assert!(
        after.actions.iter().any(|a| a.rsc == rsc),
        "{rsc} is recovered: {:?}",
        after
            .actions
            .iter()
            .filter(|a| a.rsc == rsc)
            .collect::<Vec<_>>()
    );
    assert_eq!(after, from_scratch(&model));
}

#[test]
fn a_probe_that_finds_a_resource_on_a_second_node_replans_as_the_updated_cib_does() {
    let mut model = model();
    // A primitive with history on one online node only: a probe on another finds it
    // running there too (a new lrm_resource in that node's history).
    let cib = model.cib();
    let online: Vec<_> = cib.status.nodes.iter().filter(|ns| ns.online()).collect();
    let (node, rsc, class, agent, provider, other) = online
        .iter()
        .flat_map(|ns| ns.resources.iter().map(move |h| (ns, h)))
        .filter(|(_, h)| {
            h.state.role.is_active() && !h.state.failed && !h.id.as_str().contains(':')
        })
        .find_map(|(ns, h)| {
            let id = h.id.as_str();
            if online
                .iter()
                .any(|o| o.uname != ns.uname && o.resource(id).is_some())
            {
                return None;
            }
            let other = online.iter().find(|o| o.uname != ns.uname)?;
            Some((
                ns.uname.as_str().to_owned(),
                h.id.as_str().to_owned(),
                h.class.clone().unwrap_or_default(),
                h.agent.clone().unwrap_or_default(),
                h.provider.clone(),
                other.uname.as_str().to_owned(),
            ))
        })
        .expect("a primitive with history on one node only");
    let before = model.plan();
    let attrs = op_attrs(&format!("{rsc}_last_0"), "monitor", 0, 0, 100_001);
    record(
        &mut model,
        &other,
        &rsc,
        &class,
        &agent,
        provider.as_deref(),
        &attrs,
    );
    let after = model.plan();
    assert_ne!(
        before, after,
        "{rsc} active on {node} and {other} changes the plan"
    );
    assert_eq!(after, from_scratch(&model));
    // A second result for the same entry replaces it: not running there after all.
    let attrs = op_attrs(&format!("{rsc}_last_0"), "monitor", 0, 7, 100_002);
    record(
        &mut model,
        &other,
        &rsc,
        &class,
        &agent,
        provider.as_deref(),
        &attrs,
    );
    let again = model.plan();
    assert_eq!(again, from_scratch(&model));
    assert_eq!(
        again.actions, before.actions,
        "not running there: the first plan's actions"
    );
}

#[test]
fn a_resource_new_to_the_history_replans_as_the_updated_cib_does() {
    let mut model = model();
    let node = model
        .cib()
        .status
        .nodes
        .iter()
        .find(|ns| ns.online())
        .map(|ns| ns.uname.as_str().to_owned())
        .expect("an online node");
    let before = model.plan();
    // A resource the configuration does not have, found running: an orphan to stop.
    let attrs = op_attrs("gone-vm_last_0", "start", 0, 0, 100_003);
    record(
        &mut model,
        &node,
        "gone-vm",
        "ocf",
        "Dummy",
        Some("heartbeat"),
        &attrs,
    );
    let after = model.plan();
    assert!(
        after
            .actions
            .iter()
            .any(|a| a.rsc == "gone-vm" && a.node == node && a.kind == scheduler::ActionKind::Stop),
        "the orphan is stopped: {:?}",
        after.actions.len()
    );
    assert_ne!(before, after);
    assert_eq!(after, from_scratch(&model));
}

#[test]
fn a_result_for_a_node_without_state_is_refused() {
    let mut model = model();
    let attrs = [("id", "x_last_0"), ("operation", "start")];
    let err = model
        .record(&OpResult {
            node: "no-such-node",
            rsc: "x",
            class: "ocf",
            provider: Some("heartbeat"),
            agent: "Dummy",
            attrs: &attrs,
        })
        .expect_err("an unknown node");
    assert_eq!(
        err.to_string(),
        "node no-such-node has no node_state in the status section"
    );
}
