//! `Model` (re-planning after one operation result, the CIB kept in memory) gives the plan
//! that parsing the updated CIB from scratch gives.
use cib::status::ResourceHistory;
use scheduler::{ActionKind, Input, Model, OpResult, Plan, Stats};

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

/// An active history with a recurring monitor on an online node: (node, rsc, class,
/// agent, provider, monitor op id, interval).
type Entry = (String, String, String, String, Option<String>, String, u64);

/// Every [`Entry`] of the status whose history `keep` accepts, in status order.
fn monitor_entries(cib: &cib::Cib, keep: impl Fn(&ResourceHistory) -> bool) -> Vec<Entry> {
    let mut out = Vec::new();
    for ns in cib.status.nodes.iter().filter(|ns| ns.online()) {
        for h in ns
            .resources
            .iter()
            .filter(|h| h.state.role.is_active() && keep(h))
        {
            let monitor = h
                .ops
                .iter()
                .find(|o| o.operation == "monitor" && o.interval_ms > 0);
            if let Some(op) = monitor {
                out.push((
                    ns.uname.as_str().to_owned(),
                    h.id.as_str().to_owned(),
                    h.class.clone().unwrap_or_default(),
                    h.agent.clone().unwrap_or_default(),
                    h.provider.clone(),
                    op.id.clone(),
                    op.interval_ms,
                ));
            }
        }
    }
    out
}

