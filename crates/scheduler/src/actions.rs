//! Actions: from each primitive's current state and its assignment, the stops, starts,
//! promotions, demotions and migrations that get there; then the effects of mandatory
//! orderings (a restart of the first restarts the then; a first that cannot run blocks the
//! then) and of fencing (resources on a node being fenced are stopped by the fencing).
use cib::Role;
use cib::model::{NoQuorumPolicy, OrderKind};

use crate::definition::Change;
use crate::ws::{Kind, WorkingSet};
use crate::{Action, ActionKind, Placement, Plan, ScoreRow};

/// What one primitive will do.
#[derive(Debug, Clone)]
struct Todo {
    demote: Vec<usize>,
    stop: Vec<usize>,
    start: Option<usize>,
    promote: Option<usize>,
    migrate: Option<(usize, usize)>,
    /// Reload changed parameters here, unless a stop here cancels it.
    reload: Option<usize>,
    blocked_start: Option<(usize, String)>,
    blocked_promote: Option<(usize, String)>,
    blocked_stop: Vec<(usize, String)>,
    blocked_demote: Vec<(usize, String)>,
    /// Where it runs after the plan (None: stopped).
    after: Option<usize>,
    role_after: Role,
}

impl Default for Todo {
    fn default() -> Self {
        Todo {
            demote: Vec::new(),
            stop: Vec::new(),
            start: None,
            promote: None,
            migrate: None,
            reload: None,
            blocked_start: None,
            blocked_promote: None,
            blocked_stop: Vec::new(),
            blocked_demote: Vec::new(),
            after: None,
            role_after: Role::Stopped,
        }
    }
}

/// The to-do lists by arena entry: of every entry (a whole plan), or of those of a part
/// made again only (a cluster's worth of empty lists is not made for a few): another
/// entry reads as empty, and is given its own list when written.
struct Todos {
    /// Each entry's list in `items`, or [`Todos::NO_SLOT`]; empty: `items` by entry.
    slot: Vec<u32>,
    items: Vec<Todo>,
    empty: Todo,
}

impl Todos {
    const NO_SLOT: u32 = u32::MAX;

    /// An empty list for each of `n` entries.
    fn dense(n: usize) -> Todos {
        Todos {
            slot: Vec::new(),
            items: vec![Todo::default(); n],
            empty: Todo::default(),
        }
    }

    /// Lists for `n` entries, made as they are written.
    fn sparse(n: usize) -> Todos {
        Todos {
            slot: vec![Self::NO_SLOT; n],
            items: Vec::new(),
            empty: Todo::default(),
        }
    }
}

impl std::ops::Index<usize> for Todos {
    type Output = Todo;
    fn index(&self, x: usize) -> &Todo {
        match self.slot.get(x) {
            None => &self.items[x],
            Some(&Self::NO_SLOT) => &self.empty,
            Some(&k) => &self.items[k as usize],
        }
    }
}

impl std::ops::IndexMut<usize> for Todos {
    fn index_mut(&mut self, x: usize) -> &mut Todo {
        if self.slot.is_empty() {
            return &mut self.items[x];
        }
        if self.slot[x] == Self::NO_SLOT {
            self.slot[x] = self.items.len() as u32;
            self.items.push(Todo::default());
        }
        &mut self.items[self.slot[x] as usize]
    }
}

pub(crate) fn create(ws: &mut WorkingSet) -> Plan {
    let n = ws.rscs.len();
    let mut todo = Todos::dense(n);
    let (fence, notes) = fencing(ws);
    ws.notes.extend(notes);
    for i in 0..n {
        if ws.rscs[i].kind == Kind::Primitive {
            todo[i] = own_todo(ws, i, &fence);
        }
    }
    propagate_orders(ws, &mut todo, None);

    let mut plan = Plan::default();
    let prims = (0..n).filter(|&i| ws.rscs[i].kind == Kind::Primitive);
    let owners = emit_sorted(ws, prims.map(|i| (i, &todo[i])), &fence, &mut plan);
    plan.edges = edges(ws, &plan.actions, &owners);
    // Only where each resource ends up (and in which role) is read from here on: the
    // rest of the to-do list goes (at cloud scale, a tenth of the scheduler's memory).
    let after: Vec<(Option<usize>, Role)> = (todo.items.iter())
        .map(|t| (t.after, t.role_after))
        .collect();
    drop(todo);
    let instances: Vec<crate::notify::Instance> = after
        .iter()
        .map(|&(after, _)| crate::notify::Instance { after })
        .collect();
    let notes = notifications(ws, &plan.actions, &owners, &fence, &instances);
    plan.notifications = notes.notifications;
    plan.notify_edges = notes.edges;
    plan.notify_vars = notes.vars;
    plan.blocked.sort();
    plan.placement.sort();
    plan.scores.sort();
    plan.notes = ws.notes.clone();
    probes_and_monitors(ws, &after, &mut plan);
    plan.explanations = ws
        .trace
        .iter()
        .map(|w| crate::Explanation {
            rsc: ws.rscs[w.rsc].id.clone(),
            node: ws.nodes[w.node].name.clone(),
            delta: w.delta,
            reason: w.reason.clone(),
        })
        .collect();
    plan.unavailable = ws
        .nodes
        .iter()
        .filter(|n| !n.available())
        .map(|n| {
            let why = if n.unclean {
                format!("unclean ({}); fenced first", n.unclean_reason)
            } else if !n.online {
                "offline".to_owned()
            } else if n.shutdown {
                "shutting down".to_owned()
            } else if n.maintenance {
                "in maintenance".to_owned()
            } else {
                "in standby".to_owned()
            };
            (n.name.clone(), why)
        })
        .collect();
    plan.parents = ws
        .rscs
        .iter()
        .filter_map(|r| r.parent.map(|p| (r.id.clone(), ws.rscs[p].id.clone())))
        .collect();
    plan
}

/// The fencing actions, first in the plan (before sorting) with their owners.
fn fence_actions(ws: &WorkingSet, fence: &[usize], plan: &mut Plan, owners: &mut Vec<Owner>) {
    for &f in fence {
        owners.push(Owner::Node(f));
        plan.actions.push(Action {
            kind: ActionKind::Fence,
            rsc: ws.nodes[f].name.clone(),
            node: ws.fencing_action.clone(),
            from: None,
            blocked: None,
            reason: ws.nodes[f].unclean_reason.clone(),
        });
    }
}

