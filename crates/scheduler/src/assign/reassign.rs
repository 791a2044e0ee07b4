//! Placing some top-level resources again, apart from the rest, from the log of the last
//! placement (`AssignLog`), for the daemon's re-planning (`crate::model`): their turns
//! are placed again and the others' replayed from the log while each logged decision
//! would still be the same on the nodes as they are now ([`Reads`], [`Sorted`]); where
//! one would not, its resource is placed again too.
use std::cmp::Ordering;
use std::collections::BTreeMap;

use cib::model::PlacementStrategy;
use cib::{Cib, Role};

use super::{
    SortKey, assign, best_in, capacity_bans, consume_capacity, fits, key_node_order, sort_key,
    sorted_nodes,
};
use crate::Input;
use crate::ws::{AssignLog, INF, NodeSet, Reads, Retake, Sorted, Weight, WorkingSet};

/// Place the top-level resources `tops` again, apart, after [`rebuild`] rebuilt them:
/// they are in no colocation or order with anything else, so what they change for the
/// others is only the count and capacity their primitives take on the nodes at their
/// turns. The placement runs from the first of their turns in the last
/// placement (under a placement strategy, a turn whose sort key changed moves to where
/// the key now sorts), the others' placements replayed from its log between theirs. When
/// each of their turns leaves the nodes as it left them then (the same primitives, by
/// configuration, on the same nodes, whatever the order they were tried in), every other
/// placement stands as it was. When one leaves them otherwise, the nodes it changed differ
/// from then on: each later decision or sort that read their state ([`Reads`],
/// [`Sorted`]) is taken again, and where one comes out otherwise, its top-level resource
/// is rebuilt and placed again in its turn too, with those joined to it
/// ([`WorkingSet::joined_tops`]) whose turns come after (those placed before stand), at
/// most `most` in all. The resources whose actions are to be made again, in placement
/// order (`tops`, those placed again and those joined to them), with the log brought up
/// to date; `None` when a whole placement is needed (the working set is then to be
/// dropped).
pub(crate) fn reassign(
    ws: &mut WorkingSet,
    cib: &Cib,
    input: &Input,
    tops: &[usize],
    most: usize,
) -> Option<Vec<usize>> {
    let log = ws.log.take()?;
    let kept: Vec<(u32, Vec<i64>)> = ws
        .nodes
        .iter_mut()
        .map(|n| (n.num_resources, std::mem::take(&mut n.cap)))
        .collect();
    let again = reassign_at(ws, cib, input, tops, (&log, &kept), most);
    // The nodes as placement left them, unless every turn was placed or replayed (up to
    // the last turn placed again, the rest is as it was).
    if !again.as_ref().is_some_and(|a| a.whole) {
        for (n, (count, cap)) in ws.nodes.iter_mut().zip(kept) {
            (n.num_resources, n.cap) = (count, cap);
        }
    }
    let again = again?;
    ws.top = again.order;
    ws.log = Some(relogged(log, &again.from, again.turns, again.keys));
    Some(again.placed)
}

/// A turn placed again: (its place in the order now, events, reads, sorts).
type Turn = (usize, Vec<(u32, u32, i8)>, Vec<Reads>, Vec<(u32, Sorted)>);

/// What [`reassign_at`] placed again.
struct Again {
    /// The top-level resources, in placement order.
    placed: Vec<usize>,
    /// The placement order now (as [`WorkingSet::top`]), and each one's turn in the log.
    order: Vec<usize>,
    from: Vec<usize>,
    /// The turns placed again, by turn.
    turns: Vec<Turn>,
    /// The sort keys that changed: (index in [`AssignLog::keys`], key).
    keys: Vec<(usize, SortKey)>,
    /// Whether every turn was placed or replayed (else the nodes are left as the last of
    /// theirs left them).
    whole: bool,
}

