//! The daemon's state machine over the simulated Corosync: focused scenarios (sync,
//! version refusal, unclean → fence → recovery, a failing fence, a coordinator change, an
//! operation whose result never comes), then thousands of random fault schedules (node
//! kills and restarts, splits, failing fences and agents, hung executors, operator
//! requests) checked at every step: no primitive (or promoted instance) active on two
//! nodes, nothing of a lost node started elsewhere before its fence is confirmed, and
//! every schedule converges once the faults stop, with every node's view the same. No start
//! is ever sent where the resource already runs (its history lost, say by a synchronisation
//! that missed a result).
//!
//! Once quiet, every live node's `status` (resources where their history says they run)
//! must show the world as it is.
//!
//! `DAEMON_SIM_SEEDS=N` runs N random schedules (default 350: about 0.2 s of CPU each in
//! a debug build, so the test stays near a minute); `DAEMON_SIM_SEED=S` replays one (with
//! `DAEMON_SIM_LOG=<file>` writing its whole log); `DAEMON_SIM_FROM=F` starts the seeds at
//! F. CI (`scripts/test`) runs 2,000 more in a release build (about 35 ms each):
//! `DAEMON_SIM_FROM=350 DAEMON_SIM_SEEDS=2000 cargo test --release -p daemon --test sim
//! random_fault_schedules`.

mod harness;

use daemon::{Reply, Request};
use harness::{Harness, cib};

fn converged(h: &mut Harness) {
    if let Err(e) = h.settle(3000) {
        panic!("seed {}: {e}\n{}", h.seed, h.tail(60));
    }
    assert!(
        h.violations.is_empty(),
        "{:?}\n{}",
        h.violations,
        h.tail(60)
    );
    assert_eq!(h.planned(), h.actual(), "world = plan\n{}", h.tail(60));
    if let Err(e) = h.status_shows_the_world() {
        panic!("{e}\n{}", h.tail(60));
    }
}

fn where_is(h: &Harness, rsc: &str) -> Vec<String> {
    h.actual()
        .into_iter()
        .filter(|(r, _, _)| r == rsc)
        .map(|(_, n, _)| n)
        .collect()
}

#[test]
fn three_nodes_synchronise_elect_the_lowest_and_start_everything_once() {
    let mut h = Harness::new(1, 3, 0, Some(&cib(3, 1)));
    converged(&mut h);
    let st = h.node(2).status();
    assert!(st.quorate);
    assert_eq!(st.coordinator.as_deref(), Some("n1"));
    assert_eq!(st.version, "0.1.0");
    assert!(st.nodes.iter().all(|n| n.state == "online"), "{st:?}");
    assert!(!st.busy);
    // The group runs together, the pair apart, one promoted db.
    let fs = where_is(&h, "fs");
    assert_eq!(fs.len(), 1);
    assert_eq!(where_is(&h, "api"), fs);
    assert_eq!(where_is(&h, "lb"), fs);
    assert_ne!(where_is(&h, "a1"), where_is(&h, "a2"));
    let promoted: Vec<_> = h
        .actual()
        .into_iter()
        .filter(|(r, _, role)| r == "db" && role == "Promoted")
        .collect();
    assert_eq!(promoted.len(), 1, "{:?}", h.actual());
    // Every node's status says the same.
    let s1 = h.node(1).status();
    let s3 = h.node(3).status();
    assert_eq!(s1.resources, s3.resources);
    assert_eq!(s1.nodes, s3.nodes);
}

#[test]
fn a_killed_node_is_unclean_then_fenced_then_its_resources_recovered_in_order() {
    let mut h = Harness::new(2, 3, 0, Some(&cib(3, 1)));
    converged(&mut h);
    let victim: u32 = where_is(&h, "fs")[0]
        .trim_start_matches('n')
        .parse()
        .unwrap_or(0);
    let survivor = (1..=3).find(|i| *i != victim).unwrap_or(1);
    h.kill(victim);
    h.pump();
    let st = h.node(survivor).status();
    let v = st
        .nodes
        .iter()
        .find(|n| n.name == format!("n{victim}"))
        .map(|n| n.state.clone());
    assert_eq!(v.as_deref(), Some("UNCLEAN"), "{st:?}");
    converged(&mut h);
    assert!(
        h.fences.contains(&(format!("n{victim}"), true)),
        "{:?}",
        h.fences
    );
    let fs = where_is(&h, "fs");
    assert_eq!(fs.len(), 1);
    assert_ne!(fs[0], format!("n{victim}"));
    assert_eq!(where_is(&h, "lb"), fs);
    // Order: fence, then fs, api, lb started.
    let log = h.log.join("\n");
    let fence = log.find(&format!("fence n{victim} -> true"));
    let fs_start = log.rfind(" start fs -> rc 0");
    let lb_start = log.rfind(" start lb -> rc 0");
    assert!(fence < fs_start && fs_start < lb_start, "{log}");
    let st = h.node(survivor).status();
    assert!(
        st.fencing
            .iter()
            .any(|f| f.contains(&format!("n{victim} reboot ok"))),
        "{st:?}"
    );
}