/// A running primitive's recurring monitor on an online node (no clone instance).
fn running_monitor(model: &Model) -> Entry {
    let keep = |h: &ResourceHistory| !h.state.failed && !h.id.as_str().contains(':');
    monitor_entries(model.cib(), keep)
        .into_iter()
        .next()
        .expect("the generated CIB has a running primitive with a recurring monitor")
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

/// Record `attrs` on node `on` for the resource of entry `e`.
fn record_entry(model: &mut Model, on: &str, e: &Entry, attrs: &[(String, String)]) {
    record(model, on, &e.1, &e.2, &e.3, e.4.as_deref(), attrs);
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
    let before = model.plan().clone();
    assert_eq!(
        before,
        from_scratch(&model),
        "the model plans as the CIB before any result"
    );
    let e = running_monitor(&model);
    let (node, rsc) = (&e.0, &e.1);
    let attrs = op_attrs(&e.5, "monitor", e.6, 7, 100_000);
    record_entry(&mut model, node, &e, &attrs);
    let after = model.plan().clone();
    assert_ne!(
        before, after,
        "a failed monitor of {rsc} on {node} changes the plan"
    );
    assert!(
        after.actions.iter().any(|a| a.rsc == *rsc),
        "{rsc} is recovered: {:?}",
        after
            .actions
            .iter()
            .filter(|a| a.rsc == *rsc)
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
    let before = model.plan().clone();
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
    let after = model.plan().clone();
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
    let again = model.plan().clone();
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
    let before = model.plan().clone();
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
    let after = model.plan().clone();
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

/// A result to record in [`results_one_after_another_replan_as_the_updated_cib_does`].
#[derive(Debug, Clone, Copy)]
enum Result_ {
    /// The recurring monitor fails (rc 7): recovery where it runs.
    MonitorFails,
    /// The recurring monitor succeeds again.
    MonitorOk,
    /// The last operation becomes a failed start (rc 1).
    StartFails,
    /// The last operation becomes a stop that succeeded: it is stopped there.
    Stopped,
    /// The recurring monitor returns a hard error (rc 5): the node is banned, it moves.
    HardError,
    /// A probe on another online node finds it not running (a new history entry).
    ProbeNotRunning,
    /// A probe on another online node finds it running there too.
    ProbeRunning,
    /// The last operation becomes a failed stop: the node is to be fenced.
    StopFails,
}

const RESULTS: [Result_; 8] = [
    Result_::MonitorFails,
    Result_::ProbeNotRunning,
    Result_::MonitorOk,
    Result_::StartFails,
    Result_::Stopped,
    Result_::HardError,
    Result_::ProbeRunning,
    Result_::StopFails,
];

/// Results one after another on generated clusters of both mixes (every placement
/// strategy, clones, groups, constraints, lost nodes): after each, the model's plan is the
/// plan of its tree written out and parsed again. Most results for primitives that stand
/// alone are re-planned alone, and some are not (they move it or reach a node).
#[test]
fn results_one_after_another_replan_as_the_updated_cib_does() {
    use cib_gen::{Config, Mix};
    let mut total = scheduler::model::Stats::default();
    let mut clusters = vec![
        (Mix::Classic, 8, 250, 3),
        (Mix::Operators, 6, 250, 1),
        (Mix::Operators, 9, 250, 2),
        (Mix::Operators, 5, 200, 3),
        (Mix::Operators, 7, 250, 4),
    ];
    // A longer soak, by hand: REPLAN_SOAK=N adds N seeds of each mix, every candidate.
    let soak: u64 = std::env::var("REPLAN_SOAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for seed in 10..10 + soak {
        clusters.push((Mix::Classic, 3 + seed as usize % 7, 300, seed));
        clusters.push((Mix::Operators, 3 + seed as usize % 9, 300, seed));
    }
    let limit = if soak > 0 { usize::MAX } else { 30 };
    for (mix, nodes, resources, seed) in clusters {
        let cfg = Config {
            nodes,
            resources,
            seed,
            status: true,
        };
        let input = Input {
            now: Some(match mix {
                Mix::Classic => NOW,
                Mix::Operators => cib_gen::NOW as i64,
            }),
            explain: false,
        };
        let parsed = cib::parse("gen.xml", &cib_gen::generate_mix(&cfg, mix));
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let mut model = Model::new(parsed, input.clone());
        let scratch = |model: &Model, now: Option<i64>| {
            let xml = model.document().to_xml();
            let parsed = cib::parse("again.xml", &xml);
            assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
            scheduler::schedule(
                &parsed.cib,
                &Input {
                    now,
                    explain: false,
                },
            )
        };
        let mut now = input.now;
        // The kept model's plan now is the plan of its tree parsed again; `what` names the
        // step when they differ.
        let agrees = |model: &mut Model, now: Option<i64>, what: String| {
            let got = model.plan().clone();
            assert_eq!(
                got,
                scratch(model, now),
                "{mix:?} seed {seed}, {what} ({:?})",
                model.stats()
            );
        };
        let first = model.plan().clone();
        assert_eq!(first, scratch(&model, now));
        // Active histories of configured primitives and group members on online nodes,
        // with a recurring monitor: (node, rsc, class, agent, provider, op id, interval).
        let cib = model.cib();
        let online: Vec<String> = cib
            .status
            .nodes
            .iter()
            .filter(|ns| ns.online())
            .map(|ns| ns.uname.as_str().to_owned())
            .collect();
        let found = monitor_entries(cib, |h| !h.id.as_str().contains(':'));
        // Most from top-level primitives (they may be re-planned alone), the rest from
        // anything (group members, constrained ones).
        let top: std::collections::HashSet<&str> = cib
            .resources
            .iter()
            .filter_map(|r| match r {
                cib::model::Resource::Primitive(p) => Some(p.id.as_str()),
                _ => None,
            })
            .collect();
        let (mut picked, rest): (Vec<_>, Vec<_>) =
            found.iter().partition(|f| top.contains(f.1.as_str()));
        assert!(
            picked.len() >= 30,
            "{mix:?} seed {seed}: {} found",
            picked.len()
        );
        picked.truncate(limit);
        let others = if soak > 0 { rest.len() } else { 8 };
        picked.extend(rest.into_iter().step_by(3).take(others));
        let picked: Vec<_> = picked.into_iter().cloned().collect();
        let mut call = 200_000;
        for (k, e) in picked.iter().enumerate() {
            let (node, rsc, op_id, interval) = (&e.0, &e.1, &e.5, &e.6);
            let what = RESULTS[(k + seed as usize) % RESULTS.len()];
            // Time moves on now and then (failures with a failure-timeout expire).
            if k % 3 == 1 {
                now = now.map(|n| n + [7, 61, 601, 3601][k % 4]);
                model.set_now(now);
                agrees(&mut model, now, format!("before result {k}: now {now:?}"));
            }
            // A promotable agent's score changes now and then; an attribute nothing reads too.
            if k % 4 == 3 {
                let scores = promotion_scores(&model);
                if !scores.is_empty() {
                    let (on, name, _) = &scores[(k * 7 + seed as usize) % scores.len()];
                    let value = ((k * 13 + seed as usize) % 30).to_string();
                    model
                        .record_attribute(on, name, Some(&value))
                        .expect("records");
                    let note = format!("note-{}", k % 2);
                    model
                        .record_attribute(on, &note, Some(&value))
                        .expect("records");
                    // A transient `rack` over the node's own, which location rules read.
                    let rack = format!("rack{}", (k + seed as usize) % 4);
                    model
                        .record_attribute(on, "rack", Some(rack.as_str()).filter(|_| k % 8 != 7))
                        .expect("records");
                    agrees(
                        &mut model,
                        now,
                        format!("before result {k}: {name} = {value} on {on}"),
                    );
                }
            }
            // An operator moves the resource to another node now and then, and clears an
            // earlier move.
            if k % 5 == 4 {
                let mut theirs = model.document().clone();
                let cons = constraints_of(&theirs);
                let to = online.iter().find(|o| *o != node);
                if let Some(to) = to {
                    let id = add_move(&mut theirs, rsc, to);
                    model.sync_constraint(&id, &theirs).expect("taken in");
                }
                let earlier = theirs.children(cons).find(|&c| {
                    let id = theirs.get(c).id().unwrap_or("");
                    id.starts_with("cli-prefer-") && !id.ends_with(&format!("-{rsc}"))
                });
                if let Some(c) = earlier.filter(|_| k % 2 == 0) {
                    let id = theirs.get(c).id().unwrap_or("").to_owned();
                    theirs.detach(c);
                    model.sync_constraint(&id, &theirs).expect("taken in");
                }
                agrees(&mut model, now, format!("before result {k}: {rsc} moved"));
            }
            call += 1;
            let other = online.iter().find(|o| {
                *o != node
                    && model
                        .cib()
                        .status
                        .node(o)
                        .is_some_and(|ns| ns.resource(rsc).is_none())
            });
            let last = format!("{rsc}_last_0");
            let (on, attrs) = match what {
                Result_::MonitorFails => (node, op_attrs(op_id, "monitor", *interval, 7, call)),
                Result_::MonitorOk => (node, op_attrs(op_id, "monitor", *interval, 0, call)),
                Result_::HardError => (node, op_attrs(op_id, "monitor", *interval, 5, call)),
                Result_::StartFails => (node, op_attrs(&last, "start", 0, 1, call)),
                Result_::Stopped => (node, op_attrs(&last, "stop", 0, 0, call)),
                Result_::StopFails => (node, op_attrs(&last, "stop", 0, 1, call)),
                Result_::ProbeNotRunning | Result_::ProbeRunning => {
                    let Some(other) = other else { continue };
                    let rc = if matches!(what, Result_::ProbeRunning) {
                        0
                    } else {
                        7
                    };
                    (other, op_attrs(&last, "monitor", 0, rc, call))
                }
            };
            record_entry(&mut model, on, e, &attrs);
            agrees(
                &mut model,
                now,
                format!("result {k}: {what:?} for {rsc} on {on}"),
            );
            // A failure also counts, as the attribute manager records it beside the entry
            // (a failed start counts as INFINITY).
            let failed_op = match what {
                Result_::MonitorFails | Result_::HardError => Some(("monitor", *interval)),
                Result_::StartFails => Some(("start", 0)),
                Result_::StopFails => Some(("stop", 0)),
                _ => None,
            };
            if let Some((op, ms)) = failed_op {
                let suffix = format!("{rsc}#{op}_{ms}");
                let count = if op == "start" { "INFINITY" } else { "1" };
                let at = (now.unwrap_or(0) - 5).to_string();
                for (name, value) in [("fail-count", count), ("last-failure", at.as_str())] {
                    model
                        .record_attribute(on, &format!("{name}-{suffix}"), Some(value))
                        .expect("the attribute records");
                }
                agrees(
                    &mut model,
                    now,
                    format!("result {k}: {what:?} for {rsc} on {on}, counted"),
                );
            }
        }
        let s = model.stats();
        total.whole += s.whole;
        total.alone += s.alone;
    }
    assert!(
        total.alone >= 25 && total.whole >= 15,
        "both ways are exercised: {total:?}"
    );
}

/// A running primitive that stands alone (`Model::stands_alone`) and that the plan leaves
/// alone, with its recurring monitor (as [`running_monitor`]).
fn standalone_monitor(model: &mut Model) -> Entry {
    let acted: std::collections::HashSet<String> =
        model.plan().actions.iter().map(|a| a.rsc.clone()).collect();
    let keep = |h: &ResourceHistory| {
        let id = h.id.as_str();
        !h.state.failed && model.stands_alone(id) && !acted.contains(id)
    };
    monitor_entries(model.cib(), keep)
        .into_iter()
        .next()
        .expect("a standalone primitive with a recurring monitor")
}

/// A failure as the controller records it (the entry, its fail count, its last failure)
/// and one plan: re-planned alone, as parsing the updated CIB plans. The same with a
/// location rule of the fencing device that reads that fail count: both re-planned apart
/// (the device leaves the node). With a location by pattern reading it: a whole plan.
#[test]
fn a_counted_failure_of_a_standalone_primitive_is_replanned_alone_unless_a_rule_reads_the_count() {
    for rule_reads in ["", "rsc=\"fence-all\"", "rsc-pattern=\"^fence-\""] {
        let mut xml = generated();
        let mut probe = Model::new(cib::parse("gen.xml", &xml), input());
        let e = standalone_monitor(&mut probe);
        let (node, rsc, interval) = (&e.0, &e.1, e.6);
        let count = format!("fail-count-{rsc}#monitor_{interval}");
        if !rule_reads.is_empty() {
            let rule = format!(
                "<rsc_location id=\"reads-count\" {rule_reads}><rule id=\"reads-count-r\" \
                 score=\"-INFINITY\"><expression id=\"reads-count-e\" attribute=\"{count}\" \
                 operation=\"defined\"/></rule></rsc_location>"
            );
            xml = xml.replacen("<constraints>", &format!("<constraints>{rule}"), 1);
        }
        let parsed = cib::parse("gen.xml", &xml);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let mut model = Model::new(parsed, input());
        let before = model.plan().clone();
        let attrs = op_attrs(&e.5, "monitor", interval, 7, 300_000);
        record_entry(&mut model, node, &e, &attrs);
        model
            .record_attribute(node, &count, Some("1"))
            .expect("records");
        model
            .record_attribute(
                node,
                &format!("last-failure-{rsc}#monitor_{interval}"),
                Some("1700000090"),
            )
            .expect("records");
        let after = model.plan().clone();
        let recovers = |p: &Plan| p.actions.iter().any(|a| a.rsc == *rsc);
        assert!(!recovers(&before) && recovers(&after), "{rsc} recovers");
        assert_eq!(after, from_scratch(&model));
        let want = if rule_reads.contains("pattern") {
            (2, 0)
        } else {
            (1, 1)
        };
        if !rule_reads.is_empty() {
            let device = after.placement.iter().find(|p| p.rsc == "fence-all");
            assert!(
                device.is_some_and(|p| !p.nodes.contains(node)),
                "the device leaves {node}: {device:?}"
            );
        }
        let got = model.stats();
        assert_eq!(
            (got.whole, got.alone),
            want,
            "rule reads the count: {rule_reads}"
        );
    }
}

/// A failed start of a running standalone primitive, as the controller records it (the
/// entry; its fail count, INFINITY; its last failure): it cannot stay, so it moves (or
/// stops), which changes the count and free capacity of the nodes it leaves and takes for
/// the resources placed after it. Still re-planned apart (with those whose placement read
/// those nodes), as parsing the updated CIB plans, at both sizes of the generator's
/// classic mix.
#[test]
fn a_failed_start_that_moves_a_standalone_primitive_is_replanned_apart() {
    let mut moved = 0;
    for (nodes, resources, seed) in [(16, 500, 1), (8, 250, 3), (12, 400, 5)] {
        let xml = cib_gen::generate(&cib_gen::Config {
            nodes,
            resources,
            seed,
            status: true,
        });
        let parsed = cib::parse("gen.xml", &xml);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let mut model = Model::new(parsed, input());
        let e = standalone_monitor(&mut model);
        let (node, rsc) = (&e.0, &e.1);
        let mut attrs = op_attrs(&format!("{rsc}_last_0"), "start", 0, 1, 300_000);
        for (k, v) in &mut attrs {
            if k == "operation_key" {
                *v = format!("{rsc}_start_0");
            }
        }
        record_entry(&mut model, node, &e, &attrs);
        for (name, value) in [("fail-count", "INFINITY"), ("last-failure", "1700000090")] {
            model
                .record_attribute(node, &format!("{name}-{rsc}#start_0"), Some(value))
                .expect("records");
        }
        let after = model.plan().clone();
        assert_eq!(after, from_scratch(&model), "{rsc} on {node}");
        let place = after.placement.iter().find(|p| p.rsc == *rsc);
        assert!(
            place.is_some_and(|p| !p.nodes.contains(node)),
            "{rsc} leaves {node}: {place:?}"
        );
        moved += usize::from(place.is_some_and(|p| !p.nodes.is_empty()));
        let got = model.stats();
        assert_eq!((got.whole, got.alone), (1, 1), "{rsc} on {node}");
    }
    assert!(moved > 0, "at least one moves to another node");
}

/// A model that takes a history and the attributes from another copy of the CIB (as the
/// daemon's kept model takes them from its own tree) plans as the copy does.
#[test]
fn a_history_and_attributes_synced_from_another_copy_plan_as_that_copy() {
    let mut copy = model();
    let mut kept = model();
    kept.plan();
    let e = standalone_monitor(&mut copy);
    let (node, rsc, interval) = (&e.0, &e.1, e.6);
    let attrs = op_attrs(&e.5, "monitor", interval, 7, 400_000);
    record_entry(&mut copy, node, &e, &attrs);
    let count = format!("fail-count-{rsc}#monitor_{interval}");
    copy.record_attribute(node, &count, Some("2"))
        .expect("records");
    kept.sync_history(node, rsc, copy.document())
        .expect("syncs");
    kept.sync_attributes(node, copy.document()).expect("syncs");
    let synced = kept.plan().clone();
    assert_eq!(kept.stats().alone, 1, "re-planned alone");
    assert_eq!(synced, *copy.plan());
    assert_eq!(synced, from_scratch(&kept));
    // The entry gone from the copy (a cleanup) goes from the kept model too.
    let mut cleaned = model();
    let (n2, r2) = (node.clone(), rsc.clone());
    let doc = {
        let mut d = copy.document().clone();
        let root = d.root().expect("root");
        let status = d.child(root, "status").expect("status");
        let st = d
            .children(status)
            .find(|&c| d.get(c).attr("uname") == Some(n2.as_str()))
            .expect("node");
        let lrm = d.child(st, "lrm").expect("lrm");
        let list = d.child(lrm, "lrm_resources").expect("list");
        let lr = d
            .children(list)
            .find(|&c| d.get(c).id() == Some(r2.as_str()))
            .expect("entry");
        d.detach(lr);
        d
    };
    cleaned.plan();
    cleaned.sync_history(node, rsc, &doc).expect("syncs");
    let after = cleaned.plan().clone();
    assert_eq!(after, from_scratch(&cleaned));
    assert!(
        after.probes.iter().any(|p| p.rsc == rsc && p.node == node),
        "{rsc} is probed again on {node}"
    );
}

/// A recurring monitor's first success (what each resource's first monitor after its
/// start records: a new entry) changes nothing the scheduler reads, whatever the
/// resource (clone instance, group member, constrained or not): the kept plan stands and
/// nothing is planned again, and parsing the updated CIB plans the same.
#[test]
fn a_recurring_monitors_first_success_plans_nothing_again() {
    let mut model = model();
    let before = model.plan().clone();
    let started = |h: &ResourceHistory| {
        !h.state.failed
            && h.state.role == cib::Role::Started
            && h.ops.iter().any(|o| o.operation == "start")
    };
    let entries = monitor_entries(model.cib(), started);
    let kinds = |e: &Entry| {
        (
            e.1.contains("cln"),
            e.1.contains("grp"),
            model.stands_alone(&e.1),
        )
    };
    let mut seen = std::collections::HashSet::new();
    let picked: Vec<Entry> = entries
        .into_iter()
        .filter(|e| seen.insert(kinds(e)))
        .collect();
    // A clone instance, a group member, a standalone and a constrained primitive.
    for want in [
        (true, false, false),
        (false, true, false),
        (false, false, true),
        (false, false, false),
    ] {
        assert!(seen.contains(&want), "{want:?} among {picked:?}");
    }
    for (k, e) in picked.iter().enumerate() {
        let id = format!("{}_monitor_{}", e.1, 2 * e.6);
        let attrs = op_attrs(&id, "monitor", 2 * e.6, 0, 400_000 + k as u32);
        record_entry(&mut model, &e.0, e, &attrs);
        assert_eq!(*model.plan(), before, "{} on {}", e.1, e.0);
        assert_eq!(before, from_scratch(&model), "{} on {}", e.1, e.0);
    }
    let s = model.stats();
    assert_eq!((s.whole, s.alone), (1, 0), "planned once, at the start");
    // A failure recorded the same way (a new entry) is planned again.
    let e = &picked[0];
    let id = format!("{}_monitor_{}", e.1, 3 * e.6);
    record_entry(
        &mut model,
        &e.0,
        e,
        &op_attrs(&id, "monitor", 3 * e.6, 7, 500_000),
    );
    let after = model.plan().clone();
    assert_ne!(after, before, "{} failed on {}", e.1, e.0);
    assert_eq!(after, from_scratch(&model));
}

/// A failed monitor of the first member of a group in no colocation or order (with its
/// fail count and last failure) is re-planned in the group alone: the member recovers and
/// the members after it restart with it, as parsing the updated CIB plans.
#[test]
fn a_failure_of_a_group_member_is_replanned_in_its_group_alone() {
    use cib::model::Resource;
    let mut model = model();
    let before = model.plan().clone();
    let acted = acted(&before);
    // Groups of two members or more, by first member: (first member, the others).
    let groups: Vec<(String, Vec<String>)> = model
        .cib()
        .resources
        .iter()
        .filter_map(|r| match r {
            Resource::Group(g) if g.members.len() > 1 => Some((
                g.members[0].id.as_str().to_owned(),
                g.members[1..]
                    .iter()
                    .map(|m| m.id.as_str().to_owned())
                    .collect(),
            )),
            _ => None,
        })
        .collect();
    let keep = |h: &ResourceHistory| {
        let id = h.id.as_str();
        !h.state.failed
            && model.replanned_with(id).is_some_and(|t| t.len() == 1)
            && !model.stands_alone(id)
            && !acted.contains(id)
            && groups.iter().any(|(first, _)| first == id)
    };
    let e = monitor_entries(model.cib(), keep)
        .into_iter()
        .next()
        .expect("a running first member of an unconstrained group");
    let (node, rsc) = (&e.0, &e.1);
    let others = &groups
        .iter()
        .find(|(first, _)| first == rsc)
        .expect("its group")
        .1;
    let after = counted_failure(&mut model, &e, 400_000);
    for m in std::iter::once(rsc).chain(others) {
        let restarts = |p: &Plan| {
            let on = |k: scheduler::ActionKind| {
                p.actions
                    .iter()
                    .any(|a| a.rsc == *m && a.kind == k && a.node == *node)
            };
            on(scheduler::ActionKind::Stop) && on(scheduler::ActionKind::Start)
        };
        assert!(
            !restarts(&before) && restarts(&after),
            "{m} restarts on {node}"
        );
    }
    assert_eq!(after, from_scratch(&model));
    assert_eq!(
        (model.stats().whole, model.stats().alone),
        (1, 1),
        "planned whole once, then the group alone"
    );
}

/// A failed monitor (counted) of a primitive or group member that is colocated or ordered
/// with others is re-planned with them apart from the rest, as parsing the updated CIB
/// plans.
#[test]
fn a_failure_of_a_constrained_resource_is_replanned_with_what_it_is_joined_to() {
    let mut model = model();
    let before = model.plan().clone();
    let acted = acted(&before);
    let joined = |h: &ResourceHistory| {
        model
            .replanned_with(h.id.as_str())
            .is_some_and(|t| t.len() > 1)
    };
    let keep = |h: &ResourceHistory| !h.state.failed && !acted.contains(h.id.as_str());
    let e = monitor_entries(model.cib(), |h| keep(h) && joined(h))
        .into_iter()
        .next()
        .expect("a running resource joined to others by constraints");
    let rsc = &e.1;
    let tops = model.replanned_with(rsc).expect("joined");
    let after = counted_failure(&mut model, &e, 500_000);
    let recovers = |p: &Plan| p.actions.iter().any(|a| a.rsc == *rsc);
    assert!(
        !recovers(&before) && recovers(&after),
        "{rsc} recovers ({tops:?})"
    );
    assert_eq!(after, from_scratch(&model));
    assert_eq!(
        (model.stats().whole, model.stats().alone),
        (1, 1),
        "planned whole once, then {tops:?} apart"
    );
}

/// A failed monitor (counted) of a clone's instance is re-planned with the clone and
/// what is joined to it apart from the rest (its notifications made again), as parsing
/// the updated CIB plans.
#[test]
fn a_failure_of_a_clone_instance_is_replanned_apart() {
    use cib::model::Resource;
    let mut model = model();
    let before = model.plan().clone();
    let acted = acted(&before);
    // The primitives of clones with notify=true, by id.
    let cloned: std::collections::HashSet<String> = model
        .cib()
        .resources
        .iter()
        .filter_map(|r| match r {
            Resource::Clone(c) if c.meta.raw.get("notify") == Some("true") => Some(c),
            _ => None,
        })
        .flat_map(|c| c.child.primitives())
        .map(|p| p.id.as_str().to_owned())
        .collect();
    let keep = |h: &ResourceHistory| {
        let id = h.id.as_str();
        !h.state.failed
            && cloned.contains(id)
            && !acted.contains(id)
            && model.replanned_with(id).is_some()
    };
    let e = monitor_entries(model.cib(), keep)
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            let all = monitor_entries(model.cib(), |h| cloned.contains(h.id.as_str()));
            let apart: Vec<_> = all
                .iter()
                .map(|e| {
                    (
                        e.1.clone(),
                        model.replanned_with(&e.1),
                        acted.contains(&e.1),
                    )
                })
                .collect();
            panic!(
                "a running instance of a clone with notifications: {} {apart:?}",
                cloned.len()
            )
        });
    let (node, rsc) = (&e.0, &e.1);
    let tops = model.replanned_with(rsc).expect("apart");
    let after = counted_failure(&mut model, &e, 600_000);
    let recovers = |p: &Plan| p.actions.iter().any(|a| a.rsc == *rsc && a.node == *node);
    assert!(
        !recovers(&before) && recovers(&after),
        "{rsc} recovers on {node} ({tops:?})"
    );
    assert!(
        after.notifications.iter().any(|n| n.rsc == *rsc),
        "{rsc}'s clone notifies"
    );
    assert_eq!(after, from_scratch(&model));
    assert_eq!(
        (model.stats().whole, model.stats().alone),
        (1, 1),
        "planned whole once, then {tops:?} apart"
    );
}

/// The resources `plan` acts on.
fn acted(plan: &Plan) -> std::collections::HashSet<String> {
    plan.actions.iter().map(|a| a.rsc.clone()).collect()
}

/// A failure of entry `e` as the controller records it (the failed monitor, with call id
/// `call`; its fail count; its last failure), then the plan.
fn counted_failure(model: &mut Model, e: &Entry, call: u32) -> Plan {
    record_counted_failure(model, e, call);
    model.plan().clone()
}

/// [`counted_failure`] without the plan.
fn record_counted_failure(model: &mut Model, e: &Entry, call: u32) {
    let (node, rsc, interval) = (&e.0, &e.1, e.6);
    record_entry(
        model,
        node,
        e,
        &op_attrs(&e.5, "monitor", interval, 7, call),
    );
    let suffix = format!("{rsc}#monitor_{interval}");
    for (name, value) in [("fail-count", "1"), ("last-failure", "1700000090")] {
        model
            .record_attribute(node, &format!("{name}-{suffix}"), Some(value))
            .expect("records");
    }
}

/// Failures of several resources recorded before one plan (two standalone primitives and
/// one joined to others, each with its fail count) are re-planned apart in that one plan,
/// as parsing the updated CIB plans, and each of them is recovered.
#[test]
fn several_failures_before_one_plan_are_replanned_apart_in_it() {
    let mut model = model();
    let acted_before = acted(&model.plan().clone());
    let alone: fn(&Model, &str) -> bool = |m, id| m.stands_alone(id);
    let joined: fn(&Model, &str) -> bool =
        |m, id| m.replanned_with(id).is_some_and(|t| t.len() > 1);
    let mut picked: Vec<Entry> = Vec::new();
    for pick in [alone, alone, joined] {
        let keep = |h: &ResourceHistory| {
            let id = h.id.as_str();
            !h.state.failed
                && pick(&model, id)
                && !acted_before.contains(id)
                && !picked.iter().any(|p| p.1 == id)
        };
        let e = monitor_entries(model.cib(), keep).into_iter().next();
        picked.push(e.expect("a running resource of that kind"));
    }
    let before = model.stats();
    for (k, e) in picked.iter().enumerate() {
        record_counted_failure(&mut model, e, 300_000 + k as u32);
    }
    let after = model.plan().clone();
    assert_eq!(after, from_scratch(&model));
    let s = model.stats();
    assert_eq!(
        (s.whole - before.whole, s.alone - before.alone),
        (0, 1),
        "one plan apart for all of them"
    );
    let acted = acted(&after);
    for e in &picked {
        assert!(acted.contains(&e.1), "{} is recovered", e.1);
    }
}

/// A counted failure of a standalone primitive with `failure-timeout=60s` and
/// `migration-threshold=1`: it moves away, re-planned apart. Time moving on without
/// reaching the failure's expiry changes nothing; time crossing it re-plans that primitive
/// apart again (not the whole cluster), as parsing the CIB at that time plans; and so does
/// time going back across it.
#[test]
fn a_failure_expiring_is_replanned_apart() {
    let xml = generated();
    let e = standalone_monitor(&mut Model::new(cib::parse("gen.xml", &xml), input()));
    let rsc = &e.1;
    let open = format!("<primitive id=\"{rsc}\" ");
    let at = xml.find(&open).expect("the primitive");
    let end = at + xml[at..].find('>').expect("its tag ends") + 1;
    let meta = format!(
        "<meta_attributes id=\"{rsc}-expiry\"><nvpair id=\"{rsc}-ft\" name=\"failure-timeout\" \
         value=\"60s\"/><nvpair id=\"{rsc}-mt\" name=\"migration-threshold\" value=\"1\"/>\
         </meta_attributes>"
    );
    let xml = format!("{}{meta}{}", &xml[..end], &xml[end..]);
    let parsed = cib::parse("gen.xml", &xml);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let mut model = Model::new(parsed, input());
    model.plan();
    // The failed monitor at NOW expires at NOW + 60; its last failure (NOW - 10) at NOW + 50.
    let failed = counted_failure(&mut model, &e, 300_000);
    assert_eq!(failed, from_scratch(&model));
    let at_now = |model: &Model, now: i64| {
        let parsed = cib::parse("again.xml", &model.document().to_xml());
        scheduler::schedule(
            &parsed.cib,
            &Input {
                now: Some(now),
                explain: false,
            },
        )
    };
    let place = |p: &Plan| p.placement.iter().find(|x| x.rsc == *rsc).cloned();
    assert!(
        place(&failed).is_some_and(|p| !p.nodes.contains(&e.0)),
        "{rsc} leaves {}",
        e.0
    );
    assert_eq!(model.stats(), Stats { whole: 1, alone: 1 });
    model.set_now(Some(NOW + 30));
    assert_eq!(model.planned(), Some(&failed), "nothing expired yet");
    let still = model.plan().clone();
    assert_eq!(still, at_now(&model, NOW + 30));
    assert_eq!(model.stats(), Stats { whole: 1, alone: 1 });
    for now in [NOW + 100, NOW + 30] {
        model.set_now(Some(now));
        let plan = model.plan().clone();
        assert_eq!(plan, at_now(&model, now), "at {now}");
        assert_eq!(
            place(&plan).is_some_and(|p| p.nodes.contains(&e.0)),
            now > NOW + 60
        );
    }
    assert_eq!(model.stats(), Stats { whole: 1, alone: 3 });
}

/// Every promotion score (`master-<rsc>`) of the status: (node, name, value).
fn promotion_scores(model: &Model) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for ns in &model.cib().status.nodes {
        for p in ns
            .attributes
            .iter()
            .filter(|p| p.name.starts_with("master-"))
        {
            let v = p.value.clone().unwrap_or_default();
            out.push((ns.uname.as_str().to_owned(), p.name.clone(), v));
        }
    }
    out
}