/// [`reassign`]'s placement, on nodes whose state was taken out (and without a log);
/// `kept`: their state as the log leaves them.
fn reassign_at(
    ws: &mut WorkingSet,
    cib: &Cib,
    input: &Input,
    tops: &[usize],
    (log, kept): (&AssignLog, &[(u32, Vec<i64>)]),
    most: usize,
) -> Option<Again> {
    let n = ws.top.len();
    if log.turns.len() != n || log.sorts.len() != n || log.reads.len() != log.events.len() {
        return None;
    }
    let mut placed = tops.to_vec();
    // Their primitives, by arena entry (every event of the log is looked up).
    let mut prims = vec![false; ws.rscs.len()];
    for p in tops.iter().flat_map(|&t| ws.primitives_of(t)) {
        prims[p] = true;
    }
    let theirs = |prims: &[bool], e: &(u32, u32, i8)| prims.get(e.0 as usize) == Some(&true);
    for (node, cap) in ws.nodes.iter_mut().zip(&log.initial) {
        (node.num_resources, node.cap) = (0, cap.clone());
    }
    // The nodes' order the sort keys read, as before anything was placed.
    let node_order =
        (ws.placement_strategy != PlacementStrategy::Default).then(|| key_node_order(ws));
    // Each top-level resource's turn in the log; their order now, and where a turn that
    // moved stops counting as placed: (position in the order now, its old turn).
    let mut was_at = vec![usize::MAX; ws.rscs.len()];
    for (k, &t) in ws.top.iter().enumerate() {
        was_at[t] = k;
    }
    let keys = match &node_order {
        Some(o) => keys_moved(ws, tops, log, o)?,
        None => Vec::new(),
    };
    let (order, gone) = reordered(ws, log, &was_at, &keys);
    let last = order.iter().rposition(|t| tops.contains(t))?;
    // The turns before the first of theirs are replayed as they are (nothing differs
    // yet): from the nodes as they were before any, or, when fewer events follow, back
    // from the nodes as the log leaves them.
    let first = order.iter().position(|t| tops.contains(t))?;
    let from = log
        .turns
        .get(first)
        .map_or(log.events.len(), |&t| t as usize);
    let skip = if keys.is_empty() && log.events.len() - from < from {
        if log.events[..from].iter().any(|e| theirs(&prims, e)) {
            return None;
        }
        for (node, (count, cap)) in ws.nodes.iter_mut().zip(kept) {
            (node.num_resources, node.cap) = (*count, cap.clone());
        }
        for &(r, n, sign) in log.events[from..].iter().rev() {
            replay(ws, r as usize, n, -sign);
        }
        first
    } else {
        0
    };
    let turn_of = |k: usize| log.span(k);
    // The nodes whose state differs from the log's from here on.
    let mut changed = NodeSet::with_room(ws.nodes.len());
    let mut differ = false;
    let mut turns = Vec::new();
    for (p, &top) in order.iter().enumerate().skip(skip) {
        for &(_, k) in gone.iter().filter(|g| g.0 == p) {
            for &(_, n, _) in &net(ws, &log.events[turn_of(k)]) {
                if n != AssignLog::NO_NODE {
                    changed.insert(n as usize);
                    differ = true;
                }
            }
        }
        if p > last && !differ {
            break;
        }
        let span = turn_of(was_at[top]);
        let turn = &log.events[span.clone()];
        if !placed.contains(&top) {
            // Another resource's turn: it places none of these.
            if turn.iter().any(|e| theirs(&prims, e)) {
                return None;
            }
            // Replayed while each decision and sort holds; else taken back and placed
            // again.
            let sorts = &log.sorts[was_at[top]];
            let sorted = |ws: &WorkingSet, at: usize| {
                !differ
                    || sorts
                        .iter()
                        .filter(|s| s.0 as usize == at)
                        .all(|s| sorted_holds(ws, &s.1, &changed))
            };
            let start = span.start;
            let held = span
                .take_while(|&j| {
                    let holds = sorted(ws, j - start)
                        && (!differ || holds(ws, log.events[j], &log.reads[j], &changed));
                    if holds {
                        let (r, n, sign) = log.events[j];
                        replay(ws, r as usize, n, sign);
                    }
                    holds
                })
                .count();
            if held == turn.len() && sorted(ws, held) {
                continue;
            }
            for &(r, n, sign) in turn[..held].iter().rev() {
                replay(ws, r as usize, n, -sign);
            }
            // It is placed again with what it is joined to: those whose turns come after
            // are rebuilt and placed again in them; those placed before (in their turns or
            // in an earlier one's) stand as they are (they were placed before it, and its
            // scores are as they were), and only their actions are made again.
            let room = most.checked_sub(ws.weight_of(&placed))?;
            let (later, mut before): (Vec<usize>, Vec<usize>) = ws
                .joined_tops(top, room)?
                .into_iter()
                .partition(|t| order[p..].contains(t));
            let spans: Vec<_> = later.iter().map(|&t| turn_of(was_at[t])).collect();
            let in_theirs = |m: &usize| {
                spans.iter().any(|s| {
                    log.events[s.clone()]
                        .iter()
                        .any(|e| e.0 as usize == *m && e.2 > 0)
                })
            };
            let mut joined = Vec::new();
            for t in later {
                let prims = ws.primitives_of(t);
                match prims.iter().filter(|m| in_theirs(m)).count() {
                    0 => before.push(t),
                    k if k == prims.len() => joined.push(t),
                    _ => return None,
                }
            }
            placed.extend(before);
            // (Their sort keys are as they were: they read only their scores and those of
            // what they are joined to, none of which changed.)
            if !rebuild(ws, cib, input, &joined) {
                return None;
            }
            for t in joined {
                for p in ws.primitives_of(t) {
                    prims[p] = true;
                }
                placed.push(t);
            }
        }
        ws.log = Some(AssignLog::default());
        assign(ws, top, None);
        let now = ws.log.take().unwrap_or_default();
        // The turns after see only what this one leaves on the nodes: the same
        // placements, whatever the order they were tried in, or the nodes it changed.
        let (was, is) = (net(ws, turn), net(ws, &now.events));
        if was != is {
            let moved = was.iter().filter(|p| !is.contains(p));
            for &(_, n, _) in moved.chain(is.iter().filter(|p| !was.contains(p))) {
                if n != AssignLog::NO_NODE {
                    changed.insert(n as usize);
                }
            }
            differ = true;
        }
        turns.push((p, now.events, now.reads, now.pending));
    }
    placed.sort_by_key(|t| order.iter().position(|x| x == t));
    Some(Again {
        placed,
        from: order.iter().map(|&t| was_at[t]).collect(),
        order,
        turns,
        keys,
        whole: differ,
    })
}