/// Primitive `i`'s part of the plan from its to-do `t`: its actions (with their owner),
/// its blocked actions, its placement and (with `--explain`) its score rows.
fn emit(
    ws: &WorkingSet,
    i: usize,
    t: &Todo,
    fence: &[usize],
    plan: &mut Plan,
    owners: &mut Vec<Owner>,
) {
    let name = shown_name(ws, i);
    let node = |x: usize| ws.nodes[x].name.clone();
    let r = &ws.rscs[i];
    let why = |kind: ActionKind, on: usize| -> String {
        let here = r.running_on.contains(&on);
        let again = t.start == Some(on) && here;
        match kind {
            ActionKind::Stop if fence.contains(&on) => "its node is being fenced".into(),
            ActionKind::Stop | ActionKind::Start if again && r.failed => {
                "recovery after a failure".into()
            }
            ActionKind::Stop | ActionKind::Start
                if again && r.changed_on.contains(&(on, Change::Restart)) =>
            {
                "resource definition change".into()
            }
            ActionKind::Stop | ActionKind::Start if again => {
                "restart (a dependency restarts or stops)".into()
            }
            ActionKind::Stop => match t.after {
                Some(to) => format!("moving to {}", ws.nodes[to].name),
                None => "it cannot run anywhere, or is asked to stop".into(),
            },
            ActionKind::Start => match r.running_on.first() {
                Some(&from) if !here => format!("moving from {}", ws.nodes[from].name),
                _ => "placed here".into(),
            },
            ActionKind::Migrate => "live migration (allow-migrate)".into(),
            ActionKind::Promote => "highest promotion priority".into(),
            ActionKind::Demote => "no longer promoted here".into(),
            ActionKind::Reload => "resource definition change".into(),
            ActionKind::Fence => String::new(),
        }
    };
    let mut push = |kind, on: usize, from: Option<usize>, blocked: Option<String>| {
        let a = Action {
            kind,
            rsc: name.clone(),
            node: node(on),
            from: from.map(node),
            reason: why(kind, on),
            blocked: blocked.clone(),
        };
        if blocked.is_some() {
            plan.blocked.push(a);
        } else {
            owners.push(Owner::Rsc(i));
            plan.actions.push(a);
        }
    };
    for &d in &t.demote {
        push(ActionKind::Demote, d, None, None);
    }
    for &s in &t.stop {
        push(ActionKind::Stop, s, None, None);
    }
    if let Some((from, to)) = t.migrate {
        push(ActionKind::Migrate, to, Some(from), None);
    }
    if let Some(s) = t.start {
        push(ActionKind::Start, s, None, None);
    }
    if let Some(p) = t.promote {
        push(ActionKind::Promote, p, None, None);
    }
    // A stop here (a restart forced by an ordering, say) cancels the reload.
    if let Some(n) = t
        .reload
        .filter(|n| !t.stop.contains(n) && t.start != Some(*n))
    {
        push(ActionKind::Reload, n, None, None);
    }
    if let Some((s, why)) = &t.blocked_start {
        push(ActionKind::Start, *s, None, Some(why.clone()));
    }
    if let Some((s, why)) = &t.blocked_promote {
        push(ActionKind::Promote, *s, None, Some(why.clone()));
    }
    for (s, why) in &t.blocked_demote {
        push(ActionKind::Demote, *s, None, Some(why.clone()));
    }
    for (s, why) in &t.blocked_stop {
        push(ActionKind::Stop, *s, None, Some(why.clone()));
    }
    let managed = ws.rscs[i].managed;
    let is_anon_clone = ws.clone_of(i).is_some_and(|c| !ws.rscs[c].unique);
    let numbered = ws.clone_of(i).is_some_and(|c| ws.rscs[c].numbered);
    if t.after.is_none() && (is_anon_clone && !numbered || ws.rscs[i].orphan) {
        return;
    }
    // Placement shows anonymous instances by their base id, always.
    let name = if is_anon_clone {
        ws.rscs[i].base.clone()
    } else {
        name
    };
    let mut nodes: Vec<String> = if !managed && t.after.is_some() {
        ws.rscs[i].running_on.iter().map(|&n| node(n)).collect()
    } else {
        t.after.map(node).into_iter().collect()
    };
    nodes.sort();
    plan.placement.push(Placement {
        rsc: name.clone(),
        nodes,
        role: t.role_after,
        managed,
    });
    // The score table: a row per instance and node, only when explanations are asked
    // for (on 100 nodes x 10,000 resources it is a million rows).
    for (ni, w) in ws.rscs[i].allowed.iter().enumerate() {
        if let (Some(w), true) = (w.get(), ws.explain) {
            plan.scores.push(ScoreRow {
                rsc: ws.rscs[i].id.clone(),
                node: node(ni),
                score: w,
            });
        }
    }
}

/// A start waits for the resource's probes on every online node where it has no history;
/// a node that is up but has not joined yet (pending) cannot run them, so such a start
/// cannot happen (Pacemaker 2.1.5: the probe is unrunnable and the start is ordered after
/// it).
/// A live migration that completed without a stop on its source since: stop it there once
/// more (Pacemaker's dangling migration).
fn dangling_migrations(ws: &WorkingSet, i: usize, t: &mut Todo) {
    let r = &ws.rscs[i];
    if r.kind != Kind::Primitive || !r.managed {
        return;
    }
    for &n in &r.dangling {
        if !t.stop.contains(&n) {
            t.stop.push(n);
        }
    }
}

/// What primitive `i` does before orderings have their say: its own recovery, its
/// dangling migrations, starts held by unrunnable probes, quorum and unreachable nodes.
/// Each of these reads only the primitive's own to-do.
fn own_todo(ws: &WorkingSet, i: usize, fence: &[usize]) -> Todo {
    let mut t = primitive_todo(ws, i, fence);
    dangling_migrations(ws, i, &mut t);
    probes_on_pending_nodes(ws, i, &mut t);
    quorum(ws, i, &mut t);
    unreachable_nodes(ws, fence, i, &mut t);
    t
}

fn probes_on_pending_nodes(ws: &WorkingSet, i: usize, t: &mut Todo) {
    let r = &ws.rscs[i];
    if r.kind != Kind::Primitive || r.orphan || !r.managed || t.start.is_none() {
        return;
    }
    let siblings: Vec<usize> = match ws.clone_of(i) {
        Some(c) if !ws.rscs[c].unique => ws.instances.get(&r.base).cloned().unwrap_or_default(),
        _ => vec![i],
    };
    let unprobed = ws.nodes.iter().enumerate().any(|(n, node)| {
        node.online
            && node.pending
            && !node.unclean
            && ws.discoverable(i, n)
            && !siblings.iter().any(|&s| ws.rscs[s].known_on.contains(&n))
    });
    if unprobed {
        block_todo(r, t, "start", "unrunnable probe", false);
    }
}

/// Probes where a resource has no history on an online node, and the recurring monitors of
/// every resource where it runs after the plan.
/// `after`: where each resource ends up, and in which role.
fn probes_and_monitors(ws: &WorkingSet, after: &[(Option<usize>, Role)], plan: &mut Plan) {
    use std::sync::Arc;
    // Names are shared: a large cluster has a probe for most resources on most nodes.
    let nodes: Vec<Arc<str>> = ws
        .nodes
        .iter()
        .map(|n| Arc::from(n.name.as_str()))
        .collect();
    // Sort keys beside the entries: (the name's entry in `names`, node), ranked by name
    // once at the end, so that the sort compares numbers, not strings.
    let mut names: Vec<Arc<str>> = Vec::new();
    // The primitive behind each name.
    let mut owner: Vec<usize> = Vec::new();
    // Per anonymous clone's primitive (base id): the name of its first instance.
    let mut first_of_base: crate::hash::Map<&str, usize> = Default::default();
    let mut monitor_keys: Vec<(usize, usize)> = Vec::new();
    for (i, r) in ws.rscs.iter().enumerate() {
        if r.kind != Kind::Primitive || r.orphan || !r.managed {
            continue;
        }
        let name: Arc<str> = Arc::from(shown_name(ws, i));
        names.push(name.clone());
        owner.push(i);
        let ni = names.len() - 1;
        if ws.clone_of(i).is_some_and(|c| !ws.rscs[c].unique) {
            first_of_base.entry(r.base.as_str()).or_insert(ni);
        }
        if let (Some(n), role) = after[i] {
            for &(interval_ms, want) in &r.monitors {
                if monitor_runs(want, role) {
                    plan.monitors.push(crate::Monitor {
                        rsc: name.clone(),
                        node: nodes[n].clone(),
                        interval_ms,
                        role: want,
                    });
                    monitor_keys.push((ni, n));
                }
            }
        }
    }
    // The names' ranks in string order (equal names, equal ranks); nodes by byte rank,
    // which is their names' string order: the sorts below order as sorting by the fields.
    let mut by_name: Vec<usize> = (0..names.len()).collect();
    by_name.sort_by(|&a, &b| names[a].cmp(&names[b]));
    let mut name_rank = vec![0u32; names.len()];
    for k in 1..by_name.len() {
        let same = names[by_name[k]] == names[by_name[k - 1]];
        name_rank[by_name[k]] = name_rank[by_name[k - 1]] + u32::from(!same);
    }
    let key = |(ni, n): (usize, usize)| (name_rank[ni], ws.byte_rank[n]);
    // A probe is its key (most of a large plan is probes: 900,000 at 100 nodes x 10,000
    // resources), made in order: names in name order, nodes in name order. An anonymous
    // clone is probed once per node, whichever instance knows it, under the name of its
    // first instance in arena order.
    let mut by_byte: Vec<usize> = (0..ws.nodes.len()).collect();
    by_byte.sort_by_key(|&n| ws.byte_rank[n]);
    let mut probe_keys: Vec<(u32, u32)> = Vec::new();
    for &ni in &by_name {
        let i = owner[ni];
        let r = &ws.rscs[i];
        let siblings: Vec<usize> = match ws.clone_of(i) {
            Some(c) if !ws.rscs[c].unique => {
                if first_of_base.get(r.base.as_str()) != Some(&ni) {
                    continue;
                }
                ws.instances.get(&r.base).cloned().unwrap_or_default()
            }
            _ => vec![i],
        };
        // Both below the number of resources and nodes, each far under 2^32.
        let on = by_byte.iter().filter(|&&n| probed(ws, i, &siblings, n));
        probe_keys.extend(on.map(|&n| (ni as u32, n as u32)));
    }
    plan.probes = crate::Probes::new(names, nodes, probe_keys);
    let monitors = std::mem::take(&mut plan.monitors);
    let mut keyed: Vec<_> = monitors
        .into_iter()
        .zip(monitor_keys)
        .map(|(m, k)| ((key(k), m.interval_ms, m.role), m))
        .collect();
    keyed.sort_by_key(|k| k.0);
    plan.monitors = keyed.into_iter().map(|(_, m)| m).collect();
}

