//! Stage benchmarks of `crm-lite simulate` on cib-gen clusters (seed 1, with status), so a
//! regression shows in a number: `cargo bench -p scheduler --bench stages`
//! (`BENCH_SIZES=16x500` for the small size only; the default also runs 100x10000, a
//! few minutes; divan's `--sample-count N` after `--` takes more samples).
//!
//! - `tree`: the XML into the element tree; `lower`: the tree into the model (status
//!   histories folded) and checked;
//! - `build`: the scheduler's working set, on the CIB without (`config`) and with
//!   (`status`) its status section: the difference is the status unpacking;
//! - `assign`, `actions`: placement, then the plan;
//! - `digests`: the parameters and operation digest of every history entry's resource on
//!   its node (what restart/reload detection computes);
//! - `replan`: the daemon's loop, one monitor failure recorded in a [`scheduler::Model`]
//!   that has planned before (the entry, its fail count and last failure), and the plan: for the first running resource the status
//!   lists, whatever it is (`model`: a clone instance here, a whole plan), and for a
//!   top-level primitive in no colocation or order (`model_alone`: a VM, re-planned
//!   alone); against writing that CIB out, parsing and planning it again (`scratch`).
//!   `model_first_success`: the first resource's recurring monitor succeeding for the
//!   first time (a new entry, as after every start), which plans nothing again.
//!   `model_moves`: a failed start (counted INFINITY) of a standalone primitive, which
//!   moves it: re-planned apart with the resources whose placement read the nodes it
//!   left and took. `model_promotion`: a promotable clone's promotion score changed on
//!   a node where an instance runs (the clone re-planned apart). `model_move`: a manual
//!   move of a standalone primitive (a `cli-prefer-` location taken in apart).
use std::sync::LazyLock;

use divan::Bencher;
use scheduler::{Input, Model, OpResult};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

const INPUT: Input = Input {
    now: Some(1_700_000_100),
    explain: false,
};

fn sizes() -> Vec<&'static str> {
    let all = ["16x500", "100x10000"];
    match std::env::var("BENCH_SIZES") {
        Ok(v) => all
            .into_iter()
            .filter(|s| v.split(',').any(|x| x == *s))
            .collect(),
        Err(_) => all.to_vec(),
    }
}

static SIZES: LazyLock<Vec<&'static str>> = LazyLock::new(sizes);

fn generate(size: &str, status: bool) -> String {
    let (nodes, resources) = size.split_once('x').expect("size is NxR");
    cib_gen::generate(&cib_gen::Config {
        nodes: nodes.parse().expect("nodes"),
        resources: resources.parse().expect("resources"),
        seed: 1,
        status,
    })
}

/// The CIB text of a size, generated once per process.
fn text(size: &str, status: bool) -> &'static str {
    static CACHE: std::sync::Mutex<Vec<(String, bool, &'static str)>> =
        std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE.lock().expect("cache");
    if let Some(t) = cache.iter().find(|c| c.0 == size && c.1 == status) {
        return t.2;
    }
    let t: &'static str = Box::leak(generate(size, status).into_boxed_str());
    cache.push((size.to_owned(), status, t));
    t
}

fn parsed(size: &str, status: bool) -> cib::Parsed {
    let p = cib::parse("gen.xml", text(size, status));
    assert!(!p.has_errors(), "cib-gen {size} does not parse");
    p
}

#[divan::bench(args = SIZES.iter(), sample_count = 10, sample_size = 1)]
fn tree(bencher: Bencher<'_, '_>, size: &&str) {
    let src = text(size, true);
    bencher.bench_local(|| cib::Document::parse(src));
}

#[divan::bench(args = SIZES.iter(), sample_count = 10, sample_size = 1)]
fn lower(bencher: Bencher<'_, '_>, size: &&str) {
    let src = text(size, true);
    let (doc, _) = cib::Document::parse(src);
    bencher.bench_local(|| cib::lower("gen.xml", src, &doc));
}