/// A promotable agent's promotion scores turned around (the lowest now the highest):
/// the clone is re-planned apart (with what it is joined to) and its promotion follows,
/// as parsing the updated CIB plans. An attribute nothing reads changes nothing; a
/// transient `standby` takes a whole plan.
#[test]
fn a_promotion_score_is_replanned_apart_and_an_unread_attribute_changes_nothing() {
    let mut model = model();
    let before = model.plan().clone();
    let scores = promotion_scores(&model);
    let name = scores
        .iter()
        .map(|s| &s.1)
        .find(|n| {
            model
                .replanned_with(&n["master-".len()..])
                .is_some_and(|t| t.len() == 1)
        })
        .expect("a promotion score of a clone in no constraint")
        .clone();
    for (node, _, v) in scores.iter().filter(|s| s.1 == name) {
        let turned = (1000 - v.parse::<i32>().expect("a number")).to_string();
        model
            .record_attribute(node, &name, Some(&turned))
            .expect("records");
    }
    let after = model.plan().clone();
    assert_eq!(after, from_scratch(&model));
    let promotes = |p: &Plan| {
        p.actions
            .iter()
            .filter(|a| matches!(a.kind, ActionKind::Promote | ActionKind::Demote))
            .count()
    };
    assert!(
        promotes(&after) > promotes(&before),
        "{name}: the promotion moves"
    );
    assert_eq!(model.stats(), Stats { whole: 1, alone: 1 });

    let node = scores[0].0.clone();
    model
        .record_attribute(&node, "site-note", Some("rack 4"))
        .expect("records");
    assert_eq!(model.planned(), Some(&after), "nothing reads it");
    assert_eq!(model.plan().clone(), from_scratch(&model));
    assert_eq!(model.stats(), Stats { whole: 1, alone: 1 });

    model
        .record_attribute(&node, "standby", Some("on"))
        .expect("records");
    let standby = model.plan().clone();
    assert_eq!(standby, from_scratch(&model));
    assert_ne!(standby, after, "{node} in standby");
    assert_eq!(model.stats(), Stats { whole: 2, alone: 1 });
}