/// Rebuild the top-level resources `tops` from their configuration and histories
/// ([`WorkingSet::renew`]) and make them ready to be placed again: what
/// [`super::assign_all`] does to every resource before placing any. False when that fails or when whether one
/// is managed changed (the working set is then to be dropped).
pub(crate) fn rebuild(ws: &mut WorkingSet, cib: &Cib, input: &Input, tops: &[usize]) -> bool {
    let entries = ws.entries_of(tops);
    let managed =
        |ws: &WorkingSet| -> Vec<bool> { entries.iter().map(|&x| ws.rscs[x].managed).collect() };
    let was = managed(ws);
    if !ws.renew(cib, input, tops) {
        return false;
    }
    for &x in &entries {
        if ws.fencing_enabled && !ws.have_fencing_device {
            ws.rscs[x].managed = false;
        }
        if ws.rscs[x].target_role == Some(Role::Stopped) {
            ws.rscs[x].next_role = Some(Role::Stopped);
        }
    }
    managed(ws) == was
}

/// Under a placement strategy, the sort keys of top-level resources `tops` that differ
/// from the log's now: (index in [`AssignLog::keys`], key). `None` when one has none.
fn keys_moved(
    ws: &mut WorkingSet,
    tops: &[usize],
    log: &AssignLog,
    node_order: &[usize],
) -> Option<Vec<(usize, SortKey)>> {
    let mut out = Vec::new();
    for &t in tops {
        let ix = log.keys.iter().position(|k| k.0 == t)?;
        let key = sort_key(ws, t, node_order);
        if key != log.keys[ix] {
            out.push((ix, key));
        }
    }
    Some(out)
}