#[divan::bench_group(sample_count = 10, sample_size = 1)]
mod build {
    use super::*;

    #[divan::bench(args = SIZES.iter())]
    fn config(bencher: Bencher<'_, '_>, size: &&str) {
        let cib = parsed(size, false).cib;
        bencher.bench_local(|| scheduler::stages::build(&cib, &INPUT));
    }

    #[divan::bench(args = SIZES.iter())]
    fn status(bencher: Bencher<'_, '_>, size: &&str) {
        let cib = parsed(size, true).cib;
        bencher.bench_local(|| scheduler::stages::build(&cib, &INPUT));
    }
}

#[divan::bench(args = SIZES.iter(), sample_count = 10, sample_size = 1)]
fn assign(bencher: Bencher<'_, '_>, size: &&str) {
    let built = scheduler::stages::build(&parsed(size, true).cib, &INPUT);
    bencher
        .with_inputs(|| built.clone())
        .bench_local_refs(scheduler::stages::assign);
}

#[divan::bench(args = SIZES.iter(), sample_count = 10, sample_size = 1)]
fn actions(bencher: Bencher<'_, '_>, size: &&str) {
    let mut assigned = scheduler::stages::build(&parsed(size, true).cib, &INPUT);
    scheduler::stages::assign(&mut assigned);
    bencher
        .with_inputs(|| assigned.clone())
        .bench_local_refs(scheduler::stages::actions);
}

#[divan::bench(args = SIZES.iter(), sample_count = 10, sample_size = 1)]
fn digests(bencher: Bencher<'_, '_>, size: &&str) {
    let cib = parsed(size, true).cib;
    let prims: std::collections::HashMap<&str, &cib::model::Primitive> =
        cib.primitives().map(|p| (p.id.as_str(), p)).collect();
    bencher.bench_local(|| {
        // As the scheduler reads the history: parents' sets and node attributes once.
        let mut parameters = scheduler::Parameters::new(&cib, INPUT.now);
        let mut n = 0usize;
        for ns in &cib.status.nodes {
            for h in &ns.resources {
                let base = h.id.as_str().split(':').next().unwrap_or_default();
                if let Some(p) = prims.get(base) {
                    let params = parameters.of(p, ns.uname.as_str());
                    n += cib::digest::op_digest(&params).len();
                }
            }
        }
        n
    });
}

#[divan::bench_group(sample_count = 10, sample_size = 1)]
mod replan {
    use super::*;

    /// A running primitive's recurring monitor entry: (node, rsc, class, agent, provider,
    /// op id, interval).
    type Entry = (String, String, String, String, Option<String>, String, u64);

    fn running_monitor(cib: &cib::Cib) -> Entry {
        running_monitor_of(cib, |_| true)
    }

