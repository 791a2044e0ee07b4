//! Golden transition graphs: a few scenarios' plans lowered by `scheduler::graph::lower`,
//! printed as text and compared with `tests/graph/<case>.txt` (`UPDATE_EXPECT=1` rewrites
//! them). The graph is what a node runs without the CIB, so every parameter, meta value,
//! timeout, key and edge is pinned here.
use scheduler::graph::{self, Graph, GraphKind, OpKind, Sources};
use scheduler::{Input, schedule};

const NOW: i64 = 1_700_000_000;

fn example(case: &str) -> String {
    let path = format!(
        "{}/../../cib-examples/{case}/cib.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("failed to read {path}: {e}"))
}

/// The demo stack with both nodes online and every probe answered "not running" (rc 7):
/// the probe graph's operations, recorded as their node would record them.
fn demo_probed() -> String {
    let online =
        example("demo-stack").replace("admin_epoch=\"0\">", "admin_epoch=\"0\" have-quorum=\"1\">");
    let nodes = [("1", "node-a"), ("2", "node-b")];
    let state = |lrm: &dyn Fn(&str) -> String| {
        let mut s = String::from("<status>");
        for (id, uname) in nodes {
            s.push_str(&format!(
                r#"<node_state id="{id}" uname="{uname}" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="{id}"><lrm_resources>{}</lrm_resources></lrm></node_state>"#,
                lrm(uname)
            ));
        }
        s + "</status>"
    };
    let probes = graph_of(&online.replace("<status/>", &state(&|_| String::new())));
    assert_eq!(probes.kind, GraphKind::Probes);
    online.replace(
        "<status/>",
        &state(&|node| {
            probes
                .ops
                .iter()
                .filter_map(|o| match &o.kind {
                    OpKind::Rsc(r) if r.node == node => Some(format!(
                        r#"<lrm_resource id="{rsc}" class="{c}" provider="{p}" type="{t}"><lrm_rsc_op id="{rsc}_last_0" operation_key="{key}" operation="monitor" transition-key="1:0:7:x" transition-magic="0:7;1:0:7:x" call-id="1" rc-code="7" op-status="0" interval="0" last-rc-change="{NOW}" exec-time="0" queue-time="0" op-digest="{d}"/></lrm_resource>"#,
                        rsc = r.rsc,
                        c = r.agent.class,
                        p = r.agent.provider.as_deref().unwrap_or(""),
                        t = r.agent.kind,
                        key = r.key,
                        d = r.digest
                    )),
                    _ => None,
                })
                .collect()
        }),
    )
}

fn graph_of(xml: &str) -> Graph {
    let parsed = cib::parse("cib.xml", xml);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let plan = schedule(
        &parsed.cib,
        &Input {
            now: Some(NOW),
            explain: false,
        },
    );
    let src = Sources {
        cib: &parsed.cib,
        previous: None,
        now: NOW,
    };
    graph::lower(&plan, &src, &[]).expect("every resource of the plan is configured")
}

fn check(case: &str, g: &Graph) {
    let path = format!("{}/tests/graph/{case}.txt", env!("CARGO_MANIFEST_DIR"));
    let got = g.to_string();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &got).unwrap_or_else(|e| panic!("failed to write {path}: {e}"));
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("failed to read {path} (UPDATE_EXPECT=1 writes it): {e}"));
    assert_eq!(
        got, want,
        "{case}: the graph differs (UPDATE_EXPECT=1 rewrites)"
    );
}

#[test]
fn a_lost_node_is_fenced_and_its_stops_are_pseudo_ops_ordered_after_the_fence() {
    let g = graph_of(&example("control-plane-node-lost"));
    check("control-plane-node-lost", &g);
    let fence = g
        .ops
        .iter()
        .position(|o| matches!(&o.kind, OpKind::Fence(f) if f.target == "ctl3"))
        .expect("ctl3 is fenced");
    let OpKind::Fence(f) = &g.ops[fence].kind else {
        unreachable!()
    };
    assert!(!f.devices.is_empty(), "the fence carries its devices");
    let pseudo: Vec<usize> = (0..g.ops.len())
        .filter(|&i| matches!(&g.ops[i].kind, OpKind::Pseudo(p) if p.node == "ctl3"))
        .collect();
    assert!(!pseudo.is_empty(), "ctl3's stops are implied by the fence");
    assert!(
        !g.ops
            .iter()
            .any(|o| matches!(&o.kind, OpKind::Rsc(r) if r.node == "ctl3")),
        "nothing runs on the node being fenced"
    );
}

#[test]
fn a_migration_is_three_chained_operations_with_source_and_target() {
    let g = graph_of(&example("manual-move"));
    check("manual-move", &g);
    let step = g
        .steps
        .iter()
        .find(|s| s.label.starts_with("migrate vm-web"))
        .expect("vm-web migrates");
    let actions: Vec<(&str, &str)> = step
        .ops
        .iter()
        .map(|&i| match &g.ops[i].kind {
            OpKind::Rsc(r) => (r.action.as_str(), r.node.as_str()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("migrate_to", "ctl2"),
            ("migrate_from", "ctl1"),
            ("stop", "ctl2")
        ]
    );
    assert!(g.edges.contains(&(step.ops[0], step.ops[1])));
    assert!(g.edges.contains(&(step.ops[1], step.ops[2])));
    let OpKind::Rsc(to) = &g.ops[step.ops[0]].kind else {
        unreachable!()
    };
    assert!(
        to.meta
            .contains(&("migrate_target".to_owned(), "ctl1".to_owned()))
    );
}

#[test]
fn notifications_are_unrecorded_operations_in_the_same_edge_list() {
    let g = graph_of(&demo_probed());
    check("demo-stack-online", &g);
    let notes: Vec<usize> = (0..g.ops.len())
        .filter(|&i| matches!(&g.ops[i].kind, OpKind::Rsc(r) if r.action == "notify"))
        .collect();
    assert!(!notes.is_empty());
    for &n in &notes {
        let OpKind::Rsc(r) = &g.ops[n].kind else {
            unreachable!()
        };
        assert!(!r.record, "a notification is never recorded");
        assert!(r.key.contains("_notify_"), "{}", r.key);
        assert!(r.meta.iter().any(|(k, _)| k == "notify_type"));
        assert!(
            g.edges.iter().any(|&(a, b)| a == n || b == n),
            "notification {n} is ordered"
        );
    }
}

#[test]
fn a_changed_parameter_is_reloaded_with_the_new_values() {
    check(
        "changed-parameters",
        &graph_of(&example("changed-parameters")),
    );
}

#[test]
fn probes_form_a_graph_of_their_own_expecting_not_running() {
    let g = graph_of(&example("resource-discovery"));
    check("resource-discovery", &g);
    if g.kind == GraphKind::Probes {
        assert!(g.edges.is_empty());
        for o in &g.ops {
            let OpKind::Rsc(r) = &o.kind else {
                panic!("a probe graph holds probes only")
            };
            assert_eq!((r.action.as_str(), r.expected_rc), ("monitor", 7));
        }
    }
}
