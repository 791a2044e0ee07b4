//! The engine against hand-made graphs and a lowered scenario, without processes: a
//! recording fake plays the runner (`run`), answering from a table.
use super::*;
use scheduler::graph::{Agent, FenceOp, GraphOp, OpKind, Origin, PseudoOp, RscOp, StepInfo, lower};

fn rsc(rsc: &str, action: &str, node: &str) -> OpKind {
    OpKind::Rsc(RscOp {
        rsc: rsc.into(),
        node: node.into(),
        node_id: node.into(),
        action: action.into(),
        interval_ms: 0,
        timeout_ms: 20_000,
        expected_rc: if action == "monitor" { 7 } else { 0 },
        key: format!("{rsc}_{action}_0"),
        agent: Agent {
            class: "ocf".into(),
            provider: Some("heartbeat".into()),
            kind: "Dummy".into(),
        },
        params: Vec::new(),
        meta: Vec::new(),
        digest: String::new(),
        record: action != "notify",
        migrate: None,
    })
}

fn fence(target: &str) -> OpKind {
    OpKind::Fence(FenceOp {
        target: target.into(),
        target_id: target.into(),
        action: "reboot".into(),
        devices: Vec::new(),
        timeout_ms: 60_000,
    })
}

fn pseudo(r: &str, node: &str) -> OpKind {
    OpKind::Pseudo(PseudoOp {
        rsc: r.into(),
        node: node.into(),
        action: "stop".into(),
        reason: format!("done by fencing {node}"),
    })
}

fn graph(kind: GraphKind, ops: Vec<OpKind>, edges: &[(OpId, OpId)]) -> Graph {
    Graph {
        kind,
        steps: (0..ops.len())
            .map(|i| StepInfo {
                origin: Origin::Action(i),
                label: format!("op {i}"),
                ops: vec![i],
            })
            .collect(),
        ops: ops
            .into_iter()
            .enumerate()
            .map(|(step, kind)| GraphOp { kind, step })
            .collect(),
        edges: edges.to_vec(),
    }
}

fn ok() -> OpResult {
    OpResult::Agent {
        rc: 0,
        timed_out: false,
        exec_ms: 1,
        exit_reason: None,
        restart: None,
    }
}

fn rc(rc: i32) -> OpResult {
    OpResult::Agent {
        rc,
        timed_out: false,
        exec_ms: 1,
        exit_reason: Some("it broke".into()),
        restart: None,
    }
}

/// What a fake runner saw: the batches it was handed, and every record written.
#[derive(Debug, Default)]
struct Seen {
    batches: Vec<Vec<OpId>>,
    records: Vec<Record>,
}

/// Drive `t` to completion: each round starts everything ready, then completes those in
/// flight in index order with `answer(op)` (the recording fake runner).
fn run(t: &mut Transition, mut answer: impl FnMut(OpId, &OpKind) -> OpResult) -> Seen {
    let mut seen = Seen::default();
    let mut clock = Duration::ZERO;
    while !t.is_complete() {
        let batch = t.ready();
        for &op in &batch {
            seen.records
                .extend(t.started(op, clock).expect("ready ops start"));
        }
        assert!(!batch.is_empty(), "no progress: {:?}", t.state);
        for &op in &batch {
            let kind = t.graph().ops[op].kind.clone();
            let out = t.complete(op, answer(op, &kind)).expect("in flight");
            seen.records.extend(out.records);
        }
        seen.batches.push(batch);
        clock += Duration::from_millis(10);
    }
    seen
}

fn cfg(limit: usize) -> Config {
    Config {
        batch_limit: limit,
        last_call_id: 10,
    }
}

#[test]
fn an_op_starts_only_after_its_predecessors_succeeded() {
    // 0 -> 1 -> 2, 3 free.
    let g = graph(
        GraphKind::Actions,
        vec![
            rsc("a", "start", "n1"),
            rsc("b", "start", "n1"),
            rsc("c", "start", "n1"),
            rsc("d", "start", "n1"),
        ],
        &[(0, 1), (1, 2)],
    );
    let mut t = Transition::new(g, cfg(10));
    let seen = run(&mut t, |_, _| ok());
    assert_eq!(seen.batches, vec![vec![0, 3], vec![1], vec![2]]);
    assert!(t.never_ran().is_empty());
    assert_eq!(t.failures(), 0);
}

