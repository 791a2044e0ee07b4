//! Clone notifications (`notify=true`), as Pacemaker 2.1.5 plans them.
//!
//! For each of a clone's starts, stops, promotions and demotions in the plan, every
//! instance concerned gets a `pre` notification before them and a `post` notification
//! after them, with lists of who does what (`notify_start_uname`, `notify_promoted_resource`,
//! ...). Pacemaker routes this through pseudo-actions (`pre_notify_start`,
//! `confirmed-post_notify_promoted`, ...); the plan has no pseudo-actions, so the orderings
//! they imply are contracted to edges between notifications and real actions:
//! - pre notifications of an operation come before its actions, which come before its post
//!   notifications;
//! - an operation's post notifications come before the next operation's pre notifications
//!   (stops before starts; in promotable clones demotions first, promotions last);
//! - an order whose first is the clone waits for the post notifications of that operation
//!   (Pacemaker's "confirmed-post" remapping), so what follows a promote finds the
//!   replicas already following the new primary.
use cib::Role;

use crate::ws::{Kind, WorkingSet};
use crate::{Action, ActionKind, Notification, NotifyStage, Step};

/// The four operations that notify, in Pacemaker's order of creation.
const OPS: [&str; 4] = ["start", "stop", "promote", "demote"];

/// What [`build`] adds to the plan.
#[derive(Debug, Default)]
pub(crate) struct Notifications {
    pub notifications: Vec<Notification>,
    pub edges: Vec<(Step, Step)>,
    pub vars: Vec<(String, Vec<(String, String)>)>,
}

/// What one instance does, as the notification logic needs it.
pub(crate) struct Instance {
    /// Where it runs after the plan, if anywhere.
    pub after: Option<usize>,
}

