//! Placement: every resource to a node (or none), as Pacemaker 2.1 assigns them.
//!
//! Resources are assigned in priority order (stable, CIB order otherwise). A resource first
//! assigns the resources it is colocated with ("this with"), applies those colocations to its
//! node weights, then folds in the attenuated preferences of resources colocated with it
//! ("with this"), and finally picks the best node. Ties between equal weights are broken as
//! Pacemaker breaks them: fewer resources assigned in this run, then the node the resource is
//! active on, then the lowest node name (byte order).
use std::cmp::Ordering;

use cib::Role;
use cib::model::PlacementStrategy;

use crate::ws::{
    AssignLog, INF, Kind, Listed, NodeSet, Reads, Retake, Sorted, Weight, Why, WorkingSet, add,
};

mod reassign;
pub(crate) use reassign::{reassign, rebuild};

/// `i`'s scores before a change, when `--explain` will want to know how they changed
/// ([`record`]).
fn before(ws: &WorkingSet, i: usize) -> Option<Vec<Weight>> {
    ws.explain.then(|| ws.rscs[i].allowed.clone())
}

/// Record, for `--explain`, how `i`'s scores changed from `before` ([`before`]) and why.
fn record(
    ws: &mut WorkingSet,
    i: usize,
    before: Option<Vec<Weight>>,
    reason: impl FnOnce(&WorkingSet) -> String,
) {
    let Some(before) = before else {
        return;
    };
    let reason = reason(ws);
    for n in 0..before.len() {
        let (b, a) = (before[n].unwrap_or(0), ws.rscs[i].allowed[n].unwrap_or(0));
        if b == a {
            continue;
        }
        let delta = if a.abs() >= INF || b.abs() >= INF {
            a
        } else {
            a - b
        };
        ws.trace.push(Why {
            rsc: i,
            node: n,
            delta,
            reason: reason.to_owned(),
        });
    }
}

/// Marks a node unusable while merging colocated preferences (Pacemaker's INFINITY_HACK).
const UNUSABLE: i32 = INF * -100;

type Table = Vec<Weight>;

pub(crate) fn assign_all(ws: &mut WorkingSet) {
    // Fencing enabled but no device: nothing can be recovered safely, so nothing is managed.
    if ws.fencing_enabled && !ws.have_fencing_device {
        for r in &mut ws.rscs {
            r.managed = false;
        }
        ws.notes.push(
            "fencing is enabled but no fencing device is configured: resources are left as they are"
                .into(),
        );
    }
    if let Some(log) = &mut ws.log {
        log.initial = ws.nodes.iter().map(|n| n.cap.clone()).collect();
    }
    for i in 0..ws.rscs.len() {
        if ws.rscs[i].target_role == Some(Role::Stopped) {
            ws.rscs[i].next_role = Some(Role::Stopped);
        }
    }
    // (target-role is inherited through the meta-attribute chain: a child's own wins.)
    expand_group_colocations(ws);
    if ws.placement_strategy != PlacementStrategy::Default {
        sort_resources(ws);
    }
    for k in 0..ws.top.len() {
        if let Some(log) = &mut ws.log {
            log.turns.push(log.events.len() as u32);
        }
        let i = ws.top[k];
        assign(ws, i, None);
        if let Some(log) = &mut ws.log {
            let sorts = std::mem::take(&mut log.pending);
            log.sorts.push(sorts);
        }
    }
    release_score_tables(ws);
}

/// Free the score tables once every resource is placed: the plan reads only the clones'
/// (for notifications), and every one for `--explain`'s score rows. At cloud scale they
/// are a tenth of the scheduler's memory.
fn release_score_tables(ws: &mut WorkingSet) {
    // (A placement kept for placing again keeps them: placing a resource again reads the
    // scores of those it is colocated with, as they were when it was placed.)
    if ws.explain || ws.log.is_some() {
        return;
    }
    for r in ws.rscs.iter_mut().filter(|r| r.kind != Kind::Clone) {
        r.allowed = Vec::new();
    }
}

/// A top-level resource's key in [`sort_resources`]: (resource, priority, score where it
/// runs now, scores node by node).
type SortKey = (usize, i32, i32, Vec<i32>);

/// With a placement strategy, resources are placed in a richer order (Pacemaker's
/// `pcmk__sort_resources`): priority, then the (colocation-merged) score on the node where
/// the resource runs now, then the scores node by node in node order.
fn sort_resources(ws: &mut WorkingSet) {
    let node_order = key_node_order(ws);
    let tops = ws.top.clone();
    let mut keyed: Vec<SortKey> = tops.iter().map(|&r| sort_key(ws, r, &node_order)).collect();
    if let Some(log) = &mut ws.log {
        log.keys = keyed.clone();
    }
    keyed.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then(b.2.cmp(&a.2))
            .then_with(|| b.3.cmp(&a.3))
    });
    ws.top = keyed.into_iter().map(|k| k.0).collect();
}

/// The node order [`sort_key`] reads scores in (before anything is placed).
fn key_node_order(ws: &WorkingSet) -> Vec<usize> {
    let zero: Table = vec![Weight::some(0); ws.nodes.len()];
    // Pacemaker sorts its node list (by name) here, not a node table.
    sort_nodes(ws, Listed::All(&ws.name_order), &zero, None)
}

fn sort_key(ws: &mut WorkingSet, r: usize, node_order: &[usize]) -> SortKey {
    let member = if ws.rscs[r].kind == Kind::Group {
        *ws.rscs[r].children.last().unwrap_or(&r)
    } else {
        r
    };
    let mut work = ws.rscs[member].allowed.clone();
    if any_available(ws, &work) {
        let cis = ws.rscs[member].this_with.clone();
        merge_primaries(ws, &cis, &mut work, true, true);
    }
    let weight = |x: Option<usize>| x.and_then(|x| work[x].get()).unwrap_or(-INF);
    let current = ws
        .primitives_of(r)
        .iter()
        .find_map(|&p| ws.rscs[p].running_on.first().copied());
    let by_node: Vec<i32> = node_order.iter().map(|&x| weight(Some(x))).collect();
    (r, ws.rscs[r].priority, weight(current), by_node)
}

/// Whether node `n` has `need` free (dense, as [`Reads::Nodes`]; a capacity the node does
/// not declare counts as 0).
#[inline(always)]
fn fits(ws: &WorkingSet, n: usize, need: &[(Option<usize>, i64)]) -> bool {
    need.iter()
        .all(|&(ix, v)| ix.map_or(0, |ix| ws.nodes[n].cap[ix]) >= v)
}

/// "Group with R" acts as "first member with R"; "R with group" as "R with last member".
fn expand_group_colocations(ws: &mut WorkingSet) {
    for g in 0..ws.rscs.len() {
        if ws.rscs[g].kind != Kind::Group || ws.rscs[g].children.is_empty() {
            continue;
        }
        let first = ws.rscs[g].children[0];
        let last = *ws.rscs[g].children.last().unwrap_or(&first);
        for ci in std::mem::take(&mut ws.rscs[g].this_with) {
            ws.colocs[ci].dependent = first;
            ws.rscs[first].this_with.push(ci);
        }
        for ci in std::mem::take(&mut ws.rscs[g].with_this) {
            ws.colocs[ci].primary = last;
            ws.rscs[last].with_this.push(ci);
        }
    }
}

pub(crate) fn assign(ws: &mut WorkingSet, i: usize, prefer: Option<usize>) -> Option<usize> {
    match ws.rscs[i].kind {
        Kind::Primitive => assign_primitive(ws, i, prefer),
        Kind::Group => assign_group(ws, i, prefer),
        Kind::Clone => {
            assign_clone(ws, i);
            None
        }
    }
}

fn any_available(ws: &WorkingSet, t: &Table) -> bool {
    (0..t.len()).any(|n| usable_in(ws, t, n))
}

/// Nodes of `t` sorted best first (Pacemaker's `compare_nodes`).
fn sorted_nodes(ws: &WorkingSet, t: &Table, active: Option<usize>) -> Vec<usize> {
    sort_nodes(ws, table_nodes(ws, t), t, active)
}

/// The first of [`sorted_nodes`], without sorting the rest: what the merge sort puts first
/// is the winner of the same tournament of halves ([`merge_sort_first`]).
fn best_of_nodes(ws: &WorkingSet, t: &Table, active: Option<usize>) -> Option<usize> {
    let nodes = table_nodes(ws, t);
    let cmp = node_cmp(ws, t, active);
    merge_sort_first(&nodes, cmp)
}

/// The nodes of `t`, in the order the sort starts from.
fn table_nodes<'a>(ws: &'a WorkingSet, t: &Table) -> Listed<'a> {
    // Only the balanced comparison is intransitive, so only there does the starting order
    // (the node table's, as Pacemaker lists it) change the result.
    if ws.placement_strategy == PlacementStrategy::Balanced {
        ws.listed_order(t)
    } else {
        Listed::Owned((0..t.len()).filter(|&n| t[n].is_some()).collect())
    }
}

