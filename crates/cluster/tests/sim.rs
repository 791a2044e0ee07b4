//! The simulated Corosync keeps Corosync's promises over thousands of random schedules:
//! agreed order, virtual synchrony at membership changes, a node's own message looped back,
//! cut messages of a dead node delivered to nobody, quorum by majority, and the outgoing
//! queue delivering everything in order through TRY_AGAIN.

use std::collections::{BTreeMap, BTreeSet};

use cluster::sim::{Delivered, SimCorosync};
use cluster::{Event, Group, NodeId, Outgoing};

const NODES: u32 = 5;

/// The messages delivered in one view.
type ViewMessages = Vec<Vec<u8>>;

/// Runs one random schedule; returns the simulation and its trace.
fn run(seed: u64) -> (SimCorosync, Vec<Delivered>) {
    let sim = SimCorosync::new(seed, NODES, 20);
    let mut nodes: Vec<_> = (1..=NODES).map(|i| sim.node(i)).collect();
    let mut queues: Vec<Outgoing> = (1..=NODES).map(|_| Outgoing::new()).collect();
    let mut counter = 0u32;
    let mut split = false;
    for step in 0..300 {
        match sim.draw(100) {
            0..=9 => {
                let n = sim.draw(NODES as u64) as usize;
                let _ = nodes[n].join();
            }
            10..=49 => {
                let n = sim.draw(NODES as u64) as usize;
                counter += 1;
                queues[n].push(format!("{}-{counter}", n + 1).into_bytes());
                // A refused send (TRY_AGAIN) stays queued; a dead or unjoined node's too.
                let _ = queues[n].flush(&mut nodes[n]);
            }
            50..=89 => {
                sim.deliver_one();
            }
            90..=92 if step > 20 => {
                let alive: Vec<NodeId> = (1..=NODES).filter(|i| sim.alive(*i)).collect();
                if alive.len() > 2 {
                    sim.kill(alive[sim.draw(alive.len() as u64) as usize]);
                }
            }
            93..=95 if !split => {
                let a = 1 + sim.draw(NODES as u64) as NodeId;
                sim.split(&[a]);
                split = true;
            }
            96..=97 if split => {
                sim.heal();
                split = false;
            }
            _ => {}
        }
        for n in nodes.iter_mut() {
            while n.poll().is_some() {}
        }
    }
    sim.drain();
    let trace = sim.trace();
    (sim, trace)
}

fn messages_by_node(trace: &[Delivered]) -> BTreeMap<NodeId, Vec<(u64, Vec<u8>)>> {
    let mut by: BTreeMap<NodeId, Vec<(u64, Vec<u8>)>> = BTreeMap::new();
    for d in trace {
        if let Event::Message { payload, .. } = &d.event {
            by.entry(d.node)
                .or_default()
                .push((d.view, payload.clone()));
        }
    }
    by
}

#[test]
fn agreed_order_holds_over_two_thousand_random_schedules() {
    for seed in 0..2000 {
        let (_, trace) = run(seed);
        let by = messages_by_node(&trace);
        let ids: Vec<&NodeId> = by.keys().collect();
        for a in &ids {
            for b in &ids {
                let pos_b: BTreeMap<&Vec<u8>, usize> =
                    by[b].iter().enumerate().map(|(i, (_, p))| (p, i)).collect();
                let common: Vec<usize> = by[a]
                    .iter()
                    .filter_map(|(_, p)| pos_b.get(p).copied())
                    .collect();
                assert!(
                    common.windows(2).all(|w| w[0] < w[1]),
                    "seed {seed}: nodes {a} and {b} delivered common messages in different orders"
                );
            }
        }
    }
}

#[test]
fn members_that_move_together_delivered_the_same_messages() {
    let mut changes = 0;
    for seed in 0..2000 {
        let (_, trace) = run(seed);
        // For each node: the views it was in, in order, and the messages of each.
        let mut views: BTreeMap<NodeId, Vec<(u64, ViewMessages)>> = BTreeMap::new();
        for d in &trace {
            let v = views.entry(d.node).or_default();
            match &d.event {
                Event::Membership { .. } => v.push((d.view, Vec::new())),
                Event::Message { payload, .. } => {
                    let last = v.last_mut().expect("a message before any membership");
                    assert_eq!(last.0, d.view, "seed {seed}: a message outside its view");
                    last.1.push(payload.clone());
                }
                Event::Quorum { .. } => {}
            }
        }
        // (view, next view) -> the messages delivered in view by those that went on to next.
        let mut seen: BTreeMap<(u64, u64), (NodeId, ViewMessages)> = BTreeMap::new();
        for (node, vs) in &views {
            for w in vs.windows(2) {
                changes += 1;
                let key = (w[0].0, w[1].0);
                if let Some((other, msgs)) = seen.get(&key) {
                    assert_eq!(
                        msgs, &w[0].1,
                        "seed {seed}: nodes {other} and {node} went from view {} to {} after different messages",
                        key.0, key.1
                    );
                } else {
                    seen.insert(key, (*node, w[0].1.clone()));
                }
            }
        }
    }
    assert!(
        changes > 10_000,
        "the schedules changed membership {changes} times"
    );
}