/// Whether primitive `i` (standing for `siblings`, an anonymous clone's instances) is
/// probed on node `n`: the node is up and clean, none of them has history there, and
/// discovery is not off there.
fn probed(ws: &WorkingSet, i: usize, siblings: &[usize], n: usize) -> bool {
    let node = &ws.nodes[n];
    node.online
        && !node.unclean
        && !siblings.iter().any(|&s| ws.rscs[s].known_on.contains(&n))
        && ws.discoverable(i, n)
}

/// Whether a recurring monitor for role `want` runs on a resource in `role`.
fn monitor_runs(want: Option<Role>, role: Role) -> bool {
    match want {
        None | Some(Role::Started) => role != Role::Promoted,
        Some(w) => w == role,
    }
}

/// Re-plan the top-level resources `tops` alone (in no colocation or order with anything
/// else). `plan` was made by [`create`] from this working set; since then some of them
/// were rebuilt from their histories ([`WorkingSet::renew`]) and placed again, where they
/// were or elsewhere (`assign::reassign`), and the others stand as placed. They are
/// managed as before, so their to-do
/// lists are their own and no other's reads them: only their parts of the plan change
/// (their actions, blocked actions, placement, probes, monitors and clone notifications,
/// and the edges to their actions: their own sequences, their orders and fencing before
/// them). False when the plan does not hold what it should (then `plan` is not to be
/// used: a whole plan is needed).
pub(crate) fn replan_apart(ws: &WorkingSet, plan: &mut Plan, tops: &[usize]) -> bool {
    let members: Vec<usize> = tops.iter().flat_map(|&t| ws.primitives_of(t)).collect();
    let (fence, _) = fencing(ws);
    // Orders read the to-do lists by arena entry; a primitive alone reads its own only.
    let alone = members.len() == 1 && tops == members.as_slice();
    let mut todo = Todos::sparse(ws.rscs.len());
    for &m in &members {
        todo[m] = own_todo(ws, m, &fence);
    }
    if !alone {
        propagate_orders(ws, &mut todo, Some(&ws.entries_of(tops)));
    }
    let mut part = Plan::default();
    let todos = members.iter().map(|&m| (m, &todo[m]));
    let owners = emit_sorted(ws, todos, &fence, &mut part);
    let new: Vec<Action> = std::mem::take(&mut part.actions);
    let new_edges = edges(ws, &new, &owners);
    let mut names: Vec<String> = members.iter().map(|&m| shown_name(ws, m)).collect();
    names.sort();
    names.dedup();
    let mine = |a: &Action| a.kind != ActionKind::Fence && names.binary_search(&a.rsc).is_ok();

    // Both lists are sorted (by kind, then name): theirs among the old ones are found by
    // a binary search per kind and name, and their new ones go in where they sort, each
    // old action moved once; nothing else is compared (the plan is at cloud scale).
    let old = std::mem::take(&mut plan.actions);
    let mut gone: Vec<usize> = Vec::new();
    for kind in ActionKind::ALL
        .into_iter()
        .filter(|&k| k != ActionKind::Fence)
    {
        for name in &names {
            let at = |a: &Action| (a.kind, a.rsc.as_str()).cmp(&(kind, name.as_str()));
            let lo = old.partition_point(|a| at(a).is_lt());
            let hi = lo + old[lo..].partition_point(|a| at(a).is_eq());
            gone.extend(lo..hi);
        }
    }
    gone.sort_unstable();
    let add: Vec<usize> = (0..new.len())
        .filter(|&k| new[k].kind != ActionKind::Fence)
        .collect();
    // Where each new one goes: after the old ones kept that sort before it or equal.
    let before: Vec<usize> = add
        .iter()
        .map(|&k| {
            let p = old.partition_point(|a| *a <= new[k]);
            p - gone.partition_point(|&g| g < p)
        })
        .collect();
    let (mut from_old, mut from_new) = (vec![NONE; old.len()], vec![NONE; new.len()]);
    let mut fenced = Vec::new();
    for k in (0..new.len()).filter(|&k| new[k].kind == ActionKind::Fence) {
        match old.binary_search(&new[k]) {
            Ok(j) => fenced.push((k, j)),
            Err(_) => return false,
        }
    }
    let mut merged: Vec<Action> = Vec::with_capacity(old.len() - gone.len() + add.len());
    let (mut kept, mut y, mut g) = (0, 0, 0);
    for (k, a) in old.into_iter().enumerate() {
        if gone.get(g) == Some(&k) {
            g += 1;
            continue;
        }
        while y < add.len() && before[y] == kept {
            from_new[add[y]] = merged.len();
            merged.push(new[add[y]].clone());
            y += 1;
        }
        from_old[k] = merged.len();
        merged.push(a);
        kept += 1;
    }
    for &k in &add[y..] {
        from_new[k] = merged.len();
        merged.push(new[k].clone());
    }
    for (k, j) in fenced {
        from_new[k] = from_old[j];
    }
    // The old edges stay sorted through the renumbering (it keeps the order): merged with
    // the new ones.
    let map = |table: &[usize], (a, b): (usize, usize)| (table[a], table[b]);
    let kept_edges: Vec<(usize, usize)> = plan
        .edges
        .iter()
        .map(|&e| map(&from_old, e))
        .filter(|&(a, b)| a != NONE && b != NONE)
        .collect();
    let mut added = Vec::with_capacity(new_edges.len());
    for &e in &new_edges {
        let (a, b) = map(&from_new, e);
        if a == NONE || b == NONE {
            return false;
        }
        added.push((a, b));
    }
    added.sort_unstable();
    let mut edges = Vec::with_capacity(kept_edges.len() + added.len());
    let mut added = added.into_iter().peekable();
    for e in kept_edges {
        while let Some(n) = added.next_if(|n| *n < e) {
            edges.push(n);
        }
        edges.push(e);
    }
    edges.extend(added);
    edges.dedup();
    plan.edges = edges;
    let mut after: Vec<crate::notify::Instance> = Vec::new();
    if tops.iter().any(|&t| ws.rscs[t].kind == Kind::Clone) {
        after = (0..ws.rscs.len())
            .map(|_| crate::notify::Instance { after: None })
            .collect();
        for &m in &members {
            after[m].after = todo[m].after;
        }
    }
    let from = (&from_old[..], &from_new[..]);
    if !renotify(ws, plan, tops, &new, &owners, &fence, &after, from) {
        return false;
    }
    plan.actions = merged;

    plan.blocked.retain(|a| !mine(a));
    plan.blocked.extend(part.blocked);
    plan.blocked.sort();
    splice_by_name(&mut plan.placement, &names, part.placement, |p| &p.rsc);

    // Probes: a name's (an anonymous clone's: once per node, by its first instance).
    for name in &names {
        let first = members.iter().copied().find(|&m| {
            let r = &ws.rscs[m];
            !r.orphan && r.managed && shown_name(ws, m) == *name
        });
        let mut on: Vec<u32> = Vec::new();
        if let Some(i) = first {
            let siblings: Vec<usize> = match ws.clone_of(i) {
                Some(c) if !ws.rscs[c].unique => ws
                    .instances
                    .get(&ws.rscs[i].base)
                    .cloned()
                    .unwrap_or_default(),
                _ => vec![i],
            };
            on = (0..ws.nodes.len())
                .filter(|&n| probed(ws, i, &siblings, n))
                .map(|n| n as u32)
                .collect();
            on.sort_by_key(|&n| ws.byte_rank[n as usize]);
        }
        if !plan.probes.replace(name, &on) {
            return false;
        }
    }
    // Monitors: by name, then node (in byte order), interval and role.
    splice_by_name(&mut plan.monitors, &names, Vec::new(), |m| &m.rsc);
    // (name, node's byte rank, interval, role): the order of the plan's monitors.
    type Key = (String, u32, u64, Option<cib::Role>);
    let mut mine: Vec<(Key, crate::Monitor)> = Vec::new();
    for &m in &members {
        let r = &ws.rscs[m];
        let t = &todo[m];
        let (true, Some(n)) = (r.kind == Kind::Primitive && !r.orphan && r.managed, t.after) else {
            continue;
        };
        let name = shown_name(ws, m);
        let rsc: std::sync::Arc<str> = std::sync::Arc::from(name.as_str());
        let node: std::sync::Arc<str> = std::sync::Arc::from(ws.nodes[n].name.as_str());
        for &(interval_ms, want) in r
            .monitors
            .iter()
            .filter(|m| monitor_runs(m.1, t.role_after))
        {
            let key = (name.clone(), ws.byte_rank[n], interval_ms, want);
            let monitor = crate::Monitor {
                rsc: rsc.clone(),
                node: node.clone(),
                interval_ms,
                role: want,
            };
            mine.push((key, monitor));
        }
    }
    mine.sort_by(|a, b| a.0.cmp(&b.0));
    let mut at = 0;
    for (key, monitor) in mine {
        at += plan.monitors[at..].partition_point(|x| *x.rsc < *key.0);
        plan.monitors.insert(at, monitor);
        at += 1;
    }
    true
}