/// `nodes` (all in `t`) sorted best first (Pacemaker's `compare_nodes`, with GLib's merge
/// sort from the order given).
fn sort_nodes(ws: &WorkingSet, nodes: Listed<'_>, t: &Table, active: Option<usize>) -> Vec<usize> {
    let mut nodes = nodes.into_owned();
    merge_sort_by(&mut nodes, node_cmp(ws, t, active));
    nodes
}

/// Pacemaker's `compare_nodes` for the nodes of `t`: `Less` when the first is better.
fn node_cmp<'a>(
    ws: &'a WorkingSet,
    t: &Table,
    active: Option<usize>,
) -> impl FnMut(&usize, &usize) -> Ordering + 'a {
    let balanced = ws.placement_strategy == PlacementStrategy::Balanced;
    let eff: Vec<i32> = (0..t.len())
        .map(|n| {
            if ws.nodes[n].available() {
                t[n].unwrap_or(-INF)
            } else {
                -INF
            }
        })
        .collect();
    let minimal = ws.placement_strategy == PlacementStrategy::Minimal;
    move |&a: &usize, &b: &usize| {
        eff[b]
            .cmp(&eff[a])
            .then_with(|| {
                if minimal {
                    return std::cmp::Ordering::Equal;
                }
                let bal = if balanced {
                    compare_capacities(ws, a, b)
                } else {
                    std::cmp::Ordering::Equal
                };
                bal.then(ws.nodes[a].num_resources.cmp(&ws.nodes[b].num_resources))
                    .then_with(|| match active {
                        Some(x) if x == a => std::cmp::Ordering::Less,
                        Some(x) if x == b => std::cmp::Ordering::Greater,
                        _ => std::cmp::Ordering::Equal,
                    })
            })
            .then_with(|| ws.byte_rank[a].cmp(&ws.byte_rank[b]))
    }
}

/// What [`merge_sort_by`] would put first, in n - 1 comparisons: a merge emits first the
/// left half's first unless the right half's first compares less, so the first of the
/// whole is the winner of the halves' firsts, recursively (exact for an intransitive
/// comparison too).
fn merge_sort_first<T: Copy>(v: &[T], mut cmp: impl FnMut(&T, &T) -> Ordering) -> Option<T> {
    fn first<T: Copy, F: FnMut(&T, &T) -> Ordering>(v: &[T], cmp: &mut F) -> T {
        if v.len() == 1 {
            return v[0];
        }
        let mid = v.len() / 2;
        let (l, r) = (first(&v[..mid], cmp), first(&v[mid..], cmp));
        if cmp(&l, &r) != Ordering::Greater {
            l
        } else {
            r
        }
    }
    (!v.is_empty()).then(|| first(v, &mut cmp))
}

/// A stable merge sort that, like GLib's `g_list_sort` (which Pacemaker uses), gives a
/// deterministic answer even when the comparison is not a total order (capacity voting over
/// several attributes can be intransitive). As GLib splits, the second half takes the extra
/// element; ties keep the left one first.
fn merge_sort_by<T: Copy>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> std::cmp::Ordering) {
    fn sort<T: Copy, F: FnMut(&T, &T) -> std::cmp::Ordering>(
        v: &mut [T],
        tmp: &mut Vec<T>,
        cmp: &mut F,
    ) {
        if v.len() <= 1 {
            return;
        }
        let mid = v.len() / 2;
        sort(&mut v[..mid], tmp, cmp);
        sort(&mut v[mid..], tmp, cmp);
        tmp.clear();
        let (mut i, mut j) = (0, mid);
        while i < mid && j < v.len() {
            if cmp(&v[i], &v[j]) != std::cmp::Ordering::Greater {
                tmp.push(v[i]);
                i += 1;
            } else {
                tmp.push(v[j]);
                j += 1;
            }
        }
        tmp.extend_from_slice(&v[i..mid]);
        tmp.extend_from_slice(&v[j..]);
        v.copy_from_slice(tmp);
    }
    let mut tmp = Vec::with_capacity(v.len());
    sort(v, &mut tmp, &mut cmp);
}

/// Which node has more capacity left: the one ahead on more utilization attributes
/// (Pacemaker's `pcmk__compare_node_capacities`).
fn compare_capacities(ws: &WorkingSet, a: usize, b: usize) -> std::cmp::Ordering {
    // Both nodes' capacities over the same sorted names (a missing one is 0).
    let (fa, fb) = (&ws.nodes[a].cap, &ws.nodes[b].cap);
    let mut result = 0i32;
    for (x, y) in fa.iter().zip(fb) {
        result += i32::from(x < y) - i32::from(x > y);
    }
    result.cmp(&0)
}

/// Change node `n`'s free capacity by `sign` times resource `r`'s utilization, for the
/// names the node declares (Pacemaker ignores the others).
fn consume_capacity(ws: &mut WorkingSet, r: usize, n: usize, sign: i64) {
    let WorkingSet { rscs, nodes, .. } = ws;
    let node = &mut nodes[n];
    for &(ix, v) in &rscs[r].utilization {
        let ix = ix as usize;
        if node.declared.get(ix) == Some(&true) {
            node.cap[ix] -= sign * v;
        }
    }
}

fn assign_primitive(ws: &mut WorkingSet, i: usize, prefer: Option<usize>) -> Option<usize> {
    if let Some(p) = ws.rscs[i].parent {
        if !ws.rscs[p].allocating && ws.rscs[p].provisional {
            assign(ws, p, prefer);
        }
    }
    if !ws.rscs[i].provisional {
        return ws.rscs[i].assigned;
    }
    if ws.rscs[i].allocating {
        return None;
    }
    ws.rscs[i].allocating = true;

    let mut this_with = ws.rscs[i].this_with.clone();
    this_with.sort_by(|&a, &b| cmp_coloc_priority(ws, ws.colocs[a].primary, ws.colocs[b].primary));
    for ci in this_with {
        apply_this_with(ws, i, ci);
    }
    let mut with_this = ws.rscs[i].with_this.clone();
    with_this
        .sort_by(|&a, &b| cmp_coloc_priority(ws, ws.colocs[a].dependent, ws.colocs[b].dependent));
    for ci in with_this {
        let c = &ws.colocs[ci];
        if !c.influence {
            continue;
        }
        let (dep, attr, factor) = (
            c.dependent,
            c.node_attr.clone(),
            c.score as f32 / INF as f32,
        );
        let before = before(ws, i);
        let mut table = ws.rscs[i].allowed.clone();
        add_colocated_scores(ws, dep, &mut table, &attr, factor, false, false, true);
        ws.rscs[i].allowed = table;
        record(ws, i, before, |ws| {
            format!(
                "preferences of {}, which is colocated with it ({})",
                ws.rscs[dep].id, ws.colocs[ci].id
            )
        });
    }

    if ws.rscs[i].next_role == Some(Role::Stopped) {
        let before = before(ws, i);
        for w in ws.rscs[i].allowed.iter_mut().filter_map(Weight::as_mut) {
            *w = -INF;
        }
        record(ws, i, before, |_| {
            "target-role=Stopped (or on-fail=stop)".into()
        });
    }
    if !ws.rscs[i].managed {
        let cur = ws.rscs[i].running_on.first().copied();
        let role = ws.rscs[i].role;
        ws.rscs[i].next_role = Some(role);
        finalize(ws, i, cur, Reads::Nothing);
    } else if ws.stop_all {
        finalize(ws, i, None, Reads::Nothing);
    } else {
        let capacity = ban_insufficient_capacity(ws, i);
        let (chosen, fast) = best_node(ws, i, prefer.or(capacity.most_free));
        let reads = match ws.log.is_some() {
            true => reads_of(ws, i, capacity, prefer, chosen, fast),
            false => Reads::Nothing,
        };
        finalize(ws, i, chosen, reads);
    }
    ws.rscs[i].allocating = false;
    ws.rscs[i].assigned
}

