//! The working set: the CIB turned into what the scheduler reasons about — nodes with their
//! state, resources as an arena (clones expanded into instances), constraints between arena
//! entries, and each instance's current state from the status section.
use std::collections::BTreeMap;

use cib::model::{
    Attributes, Clone as CloneResource, Colocation, Group, Location, MultipleActive,
    NoQuorumPolicy, OnFail, Order, OrderKind, PlacementStrategy, Primitive, Resource,
    ResourceDiscovery, ResourceSet,
};
use cib::status::{NodeState, ResourceHistory};
use cib::{Cib, Role, Score};

use crate::Input;
use crate::definition::{self, Change};
use crate::rules::{Attrs, rule_holds};

mod renew;

pub(crate) const INF: i32 = Score::INFINITY_VALUE;

/// Pacemaker's score addition: saturating at ±INFINITY, -INFINITY wins.
pub(crate) fn add(a: i32, b: i32) -> i32 {
    (Score::new(a as i64) + Score::new(b as i64)).value()
}

/// A score as Pacemaker reads one: `INFINITY` spellings, else the leading integer.
pub(crate) fn score_of(v: &str) -> Option<Score> {
    Score::parse(v).or_else(|| cib::score::parse_prefix(v))
}

/// A cluster node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub name: String,
    pub online: bool,
    pub unclean: bool,
    pub standby: bool,
    pub maintenance: bool,
    pub shutdown: bool,
    /// Up but not joined yet: nothing runs there, probes included.
    pub pending: bool,
    /// Why the node must be fenced, when unclean.
    pub unclean_reason: String,
    pub attrs: Attrs,
    /// Resources assigned here during this run (a tie-breaker).
    pub num_resources: u32,
    /// Capacity left during this run, dense: one value per name of
    /// [`WorkingSet::capacity_names`] (0 where the node declares none), so the balanced
    /// node sort compares two slices.
    pub cap: Vec<i64>,
    /// Which of [`WorkingSet::capacity_names`] the node declares: only those are consumed.
    pub declared: Vec<bool>,
}

impl Node {
    /// Can run resources at all (Pacemaker's `pcmk__node_available` without the score).
    pub fn available(&self) -> bool {
        self.online && !self.unclean && !self.standby && !self.maintenance && !self.shutdown
    }
}

/// A resource's score on one node, or none: the node is not in its table of allowed
/// nodes (Pacemaker's `allowed_nodes`). Four bytes where `Option<i32>` takes eight: every
/// resource has one per node (a million at cloud scale). Scores stay within ±[`INF`]
/// times a small factor, far from the `i32::MIN` that stands for none.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Weight(i32);

impl Weight {
    /// The node is not allowed.
    pub const NONE: Weight = Weight(i32::MIN);

    /// The node is allowed with score `w`.
    pub fn some(w: i32) -> Weight {
        debug_assert!(w != i32::MIN, "a score of i32::MIN");
        Weight(w)
    }

    /// `Some(score)` when the node is allowed.
    pub fn get(self) -> Option<i32> {
        (self != Weight::NONE).then_some(self.0)
    }

    /// The score, for updating in place, when the node is allowed.
    pub fn as_mut(&mut self) -> Option<&mut i32> {
        (*self != Weight::NONE).then_some(&mut self.0)
    }

    pub fn is_some(self) -> bool {
        self != Weight::NONE
    }

    pub fn is_none(self) -> bool {
        self == Weight::NONE
    }

    pub fn unwrap_or(self, d: i32) -> i32 {
        self.get().unwrap_or(d)
    }

    pub fn is_some_and(self, f: impl FnOnce(i32) -> bool) -> bool {
        self.get().is_some_and(f)
    }

    pub fn is_none_or(self, f: impl FnOnce(i32) -> bool) -> bool {
        self.get().is_none_or(f)
    }
}

impl std::fmt::Debug for Weight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// What an arena entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Primitive,
    Group,
    Clone,
}

/// One resource of the arena: a primitive, a group, a clone, or an instance of a clone's child.
#[derive(Debug, Clone)]
pub(crate) struct Rsc {
    /// The id as Pacemaker prints it (`rsc`, `rsc:2` for clone instances).
    pub id: String,
    /// The configured id (without the instance suffix).
    pub base: String,
    pub kind: Kind,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    pub is_fencing: bool,
    pub orphan: bool,

    // Configuration (meta-attributes after inheritance).
    pub stickiness: i32,
    pub migration_threshold: i32,
    pub failure_timeout_s: i64,
    pub target_role: Option<Role>,
    pub managed: bool,
    pub priority: i32,
    pub allow_migrate: bool,
    /// The deprecated `restart-type=restart`: an optional order to this resource restarts it
    /// as a mandatory one would, when the first restarts.
    pub restart_with_first: bool,
    pub critical: bool,
    /// `requires` is not `nothing`: needs quorum to start.
    pub requires_quorum: bool,
    pub multiple_active: MultipleActive,
    /// Utilization by name index ([`WorkingSet::util_name`]: a name some node declares is
    /// its index in [`WorkingSet::capacity_names`]), in name order among the declared
    /// ones. A large cluster has tens of thousands of these: no names, no map.
    pub utilization: Box<[(u32, i64)]>,
    /// Configured `on-fail` per (operation, interval ms).
    pub on_fail: Vec<(String, u64, OnFail)>,
    /// Recurring monitors: (interval ms, role they run in).
    pub monitors: Vec<(u64, Option<Role>)>,
    /// Nodes with any history of this resource (probed or run there).
    pub known_on: Vec<usize>,
    /// `resource-discovery` per node, from the location constraints naming it there; empty
    /// while none names it (`always` everywhere: most resources, no vector each). Read it
    /// with [`Rsc::discovery`].
    pub discover: Vec<ResourceDiscovery>,
    /// Some location constraint of it (or of a parent) has `resource-discovery=exclusive`.
    pub exclusive_discover: bool,
    // Clone settings (on clones).
    pub promotable: bool,
    pub unique: bool,
    /// Anonymous, but shown with instance numbers in actions (see `add_resource`).
    pub numbered: bool,
    pub clone_max: u32,
    pub clone_node_max: u32,
    pub promoted_max: u32,
    pub promoted_node_max: u32,
    pub interleave: bool,
    pub ordered_group: bool,
    /// A clone with `ordered=true`: its instances start one after another, by number.
    pub ordered_clone: bool,
    /// A clone with `notify=true`: its instances are told about each other's actions.
    pub notify: bool,

    // Scores.
    /// Node weights by node index; `None`: not allowed (absent from the table).
    pub allowed: Vec<Weight>,
    /// Promotion-only location scores (role=Promoted constraints), by node index; empty
    /// (all 0) until one is set: most resources have none.
    pub promo_loc: Vec<i32>,

    // Current state.
    pub running_on: Vec<usize>,
    pub role: Role,
    pub failed: bool,
    pub start_pending: bool,
    /// Nodes where the resource failed to stop (fenced or blocked).
    pub stop_failed_on: Vec<usize>,
    /// Nodes a live migration completed away from without a stop there since (Pacemaker's
    /// dangling migrations): it is stopped there once more, to clean up.
    pub dangling: Vec<usize>,
    /// Nodes where its definition changed since it started there, and what that needs.
    pub changed_on: Vec<(usize, Change)>,
    /// The nodes a failure of it fences (true) or puts in standby (false) (`on-fail`):
    /// its history reaches beyond it; re-planning it apart ([`WorkingSet::renew`]) holds
    /// only while they stay the same.
    pub fails_nodes: Vec<(usize, bool)>,

    // Assignment.
    pub next_role: Option<Role>,
    pub assigned: Option<usize>,
    pub provisional: bool,
    pub allocating: bool,
    pub merging: bool,

    // Colocations by index into `WorkingSet::colocs`.
    pub this_with: Vec<usize>,
    pub with_this: Vec<usize>,
}

impl Rsc {
    /// `resource-discovery` on node `ni`.
    pub fn discovery(&self, ni: usize) -> ResourceDiscovery {
        self.discover
            .get(ni)
            .copied()
            .unwrap_or(ResourceDiscovery::Always)
    }
}

/// One contribution to a resource's score on a node, for `--explain`.
#[derive(Debug, Clone)]
pub(crate) struct Why {
    pub rsc: usize,
    pub node: usize,
    pub delta: i32,
    pub reason: String,
}

/// What the last whole placement did, kept for placing one resource again
/// (`assign::reassign`): the daemon re-plans after every operation result.
#[derive(Debug, Clone, Default)]
pub(crate) struct AssignLog {
    /// Each node's free capacity before anything was placed (as `Node::cap`).
    pub initial: Vec<Vec<i64>>,
    /// Every placement and unplacement of a primitive, in order: (primitive, node or
    /// [`AssignLog::NO_NODE`], +1 placed or -1 taken back).
    pub events: Vec<(u32, u32, i8)>,
    /// Beside each event, what of the nodes' state its decision read.
    pub reads: Vec<Reads>,
    /// Beside each turn, the sorts of nodes it made outside its decisions, each with the
    /// count of the turn's events before it.
    pub sorts: Vec<Vec<(u32, Sorted)>>,
    /// The sorts of the turn being placed, so far.
    pub pending: Vec<(u32, Sorted)>,
    /// Under a placement strategy, each top-level resource's sort key, as first computed.
    pub keys: Vec<(usize, i32, i32, Vec<i32>)>,
    /// Where each top-level resource's turn begins in [`AssignLog::events`], in placement
    /// order (as [`WorkingSet::top`]).
    pub turns: Vec<u32>,
}

impl AssignLog {
    /// A placement on no node (the resource stops).
    pub const NO_NODE: u32 = u32::MAX;

    /// Where turn `k` (in placement order) lies in [`AssignLog::events`].
    pub fn span(&self, k: usize) -> std::ops::Range<usize> {
        let from = self.turns[k] as usize;
        let to = self
            .turns
            .get(k + 1)
            .map_or(self.events.len(), |&t| t as usize);
        from..to
    }
}

/// A set of nodes (by index), as bits: what a placement decision read is kept for every
/// decision, so it is kept small.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NodeSet(Box<[u64]>);

impl NodeSet {
    /// The set of `nodes`.
    pub fn of(nodes: impl IntoIterator<Item = usize>) -> NodeSet {
        let mut words: Vec<u64> = Vec::new();
        for n in nodes {
            if words.len() <= n / 64 {
                words.resize(n / 64 + 1, 0);
            }
            words[n / 64] |= 1 << (n % 64);
        }
        NodeSet(words.into())
    }