/// The clone notifications of `actions` (owned by `owners`), `fence` the nodes being
/// fenced and `instances` where each primitive ends up (see [`crate::notify::build`]).
fn notifications(
    ws: &WorkingSet,
    actions: &[Action],
    owners: &[Owner],
    fence: &[usize],
    instances: &[crate::notify::Instance],
) -> crate::notify::Notifications {
    let owned: Vec<Option<usize>> = owners
        .iter()
        .map(|o| match o {
            Owner::Rsc(i) => Some(*i),
            Owner::Node(_) => None,
        })
        .collect();
    crate::notify::build(
        ws,
        actions,
        &owned,
        fence,
        instances,
        |i| shown_name(ws, i),
        |o| {
            let ord = &ws.orders[o];
            let then = endpoint(ws, ord.then);
            (0..actions.len())
                .filter(|&b| owned[b].is_some_and(|p| then.contains(&p)))
                .filter(|&b| matches(actions[b].kind, &ord.then_action))
                .collect()
        },
    )
}

/// An index no longer (or not yet) in a list.
const NONE: usize = usize::MAX;

/// Replace the entries of `list` (sorted, first by the name `name` reads) that have one
/// of the names `names` (sorted) with `fresh` (theirs, sorted by the same order), each
/// range found by a binary search: a part of a plan made again touches only its own.
fn splice_by_name<T: Ord>(
    list: &mut Vec<T>,
    names: &[String],
    fresh: Vec<T>,
    name: impl Fn(&T) -> &str,
) {
    let mut fresh = fresh;
    fresh.sort();
    let mut keys: Vec<&str> = names.iter().map(String::as_str).collect();
    keys.extend(fresh.iter().map(&name));
    keys.sort_unstable();
    keys.dedup();
    let keys: Vec<String> = keys.into_iter().map(str::to_owned).collect();
    // From the last name back, so that the ranges before stay where they are.
    let mut fresh = fresh.into_iter().rev().peekable();
    for key in keys.iter().rev() {
        let lo = list.partition_point(|x| name(x) < key.as_str());
        let hi = lo + list[lo..].partition_point(|x| name(x) == key.as_str());
        let mut theirs: Vec<T> =
            std::iter::from_fn(|| fresh.next_if(|f| name(f) == key.as_str())).collect();
        theirs.reverse();
        list.splice(lo..hi, theirs);
    }
}

/// The notifications of the clones among `tops` made again from their new actions
/// (`new`, owned by `owners`; `after`: where each primitive ends up, read only with a
/// clone among them) and spliced into `plan` in their place (each clone's in clone
/// order), with the notification edges renumbered: `from` maps the old and the new
/// actions to their places in the merged list. False when an edge joins a notification
/// of another clone to one of their actions (then they were not apart).
#[allow(clippy::too_many_arguments)]
fn renotify(
    ws: &WorkingSet,
    plan: &mut Plan,
    tops: &[usize],
    new: &[Action],
    owners: &[Owner],
    fence: &[usize],
    after: &[crate::notify::Instance],
    (from_old, from_new): (&[usize], &[usize]),
) -> bool {
    let ours: Vec<&str> = tops
        .iter()
        .filter(|&&t| ws.rscs[t].kind == Kind::Clone)
        .map(|&t| ws.rscs[t].id.as_str())
        .collect();
    // Without a clone of theirs, only the edges are renumbered.
    let notes = if ours.is_empty() {
        crate::notify::Notifications::default()
    } else {
        notifications(ws, new, owners, fence, after)
    };
    let rank = |clone: &str| ws.find(clone).unwrap_or(usize::MAX);
    // The old notifications but theirs, merged with their new ones by clone order.
    let old = std::mem::take(&mut plan.notifications);
    let (mut note_old, mut note_new) =
        (vec![NONE; old.len()], vec![NONE; notes.notifications.len()]);
    let mut merged = Vec::with_capacity(old.len());
    let mut fresh = notes.notifications.into_iter().enumerate().peekable();
    for (k, n) in old.into_iter().enumerate() {
        if ours.contains(&n.clone.as_str()) {
            continue;
        }
        let r = rank(&n.clone);
        while let Some((j, f)) = fresh.next_if(|(_, f)| rank(&f.clone) < r) {
            note_new[j] = merged.len();
            merged.push(f);
        }
        note_old[k] = merged.len();
        merged.push(n);
    }
    for (j, f) in fresh {
        note_new[j] = merged.len();
        merged.push(f);
    }
    plan.notifications = merged;
    let step = |s: crate::Step, actions: &[usize], notes: &[usize]| match s {
        crate::Step::Action(k) => (actions[k] != NONE).then(|| crate::Step::Action(actions[k])),
        crate::Step::Notify(k) => (notes[k] != NONE).then(|| crate::Step::Notify(notes[k])),
    };
    let mut edges = Vec::with_capacity(plan.notify_edges.len());
    for &(a, b) in &plan.notify_edges {
        match (step(a, from_old, &note_old), step(b, from_old, &note_old)) {
            (Some(a), Some(b)) => edges.push((a, b)),
            // Theirs: made again below.
            (None, None) => {}
            // One of theirs joined to another's: they were not apart.
            _ => return false,
        }
    }
    for &(a, b) in &notes.edges {
        match (step(a, from_new, &note_new), step(b, from_new, &note_new)) {
            (Some(a), Some(b)) => edges.push((a, b)),
            _ => return false,
        }
    }
    edges.sort();
    edges.dedup();
    plan.notify_edges = edges;
    plan.notify_vars.retain(|v| !ours.contains(&v.0.as_str()));
    for v in notes.vars {
        let r = rank(&v.0);
        let at = plan.notify_vars.partition_point(|w| rank(&w.0) < r);
        plan.notify_vars.insert(at, v);
    }
    true
}