/// Capacity (Pacemaker's `pcmk__ban_insufficient_capacity`): under a placement strategy,
/// the resource and everything that must run with it (mandatory colocations, group
/// members) and is not placed yet must fit on the node. When some node can take them all,
/// the nodes that cannot are banned; when none can, only the nodes too small for the
/// resource alone are, and the node with the most free capacity is returned as the
/// preferred one.
fn ban_insufficient_capacity(ws: &mut WorkingSet, i: usize) -> Capacity {
    if ws.placement_strategy == PlacementStrategy::Default {
        return Capacity::default();
    }
    let mut group = Vec::new();
    colocated_resources(ws, i, i, &mut group);
    if !group.contains(&i) {
        group.push(i);
    }
    let mut needed: Vec<(u32, i64)> = Vec::new();
    for &r in &group {
        add_unplaced_utilization(ws, r, &group, &mut needed);
    }
    needed.sort_unstable();
    // A capacity the node does not declare counts as 0.
    let free =
        |ws: &WorkingSet, n: usize, ix: u32| ws.cap_index(ix).map_or(0, |c| ws.nodes[n].cap[c]);
    let needed_dense = dense(ws, &needed);
    // (What it needs alone is asked for only when nothing fits, or to be logged.)
    let own_dense = ws.log.is_some().then(|| own_need(ws, i));
    let (any_fits, most_free, bans) = capacity_bans(
        ws,
        i,
        &ws.rscs[i].allowed,
        &needed_dense,
        own_dense.as_deref(),
    );
    // What the message names besides the resource: what must run with it, not placed yet
    // (only `--explain` shows it).
    let with: Vec<&str> = group
        .iter()
        .filter(|&&r| ws.explain && r != i)
        .filter(|&&r| ws.rscs[r].provisional && ws.rscs[r].kind == Kind::Primitive)
        .map(|&r| ws.rscs[r].id.as_str())
        .collect();
    let (need, what) = if any_fits {
        let what = if with.is_empty() {
            String::new()
        } else {
            format!(" for it with {}", with.join(", "))
        };
        (needed, what)
    } else {
        (ws.rscs[i].utilization.to_vec(), String::new())
    };
    // (Their scores before are for the log.)
    let logged = ws.log.is_some();
    let mut banned = Vec::with_capacity(if logged { bans.len() } else { 0 });
    for n in bans {
        if let Some(w) = ws.rscs[i].allowed[n].as_mut() {
            if logged {
                banned.push((n, *w));
            }
            *w = -INF;
        }
        if ws.explain {
            let mut named: Vec<(&str, i64, i64)> = need
                .iter()
                .map(|&(k, v)| (ws.util_name(k), v, free(ws, n, k)))
                .collect();
            named.sort_unstable();
            let detail: Vec<String> = named
                .iter()
                .map(|(k, v, free)| format!("{k} {v} needed, {free} free"))
                .collect();
            ws.push_why(i, n, -INF, || {
                format!("not enough capacity{what} ({})", detail.join(", "))
            });
        }
    }
    Capacity {
        most_free,
        any_fits,
        needed: needed_dense,
        own: own_dense.unwrap_or_default(),
        banned,
    }
}

/// The capacity test of [`ban_insufficient_capacity`] for primitive `i` of scores
/// `table`, with what it and what must run with it need (`needed`) and what it needs
/// alone (`own`, [`own_need`] when not given), dense: whether some usable node has
/// `needed` free; when none has, the usable node with the most capacity free; and the
/// usable nodes to ban, without what applies (`needed` when some node has it, else
/// `own`), in the order they are walked.
#[inline]
fn capacity_bans(
    ws: &WorkingSet,
    i: usize,
    table: &Table,
    needed: &[(Option<usize>, i64)],
    own: Option<&[(Option<usize>, i64)]>,
) -> (bool, Option<usize>, Vec<usize>) {
    // The usable nodes of the allowed-node table, in the order Pacemaker walks it (its
    // buckets: the listed order reversed).
    let listed = ws.listed_order(table);
    let mut usable = Vec::with_capacity(listed.len());
    usable.extend(listed.iter().rev().filter(|&&n| usable_in(ws, table, n)));
    let any_fits = usable.iter().any(|&n| fits(ws, n, needed));
    // The node with the most free capacity matters only when none fits.
    let mut most_free: Option<usize> = None;
    if !any_fits {
        for &n in &usable {
            if most_free.is_none_or(|m| compare_capacities(ws, n, m) == Ordering::Less) {
                most_free = Some(n);
            }
        }
    }
    let alone;
    let need = match (any_fits, own) {
        (true, _) => needed,
        (false, Some(own)) => own,
        (false, None) => {
            alone = own_need(ws, i);
            &alone
        }
    };
    // (Where nothing fits what the resource needs alone either, every usable node is
    // banned.)
    let bans = match !any_fits && need == needed {
        true => usable,
        false => usable.into_iter().filter(|&n| !fits(ws, n, need)).collect(),
    };
    (any_fits, most_free, bans)
}

/// Whether node `n` is available and in table `t` with a score of 0 or more.
#[inline(always)]
fn usable_in(ws: &WorkingSet, t: &Table, n: usize) -> bool {
    ws.nodes[n].available() && t[n].is_some_and(|w| w >= 0)
}

/// Needs by utilization name, over the dense capacities: each name's index in
/// [`Node::cap`](crate::ws::Node::cap) (none when no node declares it: 0 everywhere) and
/// the amount.
fn dense(ws: &WorkingSet, need: &[(u32, i64)]) -> Vec<(Option<usize>, i64)> {
    need.iter().map(|&(k, v)| (ws.cap_index(k), v)).collect()
}

/// What primitive `i` needs alone (dense, as [`Capacity::own`]).
fn own_need(ws: &WorkingSet, i: usize) -> Vec<(Option<usize>, i64)> {
    dense(ws, &ws.rscs[i].utilization)
}

/// What [`ban_insufficient_capacity`] found.
#[derive(Debug)]
struct Capacity {
    /// The node with the most free capacity, when none fits.
    most_free: Option<usize>,
    /// Whether some usable node could take the resource and what must run with it.
    any_fits: bool,
    /// What the resource and what must run with it need, and what it needs alone
    /// (dense: by index in the capacities, none when no node declares it).
    needed: Vec<(Option<usize>, i64)>,
    own: Vec<(Option<usize>, i64)>,
    /// The nodes banned, with their scores before.
    banned: Vec<(usize, i32)>,
}

impl Default for Capacity {
    /// No placement strategy: nothing to fit, nothing banned.
    fn default() -> Capacity {
        Capacity {
            most_free: None,
            any_fits: true,
            needed: Vec::new(),
            own: Vec::new(),
            banned: Vec::new(),
        }
    }
}

/// What primitive `i`'s placement on `chosen` read of the nodes' state, after
/// [`ban_insufficient_capacity`] found `capacity` and [`best_node`] chose (`fast`:
/// without comparing nodes; `prefer`: the node preferred by the caller).
/// Its scores decide, but for ties between nodes of the best score, which counts and
/// capacities break (none under the `minimal` strategy), and for bans: a banned node at
/// least as good as the best would change the choice if it fit, and so would a node of the
/// best score that no longer fits. Where nothing fits, any usable node's state matters.
fn reads_of(
    ws: &WorkingSet,
    i: usize,
    capacity: Capacity,
    prefer: Option<usize>,
    chosen: Option<usize>,
    fast: bool,
) -> Reads {
    let r = &ws.rscs[i];
    let strategy = ws.placement_strategy;
    let w = |n: usize| r.allowed[n].unwrap_or(-INF);
    let usable = |n: usize| usable_in(ws, &r.allowed, n);
    let watch = if !capacity.any_fits {
        // The usable nodes before the bans: those still usable and those banned.
        let banned = capacity.banned.iter().map(|b| b.0);
        NodeSet::of((0..r.allowed.len()).filter(|&n| usable(n)).chain(banned))
    } else {
        // The best score (where the resource goes), or 0 when it goes nowhere: any
        // usable node would take it.
        let top = chosen.map_or(0, w);
        let mut tied: Vec<usize> = match chosen {
            Some(x) if fast => vec![x],
            Some(x) => tied_with(ws, &r.allowed, x),
            None => Vec::new(),
        };
        if strategy == PlacementStrategy::Default && (fast || tied.len() < 2) {
            // Nothing fits or not, and no comparison decided.
            tied.clear();
        }
        let better = capacity.banned.iter().filter(|&&(_, was)| was >= top);
        tied.extend(better.map(|&(n, _)| n));
        NodeSet::of(tied)
    };
    if watch == NodeSet::default() {
        return Reads::Nothing;
    }
    let nowhere = !capacity.any_fits && chosen.is_none();
    // An instance's scores may change after (a later pass resets them): they are kept here,
    // as the bans left them. Anything else's stay so in the working set.
    let scores = (!nowhere && ws.clone_of(i).is_some()).then(|| r.allowed.clone());
    Reads::Nodes {
        watch,
        again: Box::new(Retake {
            // (Going nowhere is checked without them.)
            scores,
            banned: match nowhere {
                true => Box::default(),
                false => capacity
                    .banned
                    .iter()
                    .map(|&(n, w)| (n as u32, w))
                    .collect(),
            },
            current: r.running_on.first().copied(),
            unique: ws.clone_of(i).is_some_and(|c| ws.rscs[c].unique),
            prefer,
            nowhere,
            needed: capacity.needed.into(),
            own: capacity.own.into(),
        }),
    }
}