/// Notifications for every clone with `notify=true`. `owners[a]` is the primitive behind
/// `actions[a]` (None for fencing), `fenced` the nodes being fenced, `instances[i]` what
/// primitive `i` does, `name(i)` how actions name it, and `thens(o)` the actions that
/// `ws.orders[o]` orders after its first.
pub(crate) fn build(
    ws: &WorkingSet,
    actions: &[Action],
    owners: &[Option<usize>],
    fenced: &[usize],
    instances: &[Instance],
    name: impl Fn(usize) -> String,
    thens: impl Fn(usize) -> Vec<usize>,
) -> Notifications {
    let mut out = Notifications::default();
    // Each primitive's actions, in action order: read per clone and per instance below
    // instead of scanning every action of the plan each time.
    let mut by_owner: Vec<Vec<usize>> = vec![Vec::new(); ws.rscs.len()];
    for (a, o) in owners.iter().enumerate() {
        if let Some(o) = *o {
            if let Some(list) = by_owner.get_mut(o) {
                list.push(a);
            }
        }
    }
    for (c, clone) in ws.rscs.iter().enumerate() {
        if clone.kind != Kind::Clone || !clone.notify {
            continue;
        }
        let prims = ws.primitives_of(c);
        // The actions of each operation, and who does them, in action order.
        let of_op = |op: &str| -> Vec<usize> {
            let mut v: Vec<usize> = prims
                .iter()
                .flat_map(|&p| &by_owner[p])
                .copied()
                .filter(|&a| kind_is(actions[a].kind, op))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let acts: Vec<Vec<usize>> = OPS.iter().map(|op| of_op(op)).collect();
        if acts.iter().all(Vec::is_empty) {
            continue;
        }
        let lists = lists(ws, clone.promotable, &prims, actions, owners, &acts, c);
        out.vars.push((clone.id.clone(), lists.clone()));
        // Per operation: (pre, post) notification indices.
        let mut made: Vec<(Vec<usize>, Vec<usize>)> = vec![Default::default(); OPS.len()];
        for (k, op) in OPS.iter().enumerate() {
            if acts[k].is_empty() {
                continue;
            }
            for &p in &prims {
                let r = &ws.rscs[p];
                let does = |op: &str| by_owner[p].iter().any(|&a| kind_is(actions[a].kind, op));
                let mut targets: Vec<(usize, NotifyStage)> = Vec::new();
                if matches!(*op, "stop" | "demote") && r.role != Role::Stopped {
                    for &n in &r.running_on {
                        // A stop done by fencing: the fenced node hears nothing.
                        if *op == "stop" && fenced.contains(&n) {
                            continue;
                        }
                        targets.push((n, NotifyStage::Pre));
                        if *op == "demote" || !does("stop") {
                            targets.push((n, NotifyStage::Post));
                        }
                    }
                }
                if matches!(*op, "start" | "promote") {
                    if let Some(n) = instances[p].after {
                        if *op != "start" || !does("start") {
                            targets.push((n, NotifyStage::Pre));
                        }
                        targets.push((n, NotifyStage::Post));
                    }
                }
                for (n, stage) in targets {
                    if !ws.nodes[n].online || ws.nodes[n].unclean {
                        continue;
                    }
                    let (ty, key_op) = match stage {
                        NotifyStage::Pre => ("pre", op.to_string()),
                        NotifyStage::Post => ("post", completed(op).to_owned()),
                    };
                    let mut vars = lists.clone();
                    vars.extend([
                        ("notify_type".to_owned(), ty.to_owned()),
                        ("notify_operation".to_owned(), op.to_string()),
                        ("notify_key_type".to_owned(), ty.to_owned()),
                        ("notify_key_operation".to_owned(), key_op),
                    ]);
                    vars.sort();
                    let idx = out.notifications.len();
                    out.notifications.push(Notification {
                        clone: clone.id.clone(),
                        rsc: name(p),
                        instance: r.id.clone(),
                        node: ws.nodes[n].name.clone(),
                        stage,
                        operation: op,
                        vars,
                    });
                    match stage {
                        NotifyStage::Pre => made[k].0.push(idx),
                        NotifyStage::Post => made[k].1.push(idx),
                    }
                }
            }
        }
        let notes = |v: &[usize]| v.iter().map(|&i| Step::Notify(i)).collect::<Vec<_>>();
        let steps = |v: &[usize]| v.iter().map(|&i| Step::Action(i)).collect::<Vec<_>>();
        let mut pairs: Vec<(Vec<Step>, Vec<Step>)> = Vec::new();
        for k in 0..OPS.len() {
            let (pre, post) = (notes(&made[k].0), notes(&made[k].1));
            pairs.push((pre.clone(), steps(&acts[k])));
            pairs.push((steps(&acts[k]), post.clone()));
            pairs.push((pre, post));
        }
        // One operation's notifications are done before the next one's begin.
        let mut sequence = vec![(1, 0)]; // stop, then start
        if clone.promotable {
            sequence.extend([(1, 2), (0, 2), (3, 2), (3, 0), (3, 1)]);
        }
        for (x, y) in sequence {
            if acts[x].is_empty() || acts[y].is_empty() {
                continue;
            }
            let mut before = steps(&acts[x]);
            before.extend(notes(&made[x].1));
            let mut after = notes(&made[y].0);
            after.extend(steps(&acts[y]));
            pairs.push((before, after));
        }
        // An order after the clone waits for the post notifications of that operation.
        for (o, ord) in ws.orders.iter().enumerate() {
            if ord.first != c {
                continue;
            }
            let Some(k) = OPS.iter().position(|op| *op == ord.first_action) else {
                continue;
            };
            pairs.push((notes(&made[k].1), steps(&thens(o))));
        }
        for (before, after) in pairs {
            for &a in &before {
                for &b in &after {
                    if a != b {
                        out.edges.push((a, b));
                    }
                }
            }
        }
    }
    out.edges.sort();
    out.edges.dedup();
    out
}

/// Whether an action of `kind` counts as `op` for notifications (a migration starts the
/// instance on its target).
fn kind_is(kind: ActionKind, op: &str) -> bool {
    kind.name() == op || kind == ActionKind::Migrate && op == "start"
}

/// The name Pacemaker gives an operation once done (`notify_key_operation` of post).
fn completed(op: &str) -> &'static str {
    match op {
        "start" => "running",
        "stop" => "stopped",
        "promote" => "promoted",
        _ => "demoted",
    }
}