    /// An empty set that can hold nodes below `count`.
    pub fn with_room(count: usize) -> NodeSet {
        NodeSet(vec![0; count.div_ceil(64)].into())
    }

    /// Add node `n` (below the room given).
    pub fn insert(&mut self, n: usize) {
        self.0[n / 64] |= 1 << (n % 64);
    }

    /// The nodes in both sets.
    pub fn common<'a>(&'a self, other: &'a NodeSet) -> impl Iterator<Item = usize> + 'a {
        self.0
            .iter()
            .zip(other.0.iter())
            .enumerate()
            .flat_map(|(k, (&a, &b))| {
                let mut bits = a & b;
                std::iter::from_fn(move || {
                    (bits != 0).then(|| {
                        let i = bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        k * 64 + i
                    })
                })
            })
    }

    /// Whether the sets have a node in common.
    pub fn meets(&self, other: &NodeSet) -> bool {
        self.0.iter().zip(other.0.iter()).any(|(a, b)| a & b != 0)
    }
}

/// A sort of nodes that read their state, outside a decision: which node of `table`
/// (scores) that has an instance of a clone comes first. `found` did, of the nodes of its
/// score `tied`, of which those in `with` had an instance.
#[derive(Debug, Clone)]
pub(crate) struct Sorted {
    pub table: Vec<Weight>,
    pub tied: NodeSet,
    pub with: Box<[u32]>,
    pub found: u32,
}

/// What a placement decision that read the nodes' state was taken from: the resource's
/// scores before its bans for capacity (its scores as the bans left them, a clone
/// instance's kept here, anything else's as placement left them in the working set, with
/// the `banned` nodes' scores put back), the node it was active on, whether it is an
/// instance of a unique clone, the node its caller preferred, and what it needs free with
/// what must run with it and alone (by index in the dense capacities, none when no node
/// declares it).
#[derive(Debug, Clone)]
pub(crate) struct Retake {
    pub scores: Option<Vec<Weight>>,
    pub banned: Box<[(u32, i32)]>,
    pub current: Option<usize>,
    pub unique: bool,
    pub prefer: Option<usize>,
    pub needed: Box<[(Option<usize>, i64)]>,
    pub own: Box<[(Option<usize>, i64)]>,
    /// No usable node had room for it, and it went nowhere.
    pub nowhere: bool,
}

/// What a placement decision read of the nodes' state as the placement left it so far
/// (each node's count of placed resources and free capacity), beyond the resource's own
/// scores: with it, a replay of the log after an earlier turn placed otherwise tells
/// whether this decision would still be the same.
#[derive(Debug, Clone, Default)]
pub(crate) enum Reads {
    /// Nothing: the scores alone decided (or the resource is not managed).
    #[default]
    Nothing,
    /// The state of the `watch` nodes: while none of them changed, the decision holds;
    /// else it holds if, taken `again` on the nodes as they are now, it comes out the same.
    Nodes { watch: NodeSet, again: Box<Retake> },
}

/// A colocation between two arena entries.
#[derive(Debug, Clone)]
pub(crate) struct Coloc {
    pub id: String,
    pub dependent: usize,
    pub primary: usize,
    /// The primary as configured, whose scores a merge reads: "R with group" places R with
    /// the group's last member, but merges the group's scores through its first member,
    /// as Pacemaker does.
    pub merge_primary: usize,
    pub score: i32,
    pub dependent_role: Option<Role>,
    pub primary_role: Option<Role>,
    pub node_attr: String,
    pub influence: bool,
}

/// An ordering between two arena entries' actions.
#[derive(Debug, Clone)]
pub(crate) struct Ord {
    pub first: usize,
    pub first_action: String,
    pub then: usize,
    pub then_action: String,
    pub kind: OrderKind,
    /// Whether the inverse order applies too (then stops before first stops).
    pub symmetrical: bool,
    /// An anti-colocation's order: between two primitives it holds only when both
    /// actions are on one node.
    pub same_node: bool,
}

/// [`WorkingSet::listed_order`]s worked out, by the nodes the table holds (a bit each).
type TableOrders = crate::hash::Map<Box<[u64]>, std::sync::Arc<[usize]>>;

/// Nodes in an order ([`WorkingSet::listed_order`]): borrowed, shared with the working
/// set's table of orders, or made for the caller.
#[derive(Debug)]
pub(crate) enum Listed<'a> {
    All(&'a [usize]),
    Shared(std::sync::Arc<[usize]>),
    Owned(Vec<usize>),
}

impl Listed<'_> {
    /// The nodes as a vector of the caller's.
    pub fn into_owned(self) -> Vec<usize> {
        match self {
            Listed::All(s) => s.to_vec(),
            Listed::Shared(s) => s.to_vec(),
            Listed::Owned(v) => v,
        }
    }
}

impl std::ops::Deref for Listed<'_> {
    type Target = [usize];

    fn deref(&self) -> &[usize] {
        match self {
            Listed::All(s) => s,
            Listed::Shared(s) => s,
            Listed::Owned(v) => v,
        }
    }
}

/// Everything the scheduler reasons about.
#[derive(Debug, Clone)]
pub(crate) struct WorkingSet {
    pub nodes: Vec<Node>,
    /// Every utilization name some node declares, sorted: the index of [`Node::cap`].
    pub capacity_names: Vec<String>,
    /// Utilization names only resources use (no node declares them: 0 free everywhere),
    /// by first use: name index `capacity_names.len() + k`.
    pub util_extra: Vec<String>,
    pub rscs: Vec<Rsc>,
    /// Top-level resources in placement order.
    pub top: Vec<usize>,
    pub colocs: Vec<Coloc>,
    pub orders: Vec<Ord>,
    pub fencing_enabled: bool,
    pub stop_orphans: bool,
    pub have_fencing_device: bool,
    pub have_quorum: bool,
    pub no_quorum_policy: NoQuorumPolicy,
    pub symmetric: bool,
    pub stop_all: bool,
    pub placement_strategy: PlacementStrategy,
    /// Nodes in the order `g_hash_table_get_values` lists a table holding all of them (see
    /// `glib`): where Pacemaker's `balanced` node sort starts.
    pub table_order: Vec<usize>,
    /// Node ids (the keys of Pacemaker's node tables).
    pub node_ids: Vec<String>,
    /// Nodes in Pacemaker's node-list order (by name, numbers as numbers).
    pub name_order: Vec<usize>,
    /// Each node's rank among the node names in byte order: the node sorts' last
    /// tie-breaker, compared as a number.
    pub byte_rank: Vec<u32>,
    pub fencing_action: String,
    /// Ids of the primitives inside anonymous clones (also with clone-max=0).
    pub anon_clone_children: std::collections::BTreeSet<String>,
    /// Configured resources (clones, and everything not inside a clone) by id.
    pub config_index: crate::hash::Map<String, usize>,
    /// Clone instance primitives by base id, in instance order.
    pub instances: crate::hash::Map<String, Vec<usize>>,
    /// Per base id of an anonymous clone's primitive: for each node, the instance active
    /// there now (the first), and whether any instance has history there. The status
    /// decides both; the promotion scores read them.
    pub anon_presence: crate::hash::Map<String, (Vec<Option<usize>>, Vec<bool>)>,
    /// Per anonymous clone, the ids of the spare instances Pacemaker creates while it reads
    /// the history (see [`WorkingSet::spare_instance`]), in creation order. They never
    /// run; only the clone's notifications list them (as inactive).
    pub spares: std::collections::BTreeMap<usize, Vec<String>>,
    /// While the status is read: per (anonymous clone, node), the clone's instances (its
    /// direct children) with a primitive active on that node, so binding a history entry
    /// to an instance does not test every instance of a clone on a hundred nodes.
    anon_active: crate::hash::Map<(usize, usize), Vec<usize>>,
    /// While the status is read: per anonymous clone instance list (keyed by its first
    /// primitive), how many leading instances are active somewhere. Activity only grows
    /// while the status is read, so the first idle instance is never before it.
    anon_busy_prefix: crate::hash::Map<usize, usize>,
    /// [`WorkingSet::listed_order`] for tables without every node, by which nodes they
    /// hold (GLib's layout depends on nothing else).
    table_orders: std::cell::RefCell<TableOrders>,
    pub notes: Vec<String>,
    /// Every contribution to a score, in the order applied (only when `explain`).
    pub trace: Vec<Why>,
    /// Whether to record `trace`.
    pub explain: bool,
    /// Placement's log, kept when the working set is kept for re-planning.
    pub log: Option<AssignLog>,
    /// For a working set kept for re-planning: by configured id (an instance's base id),
    /// the status nodes (indices in the status section) with a history of it, or that
    /// had one: what [`WorkingSet::renew`] reads instead of every history.
    pub(crate) histories: Option<crate::hash::Map<String, Vec<usize>>>,
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Meta-attribute lookup along the inheritance chain (own, parents, rsc_defaults).
#[derive(Clone)]
struct MetaChain<'a> {
    sets: Vec<&'a Attributes>,
    /// The stickiness when no set in the chain has one (clones default to 1).
    default_stickiness: Option<i32>,
}

impl<'a> MetaChain<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        let legacy = match name {
            "promoted-max" => Some("master-max"),
            "promoted-node-max" => Some("master-node-max"),
            _ => None,
        };
        self.sets
            .iter()
            .find_map(|s| s.get(name).or_else(|| legacy.and_then(|l| s.get(l))))
    }
    fn score(&self, name: &str) -> Option<i32> {
        self.get(name)
            .map(|v| crate::ws::score_of(v).unwrap_or_default().value())
    }
    fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(parse_bool)
    }
    /// A clone's `clone-max`: the number of nodes by default.
    fn clone_max(&self, n_nodes: usize) -> u32 {
        self.score("clone-max")
            .map(|v| v.max(0) as u32)
            .unwrap_or(n_nodes as u32)
    }
    fn with(&self, first: &'a Attributes) -> MetaChain<'a> {
        let mut sets = vec![first];
        sets.extend(self.sets.iter().copied());
        MetaChain {
            sets,
            default_stickiness: self.default_stickiness,
        }
    }
}