/// The fencing device's failures (its monitor failing and counted, then its start failing
/// where it runs, counted INFINITY: it moves) are re-planned apart like any primitive's,
/// as parsing the updated CIB plans: in clusters with lost nodes to fence, too.
#[test]
fn a_fencing_devices_failure_is_replanned_apart() {
    let mut fenced = 0;
    let clusters = [
        (cib_gen::Mix::Classic, 16, 500, 1),
        (cib_gen::Mix::Operators, 6, 200, 4),
        (cib_gen::Mix::Operators, 9, 300, 7),
        (cib_gen::Mix::Operators, 5, 150, 12),
    ];
    for (mix, nodes, resources, seed) in clusters {
        let cfg = cib_gen::Config {
            nodes,
            resources,
            seed,
            status: true,
        };
        let parsed = cib::parse("gen.xml", &cib_gen::generate_mix(&cfg, mix));
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let mut model = Model::new(parsed, input());
        let before = model.plan().clone();
        let kind = |p: &Plan, k: ActionKind| p.actions.iter().any(|a| a.kind == k);
        fenced += usize::from(kind(&before, ActionKind::Fence));
        assert_eq!(
            model.replanned_with("fence-all"),
            Some(vec!["fence-all".to_owned()]),
            "{mix:?} seed {seed}: the device alone"
        );
        let on = model
            .cib()
            .status
            .nodes
            .iter()
            .find(|ns| {
                ns.online()
                    && ns
                        .resource("fence-all")
                        .is_some_and(|h| h.state.role.is_active())
            })
            .map(|ns| ns.uname.as_str().to_owned())
            .expect("the device runs");
        let e: Entry = (
            on.clone(),
            "fence-all".into(),
            "stonith".into(),
            "fence_dummy".into(),
            None,
            "fence-all_monitor_60000".into(),
            60_000,
        );
        let failed = counted_failure(&mut model, &e, 300_000);
        assert_eq!(failed, from_scratch(&model), "{mix:?} seed {seed}: monitor");
        let recovers = |p: &Plan| p.actions.iter().any(|a| a.rsc == "fence-all");
        assert!(
            recovers(&failed),
            "{mix:?} seed {seed}: the device recovers"
        );
        let mut attrs = op_attrs("fence-all_last_0", "start", 0, 1, 300_001);
        for (k, v) in &mut attrs {
            if k == "operation_key" {
                *v = "fence-all_start_0".into();
            }
        }
        record_entry(&mut model, &on, &e, &attrs);
        for (name, value) in [("fail-count", "INFINITY"), ("last-failure", "1700000095")] {
            model
                .record_attribute(&on, &format!("{name}-fence-all#start_0"), Some(value))
                .expect("records");
        }
        let moved = model.plan().clone();
        assert_eq!(moved, from_scratch(&model), "{mix:?} seed {seed}: start");
        let place = moved.placement.iter().find(|p| p.rsc == "fence-all");
        assert!(
            place.is_some_and(|p| !p.nodes.is_empty() && !p.nodes.contains(&on)),
            "{mix:?} seed {seed}: the device leaves {on}: {place:?}"
        );
        assert_eq!(
            model.stats(),
            Stats { whole: 1, alone: 2 },
            "{mix:?} seed {seed}"
        );
    }
    assert!(fenced > 0, "a cluster with a node to fence");
}

