//! `scheduler`: crm-lite's pure scheduler. Given a CIB (configuration and status) it decides
//! where every resource runs and in which role, which actions get there, and which nodes must
//! be fenced first — deciding as Pacemaker 2.1's scheduler does.
//!
//! # Shape
//! - [`schedule`] is the only entry point: `(&Cib, &Input) -> Plan`.
//! - `ws` builds the working set: nodes with their state and attributes, resources as an arena
//!   (clones expanded into instances), colocations and orderings, the current state of every
//!   instance folded from the status section.
//! - `assign` places resources on nodes (scores, colocation, stickiness, clones, promotion).
//! - `actions` derives the actions from current vs. assigned state, applies orderings
//!   (restart and blocking propagation) and fencing.
//! - [`graph`] lowers a plan into its transition graph: self-contained operations (agent,
//!   parameters, `CRM_meta_*`, timeout, key) and one edge list.
//! - [`format`] prints a plan (`--format actions`, the crm_simulate-like summary).
//! - [`Model`] keeps a CIB in memory and re-plans after one operation result (the daemon's
//!   loop), without reading the CIB again; [`stages`] runs the stages one by one (benches).
//!
//! # Invariants
//! - No I/O, no clock ("now" is [`Input::now`]), no environment, no randomness.
//! - Deterministic: every collection that reaches the output is ordered (`Vec`, `BTreeMap`);
//!   ties are broken as Pacemaker breaks them (documented where they are).
#![deny(missing_docs)]
// The working set is an arena addressed by index; index loops read best there.
#![allow(clippy::needless_range_loop)]

mod actions;
mod assign;
mod definition;
pub mod format;
mod glib;
pub mod graph;
mod hash;
pub mod model;
mod notify;
mod params;
mod rules;
pub mod stages;
mod ws;

pub use model::{Model, ModelError, OpResult, Stats};
pub use params::{Parameters, instance_params};

use cib::{Cib, Role};

/// What the scheduler needs besides the CIB.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// "Now", in seconds since the epoch, for failure-timeout and date rules. `None`: time
    /// never expires anything and date rules are false.
    pub now: Option<i64>,
    /// Record why every score changed ([`Plan::explanations`]) and the score table
    /// ([`Plan::scores`]); costs time and memory on large CIBs, so only when asked for.
    pub explain: bool,
}

/// The kind of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActionKind {
    /// Start a resource on a node.
    Start,
    /// Stop it.
    Stop,
    /// Promote it.
    Promote,
    /// Demote it.
    Demote,
    /// Live-migrate it (`migrate_to` on the source, `migrate_from` on the target).
    Migrate,
    /// Fence a node.
    Fence,
    /// Reload changed parameters in place (the agent's `reload`, `reload-agent` for OCF 1.1).
    Reload,
}

impl ActionKind {
    /// Every kind, in their order (a new kind goes here too).
    pub const ALL: [ActionKind; 7] = [
        ActionKind::Start,
        ActionKind::Stop,
        ActionKind::Promote,
        ActionKind::Demote,
        ActionKind::Migrate,
        ActionKind::Fence,
        ActionKind::Reload,
    ];

    /// The action's name, as the agent operation (`start`, `stop`, ...) and in the plan's
    /// text forms.
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::Start => "start",
            ActionKind::Stop => "stop",
            ActionKind::Promote => "promote",
            ActionKind::Demote => "demote",
            ActionKind::Migrate => "migrate",
            ActionKind::Fence => "fence",
            ActionKind::Reload => "reload",
        }
    }
}

/// One action of the plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Action {
    /// What to do.
    pub kind: ActionKind,
    /// The resource (instance id for unique clones, base id for anonymous ones), or the node
    /// for fencing.
    pub rsc: String,
    /// The node it runs on (the target for a migration).
    pub node: String,
    /// The migration source.
    pub from: Option<String>,
    /// Why it cannot run, when blocked.
    pub blocked: Option<String>,
    /// Why it is scheduled.
    pub reason: String,
}

/// Where a resource (instance) ends up.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Placement {
    /// The resource (as in [`Action::rsc`]).
    pub rsc: String,
    /// The nodes it runs on after the plan: none when stopped, several only for an unmanaged
    /// resource that is active in more than one place.
    pub nodes: Vec<String>,
    /// The role after the plan.
    pub role: Role,
    /// Whether the resource is managed.
    pub managed: bool,
}

/// A one-shot monitor (probe) to learn whether a resource runs on a node where the cluster
/// has no record of it, done before anything starts it anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Probe<'a> {
    /// The resource (anonymous clones: one probe per node, by base id).
    pub rsc: &'a str,
    /// The node.
    pub node: &'a str,
}

/// A plan's probes, sorted: each kept as two numbers, the names once (most of a large
/// plan is probes: 900,000 at 100 nodes x 10,000 resources, 32 bytes each as names).
#[derive(Clone, Default)]
pub struct Probes {
    rscs: Vec<std::sync::Arc<str>>,
    nodes: Vec<std::sync::Arc<str>>,
    /// (index in `rscs`, index in `nodes`), in the probes' order.
    keys: Vec<(u32, u32)>,
}

impl Probes {
    pub(crate) fn new(
        rscs: Vec<std::sync::Arc<str>>,
        nodes: Vec<std::sync::Arc<str>>,
        keys: Vec<(u32, u32)>,
    ) -> Probes {
        Probes { rscs, nodes, keys }
    }