/// The placement order with the sort keys `moved` (as [`keys_moved`]) in place of the
/// log's: the order [`super::sort_resources`] makes (ties in the configuration's order), each
/// moved resource taken out and put back where its key now sorts. With it, for each one
/// moved, where its old turn stops counting as placed: (position in the order, old turn),
/// the first position that was after it, or where it is now if that is earlier.
fn reordered(
    ws: &WorkingSet,
    log: &AssignLog,
    was_at: &[usize],
    moved: &[(usize, SortKey)],
) -> (Vec<usize>, Vec<(usize, usize)>) {
    if moved.is_empty() {
        return (ws.top.clone(), Vec::new());
    }
    // Each top-level resource's index in the log's keys (the configuration's order).
    let mut ix = vec![usize::MAX; ws.rscs.len()];
    for (k, key) in log.keys.iter().enumerate() {
        ix[key.0] = k;
    }
    let key = |t: usize| -> (&SortKey, usize) {
        let k = ix[t];
        (
            moved
                .iter()
                .find(|m| m.0 == k)
                .map_or(&log.keys[k], |m| &m.1),
            k,
        )
    };
    let before = |a: usize, b: usize| {
        let ((x, i), (y, j)) = (key(a), key(b));
        y.1.cmp(&x.1)
            .then(y.2.cmp(&x.2))
            .then_with(|| y.3.cmp(&x.3))
            .then(i.cmp(&j))
            == Ordering::Less
    };
    let is_moved = |t: usize| moved.iter().any(|m| m.1.0 == t);
    let rest: Vec<usize> = ws.top.iter().copied().filter(|&t| !is_moved(t)).collect();
    let mut out: Vec<usize> = moved.iter().map(|m| m.1.0).collect();
    out.sort_by(|&a, &b| {
        if before(a, b) {
            Ordering::Less
        } else {
            Ordering::Greater
        }
    });
    let them = std::mem::take(&mut out);
    let (mut x, mut y) = (0, 0);
    while x < rest.len() || y < them.len() {
        if y == them.len() || x < rest.len() && before(rest[x], them[y]) {
            out.push(rest[x]);
            x += 1;
        } else {
            out.push(them[y]);
            y += 1;
        }
    }
    let mut now_at = vec![usize::MAX; ws.rscs.len()];
    for (p, &t) in out.iter().enumerate() {
        now_at[t] = p;
    }
    let gone = them
        .iter()
        .map(|&t| {
            let k = was_at[t];
            // The first of the others that came after it.
            let next = rest.partition_point(|&r| was_at[r] < k);
            let p = rest.get(next).map_or(out.len(), |&r| now_at[r]);
            (p.min(now_at[t]), k)
        })
        .collect();
    (out, gone)
}

/// Whether a decision that read `reads` would be the same on the nodes as they are now,
/// which differ from then only on the `changed` ones.
fn holds(ws: &WorkingSet, event: (u32, u32, i8), reads: &Reads, changed: &NodeSet) -> bool {
    match reads {
        Reads::Nothing => true,
        Reads::Nodes { watch, again } => {
            if !watch.meets(changed) {
                return true;
            }
            if again.nowhere {
                // It still goes nowhere while none of them has room for it.
                let room = |n: usize| fits(ws, n, &again.own) || fits(ws, n, &again.needed);
                return !watch.common(changed).any(room);
            }
            decide(ws, event.0 as usize, again).map_or(AssignLog::NO_NODE, |n| n as u32) == event.1
        }
    }
}

/// Whether a sort of nodes would find the same node first on the nodes as they are now,
/// which differ from then only on the `changed` ones.
fn sorted_holds(ws: &WorkingSet, sorted: &Sorted, changed: &NodeSet) -> bool {
    if !sorted.tied.meets(changed) {
        return true;
    }
    let first = sorted_nodes(ws, &sorted.table, None)
        .into_iter()
        .find(|&n| sorted.with.contains(&(n as u32)));
    first == Some(sorted.found as usize)
}