/// A failed stop of a standalone primitive makes its node unclean (a whole plan: the node
/// is to be fenced). What follows about it while the node stays failed the same way (its
/// fail count and last failure, a probe finding it stopped on another node) is re-planned
/// apart again, as parsing the updated CIB plans.
#[test]
fn what_follows_a_failed_stop_is_replanned_apart() {
    let mut model = model();
    let e = standalone_monitor(&mut model);
    let (node, rsc) = (&e.0, &e.1);
    let mut attrs = op_attrs(&format!("{rsc}_last_0"), "stop", 0, 1, 300_000);
    for (k, v) in &mut attrs {
        if k == "operation_key" {
            *v = format!("{rsc}_stop_0");
        }
    }
    record_entry(&mut model, node, &e, &attrs);
    let failed = model.plan().clone();
    assert_eq!(failed, from_scratch(&model));
    let fences = |p: &Plan| {
        p.actions
            .iter()
            .any(|a| a.kind == ActionKind::Fence && a.rsc == *node)
    };
    assert!(fences(&failed), "{node} is fenced");
    assert_eq!(model.stats(), Stats { whole: 2, alone: 0 });
    for (name, value) in [("fail-count", "INFINITY"), ("last-failure", "1700000095")] {
        model
            .record_attribute(node, &format!("{name}-{rsc}#stop_0"), Some(value))
            .expect("records");
    }
    let counted = model.plan().clone();
    assert_eq!(counted, from_scratch(&model));
    assert!(fences(&counted), "{node} is still fenced");
    assert_eq!(model.stats(), Stats { whole: 2, alone: 1 });
    let other = model
        .cib()
        .status
        .nodes
        .iter()
        .find(|ns| ns.online() && ns.uname.as_str() != node && ns.resource(rsc).is_none())
        .map(|ns| ns.uname.as_str().to_owned());
    if let Some(other) = other {
        let probe = op_attrs(&format!("{rsc}_last_0"), "monitor", 0, 7, 300_001);
        record_entry(&mut model, &other, &e, &probe);
        assert_eq!(
            model.plan().clone(),
            from_scratch(&model),
            "probed on {other}"
        );
        assert_eq!(model.stats(), Stats { whole: 2, alone: 2 });
    }
}