#[test]
fn every_delivered_message_reached_its_own_sender_too() {
    let mut messages = 0;
    for seed in 0..2000 {
        let (_, trace) = run(seed);
        let mut delivered_to: BTreeMap<Vec<u8>, (NodeId, BTreeSet<NodeId>)> = BTreeMap::new();
        for d in &trace {
            if let Event::Message { from, payload } = &d.event {
                delivered_to
                    .entry(payload.clone())
                    .or_insert_with(|| (*from, BTreeSet::new()))
                    .1
                    .insert(d.node);
            }
        }
        for (msg, (from, to)) in &delivered_to {
            messages += 1;
            assert!(
                to.contains(from),
                "seed {seed}: {msg:?} was delivered to {to:?} but not to its sender {from}"
            );
        }
    }
    assert!(
        messages > 50_000,
        "only {messages} messages in the schedules"
    );
}

#[test]
fn a_dead_nodes_undelivered_messages_are_cut_and_the_others_come_first() {
    let sim = SimCorosync::new(1, 3, 0);
    let mut n: Vec<_> = (1..=3).map(|i| sim.node(i)).collect();
    for x in n.iter_mut() {
        x.join().expect("join");
    }
    for x in n.iter_mut() {
        while x.poll().is_some() {}
    }
    n[0].send(b"from-1").expect("send");
    n[1].send(b"from-2").expect("send");
    sim.kill(1);
    sim.drain();
    let seen: Vec<Event> = std::iter::from_fn(|| n[2].poll()).collect();
    assert_eq!(
        seen[0],
        Event::Message {
            from: 2,
            payload: b"from-2".to_vec()
        },
        "{seen:?}"
    );
    assert!(
        matches!(&seen[1], Event::Membership { left, .. } if left == &vec![1]),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::Message { from: 1, .. })),
        "the dead node's message was delivered: {seen:?}"
    );
}

#[test]
fn quorum_follows_the_majority() {
    let sim = SimCorosync::new(7, 3, 0);
    let mut n: Vec<_> = (1..=3).map(|i| sim.node(i)).collect();
    for x in n.iter_mut() {
        x.join().expect("join");
    }
    let last_quorum = |node: &mut cluster::sim::SimNode| {
        let mut q = None;
        while let Some(e) = node.poll() {
            if let Event::Quorum { quorate } = e {
                q = Some(quorate);
            }
        }
        q
    };
    assert_eq!(last_quorum(&mut n[0]), Some(true));
    sim.split(&[3]);
    assert_eq!(
        last_quorum(&mut n[2]),
        Some(false),
        "the minority loses quorum"
    );
    assert_eq!(
        last_quorum(&mut n[0]),
        None,
        "the majority keeps it (no change)"
    );
    sim.kill(2);
    assert_eq!(last_quorum(&mut n[0]), Some(false), "1 of 3 is no majority");
    assert_eq!(n[1].send(b"x"), Err(cluster::Error::Closed));
}

#[test]
fn the_outgoing_queue_gets_everything_through_try_again_in_order() {
    let sim = SimCorosync::new(42, 3, 50);
    let mut a = sim.node(1);
    let mut b = sim.node(2);
    a.join().expect("join");
    b.join().expect("join");
    let mut out = Outgoing::new();
    for i in 0..200 {
        out.push(format!("m{i}").into_bytes());
    }
    let mut rounds = 0;
    while !out.is_empty() {
        out.flush(&mut a).expect("flush");
        sim.deliver_one();
        rounds += 1;
        assert!(rounds < 10_000, "the queue never drained");
    }
    sim.drain();
    assert!(
        out.retries() > 20,
        "TRY_AGAIN was refused {} times",
        out.retries()
    );
    let got: Vec<Vec<u8>> = std::iter::from_fn(|| b.poll())
        .filter_map(|e| match e {
            Event::Message { from: 1, payload } => Some(payload),
            _ => None,
        })
        .collect();
    let want: Vec<Vec<u8>> = (0..200).map(|i| format!("m{i}").into_bytes()).collect();
    assert_eq!(got, want);
}