/// The nodes of `table` whose score, as the nodes' comparison sees it (an unavailable
/// node's is -INFINITY), is node `n`'s.
fn tied_with(ws: &WorkingSet, table: &Table, n: usize) -> Vec<usize> {
    let eff = |m: usize| match ws.nodes[m].available() {
        true => table[m].unwrap_or(-INF),
        false => -INF,
    };
    (0..table.len())
        .filter(|&m| table[m].is_some() && eff(m) == eff(n))
        .collect()
}

/// Log that a sort of `dep`'s nodes found node `n` first of those with an instance of
/// `clone`: which of the nodes of its score comes first reads their counts and
/// capacities, so the rest of this turn depends on their state ([`Sorted`]).
fn note_sort(ws: &mut WorkingSet, dep: usize, clone: usize, n: usize) {
    let Some(log) = ws.log.as_ref() else {
        return;
    };
    let table = &ws.rscs[dep].allowed;
    let tied = tied_with(ws, table, n);
    let instances = &ws.rscs[clone].children;
    let has = |m: usize| instances.iter().any(|&k| instance_node(ws, k) == Some(m));
    if tied.len() < 2 || ws.placement_strategy == PlacementStrategy::Minimal {
        return;
    }
    let sorted = Sorted {
        table: table.clone(),
        with: tied
            .iter()
            .filter(|&&m| has(m))
            .map(|&m| m as u32)
            .collect(),
        tied: NodeSet::of(tied),
        found: n as u32,
    };
    let at = log.events.len() - log.turns.last().map_or(0, |&t| t as usize);
    if let Some(log) = &mut ws.log {
        log.pending.push((at as u32, sorted));
    }
}

/// What must run where `rsc` runs (Pacemaker's `colocated_resources`): itself, and through
/// mandatory colocations that decide location, in both directions, the resources colocated
/// with it; a group brings its members.
fn colocated_resources(ws: &WorkingSet, rsc: usize, orig: usize, list: &mut Vec<usize>) {
    if list.contains(&rsc) {
        return;
    }
    if ws.rscs[rsc].kind == Kind::Group {
        for &m in &ws.rscs[rsc].children {
            colocated_resources(ws, m, orig, list);
        }
        if list.contains(&rsc) {
            return;
        }
    }
    list.push(rsc);
    for &ci in &ws.rscs[rsc].this_with {
        let c = &ws.colocs[ci];
        if c.primary != orig && c.score >= INF && coloc_decides_location(ws, ci) {
            colocated_resources(ws, c.primary, orig, list);
        }
    }
    for &ci in &ws.rscs[rsc].with_this {
        let c = &ws.colocs[ci];
        if c.dependent == orig {
            continue;
        }
        if ws.rscs[rsc].kind == Kind::Clone && ws.rscs[c.dependent].kind != Kind::Clone {
            continue; // which instance it follows is not known yet
        }
        if c.score >= INF && coloc_decides_location(ws, ci) {
            colocated_resources(ws, c.dependent, orig, list);
        }
    }
}

/// Whether a colocation, looked at before placement, is about location rather than role
/// (Pacemaker's `pcmk__colocation_affects` in preview).
fn coloc_decides_location(ws: &WorkingSet, ci: usize) -> bool {
    let c = &ws.colocs[ci];
    let (dep, prim) = (&ws.rscs[c.dependent], &ws.rscs[c.primary]);
    let promotable_parent = dep.parent.is_some_and(|p| ws.rscs[p].promotable);
    if matches!(c.dependent_role, Some(Role::Unpromoted | Role::Promoted))
        && promotable_parent
        && !dep.provisional
    {
        return false;
    }
    if c.score > 0 {
        if c.dependent_role.is_some_and(|r| Some(r) != dep.next_role) {
            return false;
        }
        if c.primary_role.is_some_and(|r| Some(r) != prim.next_role) {
            return false;
        }
    } else if c.score < 0
        && (c.dependent_role.is_some_and(|r| Some(r) == dep.next_role)
            || c.primary_role.is_some_and(|r| Some(r) == prim.next_role))
    {
        return false;
    }
    true
}

/// Adds what `r` will need once placed, if it is not placed yet (Pacemaker's
/// `add_utilization`): a group all its members not listed themselves, a clone one instance.
fn add_unplaced_utilization(
    ws: &WorkingSet,
    r: usize,
    listed: &[usize],
    sum: &mut Vec<(u32, i64)>,
) {
    let rsc = &ws.rscs[r];
    if !rsc.provisional {
        return;
    }
    match rsc.kind {
        Kind::Primitive => {
            for &(k, v) in &rsc.utilization {
                match sum.iter_mut().find(|(n, _)| *n == k) {
                    Some((_, total)) => *total += v,
                    None => sum.push((k, v)),
                }
            }
        }
        Kind::Group => {
            for &m in &rsc.children {
                if ws.rscs[m].provisional && !listed.contains(&m) {
                    add_unplaced_utilization(ws, m, listed, sum);
                }
            }
        }
        Kind::Clone => {
            let mut found = false;
            for &k in &rsc.children {
                if listed.contains(&k) {
                    found = true;
                } else if ws.rscs[k].children.iter().any(|m| listed.contains(m)) {
                    add_unplaced_utilization(ws, k, listed, sum);
                    found = true;
                }
            }
            if !found {
                if let Some(&k) = rsc.children.first() {
                    add_unplaced_utilization(ws, k, listed, sum);
                }
            }
        }
    }
}

fn cmp_coloc_priority(ws: &WorkingSet, a: usize, b: usize) -> std::cmp::Ordering {
    let (ra, rb) = (&ws.rscs[a], &ws.rscs[b]);
    let variant = |k: Kind| match k {
        Kind::Primitive => 0,
        Kind::Group => 1,
        Kind::Clone => 2,
    };
    rb.priority
        .cmp(&ra.priority)
        .then(variant(rb.kind).cmp(&variant(ra.kind)))
        .then(rb.promotable.cmp(&ra.promotable))
        .then(ra.id.as_bytes().cmp(rb.id.as_bytes()))
}

/// Where primitive `i` goes, and whether that was found without comparing nodes.
fn best_node(ws: &WorkingSet, i: usize, prefer: Option<usize>) -> (Option<usize>, bool) {
    let r = &ws.rscs[i];
    let unique = ws.clone_of(i).is_some_and(|c| ws.rscs[c].unique);
    best_in(
        ws,
        &r.allowed,
        r.running_on.first().copied(),
        unique,
        prefer,
    )
}

/// [`best_node`] for a resource of scores `allowed`, active on `current` (`unique`: an
/// instance of a unique clone).
#[inline]
fn best_in(
    ws: &WorkingSet,
    allowed: &Table,
    current: Option<usize>,
    unique: bool,
    prefer: Option<usize>,
) -> (Option<usize>, bool) {
    let w = |n: usize| allowed[n].unwrap_or(-INF);
    let usable = |n: usize| usable_in(ws, allowed, n);
    // The best node's score is the highest score of an available node in the table (the
    // sort's first key: the winner of its comparisons has it).
    let top = (allowed.iter().zip(&ws.nodes))
        .filter_map(|(w, node)| w.get().filter(|_| node.available()))
        .max();
    // Below 0 (or no node): no node is usable, and it goes nowhere whichever node the
    // comparisons would put first.
    let Some(top) = top.filter(|&t| t >= 0) else {
        return (None, false);
    };
    // When the answer does not depend on which node has the best score (the preferred
    // node or the current one has it too), the comparisons are not needed.
    if let Some(p) = prefer {
        if allowed[p].is_some() && w(p) >= top && usable(p) {
            return (Some(p), true);
        }
    }
    if let Some(cur) = current {
        if !unique && top > 0 && usable(cur) && w(cur) == top {
            return (Some(cur), true);
        }
    }
    let Some(best) = best_of_nodes(ws, allowed, current) else {
        return (None, true);
    };
    if let Some(p) = prefer {
        if allowed[p].is_some() && w(p) >= w(best) && usable(p) {
            return (Some(p), false);
        }
    }
    if !usable(best) {
        return (None, false);
    }
    let mut chosen = best;
    if !unique && w(best) > 0 {
        if let Some(cur) = current {
            if usable(cur) && w(cur) == w(best) {
                chosen = cur;
            }
        }
    }
    (Some(chosen), false)
}

/// Place primitive `i` on `node` (none: it stops), the decision having read `reads`.
fn finalize(ws: &mut WorkingSet, i: usize, node: Option<usize>, reads: Reads) {
    if let Some(log) = &mut ws.log {
        let n = node.map_or(AssignLog::NO_NODE, |n| n as u32);
        log.events.push((i as u32, n, 1));
        log.reads.push(reads);
    }
    let r = &mut ws.rscs[i];
    r.provisional = false;
    r.assigned = node;
    match node {
        Some(n) => {
            if r.next_role.is_none() {
                r.next_role = Some(Role::Started);
            }
            ws.nodes[n].num_resources += 1;
            consume_capacity(ws, i, n, 1);
        }
        None => r.next_role = Some(Role::Stopped),
    }
}

