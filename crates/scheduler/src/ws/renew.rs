//! Rebuilding part of the working set in place, for the daemon's re-planning
//! (`crate::model`): the top-level resources a changed primitive is joined to, made again
//! from their configuration and histories as [`WorkingSet::build`] makes them, while the
//! rest of the working set (and the placement's log) stays as the last whole plan left it.
use cib::Cib;
use cib::model::{Group, Primitive, Resource};

use super::{Kind, MetaChain, Rsc, WorkingSet, base_id};
use crate::Input;

/// What a resource's history does to nodes beyond it ([`WorkingSet::node_reach`]): the
/// lost nodes it is active on, the nodes its failures fence or put in standby, the nodes
/// where its stop failed.
type Reach = (Vec<usize>, Vec<(usize, bool)>, Vec<usize>);

impl WorkingSet {
    /// The top-level resource arena entry `x` belongs to (itself, its group or its clone).
    pub(crate) fn top_of(&self, mut x: usize) -> usize {
        while let Some(p) = self.rscs[x].parent {
            x = p;
        }
        x
    }

    /// The top-level resources re-planned with top-level resource `top` when it changes,
    /// in placement order: itself and every one joined to it through colocations and
    /// orders. `None` when one of them is an orphan, or when they have more than `most`
    /// primitives in all (what re-planning them costs grows with that number).
    pub(crate) fn joined_tops(&self, top: usize, most: usize) -> Option<Vec<usize>> {
        // The top-level resources each order joins (both ends), by either end's.
        let mut ordered: crate::hash::Map<usize, Vec<usize>> = Default::default();
        for o in &self.orders {
            let (a, b) = (self.top_of(o.first), self.top_of(o.then));
            ordered.entry(a).or_default().push(b);
            ordered.entry(b).or_default().push(a);
        }
        let mut seen = vec![false; self.rscs.len()];
        seen[top] = true;
        let mut queue = vec![top];
        let mut weight = 0;
        while let Some(t) = queue.pop() {
            weight += self.weight_of(&[t]);
            if weight > most {
                return None;
            }
            let mut joined = ordered.get(&t).cloned().unwrap_or_default();
            for x in self.entries_of(&[t]) {
                let r = &self.rscs[x];
                if r.orphan {
                    return None;
                }
                for &c in r.this_with.iter().chain(&r.with_this) {
                    let c = &self.colocs[c];
                    joined.extend([c.dependent, c.primary, c.merge_primary]);
                }
            }
            for x in joined {
                let top = self.top_of(x);
                if !seen[top] {
                    seen[top] = true;
                    queue.push(top);
                }
            }
        }
        Some(self.top.iter().copied().filter(|&t| seen[t]).collect())
    }

    /// How many primitives top-level resources `tops` have (what [`Self::joined_tops`]
    /// counts).
    pub(crate) fn weight_of(&self, tops: &[usize]) -> usize {
        let entries = self.entries_of(tops);
        entries
            .iter()
            .filter(|&&x| self.rscs[x].kind == Kind::Primitive)
            .count()
    }