#[test]
fn the_batch_limit_bounds_the_ops_in_flight() {
    let g = graph(
        GraphKind::Actions,
        (0..5)
            .map(|i| rsc(&format!("r{i}"), "start", "n1"))
            .collect(),
        &[],
    );
    let mut t = Transition::new(g, cfg(2));
    assert_eq!(t.ready(), vec![0, 1]);
    t.started(0, Duration::ZERO).expect("ready");
    assert_eq!(t.ready(), vec![1], "one slot left");
    t.started(1, Duration::ZERO).expect("ready");
    assert_eq!(t.ready(), Vec::<OpId>::new(), "the limit is reached");
    assert_eq!(
        t.started(2, Duration::ZERO),
        Err(TransitionError::NotReady(2))
    );
    t.complete(0, ok()).expect("in flight");
    assert_eq!(t.ready(), vec![2]);
}

#[test]
fn call_ids_follow_the_history_and_results_reuse_the_in_flight_one() {
    let g = graph(
        GraphKind::Actions,
        vec![rsc("a", "start", "n1"), rsc("b", "start", "n1")],
        &[(0, 1)],
    );
    let mut t = Transition::new(g, cfg(1));
    let seen = run(&mut t, |_, _| ok());
    let ids: Vec<(i64, bool)> = seen
        .records
        .iter()
        .map(|r| match r {
            Record::Op {
                call_id, result, ..
            } => (*call_id, result.is_none()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, [(11, true), (11, false), (12, true), (12, false)]);
}

#[test]
fn a_failure_starts_nothing_more_and_says_what_never_ran() {
    // 0 and 1 run side by side; 0 fails; 2 (after 1) and 3 (after 0) never start.
    let g = graph(
        GraphKind::Actions,
        vec![
            rsc("a", "start", "n1"),
            rsc("b", "start", "n1"),
            rsc("c", "start", "n1"),
            rsc("d", "start", "n1"),
        ],
        &[(1, 2), (0, 3)],
    );
    let mut t = Transition::new(g, cfg(4));
    t.started(0, Duration::ZERO).expect("ready");
    t.started(1, Duration::ZERO).expect("ready");
    let out = t.complete(0, rc(1)).expect("in flight");
    assert!(out.failed && out.stop);
    assert!(matches!(out.records[..], [Record::Op { failed: true, .. }]));
    assert!(t.ready().is_empty(), "nothing new starts");
    assert!(!t.is_complete(), "1 is still in flight");
    let out = t.complete(1, ok()).expect("in flight");
    assert!(!out.failed && out.stop);
    assert!(t.is_complete());
    assert_eq!(t.never_ran(), vec![2, 3]);
    let events = t.take_events();
    assert!(events.contains(&Event::Failed(0)));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Aborted { reason } if reason.contains("failed")))
    );
}

#[test]
fn a_timeout_is_a_failure_whatever_the_rc() {
    let g = graph(GraphKind::Actions, vec![rsc("a", "stop", "n1")], &[]);
    let mut t = Transition::new(g, cfg(1));
    t.started(0, Duration::ZERO).expect("ready");
    let out = t
        .complete(
            0,
            OpResult::Agent {
                rc: 0,
                timed_out: true,
                exec_ms: 20_000,
                exit_reason: None,
                restart: None,
            },
        )
        .expect("in flight");
    assert!(out.failed && out.stop);
}

#[test]
fn an_op_past_its_timeout_is_overdue_for_a_driver_that_waits_on_others() {
    let g = graph(GraphKind::Actions, vec![rsc("a", "start", "n2")], &[]);
    let mut t = Transition::new(g, cfg(1));
    t.started(0, Duration::from_secs(100)).expect("ready");
    let grace = Duration::from_secs(5);
    assert!(t.overdue(Duration::from_secs(120), grace).is_empty());
    assert_eq!(t.overdue(Duration::from_secs(126), grace), vec![0]);
}