/// `log` rewritten in the placement order now, whose turns were the log's turns `from`:
/// the turns placed again (as [`Turn`], by turn) in their places, the others moved, and
/// the sort keys that changed (`(index, key)`).
fn relogged(
    mut log: AssignLog,
    from: &[usize],
    again: Vec<Turn>,
    moved: Vec<(usize, SortKey)>,
) -> AssignLog {
    for (k, key) in moved {
        log.keys[k] = key;
    }
    // In the same order, the turns placed again are put in their places (the log is at
    // cloud scale: it is not copied for a few turns).
    if from.iter().enumerate().all(|(p, &k)| p == k) {
        let mut shift = vec![0i64; from.len()];
        for (p, ev, rd, so) in again.into_iter().rev() {
            let span = log.span(p);
            shift[p] = ev.len() as i64 - span.len() as i64;
            log.events.splice(span.clone(), ev);
            log.reads.splice(span, rd);
            log.sorts[p] = so;
        }
        let mut by = 0i64;
        for (p, t) in log.turns.iter_mut().enumerate() {
            *t = (i64::from(*t) + by) as u32;
            by += shift[p];
        }
        return log;
    }
    let mut out = AssignLog {
        initial: std::mem::take(&mut log.initial),
        keys: std::mem::take(&mut log.keys),
        ..AssignLog::default()
    };
    out.events.reserve(log.events.len());
    out.reads.reserve(log.events.len());
    let mut again = again.into_iter().peekable();
    for (p, &k) in from.iter().enumerate() {
        out.turns.push(out.events.len() as u32);
        if let Some((_, ev, rd, so)) = again.next_if(|a| a.0 == p) {
            out.events.extend(ev);
            out.reads.extend(rd);
            out.sorts.push(so);
            continue;
        }
        out.sorts.push(std::mem::take(&mut log.sorts[k]));
        let span = log.span(k);
        out.events.extend_from_slice(&log.events[span.clone()]);
        out.reads
            .extend(log.reads[span].iter_mut().map(std::mem::take));
    }
    out
}

/// What logged placements leave on the nodes: each (primitive by its configured id,
/// node) with its count of placements less unplacements, sorted, those that cancel out
/// left out.
fn net<'a>(ws: &'a WorkingSet, events: &[(u32, u32, i8)]) -> Vec<(&'a str, u32, i32)> {
    let mut sums: BTreeMap<(&str, u32), i32> = BTreeMap::new();
    for &(r, n, sign) in events {
        *sums
            .entry((ws.rscs[r as usize].base.as_str(), n))
            .or_default() += i32::from(sign);
    }
    sums.into_iter()
        .filter(|(_, v)| *v != 0)
        .map(|((r, n), v)| (r, n, v))
        .collect()
}

/// One logged change of a node's count and capacity, made again.
fn replay(ws: &mut WorkingSet, r: usize, n: u32, sign: i8) {
    if n == AssignLog::NO_NODE {
        return;
    }
    let n = n as usize;
    let node = &mut ws.nodes[n];
    node.num_resources = node.num_resources.saturating_add_signed(i32::from(sign));
    consume_capacity(ws, r, n, i64::from(sign));
}

/// The node a decision of [`Reads::Nodes`] would choose on the nodes as they are now (as
/// [`super::assign_primitive`] chooses: bans for capacity, then the best node), for primitive
/// `r`.
fn decide(ws: &WorkingSet, r: usize, a: &Retake) -> Option<usize> {
    let mut scores = a
        .scores
        .clone()
        .unwrap_or_else(|| ws.rscs[r].allowed.clone());
    for &(n, was) in &a.banned {
        scores[n as usize] = Weight::some(was);
    }
    if ws.placement_strategy == PlacementStrategy::Default {
        return best_in(ws, &scores, a.current, a.unique, a.prefer).0;
    }
    let (_, most_free, bans) = capacity_bans(ws, r, &scores, &a.needed, Some(&a.own));
    let mut table = scores;
    for n in bans {
        if let Some(w) = table[n].as_mut() {
            *w = -INF;
        }
    }
    best_in(ws, &table, a.current, a.unique, a.prefer.or(most_free)).0
}