    /// Replace resource `rsc`'s probes by probes on `nodes` (indices of the plan's node
    /// names, in name order). False when `rsc` has probes to get but no name here.
    pub(crate) fn replace(&mut self, rsc: &str, nodes: &[u32]) -> bool {
        let Some(ni) = self.rscs.iter().position(|r| **r == *rsc) else {
            return nodes.is_empty();
        };
        let name = |k: &(u32, u32)| &*self.rscs[k.0 as usize];
        let lo = self.keys.partition_point(|k| name(k) < rsc);
        let hi = self.keys.partition_point(|k| name(k) <= rsc);
        self.keys
            .splice(lo..hi, nodes.iter().map(|&n| (ni as u32, n)));
        true
    }

    /// How many probes.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The probes, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Probe<'_>> + '_ {
        self.keys.iter().map(|&(r, n)| Probe {
            rsc: &self.rscs[r as usize],
            node: &self.nodes[n as usize],
        })
    }
}

impl PartialEq for Probes {
    fn eq(&self, other: &Probes) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Probes {}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A recurring monitor the resource gets where it runs after the plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Monitor {
    /// The resource (as in [`Action::rsc`]).
    pub rsc: std::sync::Arc<str>,
    /// The node.
    pub node: std::sync::Arc<str>,
    /// The interval in ms.
    pub interval_ms: u64,
    /// The role the monitor runs in, when it is limited to one.
    pub role: Option<Role>,
}

/// One row of the score table: the score of a resource on a node when it was placed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScoreRow {
    /// The resource (instance id).
    pub rsc: String,
    /// The node.
    pub node: String,
    /// The score (±1000000 is ±INFINITY).
    pub score: i32,
}

/// One contribution to a resource's score on a node: what `--explain` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The resource the score was given to (a clone or group passes it to its members).
    pub rsc: String,
    /// The node.
    pub node: String,
    /// The change (±1000000 is ±INFINITY, which also sets the score).
    pub delta: i32,
    /// Why, in plain words.
    pub reason: String,
}

/// The scheduler's decisions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Actions that can run, in a deterministic order (see [`Plan::edges`] for ordering).
    pub actions: Vec<Action>,
    /// Actions that are wanted but cannot run, with the reason.
    pub blocked: Vec<Action>,
    /// Ordering: `(a, b)` means `actions[a]` must complete before `actions[b]` starts.
    pub edges: Vec<(usize, usize)>,
    /// Where every resource (instance) ends up, sorted.
    pub placement: Vec<Placement>,
    /// Probes to run first, sorted.
    pub probes: Probes,
    /// Recurring monitors after the plan, sorted.
    pub monitors: Vec<Monitor>,
    /// Scores at placement time, sorted; filled only with [`Input::explain`].
    pub scores: Vec<ScoreRow>,
    /// Facts worth telling the operator (no quorum, fencing impossible, ...).
    pub notes: Vec<String>,
    /// Every contribution to a score, in the order applied.
    pub explanations: Vec<Explanation>,
    /// (resource, its parent) for every group member, clone and clone instance.
    pub parents: Vec<(String, String)>,
    /// (node, why) for every node that cannot run resources.
    pub unavailable: Vec<(String, String)>,
    /// Clone notifications (`notify=true`): the `notify` operations around the clones'
    /// starts, stops, promotions and demotions, in a deterministic order.
    pub notifications: Vec<Notification>,
    /// Ordering that involves notifications (see [`Step`]); [`Plan::edges`] orders the
    /// actions among themselves.
    pub notify_edges: Vec<(Step, Step)>,
    /// Per clone with notifications: the variables (`notify_*_resource`, `..._uname`, without
    /// the `CRM_meta_` prefix) its instances' own start, stop, promote and demote carry.
    pub notify_vars: Vec<(String, Vec<(String, String)>)>,
}

/// One end of an ordering edge with notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// `Plan::actions[i]`.
    Action(usize),
    /// `Plan::notifications[i]`.
    Notify(usize),
}

/// Before or after the clone's actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NotifyStage {
    /// Sent to the instances active before the actions.
    Pre,
    /// Sent to the instances active after them.
    Post,
}

/// One `notify` operation of a clone instance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Notification {
    /// The clone.
    pub clone: String,
    /// The instance as actions name it (the base id for anonymous clones).
    pub rsc: String,
    /// The instance with its number (`rsc:N`), as the notification lists name it; the
    /// number is what Pacemaker passes as `CRM_meta_clone`.
    pub instance: String,
    /// Where the instance runs.
    pub node: String,
    /// Pre or post.
    pub stage: NotifyStage,
    /// What the clone's instances do: `start`, `stop`, `promote` or `demote`.
    pub operation: &'static str,
    /// Every `CRM_meta_` variable of the operation, without that prefix, sorted by name:
    /// `notify_type`, `notify_operation`, `notify_key_type`, `notify_key_operation` and
    /// the lists (`notify_start_resource`, `notify_active_uname`, ...).
    pub vars: Vec<(String, String)>,
}

/// A score printed as Pacemaker prints it (`INFINITY`, `-INFINITY`, or the number).
#[derive(Debug, Clone, Copy)]
pub struct ScoreFmt(pub i32);

impl std::fmt::Display for ScoreFmt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        cib::Score::new(self.0 as i64).fmt(f)
    }
}

/// Decide the plan for `cib` at `input.now`.
pub fn schedule(cib: &Cib, input: &Input) -> Plan {
    let mut ws = ws::WorkingSet::build(cib, input);
    assign::assign_all(&mut ws);
    actions::create(&mut ws)
}

/// [`schedule`], consuming `cib`: the model is freed as soon as the working set is built
/// from it, so a large CIB's model and the plan are never in memory together.
pub fn schedule_owned(mut cib: Cib, input: &Input) -> Plan {
    let mut ws = ws::WorkingSet::build_taking_histories(&mut cib, input);
    drop(cib);
    assign::assign_all(&mut ws);
    actions::create(&mut ws)
}