fn apply_this_with(ws: &mut WorkingSet, i: usize, ci: usize) {
    let c = &ws.colocs[ci];
    let (primary, score) = (c.primary, c.score);
    let archive = (c.dependent_role == Some(Role::Promoted) || (score < 0 && score > -INF))
        .then(|| ws.rscs[i].allowed.clone());
    assign(ws, primary, None);
    let before = before(ws, i);
    apply_coloc_score(ws, i, ci);
    if let Some(a) = archive {
        if !any_available(ws, &ws.rscs[i].allowed) {
            ws.rscs[i].allowed = a;
        }
    }
    record(ws, i, before, |ws| {
        format!(
            "colocation {} with {} (score {})",
            ws.colocs[ci].id,
            ws.rscs[primary].id,
            cib::Score::new(score as i64)
        )
    });
}

/// Node `n`'s value of attribute `attr` (`#uname`, the colocations' default, without
/// looking it up).
fn node_attr<'a>(ws: &'a WorkingSet, n: usize, attr: &str) -> Option<&'a str> {
    if attr == "#uname" {
        return Some(&ws.nodes[n].name);
    }
    ws.nodes[n].attrs.get(attr).map(String::as_str)
}

/// Apply colocation `ci` to its dependent `dep`'s weights (the primary is assigned).
fn apply_coloc_score(ws: &mut WorkingSet, dep: usize, ci: usize) {
    let prim = ws.colocs[ci].primary;
    if ws.rscs[prim].kind == Kind::Clone {
        apply_coloc_with_clone(ws, dep, ci);
        return;
    }
    apply_coloc_score_to(ws, dep, ci, prim);
}

/// [`apply_coloc_score`] with `prim` standing for the colocation's primary (itself, or the
/// instance of a primary clone an interleaved dependent instance is paired with).
fn apply_coloc_score_to(ws: &mut WorkingSet, dep: usize, ci: usize, prim: usize) {
    let c = &ws.colocs[ci];
    if ws.rscs[prim].provisional {
        return;
    }
    // Role filters: a colocation limited to a role the dependent does not (yet) have does
    // not place it (its role is chosen later, from promotion priorities).
    let dep_next = ws.rscs[dep].next_role;
    if c.score > 0 && c.dependent_role.is_some() && c.dependent_role != dep_next {
        return;
    }
    if c.score < 0 && c.dependent_role.is_some() && c.dependent_role == dep_next {
        return;
    }
    let prim_next = ws.rscs[prim].next_role;
    if c.score > 0 && c.primary_role.is_some() && c.primary_role != prim_next {
        return;
    }
    if c.score < 0 && c.primary_role.is_some() && c.primary_role == prim_next {
        return;
    }
    let (attr, score) = (c.node_attr.as_str(), c.score);
    let prim_node = ws.rscs[prim].assigned;
    let value = match prim_node {
        Some(n) => node_attr(ws, n, attr),
        None if score < 0 => return,
        None => None,
    };
    let mut work = ws.rscs[dep].allowed.clone();
    for n in 0..work.len() {
        let Some(w) = work[n].get() else { continue };
        let nw = if prim_node.is_none() {
            add(-score, w)
        } else if node_attr(ws, n, attr) == value {
            if score < INF { add(score, w) } else { w }
        } else if score >= INF {
            add(-score, w)
        } else {
            w
        };
        work[n] = Weight::some(nw);
    }
    if score <= -INF || score >= INF || any_available(ws, &work) {
        ws.rscs[dep].allowed = work;
    }
}

/// A colocation whose primary is a clone: the dependent goes where instances are.
fn apply_coloc_with_clone(ws: &mut WorkingSet, dep: usize, ci: usize) {
    let c = ws.colocs[ci].clone();
    let clone = c.primary;
    if ws.rscs[clone].provisional {
        return;
    }
    let role_specific = ws.rscs[clone].promotable && c.primary_role.is_some();
    let dep_clone = c.dependent;
    let interleave = ws.rscs[dep_clone].kind == Kind::Clone
        && ws.rscs[dep_clone].interleave
        && ws.rscs[dep_clone].clone_node_max == ws.rscs[clone].clone_node_max;
    if interleave && !role_specific {
        // Interleaved: the instance follows (or avoids) one instance of the primary, the
        // one on its own node, or while it is being placed, the one on the best node it
        // may run on that has one (Pacemaker's find_compatible_child).
        let on = |ws: &WorkingSet, n: usize| {
            ws.rscs[clone]
                .children
                .iter()
                .copied()
                .find(|&k| instance_node(ws, k) == Some(n))
        };
        let pair = match ws.rscs[dep].assigned {
            Some(n) => on(ws, n),
            None => {
                let table = &ws.rscs[dep].allowed;
                let found = sorted_nodes(ws, table, None)
                    .into_iter()
                    .find_map(|n| Some((n, on(ws, n)?)));
                if let Some((n, _)) = found {
                    note_sort(ws, dep, clone, n);
                }
                found.map(|f| f.1)
            }
        };
        match pair {
            Some(k) => apply_coloc_score_to(ws, dep, ci, k),
            None if c.score >= INF => finalize(ws, dep, None, Reads::Nothing),
            None => {}
        }
        return;
    }
    let instances = ws.rscs[clone].children.clone();
    let mut nodes: Vec<usize> = Vec::new();
    for &inst in &instances {
        let Some(n) = ws.rscs[inst].assigned else {
            continue;
        };
        if let Some(role) = c.primary_role {
            if ws.rscs[inst].next_role != Some(role) {
                continue;
            }
        }
        nodes.push(n);
    }
    let attr = &c.node_attr;
    if c.score >= INF {
        if c.dependent_role == Some(Role::Promoted) && c.primary_role == Some(Role::Promoted) {
            return;
        }
        let values: Vec<Option<&str>> = nodes.iter().map(|&n| node_attr(ws, n, attr)).collect();
        let away: Vec<bool> = (0..ws.nodes.len())
            .map(|n| !values.contains(&node_attr(ws, n, attr)))
            .collect();
        for n in (0..ws.nodes.len()).filter(|&n| away[n]) {
            if let Some(w) = ws.rscs[dep].allowed[n].get() {
                ws.rscs[dep].allowed[n] = Weight::some(add(w, -INF));
            }
        }
        return;
    }
    for &pn in &nodes {
        let v = node_attr(ws, pn, attr);
        let same: Vec<bool> = (0..ws.nodes.len())
            .map(|n| node_attr(ws, n, attr) == v)
            .collect();
        for n in (0..ws.nodes.len()).filter(|&n| same[n]) {
            if let Some(w) = ws.rscs[dep].allowed[n].get() {
                ws.rscs[dep].allowed[n] = Weight::some(add(w, c.score));
            }
        }
    }
}

/// Merges into `table` the scores of the primaries of colocations `cis` (each scaled by
/// its colocation's score; `this_with` and `active_only` as in [`add_colocated_scores`]).
fn merge_primaries(
    ws: &mut WorkingSet,
    cis: &[usize],
    table: &mut Table,
    this_with: bool,
    active_only: bool,
) {
    for &ci in cis {
        merge_side(ws, ci, table, Side::Primary, this_with, false, active_only);
    }
}

/// Which end of a colocation [`merge_side`] reads.
#[derive(Clone, Copy)]
enum Side {
    /// The primary as configured (`merge_primary`).
    Primary,
    Dependent,
}

/// Merges into `table` the scores of one end of colocation `ci`, scaled by its score.
fn merge_side(
    ws: &mut WorkingSet,
    ci: usize,
    table: &mut Table,
    side: Side,
    this_with: bool,
    nonnegative: bool,
    active_only: bool,
) {
    let c = ws.colocs[ci].clone();
    let rsc = match side {
        Side::Primary => c.merge_primary,
        Side::Dependent => c.dependent,
    };
    let factor = c.score as f32 / INF as f32;
    add_colocated_scores(
        ws,
        rsc,
        table,
        &c.node_attr,
        factor,
        this_with,
        nonnegative,
        active_only,
    );
}

/// Where a clone instance is placed (a group instance: where its first member is).
fn instance_node(ws: &WorkingSet, k: usize) -> Option<usize> {
    ws.primitives_of(k)
        .first()
        .and_then(|&p| ws.rscs[p].assigned)
}