/// The constraints element of `doc`.
fn constraints_of(doc: &cib::Document) -> cib::tree::ElementId {
    let root = doc.root().expect("a root");
    let config = doc.child(root, "configuration").expect("a configuration");
    doc.child(config, "constraints").expect("constraints")
}

/// Add to `doc` the location a manual move of `rsc` to `to` adds (`cli-prefer-<rsc>`,
/// last among the constraints); returns its id.
fn add_move(doc: &mut cib::Document, rsc: &str, to: &str) -> String {
    let id = format!("cli-prefer-{rsc}");
    let cons = constraints_of(doc);
    let attrs = [
        ("id", id.as_str()),
        ("rsc", rsc),
        ("role", "Started"),
        ("node", to),
        ("score", "INFINITY"),
    ];
    doc.append(cons, "rsc_location", &attrs);
    id
}

/// A manual move of a running standalone primitive (`cli-prefer-<rsc>`, as `crm_resource
/// --move` or the daemon's move adds it, last among the constraints), then its clearing:
/// each taken in by `sync_constraint` and re-planned apart, as parsing the updated CIB
/// plans. A location by pattern is refused (the model is then made again).
#[test]
fn a_move_and_its_clearing_are_replanned_apart() {
    let mut model = model();
    let e = standalone_monitor(&mut model);
    let (node, rsc) = (&e.0, &e.1);
    let to = model
        .cib()
        .status
        .nodes
        .iter()
        .map(|ns| ns.uname.as_str().to_owned())
        .find(|n| n != node && model.cib().status.node(n).is_some_and(|ns| ns.online()))
        .expect("another online node");
    let mut moved = model.document().clone();
    let id = add_move(&mut moved, rsc, &to);
    model.sync_constraint(&id, &moved).expect("taken in");
    let plan = model.plan().clone();
    assert_eq!(plan, from_scratch(&model));
    let place = |p: &Plan| p.placement.iter().find(|x| x.rsc == *rsc).cloned();
    assert!(
        place(&plan).is_some_and(|p| p.nodes == vec![to.clone()]),
        "{rsc} moves to {to}: {:?}",
        place(&plan)
    );
    assert_eq!(model.stats(), Stats { whole: 1, alone: 1 });

    let mut cleared = model.document().clone();
    let c = constraints_of(&cleared);
    let el = cleared
        .children(c)
        .find(|&x| cleared.get(x).id() == Some(id.as_str()))
        .expect("the move");
    cleared.detach(el);
    model.sync_constraint(&id, &cleared).expect("taken in");
    let plan = model.plan().clone();
    assert_eq!(plan, from_scratch(&model));
    assert_eq!(model.stats(), Stats { whole: 1, alone: 2 });

    let mut pattern = model.document().clone();
    let c = constraints_of(&pattern);
    let attrs = [
        ("id", "by-pattern"),
        ("rsc-pattern", "^rsc"),
        ("node", to.as_str()),
        ("score", "10"),
    ];
    pattern.append(c, "rsc_location", &attrs);
    assert!(matches!(
        model.sync_constraint("by-pattern", &pattern),
        Err(scheduler::ModelError::Constraint(_))
    ));
}