    /// The first entry of a resource `pick` accepts.
    fn running_monitor_of(cib: &cib::Cib, pick: impl Fn(&str) -> bool) -> Entry {
        for ns in cib.status.nodes.iter().filter(|ns| ns.online()) {
            for h in &ns.resources {
                if h.state.failed || !h.state.role.is_active() || !pick(h.id.as_str()) {
                    continue;
                }
                let monitor = h
                    .ops
                    .iter()
                    .find(|o| o.operation == "monitor" && o.interval_ms > 0);
                if let Some(op) = monitor {
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
        panic!("no running primitive with a recurring monitor");
    }

    fn failed_monitor(e: &Entry) -> Vec<(&'static str, String)> {
        vec![
            ("id", e.5.clone()),
            ("operation_key", e.5.clone()),
            ("operation", "monitor".into()),
            (
                "transition-key",
                "9:0:0:00000000-0000-0000-0000-000000000000".into(),
            ),
            ("call-id", "100000".into()),
            ("rc-code", "7".into()),
            ("op-status", "0".into()),
            ("interval", e.6.to_string()),
            ("last-rc-change", "1700000100".into()),
        ]
    }

    /// Record the entry `attrs` for `e`'s resource on its node.
    fn record_entry(model: &mut Model, e: &Entry, attrs: &[(&'static str, String)]) {
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        model
            .record(&OpResult {
                node: &e.0,
                rsc: &e.1,
                class: &e.2,
                provider: e.4.as_deref(),
                agent: &e.3,
                attrs: &attrs,
            })
            .expect("records");
    }

    /// A recurring monitor's first success (a new entry, as after a start), here one of
    /// twice `e`'s interval.
    fn record_first_success(model: &mut Model, e: &Entry) {
        let id = format!("{}_monitor_{}", e.1, 2 * e.6);
        let mut attrs = failed_monitor(e);
        for (k, v) in &mut attrs {
            match *k {
                "id" | "operation_key" => *v = id.clone(),
                "rc-code" => *v = "0".into(),
                "interval" => *v = (2 * e.6).to_string(),
                _ => {}
            }
        }
        record_entry(model, e, &attrs);
    }

    /// The failure as the controller records it: the failed monitor's entry, then its
    /// fail count and last failure.
    fn record(model: &mut Model, e: &Entry) {
        record_entry(model, e, &failed_monitor(e));
        let suffix = format!("{}#monitor_{}", e.1, e.6);
        for (name, value) in [("fail-count", "1"), ("last-failure", "1700000100")] {
            model
                .record_attribute(&e.0, &format!("{name}-{suffix}"), Some(value))
                .expect("records");
        }
    }

    /// One result recorded (`record`) in the model in memory (which has planned before),
    /// and the plan; `plans`: the plans the result must have made, (whole, alone).
    fn bench_model(
        bencher: Bencher<'_, '_>,
        size: &str,
        entry: impl Fn(&Model) -> Entry,
        record: fn(&mut Model, &Entry),
        plans: (u64, u64),
    ) {
        let mut model = Model::new(parsed(size, true), INPUT);
        model.plan();
        let entry = entry(&model);
        let mut probe = model.clone();
        record(&mut probe, &entry);
        probe.plan();
        let (s, was) = (probe.stats(), model.stats());
        assert_eq!((s.whole - was.whole, s.alone), plans, "{entry:?}");
        drop(probe);
        // The model is cloned and dropped outside the timed part.
        bencher.with_inputs(|| model.clone()).bench_local_refs(|m| {
            record(m, &entry);
            m.plan().actions.len()
        });
    }

    /// The first resource the status lists (at both sizes an instance of a clone that is
    /// joined to a primitive): the clone and the primitive re-planned apart.
    #[divan::bench(args = SIZES.iter())]
    fn model(bencher: Bencher<'_, '_>, size: &&str) {
        let first = |m: &Model| running_monitor(m.cib());
        bench_model(bencher, size, first, record, (0, 1));
    }

    /// The same failure in a model without a kept plan: a whole plan (what any change
    /// that cannot be re-planned apart costs).
    #[divan::bench(args = SIZES.iter())]
    fn model_whole(bencher: Bencher<'_, '_>, size: &&str) {
        let model = Model::new(parsed(size, true), INPUT);
        let entry = running_monitor(model.cib());
        bencher.with_inputs(|| model.clone()).bench_local_refs(|m| {
            record(m, &entry);
            let n = m.plan().actions.len();
            assert_eq!((m.stats().whole, m.stats().alone), (1, 0));
            n
        });
    }

    /// The node with the most histories among those in the membership, and the
    /// attributes a membership view lays over it when it is lost.
    fn busiest(cib: &cib::Cib) -> String {
        let n = cib.status.nodes.iter().filter(|n| n.in_ccm);
        let n = n.max_by_key(|n| n.resources.len()).expect("an online node");
        n.uname.as_str().to_owned()
    }
    const LOST: [(&str, &str); 4] = [
        ("in_ccm", "false"),
        ("crmd", "offline"),
        ("join", "down"),
        ("expected", "member"),
    ];

    /// A node lost (a new membership view), taken into the kept model in place: the
    /// plan is whole (the fencing and recovery of what ran there), nothing lowered again.
    #[divan::bench(args = SIZES.iter())]
    fn model_node_lost(bencher: Bencher<'_, '_>, size: &&str) {
        let mut model = Model::new(parsed(size, true), INPUT);
        model.plan();
        let node = busiest(model.cib());
        bencher.with_inputs(|| model.clone()).bench_local_refs(|m| {
            m.set_node_state(&node, &LOST).expect("a known node");
            let n = m.plan().actions.len();
            assert_eq!(m.stats().whole, 2);
            n
        });
    }

    /// The same node lost, as the daemon planned it before: the CIB in memory copied,
    /// the view laid over it, lowered again and planned by a new model.
    #[divan::bench(args = SIZES.iter())]
    fn lowered_node_lost(bencher: Bencher<'_, '_>, size: &&str) {
        let p = parsed(size, true);
        let node = busiest(&p.cib);
        let doc = p.doc;
        bencher.bench_local(|| {
            let mut d = doc.clone();
            let root = d.root().expect("a root");
            let status = d.child(root, "status").expect("a status");
            let st = d
                .children(status)
                .find(|&c| d.get(c).attr("uname") == Some(node.as_str()))
                .expect("its node_state");
            for (k, v) in LOST {
                d.get_mut(st).set_attr(k, v);
            }
            let (cib, diagnostics) = cib::lower("cib", "", &d);
            let parsed = cib::Parsed {
                file: "cib".into(),
                source: String::new(),
                doc: d,
                cib,
                diagnostics,
            };
            let mut m = Model::new(parsed, INPUT);
            m.plan().actions.len()
        });
    }

    #[divan::bench(args = SIZES.iter())]
    fn model_alone(bencher: Bencher<'_, '_>, size: &&str) {
        // A top-level primitive in no colocation or order (a VM).
        let alone = |m: &Model| running_monitor_of(m.cib(), |id| m.stands_alone(id));
        bench_model(bencher, size, alone, record, (0, 1));
    }

    /// A failed start (counted as INFINITY) recorded for a running standalone primitive:
    /// it cannot stay, so it moves, and what it changes on the two nodes may change
    /// the placement of resources placed after it (placed again apart too).
    fn record_failed_start(model: &mut Model, e: &Entry) {
        let mut attrs = failed_monitor(e);
        for (k, v) in &mut attrs {
            match *k {
                "id" => *v = format!("{}_last_0", e.1),
                "operation_key" => *v = format!("{}_start_0", e.1),
                "operation" => *v = "start".into(),
                "rc-code" => *v = "1".into(),
                "interval" => *v = "0".into(),
                _ => {}
            }
        }
        record_entry(model, e, &attrs);
        for (name, value) in [("fail-count", "INFINITY"), ("last-failure", "1700000100")] {
            let attr = format!("{name}-{}#start_0", e.1);
            model
                .record_attribute(&e.0, &attr, Some(value))
                .expect("records");
        }
    }

    #[divan::bench(args = SIZES.iter())]
    fn model_moves(bencher: Bencher<'_, '_>, size: &&str) {
        let alone = |m: &Model| running_monitor_of(m.cib(), |id| m.stands_alone(id));
        bench_model(bencher, size, alone, record_failed_start, (0, 1));
    }

    #[divan::bench(args = SIZES.iter())]
    fn model_group_member(bencher: Bencher<'_, '_>, size: &&str) {
        // A member of a top-level group in no colocation or order: the group alone.
        let member = |m: &Model| {
            running_monitor_of(m.cib(), |id| {
                m.replanned_with(id).is_some_and(|t| t.len() == 1) && !m.stands_alone(id)
            })
        };
        bench_model(bencher, size, member, record, (0, 1));
    }

    #[divan::bench(args = SIZES.iter())]
    fn model_constrained(bencher: Bencher<'_, '_>, size: &&str) {
        // A primitive or group member colocated or ordered with other resources: all of
        // them re-planned apart.
        let joined = |m: &Model| {
            running_monitor_of(m.cib(), |id| {
                m.replanned_with(id).is_some_and(|t| t.len() > 1)
            })
        };
        bench_model(bencher, size, joined, record, (0, 1));
    }

    /// The promotion score of `e`'s resource on its node, changed as a promotable agent
    /// changes it (`master-<rsc>`).
    fn record_promotion_score(model: &mut Model, e: &Entry) {
        let name = format!("master-{}", promoted_name(&e.1));
        model
            .record_attribute(&e.0, &name, Some("1"))
            .expect("records");
    }

    /// The name of a clone instance's promotion score: its base id.
    fn promoted_name(id: &str) -> &str {
        id.split_once(':').map_or(id, |(base, _)| base)
    }

    #[divan::bench(args = SIZES.iter())]
    fn model_promotion(bencher: Bencher<'_, '_>, size: &&str) {
        // An instance of a promotable clone re-planned apart whose node has its score.
        let scored = |m: &Model| {
            running_monitor_of(m.cib(), |id| {
                let name = format!("master-{}", promoted_name(id));
                let has = m.cib().status.nodes.iter().any(|ns| {
                    ns.online()
                        && ns.resource(id).is_some()
                        && ns.attributes.iter().any(|p| p.name == name)
                });
                has && m.replanned_with(id).is_some()
            })
        };
        bench_model(bencher, size, scored, record_promotion_score, (0, 1));
    }

    /// A manual move of a running standalone primitive to another node (a
    /// `cli-prefer-<rsc>` location, as the daemon's copy has it after the edit), taken in
    /// by `sync_constraint` and re-planned apart.
    #[divan::bench(args = SIZES.iter())]
    fn model_move(bencher: Bencher<'_, '_>, size: &&str) {
        let mut model = Model::new(parsed(size, true), INPUT);
        model.plan();
        let e = running_monitor_of(model.cib(), |id| model.stands_alone(id));
        let to = model
            .cib()
            .status
            .nodes
            .iter()
            .find(|ns| ns.online() && ns.uname.as_str() != e.0)
            .map(|ns| ns.uname.as_str().to_owned())
            .expect("another online node");
        let id = format!("cli-prefer-{}", e.1);
        let mut theirs = model.document().clone();
        let cons = theirs
            .root()
            .and_then(|r| theirs.child(r, "configuration"))
            .and_then(|c| theirs.child(c, "constraints"))
            .expect("constraints");
        let attrs = [
            ("id", id.as_str()),
            ("rsc", e.1.as_str()),
            ("role", "Started"),
            ("node", to.as_str()),
            ("score", "INFINITY"),
        ];
        theirs.append(cons, "rsc_location", &attrs);
        let mut probe = model.clone();
        probe.sync_constraint(&id, &theirs).expect("taken in");
        probe.plan();
        assert_eq!((probe.stats().whole, probe.stats().alone), (1, 1));
        drop(probe);
        bencher.with_inputs(|| model.clone()).bench_local_refs(|m| {
            m.sync_constraint(&id, &theirs).expect("taken in");
            m.plan().actions.len()
        });
    }

    /// The first resource's recurring monitor succeeding for the first time: nothing to
    /// plan again.
    #[divan::bench(args = SIZES.iter())]
    fn model_first_success(bencher: Bencher<'_, '_>, size: &&str) {
        let first = |m: &Model| running_monitor(m.cib());
        bench_model(bencher, size, first, record_first_success, (0, 0));
    }

    /// The same CIB read from its text and planned.
    #[divan::bench(args = SIZES.iter())]
    fn scratch(bencher: Bencher<'_, '_>, size: &&str) {
        let mut model = Model::new(parsed(size, true), INPUT);
        let entry = running_monitor(model.cib());
        record(&mut model, &entry);
        let xml = model.document().to_xml();
        bencher.bench_local(|| {
            let p = cib::parse("gen.xml", &xml);
            scheduler::schedule(&p.cib, &INPUT)
        });
    }
}