#[test]
fn probes_all_run_even_when_one_finds_a_failure() {
    let g = graph(
        GraphKind::Probes,
        vec![
            rsc("a", "monitor", "n1"),
            rsc("b", "monitor", "n1"),
            rsc("c", "monitor", "n1"),
        ],
        &[],
    );
    let mut t = Transition::new(g, cfg(1));
    let seen = run(&mut t, |op, _| if op == 0 { rc(1) } else { rc(7) });
    assert_eq!(seen.batches.len(), 3, "all three ran");
    assert!(t.stopped().is_none());
    // No in-flight markers for probes: only their results.
    assert!(seen.records.iter().all(|r| matches!(
        r,
        Record::Op {
            result: Some(_),
            ..
        }
    )));
    assert_eq!(t.failures(), 1);
}

#[test]
fn a_probe_finding_the_resource_running_is_no_failure() {
    let g = graph(GraphKind::Probes, vec![rsc("a", "monitor", "n1")], &[]);
    let mut t = Transition::new(g, cfg(1));
    run(&mut t, |_, _| ok());
    assert_eq!(t.failures(), 0);
}

#[test]
fn a_failed_notification_is_not_recorded_and_stops_the_transition() {
    let g = graph(
        GraphKind::Actions,
        vec![rsc("db", "notify", "n1"), rsc("db", "promote", "n1")],
        &[(0, 1)],
    );
    let mut t = Transition::new(g, cfg(2));
    let started = t.started(0, Duration::ZERO).expect("ready");
    assert_eq!(started, None, "no in-flight marker for a notification");
    let out = t.complete(0, rc(1)).expect("in flight");
    assert!(out.records.is_empty(), "not recorded, no fail count");
    assert!(out.failed && out.stop);
    assert!(t.is_complete());
    assert_eq!(t.never_ran(), vec![1]);
}

#[test]
fn a_migration_stops_at_its_first_failed_step() {
    // migrate_to -> migrate_from -> stop, then a start ordered after the migration.
    let g = graph(
        GraphKind::Actions,
        vec![
            rsc("vm", "migrate_to", "a"),
            rsc("vm", "migrate_from", "b"),
            rsc("vm", "stop", "a"),
            rsc("web", "start", "b"),
        ],
        &[(0, 1), (1, 2), (2, 3)],
    );
    let mut t = Transition::new(g.clone(), cfg(4));
    let seen = run(&mut t, |op, _| if op == 1 { rc(1) } else { ok() });
    assert_eq!(seen.batches, vec![vec![0], vec![1]]);
    assert_eq!(t.never_ran(), vec![2, 3]);

    let mut t = Transition::new(g, cfg(4));
    let seen = run(&mut t, |_, _| ok());
    assert_eq!(seen.batches, vec![vec![0], vec![1], vec![2], vec![3]]);
}

#[test]
fn nothing_after_a_fence_starts_before_it_succeeded_and_a_failed_fence_blocks_them() {
    // fence n2 -> pseudo stop of r on n2 -> start r on n1.
    let g = graph(
        GraphKind::Actions,
        vec![fence("n2"), pseudo("r", "n2"), rsc("r", "start", "n1")],
        &[(0, 1), (1, 2)],
    );
    let mut t = Transition::new(g.clone(), cfg(4));
    assert_eq!(t.ready(), vec![0], "only the fence is ready");
    let seen = run(&mut t, |_, k| match k {
        OpKind::Fence(_) => OpResult::Fence { ok: true },
        OpKind::Pseudo(_) => OpResult::Implied,
        OpKind::Rsc(_) => ok(),
    });
    assert_eq!(seen.batches, vec![vec![0], vec![1], vec![2]]);
    assert!(seen.records.contains(&Record::Fenced {
        node: "n2".into(),
        node_id: "n2".into()
    }));

    let mut t = Transition::new(g, cfg(4));
    let seen = run(&mut t, |_, _| OpResult::Fence { ok: false });
    assert_eq!(seen.batches, vec![vec![0]]);
    assert_eq!(t.never_ran(), vec![1, 2], "recovery waits for a fence");
    assert!(
        !seen
            .records
            .iter()
            .any(|r| matches!(r, Record::Fenced { .. }))
    );
}