    /// Rebuild the top-level resources `tops` (in no colocation or order with anything
    /// else) from their configuration and histories in `cib`, as [`WorkingSet::build`]
    /// makes them, for re-planning after one of their history entries changed; their
    /// colocations and orders (among them) stay. False when a primitive's history
    /// reaches beyond it otherwise than before ([`WorkingSet::node_reach`]), when an
    /// orphan has (or would have) their name, or when the configuration does not match:
    /// then only a whole build is right, and the working set is left to be dropped.
    pub fn renew(&mut self, cib: &Cib, input: &Input, tops: &[usize]) -> bool {
        if self.explain {
            return false;
        }
        let entries = self.entries_of(tops);
        let reach =
            |ws: &WorkingSet| -> Vec<Reach> { entries.iter().map(|&x| ws.node_reach(x)).collect() };
        let reached = reach(self);
        let defaults = MetaChain {
            sets: vec![&cib.rsc_defaults],
            default_stickiness: None,
        };
        let maint = cib.options.maintenance_mode;
        let mut configs = Vec::new();
        let mut prims: Vec<(usize, &Primitive)> = Vec::new();
        for &u in tops {
            let id = self.rscs[u].id.clone();
            let Some(config) = cib.resources.iter().find(|r| r.id().as_str() == id) else {
                return false;
            };
            configs.push(config);
            let fresh = match config {
                Resource::Clone(c) => {
                    let (rsc, chain) = self.clone_rsc(c, None, &defaults, maint);
                    if rsc.clone_max as usize != self.rscs[u].children.len() {
                        return false;
                    }
                    let children = self.rscs[u].children.clone();
                    for (k, &inst) in children.iter().enumerate() {
                        let ok = match &*c.child {
                            Resource::Primitive(p) => {
                                let id = format!("{}:{k}", p.id);
                                self.renew_primitive(
                                    inst,
                                    p,
                                    id,
                                    Some(u),
                                    &chain,
                                    maint,
                                    &mut prims,
                                )
                            }
                            Resource::Group(g) => {
                                let id = format!("{}:{k}", g.id);
                                self.renew_group(inst, g, id, Some(u), &chain, maint, &mut prims)
                            }
                            Resource::Clone(_) => false,
                        };
                        if !ok {
                            return false;
                        }
                    }
                    rsc
                }
                Resource::Group(g) => {
                    if !self.renew_group(u, g, id, None, &defaults, maint, &mut prims) {
                        return false;
                    }
                    continue;
                }
                Resource::Primitive(p) => {
                    if !self.renew_primitive(u, p, id, None, &defaults, maint, &mut prims) {
                        return false;
                    }
                    continue;
                }
            };
            self.keep_structure(u, fresh);
        }
        // An anonymous clone's entries bind to its instances as they are read: start its
        // binding afresh. An orphan of theirs (configured no more, or beyond clone-max)
        // is another entry of the arena: only a whole build places it.
        let mut bases: Vec<&str> = prims.iter().map(|(_, p)| p.id.as_str()).collect();
        bases.sort_unstable();
        bases.dedup();
        // Whether a history's name is one of theirs (the base id, or `base:N`).
        let theirs = |id: &str| bases.binary_search(&base_id(id)).is_ok();
        if self.rscs.iter().any(|r| r.orphan && theirs(&r.id)) {
            return false;
        }
        // (The binding's own state, `anon_active` and `anon_busy_prefix`, is emptied once
        // a build has read the status; the spares are the clone's.)
        for &u in tops {
            self.spares.remove(&u);
        }
        let by_id: crate::hash::Map<&str, &Primitive> =
            prims.iter().map(|(_, p)| (p.id.as_str(), *p)).collect();
        let inherited = crate::params::inherited_sets_of(configs);
        let size = self.rscs.len();
        // The status nodes with one of their histories, when the working set knows them.
        let with: Option<Vec<bool>> = self.histories.as_ref().map(|h| {
            let mut with = vec![false; cib.status.nodes.len()];
            for k in bases.iter().filter_map(|b| h.get(*b)).flatten() {
                if let Some(w) = with.get_mut(*k) {
                    *w = true;
                }
            }
            with
        });
        for (k, ni) in self.status_order(cib) {
            if with.as_ref().is_some_and(|w| !w[k]) {
                continue;
            }
            let ns = &cib.status.nodes[k];
            let mine = ns.resources.iter().filter(|h| theirs(h.id.as_str()));
            // The node's attributes for the parameter rules, once per node.
            let mut attrs = None;
            for h in mine {
                let attrs =
                    attrs.get_or_insert_with(|| crate::params::attrs_of(cib, &self.nodes[ni].name));
                self.unpack_history((&by_id, &inherited), attrs, ni, ns, h, input.now);
            }
        }
        self.anon_active = Default::default();
        self.anon_busy_prefix = Default::default();
        if self.rscs.len() != size {
            return false;
        }
        for base in &bases {
            match self.presence_of(base) {
                Some(p) => self.anon_presence.insert((*base).to_owned(), p),
                None => self.anon_presence.remove(*base),
            };
        }
        for &(m, _) in &prims {
            self.unclean_by(m);
        }
        // What they do to nodes (make a lost node unclean) must be what they did: the
        // nodes were made from it.
        if reach(self) != reached {
            return false;
        }
        for &x in &entries {
            self.make_table(x);
        }
        self.apply_locations(cib, input, Some(&entries));
        self.apply_stickiness(Some(&entries));
        self.apply_fail_limits(cib, input, Some(&entries));
        self.apply_exclusive_discovery(Some(&entries));
        true
    }