/// A location rule of a standalone primitive that bans it after a date: time moving on
/// without crossing the date changes nothing; crossing it re-plans that primitive apart
/// (it stops), as parsing the CIB at that time plans, and so does going back.
#[test]
fn a_location_date_rule_crossing_is_replanned_apart() {
    let xml = generated();
    let e = standalone_monitor(&mut Model::new(cib::parse("gen.xml", &xml), input()));
    let rsc = &e.1;
    // NOW is 2023-11-14 22:15:00 UTC; the rule holds from 22:20:00 on.
    let rule = format!(
        "<rsc_location id=\"after\" rsc=\"{rsc}\"><rule id=\"after-r\" score=\"-INFINITY\">\
         <date_expression id=\"after-d\" operation=\"gt\" start=\"2023-11-14 22:20:00\"/>\
         </rule></rsc_location>"
    );
    let xml = xml.replacen("<constraints>", &format!("<constraints>{rule}"), 1);
    let parsed = cib::parse("gen.xml", &xml);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let mut model = Model::new(parsed, input());
    let first = model.plan().clone();
    let at_now = |model: &Model, now: i64| {
        let parsed = cib::parse("again.xml", &model.document().to_xml());
        scheduler::schedule(
            &parsed.cib,
            &Input {
                now: Some(now),
                explain: false,
            },
        )
    };
    let runs = |p: &Plan| {
        p.placement
            .iter()
            .any(|x| x.rsc == *rsc && !x.nodes.is_empty())
    };
    assert!(runs(&first), "{rsc} runs before the date");
    model.set_now(Some(NOW + 200));
    assert_eq!(model.planned(), Some(&first), "the date is not reached");
    for (now, alone) in [(NOW + 400, 1), (NOW + 500, 1), (NOW + 100, 2)] {
        model.set_now(Some(now));
        let plan = model.plan().clone();
        assert_eq!(plan, at_now(&model, now), "at {now}");
        assert_eq!(runs(&plan), now <= NOW + 300, "at {now}");
        assert_eq!(model.stats(), Stats { whole: 1, alone }, "at {now}");
    }
}