/// How many arena entries [`WorkingSet::add_resource`] makes for `r` (a clone: itself, its
/// instances and their members).
fn arena_size(r: &Resource, chain: &MetaChain<'_>, n_nodes: usize) -> usize {
    match r {
        Resource::Primitive(_) => 1,
        Resource::Group(g) => 1 + g.members.len(),
        Resource::Clone(c) => {
            let each = match &*c.child {
                Resource::Clone(_) => 0,
                child => arena_size(child, chain, n_nodes),
            };
            let chain = chain.with(&c.meta.raw);
            1 + chain.clone_max(n_nodes) as usize * each
        }
    }
}

fn role_of(s: Option<&str>) -> Option<Role> {
    s.and_then(Role::parse)
}

/// Utilization values; in precedence order, the first value of a name wins (a primitive's
/// own over its template's).
impl WorkingSet {
    /// The index of utilization name `k` (see [`Rsc::utilization`]), added to
    /// [`WorkingSet::util_extra`] when no node declares it.
    fn util_index(&mut self, k: String) -> u32 {
        let declared = self.capacity_names.len();
        let ix = match self.capacity_names.binary_search(&k) {
            Ok(ix) => ix,
            Err(_) => match self.util_extra.iter().position(|e| *e == k) {
                Some(e) => declared + e,
                None => {
                    self.util_extra.push(k);
                    declared + self.util_extra.len() - 1
                }
            },
        };
        u32::try_from(ix).expect("fewer than 2^32 utilization names")
    }

    /// Utilization name index `ix`'s name.
    pub fn util_name(&self, ix: u32) -> &str {
        let ix = ix as usize;
        match self.capacity_names.get(ix) {
            Some(name) => name,
            None => &self.util_extra[ix - self.capacity_names.len()],
        }
    }

    /// Utilization name index `ix`'s index in [`Node::cap`]: none when no node declares it.
    pub fn cap_index(&self, ix: u32) -> Option<usize> {
        let ix = ix as usize;
        (ix < self.capacity_names.len()).then_some(ix)
    }
}

fn utilization(a: &Attributes) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for p in a.pairs() {
        if let Some(v) = p
            .value
            .as_deref()
            .and_then(|v| v.trim().parse::<i64>().ok())
        {
            out.entry(p.name.clone()).or_insert(v);
        }
    }
    out
}

impl WorkingSet {
    pub fn build(cib: &Cib, input: &Input) -> WorkingSet {
        WorkingSet::build_with(cib, input, None)
    }

    /// [`WorkingSet::build`] taking the status histories out of `cib` (most of a large
    /// CIB's model): each node's are freed once unpacked, before the score tables are
    /// made, so the two are never in memory together.
    pub fn build_taking_histories(cib: &mut Cib, input: &Input) -> WorkingSet {
        let histories = cib
            .status
            .nodes
            .iter_mut()
            .map(|ns| std::mem::take(&mut ns.resources))
            .collect();
        WorkingSet::build_with(cib, input, Some(histories))
    }

    /// `histories`: each status node's, when taken out of `cib`.
    fn build_with(
        cib: &Cib,
        input: &Input,
        histories: Option<Vec<Vec<ResourceHistory>>>,
    ) -> WorkingSet {
        let o = &cib.options;
        let have_fencing_device = cib.primitives().any(|p| p.is_fencing());
        let mut ws = WorkingSet {
            nodes: Vec::new(),
            capacity_names: Vec::new(),
            util_extra: Vec::new(),
            rscs: Vec::new(),
            top: Vec::new(),
            colocs: Vec::new(),
            orders: Vec::new(),
            fencing_enabled: o.fencing_enabled,
            stop_orphans: o
                .raw
                .get("stop-orphan-resources")
                .and_then(parse_bool)
                .unwrap_or(true),
            have_fencing_device,
            have_quorum: cib.have_quorum.unwrap_or(false),
            no_quorum_policy: o.no_quorum_policy,
            symmetric: o.symmetric_cluster,
            stop_all: o.stop_all_resources,
            placement_strategy: o.placement_strategy,
            table_order: Vec::new(),
            node_ids: Vec::new(),
            name_order: Vec::new(),
            byte_rank: Vec::new(),
            fencing_action: o.fencing_action.clone(),
            anon_clone_children: cib
                .resources
                .iter()
                .filter_map(|r| match r {
                    Resource::Clone(c)
                        if !c
                            .meta
                            .raw
                            .get("globally-unique")
                            .and_then(parse_bool)
                            .unwrap_or(false) =>
                    {
                        Some(c.child.primitives().into_iter().map(|p| p.id.0.clone()))
                    }
                    _ => None,
                })
                .flatten()
                .collect(),
            notes: Vec::new(),
            trace: Vec::new(),
            explain: input.explain,
            log: None,
            histories: None,
            config_index: Default::default(),
            instances: Default::default(),
            spares: Default::default(),
            anon_presence: Default::default(),
            anon_active: Default::default(),
            anon_busy_prefix: Default::default(),
            table_orders: Default::default(),
        };
        ws.build_nodes(cib);
        let mut name_order: Vec<usize> = (0..ws.nodes.len()).collect();
        name_order
            .sort_by(|&a, &b| crate::glib::cmp_node_names(&ws.nodes[a].name, &ws.nodes[b].name));
        ws.name_order = name_order;
        let mut by_bytes: Vec<usize> = (0..ws.nodes.len()).collect();
        by_bytes.sort_by(|&a, &b| ws.nodes[a].name.as_bytes().cmp(ws.nodes[b].name.as_bytes()));
        ws.byte_rank = vec![0; ws.nodes.len()];
        // Equal names (never in a valid CIB) share a rank, as they compared equal.
        let mut rank = 0u32;
        for (k, &n) in by_bytes.iter().enumerate() {
            if k > 0 && ws.nodes[by_bytes[k - 1]].name != ws.nodes[n].name {
                rank += 1;
            }
            ws.byte_rank[n] = rank;
        }
        ws.table_order = ws.node_table_order(|_| true);
        let defaults = MetaChain {
            sets: vec![&cib.rsc_defaults],
            default_stickiness: None,
        };
        // The arena's size is known: it is never grown by doubling (a resource is ~500
        // bytes, tens of thousands at cloud scale).
        let n = ws.nodes.len();
        let size = cib.resources.iter().map(|r| arena_size(r, &defaults, n));
        ws.rscs.reserve_exact(size.sum());
        for r in &cib.resources {
            let i = ws.add_resource(cib, r, None, &defaults, o.maintenance_mode);
            ws.top.push(i);
        }
        // Placement order: by priority (stable), as Pacemaker sorts.
        let mut top = ws.top.clone();
        top.sort_by_key(|&i| std::cmp::Reverse(ws.rscs[i].priority));
        ws.top = top;
        ws.build_index();
        ws.unpack_status(cib, input, histories);
        // The score tables, made now that the histories may be gone: symmetric clusters
        // allow every node (an orphan's table, made as it was met, allows none).
        for x in 0..ws.rscs.len() {
            ws.make_table(x);
        }
        ws.anon_active = Default::default();
        ws.anon_busy_prefix = Default::default();
        // no-quorum-policy=suicide (fence): a partition without quorum fences itself.
        if ws.fencing_enabled
            && !ws.have_quorum
            && ws.no_quorum_policy == NoQuorumPolicy::Fence
            && cib.no_quorum_panic
        {
            for node in ws.nodes.iter_mut().filter(|n| n.online && !n.unclean) {
                node.unclean = true;
                node.unclean_reason = "cluster does not have quorum".into();
            }
        }
        ws.build_colocations(cib);
        ws.build_orders(cib);
        ws.apply_locations(cib, input, None);
        ws.apply_stickiness(None);
        ws.apply_fail_limits(cib, input, None);
        ws.apply_exclusive_discovery(None);
        ws.anon_presence = ws.anon_presence();
        ws
    }

    fn build_nodes(&mut self, cib: &Cib) {
        let mut utils = Vec::new();
        for n in &cib.nodes {
            self.node_ids.push(if n.id.is_empty() {
                n.uname.0.clone()
            } else {
                n.id.clone()
            });
            let attrs = node_attrs(cib, n);
            let state = cib.status.node(n.uname.as_str());
            let flag = |name: &str| attrs.get(name).and_then(|v| parse_bool(v)).unwrap_or(false);
            let standby = n.standby || flag("standby");
            let maintenance = n.maintenance || flag("maintenance");
            let (online, unclean, shutdown, pending, reason) =
                node_status(state, self.fencing_enabled);
            utils.push(utilization(&n.utilization));
            self.nodes.push(Node {
                name: n.uname.0.clone(),
                online,
                unclean,
                standby: standby || pending,
                maintenance,
                shutdown,
                pending,
                unclean_reason: reason,
                attrs,
                cap: Vec::new(),
                declared: Vec::new(),
                num_resources: 0,
            });
        }
        let mut names: Vec<String> = utils.iter().flat_map(|u| u.keys().cloned()).collect();
        names.sort_unstable();
        names.dedup();
        for (node, util) in self.nodes.iter_mut().zip(&utils) {
            node.cap = names
                .iter()
                .map(|k| util.get(k).copied().unwrap_or(0))
                .collect();
            node.declared = names.iter().map(|k| util.contains_key(k)).collect();
        }
        self.capacity_names = names;
    }

    fn anon_presence(&self) -> crate::hash::Map<String, (Vec<Option<usize>>, Vec<bool>)> {
        let mut out = crate::hash::Map::default();
        for base in self.instances.keys() {
            if let Some(p) = self.presence_of(base) {
                out.insert(base.clone(), p);
            }
        }
        out
    }

    /// An anonymous clone's primitive (by base id): for each node, its first instance
    /// active there, and whether any instance is known there. `None` for other resources.
    #[allow(clippy::type_complexity)]
    fn presence_of(&self, base: &str) -> Option<(Vec<Option<usize>>, Vec<bool>)> {
        let prims = self.instances.get(base)?;
        let anon = prims
            .first()
            .and_then(|&p| self.clone_of(p))
            .is_some_and(|c| !self.rscs[c].unique);
        if !anon {
            return None;
        }
        let mut active = vec![None; self.nodes.len()];
        let mut known = vec![false; self.nodes.len()];
        for &p in prims {
            for &n in &self.rscs[p].running_on {
                active[n].get_or_insert(p);
            }
            for &n in &self.rscs[p].known_on {
                known[n] = true;
            }
        }
        Some((active, known))
    }