#[test]
fn a_lost_node_is_planned_whole_from_the_kept_model_without_lowering_the_cib_again() {
    let mut h = Harness::new(2, 3, 0, Some(&cib(3, 1)));
    converged(&mut h);
    let (whole, in_place) = (
        h.node(1).plans_made_whole(),
        h.node(1).plans_made_whole_in_place(),
    );
    h.kill(3);
    // Until the coordinator (n1) plans again: the fencing of n3, from the model it kept
    // (debug builds check every kept plan against lowering and planning its copy again).
    let planned = |h: &Harness| {
        h.node(1).plans_made_whole_in_place() > in_place || h.node(1).plans_made_whole() > whole
    };
    let end = h.now + 10_000;
    while !planned(&h) && h.now < end {
        run_for(&mut h, 1);
    }
    let st = h.node(1).status();
    let n3 = st
        .nodes
        .iter()
        .find(|n| n.name == "n3")
        .map(|n| n.state.clone());
    assert_eq!(n3.as_deref(), Some("UNCLEAN"), "{st:?}");
    assert!(
        h.node(1).plans_made_whole_in_place() > in_place,
        "the new view was not taken in place\n{}",
        h.tail(40)
    );
    assert_eq!(h.node(1).plans_made_whole(), whole, "{}", h.tail(40));
    // Once n3 is fenced (down and clean), its recovery is planned in place too.
    let in_place = h.node(1).plans_made_whole_in_place();
    converged(&mut h);
    assert!(
        h.fences.contains(&("n3".to_owned(), true)),
        "{:?}",
        h.fences
    );
    assert!(where_is(&h, "fs").iter().all(|n| n != "n3"));
    assert!(
        h.node(1).plans_made_whole_in_place() > in_place,
        "{}",
        h.tail(40)
    );
    assert_eq!(h.node(1).plans_made_whole(), whole, "{}", h.tail(40));
}

#[test]
fn a_failing_fence_blocks_recovery_is_retried_and_shown_in_status() {
    let mut h = Harness::new(3, 3, 0, Some(&cib(3, 1)));
    converged(&mut h);
    let victim: u32 = where_is(&h, "fs")[0]
        .trim_start_matches('n')
        .parse()
        .unwrap_or(0);
    let survivor = (1..=3).find(|i| *i != victim).unwrap_or(1);
    h.fence_broken = true;
    h.kill(victim);
    // Let 20 s pass: fences are attempted and fail, nothing of the victim comes back.
    let end = h.now + 20_000;
    while h.now < end {
        h.pump();
        while h.sim.deliver_one() {
            h.pump();
        }
        let next = h.next_due().unwrap_or(h.now + 1000).max(h.now + 1);
        h.advance(next.min(end));
        h.check_world();
    }
    let failed = h.fences.iter().filter(|(_, ok)| !ok).count();
    assert!(failed >= 2, "retried: {:?}", h.fences);
    assert!(failed < 10, "with a growing delay: {:?}", h.fences);
    assert!(
        where_is(&h, "fs").is_empty(),
        "not recovered: {:?}",
        h.actual()
    );
    let st = h.node(survivor).status();
    assert!(
        st.fencing
            .iter()
            .any(|f| f.contains("failed fence attempt")),
        "{st:?}"
    );
    // Status shows where fs was last seen, on the unfenced victim, not where a plan
    // would put it.
    let fs: Vec<_> = st.resources.iter().filter(|r| r.id == "fs").collect();
    assert_eq!(fs.len(), 1, "{st:?}");
    assert_eq!(fs[0].nodes, [format!("n{victim}")], "{st:?}");
    // The device works again: the node is fenced and its resources come back.
    h.fence_broken = false;
    converged(&mut h);
    assert_eq!(where_is(&h, "fs").len(), 1);
    assert!(h.violations.is_empty(), "{:?}", h.violations);
}

#[test]
fn the_coordinator_killed_mid_transition_is_replaced_and_nothing_runs_twice() {
    let mut h = Harness::new(4, 3, 0, Some(&cib(3, 1)));
    // Kill n1 (the coordinator) while its first transition runs.
    for _ in 0..200 {
        h.pump();
        h.sim.deliver_one();
        h.pump();
        if h.m[&1].node.as_ref().is_some_and(|n| n.status().busy) && !h.actual().is_empty() {
            break;
        }
        let next = h.next_due().unwrap_or(h.now + 100).max(h.now + 1);
        h.advance(next);
    }
    assert!(h.node(1).status().busy, "caught mid-transition");
    h.kill(1);
    converged(&mut h);
    assert_eq!(h.node(2).status().coordinator.as_deref(), Some("n2"));
    assert!(
        h.fences.contains(&("n1".to_owned(), true)),
        "{:?}",
        h.fences
    );
}