/// Pacemaker's `pcmk__add_colocated_node_scores`: fold `rsc`'s (and, recursively, its
/// colocated resources') node preferences into `nodes`, scaled by `factor`.
#[allow(clippy::too_many_arguments)]
fn add_colocated_scores(
    ws: &mut WorkingSet,
    rsc: usize,
    nodes: &mut Table,
    attr: &str,
    factor: f32,
    this_with: bool,
    nonnegative: bool,
    active_only: bool,
) {
    if ws.rscs[rsc].merging {
        return;
    }
    ws.rscs[rsc].merging = true;
    let mut work = nodes.clone();
    let member = if ws.rscs[rsc].kind == Kind::Group {
        ws.rscs[rsc].children.first().copied()
    } else {
        None
    };
    if let Some(m) = member {
        add_colocated_scores(
            ws,
            m,
            &mut work,
            attr,
            factor,
            this_with,
            nonnegative,
            active_only,
        );
    } else {
        add_scores_matching_attr(ws, &mut work, rsc, attr, factor, nonnegative);
    }
    if any_available(ws, &work) {
        let multiplier = if factor < 0.0 { -1.0 } else { 1.0 };
        let list: Vec<usize> = if this_with {
            ws.rscs[rsc].this_with.clone()
        } else if ws.rscs[rsc].kind == Kind::Group {
            let last = *ws.rscs[rsc].children.last().unwrap_or(&rsc);
            ws.rscs[last].with_this.clone()
        } else {
            ws.rscs[rsc].with_this.clone()
        };
        for ci in list {
            let c = ws.colocs[ci].clone();
            let other = if this_with {
                c.merge_primary
            } else if !c.influence {
                continue;
            } else {
                c.dependent
            };
            let f = multiplier * c.score as f32 / INF as f32;
            add_colocated_scores(
                ws,
                other,
                &mut work,
                &c.node_attr,
                f,
                this_with,
                nonnegative,
                true,
            );
        }
    } else if active_only {
        ws.rscs[rsc].merging = false;
        return;
    }
    if nonnegative {
        for w in work.iter_mut().filter_map(Weight::as_mut) {
            if *w == UNUSABLE {
                *w = 1;
            }
        }
    }
    *nodes = work;
    ws.rscs[rsc].merging = false;
}

fn add_scores_matching_attr(
    ws: &WorkingSet,
    work: &mut Table,
    rsc: usize,
    attr: &str,
    factor: f32,
    only_positive: bool,
) {
    let r = &ws.rscs[rsc];
    // Node attribute values, read once (`#uname` is unique per node: equality is identity).
    let by_name = attr == "#uname";
    let vals: Vec<Option<&str>> = if by_name {
        Vec::new()
    } else {
        (0..ws.nodes.len())
            .map(|n| ws.nodes[n].attrs.get(attr).map(String::as_str))
            .collect()
    };
    for n in 0..work.len() {
        let Some(weight) = work[n].get() else {
            continue;
        };
        // Best score among rsc's allowed, available nodes with the same attribute value.
        let mut score = -INF;
        if by_name {
            if let Some(w) = r.allowed[n].get() {
                if ws.nodes[n].available() {
                    score = w;
                }
            }
        } else {
            for (m, w) in r.allowed.iter().enumerate() {
                let Some(w) = w.get() else { continue };
                if w > score && ws.nodes[m].available() && vals[m] == vals[n] {
                    score = w;
                }
            }
        }
        if factor < 0.0 && score < 0 {
            continue;
        }
        if weight == UNUSABLE {
            continue;
        }
        let wf = factor * score as f32;
        let mut delta = if wf < 0.0 {
            (wf - 0.5) as i32
        } else {
            (wf + 0.5) as i32
        };
        if delta == 0 && score != 0 {
            delta = if factor > 0.0 {
                1
            } else if factor < 0.0 {
                -1
            } else {
                0
            };
        }
        let new = add(delta, weight);
        if only_positive && new < 0 && weight > 0 {
            work[n] = Weight::some(UNUSABLE);
            continue;
        }
        if only_positive && new < 0 && weight == 0 {
            continue;
        }
        work[n] = Weight::some(new);
    }
}

fn assign_group(ws: &mut WorkingSet, g: usize, prefer: Option<usize>) -> Option<usize> {
    if !ws.rscs[g].provisional {
        return ws.rscs[g].assigned;
    }
    if ws.rscs[g].allocating {
        return None;
    }
    if ws.rscs[g].children.is_empty() {
        ws.rscs[g].provisional = false;
        return None;
    }
    ws.rscs[g].allocating = true;
    let members = ws.rscs[g].children.clone();
    let mut first = None;
    for (k, &m) in members.iter().enumerate() {
        let n = assign(ws, m, prefer);
        if k == 0 {
            first = n;
        }
    }
    let first_next = ws.rscs[members[0]].next_role;
    let r = &mut ws.rscs[g];
    r.next_role = first_next;
    r.assigned = first;
    r.allocating = false;
    r.provisional = false;
    first
}