    /// The order in which Pacemaker lists the nodes of node table `t` (its entries that are
    /// `Some`): the precomputed [`WorkingSet::table_order`] when it holds every node.
    pub fn listed_order<'a>(&'a self, t: &[Weight]) -> Listed<'a> {
        if t.iter().all(|w| w.is_some()) {
            return Listed::All(&self.table_order);
        }
        // Many resources' tables hold the same nodes: GLib's layout is worked out once
        // per set of nodes (a bit each), and shared.
        let mut present = vec![0u64; t.len().div_ceil(64)].into_boxed_slice();
        for (n, w) in t.iter().enumerate() {
            present[n / 64] |= u64::from(w.is_some()) << (n % 64);
        }
        let mut known = self.table_orders.borrow_mut();
        let order = known.entry(present).or_insert_with_key(|present| {
            self.node_table_order(|n| present[n / 64] >> (n % 64) & 1 == 1)
                .into()
        });
        Listed::Shared(order.clone())
    }

    /// The order Pacemaker meets the nodes of a node table holding the nodes `present`
    /// says it holds (filled in node-list order): see `glib`.
    fn node_table_order(&self, present: impl Fn(usize) -> bool) -> Vec<usize> {
        let ids: Vec<&str> = self.node_ids.iter().map(String::as_str).collect();
        let inserted: Vec<usize> = self
            .name_order
            .iter()
            .copied()
            .filter(|&n| present(n))
            .collect();
        crate::glib::values_order(&ids, &inserted)
    }

    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    fn new_rsc(&self, id: String, base: String, kind: Kind, parent: Option<usize>) -> Rsc {
        Rsc {
            id,
            base,
            kind,
            parent,
            children: Vec::new(),
            is_fencing: false,
            orphan: false,
            stickiness: 0,
            migration_threshold: INF,
            failure_timeout_s: 0,
            target_role: None,
            managed: true,
            priority: 0,
            allow_migrate: false,
            restart_with_first: false,
            critical: true,
            requires_quorum: true,
            multiple_active: MultipleActive::StopStart,
            utilization: Box::default(),
            on_fail: Vec::new(),
            monitors: Vec::new(),
            known_on: Vec::new(),
            promotable: false,
            unique: false,
            numbered: false,
            clone_max: 0,
            clone_node_max: 1,
            promoted_max: 1,
            promoted_node_max: 1,
            interleave: false,
            ordered_group: true,
            ordered_clone: false,
            notify: false,
            discover: Vec::new(),
            exclusive_discover: false,
            // Made once the status is unpacked (see `build_with`).
            allowed: Vec::new(),
            promo_loc: Vec::new(),
            running_on: Vec::new(),
            role: Role::Stopped,
            failed: false,
            start_pending: false,
            stop_failed_on: Vec::new(),
            dangling: Vec::new(),
            changed_on: Vec::new(),
            fails_nodes: Vec::new(),
            next_role: None,
            assigned: None,
            provisional: true,
            allocating: false,
            merging: false,
            this_with: Vec::new(),
            with_this: Vec::new(),
        }
    }

    fn apply_meta(&self, r: &mut Rsc, m: &MetaChain<'_>, maintenance_mode: bool) {
        if let Some(s) = m.score("resource-stickiness").or(m.default_stickiness) {
            r.stickiness = s;
        }
        if let Some(s) = m.score("migration-threshold") {
            r.migration_threshold = s;
        }
        if let Some(v) = m.get("failure-timeout") {
            r.failure_timeout_s = cib::duration::parse_ms(v)
                .map(|ms| (ms / 1000) as i64)
                .unwrap_or(0);
        }
        r.target_role = role_of(m.get("target-role"));
        let maint = m.bool("maintenance").unwrap_or(false) || maintenance_mode;
        r.managed = m.bool("is-managed").unwrap_or(true) && !maint;
        r.priority = m.score("priority").unwrap_or(0);
        r.allow_migrate = m.bool("allow-migrate").unwrap_or(false);
        r.restart_with_first = m
            .get("restart-type")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("restart"));
        r.critical = m.bool("critical").unwrap_or(true);
        r.requires_quorum = !m
            .get("requires")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("nothing"));
        r.multiple_active = match m
            .get("multiple-active")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("block") => MultipleActive::Block,
            Some("stop_only") => MultipleActive::StopOnly,
            Some("stop_unexpected") => MultipleActive::StopUnexpected,
            _ => MultipleActive::StopStart,
        };
    }

    fn add_resource(
        &mut self,
        cib: &Cib,
        r: &Resource,
        parent: Option<usize>,
        chain: &MetaChain<'_>,
        maint: bool,
    ) -> usize {
        let _ = cib;
        match r {
            Resource::Primitive(p) => self.add_primitive(p, p.id.0.clone(), parent, chain, maint),
            Resource::Group(g) => self.add_group(g, g.id.0.clone(), parent, chain, maint),
            Resource::Clone(c) => {
                let (rsc, chain) = self.clone_rsc(c, parent, chain, maint);
                let ci = self.push(rsc);
                for k in 0..self.rscs[ci].clone_max {
                    let inst = match &*c.child {
                        // Every instance of a primitive is the first but for its id (its
                        // meta-attributes, utilization and operations are the child's).
                        Resource::Primitive(p) => match self.rscs[ci].children.first() {
                            Some(&first) => {
                                let mut r = self.rscs[first].clone();
                                r.id = format!("{}:{k}", p.id);
                                self.push(r)
                            }
                            None => self.add_primitive(
                                p,
                                format!("{}:{k}", p.id),
                                Some(ci),
                                &chain,
                                maint,
                            ),
                        },
                        Resource::Group(g) => {
                            self.add_group(g, format!("{}:{k}", g.id), Some(ci), &chain, maint)
                        }
                        Resource::Clone(_) => continue,
                    };
                    self.rscs[ci].children.push(inst);
                }
                ci
            }
        }
    }

    /// A group (or a clone's group instance `id`) and its members, added to the arena.
    fn add_group(
        &mut self,
        g: &Group,
        id: String,
        parent: Option<usize>,
        chain: &MetaChain<'_>,
        maint: bool,
    ) -> usize {
        let suffix = id.strip_prefix(g.id.as_str()).unwrap_or("").to_owned();
        let (rsc, chain) = self.group_rsc(g, id, parent, chain, maint);
        let gi = self.push(rsc);
        for m in &g.members {
            let c = self.add_primitive(m, format!("{}{suffix}", m.id), Some(gi), &chain, maint);
            self.rscs[gi].children.push(c);
        }
        gi
    }

    /// A group's arena entry (its members not yet added) and the meta-attribute chain its
    /// members inherit.
    fn group_rsc<'a>(
        &self,
        g: &'a Group,
        id: String,
        parent: Option<usize>,
        chain: &MetaChain<'a>,
        maint: bool,
    ) -> (Rsc, MetaChain<'a>) {
        let chain = chain.with(&g.meta.raw);
        let mut rsc = self.new_rsc(id, g.id.0.clone(), Kind::Group, parent);
        self.apply_meta(&mut rsc, &chain, maint);
        rsc.ordered_group = chain.bool("ordered").unwrap_or(true);
        (rsc, chain)
    }

    /// A clone's arena entry (its instances not yet added) and the meta-attribute chain
    /// its instances inherit.
    fn clone_rsc<'a>(
        &self,
        c: &'a CloneResource,
        parent: Option<usize>,
        chain: &MetaChain<'a>,
        maint: bool,
    ) -> (Rsc, MetaChain<'a>) {
        let mut chain = chain.with(&c.meta.raw);
        let mut rsc = self.new_rsc(c.id.0.clone(), c.id.0.clone(), Kind::Clone, parent);
        self.apply_meta(&mut rsc, &chain, maint);
        // Clones (and so their instances) are sticky by default.
        if chain.get("resource-stickiness").is_none() {
            chain.default_stickiness = Some(1);
            rsc.stickiness = 1;
        }
        rsc.promotable = c.promotable;
        rsc.unique = chain.bool("globally-unique").unwrap_or(false);
        // Pacemaker reads the first globally-unique; a later "true" beside it makes
        // the comparison form keep instance numbers (as the oracle's strip does).
        rsc.numbered = !rsc.unique
            && c.meta.raw.pairs().any(|p| {
                p.name == "globally-unique" && p.value.as_deref().and_then(parse_bool) == Some(true)
            });
        rsc.clone_max = chain.clone_max(self.nodes.len());
        rsc.clone_node_max = chain
            .score("clone-node-max")
            .map(|v| v.max(0) as u32)
            .unwrap_or(1);
        rsc.promoted_max = chain
            .score("promoted-max")
            .map(|v| v.max(0) as u32)
            .unwrap_or(1);
        rsc.promoted_node_max = chain
            .score("promoted-node-max")
            .map(|v| v.max(0) as u32)
            .unwrap_or(1);
        rsc.interleave = chain.bool("interleave").unwrap_or(false);
        rsc.ordered_clone = chain.bool("ordered").unwrap_or(false);
        rsc.notify = chain.bool("notify").unwrap_or(false);
        (rsc, chain)
    }

    fn add_primitive(
        &mut self,
        p: &Primitive,
        id: String,
        parent: Option<usize>,
        chain: &MetaChain<'_>,
        maint: bool,
    ) -> usize {
        let rsc = self.primitive_rsc(p, id, parent, chain, maint);
        self.push(rsc)
    }

    /// A primitive's arena entry as its configuration makes it, before the status is read.
    fn primitive_rsc(
        &mut self,
        p: &Primitive,
        id: String,
        parent: Option<usize>,
        chain: &MetaChain<'_>,
        maint: bool,
    ) -> Rsc {
        let chain = chain.with(&p.meta.raw);
        let mut rsc = self.new_rsc(id, p.id.0.clone(), Kind::Primitive, parent);
        self.apply_meta(&mut rsc, &chain, maint);
        rsc.is_fencing = p.is_fencing();
        let mut util: Vec<(u32, i64)> = utilization(&p.utilization)
            .into_iter()
            .map(|(k, v)| (self.util_index(k), v))
            .collect();
        util.sort_unstable();
        rsc.utilization = util.into();
        rsc.monitors = p
            .ops
            .iter()
            .filter(|o| o.name == "monitor" && o.interval_ms > 0 && o.enabled)
            .map(|o| (o.interval_ms, o.role))
            .collect();
        rsc.on_fail = p
            .ops
            .iter()
            .filter_map(|o| Some((o.name.clone(), o.interval_ms, o.on_fail?)))
            .collect();
        rsc
    }

    fn push(&mut self, r: Rsc) -> usize {
        self.rscs.push(r);
        self.rscs.len() - 1
    }

    /// The arena entry a constraint's resource id names (top-level, group member or clone).
    pub fn find(&self, id: &str) -> Option<usize> {
        self.config_index.get(id).copied()
    }

    /// Index configured resources by id and clone instances by base id (lookups only: no
    /// map iteration reaches the output).
    fn build_index(&mut self) {
        for i in 0..self.rscs.len() {
            let r = &self.rscs[i];
            let in_clone = self.clone_of(i).is_some();
            if r.kind == Kind::Clone || !in_clone {
                self.config_index.entry(r.id.clone()).or_insert(i);
            } else if r.kind == Kind::Primitive {
                self.instances.entry(r.base.clone()).or_default().push(i);
            }
        }
    }

    /// The clone an instance (or an instance's member) belongs to.
    pub fn clone_of(&self, i: usize) -> Option<usize> {
        let mut cur = self.rscs[i].parent;
        while let Some(p) = cur {
            if self.rscs[p].kind == Kind::Clone {
                return Some(p);
            }
            cur = self.rscs[p].parent;
        }
        None
    }

    /// Every primitive below (and including) `i`.
    pub fn primitives_of(&self, i: usize) -> Vec<usize> {
        // The common shapes without a walk: a primitive, a group (of primitives).
        let r = &self.rscs[i];
        if r.kind == Kind::Primitive {
            return vec![i];
        }
        if r.kind == Kind::Group
            && r.children
                .iter()
                .all(|&c| self.rscs[c].kind == Kind::Primitive)
        {
            return r.children.clone();
        }
        let mut out = Vec::new();
        let mut stack = vec![i];
        while let Some(x) = stack.pop() {
            if self.rscs[x].kind == Kind::Primitive {
                out.push(x);
            } else {
                for &c in self.rscs[x].children.iter().rev() {
                    stack.push(c);
                }
            }
        }
        out
    }

    /// Whether `f` holds for some primitive below (and including) `i`, without collecting
    /// them ([`WorkingSet::primitives_of`]).
    pub fn any_primitive(&self, i: usize, f: &mut impl FnMut(usize) -> bool) -> bool {
        if self.rscs[i].kind == Kind::Primitive {
            return f(i);
        }
        self.rscs[i]
            .children
            .iter()
            .any(|&c| self.any_primitive(c, f))
    }

    // ----- status -----

    /// `owned`: each status node's histories, taken out of `cib`; each node's are freed
    /// once they are unpacked.
    fn unpack_status(
        &mut self,
        cib: &Cib,
        input: &Input,
        mut owned: Option<Vec<Vec<ResourceHistory>>>,
    ) {
        // Configured primitives by id, for the digests of their parameters (lookups only).
        let prims: crate::hash::Map<&str, &Primitive> =
            cib.primitives().map(|p| (p.id.as_str(), p)).collect();
        // Each node's attributes for the parameter rules, once (not per history entry).
        let attrs: Vec<Attrs> = self
            .nodes
            .iter()
            .map(|n| crate::params::attrs_of(cib, &n.name))
            .collect();
        let inherited = crate::params::all_inherited_sets(cib);
        // Pacemaker reads the histories of online nodes first, then (with fencing) those of
        // the others: an anonymous clone's instances bind to online nodes first, and what
        // runs on a lost node beyond clone-max is the orphan.
        for (k, ni) in self.status_order(cib) {
            let ns = &cib.status.nodes[k];
            let taken = owned.as_mut().map(|o| std::mem::take(&mut o[k]));
            for h in taken.as_ref().unwrap_or(&ns.resources) {
                self.unpack_history((&prims, &inherited), &attrs[ni], ni, ns, h, input.now);
            }
        }
        drop(owned);
        for i in 0..self.rscs.len() {
            self.unclean_by(i);
        }
    }

    /// The status nodes whose histories are read, in the order they are read: (index in
    /// the status section, node index).
    fn status_order(&self, cib: &Cib) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for online_pass in [true, false] {
            for (k, ns) in cib.status.nodes.iter().enumerate() {
                let Some(ni) = self.node_index(ns.uname.as_str()) else {
                    continue;
                };
                let node = &self.nodes[ni];
                if node.online != online_pass || !self.fencing_enabled && !node.online {
                    continue;
                }
                out.push((k, ni));
            }
        }
        out
    }

    /// The arena entries of top-level resources `tops` and everything below them, in
    /// arena order.
    pub fn entries_of(&self, tops: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = tops.to_vec();
        while let Some(x) = stack.pop() {
            out.push(x);
            stack.extend(&self.rscs[x].children);
        }
        out.sort_unstable();
        out
    }

    /// A resource thought active on an offline node that is not already unclean makes
    /// that node unclean: silence is not proof it stopped. So does a failed stop.
    fn unclean_by(&mut self, i: usize) {
        if self.rscs[i].kind != Kind::Primitive || !self.rscs[i].managed {
            return;
        }
        for &n in &self.rscs[i].running_on.clone() {
            let node = &mut self.nodes[n];
            if !node.online && !node.unclean && self.fencing_enabled {
                node.unclean = true;
                node.unclean_reason = format!("{} is thought to be active there", self.rscs[i].id);
            }
        }
        for &n in &self.rscs[i].stop_failed_on.clone() {
            if self.fencing_enabled {
                let node = &mut self.nodes[n];
                if !node.unclean {
                    node.unclean = true;
                    node.unclean_reason = format!("{} failed there", self.rscs[i].id);
                }
            }
        }
    }

    fn unpack_history(
        &mut self,
        (prims, inherited): (
            &crate::hash::Map<&str, &Primitive>,
            &crate::hash::Map<&str, Vec<&cib::model::Attributes>>,
        ),
        node_attrs: &Attrs,
        ni: usize,
        _ns: &NodeState,
        h: &ResourceHistory,
        now: Option<i64>,
    ) {
        let st = &h.state;
        let active = st.role.is_active();
        if !active {
            self.spare_instance(ni, h.id.as_str());
        }
        let Some(ri) = self.match_history(ni, h.id.as_str(), active) else {
            if active {
                // An orphan: configured no more, still running. Stop it (unless told not to).
                // An anonymous clone's extra instance (`rsc:N`) is shown by its base id.
                let base = base_id(h.id.as_str());
                let id = if self.anon_clone_children.contains(base) {
                    base.to_owned()
                } else {
                    h.id.0.clone()
                };
                let existing = self.rscs.iter().position(|r| r.orphan && r.id == id);
                let i = match existing {
                    Some(i) => i,
                    None => {
                        let mut r = self.new_rsc(id.clone(), id, Kind::Primitive, None);
                        r.orphan = true;
                        r.allowed = vec![Weight::NONE; self.nodes.len()];
                        r.target_role = Some(Role::Stopped);
                        r.managed = self.stop_orphans;
                        r.is_fencing = h.class.as_deref() == Some("stonith");
                        let i = self.push(r);
                        self.top.push(i);
                        i
                    }
                };
                let r = &mut self.rscs[i];
                r.running_on.push(ni);
                r.role = r.role.max(st.role);
                r.failed |= st.failed;
            }
            return;
        };
        if !self.rscs[ri].known_on.contains(&ni) {
            self.rscs[ri].known_on.push(ni);
        }
        if st.migrated_away && !self.rscs[ri].dangling.contains(&ni) {
            self.rscs[ri].dangling.push(ni);
        }
        let promotable = self.clone_of(ri).is_some_and(|c| self.rscs[c].promotable);
        let anon_clone = self.clone_of(ri).filter(|&c| !self.rscs[c].unique);
        // The failure that decides recovery: the latest one, unless it has expired.
        let mut failed = st.failed;
        let mut stop_failed = st.stop_failed;
        let mut on_fail = OnFail::Restart;
        // A failed demote is recovered from the Unpromoted role (stop and start again).
        let mut demote_failed = false;
        if let Some(op) = st
            .failed_ops
            .iter()
            .map(|&k| &h.ops[k])
            .max_by_key(|o| o.call_id)
        {
            let timeout = self.rscs[ri].failure_timeout_s;
            let expired = timeout > 0
                && now.is_some_and(|now| op.last_rc_change.is_some_and(|t| t + timeout <= now));
            // Hard errors ban the node, fatal ones every node, whatever the on-fail.
            let ban_target = anon_clone.unwrap_or(ri);
            match op.rc {
                // "Unimplemented" from a recurring operation is an ordinary failure.
                3 if op.interval_ms > 0 => {}
                2..=5 if !expired => self.add_location(
                    ban_target,
                    ni,
                    -INF,
                    format!(
                        "{} failed with rc {} here (a hard error)",
                        op.operation, op.rc
                    ),
                ),
                6 if !expired => {
                    for n in 0..self.nodes.len() {
                        self.add_location(
                            ban_target,
                            n,
                            -INF,
                            format!(
                                "{} failed with rc 6 (not configured: a fatal error)",
                                op.operation
                            ),
                        );
                    }
                }
                _ => {}
            }
            if expired {
                failed = false;
                stop_failed = false;
            } else {
                let configured = self.rscs[ri]
                    .on_fail
                    .iter()
                    .find(|(name, interval, _)| {
                        *name == op.operation && *interval == op.interval_ms
                    })
                    .map(|x| x.2);
                demote_failed = op.operation == "demote";
                on_fail = configured.unwrap_or(if op.operation == "stop" {
                    if self.fencing_enabled {
                        OnFail::Fence
                    } else {
                        OnFail::Block
                    }
                } else {
                    OnFail::Restart
                });
            }
        }
        if failed && active {
            match on_fail {
                OnFail::Ignore => {
                    failed = false;
                    stop_failed = false;
                }
                OnFail::Block => {
                    self.rscs[ri].managed = false;
                    stop_failed = false;
                }
                OnFail::Stop => self.rscs[ri].target_role = Some(Role::Stopped),
                OnFail::Fence => {
                    self.rscs[ri].fails_nodes.push((ni, true));
                    let node = &mut self.nodes[ni];
                    if !node.unclean {
                        node.unclean = true;
                        node.unclean_reason = format!("{} failed there", self.rscs[ri].id);
                    }
                }
                OnFail::Standby => {
                    self.rscs[ri].fails_nodes.push((ni, false));
                    self.nodes[ni].standby = true;
                }
                _ => {}
            }
        }
        if active && !self.rscs[ri].running_on.contains(&ni) {
            self.note_anon_active(ri, ni);
        }
        let r = &mut self.rscs[ri];
        if active {
            if !r.running_on.contains(&ni) {
                r.running_on.push(ni);
            }
            let mut role = st.role;
            if promotable && role == Role::Started
                || demote_failed && failed && on_fail == OnFail::Restart
            {
                role = Role::Unpromoted;
            }
            if role > r.role {
                r.role = role;
            }
            if failed {
                r.failed = true;
            }
            if stop_failed {
                r.stop_failed_on.push(ni);
            }
            if st.pending.as_deref() == Some("start") {
                r.start_pending = true;
            }
            if let Some(prim) = prims.get(r.base.as_str()) {
                let up = inherited
                    .get(r.base.as_str())
                    .map_or(&[][..], Vec::as_slice);
                // As `instance_params`, with the node's attributes computed once; an
                // operation's own parameters resolved the same way.
                let params = crate::params::instance_params_on(up, prim, node_attrs, now);
                let extra = |task: &str| {
                    prim.ops
                        .iter()
                        .find(|o| o.name == task && o.interval_ms == 0)
                        .map(|o| crate::params::resolve(&o.params, node_attrs, now))
                        .unwrap_or_default()
                };
                if let Some(c) = definition::change(&h.ops, &params, extra) {
                    self.rscs[ri].changed_on.push((ni, c));
                }
            }
        }
    }

    /// Pacemaker binds each history entry of an anonymous clone to an instance as it reads
    /// it: one active on that node, else one active nowhere yet. When there is neither
    /// (every instance already runs elsewhere), or when the instance on that node already
    /// has this entry's resource running (a second entry for it), it creates a spare
    /// instance, numbered after the others. For an inactive entry (`id` on node `ni`)
    /// this records that spare in [`WorkingSet::spares`]; it never runs, but the clone's
    /// notifications list it in `notify_inactive_resource`.
    fn spare_instance(&mut self, ni: usize, id: &str) {
        let base = base_id(id);
        let Some(instances) = self.instances.get(base) else {
            return;
        };
        let Some(clone) = instances.first().and_then(|&i| self.clone_of(i)) else {
            return;
        };
        if self.rscs[clone].unique {
            return;
        }
        let top = |i: usize| -> usize {
            let mut cur = i;
            while let Some(p) = self.rscs[cur].parent {
                if p == clone {
                    return cur;
                }
                cur = p;
            }
            cur
        };
        let (mut here, mut free) = (false, false);
        for &i in instances {
            let members = self.primitives_of(top(i));
            let mut nodes = members.iter().flat_map(|&p| &self.rscs[p].running_on);
            match nodes.next() {
                Some(&n) if n == ni => {
                    if self.rscs[i].running_on.is_empty() {
                        return; // this member of the instance here: no spare
                    }
                    here = true;
                }
                Some(_) => {}
                None => free = true,
            }
        }
        // A spare made earlier is an instance too, and active nowhere.
        free |= self.spares.contains_key(&clone);
        if free && !here {
            return;
        }
        // The spare is a whole instance of the clone's child (all members of a group).
        let number = self.rscs[clone].children.len()
            + self.spares.get(&clone).map_or(0, |v| {
                v.len()
                    / self
                        .primitives_of(self.rscs[clone].children[0])
                        .len()
                        .max(1)
            });
        let child = self.rscs[clone].children[0];
        let ids: Vec<String> = self
            .primitives_of(child)
            .iter()
            .map(|&p| format!("{}:{number}", self.rscs[p].base))
            .collect();
        self.spares.entry(clone).or_default().extend(ids);
    }

    /// The arena primitive a history entry belongs to, binding anonymous clone instances
    /// to nodes as Pacemaker does: an instance already active on the node, else the first
    /// instance active nowhere.
    fn match_history(&mut self, ni: usize, id: &str, active: bool) -> Option<usize> {
        if let Some(&i) = self.config_index.get(id) {
            if self.rscs[i].kind == Kind::Primitive {
                return Some(i);
            }
        }
        let base = base_id(id);
        let instances: &[usize] = self.instances.get(base).map_or(&[], Vec::as_slice);
        if instances.is_empty() {
            return None;
        }
        let clone = self.clone_of(instances[0])?;
        if self.rscs[clone].unique {
            return instances.iter().copied().find(|&i| self.rscs[i].id == id);
        }
        // Same instance already here (or its group instance has a member here): the
        // first, in instance order, of those `anon_active` lists for this node.
        if let Some(here) = self.anon_active.get(&(clone, ni)) {
            for &i in instances {
                if !here.contains(&self.instance_top(i, clone)) {
                    continue;
                }
                // A second active copy of the same primitive here is another instance.
                if active && self.rscs[i].running_on.contains(&ni) {
                    continue;
                }
                return Some(i);
            }
        }
        if !active {
            return instances.first().copied();
        }
        // The first instance active nowhere; those before the busy prefix are active.
        let first = instances[0];
        let from = self.anon_busy_prefix.get(&first).copied().unwrap_or(0);
        let found = instances[from..].iter().position(|&i| {
            let t = self.instance_top(i, clone);
            !self.any_primitive(t, &mut |p| !self.rscs[p].running_on.is_empty())
        });
        let skip = found.unwrap_or(instances.len() - from);
        let found = found.map(|k| instances[from + k]);
        self.anon_busy_prefix.insert(first, from + skip);
        found
    }

    /// The child of `clone` that `i` belongs to (itself, or its group instance).
    fn instance_top(&self, i: usize, clone: usize) -> usize {
        let mut cur = i;
        while let Some(p) = self.rscs[cur].parent {
            if p == clone {
                return cur;
            }
            cur = p;
        }
        cur
    }

    /// Record, for [`WorkingSet::match_history`], that primitive `i` becomes active on
    /// node `ni` (before its `running_on` says so).
    fn note_anon_active(&mut self, i: usize, ni: usize) {
        let Some(clone) = self.clone_of(i) else {
            return;
        };
        if self.rscs[clone].unique {
            return;
        }
        let top = self.instance_top(i, clone);
        let here = self.anon_active.entry((clone, ni)).or_default();
        if !here.contains(&top) {
            here.push(top);
        }
    }

    // ----- constraints -----

    fn build_colocations(&mut self, cib: &Cib) {
        // Group internal colocations: each member with the previous one.
        for g in 0..self.rscs.len() {
            if self.rscs[g].kind != Kind::Group {
                continue;
            }
            let members = self.rscs[g].children.clone();
            for w in members.windows(2) {
                let influence = self.rscs[w[1]].critical;
                self.new_coloc(
                    "group:internal_colocation",
                    w[1],
                    w[0],
                    INF,
                    None,
                    None,
                    None,
                    influence,
                );
            }
        }
        for c in &cib.colocations {
            self.unpack_colocation(c);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn new_coloc(
        &mut self,
        id: &str,
        dependent: usize,
        primary: usize,
        score: i32,
        dependent_role: Option<Role>,
        primary_role: Option<Role>,
        node_attr: Option<&str>,
        influence: bool,
    ) {
        if score == 0 {
            return;
        }
        let norm = |r: Option<Role>| r.filter(|r| *r != Role::Started);
        let ci = self.colocs.len();
        self.colocs.push(Coloc {
            id: id.to_owned(),
            dependent,
            primary,
            merge_primary: primary,
            score,
            dependent_role: norm(dependent_role),
            primary_role: norm(primary_role),
            node_attr: node_attr.unwrap_or("#uname").to_owned(),
            influence,
        });
        self.rscs[dependent].this_with.push(ci);
        self.rscs[primary].with_this.push(ci);
        if score <= -INF {
            // Anti-colocation also orders the two: what makes one lose its role comes
            // before what makes the other gain its role (as Pacemaker 2.1.5 does).
            let (dr, pr) = (norm(dependent_role), norm(primary_role));
            for (a, ar, b, br) in [(dependent, dr, primary, pr), (primary, pr, dependent, dr)] {
                let lose: &[&str] = match ar {
                    Some(Role::Promoted) => &["demote"],
                    Some(Role::Unpromoted) => &["stop", "promote"],
                    _ => &["stop"],
                };
                let gain: &[&str] = match br {
                    Some(Role::Promoted) => &["promote"],
                    Some(Role::Unpromoted) => &["start", "demote"],
                    _ => &["start"],
                };
                for fa in lose {
                    for ta in gain {
                        self.orders.push(Ord {
                            first: a,
                            first_action: (*fa).into(),
                            then: b,
                            then_action: (*ta).into(),
                            kind: OrderKind::Optional,
                            symmetrical: false,
                            same_node: true,
                        });
                    }
                }
            }
        }
    }

    fn influence(&self, c: &Colocation, rsc: usize) -> bool {
        c.influence.unwrap_or(self.rscs[rsc].critical)
    }

    fn set_members(&self, s: &ResourceSet) -> Vec<usize> {
        s.members
            .iter()
            .filter_map(|m| self.find(m.as_str()))
            .collect()
    }

    fn unpack_colocation(&mut self, c: &Colocation) {
        let score = c.score.value();
        if c.sets.is_empty() {
            let (Some(d), Some(p)) = (
                c.rsc.as_ref().and_then(|r| self.find(r.as_str())),
                c.with_rsc.as_ref().and_then(|r| self.find(r.as_str())),
            ) else {
                return;
            };
            let inf = self.influence(c, d);
            self.new_coloc(
                &c.id,
                d,
                p,
                score,
                c.rsc_role,
                c.with_rsc_role,
                c.node_attribute.as_deref(),
                inf,
            );
            return;
        }
        let mut last: Option<&ResourceSet> = None;
        for s in &c.sets {
            let local = s.score.map_or(score, |x| x.value());
            let members = self.set_members(s);
            if local != 0 && s.sequential {
                if local > 0 {
                    for w in members.windows(2) {
                        // ordering="group" (default): each member with the previous one.
                        let (dep, prim) = if s
                            .ordering
                            .as_deref()
                            .unwrap_or("group")
                            .eq_ignore_ascii_case("group")
                        {
                            (w[1], w[0])
                        } else {
                            (w[0], w[1])
                        };
                        let inf = self.influence(c, dep);
                        self.new_coloc(&c.id, dep, prim, local, s.role, s.role, None, inf);
                    }
                } else {
                    for (k, &a) in members.iter().enumerate() {
                        let inf = self.influence(c, a);
                        for &b in &members[..k] {
                            self.new_coloc(&c.id, a, b, local, s.role, s.role, None, inf);
                        }
                    }
                }
            }
            if let Some(prev) = last {
                self.colocate_sets(c, prev, s, score);
            }
            last = Some(s);
        }
    }

    fn colocate_sets(&mut self, c: &Colocation, s1: &ResourceSet, s2: &ResourceSet, score: i32) {
        if score == 0 {
            return;
        }
        let m1 = self.set_members(s1);
        let m2 = self.set_members(s2);
        let r1 = if s1.sequential {
            m1.first().copied()
        } else {
            None
        };
        let r2 = if s2.sequential {
            m2.last().copied()
        } else {
            None
        };
        match (r1, r2) {
            (Some(a), Some(b)) => {
                let inf = self.influence(c, a);
                self.new_coloc(&c.id, a, b, score, s1.role, s2.role, None, inf);
            }
            (Some(a), None) => {
                let inf = self.influence(c, a);
                for &b in &m2 {
                    self.new_coloc(&c.id, a, b, score, s1.role, s2.role, None, inf);
                }
            }
            (None, Some(b)) => {
                for &a in &m1 {
                    let inf = self.influence(c, a);
                    self.new_coloc(&c.id, a, b, score, s1.role, s2.role, None, inf);
                }
            }
            (None, None) => {
                for &a in &m1 {
                    let inf = self.influence(c, a);
                    for &b in &m2 {
                        self.new_coloc(&c.id, a, b, score, s1.role, s2.role, None, inf);
                    }
                }
            }
        }
    }

    fn build_orders(&mut self, cib: &Cib) {
        for o in &cib.orders {
            self.unpack_order(o);
        }
    }

    fn push_order(
        &mut self,
        first: usize,
        fa: &str,
        then: usize,
        ta: &str,
        kind: OrderKind,
        symmetrical: bool,
    ) {
        self.orders.push(Ord {
            first,
            first_action: fa.to_owned(),
            then,
            then_action: ta.to_owned(),
            kind,
            symmetrical: symmetrical && kind != OrderKind::Serialize,
            same_node: false,
        });
        if symmetrical && kind != OrderKind::Serialize {
            let inv = |a: &str| match a {
                "start" => Some("stop"),
                "stop" => Some("start"),
                "promote" => Some("demote"),
                "demote" => Some("promote"),
                _ => None,
            };
            if let (Some(ifa), Some(ita)) = (inv(fa), inv(ta)) {
                self.orders.push(Ord {
                    first: then,
                    first_action: ita.to_owned(),
                    then: first,
                    then_action: ifa.to_owned(),
                    kind,
                    symmetrical: false,
                    same_node: false,
                });
            }
        }
    }

    fn unpack_order(&mut self, o: &Order) {
        if o.sets.is_empty() {
            let (Some(f), Some(t)) = (
                o.first.as_ref().and_then(|r| self.find(r.as_str())),
                o.then.as_ref().and_then(|r| self.find(r.as_str())),
            ) else {
                return;
            };
            self.push_order(
                f,
                &o.first_action.clone(),
                t,
                &o.then_action.clone(),
                o.kind,
                o.symmetrical,
            );
            return;
        }
        let mut prev: Option<(Vec<usize>, String, bool)> = None;
        for s in &o.sets {
            let members = self.set_members(s);
            let action = s.action.clone().unwrap_or_else(|| "start".into());
            let kind = match s.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("optional") => OrderKind::Optional,
                Some("serialize") => OrderKind::Serialize,
                Some("mandatory") => OrderKind::Mandatory,
                _ => o.kind,
            };
            if s.sequential {
                for w in members.windows(2) {
                    self.push_order(w[0], &action, w[1], &action, kind, o.symmetrical);
                }
            }
            if let Some((pm, pa, pseq)) = &prev {
                let firsts: Vec<usize> = if *pseq {
                    pm.last().copied().into_iter().collect()
                } else {
                    pm.clone()
                };
                let thens: Vec<usize> = if s.sequential {
                    members.first().copied().into_iter().collect()
                } else {
                    members.clone()
                };
                for &f in &firsts {
                    for &t in &thens {
                        self.push_order(f, pa, t, &action, o.kind, o.symmetrical);
                    }
                }
            }
            prev = Some((members, action, s.sequential));
        }
    }

    fn location_targets(&self, l: &Location) -> Vec<usize> {
        let mut out = Vec::new();
        if let Some(r) = &l.rsc {
            out.extend(self.find(r.as_str()));
        }
        if let Some(p) = &l.rsc_pattern {
            if let Ok(re) = regex_lite::Regex::new(p) {
                for (i, r) in self.rscs.iter().enumerate() {
                    let is_config = r.parent.is_none_or(|p| self.rscs[p].kind != Kind::Clone)
                        || r.kind == Kind::Clone;
                    if is_config && !r.orphan && re.is_match(&r.id) {
                        out.push(i);
                    }
                }
            }
        }
        for s in &l.sets {
            out.extend(self.set_members(s));
        }
        out
    }

    /// `only`: apply the constraints to those resources alone (see [`WorkingSet::renew`]).
    fn apply_locations(&mut self, cib: &Cib, input: &Input, only: Option<&[usize]>) {
        // A location of one named resource (targets only that id) passes over the others
        // without a lookup.
        let only_ids: Option<Vec<String>> =
            only.map(|o| o.iter().map(|&t| self.rscs[t].id.clone()).collect());
        for l in &cib.locations {
            if let (Some(ids), Some(r), None, true) =
                (&only_ids, &l.rsc, &l.rsc_pattern, l.sets.is_empty())
            {
                if !ids.iter().any(|i| i == r.as_str()) {
                    continue;
                }
            }
            let mut targets = self.location_targets(l);
            if let Some(o) = only {
                targets.retain(|t| o.contains(t));
                if targets.is_empty() {
                    continue;
                }
            }
            let mut entries: Vec<(usize, i32, Option<Role>)> = Vec::new();
            if let (Some(node), Some(score)) = (&l.node, l.score) {
                if let Some(ni) = self.node_index(node.as_str()) {
                    entries.push((ni, score.value(), l.role));
                }
            }
            for rule in &l.rules {
                for ni in 0..self.nodes.len() {
                    if !rule_holds(rule, &self.nodes[ni].attrs, input.now) {
                        continue;
                    }
                    let score = if let Some(attr) = &rule.score_attribute {
                        match self.nodes[ni]
                            .attrs
                            .get(attr)
                            .and_then(|v| crate::ws::score_of(v))
                        {
                            Some(s) => s.value(),
                            None => continue,
                        }
                    } else {
                        rule.score.map_or(0, |s| s.value())
                    };
                    entries.push((ni, score, rule.role.or(l.role)));
                }
            }
            for &t in &targets {
                for &(ni, score, role) in &entries {
                    if role == Some(Role::Promoted) {
                        let r = &mut self.rscs[t];
                        if r.promo_loc.is_empty() {
                            r.promo_loc = vec![0; self.nodes.len()];
                        }
                        r.promo_loc[ni] = add(r.promo_loc[ni], score);
                        continue;
                    }
                    self.set_discovery(t, ni, l.resource_discovery);
                    self.add_location_as(
                        t,
                        ni,
                        score,
                        format!("location constraint {}", l.id),
                        true,
                    );
                }
            }
        }
    }

    /// Raise `resource-discovery` of `i` and everything below it on node `ni` to `mode`.
    fn set_discovery(&mut self, i: usize, ni: usize, mode: ResourceDiscovery) {
        let mut stack = vec![i];
        let n = self.nodes.len();
        while let Some(x) = stack.pop() {
            let r = &mut self.rscs[x];
            if r.discover.is_empty() {
                r.discover = vec![ResourceDiscovery::Always; n];
            }
            r.discover[ni] = r.discover[ni].max(mode);
            r.exclusive_discover |= mode == ResourceDiscovery::Exclusive;
            stack.extend(self.rscs[x].children.iter().copied());
        }
    }

    /// With exclusive discovery a resource may run only where a constraint marks the node
    /// `exclusive`: every other node it could run on is banned.
    fn apply_exclusive_discovery(&mut self, only: Option<&[usize]>) {
        for i in self.scope(only) {
            if !self.rscs[i].exclusive_discover {
                continue;
            }
            for ni in 0..self.nodes.len() {
                let r = &mut self.rscs[i];
                if r.allowed[ni].is_some() && r.discovery(ni) != ResourceDiscovery::Exclusive {
                    r.allowed[ni] = Weight::some(-INF);
                    self.push_why(i, ni, -INF, || {
                        "resource-discovery=exclusive does not name this node".into()
                    });
                }
            }
        }
    }

    /// Whether `i` may be probed on node `ni` (its `resource-discovery` there).
    pub fn discoverable(&self, i: usize, ni: usize) -> bool {
        let r = &self.rscs[i];
        match r.discovery(ni) {
            ResourceDiscovery::Never => false,
            ResourceDiscovery::Exclusive => true,
            ResourceDiscovery::Always => !r.exclusive_discover,
        }
    }

    /// Add `score` for node `ni` to `i` and everything below it.
    /// Record a contribution for `--explain` (the reason is only built when asked for).
    pub fn push_why(
        &mut self,
        rsc: usize,
        node: usize,
        delta: i32,
        reason: impl FnOnce() -> String,
    ) {
        if self.explain {
            self.trace.push(Why {
                rsc,
                node,
                delta,
                reason: reason(),
            });
        }
    }

    pub fn add_location(&mut self, i: usize, ni: usize, score: i32, reason: impl Into<String>) {
        self.add_location_as(i, ni, score, reason, false);
    }

    /// Make `x`'s score table if it has none yet: every node allowed with score 0 in a
    /// symmetric cluster, none otherwise. Tables are made once the status is unpacked
    /// (see `build_with`), except for a resource whose history already scores a node.
    fn make_table(&mut self, x: usize) {
        if self.rscs[x].allowed.is_empty() {
            let all = if self.symmetric {
                Weight::some(0)
            } else {
                Weight::NONE
            };
            self.rscs[x].allowed = vec![all; self.nodes.len()];
        }
    }

    /// [`WorkingSet::add_location`]; `constraint`: a location constraint, which a group
    /// passes to its first member only (below).
    fn add_location_as(
        &mut self,
        i: usize,
        ni: usize,
        score: i32,
        reason: impl Into<String>,
        constraint: bool,
    ) {
        if self.explain {
            self.trace.push(Why {
                rsc: i,
                node: ni,
                delta: score,
                reason: reason.into(),
            });
        }
        // A group passes the score to its first member only; the others get the node with
        // score 0, as the first member's score already counts for them through the
        // group's internal colocation (Pacemaker's pcmk__group_apply_location).
        let mut stack = vec![(i, score)];
        while let Some((x, s)) = stack.pop() {
            self.make_table(x);
            let w = &mut self.rscs[x].allowed[ni];
            *w = Weight::some(add(w.unwrap_or(0), s));
            let group = constraint && self.rscs[x].kind == Kind::Group;
            stack.extend(
                self.rscs[x]
                    .children
                    .iter()
                    .enumerate()
                    .map(|(k, &c)| (c, if group && k > 0 { 0 } else { s })),
            );
        }
    }

    fn apply_stickiness(&mut self, only: Option<&[usize]>) {
        for i in self.scope(only) {
            let r = &self.rscs[i];
            if r.kind != Kind::Primitive
                || !r.managed
                || r.stickiness < 1
                || r.running_on.len() != 1
            {
                continue;
            }
            let n = r.running_on[0];
            if !self.symmetric && r.allowed[n].is_none() {
                continue;
            }
            let s = r.stickiness;
            let w = &mut self.rscs[i].allowed[n];
            *w = Weight::some(add(w.unwrap_or(0), s));
            self.push_why(i, n, s, || "resource-stickiness (it runs here now)".into());
        }
    }

    /// The arena entries a pass over resources covers: `only` those, or all.
    fn scope(&self, only: Option<&[usize]>) -> Vec<usize> {
        match only {
            Some(o) => o.to_vec(),
            None => (0..self.rscs.len()).collect(),
        }
    }

    fn apply_fail_limits(&mut self, cib: &Cib, input: &Input, only: Option<&[usize]>) {
        // The names a fail count of one of `only` can have: its id, its base id, or an
        // instance of that base (`base:N`).
        let only_names: Option<Vec<(String, String)>> = only.map(|o| {
            o.iter()
                .map(|&t| (self.rscs[t].id.clone(), self.rscs[t].base.clone()))
                .collect()
        });
        let concerns = |k: &str| {
            only_names.as_ref().is_none_or(|names| {
                let base = k.rsplit_once(':').map(|(b, _)| b);
                names
                    .iter()
                    .any(|(id, b)| id == k || b == k || base == Some(b.as_str()))
            })
        };
        for ni in 0..self.nodes.len() {
            let Some(ns) = cib.status.node(&self.nodes[ni].name) else {
                continue;
            };
            // Only the primitives a fail count names can reach a threshold: look them up
            // by the names (a plain primitive by id, a unique instance `rsc:N` and an
            // anonymous one by its base id) rather than testing every resource against
            // every count; in arena order, as a scan would meet them.
            let mut named: Vec<usize> = Vec::new();
            for f in ns
                .fail_counts
                .iter()
                .filter(|f| concerns(f.resource.as_str()))
            {
                let k = f.resource.as_str();
                named.extend(self.config_index.get(k));
                named.extend(self.instances.get(k).into_iter().flatten());
                if let Some((base, _)) = k.rsplit_once(':') {
                    named.extend(self.instances.get(base).into_iter().flatten());
                }
            }
            named.sort_unstable();
            named.dedup();
            named.retain(|i| only.is_none_or(|o| o.contains(i)));
            // An anonymous clone's instances share their fail counts (by base id) and
            // settings: each comes to the same ban of the clone, which the first made
            // (scores stay at -INFINITY). Only `--explain` lists each.
            let mut weighed: Vec<(usize, String)> = Vec::new();
            for i in named {
                let r = &self.rscs[i];
                if r.kind != Kind::Primitive || r.orphan || r.migration_threshold <= 0 {
                    continue;
                }
                let clone = self.clone_of(i);
                let anon = clone.is_some_and(|c| !self.rscs[c].unique);
                let key = if anon { r.base.as_str() } else { r.id.as_str() };
                if let (Some(c), true, false) = (clone, anon, self.explain) {
                    if weighed.iter().any(|(w, k)| *w == c && k == key) {
                        continue;
                    }
                    weighed.push((c, key.to_owned()));
                }
                let mut count = 0i32;
                for f in &ns.fail_counts {
                    if f.resource.as_str() != key {
                        continue;
                    }
                    if r.failure_timeout_s > 0 {
                        if let Some(now) = input.now {
                            let last = ns
                                .last_failures
                                .iter()
                                .filter(|l| l.resource.as_str() == key)
                                .map(|l| l.timestamp)
                                .max();
                            if last.is_some_and(|t| t + r.failure_timeout_s <= now) {
                                continue;
                            }
                        }
                    }
                    count = add(count, f.count.value());
                }
                if count > 0 && count >= r.migration_threshold {
                    let target = if anon { clone.unwrap_or(i) } else { i };
                    let why = format!(
                        "fail count {count} reached migration-threshold {}",
                        r.migration_threshold
                    );
                    self.add_location(target, ni, -INF, why);
                }
            }
        }
    }
}