/// Fencing's actions and those of each primitive's to-do list (`todos`: primitive and
/// its list) into `plan`, its actions sorted; returns the primitive (or, for fencing, the
/// node) behind each action, for the ordering edges.
fn emit_sorted<'a>(
    ws: &WorkingSet,
    todos: impl Iterator<Item = (usize, &'a Todo)>,
    fence: &[usize],
    plan: &mut Plan,
) -> Vec<Owner> {
    let mut owners: Vec<Owner> = Vec::new();
    fence_actions(ws, fence, plan, &mut owners);
    for (i, t) in todos {
        emit(ws, i, t, fence, plan, &mut owners);
    }
    // Sorted as indices (stable, as sorting the actions themselves): an action is large,
    // and a sort moves each many times.
    let mut order: Vec<u32> = (0..plan.actions.len() as u32).collect();
    order.sort_by(|&a, &b| plan.actions[a as usize].cmp(&plan.actions[b as usize]));
    let mut actions: Vec<Option<Action>> = plan.actions.drain(..).map(Some).collect();
    // (`order` holds each index once: every action is taken.)
    plan.actions = (order.iter())
        .filter_map(|&k| actions[k as usize].take())
        .collect();
    order.iter().map(|&k| owners[k as usize]).collect()
}

/// Who an action belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Rsc(usize),
    Node(usize),
}

/// Position of an action kind in a resource's own sequence.
fn rank(k: ActionKind) -> u8 {
    match k {
        ActionKind::Fence => 0,
        ActionKind::Demote => 1,
        ActionKind::Stop => 2,
        ActionKind::Migrate => 3,
        ActionKind::Start | ActionKind::Reload => 4,
        ActionKind::Promote => 5,
    }
}

fn matches(k: ActionKind, action: &str) -> bool {
    // A migration is how the resource starts on its new node.
    k.name() == action || k == ActionKind::Migrate && action == "start"
}