/// The lists every notification (and every action) of the clone carries: who is active,
/// promoted, unpromoted or inactive before the plan, and who starts, stops, promotes and
/// demotes, as `notify_*_resource` and `notify_*_uname` (a single space when empty).
fn lists(
    ws: &WorkingSet,
    promotable: bool,
    prims: &[usize],
    actions: &[Action],
    owners: &[Option<usize>],
    acts: &[Vec<usize>],
    clone: usize,
) -> Vec<(String, String)> {
    // Entries (instance id, node name), sorted and one per instance, as Pacemaker lists them.
    let render = |mut entries: Vec<(String, Option<String>)>| -> (String, String) {
        entries.sort();
        entries.dedup_by(|a, b| a.0 == b.0);
        let rscs = words(entries.iter().map(|e| e.0.as_str()).collect());
        let nodes = words(entries.iter().filter_map(|e| e.1.as_deref()).collect());
        (rscs, nodes)
    };
    let (mut active, mut promoted, mut unpromoted, mut inactive) = (vec![], vec![], vec![], vec![]);
    for &p in prims {
        let r = &ws.rscs[p];
        let node = r.running_on.first().map(|&n| ws.nodes[n].name.clone());
        let entry = (r.id.clone(), node);
        match r.role {
            Role::Stopped => inactive.push(entry),
            Role::Promoted => {
                promoted.push(entry.clone());
                active.push(entry);
            }
            Role::Unpromoted => {
                unpromoted.push(entry.clone());
                active.push(entry);
            }
            _ if promotable => {
                unpromoted.push(entry.clone());
                active.push(entry);
            }
            _ => active.push(entry),
        }
    }
    // Spare instances Pacemaker created while reading the history: never active.
    for id in ws.spares.get(&clone).into_iter().flatten() {
        inactive.push((id.clone(), None));
    }
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut put = |what: &str, entries: Vec<(String, Option<String>)>, with_nodes: bool| {
        let (rscs, nodes) = render(entries);
        vars.push((format!("notify_{what}_resource"), rscs));
        if with_nodes {
            vars.push((format!("notify_{what}_uname"), nodes));
        }
    };
    for (k, op) in OPS.iter().enumerate() {
        let entries = acts[k]
            .iter()
            .filter_map(|&a| {
                let p = owners[a]?;
                // A migration stops the instance on its source, too.
                Some((ws.rscs[p].id.clone(), Some(actions[a].node.clone())))
            })
            .collect();
        put(op, entries, true);
    }
    put("active", active, true);
    put("unpromoted", unpromoted.clone(), true);
    put("slave", unpromoted, true);
    put("promoted", promoted.clone(), true);
    put("master", promoted, true);
    put("inactive", inactive, false);
    let mut available: Vec<&str> = ws
        .nodes
        .iter()
        .enumerate()
        .filter(|(n, _)| ws.rscs[clone].allowed[*n].is_some())
        .map(|(_, node)| node.name.as_str())
        .collect();
    available.sort_unstable();
    let all: Vec<&str> = ws.nodes.iter().map(|n| n.name.as_str()).collect();
    vars.push(("notify_available_uname".into(), words(available)));
    vars.push(("notify_all_uname".into(), words(all)));
    vars.sort();
    vars
}

/// A notification list: the words separated by spaces, or a single space when empty (as
/// Pacemaker passes an empty list).
fn words(v: Vec<&str>) -> String {
    if v.is_empty() {
        " ".to_owned()
    } else {
        v.join(" ")
    }
}