/// The configured id of a history's resource: `rsc` for `rsc:N` (a clone's instance),
/// else the id itself.
pub(crate) fn base_id(id: &str) -> &str {
    match id.rsplit_once(':') {
        Some((b, n)) if n.bytes().all(|c| c.is_ascii_digit()) => b,
        _ => id,
    }
}

/// A node's (online, unclean, shutdown, pending, reason) from its node_state, as Pacemaker
/// determines it.
fn node_status(state: Option<&NodeState>, fencing: bool) -> (bool, bool, bool, bool, String) {
    let Some(s) = state else {
        // Never seen: with fencing, it must be fenced before anything it may run is recovered.
        return (false, fencing, false, false, "node is unclean".into());
    };
    let unclean = |r: &str| (false, true, false, false, r.to_owned());
    if !fencing {
        if s.in_ccm && s.crmd && s.join == cib::status::Join::Member {
            return (true, false, s.shutdown, false, String::new());
        }
        return (false, false, false, false, String::new());
    }
    if s.shutdown {
        return (s.crmd, false, true, false, String::new());
    }
    if !s.in_ccm_known {
        return unclean("peer has not been seen by the cluster");
    }
    if s.join == cib::status::Join::Banned {
        return unclean("peer failed Pacemaker membership criteria");
    }
    if !s.expected_up {
        if s.in_ccm || s.crmd {
            return (s.in_ccm, false, false, true, String::new());
        }
        return (false, false, false, false, String::new());
    }
    if !s.in_ccm {
        return unclean("peer is no longer part of the cluster");
    }
    if !s.crmd {
        return unclean("peer process is no longer available");
    }
    match s.join {
        cib::status::Join::Member => (true, false, false, false, String::new()),
        _ => (true, false, false, true, String::new()),
    }
}