#[test]
fn a_lost_nodes_ops_in_flight_are_forgotten_never_assumed_done() {
    let g = graph(
        GraphKind::Actions,
        vec![
            rsc("a", "start", "n1"),
            rsc("b", "start", "n2"),
            rsc("c", "start", "n1"),
        ],
        &[(1, 2)],
    );
    let mut t = Transition::new(g, cfg(4));
    t.started(0, Duration::ZERO).expect("ready");
    t.started(1, Duration::ZERO).expect("ready");
    assert_eq!(t.node_lost("n2"), vec![1]);
    assert_eq!(t.state(1), Some(OpState::Lost));
    assert!(t.ready().is_empty(), "the transition stops");
    // A late answer from the lost node changes nothing.
    assert_eq!(t.complete(1, ok()), Ok(Outcome::default()));
    assert!(!t.is_complete(), "the op on n1 is awaited");
    t.complete(0, ok()).expect("in flight");
    assert!(t.is_complete());
    assert_eq!(t.never_ran(), vec![2]);
    assert!(t.take_events().contains(&Event::Lost {
        op: 1,
        node: "n2".into()
    }));
}

#[test]
fn abort_lets_the_ops_in_flight_end_and_says_what_never_ran() {
    let g = graph(
        GraphKind::Actions,
        vec![rsc("a", "start", "n1"), rsc("b", "start", "n1")],
        &[(0, 1)],
    );
    let mut t = Transition::new(g, cfg(4));
    t.started(0, Duration::ZERO).expect("ready");
    assert_eq!(t.abort("the configuration changed"), vec![1]);
    assert!(!t.is_complete());
    let out = t.complete(0, ok()).expect("in flight");
    assert!(out.stop && !out.failed);
    assert!(t.is_complete());
    assert_eq!(t.stopped(), Some("the configuration changed"));
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let g = graph(GraphKind::Actions, vec![rsc("a", "start", "n1")], &[]);
    let mut t = Transition::new(g, cfg(1));
    assert_eq!(t.complete(0, ok()), Err(TransitionError::NotInFlight(0)));
    assert_eq!(t.complete(9, ok()), Err(TransitionError::NoSuchOp(9)));
    assert_eq!(
        t.started(9, Duration::ZERO),
        Err(TransitionError::NoSuchOp(9))
    );
}

/// The lost control-plane node of `cib-examples`: lowered by the scheduler, then run with
/// every operation succeeding, the fence comes before anything that depends on it.
#[test]
fn a_lowered_scenario_fences_before_it_recovers() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../cib-examples/control-plane-node-lost/cib.xml"
    );
    let xml = std::fs::read_to_string(path).expect("read the example");
    let parsed = cib::parse("cib.xml", &xml);
    assert!(!parsed.has_errors());
    let now = 1_700_000_000;
    let plan = scheduler::schedule(
        &parsed.cib,
        &scheduler::Input {
            now: Some(now),
            explain: false,
        },
    );
    let src = scheduler::graph::Sources {
        cib: &parsed.cib,
        previous: None,
        now,
    };
    let g = lower(&plan, &src, &[]).expect("lowered");
    let fence_op = g
        .ops
        .iter()
        .position(|o| matches!(o.kind, OpKind::Fence(_)))
        .expect("a fence");
    // Everything reachable from the fence.
    let mut after_fence = BTreeSet::from([fence_op]);
    loop {
        let more: Vec<OpId> = g
            .edges
            .iter()
            .filter(|(a, b)| after_fence.contains(a) && !after_fence.contains(b))
            .map(|&(_, b)| b)
            .collect();
        if more.is_empty() {
            break;
        }
        after_fence.extend(more);
    }
    assert!(after_fence.len() > 1, "recovery depends on the fence");
    let mut order = Vec::new();
    let mut t = Transition::new(g, cfg(8));
    run(&mut t, |op, k| {
        order.push(op);
        match k {
            OpKind::Fence(_) => OpResult::Fence { ok: true },
            OpKind::Pseudo(_) => OpResult::Implied,
            OpKind::Rsc(_) => ok(),
        }
    });
    let pos = |x: OpId| order.iter().position(|&o| o == x).expect("ran");
    for &op in after_fence.iter().filter(|&&o| o != fence_op) {
        assert!(pos(fence_op) < pos(op), "op {op} ran before the fence");
    }
    assert!(t.never_ran().is_empty());
}