    /// Put `fresh` in entry `x`'s place, keeping what the build gave it beyond its
    /// configuration: its children, and the colocations it is in as the dependent
    /// (`this_with`) or the primary (`with_this`). Those a clone's placement appended to
    /// an instance (the clone's own) go: the placement appends them again.
    fn keep_structure(&mut self, x: usize, mut fresh: Rsc) {
        let old = &mut self.rscs[x];
        fresh.children = std::mem::take(&mut old.children);
        let (this_with, with_this) = (
            std::mem::take(&mut old.this_with),
            std::mem::take(&mut old.with_this),
        );
        fresh.this_with = this_with
            .into_iter()
            .filter(|&c| self.colocs[c].dependent == x)
            .collect();
        fresh.with_this = with_this
            .into_iter()
            .filter(|&c| self.colocs[c].primary == x)
            .collect();
        self.rscs[x] = fresh;
    }

    /// [`WorkingSet::renew`] of primitive entry `x` (configured as `p`, named `id`), which
    /// is added to `prims`.
    #[allow(clippy::too_many_arguments)]
    fn renew_primitive<'a>(
        &mut self,
        x: usize,
        p: &'a Primitive,
        id: String,
        parent: Option<usize>,
        chain: &MetaChain<'_>,
        maint: bool,
        prims: &mut Vec<(usize, &'a Primitive)>,
    ) -> bool {
        if self.rscs[x].id != id || self.rscs[x].kind != Kind::Primitive {
            return false;
        }
        let fresh = self.primitive_rsc(p, id, parent, chain, maint);
        self.keep_structure(x, fresh);
        prims.push((x, p));
        true
    }

    /// [`WorkingSet::renew`] of group entry `x` (configured as `g`, named `id`) and its
    /// members, which are added to `prims`.
    #[allow(clippy::too_many_arguments)]
    fn renew_group<'a>(
        &mut self,
        x: usize,
        g: &'a Group,
        id: String,
        parent: Option<usize>,
        chain: &MetaChain<'a>,
        maint: bool,
        prims: &mut Vec<(usize, &'a Primitive)>,
    ) -> bool {
        let suffix = id.strip_prefix(g.id.as_str()).unwrap_or("").to_owned();
        if self.rscs[x].id != id || self.rscs[x].children.len() != g.members.len() {
            return false;
        }
        let (fresh, chain) = self.group_rsc(g, id, parent, chain, maint);
        self.keep_structure(x, fresh);
        let members = self.rscs[x].children.clone();
        for (&m, p) in members.iter().zip(&g.members) {
            let id = format!("{}{suffix}", p.id);
            if !self.renew_primitive(m, p, id, Some(x), &chain, maint, prims) {
                return false;
            }
        }
        true
    }

    /// Index the status nodes with a history of each configured id (see
    /// [`WorkingSet::histories`]), for re-planning.
    pub(crate) fn index_histories(&mut self, cib: &Cib) {
        let mut index: crate::hash::Map<String, Vec<usize>> = Default::default();
        for (k, ns) in cib.status.nodes.iter().enumerate() {
            for h in &ns.resources {
                let list = match index.get_mut(base_id(h.id.as_str())) {
                    Some(list) => list,
                    None => index.entry(base_id(h.id.as_str()).to_owned()).or_default(),
                };
                if list.last() != Some(&k) {
                    list.push(k);
                }
            }
        }
        self.histories = Some(index);
    }

    /// Note that status node `k` has a history named `id` (see [`WorkingSet::histories`]).
    pub(crate) fn note_history(&mut self, id: &str, k: usize) {
        if let Some(index) = &mut self.histories {
            let list = index.entry(base_id(id).to_owned()).or_default();
            if !list.contains(&k) {
                list.push(k);
            }
        }
    }

    /// What entry `x`'s history does to nodes beyond it, each list sorted: the offline
    /// nodes a managed primitive is thought active on (which it makes unclean), the
    /// nodes its failures fence or put in standby (`on-fail=fence` or `standby`), and
    /// those where its stop failed (fenced). A rebuild leaves the nodes as the whole
    /// build made them, so it holds only while this stays the same: a node once failed
    /// is not made whole again but by a whole build.
    fn node_reach(&self, x: usize) -> Reach {
        let r = &self.rscs[x];
        let mut fails = r.fails_nodes.clone();
        fails.sort_unstable();
        let mut stop_failed = r.stop_failed_on.clone();
        stop_failed.sort_unstable();
        let mut lost: Vec<usize> = r
            .running_on
            .iter()
            .copied()
            .filter(|&n| !self.nodes[n].online)
            .collect();
        if r.kind != Kind::Primitive || !r.managed {
            lost.clear();
        }
        lost.sort_unstable();
        (lost, fails, stop_failed)
    }
}