/// A node's attributes as rules see them: its permanent attributes, then its transient ones
/// from the status, then `#uname`, `#id`, `#kind` and `#is_dc`.
pub(crate) fn node_attrs(cib: &Cib, n: &cib::model::Node) -> Attrs {
    let mut attrs: Attrs = BTreeMap::new();
    for p in n.attributes.sets.iter().rev().filter(|s| s.rule.is_none()) {
        for p in p.pairs.iter().rev() {
            if let Some(v) = &p.value {
                attrs.insert(p.name.clone(), v.clone());
            }
        }
    }
    if let Some(st) = cib.status.node(n.uname.as_str()) {
        for p in &st.attributes {
            if let Some(v) = &p.value {
                attrs.insert(p.name.clone(), v.clone());
            }
        }
    }
    attrs.insert("#uname".into(), n.uname.0.clone());
    attrs.insert("#id".into(), n.id.clone());
    attrs.insert("#kind".into(), "cluster".into());
    let is_dc = cib.dc_uuid.as_deref() == Some(n.id.as_str());
    attrs.insert("#is_dc".into(), is_dc.to_string());
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arena_is_sized_before_it_is_filled() {
        // Every kind of resource, clone-max from the clone, from rsc_defaults and from the
        // number of nodes: the size worked out first is the number of entries made.
        let cib = r#"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config/>
    <nodes><node id="1" uname="a"/><node id="2" uname="b"/><node id="3" uname="c"/></nodes>
    <resources>
      <primitive id="p" class="ocf" provider="heartbeat" type="Dummy"/>
      <group id="g">
        <primitive id="g1" class="ocf" provider="heartbeat" type="Dummy"/>
        <primitive id="g2" class="ocf" provider="heartbeat" type="Dummy"/>
      </group>
      <clone id="c1"><primitive id="c1p" class="ocf" provider="heartbeat" type="Dummy"/></clone>
      <clone id="c2">
        <meta_attributes id="c2-m"><nvpair id="c2-m-1" name="clone-max" value="5"/></meta_attributes>
        <group id="cg">
          <primitive id="cg1" class="ocf" provider="heartbeat" type="Dummy"/>
          <primitive id="cg2" class="ocf" provider="heartbeat" type="Dummy"/>
        </group>
      </clone>
      <clone id="c3">
        <meta_attributes id="c3-m"><nvpair id="c3-m-1" name="promotable" value="true"/></meta_attributes>
        <primitive id="c3p" class="ocf" provider="heartbeat" type="Stateful"/>
      </clone>
    </resources>
    <rsc_defaults><meta_attributes id="d"><nvpair id="d-1" name="clone-max" value="2"/></meta_attributes></rsc_defaults>
    <constraints/>
  </configuration>
  <status/>
</cib>"#;
        let parsed = cib::parse("t.xml", cib);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let ws = WorkingSet::build(
            &parsed.cib,
            &Input {
                now: None,
                explain: false,
            },
        );
        // p; g, g1, g2; c1 and 2 instances; c2 and 5 groups of 3; c3 and 2 instances.
        assert_eq!(ws.rscs.len(), 1 + 3 + 3 + 16 + 3);
        assert_eq!(ws.rscs.capacity(), ws.rscs.len());
    }
}