/// The ordering between the plan's actions: each resource's own sequence (demote, stop,
/// migrate, start, promote); fencing before anything that recovers what the fenced node
/// ran; group members in order; and every configured order (and its inverse).
fn edges(ws: &WorkingSet, actions: &[Action], owners: &[Owner]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut per_rsc: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (k, o) in owners.iter().enumerate() {
        if let Owner::Rsc(i) = o {
            per_rsc.entry(*i).or_default().push(k);
        }
    }
    for list in per_rsc.values() {
        for &a in list {
            for &b in list {
                if rank(actions[a].kind) < rank(actions[b].kind) {
                    out.push((a, b));
                }
            }
        }
    }
    for (f, o) in owners.iter().enumerate() {
        let Owner::Node(n) = *o else { continue };
        for (&i, list) in &per_rsc {
            if !ws.rscs[i].running_on.contains(&n) {
                continue;
            }
            for &b in list {
                out.push((f, b));
            }
        }
    }
    clone_internal_edges(ws, actions, &per_rsc, &mut out);
    // Only the groups, clones and orders of resources with actions make edges: with few
    // actions (a part of a plan made again), only theirs are looked at.
    let tops: std::collections::BTreeSet<usize> = per_rsc.keys().map(|&i| ws.top_of(i)).collect();
    let groups: std::collections::BTreeSet<usize> = (per_rsc.keys())
        .filter_map(|&i| {
            ws.rscs[i]
                .parent
                .filter(|&g| ws.rscs[g].kind == Kind::Group)
        })
        .collect();
    let mut orders: Vec<(usize, &str, usize, &str)> = Vec::new();
    for g in groups {
        let r = &ws.rscs[g];
        // The group is stopped before it starts again: every member's stop comes before
        // any member's start.
        for &a in &r.children {
            for &b in &r.children {
                orders.push((a, "stop", b, "start"));
            }
        }
        if !r.ordered_group {
            continue;
        }
        let promotable = ws.clone_of(g).is_some_and(|c| ws.rscs[c].promotable);
        for w in r.children.windows(2) {
            orders.push((w[0], "start", w[1], "start"));
            orders.push((w[1], "stop", w[0], "stop"));
            if promotable {
                orders.push((w[0], "promote", w[1], "promote"));
                orders.push((w[1], "demote", w[0], "demote"));
            }
        }
        // A partially active group still shuts down in sequence: a member stops before
        // the last active member before it, across members that are not running.
        let mut last_active: Option<usize> = None;
        for (k, &m) in r.children.iter().enumerate() {
            if ws.rscs[m].running_on.is_empty() {
                continue;
            }
            if let Some(last) = last_active {
                if k > 0 && ws.rscs[r.children[k - 1]].running_on.is_empty() {
                    orders.push((m, "stop", last, "stop"));
                }
            }
            last_active = Some(m);
        }
    }
    let mut same_node = Vec::new();
    for o in &ws.orders {
        if !tops.contains(&ws.top_of(o.first)) || !tops.contains(&ws.top_of(o.then)) {
            continue;
        }
        orders.push((o.first, &o.first_action, o.then, &o.then_action));
        // Pseudo-actions of a group or clone have no node: only between two primitives
        // does an anti-colocation's order need both actions on one node.
        same_node.push(
            o.same_node
                && ws.rscs[o.first].kind == Kind::Primitive
                && ws.rscs[o.then].kind == Kind::Primitive,
        );
    }
    let by_rsc = |i: usize| per_rsc.get(&i).cloned().unwrap_or_default();
    let internal = orders.len() - same_node.len();
    for (k, (f, fa, t, ta)) in orders.into_iter().enumerate() {
        let one_node = k >= internal && same_node[k - internal];
        if !per_rsc.contains_key(&f) && ws.rscs[f].kind == Kind::Primitive
            || !per_rsc.contains_key(&t) && ws.rscs[t].kind == Kind::Primitive
        {
            continue;
        }
        let firsts: Vec<usize> = endpoint(ws, f).into_iter().flat_map(by_rsc).collect();
        if firsts.is_empty() {
            continue;
        }
        let thens: Vec<usize> = endpoint(ws, t).into_iter().flat_map(by_rsc).collect();
        for &a in firsts.iter().filter(|&&a| matches(actions[a].kind, fa)) {
            for &b in thens.iter().filter(|&&b| matches(actions[b].kind, ta)) {
                if a != b && (!one_node || actions[a].node == actions[b].node) {
                    out.push((a, b));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A clone's own ordering across its instances, as Pacemaker's clone pseudo-actions impose
/// it: every instance stops before any instance starts; in a promotable clone also every
/// demote comes before any stop, start or promote, and every stop and start before any
/// promote (so a replica is not stopped while the primary it follows still serves).
fn clone_internal_edges(
    ws: &WorkingSet,
    actions: &[Action],
    per_rsc: &std::collections::BTreeMap<usize, Vec<usize>>,
    out: &mut Vec<(usize, usize)>,
) {
    use ActionKind::{Demote, Migrate, Promote, Start, Stop};
    // The clones with an instance that has actions, in arena order.
    let clones: std::collections::BTreeSet<usize> =
        per_rsc.keys().filter_map(|&i| ws.clone_of(i)).collect();
    for c in clones {
        let r = &ws.rscs[c];
        let all: Vec<usize> = ws
            .primitives_of(c)
            .into_iter()
            .filter_map(|i| per_rsc.get(&i))
            .flatten()
            .copied()
            .collect();
        let of = |kinds: &[ActionKind]| -> Vec<usize> {
            all.iter()
                .copied()
                .filter(|&a| kinds.contains(&actions[a].kind))
                .collect()
        };
        let (demotes, stops, starts, promotes) = (
            of(&[Demote]),
            of(&[Stop]),
            of(&[Start, Migrate]),
            of(&[Promote]),
        );
        let mut pairs: Vec<(&[usize], &[usize])> = vec![(&stops, &starts)];
        if r.promotable {
            pairs.extend([
                (&demotes[..], &stops[..]),
                (&demotes[..], &starts[..]),
                (&demotes[..], &promotes[..]),
                (&stops[..], &promotes[..]),
                (&starts[..], &promotes[..]),
            ]);
        }
        for (before, after) in pairs {
            for &a in before {
                out.extend(after.iter().filter(|&&b| b != a).map(|&b| (a, b)));
            }
        }
        if r.ordered_clone {
            // Instance by instance: starts (and promotes) in number order, stops (and
            // demotes) in reverse.
            let acts = |inst: usize, kinds: &[ActionKind]| -> Vec<usize> {
                ws.primitives_of(inst)
                    .into_iter()
                    .filter_map(|i| per_rsc.get(&i))
                    .flatten()
                    .copied()
                    .filter(|&a| kinds.contains(&actions[a].kind))
                    .collect()
            };
            for w in r.children.windows(2) {
                let (prev, next) = (w[0], w[1]);
                for (first, then, kinds) in [
                    (prev, next, &[Start, Migrate][..]),
                    (next, prev, &[Stop][..]),
                    (prev, next, &[Promote][..]),
                    (next, prev, &[Demote][..]),
                ] {
                    for a in acts(first, kinds) {
                        out.extend(acts(then, kinds).into_iter().map(|b| (a, b)));
                    }
                }
            }
        }
    }
}

/// The name an action shows: anonymous clone instances by their base id.
fn shown_name(ws: &WorkingSet, i: usize) -> String {
    match ws.clone_of(i) {
        Some(c) if !ws.rscs[c].unique && !ws.rscs[c].numbered => ws.rscs[i].base.clone(),
        _ => ws.rscs[i].id.clone(),
    }
}

/// Nodes to fence: unclean ones, when fencing is possible and something is managed; and
/// a note for each unclean node that cannot be.
fn fencing(ws: &WorkingSet) -> (Vec<usize>, Vec<String>) {
    let have_managed = ws.rscs.iter().any(|r| r.managed);
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for (i, node) in ws.nodes.iter().enumerate() {
        if !node.unclean {
            continue;
        }
        let can = ws.fencing_enabled
            && (ws.have_quorum || ws.no_quorum_policy == NoQuorumPolicy::Ignore || node.online);
        if have_managed && can {
            out.push(i);
        } else {
            notes.push(format!(
                "node {} is unclean but cannot be fenced",
                node.name
            ));
        }
    }
    (out, notes)
}

fn primitive_todo(ws: &WorkingSet, i: usize, fence: &[usize]) -> Todo {
    let r = &ws.rscs[i];
    let mut t = Todo {
        role_after: Role::Stopped,
        ..Todo::default()
    };
    let next = r.next_role.unwrap_or(Role::Stopped);
    let target = r.assigned.filter(|_| next != Role::Stopped);
    let mut current: Vec<usize> = r.running_on.clone();
    if !r.managed {
        t.after = current.first().copied();
        t.role_after = if t.after.is_some() {
            r.role
        } else {
            Role::Stopped
        };
        return t;
    }
    let promotable = ws.clone_of(i).is_some_and(|c| ws.rscs[c].promotable);
    let up_role = |role: Role| {
        if promotable && role == Role::Started {
            Role::Unpromoted
        } else {
            role
        }
    };
    let next = up_role(next);
    let cur_role = up_role(r.role);

    // A fencing device (requires=quorum) also active on a healthy node is simply gone with
    // the node being fenced: that copy neither counts as active nor gets a stop.
    if r.is_fencing && current.iter().any(|n| !fence.contains(n)) {
        current.retain(|n| !fence.contains(n));
    }
    // Stop wherever it runs but should not (or must restart).
    let staying = target.is_some_and(|n| current.len() == 1 && current[0] == n);
    // A changed definition restarts it, or reloads it when only reloadable parameters
    // changed (a reload while a start is pending becomes a restart).
    let change = current
        .first()
        .and_then(|&n| r.changed_on.iter().find(|c| c.0 == n))
        .map(|c| c.1);
    let must_restart = staying
        && (r.failed
            || r.stop_failed_on.contains(&current[0])
            || change == Some(Change::Restart)
            || change == Some(Change::Reload) && r.start_pending);
    if staying && !must_restart && change == Some(Change::Reload) {
        t.reload = Some(current[0]);
    }
    let moving = target.is_some() && !current.is_empty() && !staying;
    let can_migrate = moving
        && r.allow_migrate
        && !r.failed
        && current.len() == 1
        && cur_role == Role::Started
        && next == Role::Started
        && ws.nodes[current[0]].online
        && !fence.contains(&current[0]);
    if can_migrate {
        let (from, to) = (current[0], target.unwrap_or(current[0]));
        t.migrate = Some((from, to));
        t.after = Some(to);
        t.role_after = Role::Started;
        return t;
    }
    for &c in &current {
        let keep = staying && !must_restart;
        if keep {
            continue;
        }
        if cur_role == Role::Promoted {
            t.demote.push(c);
        }
        t.stop.push(c);
    }
    match target {
        Some(n) => {
            let fresh = !staying || must_restart;
            if fresh || r.start_pending {
                t.start = Some(n);
            }
            t.after = Some(n);
            t.role_after = next;
            if next == Role::Promoted && (fresh || cur_role != Role::Promoted) {
                t.promote = Some(n);
            }
            if !fresh && cur_role == Role::Promoted && next != Role::Promoted {
                t.demote.push(n);
            }
        }
        None => {
            t.after = None;
            t.role_after = Role::Stopped;
        }
    }
    t
}

fn quorum(ws: &WorkingSet, i: usize, t: &mut Todo) {
    if ws.have_quorum || ws.no_quorum_policy == NoQuorumPolicy::Ignore {
        return;
    }
    let freeze = ws.no_quorum_policy == NoQuorumPolicy::Freeze;
    {
        let r = &ws.rscs[i];
        if r.kind != Kind::Primitive || !r.managed || !r.requires_quorum {
            return;
        }
        let active = !r.running_on.is_empty();
        if let Some(s) = t.start {
            if !freeze || !active {
                t.start = None;
                // Only a resource that runs nowhere shows a blocked start.
                if !active {
                    t.blocked_start = Some((s, "no quorum".into()));
                }
            }
        }
        if let Some(p) = t.promote.take() {
            t.blocked_promote = Some((p, "no quorum".into()));
        }
        t.migrate = None;
        if !freeze {
            for &c in &r.running_on {
                if !t.stop.contains(&c) {
                    t.stop.push(c);
                }
            }
            t.after = None;
            t.role_after = Role::Stopped;
        } else if t.blocked_start.is_some() || t.start.is_none() && !active {
            t.after = None;
            t.role_after = Role::Stopped;
        }
    }
}

/// An unclean node that is not fenced (a partition without quorum cannot fence) is out of
/// reach: what runs there can neither be stopped nor started elsewhere (it would then run
/// twice). Its stop is blocked and it stays where it is, as Pacemaker decides
/// (`rec-node-10`).
fn unreachable_nodes(ws: &WorkingSet, fence: &[usize], i: usize, t: &mut Todo) {
    let out_of_reach = |n: usize| ws.nodes[n].unclean && !ws.nodes[n].online && !fence.contains(&n);
    {
        let r = &ws.rscs[i];
        if r.kind != Kind::Primitive || !r.managed {
            return;
        }
        let stuck: Vec<usize> = t
            .stop
            .iter()
            .copied()
            .filter(|&n| out_of_reach(n))
            .collect();
        let Some(&first) = stuck.first() else {
            return;
        };
        t.stop.retain(|n| !stuck.contains(n));
        for &n in &stuck {
            let why = format!("node {} is unclean and cannot be fenced", ws.nodes[n].name);
            if t.demote.contains(&n) {
                t.blocked_demote.push((n, why.clone()));
            }
            t.blocked_stop.push((n, why));
        }
        t.demote.retain(|n| !stuck.contains(n));
        t.start = None;
        t.promote = None;
        t.migrate = None;
        t.after = Some(first);
        t.role_after = r.role;
    }
}

/// The primitives an order endpoint stands for.
fn endpoint(ws: &WorkingSet, i: usize) -> Vec<usize> {
    ws.primitives_of(i)
}

fn has(t: &Todo, action: &str) -> bool {
    match action {
        "start" => t.start.is_some() || t.migrate.is_some(),
        "stop" => !t.stop.is_empty() || t.migrate.is_some(),
        "promote" => t.promote.is_some(),
        "demote" => !t.demote.is_empty(),
        _ => false,
    }
}

fn can(t: &Todo, action: &str) -> bool {
    match action {
        "start" => t.after.is_some() && t.blocked_start.is_none(),
        "promote" => t.role_after == Role::Promoted,
        _ => true,
    }
}

/// `unit`: only the orders and colocations among these entries, when they are in no
/// other (see [`replan_apart`]); `None`: every one.
fn propagate_orders(ws: &WorkingSet, todo: &mut Todos, unit: Option<&[usize]>) {
    // Group internal orders, then configured ones; repeat until nothing changes.
    // (first, first action, then, then action, inverse, symmetrical, only restarts)
    let mut orders: Vec<(usize, String, usize, String, bool, bool, bool)> = Vec::new();
    let mut member = vec![unit.is_none(); ws.rscs.len()];
    for &x in unit.into_iter().flatten() {
        member[x] = true;
    }
    let in_unit = |x: usize| member[x];
    for (g, r) in ws.rscs.iter().enumerate() {
        if r.kind == Kind::Group && r.ordered_group && in_unit(g) {
            for w in ws.rscs[g].children.windows(2) {
                orders.push((
                    w[0],
                    "start".into(),
                    w[1],
                    "start".into(),
                    false,
                    true,
                    false,
                ));
                orders.push((w[1], "stop".into(), w[0], "stop".into(), true, false, false));
            }
        }
    }
    // Pacemaker keeps one ordering per pair of actions: a later one between the same first
    // and then actions is dropped (they all carry its "optional" flag, which
    // `order_actions` takes for "already ordered"), whatever its kind.
    let mut seen = crate::hash::Set::default();
    for o in ws
        .orders
        .iter()
        .filter(|o| in_unit(o.first) && in_unit(o.then))
    {
        if !o.same_node && !seen.insert((o.first, &o.first_action, o.then, &o.then_action)) {
            continue;
        }
        // An optional order to a resource with restart-type=restart only carries the
        // restart of the first over to the then (Pacemaker's implies-then).
        let only_restarts =
            o.kind == OrderKind::Optional && !o.same_node && ws.rscs[o.then].restart_with_first;
        if o.kind != OrderKind::Mandatory && !only_restarts {
            continue;
        }
        let inverse = o.first_action == "stop" && o.then_action == "stop"
            || o.first_action == "demote" && o.then_action == "demote";
        orders.push((
            o.first,
            o.first_action.clone(),
            o.then,
            o.then_action.clone(),
            inverse,
            o.symmetrical,
            only_restarts,
        ));
    }
    for _round in 0..(ws.rscs.len() + 4) {
        let mut changed = false;
        for (f, fa, tt, ta, inverse, symmetrical, only_restarts) in &orders {
            for (firsts, thens, node) in groups(ws, todo, *f, *tt, ta) {
                let per_node = node.is_some();
                if *only_restarts && *inverse {
                    continue;
                }
                // Interleaved: a then instance placed where no instance of the first is
                // placed may not be active at all (Pacemaker unassigns it: no blocked start).
                if let Some(n) = node
                    && !*inverse
                    && !*only_restarts
                    && ta == "start"
                    && !firsts.iter().any(|&x| placed_on(&todo[x], n))
                {
                    for &x in &thens {
                        changed |= inhibit(ws, todo, x, n);
                    }
                    continue;
                }
                if *inverse {
                    // "stop T then stop F": F stopping makes T stop (and restart if it stays).
                    // A live migration of the first is not a stop the then must wait out.
                    let stopping = thens.iter().any(|&x| {
                        has(&todo[x], ta)
                            && !(ta == "stop"
                                && todo[x].migrate.is_some()
                                && todo[x].stop.is_empty())
                    });
                    if stopping {
                        // Something that cannot be stopped (unmanaged) holds the then's stop.
                        // (So does one whose own stop is held that way.)
                        let stuck = firsts.iter().any(|&x| {
                            !ws.rscs[x].running_on.is_empty()
                                && (!ws.rscs[x].managed || !todo[x].blocked_stop.is_empty())
                        });
                        if stuck && ta == "stop" {
                            let why = format!("{} cannot be stopped", ws.rscs[*f].id);
                            for &x in &thens {
                                let t = &mut todo[x];
                                for n in std::mem::take(&mut t.stop) {
                                    t.blocked_stop.push((n, why.clone()));
                                    t.after = Some(n);
                                    t.role_after = ws.rscs[x].role;
                                    t.start = None;
                                    changed = true;
                                }
                            }
                            continue;
                        }
                        if per_node || ws.rscs[*tt].kind != Kind::Clone {
                            for &x in &firsts {
                                changed |= force_restart(ws, todo, x);
                            }
                        } else if ws.rscs[*f].kind != Kind::Clone {
                            // A clone instance stopping only restarts what runs beside it.
                            let stopping: Vec<usize> =
                                thens.iter().flat_map(|&x| todo[x].stop.clone()).collect();
                            for &x in &firsts {
                                if todo[x].after.is_some_and(|n| stopping.contains(&n)) {
                                    changed |= force_restart(ws, todo, x);
                                }
                            }
                        }
                    }
                    continue;
                }
                let f_is_clone_like = ws.rscs[*f].kind == Kind::Clone;
                let req = firsts.iter().any(|&x| has(&todo[x], fa));
                if *only_restarts {
                    let restarts = fa != "start" || firsts.iter().any(|&x| todo[x].start.is_some());
                    if req && restarts && ta == "start" {
                        for &x in &thens {
                            changed |= force_restart(ws, todo, x);
                        }
                    }
                    continue;
                }
                let runnable = if f_is_clone_like {
                    // One instance that can is enough; an instance that is a group can only
                    // when all its members can.
                    firsts.iter().any(|&x| {
                        match ws.rscs[x]
                            .parent
                            .filter(|&g| ws.rscs[g].kind == Kind::Group)
                        {
                            None => can(&todo[x], fa),
                            Some(g) => firsts
                                .iter()
                                .filter(|&&y| ws.rscs[y].parent == Some(g))
                                .all(|&y| can(&todo[y], fa)),
                        }
                    })
                } else {
                    firsts.iter().all(|&x| can(&todo[x], fa))
                };
                // An unmanaged first never runs its actions: a then that still has to start
                // waits for it (one already running stays).
                let frozen = firsts.iter().all(|&x| !ws.rscs[x].managed) && !firsts.is_empty();
                if frozen && ta == "start" && fa == "start" {
                    let why = format!("unrunnable {} {}", ws.rscs[*f].id, fa);
                    for &x in &thens {
                        let t = &mut todo[x];
                        if ws.rscs[x].managed && ws.rscs[x].running_on.is_empty() {
                            if let Some(s) = t.start.take() {
                                t.blocked_start = Some((s, why.clone()));
                                t.promote = None;
                                t.after = None;
                                t.role_after = Role::Stopped;
                                changed = true;
                            }
                        }
                    }
                    continue;
                }
                if !runnable && (ta == "start" || ta == "promote") {
                    let why = format!("unrunnable {} {}", ws.rscs[*f].id, fa);
                    for &x in &thens {
                        // Interleaved, an instance's start is paired by where it is placed,
                        // not by where it runs now.
                        if node.is_some_and(|n| todo[x].after != Some(n)) {
                            continue;
                        }
                        changed |= block(ws, todo, x, ta, &why, *symmetrical);
                    }
                    continue;
                }
                // A then whose first really stops or starts cannot migrate live.
                // (A clone's instances only count when one starts; an order to a whole group
                // leaves its members free to migrate.)
                let f_clone = ws.rscs[*f].kind == Kind::Clone;
                if ws.rscs[*tt].kind != Kind::Group
                    && firsts
                        .iter()
                        .any(|&x| todo[x].start.is_some() || !f_clone && !todo[x].stop.is_empty())
                {
                    for &x in &thens {
                        let t = &mut todo[x];
                        if let Some((from, to)) = t.migrate.take() {
                            t.stop.push(from);
                            t.start = Some(to);
                            changed = true;
                        }
                    }
                }
                let restarts = fa != "start" || firsts.iter().any(|&x| todo[x].start.is_some());
                let then_is_clone = ws.rscs[*tt].kind == Kind::Clone;
                if req && restarts && ta == "start" {
                    for &x in &thens {
                        // After a clone, only what the instance on the then's own node
                        // does matters to a primitive or group; every instance of a
                        // (non-interleaved) clone restarts.
                        let here = !f_is_clone_like
                            || per_node
                            || then_is_clone
                            || firsts.iter().any(|&y| {
                                has(&todo[y], fa)
                                    && todo[y].after.is_some()
                                    && todo[y].after == todo[x].after
                            });
                        if here {
                            changed |= force_restart(ws, todo, x);
                        }
                    }
                }
            }
        }
        // A primary placed but now unable to start takes its mandatory dependents down too.
        for c in ws.colocs.iter().filter(|c| in_unit(c.dependent)) {
            if c.score < crate::ws::INF || ws.rscs[c.primary].kind == Kind::Clone {
                continue;
            }
            let prims = endpoint(ws, c.primary);
            let blocked = !prims.is_empty()
                && prims
                    .iter()
                    .all(|&x| todo[x].after.is_none() && ws.rscs[x].assigned.is_some());
            if !blocked {
                continue;
            }
            let why = format!("colocation with {}", ws.rscs[c.primary].id);
            for x in endpoint(ws, c.dependent) {
                if todo[x].after.is_some() {
                    changed |= block(ws, todo, x, "start", &why, true);
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// The (firsts, thens) primitive groups an order relates: per node for interleaved clones
/// (an instance depends on the other clone's instance on its own node), else all with all.
/// Whose `interleave` counts is Pacemaker's rule (`can_interleave_actions`): the first's
/// when the then action is a stop or a demote, else the then's.
fn groups(
    ws: &WorkingSet,
    todo: &Todos,
    f: usize,
    t: usize,
    then_action: &str,
) -> Vec<(Vec<usize>, Vec<usize>, Option<usize>)> {
    let firsts = endpoint(ws, f);
    let thens = endpoint(ws, t);
    let both_clones = ws.rscs[f].kind == Kind::Clone && ws.rscs[t].kind == Kind::Clone;
    let decides = if matches!(then_action, "stop" | "demote") {
        f
    } else {
        t
    };
    if !(both_clones && ws.rscs[decides].interleave) {
        return vec![(firsts, thens, None)];
    }
    let on = |x: usize, n: usize| todo[x].after == Some(n) || ws.rscs[x].running_on.contains(&n);
    (0..ws.nodes.len())
        .filter_map(|n| {
            let tn: Vec<usize> = thens.iter().copied().filter(|&x| on(x, n)).collect();
            if tn.is_empty() {
                return None;
            }
            let fnn: Vec<usize> = firsts.iter().copied().filter(|&x| on(x, n)).collect();
            Some((fnn, tn, Some(n)))
        })
        .collect()
}

/// Whether a primitive is placed on `n` after the plan (a start that an order blocks still
/// counts: Pacemaker keeps its assignment).
fn placed_on(t: &Todo, n: usize) -> bool {
    t.after == Some(n) || t.blocked_start.as_ref().is_some_and(|(s, _)| *s == n)
}

/// An interleaved then instance placed on `n` with no instance of its first there: it is
/// not active at all (Pacemaker's `update_interleaved_actions` unassigns it), without a
/// blocked action to show.
fn inhibit(ws: &WorkingSet, todo: &mut Todos, x: usize, n: usize) -> bool {
    let r = &ws.rscs[x];
    let t = &mut todo[x];
    if !r.managed || t.after != Some(n) {
        return false;
    }
    if let Some((from, _)) = t.migrate.take() {
        t.stop.push(from);
    }
    t.start = None;
    if r.running_on.contains(&n) {
        if r.role == Role::Promoted && !t.demote.contains(&n) {
            t.demote.push(n);
        }
        if !t.stop.contains(&n) {
            t.stop.push(n);
        }
    }
    t.promote = None;
    t.blocked_promote = None;
    t.after = None;
    t.role_after = Role::Stopped;
    true
}

/// Make a primitive that stays where it runs restart there (stop and start again).
fn force_restart(ws: &WorkingSet, todo: &mut Todos, x: usize) -> bool {
    let r = &ws.rscs[x];
    if !r.managed {
        return false;
    }
    let t = &mut todo[x];
    let Some(n) = t.after else {
        return false;
    };
    if t.start.is_some() || t.migrate.is_some() || !r.running_on.contains(&n) {
        return false;
    }
    if r.role == Role::Promoted && !t.demote.contains(&n) {
        t.demote.push(n);
    }
    if !t.stop.contains(&n) {
        t.stop.push(n);
    }
    t.start = Some(n);
    if t.role_after == Role::Promoted {
        t.promote = Some(n);
    }
    true
}

/// The then-side action `ta` of `x` cannot run.
fn block(
    ws: &WorkingSet,
    todo: &mut Todos,
    x: usize,
    ta: &str,
    why: &str,
    symmetrical: bool,
) -> bool {
    block_todo(&ws.rscs[x], &mut todo[x], ta, why, symmetrical)
}

/// [`block`] on the resource's own to-do.
fn block_todo(r: &crate::ws::Rsc, t: &mut Todo, ta: &str, why: &str, symmetrical: bool) -> bool {
    if !r.managed {
        return false;
    }
    match ta {
        "start" => {
            let Some(n) = t.after else { return false };
            if let Some(s) = t.start.take() {
                // A resource active elsewhere just stops; only one that runs nowhere shows
                // the start it cannot make.
                if r.running_on.is_empty() {
                    t.blocked_start = Some((s, why.to_owned()));
                }
            } else if let Some((from, _)) = t.migrate.take() {
                t.stop.push(from);
            } else if symmetrical && r.running_on.contains(&n) {
                // Running where it stays: with a symmetrical order it stops too.
                if r.role == Role::Promoted && !t.demote.contains(&n) {
                    t.demote.push(n);
                }
                if !t.stop.contains(&n) {
                    t.stop.push(n);
                }
            } else {
                // An asymmetrical order only guards starting it.
                return false;
            }
            t.promote = None;
            t.after = None;
            t.role_after = Role::Stopped;
            true
        }
        "promote" => {
            if let Some(p) = t.promote.take() {
                t.blocked_promote = Some((p, why.to_owned()));
                t.role_after = Role::Unpromoted;
                return true;
            }
            false
        }
        _ => false,
    }
}