/// The membership attributes a new view lays over a node that left the cluster (as the
/// daemon does for a lost peer) and over one that is back.
const LOST: [(&str, &str); 4] = [
    ("in_ccm", "false"),
    ("crmd", "offline"),
    ("join", "down"),
    ("expected", "member"),
];
const MEMBER: [(&str, &str); 4] = [
    ("in_ccm", "true"),
    ("crmd", "online"),
    ("join", "member"),
    ("expected", "member"),
];

#[test]
fn a_node_lost_back_lost_fenced_and_quorum_lost_plan_as_the_updated_cib_without_lowering_it() {
    let mut model = model();
    model.plan();
    let busiest = {
        let cib = model.cib();
        let n = cib
            .status
            .nodes
            .iter()
            .filter(|n| n.in_ccm)
            .max_by_key(|n| n.resources.len())
            .expect("an online node");
        n.uname.as_str().to_owned()
    };
    let whole = |m: &Model| m.stats().whole;
    // Lost: its resources are recovered elsewhere after it is fenced.
    model.set_node_state(&busiest, &LOST).expect("a known node");
    let before = whole(&model);
    let lost = model.plan().clone();
    assert_eq!(whole(&model), before + 1, "a new view plans whole");
    assert_eq!(lost, from_scratch(&model));
    assert!(
        lost.actions
            .iter()
            .any(|a| a.kind == ActionKind::Fence && a.rsc == busiest),
        "the lost node is fenced"
    );
    // The same view again changes nothing.
    model.set_node_state(&busiest, &LOST).expect("a known node");
    model.set_cluster_state(&[("have-quorum", "1")]);
    model.plan();
    assert_eq!(whole(&model), before + 1, "nothing changed");
    // Quorum lost, then the node back and quorum again.
    model.set_cluster_state(&[("have-quorum", "0")]);
    let no_quorum = model.plan().clone();
    assert_eq!(no_quorum, from_scratch(&model));
    assert_ne!(no_quorum, lost);
    model
        .set_node_state(&busiest, &MEMBER)
        .expect("a known node");
    model.set_cluster_state(&[("have-quorum", "1")]);
    let back = model.plan().clone();
    assert_eq!(back, from_scratch(&model));
    assert_eq!(whole(&model), before + 3);
    let err = model
        .set_node_state("no-such-node", &LOST)
        .expect_err("an unknown node");
    assert!(err.to_string().contains("no-such-node"), "{err}");
    // Lost again, then fenced: its state made anew, down and clean, last in the status.
    model.set_node_state(&busiest, &LOST).expect("a known node");
    model.plan();
    let id = (model.cib().status.nodes.iter())
        .find(|n| n.uname.as_str() == busiest)
        .map(|n| n.id.clone())
        .expect("its state");
    let down = [
        ("id", id.as_str()),
        ("uname", busiest.as_str()),
        ("in_ccm", "false"),
        ("crmd", "offline"),
        ("join", "down"),
        ("expected", "down"),
    ];
    model
        .renew_node_state(&busiest, &down)
        .expect("a known node");
    let fenced = model.plan().clone();
    assert_eq!(fenced, from_scratch(&model));
    assert_eq!(whole(&model), before + 5);
    let last = model.cib().status.nodes.last().expect("nodes");
    assert_eq!(last.uname.as_str(), busiest);
    assert!(last.resources.is_empty() && !last.unclean);
    assert!(
        !fenced
            .actions
            .iter()
            .any(|a| a.kind == ActionKind::Fence && a.rsc == busiest),
        "a clean node is not fenced again"
    );
    // A state that names another node is refused, and nothing changes.
    let other = [("id", "x"), ("uname", "someone-else")];
    assert!(model.renew_node_state(&busiest, &other).is_err());
    assert_eq!(model.plan(), &fenced);
}

#[test]
fn node_states_put_in_another_order_plan_as_the_reordered_cib() {
    let mut model = model();
    model.plan();
    let mut order: Vec<String> = (model.cib().status.nodes.iter())
        .map(|n| n.uname.as_str().to_owned())
        .collect();
    let same: Vec<&str> = order.iter().map(String::as_str).collect();
    model.order_node_states(&same).expect("the same order");
    model.plan();
    assert_eq!(model.stats().whole, 1, "the same order changes nothing");
    order.reverse();
    let reversed: Vec<&str> = order.iter().map(String::as_str).collect();
    model.order_node_states(&reversed).expect("every node once");
    let plan = model.plan().clone();
    assert_eq!(model.stats().whole, 2);
    assert_eq!(plan, from_scratch(&model));
    let written: Vec<String> = (model.cib().status.nodes.iter())
        .map(|n| n.uname.as_str().to_owned())
        .collect();
    assert_eq!(written, order);
    // The document is written in that order too (from_scratch lowers it).
    let again = cib::parse("again.xml", &model.document().to_xml());
    let read: Vec<&str> = again
        .cib
        .status
        .nodes
        .iter()
        .map(|n| n.uname.as_str())
        .collect();
    assert_eq!(read, reversed);
    // A node missing, twice or unknown is refused, and nothing changes.
    assert!(model.order_node_states(&reversed[1..]).is_err());
    let mut twice = reversed.clone();
    twice[0] = twice[1];
    assert!(model.order_node_states(&twice).is_err());
    let mut unknown = reversed.clone();
    unknown[0] = "no-such-node";
    assert!(model.order_node_states(&unknown).is_err());
    model.plan();
    assert_eq!(model.stats().whole, 2);
}