fn instance_nodes_running(ws: &WorkingSet, inst: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for p in ws.primitives_of(inst) {
        for &n in &ws.rscs[p].running_on {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

fn instance_failed(ws: &WorkingSet, inst: usize) -> bool {
    ws.primitives_of(inst).iter().any(|&p| ws.rscs[p].failed)
}

fn assign_clone(ws: &mut WorkingSet, c: usize) {
    if !ws.rscs[c].provisional || ws.rscs[c].allocating {
        return;
    }
    // Each instance's priority for the assignment order: the configured one, raised to its
    // best promotion score (Pacemaker's pcmk__add_promotion_scores does the same).
    let mut priority: Vec<(usize, i32)> = ws.rscs[c]
        .children
        .iter()
        .map(|&k| (k, ws.rscs[k].priority))
        .collect();
    if ws.rscs[c].promotable {
        add_promotion_scores(ws, c, &mut priority);
    }
    ws.rscs[c].allocating = true;
    for ci in ws.rscs[c].this_with.clone() {
        let p = ws.colocs[ci].primary;
        assign(ws, p, None);
    }
    for ci in ws.rscs[c].with_this.clone() {
        let col = ws.colocs[ci].clone();
        if !col.influence {
            continue;
        }
        let mut table = ws.rscs[c].allowed.clone();
        add_colocated_scores(
            ws,
            col.dependent,
            &mut table,
            &col.node_attr,
            col.score as f32 / INF as f32,
            false,
            true,
            true,
        );
        ws.rscs[c].allowed = table;
    }

    let mut children = ws.rscs[c].children.clone();
    sort_instances(ws, c, &priority, &mut children);
    let max = ws.rscs[c].clone_max as usize;
    let per_node = ws.rscs[c].clone_node_max as usize;
    let available = (0..ws.nodes.len())
        .filter(|&n| ws.nodes[n].available())
        .count();
    let all_coloc = max < available;
    let loop_max = max.checked_div(available).unwrap_or(1).max(1);
    let mut count = vec![0usize; ws.nodes.len()];
    let mut allocated = 0usize;

    for &k in &children {
        if allocated >= max {
            break;
        }
        let running = instance_nodes_running(ws, k);
        if running.is_empty() || !ws.rscs[k].provisional || instance_failed(ws, k) {
            continue;
        }
        let node = running[0];
        let clone_w = ws.rscs[c].allowed[node];
        if !ws.nodes[node].available() || clone_w.is_none_or(|w| w < 0) {
            continue;
        }
        if count[node] >= loop_max {
            continue;
        }
        if let Some(n) = allocate_instance(ws, c, k, Some(node), per_node, all_coloc, &count) {
            count[n] += 1;
            allocated += 1;
        }
    }
    for &k in &children {
        if !ws.rscs[k].provisional {
            continue;
        }
        if allocated >= max {
            for p in ws.primitives_of(k) {
                for w in ws.rscs[p].allowed.iter_mut().filter_map(Weight::as_mut) {
                    *w = -INF;
                }
            }
            for x in std::iter::once(k).chain(ws.rscs[k].children.clone()) {
                if ws.rscs[x].provisional {
                    if ws.rscs[x].kind == Kind::Primitive {
                        // Banned everywhere above; an unmanaged one stays where it runs.
                        assign_primitive(ws, x, None);
                    } else {
                        ws.rscs[x].provisional = false;
                        ws.rscs[x].next_role = Some(Role::Stopped);
                    }
                }
            }
            continue;
        }
        if let Some(n) = allocate_instance(ws, c, k, None, per_node, all_coloc, &count) {
            count[n] += 1;
            allocated += 1;
        }
    }
    if ws.rscs[c].promotable {
        set_instance_roles(ws, c);
    }
    ws.rscs[c].allocating = false;
    ws.rscs[c].provisional = false;
}

/// What the assignment order of a clone's instances looks at, per instance.
struct InstanceFacts {
    /// Nodes where it is active (the first is its current node).
    running: Vec<usize>,
    /// Its current node, if the instance itself may run there (score >= 0).
    allowed_node: Option<usize>,
    priority: i32,
    failed: bool,
    /// Its current node's score from the clone's colocations (only when it can matter).
    colocated: i32,
}

/// Sorts a clone's instances into Pacemaker's assignment order (pcmk__cmp_instance, with
/// GLib's merge sort as Pacemaker sorts), preferring in turn: the less multiply active of
/// two active instances; one not active on a node it may no longer run on; the higher
/// priority; the active one; one whose current node can run resources; one whose clone is
/// allowed on its current node; the one not failed; the higher colocation score on its
/// current node; the lower instance number (the children's order).
fn sort_instances(
    ws: &mut WorkingSet,
    c: usize,
    priority: &[(usize, i32)],
    children: &mut [usize],
) {
    let colocated = !ws.rscs[c].this_with.is_empty() || !ws.rscs[c].with_this.is_empty();
    let mut facts: Vec<InstanceFacts> = Vec::with_capacity(children.len());
    for &k in children.iter() {
        let running = instance_nodes_running(ws, k);
        let allowed_node = running
            .first()
            .copied()
            .filter(|&n| ws.rscs[k].allowed[n].is_some_and(|w| w >= 0));
        let colocated = match running.first() {
            Some(&n) if colocated => current_node_colocation_score(ws, c, n),
            _ => 0,
        };
        facts.push(InstanceFacts {
            allowed_node,
            priority: priority.iter().find(|(x, _)| *x == k).map_or(0, |p| p.1),
            failed: instance_failed(ws, k),
            colocated,
            running,
        });
    }
    let mut order: Vec<usize> = (0..children.len()).collect();
    merge_sort_by(&mut order, |&a, &b| {
        cmp_instance(ws, c, &facts[a], &facts[b])
    });
    let sorted: Vec<usize> = order.iter().map(|&i| children[i]).collect();
    children.copy_from_slice(&sorted);
}

fn cmp_instance(ws: &WorkingSet, c: usize, a: &InstanceFacts, b: &InstanceFacts) -> Ordering {
    let (na, nb) = (a.running.len(), b.running.len());
    if na > 0 && nb > 0 && na != nb {
        return na.cmp(&nb);
    }
    // Active on a node it may no longer run on: after the others; its node counts as none.
    let can = |f: &InstanceFacts| f.running.is_empty() || f.allowed_node.is_some();
    if can(a) != can(b) {
        return can(b).cmp(&can(a));
    }
    if a.priority != b.priority {
        return b.priority.cmp(&a.priority);
    }
    let (n1, n2) = match (a.allowed_node, b.allowed_node) {
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Greater,
        (Some(_), None) => return Ordering::Less,
        (Some(x), Some(y)) => (x, y),
    };
    let (up1, up2) = (ws.nodes[n1].available(), ws.nodes[n2].available());
    if up1 != up2 {
        return up2.cmp(&up1);
    }
    let (top1, top2) = (
        ws.rscs[c].allowed[n1].is_some(),
        ws.rscs[c].allowed[n2].is_some(),
    );
    match (top1, top2) {
        (false, false) => return Ordering::Equal,
        (false, true) => return Ordering::Greater,
        (true, false) => return Ordering::Less,
        (true, true) => {}
    }
    if a.failed != b.failed {
        return a.failed.cmp(&b.failed);
    }
    b.colocated.cmp(&a.colocated)
}

/// The score a clone's colocations give one node (Pacemaker's cmp_instance_by_colocation:
/// a table holding only that node, the clone's own colocations applied to it).
fn current_node_colocation_score(ws: &mut WorkingSet, c: usize, n: usize) -> i32 {
    let mut table: Table = vec![Weight::NONE; ws.nodes.len()];
    table[n] = Weight::some(0);
    let cis = ws.rscs[c].this_with.clone();
    merge_primaries(ws, &cis, &mut table, false, false);
    for ci in ws.rscs[c].with_this.clone() {
        if ws.colocs[ci].influence {
            merge_side(ws, ci, &mut table, Side::Dependent, false, true, false);
        }
    }
    table[n].unwrap_or(0)
}

/// The clone's colocations apply to the instance (Pacemaker's append_parent_colocation):
/// its own (`this_with`, through a group instance's first member) when every node gets no
/// instance or when mandatory or negative, and its dependents' influence (`with_this`,
/// through a group's last member) when every node gets no instance or when negative. As
/// in Pacemaker, this happens each time the instance is assigned, so an instance placed in
/// the second pass (after the first pass could not keep it where it runs) has them twice.
fn append_parent_colocations(ws: &mut WorkingSet, c: usize, k: usize, all_coloc: bool) {
    let (first, last) = if ws.rscs[k].kind == Kind::Group {
        let members = &ws.rscs[k].children;
        (members.first().copied(), members.last().copied())
    } else {
        (Some(k), Some(k))
    };
    for ci in ws.rscs[c].this_with.clone() {
        let s = ws.colocs[ci].score;
        if let Some(t) = first.filter(|_| all_coloc || !(0..INF).contains(&s)) {
            ws.rscs[t].this_with.push(ci);
        }
    }
    for ci in ws.rscs[c].with_this.clone() {
        let s = ws.colocs[ci].score;
        if let Some(t) = last.filter(|_| ws.colocs[ci].influence && (all_coloc || s < 0)) {
            ws.rscs[t].with_this.push(ci);
        }
    }
}

fn allocate_instance(
    ws: &mut WorkingSet,
    c: usize,
    k: usize,
    prefer: Option<usize>,
    per_node: usize,
    all_coloc: bool,
    count: &[usize],
) -> Option<usize> {
    if !ws.rscs[k].provisional || ws.rscs[k].allocating {
        return None;
    }
    append_parent_colocations(ws, c, k, all_coloc);
    // (An instance is mostly a primitive: itself, without a vector.)
    let (one, many);
    let prims: &[usize] = match ws.rscs[k].kind {
        Kind::Primitive => {
            one = [k];
            &one
        }
        _ => {
            many = ws.primitives_of(k);
            &many
        }
    };
    if let Some(p) = prefer {
        let first = prims.first().copied().unwrap_or(k);
        if ws.rscs[first].allowed[p].is_none_or(|w| w < 0) {
            return None;
        }
    }
    // can_run_instance: nodes that are full or banned at clone level are out.
    let clone_allowed = std::mem::take(&mut ws.rscs[c].allowed);
    let WorkingSet { rscs, nodes, .. } = &mut *ws;
    for &p in prims {
        let allowed = &mut rscs[p].allowed;
        for (n, (slot, clone_w)) in allowed.iter_mut().zip(&clone_allowed).enumerate() {
            let Some(w) = slot.get() else {
                continue;
            };
            if !nodes[n].available() || clone_w.is_none() || count[n] >= per_node {
                *slot = Weight::some(-INF);
            } else if let Some(cw) = clone_w.get().filter(|&w| w < 0) {
                *slot = Weight::some(add(w, cw).min(cw));
            }
        }
    }
    ws.rscs[c].allowed = clone_allowed;
    // Kept for the first pass only, which undoes a placement elsewhere.
    let backup: Vec<(usize, Vec<Weight>)> = std::iter::once(k)
        .chain(prims.iter().copied().filter(|&p| p != k))
        .filter(|_| prefer.is_some())
        .map(|x| (x, ws.rscs[x].allowed.clone()))
        .collect();
    // Unassigned parent flag: instances are assigned as part of the clone.
    let chosen = assign(ws, k, prefer);
    if let (Some(ch), Some(p)) = (chosen, prefer) {
        if ch != p {
            // Not where it runs now: undo and let the second pass place it.
            for (x, t) in backup {
                ws.rscs[x].allowed = t;
                unassign(ws, x);
            }
            return None;
        }
    }
    chosen
}

fn unassign(ws: &mut WorkingSet, x: usize) {
    let r = &mut ws.rscs[x];
    if let Some(n) = r.assigned.take() {
        if r.kind == Kind::Primitive {
            if let Some(log) = &mut ws.log {
                log.events.push((x as u32, n as u32, -1));
                // (It follows from the decision that placed it.)
                log.reads.push(Reads::Nothing);
            }
            let node = &mut ws.nodes[n];
            node.num_resources = node.num_resources.saturating_sub(1);
            consume_capacity(ws, x, n, -1);
        }
    }
    let r = &mut ws.rscs[x];
    r.provisional = true;
    if r.target_role != Some(Role::Stopped) {
        r.next_role = None;
    }
}

fn promotion_score(ws: &WorkingSet, inst: usize, n: usize) -> Option<i32> {
    let prims = ws.primitives_of(inst);
    let anon = ws.clone_of(inst).is_some_and(|c| !ws.rscs[c].unique);
    let mut total = 0;
    let mut found = false;
    for p in prims {
        if !promotion_applies(ws, p, n) {
            continue;
        }
        let r = &ws.rscs[p];
        let attrs = &ws.nodes[n].attrs;
        let mut v = attrs.get(&format!("master-{}", r.id));
        if v.is_none() && anon {
            // Anonymous instances are known by their base id, or by whatever instance
            // number the node's history gave them (`master-rsc:N`).
            let base = format!("master-{}", r.base);
            v = attrs.get(&base).or_else(|| {
                let prefix = format!("{base}:");
                attrs
                    .iter()
                    .find(|(k, _)| {
                        k.strip_prefix(&prefix)
                            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                    })
                    .map(|(_, v)| v)
            });
        }
        if let Some(v) = v {
            found = true;
            total += crate::ws::score_of(v).map_or(0, |s| s.value());
        }
    }
    found.then_some(total)
}

/// Whether a node's promotion score speaks for primitive `p` (a clone instance or a member
/// of one) there (Pacemaker's `promotion_score_applies`): in an anonymous clone, for the
/// instance active on the node, or for any instance when none is active there but one was
/// probed there; otherwise where its own history or activity is, or anywhere while it has
/// neither. And only where it may run.
fn promotion_applies(ws: &WorkingSet, p: usize, n: usize) -> bool {
    let r = &ws.rscs[p];
    let allowed = r.allowed[n].is_some_and(|w| w >= 0);
    if let Some((active, known)) = ws.anon_presence.get(&r.base) {
        if active[n] == Some(p) {
            return allowed;
        }
        if active[n].is_none() && known[n] {
            return allowed;
        }
    }
    if r.running_on.is_empty() && r.known_on.is_empty() {
        return allowed;
    }
    (r.known_on.contains(&n) || r.running_on.contains(&n)) && allowed
}

fn add_promotion_scores(ws: &mut WorkingSet, c: usize, priority: &mut [(usize, i32)]) {
    for k in ws.rscs[c].children.clone() {
        for n in 0..ws.nodes.len() {
            if !ws.nodes[n].available() {
                continue;
            }
            let Some(score) = promotion_score(ws, k, n) else {
                continue;
            };
            if let Some(p) = priority.iter_mut().find(|(x, _)| *x == k) {
                p.1 = p.1.max(score);
            }
            if score > 0 {
                // The instance's own table; a group instance's first member's too.
                let mut targets: Vec<usize> = ws.primitives_of(k).into_iter().take(1).collect();
                if !targets.contains(&k) {
                    targets.push(k);
                }
                for p in targets {
                    if let Some(w) = ws.rscs[p].allowed[n].get() {
                        ws.rscs[p].allowed[n] = Weight::some(add(w, score));
                    }
                }
            }
        }
    }
}

fn inst_next_role(ws: &WorkingSet, k: usize) -> Option<Role> {
    let prims = ws.primitives_of(k);
    prims.first().and_then(|&p| ws.rscs[p].next_role)
}

fn inst_role(ws: &WorkingSet, k: usize) -> Role {
    ws.primitives_of(k)
        .iter()
        .map(|&p| ws.rscs[p].role)
        .max()
        .unwrap_or(Role::Stopped)
}

fn set_instance_roles(ws: &mut WorkingSet, c: usize) {
    let children = ws.rscs[c].children.clone();
    let mut sort_index: Vec<(usize, i32)> = Vec::new();
    for &k in &children {
        let Some(n) = instance_node(ws, k) else {
            sort_index.push((k, -INF));
            continue;
        };
        let mut prio = match inst_next_role(ws, k) {
            Some(Role::Stopped) | Some(Role::Unpromoted) => -INF,
            _ => promotion_score(ws, k, n).unwrap_or(-1),
        };
        let target = ws.rscs[c].target_role.or_else(|| {
            ws.primitives_of(k)
                .first()
                .and_then(|&p| ws.rscs[p].target_role)
        });
        if target == Some(Role::Unpromoted) {
            prio = -INF;
        }
        // Promoted-role locations.
        let mut cur = Some(k);
        while let Some(x) = cur {
            prio = add(prio, ws.rscs[x].promo_loc.get(n).copied().unwrap_or(0));
            if x == c {
                break;
            }
            cur = ws.rscs[x].parent;
        }
        for p in ws.primitives_of(k) {
            if p != k {
                prio = add(prio, ws.rscs[p].promo_loc.get(n).copied().unwrap_or(0));
            }
        }
        // Colocations of the promoted role with other (assigned) resources.
        let colocs: Vec<usize> = ws.rscs[c].this_with.clone();
        for ci in colocs {
            let col = ws.colocs[ci].clone();
            // Promoted-role colocations raise the priority where the primary is; for the
            // Unpromoted role they lower it there (that instance should stay unpromoted).
            let multiplier = match col.dependent_role {
                Some(Role::Promoted) => 1,
                Some(Role::Unpromoted) => -1,
                _ => continue,
            };
            let prim = col.primary;
            let prim_nodes: Vec<usize> = if ws.rscs[prim].kind == Kind::Clone {
                ws.rscs[prim]
                    .children
                    .iter()
                    .filter(|&&i| {
                        col.primary_role.is_none() || inst_next_role(ws, i) == col.primary_role
                    })
                    .filter_map(|&i| {
                        ws.primitives_of(i)
                            .first()
                            .and_then(|&p| ws.rscs[p].assigned)
                    })
                    .collect()
            } else {
                let ok = col.primary_role.is_none() || ws.rscs[prim].next_role == col.primary_role;
                ws.rscs[prim].assigned.filter(|_| ok).into_iter().collect()
            };
            let here = prim_nodes
                .iter()
                .any(|&pn| node_attr(ws, pn, &col.node_attr) == node_attr(ws, n, &col.node_attr));
            if here {
                prio = add(prio, multiplier * col.score);
            } else if col.score >= INF && multiplier > 0 {
                prio = -INF;
            }
        }
        if !ws.rscs[c].managed && inst_role(ws, k) == Role::Promoted {
            prio = INF;
        }
        sort_index.push((k, prio));
    }
    // Merge the clone's node weights, its promoted-role colocations and the resources that
    // depend on its promoted role into the sort index (Pacemaker's sort_promotable_instances).
    let mut table = ws.rscs[c].allowed.clone();
    for &(k, idx) in &sort_index {
        if idx < 0 {
            continue;
        }
        if let Some(n) = instance_node(ws, k) {
            table[n] = Weight::some(add(table[n].unwrap_or(0), idx));
        }
    }
    for ci in ws.rscs[c].this_with.clone() {
        let col = &ws.colocs[ci];
        if col.dependent_role == Some(Role::Promoted) {
            let active_only = col.score < INF;
            merge_side(ws, ci, &mut table, Side::Primary, false, false, active_only);
        }
    }
    for ci in ws.rscs[c].with_this.clone() {
        let col = &ws.colocs[ci];
        if col.primary_role == Some(Role::Promoted) && col.influence {
            merge_side(ws, ci, &mut table, Side::Dependent, false, true, true);
        }
    }
    // The instance's own priority breaks ties between equal merged indexes.
    let own: Vec<(usize, i32)> = sort_index.clone();
    let own_prio = |k: usize| own.iter().find(|x| x.0 == k).map_or(0, |x| x.1);
    for entry in sort_index.iter_mut() {
        if entry.1 < 0 {
            continue;
        }
        if let Some(n) = instance_node(ws, entry.0) {
            entry.1 = table[n].unwrap_or(entry.1);
        }
    }
    let order = |&(k, p): &(usize, i32)| {
        (
            std::cmp::Reverse(p),
            std::cmp::Reverse(inst_role(ws, k)),
            std::cmp::Reverse(own_prio(k)),
            children.iter().position(|&x| x == k),
        )
    };
    sort_index.sort_by_key(order);
    let max = ws.rscs[c].promoted_max as usize;
    let per_node = ws.rscs[c].promoted_node_max as usize;
    let mut promoted = 0usize;
    let mut per = vec![0usize; ws.nodes.len()];
    for (k, prio) in sort_index {
        let node = ws
            .primitives_of(k)
            .first()
            .and_then(|&p| ws.rscs[p].assigned);
        let mut promote = false;
        if let Some(n) = node {
            if prio >= 0 && (promoted < max || !ws.rscs[c].managed) && per[n] < per_node {
                let freeze = !ws.have_quorum
                    && ws.no_quorum_policy == cib::model::NoQuorumPolicy::Freeze
                    && inst_role(ws, k) < Role::Promoted;
                if !freeze {
                    promote = true;
                    per[n] += 1;
                    promoted += 1;
                }
            }
        }
        for x in std::iter::once(k).chain(ws.primitives_of(k)) {
            if ws.rscs[x].next_role != Some(Role::Stopped) && ws.rscs[x].assigned.is_some()
                || x == k && node.is_some()
            {
                ws.rscs[x].next_role = Some(if promote {
                    Role::Promoted
                } else {
                    Role::Unpromoted
                });
            }
        }
    }
}