#[test]
fn apply_refuses_an_invalid_cib_and_a_stale_version_and_hands_a_new_one_to_all() {
    let mut h = Harness::new(5, 3, 0, Some(&cib(3, 5)));
    converged(&mut h);
    h.request(
        2,
        7,
        Request::Apply {
            file: "old.xml".into(),
            xml: cib(3, 4),
        },
    );
    let r = h.m[&2].replies.last().cloned();
    match r {
        Some((_, Reply::Done { ok: false, message })) => {
            assert!(
                message.contains("0.4.0") && message.contains("0.5.0"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    h.request(
        2,
        8,
        Request::Apply {
            file: "bad.xml".into(),
            xml: "<cib><configuration>".into(),
        },
    );
    assert!(matches!(
        h.m[&2].replies.last(),
        Some((_, Reply::Done { ok: false, message })) if message.contains("bad.xml")
    ));
    // A new version without a2: every node adopts it, a2 stops, the client hears the end.
    let newer = cib(3, 6)
        .replace(r#"<primitive id="a2" class="ocf" provider="crm-lite" type="mgmt-api"><operations><op id="a2-mon" name="monitor" interval="10s"/></operations></primitive>"#, "")
        .replace(r#"<rsc_colocation id="apart" rsc="a2" with-rsc="a1" score="-INFINITY"/>"#, "");
    h.request(
        3,
        9,
        Request::Apply {
            file: "new.xml".into(),
            xml: newer,
        },
    );
    converged(&mut h);
    for i in 1..=3 {
        assert_eq!(h.node(i).status().version, "0.6.0");
    }
    assert!(where_is(&h, "a2").is_empty());
    let replies: Vec<_> = h.m[&3].replies.iter().map(|(_, r)| r.clone()).collect();
    assert!(
        matches!(replies.last(), Some(Reply::Done { ok: true, .. })),
        "{replies:?}"
    );
    assert!(
        replies
            .iter()
            .any(|r| matches!(r, Reply::Progress(l) if l.contains("stop a2"))),
        "{replies:?}"
    );
}

#[test]
fn a_configuration_with_an_id_pacemaker_has_on_any_node_is_refused_by_every_node() {
    let mut h = Harness::new(11, 3, 0, Some(&cib(3, 5)));
    converged(&mut h);
    // Pacemaker runs on n3 (beside crm-lite on the same ring) and configures a2.
    h.pacemaker(3, &["a2", "pcmk-only"]);
    h.request(
        1,
        7,
        Request::Apply {
            file: "new.xml".into(),
            xml: cib(3, 6),
        },
    );
    converged(&mut h);
    match h.m[&1].replies.last() {
        Some((_, Reply::Done { ok: false, message })) => assert!(
            message.contains("Pacemaker runs on n3")
                && message.contains("configures a2 too")
                && message.contains("nothing was changed"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    for i in 1..=3 {
        assert_eq!(h.node(i).status().version, "0.5.0", "n{i} kept the old one");
    }
    // Without a2 it is adopted everywhere.
    let without = cib(3, 6)
        .replace(r#"<primitive id="a2" class="ocf" provider="crm-lite" type="mgmt-api"><operations><op id="a2-mon" name="monitor" interval="10s"/></operations></primitive>"#, "")
        .replace(r#"<rsc_colocation id="apart" rsc="a2" with-rsc="a1" score="-INFINITY"/>"#, "");
    h.request(
        1,
        8,
        Request::Apply {
            file: "new.xml".into(),
            xml: without,
        },
    );
    converged(&mut h);
    assert!(
        matches!(
            h.m[&1].replies.last(),
            Some((_, Reply::Done { ok: true, .. }))
        ),
        "{:?}",
        h.m[&1].replies
    );
    for i in 1..=3 {
        assert_eq!(h.node(i).status().version, "0.6.0");
    }
    assert!(where_is(&h, "a2").is_empty());
}

#[test]
fn move_ban_clear_and_cleanup_act_cluster_wide_and_unknown_nodes_are_refused() {
    let mut h = Harness::new(6, 3, 0, Some(&cib(3, 1)));
    converged(&mut h);
    let whole = h.node(1).plans_made_whole();
    let from = where_is(&h, "fs")[0].clone();
    let to = (1..=3)
        .map(|i| format!("n{i}"))
        .find(|n| *n != from)
        .unwrap_or_default();
    h.request(
        1,
        1,
        Request::Place {
            rsc: "stack".into(),
            node: to.clone(),
            ban: false,
        },
    );
    // Answered at once (a client tells a stuck daemon by its silence).
    assert!(
        matches!(h.m[&1].replies.first(), Some((_, Reply::Progress(l))) if l.contains("move stack to")),
        "{:?}",
        h.m[&1].replies
    );
    converged(&mut h);
    assert_eq!(where_is(&h, "fs"), vec![to.clone()]);
    assert_eq!(where_is(&h, "lb"), vec![to.clone()]);
    assert_eq!(h.node(3).status().version, "0.2.0");
    // The move (a constraint) and what it ran were re-planned apart, none whole.
    assert_eq!(
        h.node(1).plans_made_whole(),
        whole,
        "the move was planned whole\n{}",
        h.tail(40)
    );
    h.request(
        2,
        2,
        Request::Place {
            rsc: "stack".into(),
            node: "n9".into(),
            ban: true,
        },
    );
    assert!(matches!(
        h.m[&2].replies.last(),
        Some((_, Reply::Done { ok: false, message })) if message.contains("n9")
    ));
    h.request(
        2,
        3,
        Request::Clear {
            rsc: "stack".into(),
            node: None,
        },
    );
    converged(&mut h);
    assert_eq!(h.node(1).status().version, "0.3.0");
    assert_eq!(where_is(&h, "fs"), vec![to], "stickiness keeps it");
    h.request(
        3,
        4,
        Request::Cleanup {
            rsc: None,
            node: None,
        },
    );
    converged(&mut h);
    assert!(matches!(
        h.m[&3].replies.last(),
        Some((_, Reply::Done { ok: true, .. }))
    ));
}

#[test]
fn a_failed_monitor_is_recovered_and_counted() {
    let mut h = Harness::new(7, 3, 0, Some(&cib(3, 1)));
    converged(&mut h);
    let on = where_is(&h, "a1")[0].clone();
    let i: u32 = on.trim_start_matches('n').parse().unwrap_or(0);
    // The resource dies behind the cluster's back; its monitor finds it.
    h.world.get_mut(&i).map(|w| w.remove("a1"));
    let until = h.now + 15_000;
    while h.now < until {
        h.pump();
        while h.sim.deliver_one() {
            h.pump();
        }
        let next = h.next_due().unwrap_or(h.now + 1000).max(h.now + 1);
        h.advance(next.min(until));
    }
    converged(&mut h);
    assert_eq!(where_is(&h, "a1").len(), 1);
    let st = h.node(1).status();
    assert!(
        st.failures.iter().any(|f| f.contains("a1 monitor")),
        "{st:?}\n{}",
        h.tail(40)
    );
    assert!(h.m.values().map(|m| m.alerts).sum::<usize>() > 0);
    // Its cleanup forgets the failure (and probes it again): re-planned apart, not whole.
    let whole = h.node(1).plans_made_whole();
    h.request(
        1,
        1,
        Request::Cleanup {
            rsc: Some("a1".into()),
            node: None,
        },
    );
    converged(&mut h);
    let st = h.node(1).status();
    assert!(
        !st.failures.iter().any(|f| f.contains("a1")),
        "{st:?}\n{}",
        h.tail(40)
    );
    assert_eq!(where_is(&h, "a1").len(), 1);
    assert_eq!(
        h.node(1).plans_made_whole(),
        whole,
        "the cleanup was planned whole\n{}",
        h.tail(40)
    );
}

/// A resource in no group, clone, colocation or order (a VM) whose monitor fails: the
/// coordinator re-plans it alone from its kept model (debug builds check every such plan
/// against planning the whole copy), and it is recovered where it ran.
#[test]
fn a_failed_monitor_of_a_standalone_resource_is_replanned_alone() {
    let vm = r#"<primitive id="vm" class="ocf" provider="crm-lite" type="mgmt-api"><operations><op id="vm-mon" name="monitor" interval="10s"/></operations></primitive>"#;
    let xml = cib(3, 1).replacen(
        "<clone id=\"db-clone\">",
        &format!("{vm}<clone id=\"db-clone\">"),
        1,
    );
    assert!(xml.contains("id=\"vm\""));
    let mut h = Harness::new(7, 3, 0, Some(&xml));
    converged(&mut h);
    // Every recurring monitor has answered once (the first answer is a new entry).
    let until = h.now + 30_000;
    run_until(&mut h, until);
    let on = where_is(&h, "vm")[0].clone();
    let i: u32 = on.trim_start_matches('n').parse().unwrap_or(0);
    let before = h.node(1).plans_made_alone();
    h.world.get_mut(&i).map(|w| w.remove("vm"));
    let until = h.now + 15_000;
    run_until(&mut h, until);
    converged(&mut h);
    assert_eq!(where_is(&h, "vm"), vec![on], "recovered where it ran");
    assert!(
        h.node(1).plans_made_alone() > before,
        "the coordinator re-planned vm alone\n{}",
        h.tail(40)
    );
}

/// A group member's failure, a constrained resource's and a clone instance's: each is
/// re-planned apart with what it is joined to (the debug build checks every kept plan
/// against planning the whole copy), and recovered where it ran.
#[test]
fn a_failed_monitor_of_a_member_a_constrained_resource_or_an_instance_is_replanned_apart() {
    for (seed, rsc) in [(11, "api"), (12, "a2"), (13, "db")] {
        let mut h = Harness::new(seed, 3, 0, Some(&cib(3, 1)));
        converged(&mut h);
        let until = h.now + 30_000;
        run_until(&mut h, until);
        let was = where_is(&h, rsc);
        let on = was.last().cloned().unwrap_or_default();
        let i: u32 = on.trim_start_matches('n').parse().unwrap_or(0);
        let before = h.node(1).plans_made_alone();
        h.world.get_mut(&i).map(|w| w.remove(rsc));
        let until = h.now + 15_000;
        run_until(&mut h, until);
        converged(&mut h);
        assert_eq!(where_is(&h, rsc), was, "{rsc} recovered where it ran");
        assert!(
            h.node(1).plans_made_alone() > before,
            "the coordinator re-planned {rsc} apart\n{}",
            h.tail(40)
        );
    }
}

#[test]
fn a_minority_stops_its_resources_and_fences_nobody() {
    let mut h = Harness::new(8, 5, 0, Some(&cib(5, 1)));
    converged(&mut h);
    h.fence_broken = true;
    h.split(&[4, 5]);
    let until = h.now + 10_000;
    while h.now < until {
        h.pump();
        while h.sim.deliver_one() {
            h.pump();
        }
        let next = h.next_due().unwrap_or(h.now + 1000).max(h.now + 1);
        h.advance(next.min(until));
        h.check_world();
    }
    assert!(
        h.world[&4].is_empty() && h.world[&5].is_empty(),
        "{:?}",
        h.actual()
    );
    assert!(!h.node(4).status().quorate);
    // Only the majority tried to fence (n4 and n5), never the minority.
    assert!(
        h.fences.iter().all(|(t, _)| t == "n4" || t == "n5"),
        "{:?}",
        h.fences
    );
    h.fence_broken = false;
    converged(&mut h);
}

#[test]
fn a_node_never_seen_is_pending_until_dc_deadtime_then_fenced_and_welcome_back() {
    // n3's machine is off from the start: n1 and n2 have quorum, n3 was never seen.
    let mut h = Harness::partial(9, 3, 2, 0, Some(&cib(3, 1)));
    let start = h.now;
    let until = start + 4_000;
    while h.now < until {
        h.pump();
        while h.sim.deliver_one() {
            h.pump();
        }
        let next = h.next_due().unwrap_or(h.now + 500).max(h.now + 1);
        h.advance(next.min(until));
    }
    assert!(
        h.fences.is_empty(),
        "not fenced within dc-deadtime: {:?}",
        h.fences
    );
    let st = h.node(1).status();
    assert!(
        st.nodes
            .iter()
            .any(|n| n.name == "n3" && n.state == "offline"),
        "{st:?}"
    );
    assert!(
        !h.actual().is_empty(),
        "resources run on n1 and n2 meanwhile"
    );
    // dc-deadtime (5 s in the test CIB) passes: startup fencing.
    converged(&mut h);
    assert_eq!(h.fences, vec![("n3".to_owned(), true)]);
    h.restart(3);
    converged(&mut h);
    assert!(h.node(3).status().nodes.iter().all(|n| n.state == "online"));
}

/// The test CIB without its location preferences for the promoted role: only promotion
/// scores reported by the agents can promote `db`.
fn unscored_cib(n: u32) -> String {
    let mut c = cib(n, 1);
    while let Some(at) = c.find(r#"<rsc_location id="db-promote-"#) {
        let end = at + c[at..].find("/>").unwrap_or_else(|| panic!("{c}")) + 2;
        c.replace_range(at..end, "");
    }
    c
}

fn promoted(h: &Harness) -> Vec<String> {
    h.actual()
        .into_iter()
        .filter(|(r, _, role)| r == "db" && role == "Promoted")
        .map(|(_, n, _)| n)
        .collect()
}

/// Advance the clock by `ms`, running whatever falls due on the way.
fn run_for(h: &mut Harness, ms: u64) {
    let end = h.now + ms;
    while h.now < end {
        let next = h.next_due().unwrap_or(end).clamp(h.now + 1, end);
        h.advance(next);
        while h.sim.deliver_one() {
            h.pump();
        }
        h.check_world();
    }
}

/// Runs the cluster (no faults) until `until`.
fn run_until(h: &mut Harness, until: u64) {
    while h.now < until {
        h.pump();
        while h.sim.deliver_one() {
            h.pump();
        }
        let next = h.next_due().unwrap_or(h.now + 1000).max(h.now + 1);
        h.advance(next.min(until));
        h.check_world();
    }
}

fn score(v: &str) -> Vec<(String, String)> {
    vec![("master-db".to_owned(), v.to_owned())]
}

#[test]
fn without_scores_nothing_is_promoted() {
    let mut h = Harness::new(11, 3, 0, Some(&unscored_cib(3)));
    converged(&mut h);
    assert_eq!(where_is(&h, "db").len(), 3, "{:?}", h.actual());
    assert!(promoted(&h).is_empty(), "{:?}", h.actual());
}

#[test]
fn promotion_follows_the_scores_the_agents_report_on_every_node() {
    let mut h = Harness::new(12, 3, 0, Some(&unscored_cib(3)));
    h.scores = Some([(1, 5), (2, 10), (3, 100)].into());
    converged(&mut h);
    assert_eq!(promoted(&h), ["n3"], "{}", h.tail(40));
    // Every copy holds every node's scores (they travelled with the results).
    for i in 1..=3 {
        for (n, v) in [("n1", "5"), ("n2", "10"), ("n3", "100")] {
            assert_eq!(h.scores_seen(i, n), score(v), "n{i}'s copy, {n}");
        }
    }

    // A recurring monitor whose rc is unchanged (its first result went out already) still
    // carries changed scores.
    run_for(&mut h, 30_000);
    h.scores = Some([(1, 5), (2, 70), (3, 100)].into());
    run_for(&mut h, 30_000);
    converged(&mut h);
    for i in 1..=3 {
        assert_eq!(h.scores_seen(i, "n2"), score("70"), "n{i}'s copy of n2");
    }

    // The promoted node's host dies and its fence fails: the survivors drop its transient
    // attributes at once, keep its history, and recover nothing.
    h.fence_broken = true;
    h.kill(3);
    run_for(&mut h, 5_000);
    for i in 1..=2 {
        assert!(h.scores_seen(i, "n3").is_empty(), "n{i}'s copy of n3");
        assert_eq!(h.scores_seen(i, "n2"), score("70"));
    }
    assert!(promoted(&h).is_empty(), "{:?}", h.actual());
    // Once fenced, the most advanced survivor (highest score) is promoted.
    h.fence_broken = false;
    converged(&mut h);
    assert_eq!(promoted(&h), ["n2"], "{}", h.tail(40));

    // The dead node boots: it starts without scores (its saved copy had them), then
    // reports them again once its agents ran.
    h.restart(3);
    while h.node(3).waiting_for().contains("synchronisation") {
        let t = h.now + 1;
        h.advance(t);
        while h.sim.deliver_one() {
            h.pump();
        }
    }
    for i in 1..=3 {
        assert!(
            h.scores_seen(i, "n3").is_empty(),
            "n{i}'s copy of n3\n{}",
            h.tail(30)
        );
    }
    converged(&mut h);
    for i in 1..=3 {
        assert_eq!(h.scores_seen(i, "n3"), score("100"), "n{i}'s copy of n3");
    }
    assert_eq!(promoted(&h).len(), 1, "{:?}", h.actual());
}

/// Runs the cluster until a1's first start was handed out and hangs there; returns when
/// and on which node.
fn hang_a1_start(h: &mut Harness) -> (u64, String) {
    h.hang_next = Some(("a1".into(), "start".into()));
    for _ in 0..500 {
        let hung = h
            .log
            .iter()
            .find(|l| l.contains("runs start a1") && l.ends_with("(hangs)"))
            .cloned();
        if let Some(l) = hung {
            let t0 = l
                .split(' ')
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            return (t0, l.split(' ').nth(1).unwrap_or_default().to_owned());
        }
        h.pump();
        h.sim.deliver_one();
        h.pump();
        let next = h.next_due().unwrap_or(h.now + 100).max(h.now + 1);
        h.advance(next.min(h.now + 500));
    }
    panic!("a1's start never ran\n{}", h.tail(40));
}

/// When a1 was started again (not the hung start), if it was.
fn restarted(h: &Harness) -> Option<u64> {
    h.log
        .iter()
        .find(|l| l.contains("runs start a1") && !l.ends_with("(hangs)"))
        .and_then(|l| l.split(' ').next()?.parse::<u64>().ok())
}

#[test]
fn an_operation_whose_executor_hangs_is_timed_out_by_its_node_and_recovered() {
    let mut h = Harness::new(10, 3, 0, Some(&cib(3, 1)));
    let (t0, on) = hang_a1_start(&mut h);
    // Its timeout (20 s, the default) plus half of cluster-delay (60 s, the default): until
    // then the cluster waits, and a1 runs nowhere.
    run_until(&mut h, t0 + 50_000 - 500);
    assert!(where_is(&h, "a1").is_empty(), "{:?}", h.actual());
    assert!(h.node(1).status().busy, "still awaited\n{}", h.tail(20));
    assert_eq!(
        restarted(&h),
        None,
        "started again too early\n{}",
        h.tail(40)
    );
    // Then its node says it timed out, every copy records the failure, and a1 is
    // recovered on another node (a failed start is fatal there).
    converged(&mut h);
    let a1 = where_is(&h, "a1");
    assert_eq!(a1.len(), 1, "{:?}", h.actual());
    assert_ne!(a1[0], on, "recovered elsewhere");
    assert!(
        restarted(&h).is_some_and(|t| t >= t0 + 50_000),
        "{}",
        h.tail(40)
    );
    for i in 1..=3 {
        let st = h.node(i).status();
        assert!(
            st.failures
                .iter()
                .any(|f| f.starts_with(&format!("a1 start on {on}: rc 1"))
                    && f.contains(
                        "gave no result within the operation's timeout (20 s) plus 30 s"
                    )),
            "n{i}: {:?}",
            st.failures
        );
    }
    // The executor answers at last (its own timeout): nothing changes.
    h.release_hung();
    converged(&mut h);
    assert_eq!(where_is(&h, "a1"), a1);
}

#[test]
fn a_member_that_never_answers_is_timed_out_by_the_coordinator_then_fenced() {
    let mut h = Harness::new(12, 3, 0, Some(&cib(3, 1)));
    let (t0, on) = hang_a1_start(&mut h);
    let id: u32 = on.trim_start_matches('n').parse().unwrap_or(0);
    if id == 1 {
        // The coordinator itself: nobody would time it out but itself. Not this test.
        panic!("seed 12 must not hang a1's start on the coordinator");
    }
    // The node's daemon freezes: a member that says nothing at all, not even that its
    // executor hangs.
    h.frozen.insert(id);
    run_until(&mut h, t0 + 80_000 - 500);
    assert!(where_is(&h, "a1").is_empty(), "{:?}", h.actual());
    assert_eq!(
        restarted(&h),
        None,
        "started again too early\n{}",
        h.tail(40)
    );
    // The coordinator takes the start as timed out after the timeout plus cluster-delay.
    run_until(&mut h, t0 + 80_000 + 1_000);
    let st = h.node(1).status();
    assert!(
        st.failures
            .iter()
            .any(|f| f.starts_with(&format!("a1 start on {on}: rc 1"))
                && f.contains("within its timeout (20 s) plus cluster-delay (60 s)")),
        "{:?}\n{}",
        st.failures,
        h.tail(30)
    );
    assert_eq!(
        restarted(&h),
        None,
        "a1 may still run there\n{}",
        h.tail(40)
    );
    // The stop it plans there never answers either: it times out too, a failed stop
    // fences the node, and only then is a1 started elsewhere.
    converged(&mut h);
    assert!(h.fences.contains(&(on.clone(), true)), "{:?}", h.fences);
    let a1 = where_is(&h, "a1");
    assert_eq!(a1.len(), 1, "{:?}", h.actual());
    assert!(
        restarted(&h).is_some_and(|t| t >= t0 + 80_000),
        "{}",
        h.tail(40)
    );
}

#[test]
fn an_operation_hung_when_the_coordinator_dies_does_not_block_the_next_one() {
    let mut h = Harness::new(13, 3, 0, Some(&cib(3, 1)));
    let (t0, on) = hang_a1_start(&mut h);
    assert_ne!(
        on, "n1",
        "seed 13 hangs a1's start on another node than the coordinator"
    );
    // The coordinator dies: the next one learns from the Joins that the start still runs
    // and waits for it, until its node says it timed out.
    h.kill(1);
    converged(&mut h);
    assert!(
        h.fences.contains(&("n1".to_owned(), true)),
        "{:?}",
        h.fences
    );
    assert_eq!(where_is(&h, "a1").len(), 1, "{:?}", h.actual());
    assert!(
        restarted(&h).is_some_and(|t| t >= t0 + 50_000),
        "{}",
        h.tail(40)
    );
}

/// One random fault schedule; `Err` says what broke.
fn schedule(seed: u64) -> Result<(), String> {
    let probe = Harness::new(seed, 3, 0, None);
    let n = if probe.sim.draw(2) == 0 { 3 } else { 5 };
    drop(probe);
    let mut h = Harness::new(seed, n, 10, Some(&cib(n, 1)));
    // Every other schedule with agents that report promotion scores (favouring the
    // highest node, against the configuration's preference for the lowest).
    if seed % 2 == 1 {
        h.scores = Some((1..=n).map(|i| (i, 25 * i64::from(i))).collect());
    }
    let steps = 150 + h.sim.draw(150) as usize;
    let mut split = false;
    for _ in 0..steps {
        h.pump_some();
        match h.sim.draw(100) {
            0..=44 => {
                h.sim.deliver_one();
            }
            45..=74 => {
                let next = h.next_due().unwrap_or(h.now + 500);
                let t = next.min(h.now + 3000).max(h.now + 1);
                h.advance(t);
            }
            75..=77 => {
                let alive = h.alive();
                if alive.len() > 1 {
                    let v = alive[h.sim.draw(alive.len() as u64) as usize];
                    h.kill(v);
                }
            }
            78..=80 => {
                let dead: Vec<u32> = (1..=n).filter(|i| !h.sim.alive(*i)).collect();
                if !dead.is_empty() && !split {
                    let v = dead[h.sim.draw(dead.len() as u64) as usize];
                    h.restart(v);
                }
            }
            81..=83 if !split => {
                let k = 1 + h.sim.draw(u64::from((n - 1) / 2)) as u32;
                let first = 1 + h.sim.draw(u64::from(n)) as u32;
                let ids: Vec<u32> = (0..k).map(|j| 1 + (first - 1 + j) % n).collect();
                h.split(&ids);
                split = true;
            }
            84..=86 if split => {
                h.heal();
                split = false;
            }
            87..=88 => h.fence_broken = !h.fence_broken,
            89..=90 => h.agent_fail = [0, 5, 20][h.sim.draw(3) as usize],
            // Executors that hang (no result until the faults stop).
            92 => h.hang = [0, 0, 5][h.sim.draw(3) as usize],
            91 => {
                // An operator moves, bans or clears, on any live node.
                let alive: Vec<u32> = h.alive();
                let at = alive[h.sim.draw(alive.len() as u64) as usize];
                let rsc = ["stack", "a1", "db-clone"][h.sim.draw(3) as usize].to_owned();
                let node = format!("n{}", 1 + h.sim.draw(u64::from(n)));
                let request = match h.sim.draw(3) {
                    0 => Request::Place {
                        rsc,
                        node,
                        ban: false,
                    },
                    1 => Request::Place {
                        rsc,
                        node,
                        ban: true,
                    },
                    _ => Request::Clear { rsc, node: None },
                };
                let client = h.sim.draw(1000);
                h.request(at, client, request);
            }
            _ => {}
        }
        h.pump_some();
        h.check_world();
        if !h.violations.is_empty() {
            return Err(format!("{:?}\n{}", h.violations, h.tail(80)));
        }
    }
    // The faults stop: the network heals, the dead boot, devices and agents work.
    h.fence_broken = false;
    h.agent_fail = 0;
    h.hang = 0;
    h.release_hung();
    if split {
        h.heal();
    }
    for i in 1..=n {
        h.restart(i);
    }
    let settled = h.settle(5000);
    if let Ok(path) = std::env::var("DAEMON_SIM_LOG") {
        // The whole log of a replayed seed, for a person to read.
        let _ = std::fs::write(path, h.log.join("\n"));
    }
    settled.map_err(|e| format!("{e}\n{}", h.tail(80)))?;
    if !h.violations.is_empty() {
        return Err(format!("{:?}\n{}", h.violations, h.tail(80)));
    }
    let (planned, actual) = (h.planned(), h.actual());
    if planned != actual {
        return Err(format!(
            "world differs from the plan:\nplan:  {planned:?}\nworld: {actual:?}\n{}",
            h.tail(80)
        ));
    }
    if planned.is_empty() {
        return Err("nothing runs after the faults stopped".into());
    }
    h.status_shows_the_world()?;
    // Every copy agrees.
    let views: Vec<_> =
        h.m.values()
            .filter_map(|m| m.node.as_ref())
            .map(|node| {
                let st = node.status();
                (st.version, st.nodes, st.resources, st.coordinator)
            })
            .collect();
    if views.windows(2).any(|w| w[0] != w[1]) {
        return Err(format!("the nodes' views differ: {views:?}"));
    }
    for node in h.m.values().filter_map(|m| m.node.as_ref()) {
        let made = [
            node.plans_made_whole(),
            node.plans_made_whole_in_place(),
            node.plans_made_alone(),
        ];
        for (total, n) in PLANS_MADE.iter().zip(made) {
            total.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Plans made over the random schedules by the nodes alive at their ends: whole (a new
/// model), whole from the kept model (a new view taken in place), apart.
static PLANS_MADE: [std::sync::atomic::AtomicU64; 3] = [
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
];

#[test]
fn random_fault_schedules_never_run_anything_twice_and_always_converge() {
    if let Some(seed) = std::env::var("DAEMON_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        if let Err(e) = schedule(seed) {
            panic!("seed {seed}: {e}");
        }
        return;
    }
    let count: u64 = std::env::var("DAEMON_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(350);
    let from: u64 = std::env::var("DAEMON_SIM_FROM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    for seed in from..from + count {
        if let Err(e) = schedule(seed) {
            panic!(
                "seed {seed} failed (replay: DAEMON_SIM_SEED={seed} cargo test -p daemon --test sim random): {e}"
            );
        }
    }
    let [whole, in_place, apart] = PLANS_MADE
        .each_ref()
        .map(|n| n.load(std::sync::atomic::Ordering::Relaxed));
    eprintln!("plans made: {whole} whole, {in_place} whole in place, {apart} apart");
    // Every kind is met (debug builds and CRM_LITE_CHECK_KEPT_PLAN check each kept plan).
    assert!(
        whole > 0 && in_place > 0 && apart > 0,
        "{whole} {in_place} {apart}"
    );
}
