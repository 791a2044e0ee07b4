//! `daemon`: the cluster daemon's state machine, without I/O. One [`Node`] runs on every
//! cluster node (`crm-lite daemon`); it sees Corosync only as [`cluster::Event`]s and says
//! what to do as [`Output`]s, in the shape of raft-rs's `RawNode`: the runtime (or a test
//! harness over `cluster::sim`) feeds it [`Input`]s with the time, calls [`Node::tick`] at
//! [`Node::next_deadline`], and carries out [`Node::take_outputs`].
//!
//! # The contract with the runtime
//! - [`Output::Send`]: multicast these bytes to the CPG group (through a
//!   [`cluster::Outgoing`] queue: `TRY_AGAIN` keeps them, in order). The bytes are the
//!   daemon's own wire format; nothing else reads them.
//! - [`Output::Run`]: run this operation on this node (agent or fence, through
//!   `executor::drive::Exec`), then hand the result back as [`Input::Done`] with the same
//!   [`RunId`]. Recurring monitors are one [`Output::Run`] per occurrence: the node keeps
//!   their timers.
//! - [`Output::Save`]: write this node's copy of the CIB (configuration and status)
//!   atomically (the state store); [`Config::cib`] gives it back at the next start.
//! - [`Output::Alert`]: run the CIB's alert agents for this event.
//! - [`Output::Reply`]: answer a client of the control socket.
//! - Time is a value: unix milliseconds, passed with every input.
//! - Quorum: feed [`cluster::Event::Quorum`] with votequorum's verdict right after every
//!   membership change (repeats are harmless): the coordinator plans with what it last
//!   heard.
//!
//! # How it works
//! - **Sync**: after every membership change each member multicasts a
//!   [`wire::Join`]: its configuration and version, its own operation history (its
//!   `node_state`), what it knows of the other nodes (member, lost = UNCLEAN, down, never
//!   seen, with their history), its running operations, its fencing history. A member
//!   that delivers its own Join in the membership it was made for confirms it
//!   ([`wire::Msg::Ready`]; a Join delayed past a later change is replaced, never used).
//!   Once a confirmed Join of every member is delivered, every member builds the same copy: the highest
//!   configuration; each member's own history; for a node that left, UNCLEAN with the
//!   union of what anyone saw there (if anyone saw it leave), else down. Results
//!   delivered between the membership change and then are newer than the Joins: they are
//!   recorded again on that copy.
//! - **Coordinator**: the lowest member id. It plans only when synchronised and when no
//!   operation runs anywhere (the results of operations in flight at a membership change
//!   are awaited: nothing runs twice). Without quorum it plans all the same, with
//!   `have-quorum=0`: `no-quorum-policy` (default stop) stops the partition's resources and
//!   nobody is fenced. A node never seen is pending (down, not fenced) until `dc-deadtime`
//!   after the partition first had quorum, then `startup-fencing` applies.
//! - **Running**: the coordinator lowers the plan ([`scheduler::graph::lower`]), drives a
//!   [`transition::Transition`] and multicasts each ready operation
//!   ([`wire::Msg::Execute`]); the node it names runs it when the message is delivered
//!   (fences run on the coordinator). Every node records the in-flight marker at delivery
//!   and the result ([`wire::Msg::Result`], [`wire::Msg::Fenced`]) at delivery, so every
//!   copy holds every node's history. An `Execute` delivered before the synchronisation
//!   that follows a membership change is dropped, never run. An agent operation whose
//!   executor says nothing by its timeout plus half of `cluster-delay` is reported timed
//!   out by its node (and no longer listed as running, so that a new coordinator does not
//!   wait for it); one whose result has not come to the coordinator by its timeout plus
//!   `cluster-delay` (default [`DEFAULT_CLUSTER_DELAY_MS`], Pacemaker's action timer) is
//!   taken as timed out by the coordinator, which multicasts that result for its node.
//!   Either way every copy records the failure and the cluster plans again; a late result
//!   never replaces a newer history entry.
//! - **Fencing**: a failed fence is in the fencing history, tried again after
//!   [`FENCE_RETRY_MS`] (doubling up to [`FENCE_RETRY_MAX_MS`]); the node's resources stay
//!   where they were (the scheduler orders their recovery after its fence) meanwhile.
//! - **Monitors**: when the cluster settles the coordinator multicasts the whole set of
//!   recurring monitors; each node keeps the timers of its own, runs them
//!   ([`Output::Run`] per occurrence) and multicasts the first result and every change. A
//!   stop, demote or `migrate_to` cancels the resource's monitors on its node.
//! - **Requests**: `Apply` is checked where it is received (what `verify` refuses, a
//!   version not above the cluster's) before anything changes, then multicast; at
//!   delivery every member checks it against the resource ids of a Pacemaker on its node
//!   ([`Input::Pacemaker`]) and multicasts a [`wire::Msg::Verdict`]: it is adopted once
//!   every member of the membership said yes, else refused everywhere; `Place`,
//!   `Clear`, `Cleanup` are multicast edits every node makes at delivery
//!   (`store::edit`). Every request is answered at once (a refusal or a first progress
//!   line); the client hears progress lines until the coordinator says the cluster
//!   settled ([`wire::Msg::Settled`]).
//! - **Status**: [`Node::status`] shows resources where their operation history says they
//!   run (as `crm_mon`), not where the plan wants them ([`Node::planned`]).
#![deny(missing_docs)]

mod kept;
pub mod scores;
mod state;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cib::Document;
use cib::model::Versions;
pub use cluster::NodeId;
use executor::alert::{AlertEvent, AlertKind};
use kept::{Kept, Touch};
use scheduler::graph::{OpKind, RscOp};
pub use state::resource_ids;
use transition::{OpResult, Transition};
use wire::{Edit, FenceEntry, Join, Msg, Peer, ReqId, Tx};

/// What a node starts with.
#[derive(Debug, Clone)]
pub struct Config {
    /// This node's Corosync id.
    pub local: NodeId,
    /// The configured nodes (Corosync's nodelist): id and name.
    pub nodes: BTreeMap<NodeId, String>,
    /// The CIB this node saved last ([`Output::Save`]), if any.
    pub cib: Option<String>,
}

/// An operation this node runs for the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(pub u64);

/// A client of the control socket, as the runtime numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u64);

/// What happens to a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Corosync delivered this.
    Cluster(cluster::Event),
    /// An [`Output::Run`] ended.
    Done {
        /// Which one.
        id: RunId,
        /// How.
        result: OpResult,
    },
    /// This node's promotion scores as its agents left them (`master-<rsc>` and value):
    /// the runtime reads them after every operation it ran here and feeds them right
    /// before that operation's [`Input::Done`] (see [`scores`]).
    Scores(scores::Scores),
    /// A client asks.
    Request {
        /// Who (replies go to it).
        client: ClientId,
        /// What.
        request: Request,
    },
    /// The resource ids a Pacemaker running on this node configures (its CIB, `cibadmin
    /// -Q`; empty when none runs). The runtime feeds it at start and whenever it changes;
    /// every configuration that reaches the cluster is checked against it.
    Pacemaker {
        /// Primitives, groups, clones, bundles.
        ids: BTreeSet<String>,
    },
}

/// What a client of the control socket asks (`crm-lite apply`, `move`, `ban`, `clear`,
/// `cleanup` on a node of a running cluster).
///
/// Every request is answered at once, with its refusal or a first progress line, so that a
/// client can tell a stuck daemon by its silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Replace the configuration with this CIB (its `<configuration>` and version
    /// counters; its status is ignored), then follow the transitions until the cluster
    /// converges or fails.
    Apply {
        /// The file's name, for messages.
        file: String,
        /// Its text.
        xml: String,
    },
    /// `move` (`ban` false) or `ban` `rsc` on `node` (a `cli-prefer-*` / `cli-ban-*`
    /// constraint, as `crm_resource` adds).
    Place {
        /// The resource.
        rsc: String,
        /// The node.
        node: String,
        /// Ban rather than move.
        ban: bool,
    },
    /// `clear`: remove `rsc`'s `cli-*` constraints (on `node` only, if given).
    Clear {
        /// The resource.
        rsc: String,
        /// The node.
        node: Option<String>,
    },
    /// `cleanup`: forget the failures (and so the fail counts) of `rsc` (every resource if
    /// `None`) on `node` (every node if `None`); they are probed again.
    Cleanup {
        /// The resource.
        rsc: Option<String>,
        /// The node.
        node: Option<String>,
    },
}

/// What a client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A progress line (`start web on n2`, `fenced n3`, ...).
    Progress(String),
    /// The end of the request: `ok` false with the reasons (a refused configuration with
    /// both versions named, operations that failed, quorum lost...).
    Done {
        /// It worked.
        ok: bool,
        /// What to print last.
        message: String,
    },
}

/// What the node wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Multicast to the group.
    Send(Vec<u8>),
    /// Run an operation here.
    Run {
        /// Its handle, for [`Input::Done`].
        id: RunId,
        /// The operation (self-contained: agent, parameters, meta, timeout).
        op: OpKind,
        /// The call id it is recorded under (for the agent's call marker).
        call_id: i64,
    },
    /// Save this node's copy of the CIB.
    Save {
        /// The whole CIB.
        xml: String,
    },
    /// Run the alert agents.
    Alert(executor::alert::AlertEvent),
    /// Answer a client.
    Reply {
        /// Who.
        client: ClientId,
        /// What.
        reply: Reply,
    },
}

/// A node as `crm-lite status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeStatus {
    /// Its name.
    pub name: String,
    /// Its Corosync id.
    pub id: NodeId,
    /// `online`, `offline`, `UNCLEAN` or `standby`.
    pub state: String,
}

/// A resource (or clone instance) as `crm-lite status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResourceStatus {
    /// The resource id (`rsc:N` for a clone instance).
    pub id: String,
    /// `ocf:crm-lite:mgmt-api`, ...
    pub agent: String,
    /// `Started`, `Promoted`, `Unpromoted`, `Stopped`.
    pub role: String,
    /// Where it is observed in that role (from the operation history, as `crm_mon`
    /// reads it), not where the plan wants it.
    pub nodes: Vec<String>,
    /// Its last significant operation there failed (`crm_mon`'s `FAILED`): it needs
    /// recovery there.
    #[serde(default)]
    pub failed: bool,
    /// That operation: `monitor (every 10 s): rc 7 (reason)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_op: Option<String>,
    /// An operation under way there (`start`, `stop`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
}

/// The cluster as this node knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// This node.
    pub local: String,
    /// Whether this node's partition has quorum.
    pub quorate: bool,
    /// The coordinator's name, when there is one.
    pub coordinator: Option<String>,
    /// The configuration's `admin_epoch.epoch.num_updates`.
    pub version: String,
    /// Every configured node.
    pub nodes: Vec<NodeStatus>,
    /// Every resource.
    pub resources: Vec<ResourceStatus>,
    /// Failed operations: `rsc op on node: rc (reason)`.
    pub failures: Vec<String>,
    /// Fencing history: `time target action result`, newest last.
    pub fencing: Vec<String>,
    /// A transition is under way.
    pub busy: bool,
}

/// A change of the status delivered in agreed order, kept until the next synchronisation.
#[derive(Debug, Clone)]
enum Replay {
    /// An operation's result, recorded in its node's history.
    Record {
        r: Box<RscOp>,
        result: OpResult,
        call_id: i64,
        now_s: i64,
    },
    /// A node confirmed fenced: its history is cleared.
    Fenced { target: String, target_id: String },
    /// A configuration handed to the cluster (adopted when its version is higher).
    Config { xml: String },
    /// An operator's edit.
    Edit { edit: Edit },
    /// A node's promotion scores, as a result carried them.
    Scores {
        node: String,
        node_id: String,
        scores: Vec<(String, String)>,
    },
}

/// Something running on this node for the cluster.
// Operations are the common case; boxing them buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Run {
    /// An operation of a transition.
    Op {
        tx: Tx,
        op: usize,
        kind: OpKind,
        call_id: i64,
        /// When its executor is taken as hung (agent operations only).
        due: Option<u64>,
        /// Said to have timed out already (the executor hangs).
        reported: bool,
    },
    /// One occurrence of a recurring monitor (by its key).
    Monitor { key: String },
}

/// A configuration on its way: every member of the membership it was delivered in says
/// whether a Pacemaker on its node configures one of its resource ids, and it is adopted
/// only when all of them said no (all nodes decide alike: same messages, same order).
#[derive(Debug, Clone)]
struct Proposal {
    xml: String,
    members: Vec<NodeId>,
    /// Each member's refusal, if it has one.
    verdicts: BTreeMap<NodeId, Option<String>>,
}

/// A recurring monitor this node runs.
#[derive(Debug, Clone)]
struct Mon {
    op: RscOp,
    due: u64,
    running: bool,
    /// The last result multicast: rc and timed out.
    last: Option<(i32, bool)>,
}

/// What the configuration says about how the daemon runs.
#[derive(Debug, Clone, Copy)]
struct Options {
    dc_deadtime_ms: u64,
    startup_fencing: bool,
    batch_limit: usize,
    recheck_ms: u64,
    cluster_delay_ms: u64,
}

impl Options {
    fn of(cib: &cib::Cib) -> Options {
        let raw = &cib.options.raw;
        let ms = |k: &str, d: u64| raw.get(k).and_then(cib::duration::parse_ms).unwrap_or(d);
        let off = |v: &str| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "false" | "off" | "no" | "n" | "0"
            )
        };
        Options {
            dc_deadtime_ms: ms("dc-deadtime", 20_000),
            startup_fencing: !raw.get("startup-fencing").is_some_and(off),
            batch_limit: raw
                .get("batch-limit")
                .and_then(|v| v.trim().parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or(30),
            recheck_ms: ms("cluster-recheck-interval", 15 * 60 * 1000).max(1000),
            cluster_delay_ms: ms("cluster-delay", DEFAULT_CLUSTER_DELAY_MS),
        }
    }
}

/// Pacemaker's `cluster-delay` default: the margin over an operation's timeout after which
/// the coordinator takes an operation whose result never came as timed out.
pub const DEFAULT_CLUSTER_DELAY_MS: u64 = 60_000;
/// The first fence retry waits this long; each failure doubles it, up to [`FENCE_RETRY_MAX_MS`].
pub const FENCE_RETRY_MS: u64 = 2_000;
/// How many fence operations the fencing history keeps (the newest).
pub const FENCING_HISTORY: usize = 100;
/// The longest wait between fence attempts.
pub const FENCE_RETRY_MAX_MS: u64 = 60_000;
/// Transitions in a row without settling before the coordinator waits for an event (or
/// the `cluster-recheck-interval`) instead of planning again at once.
pub const MAX_ROUNDS: u32 = 20;

/// One cluster node's daemon state machine.
#[derive(Debug)]
pub struct Node {
    config: Config,
    outputs: Vec<Output>,
    now: u64,
    /// The copy of the CIB: configuration and status.
    doc: Document,
    opts: Options,
    /// The configuration of `doc`, parsed.
    cfg: cib::Cib,
    /// The configuration before the last change (it still configures orphans to stop).
    previous: Option<String>,
    /// The coordinator's last plan, kept with the model of the copy it planned
    /// ([`Node::kept_plan`]).
    kept: Option<Kept>,
    /// What changed in `doc` since `kept` was planned.
    journal: Vec<Touch>,
    /// Plans the kept model made by re-planning changed primitives alone.
    alone_plans: u64,
    /// Plans made whole from the kept model (a new membership view taken in place).
    kept_whole_plans: u64,
    /// Plans made whole (a new kept model).
    whole_plans: u64,
    /// What this node knows of every node (by name).
    peers: BTreeMap<String, Peer>,
    members: Vec<NodeId>,
    quorate: bool,
    quorate_since: Option<u64>,
    /// Membership changes seen.
    mseq: u64,
    /// The membership count of this node's Join on its way, if one is.
    join_out: Option<u64>,
    want_join: bool,
    joins: BTreeMap<NodeId, Join>,
    /// Members whose Join is confirmed made for the current membership.
    ready: BTreeSet<NodeId>,
    synced: bool,
    /// Operations running anywhere: node, transition, op.
    inflight: BTreeSet<(NodeId, Tx, usize)>,
    /// Operations that ended since the last membership change (a Join may still list
    /// them as running).
    ended: BTreeSet<(NodeId, Tx, usize)>,
    /// What changed the status since the last membership change: the Joins of the coming
    /// synchronisation may have been made before it, so it is applied again on top of them.
    since_change: Vec<Replay>,
    fencing: Vec<FenceEntry>,
    /// Failed fences per target: how many in a row, and when to try again.
    fence_fail: BTreeMap<String, (u32, u64)>,
    // The coordinator's side.
    serial: u64,
    transition: Option<(Tx, Transition)>,
    /// Ops of the transition whose Execute has not come back yet.
    unsent: BTreeSet<usize>,
    /// Agent operations this coordinator started and awaits: when their result is
    /// overdue (timeout plus `cluster-delay`), with what to record then.
    overdue: BTreeMap<(NodeId, Tx, usize), (u64, RscOp, i64)>,
    replan_at: Option<u64>,
    rounds: u32,
    failures: Vec<String>,
    idle: bool,
    monitors_sent: Option<Vec<RscOp>>,
    pending_reqs: BTreeSet<ReqId>,
    /// Configurations delivered and waiting for every member's verdict.
    proposals: BTreeMap<ReqId, Proposal>,
    /// The resource ids a Pacemaker on this node configures.
    pacemaker_ids: BTreeSet<String>,
    // This node's side.
    runs: BTreeMap<RunId, Run>,
    next_run: u64,
    monitors: BTreeMap<String, Mon>,
    waiting: BTreeSet<u64>,
    max_call: i64,
    dirty: bool,
    /// This node's promotion scores, as the runtime last read them.
    scores: scores::Local,
}

impl Node {
    /// A node that has not joined the group yet (the runtime joins, then feeds the
    /// membership event). [`Config::cib`]'s configuration and the other nodes' history are
    /// kept; this node's own history is dropped (a restarted node runs nothing: it is
    /// probed).
    pub fn new(config: Config) -> Node {
        let (mut doc, bad) = match &config.cib {
            Some(x) => Document::parse(x),
            None => Document::parse(state::EMPTY_CIB),
        };
        if bad.is_some() || doc.root().is_none() {
            tracing::warn!("the saved cib does not parse: starting from an empty one");
            doc = Document::parse(state::EMPTY_CIB).0;
        }
        let me = config.nodes.get(&config.local).cloned().unwrap_or_default();
        state::set_node_state(&mut doc, &me, None);
        let parsed = cib::parse("cib", &doc.to_xml());
        let mut n = Node {
            opts: Options::of(&parsed.cib),
            cfg: parsed.cib.clone(),
            previous: None,
            kept: None,
            journal: Vec::new(),
            alone_plans: 0,
            kept_whole_plans: 0,
            whole_plans: 0,
            max_call: state::last_call_id(&parsed.cib),
            config,
            outputs: Vec::new(),
            now: 0,
            doc,
            peers: BTreeMap::new(),
            members: Vec::new(),
            quorate: false,
            quorate_since: None,
            mseq: 0,
            join_out: None,
            want_join: false,
            joins: BTreeMap::new(),
            ready: BTreeSet::new(),
            synced: false,
            inflight: BTreeSet::new(),
            ended: BTreeSet::new(),
            since_change: Vec::new(),
            fencing: Vec::new(),
            fence_fail: BTreeMap::new(),
            serial: 0,
            transition: None,
            unsent: BTreeSet::new(),
            overdue: BTreeMap::new(),
            replan_at: None,
            rounds: 0,
            failures: Vec::new(),
            idle: false,
            monitors_sent: None,
            pending_reqs: BTreeSet::new(),
            proposals: BTreeMap::new(),
            pacemaker_ids: BTreeSet::new(),
            runs: BTreeMap::new(),
            next_run: 1,
            monitors: BTreeMap::new(),
            waiting: BTreeSet::new(),
            dirty: false,
            scores: scores::Local::default(),
        };
        for name in n.all_names() {
            n.peers.insert(name, Peer::Unseen);
        }
        n
    }

    /// This node's id.
    pub fn local(&self) -> NodeId {
        self.config.local
    }

    fn me(&self) -> String {
        self.name_of(self.config.local)
    }

    fn name_of(&self, id: NodeId) -> String {
        self.config
            .nodes
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("node{id}"))
    }

    fn id_of(&self, name: &str) -> Option<NodeId> {
        self.config
            .nodes
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(i, _)| *i)
    }

    /// Every node: Corosync's nodelist and the CIB's `<nodes>`.
    fn all_names(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = self.config.nodes.values().cloned().collect();
        names.extend(self.cfg.nodes.iter().map(|n| n.uname.0.clone()));
        names
    }

    /// The configuration changed: parse it again, know its nodes.
    fn refresh_config(&mut self) {
        let parsed = cib::parse("cib", &state::config_xml(&self.doc));
        self.opts = Options::of(&parsed.cib);
        self.cfg = parsed.cib;
        for name in self.all_names() {
            self.peers.entry(name).or_insert(Peer::Unseen);
        }
    }

    /// The `<node id>` of `name` in the CIB, else its Corosync id.
    fn cib_node_id(&self, cib: &cib::Cib, name: &str) -> String {
        cib.node(name).map(|n| n.id.clone()).unwrap_or_else(|| {
            self.id_of(name)
                .map_or_else(|| name.to_owned(), |i| i.to_string())
        })
    }

    /// The coordinator: the lowest member.
    fn coordinator(&self) -> Option<NodeId> {
        self.members.first().copied()
    }

    fn is_coordinator(&self) -> bool {
        self.coordinator() == Some(self.config.local)
    }

    fn send(&mut self, msg: &Msg) {
        self.outputs.push(Output::Send(wire::encode(msg)));
    }

    fn reply(&mut self, client: u64, reply: Reply) {
        self.outputs.push(Output::Reply {
            client: ClientId(client),
            reply,
        });
    }

    fn progress(&mut self, line: String) {
        for c in self.waiting.clone() {
            self.reply(c, Reply::Progress(line.clone()));
        }
    }

    fn alert(&mut self, kind: AlertKind, node: &str, desc: String, extra: AlertExtra) {
        if !self.is_coordinator() {
            return;
        }
        let node_id = self.id_of(node).map_or_else(String::new, |i| i.to_string());
        self.outputs.push(Output::Alert(AlertEvent {
            kind,
            node: node.to_owned(),
            node_id,
            desc,
            rsc: extra.rsc,
            rc: extra.rc,
            target_rc: extra.target_rc,
            status: extra.status,
            at_us: self.now.saturating_mul(1000),
            ..AlertEvent::default()
        }));
    }

    /// Something happened at `now_ms`.
    pub fn handle(&mut self, input: Input, now_ms: u64) {
        self.now = self.now.max(now_ms);
        match input {
            Input::Cluster(cluster::Event::Membership {
                members,
                left,
                joined,
            }) => self.on_membership(members, &left, &joined),
            Input::Cluster(cluster::Event::Quorum { quorate }) => self.on_quorum(quorate),
            Input::Cluster(cluster::Event::Message { from, payload }) => {
                match wire::decode(&payload) {
                    Ok(msg) => self.on_msg(from, msg),
                    Err(e) => tracing::warn!(from, error = %e, "message ignored"),
                }
            }
            Input::Done { id, result } => self.on_done(id, result),
            Input::Scores(s) => self.scores.set(s),
            Input::Request { client, request } => self.on_request(client.0, request),
            Input::Pacemaker { ids } => self.pacemaker_ids = ids,
        }
        self.save_if_dirty();
    }

    /// Time passed: timers (monitors due, fence retries, planning deadlines) fire.
    pub fn tick(&mut self, now_ms: u64) {
        self.now = self.now.max(now_ms);
        let due: Vec<String> = self
            .monitors
            .iter()
            .filter(|(_, m)| !m.running && m.due <= self.now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            let Some(m) = self.monitors.get_mut(&key) else {
                continue;
            };
            m.running = true;
            let op = OpKind::Rsc(m.op.clone());
            let id = RunId(self.next_run);
            self.next_run += 1;
            self.runs.insert(id, Run::Monitor { key });
            self.outputs.push(Output::Run {
                id,
                op,
                call_id: self.max_call + 1,
            });
        }
        self.report_hung_runs();
        self.time_out_overdue();
        if self.replan_at.is_some_and(|t| t <= self.now) {
            self.replan_at = None;
            self.maybe_plan();
        }
        self.save_if_dirty();
    }

    /// When [`Node::tick`] is needed next, if ever.
    pub fn next_deadline(&self) -> Option<u64> {
        let mon = self
            .monitors
            .values()
            .filter(|m| !m.running)
            .map(|m| m.due)
            .min();
        let overdue = if self.is_coordinator() {
            self.overdue.values().map(|(at, ..)| *at).min()
        } else {
            None
        };
        let hung = self
            .runs
            .values()
            .filter_map(|r| match r {
                Run::Op {
                    due: Some(d),
                    reported: false,
                    ..
                } => Some(*d),
                _ => None,
            })
            .min();
        [mon, self.replan_at, overdue, hung]
            .into_iter()
            .flatten()
            .min()
    }

    /// What to do now, in order.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    /// Whether this node's view is settled: synchronised, nothing running anywhere, no
    /// transition, and (on the coordinator) the last plan had nothing to do.
    pub fn settled(&self) -> bool {
        self.synced
            && self.transition.is_none()
            && self.inflight.is_empty()
            && (!self.is_coordinator() || (self.idle && self.replan_at.is_none()))
    }

    /// The fencing history keeps the newest [`FENCING_HISTORY`] entries.
    fn trim_fencing(&mut self) {
        self.fencing.sort();
        let extra = self.fencing.len().saturating_sub(FENCING_HISTORY);
        self.fencing.drain(..extra);
    }

    /// What this node waits for, in words (for logs and test failures).
    pub fn waiting_for(&self) -> String {
        let mut why = Vec::new();
        if !self.synced {
            let missing: Vec<NodeId> = self
                .members
                .iter()
                .copied()
                .filter(|m| !self.joins.contains_key(m) || !self.ready.contains(m))
                .collect();
            why.push(format!(
                "synchronisation (members {:?}, joins {:?}, confirmed {:?}, own join out {:?}, \
                 resend {})",
                self.members,
                self.joins.keys().collect::<Vec<_>>(),
                self.ready,
                self.join_out,
                self.want_join
            ));
            let _ = missing;
        }
        if let Some((tx, t)) = &self.transition {
            why.push(format!(
                "transition {tx:?} (stopped: {:?}, unsent {:?})",
                t.stopped(),
                self.unsent
            ));
        }
        if !self.inflight.is_empty() {
            why.push(format!("operations in flight {:?}", self.inflight));
        }
        if self.is_coordinator() && !self.idle {
            why.push("a plan with work left".into());
        }
        if let Some(t) = self.replan_at {
            why.push(format!("planning again at {t}"));
        }
        why.join("; ")
    }

    /// The coordinator takes an operation whose result has not come by its timeout plus
    /// `cluster-delay` as timed out (Pacemaker's action timer): it multicasts that result
    /// for the node, every copy records the failure, the transition goes on and the next
    /// plan recovers. The operation stays in flight for the next synchronisation if the
    /// node still lists it (its real result, late, is recorded like any other); while it
    /// does, it is timed out again every `cluster-delay`.
    fn time_out_overdue(&mut self) {
        if !self.synced || !self.is_coordinator() {
            return;
        }
        let inflight = &self.inflight;
        self.overdue.retain(|k, _| inflight.contains(k));
        let due: Vec<(NodeId, Tx, usize)> = self
            .overdue
            .iter()
            .filter(|(_, (at, ..))| *at <= self.now)
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let Some((at, r, call_id)) = self.overdue.get_mut(&key) else {
                continue;
            };
            *at = self
                .now
                .saturating_add(self.opts.cluster_delay_ms.max(1000));
            let (r, call_id) = (r.clone(), *call_id);
            let (node, tx, op) = key;
            tracing::warn!(rsc = %r.rsc, action = %r.action, node = %r.node, "no result in time");
            let why = format!(
                "no result from {} within its timeout ({} s) plus cluster-delay ({} s)",
                r.node,
                r.timeout_ms / 1000,
                self.opts.cluster_delay_ms / 1000
            );
            self.send(&Msg::Result {
                tx: Some(tx),
                op,
                node,
                rsc_op: r.clone(),
                call_id,
                result: OpResult::Agent {
                    rc: 1,
                    timed_out: true,
                    exec_ms: r.timeout_ms,
                    exit_reason: Some(why),
                    restart: None,
                },
                now_s: (self.now / 1000) as i64,
                // The coordinator speaks for a silent node: it knows nothing of its scores.
                scores: None,
            });
        }
    }

    /// An operation this node runs whose executor has said nothing by its timeout plus half
    /// of `cluster-delay` hangs: the node says it timed out (every copy records the
    /// failure, the coordinator plans around it, whoever it is by then) and no longer
    /// lists it as running; the executor's answer, if it ever comes, is sent as usual and
    /// never replaces a newer entry.
    fn report_hung_runs(&mut self) {
        let me = self.me();
        let now = self.now;
        let mut hung = Vec::new();
        for r in self.runs.values_mut() {
            if let Run::Op {
                tx,
                op,
                kind: OpKind::Rsc(rsc),
                call_id,
                due: Some(d),
                reported,
            } = r
                && !*reported
                && *d <= now
            {
                *reported = true;
                hung.push((*tx, *op, rsc.clone(), *call_id));
            }
        }
        for (tx, op, r, call_id) in hung {
            tracing::warn!(rsc = %r.rsc, action = %r.action, "the executor gave no result in time");
            let why = format!(
                "the executor on {me} gave no result within the operation's timeout ({} s) \
                 plus {} s",
                r.timeout_ms / 1000,
                self.opts.cluster_delay_ms / 2000
            );
            self.send(&Msg::Result {
                tx: Some(tx),
                op,
                node: self.config.local,
                rsc_op: r.clone(),
                call_id,
                result: OpResult::Agent {
                    rc: 1,
                    timed_out: true,
                    exec_ms: r.timeout_ms,
                    exit_reason: Some(why),
                    restart: None,
                },
                now_s: (now / 1000) as i64,
                scores: None,
            });
        }
    }

    fn save_if_dirty(&mut self) {
        if std::mem::take(&mut self.dirty) {
            self.outputs.push(Output::Save {
                xml: self.doc.to_xml(),
            });
        }
    }

    // ---- membership and synchronisation ----

    fn on_membership(&mut self, members: Vec<NodeId>, left: &[NodeId], joined: &[NodeId]) {
        self.mseq += 1;
        tracing::info!(?members, ?left, ?joined, seq = self.mseq, "membership");
        let old: Vec<NodeId> = std::mem::replace(&mut self.members, members);
        let mut members = self.members.clone();
        members.sort_unstable();
        self.members = members;
        let gone: Vec<NodeId> = old
            .iter()
            .chain(left.iter())
            .copied()
            .filter(|n| !self.members.contains(n))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for &n in &gone {
            let name = self.name_of(n);
            if self.peers.get(&name) == Some(&Peer::Member) {
                self.peers.insert(name.clone(), Peer::Lost);
                self.dirty = true;
            }
            // Its transient attributes (promotion scores, fail counts) go, as Pacemaker's
            // controller erases them.
            self.dirty |= scores::forget(&mut self.doc, &name);
            self.touch(Touch::Attributes { node: name.clone() });
            if let Some((_, t)) = &mut self.transition {
                t.node_lost(&name);
            }
            self.alert(AlertKind::Node, &name, "lost".into(), AlertExtra::default());
        }
        let local = self.config.local;
        for &n in joined.iter().filter(|n| **n != local) {
            let name = self.name_of(n);
            self.alert(
                AlertKind::Node,
                &name,
                "member".into(),
                AlertExtra::default(),
            );
        }
        for m in self.members.clone() {
            self.peers.insert(self.name_of(m), Peer::Member);
        }
        if let Some((_, t)) = &mut self.transition {
            t.abort("the membership changed");
        }
        self.inflight.retain(|(n, _, _)| self.members.contains(n));
        self.drop_proposals();
        self.joins.clear();
        self.ready.clear();
        self.ended.clear();
        self.since_change.clear();
        self.synced = false;
        self.idle = false;
        self.rounds = 0;
        // A node that (re)joined runs no monitor yet: the set goes out again.
        self.monitors_sent = None;
        self.end_transition_if_complete();
        self.send_join();
    }

    fn on_quorum(&mut self, quorate: bool) {
        if quorate && self.quorate_since.is_none() {
            self.quorate_since = Some(self.now);
        }
        if quorate != self.quorate {
            self.quorate = quorate;
            self.idle = false;
            if let Some((_, t)) = &mut self.transition {
                t.abort("quorum changed");
            }
            self.end_transition_if_complete();
            self.maybe_plan();
        }
    }

    fn send_join(&mut self) {
        if self.join_out.is_some() {
            self.want_join = true;
            return;
        }
        let me = self.me();
        let peers = self
            .peers
            .iter()
            .filter(|(n, _)| **n != me)
            .map(|(n, p)| (n.clone(), *p, state::node_state_xml(&self.doc, n)))
            .collect();
        let running = self
            .runs
            .values()
            .filter_map(|r| match r {
                // One said to have timed out is over for the cluster.
                Run::Op {
                    tx, op, reported, ..
                } if !reported => Some((*tx, *op)),
                Run::Op { .. } | Run::Monitor { .. } => None,
            })
            .collect();
        let v = state::versions(&self.doc);
        let join = Join {
            members: self.members.clone(),
            version: (v.admin_epoch, v.epoch, v.num_updates),
            seq: self.mseq,
            config: state::config_xml(&self.doc),
            previous: self.previous.clone(),
            own: state::node_state_xml(&self.doc, &me),
            peers,
            running,
            fencing: self.fencing.clone(),
            pending: self.pending_reqs.iter().copied().collect(),
        };
        self.join_out = Some(self.mseq);
        self.want_join = false;
        self.send(&Msg::Join(join));
    }

    fn on_join(&mut self, from: NodeId, join: Join) {
        if from == self.config.local {
            // Delivered in the membership it was made for (no change since it was sent):
            // say so, and the others may use it. Else it is stale: send a fresh one.
            let fresh = join.seq == self.mseq && self.join_out == Some(self.mseq);
            self.join_out = None;
            if fresh && !self.want_join {
                self.send(&Msg::Ready { seq: join.seq });
            } else {
                self.send_join();
            }
        }
        if join.members != self.members || !self.members.contains(&from) {
            return;
        }
        self.joins.insert(from, join);
        self.ready.remove(&from);
    }

    /// `from` says its Join `seq` was made for the current membership.
    fn on_ready(&mut self, from: NodeId, seq: u64) {
        if self.joins.get(&from).is_some_and(|j| j.seq == seq) {
            self.ready.insert(from);
        }
        let all = self
            .members
            .iter()
            .all(|m| self.joins.contains_key(m) && self.ready.contains(m));
        if !self.synced && all {
            self.complete_sync();
        }
    }

    /// Every member's Join is in: every member builds the same state from them.
    fn complete_sync(&mut self) {
        let joins: Vec<(NodeId, Join)> = std::mem::take(&mut self.joins).into_iter().collect();
        // The highest configuration wins (the lowest sender among equals).
        let mut best: Option<(Versions, &str)> = None;
        for (_, j) in &joins {
            let (admin_epoch, epoch, num_updates) = j.version;
            let v = Versions {
                admin_epoch,
                epoch,
                num_updates,
            };
            if best.is_none_or(|(bv, _)| v > bv) {
                best = Some((v, &j.config));
            }
        }
        // Equal versions with different contents (both sides of a split changed it): the
        // lowest sender's wins everywhere. Only the Joins decide (every member has the same):
        // a change delivered since they were made is applied again below.
        if let Some((v, cfg)) = best
            && (v != state::versions(&self.doc) || cfg != state::config_xml(&self.doc))
        {
            self.previous = Some(state::config_xml(&self.doc));
            self.doc = state::with_config(&self.doc, cfg);
            self.touch(Touch::Other);
            self.refresh_config();
        }
        if self.previous.is_none() {
            self.previous = joins.iter().find_map(|(_, j)| j.previous.clone());
        }
        let mut doc = std::mem::take(&mut self.doc);
        // Whether every state the plan reads (members' and lost nodes') comes back as it
        // was: then the kept plan takes the new view in place (`kept::take_view`) instead
        // of lowering the CIB again.
        let mut alike = true;
        let names = self.all_names();
        let member_names: BTreeMap<String, NodeId> =
            self.members.iter().map(|&m| (self.name_of(m), m)).collect();
        let mut peers = BTreeMap::new();
        for name in names {
            let old = state::node_state(&doc, &name);
            // `read`: the plan reads this node's state (a member or a lost node; a node
            // down or never seen gets a state made anew, whatever the copy holds).
            let mut replace = |doc: &mut Document, xml: Option<&str>, read: bool| {
                state::set_node_state(doc, &name, xml);
                alike &= !read
                    || match (old, state::node_state(doc, &name)) {
                        (None, None) => true,
                        (Some(a), Some(b)) => state::same_element(doc, a, doc, b),
                        _ => false,
                    };
            };
            if let Some(id) = member_names.get(&name) {
                let own = joins
                    .iter()
                    .find(|(f, _)| f == id)
                    .and_then(|(_, j)| j.own.clone());
                replace(&mut doc, own.as_deref(), true);
                peers.insert(name, Peer::Member);
                continue;
            }
            let said = |p: Peer| -> Vec<Option<&str>> {
                joins
                    .iter()
                    .filter_map(|(_, j)| {
                        j.peers
                            .iter()
                            .find(|(n, q, _)| *n == name && *q == p)
                            .map(|(_, _, x)| x.as_deref())
                    })
                    .collect()
            };
            let lost = said(Peer::Lost);
            if !lost.is_empty() {
                // Whatever any member saw active there stays until the node is fenced.
                let xmls: Vec<&str> = lost.into_iter().flatten().collect();
                let merged = state::merge_node_states(&name, &xmls);
                replace(&mut doc, merged.as_deref(), true);
                peers.insert(name, Peer::Lost);
            } else if !said(Peer::Down).is_empty() {
                replace(&mut doc, None, false);
                peers.insert(name, Peer::Down);
            } else {
                replace(&mut doc, None, false);
                peers.insert(name, Peer::Unseen);
            }
        }
        if !alike {
            self.touch(Touch::Other);
        }
        self.doc = doc;
        self.peers = peers;
        // A Join is a snapshot taken when its sender saw the membership change; what was
        // delivered after that (a result, a fence) is in some Joins and not in others.
        // After this synchronisation, deliveries apply to the state it built: none is kept.
        for r in std::mem::take(&mut self.since_change) {
            self.apply(&r);
        }
        self.inflight = joins
            .iter()
            .flat_map(|(f, j)| j.running.iter().map(move |(tx, op)| (*f, *tx, *op)))
            .filter(|r| !self.ended.contains(r))
            .collect();
        let mut fencing: BTreeSet<FenceEntry> = self.fencing.iter().cloned().collect();
        for (_, j) in &joins {
            fencing.extend(j.fencing.iter().cloned());
            self.pending_reqs.extend(j.pending.iter().copied());
        }
        self.fencing = fencing.into_iter().collect();
        self.trim_fencing();
        self.max_call = self.max_call.max(state::max_call_id(&self.doc));
        self.synced = true;
        tracing::info!(
            seq = self.mseq,
            coordinator = self.is_coordinator(),
            inflight = self.inflight.len(),
            "synchronised"
        );
        self.dirty = true;
        self.maybe_plan();
    }

    // ---- planning (the coordinator) ----

    /// The CIB the coordinator plans on: the copy with each node's membership as this
    /// node knows it, quorum, and never-seen nodes pending until `dc-deadtime`.
    fn plan_doc(&self) -> Document {
        let mut d = self.doc.clone();
        if let Some(root) = d.root() {
            let me = self.me();
            let dc = self.cib_node_id(&self.cfg, &me);
            let el = d.get_mut(root);
            el.set_attr("have-quorum", if self.quorate { "1" } else { "0" });
            el.set_attr("dc-uuid", &dc);
        }
        let pending = self.pending();
        for (name, peer) in &self.peers {
            let id = self.cib_node_id(&self.cfg, name);
            let attrs: &[(&str, &str)] = match peer {
                Peer::Member | Peer::Lost => peer.membership().unwrap_or_default(),
                Peer::Unseen if !pending && self.opts.startup_fencing => {
                    // Never seen: Pacemaker's startup fencing (no node_state at all).
                    state::set_node_state(&mut d, name, None);
                    continue;
                }
                Peer::Down | Peer::Unseen => {
                    // Down and clean (fenced, or known to run nothing): a state made anew.
                    state::set_node_state(&mut d, name, None);
                    if let Some(st) = state::status_el(&mut d) {
                        d.append(st, "node_state", &down_state(&id, name));
                    }
                    continue;
                }
            };
            state::set_membership(&mut d, name, &id, attrs);
        }
        d
    }

    /// Whether never-seen nodes are still pending (before `dc-deadtime` after quorum).
    fn pending(&self) -> bool {
        let deadline = self
            .quorate_since
            .map(|t| t.saturating_add(self.opts.dc_deadtime_ms));
        deadline.is_none_or(|t| self.now < t)
    }

    /// The model of [`Daemon::plan_doc`], lowered from the tree in memory (never written
    /// out and read back), and its plan.
    fn plan_now(&self) -> (cib::Cib, scheduler::Plan) {
        let (model, _) = cib::lower("cib", "", &self.plan_doc());
        let plan = scheduler::schedule(
            &model,
            &scheduler::Input {
                now: Some((self.now / 1000) as i64),
                explain: false,
            },
        );
        (model, plan)
    }

    /// Plan and start a transition if this node coordinates and the cluster is ready.
    fn maybe_plan(&mut self) {
        if !self.synced
            || !self.is_coordinator()
            || self.transition.is_some()
            || !self.inflight.is_empty()
            || self.replan_at.is_some_and(|t| t > self.now)
        {
            return;
        }
        let kept = self.kept_plan();
        if let Some(plan) = kept.model.planned() {
            self.run_plan(kept.model.cib(), plan);
        }
        self.kept = Some(kept);
    }

    /// Act on the plan `plan` of `model`: settle when there is nothing to do, else start
    /// its transition.
    fn run_plan(&mut self, model: &cib::Cib, plan: &scheduler::Plan) {
        let previous = self
            .previous
            .as_deref()
            .map(|x| cib::parse("previous", x).cib);
        let src = scheduler::graph::Sources {
            cib: model,
            previous: previous.as_ref(),
            now: (self.now / 1000) as i64,
        };
        if plan.actions.is_empty() && plan.probes.is_empty() {
            self.idle = true;
            self.rounds = 0;
            let ops: Vec<RscOp> = plan
                .monitors
                .iter()
                .filter_map(|m| scheduler::graph::monitor(&src, m).ok())
                .collect();
            if self.monitors_sent.as_ref() != Some(&ops) {
                self.monitors_sent = Some(ops.clone());
                self.send(&Msg::Monitors { ops });
            }
            if !self.pending_reqs.is_empty() || !self.failures.is_empty() {
                let ok = self.failures.is_empty();
                let mut message = if ok {
                    "the cluster converged".to_owned()
                } else {
                    format!(
                        "the cluster converged, but operations failed: {}",
                        self.failures.join("; ")
                    )
                };
                if !self.quorate {
                    message = format!("{message} (this partition has no quorum)");
                }
                let reqs = self.pending_reqs.iter().copied().collect();
                self.failures.clear();
                self.send(&Msg::Settled {
                    ok: ok && self.quorate,
                    message,
                    reqs,
                });
            }
            // A node never seen becomes a candidate for startup fencing at dc-deadtime.
            if self.peers.values().any(|p| *p == Peer::Unseen)
                && let Some(t) = self.quorate_since
            {
                let at = t.saturating_add(self.opts.dc_deadtime_ms);
                if at > self.now {
                    self.replan_at = Some(at);
                }
            }
            return;
        }
        self.idle = false;
        // A failed fence is tried again after its delay, not at once.
        let wait = plan
            .actions
            .iter()
            .filter(|a| a.kind == scheduler::ActionKind::Fence)
            .filter_map(|a| self.fence_fail.get(&a.rsc).map(|(_, at)| *at))
            .filter(|at| *at > self.now)
            .max();
        if let Some(at) = wait {
            self.replan_at = Some(at);
            return;
        }
        if self.rounds >= MAX_ROUNDS {
            let message = format!(
                "not converged after {MAX_ROUNDS} transitions; planning again in {} s",
                self.opts.recheck_ms / 1000
            );
            self.failures.push(message.clone());
            let reqs = self.pending_reqs.iter().copied().collect();
            self.send(&Msg::Settled {
                ok: false,
                message,
                reqs,
            });
            self.failures.clear();
            self.rounds = 0;
            self.replan_at = Some(self.now + self.opts.recheck_ms);
            return;
        }
        let graph = match scheduler::graph::lower(plan, &src, &[]) {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(error = %e, "the plan cannot be lowered");
                self.replan_at = Some(self.now + self.opts.recheck_ms);
                return;
            }
        };
        self.rounds += 1;
        // Unique across restarts of this node too (a late result of an earlier life must
        // never complete an operation of this one): at least the time in ms.
        self.serial = (self.serial + 1).max(self.now);
        let tx = (self.config.local, self.serial);
        let t = Transition::new(
            graph,
            transition::Config {
                batch_limit: self.opts.batch_limit,
                last_call_id: self.max_call,
            },
        );
        tracing::info!(?tx, ops = t.graph().ops.len(), "transition");
        tracing::trace!(graph = %t.graph(), "transition graph");
        self.transition = Some((tx, t));
        self.unsent.clear();
        self.start_ready();
    }

    fn start_ready(&mut self) {
        loop {
            let Some((tx, t)) = &mut self.transition else {
                return;
            };
            let tx = *tx;
            let ready = t.ready();
            if ready.is_empty() {
                break;
            }
            let mut sends = Vec::new();
            let mut implied = Vec::new();
            for op in ready {
                if t.started(op, Duration::from_millis(self.now)).is_err() {
                    continue;
                }
                let kind = t.graph().ops[op].kind.clone();
                let call_id = t.call_id(op);
                match &kind {
                    OpKind::Pseudo(_) => implied.push(op),
                    OpKind::Rsc(r) => sends.push((op, r.node.clone(), kind, call_id)),
                    OpKind::Fence(_) => sends.push((op, String::new(), kind, call_id)),
                }
            }
            for op in implied {
                let _ = t.complete(op, OpResult::Implied);
            }
            for (op, node, kind, call_id) in sends {
                let target = if node.is_empty() {
                    Some(self.config.local)
                } else {
                    self.id_of(&node).filter(|i| self.members.contains(i))
                };
                let Some(target) = target else {
                    // Nobody can run it: it failed.
                    if let Some((_, t)) = &mut self.transition {
                        let _ = t.complete(op, not_run(&kind, "its node is not a member"));
                    }
                    continue;
                };
                self.unsent.insert(op);
                tracing::info!(op, node = target, what = %kind_text(&kind), "execute");
                self.send(&Msg::Execute {
                    tx,
                    op,
                    node: target,
                    kind,
                    call_id,
                });
            }
        }
        self.end_transition_if_complete();
    }

    fn end_transition_if_complete(&mut self) {
        if self
            .transition
            .as_ref()
            .is_some_and(|(_, t)| t.is_complete())
        {
            self.transition = None;
            self.unsent.clear();
            self.maybe_plan();
        }
    }

    /// The coordinator learns op `op` of `tx` ended.
    fn complete(&mut self, tx: Tx, op: usize, result: OpResult) {
        let Some((ctx, t)) = &mut self.transition else {
            return;
        };
        if *ctx != tx {
            return;
        }
        self.unsent.remove(&op);
        let _ = t.complete(op, result);
        self.start_ready();
    }

    // ---- messages ----

    fn on_msg(&mut self, from: NodeId, msg: Msg) {
        match msg {
            Msg::Join(j) => self.on_join(from, j),
            Msg::Ready { seq } => self.on_ready(from, seq),
            Msg::Execute {
                tx,
                op,
                node,
                kind,
                call_id,
            } => self.on_execute(from, tx, op, node, kind, call_id),
            Msg::Result {
                tx,
                op,
                node,
                rsc_op,
                call_id,
                result,
                now_s,
                scores,
            } => {
                let rescore = self.record_scores(&rsc_op, scores.as_deref());
                self.on_result(tx, op, node, rsc_op, call_id, result, now_s, rescore)
            }
            Msg::Fenced {
                tx,
                op,
                target,
                target_id,
                entry,
            } => self.on_fenced(from, tx, op, target, target_id, entry),
            // A set planned before this membership's synchronisation (by a coordinator that
            // knew less, say of a node that has since restarted) is stale: the coordinator
            // sends a fresh one once it planned on the synchronised state.
            Msg::Monitors { ops } if self.synced => self.on_monitors(ops),
            Msg::Monitors { .. } => {}
            Msg::Config { xml, req } => self.on_config(xml, req),
            Msg::Verdict { req, refusal } => self.on_verdict(from, req, refusal),
            Msg::Edit { edit, req } => self.on_edit(edit, req),
            Msg::Settled { ok, message, reqs } => {
                for r in &reqs {
                    self.pending_reqs.remove(r);
                    if r.0 == self.config.local && self.waiting.remove(&r.1) {
                        self.reply(
                            r.1,
                            Reply::Done {
                                ok,
                                message: message.clone(),
                            },
                        );
                    }
                }
            }
        }
    }

    fn on_execute(
        &mut self,
        from: NodeId,
        tx: Tx,
        op: usize,
        node: NodeId,
        kind: OpKind,
        call_id: i64,
    ) {
        // Only the coordinator of the synchronised membership starts operations: anything
        // sent before the last membership change is dropped (its sender forgets it).
        if !self.synced || Some(from) != self.coordinator() || !self.members.contains(&node) {
            if from == self.config.local {
                self.complete(tx, op, not_run(&kind, "the membership changed"));
            }
            return;
        }
        if from == self.config.local {
            self.unsent.remove(&op);
            if let OpKind::Rsc(r) = &kind {
                let at = self
                    .now
                    .saturating_add(r.timeout_ms)
                    .saturating_add(self.opts.cluster_delay_ms);
                self.overdue
                    .insert((node, tx, op), (at, r.clone(), call_id));
            }
        }
        self.inflight.insert((node, tx, op));
        if let OpKind::Rsc(r) = &kind {
            self.max_call = self.max_call.max(call_id);
            if r.record && !(r.action == "monitor" && r.interval_ms == 0) {
                let rec = op_record(r, None, call_id, (self.now / 1000) as i64);
                executor::record(&mut self.doc, &rec);
                self.touch(Touch::History {
                    node: r.node.clone(),
                    rsc: r.rsc.clone(),
                });
                self.dirty = true;
            }
        }
        if node != self.config.local {
            return;
        }
        if let OpKind::Rsc(r) = &kind
            && matches!(r.action.as_str(), "stop" | "demote" | "migrate_to")
        {
            self.monitors.retain(|_, m| m.op.rsc != r.rsc);
        }
        let id = RunId(self.next_run);
        self.next_run += 1;
        // The executor kills an agent at its timeout; one that has said nothing by half
        // of `cluster-delay` after that hangs (the coordinator's own timer, at the whole
        // `cluster-delay`, covers a node that says nothing at all).
        let due = match &kind {
            OpKind::Rsc(r) => Some(
                self.now
                    .saturating_add(r.timeout_ms)
                    .saturating_add(self.opts.cluster_delay_ms / 2),
            ),
            _ => None,
        };
        self.runs.insert(
            id,
            Run::Op {
                tx,
                op,
                kind: kind.clone(),
                call_id,
                due,
                reported: false,
            },
        );
        self.outputs.push(Output::Run {
            id,
            op: kind,
            call_id,
        });
    }

    fn on_done(&mut self, id: RunId, result: OpResult) {
        let now_s = (self.now / 1000) as i64;
        match self.runs.remove(&id) {
            Some(Run::Op {
                tx,
                op,
                kind: OpKind::Rsc(r),
                call_id,
                ..
            }) => {
                let scores = self.scores.for_send();
                self.send(&Msg::Result {
                    tx: Some(tx),
                    op,
                    node: self.config.local,
                    rsc_op: r,
                    call_id,
                    result,
                    now_s,
                    scores,
                });
            }
            Some(Run::Op {
                tx,
                op,
                kind: OpKind::Fence(f),
                ..
            }) => {
                let ok = matches!(result, OpResult::Fence { ok: true });
                let why = match &result {
                    OpResult::Fence { ok: true } => String::new(),
                    OpResult::Agent { exit_reason, .. } => {
                        exit_reason.clone().unwrap_or_else(|| "fence failed".into())
                    }
                    _ => "no fence device confirmed it".into(),
                };
                let entry = FenceEntry {
                    at_ms: self.now,
                    target: f.target.clone(),
                    action: f.action.clone(),
                    ok,
                    by: self.me(),
                    why,
                };
                self.send(&Msg::Fenced {
                    tx,
                    op,
                    target: f.target,
                    target_id: f.target_id,
                    entry,
                });
            }
            Some(Run::Op { .. }) => {}
            Some(Run::Monitor { key }) => {
                let Some(m) = self.monitors.get_mut(&key) else {
                    return;
                };
                m.running = false;
                m.due = self.now + m.op.interval_ms.max(1);
                let (rc, timed_out) = match &result {
                    OpResult::Agent { rc, timed_out, .. } => (*rc, *timed_out),
                    _ => (1, false),
                };
                // Sent when the rc changed, or the scores the agents left did.
                if m.last == Some((rc, timed_out)) && !self.scores.changed() {
                    return;
                }
                m.last = Some((rc, timed_out));
                let rsc_op = m.op.clone();
                let call_id = self.max_call + 1;
                let scores = self.scores.for_send();
                self.send(&Msg::Result {
                    tx: None,
                    op: 0,
                    node: self.config.local,
                    rsc_op,
                    call_id,
                    result,
                    now_s,
                    scores,
                });
            }
            None => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_result(
        &mut self,
        tx: Option<Tx>,
        op: usize,
        node: NodeId,
        r: RscOp,
        call_id: i64,
        result: OpResult,
        now_s: i64,
        rescore: bool,
    ) {
        if let Some(tx) = tx {
            self.inflight.remove(&(node, tx, op));
            self.ended.insert((node, tx, op));
            self.overdue.remove(&(node, tx, op));
        }
        tracing::info!(?tx, op, node, rsc = %r.rsc, action = %r.action, ?result, "result");
        self.max_call = self.max_call.max(call_id);
        let (rc, timed_out) = match &result {
            OpResult::Agent { rc, timed_out, .. } => (*rc, *timed_out),
            _ => (1, false),
        };
        let failed = r.failed(rc, timed_out);
        if r.record {
            let change = Replay::Record {
                r: Box::new(r.clone()),
                result: result.clone(),
                call_id,
                now_s,
            };
            self.apply(&change);
            self.keep_for_sync(change);
        }
        let what = if r.interval_ms > 0 {
            format!("monitor {} on {}", r.rsc, r.node)
        } else if r.action == "monitor" {
            format!("probe {} on {}", r.rsc, r.node)
        } else {
            format!("{} {} on {}", r.action, r.rsc, r.node)
        };
        let text = if failed {
            let why = match &result {
                OpResult::Agent {
                    exit_reason: Some(w),
                    ..
                } => format!(": {w}"),
                _ => String::new(),
            };
            format!(
                "{what}: FAILED (rc {rc}{}){why}",
                if timed_out { ", timed out" } else { "" }
            )
        } else {
            format!("{what}: ok")
        };
        if tx.is_some() || failed {
            self.progress(text.clone());
        }
        if failed {
            self.failures.push(text.clone());
            self.idle = false;
        }
        let alerting = matches!(r.action.as_str(), "start" | "stop" | "promote" | "demote")
            || (failed && r.action == "monitor" && r.interval_ms > 0);
        if alerting {
            let desc = if failed { "error" } else { "ok" }.to_owned();
            self.alert(
                AlertKind::Resource,
                &r.node,
                desc,
                AlertExtra {
                    rsc: Some((r.rsc.clone(), r.action.clone(), r.interval_ms)),
                    rc: Some(rc),
                    target_rc: Some(r.expected_rc),
                    status: Some(if timed_out {
                        2
                    } else if failed {
                        4
                    } else {
                        0
                    }),
                },
            );
        }
        match tx {
            Some(tx) => self.complete(tx, op, result),
            // A recurring monitor failed: what the transition under way does may not be
            // what the cluster needs now.
            None if failed => {
                if let Some((_, t)) = &mut self.transition {
                    t.abort("a monitor failed");
                }
            }
            // A recurring monitor that answers as expected changes no plan, unless it changed
            // the node's promotion scores.
            None if rescore => self.idle = false,
            None => return,
        }
        self.end_transition_if_complete();
        self.maybe_plan();
    }

    /// Record the promotion scores a result carries as its node's (`None`: it carries
    /// none). Returns whether they changed.
    fn record_scores(&mut self, r: &RscOp, scores: Option<&[(String, String)]>) -> bool {
        let Some(s) = scores else {
            return false;
        };
        let changed = scores::record(&mut self.doc, &r.node, &r.node_id, s);
        self.touch(Touch::Attributes {
            node: r.node.clone(),
        });
        self.dirty |= changed;
        self.keep_for_sync(Replay::Scores {
            node: r.node.clone(),
            node_id: r.node_id.clone(),
            scores: s.to_vec(),
        });
        changed
    }

    fn on_fenced(
        &mut self,
        from: NodeId,
        tx: Tx,
        op: usize,
        target: String,
        target_id: String,
        entry: FenceEntry,
    ) {
        self.inflight.remove(&(from, tx, op));
        self.ended.insert((from, tx, op));
        tracing::info!(?tx, op, %target, ok = entry.ok, why = %entry.why, "fenced");
        let ok = entry.ok;
        if ok {
            let change = Replay::Fenced {
                target: target.clone(),
                target_id,
            };
            self.apply(&change);
            self.keep_for_sync(change);
            self.fence_fail.remove(&target);
            self.progress(format!("fenced {target} ({})", entry.action));
        } else {
            let n = self.fence_fail.get(&target).map_or(0, |(n, _)| *n) + 1;
            let delay = FENCE_RETRY_MS
                .saturating_mul(1 << (n - 1).min(10))
                .min(FENCE_RETRY_MAX_MS);
            self.fence_fail
                .insert(target.clone(), (n, self.now.saturating_add(delay)));
            let text = format!(
                "fencing {target} FAILED ({}); its resources stay where they were until it is \
                 fenced; trying again in {} s",
                entry.why,
                delay / 1000
            );
            self.progress(text.clone());
            self.failures.push(text);
        }
        self.alert(
            AlertKind::Fencing,
            &target,
            format!(
                "Operation {} of {target} by {}: {}",
                entry.action,
                entry.by,
                if ok { "OK" } else { "Error" }
            ),
            AlertExtra {
                rc: Some(if ok { 0 } else { 1 }),
                ..AlertExtra::default()
            },
        );
        self.fencing.push(entry);
        self.trim_fencing();
        self.dirty = true;
        self.complete(tx, op, OpResult::Fence { ok });
        self.end_transition_if_complete();
        self.maybe_plan();
    }

    /// Apply a change to this node's copy of the CIB; whether its configuration changed.
    fn apply(&mut self, change: &Replay) -> bool {
        let mut config_changed = false;
        match change {
            Replay::Record {
                r,
                result,
                call_id,
                now_s,
            } => {
                // A result that comes late (after the coordinator took it as timed out and
                // later operations of the resource ran there) never replaces a newer entry.
                if !newer_recorded(&self.doc, r, *call_id) {
                    let rec = op_record(r, Some(result), *call_id, *now_s);
                    executor::record(&mut self.doc, &rec);
                    // A failure also counts on the node (fail count, last failure).
                    self.touch(Touch::History {
                        node: r.node.clone(),
                        rsc: r.rsc.clone(),
                    });
                    self.touch(Touch::Attributes {
                        node: r.node.clone(),
                    });
                }
            }
            Replay::Fenced { target, target_id } => {
                executor::fenced(&mut self.doc, target, target_id);
                let member = self
                    .id_of(target)
                    .is_some_and(|i| self.members.contains(&i));
                if member {
                    self.touch(Touch::Other);
                } else {
                    // A node down: the plan makes its state anew (`plan_doc`), whatever
                    // the copy holds; the kept plan takes the view (`kept::take_view`).
                    self.peers.insert(target.clone(), Peer::Down);
                }
            }
            Replay::Scores {
                node,
                node_id,
                scores,
            } => {
                scores::record(&mut self.doc, node, node_id, scores);
                self.touch(Touch::Attributes { node: node.clone() });
            }
            Replay::Config { xml } => {
                let (d, _) = Document::parse(xml);
                if state::versions(&d) > state::versions(&self.doc) {
                    self.previous = Some(state::config_xml(&self.doc));
                    self.doc = state::with_config(&self.doc, xml);
                    self.touch(Touch::Other);
                    self.refresh_config();
                    config_changed = true;
                }
            }
            Replay::Edit { edit } => {
                let old = state::versions(&self.doc);
                // The constraints a move, ban or clear added, replaced or removed, and the
                // histories and attributes a cleanup of one resource removed (the kept plan
                // takes those in apart); anything else plans whole.
                let mut constraints = Vec::new();
                let mut touched = Vec::new();
                config_changed = match edit {
                    Edit::Place { rsc, node, ban } => {
                        match store::edit::place(&mut self.doc, rsc, node, *ban) {
                            Ok(id) => {
                                constraints.push(id);
                                true
                            }
                            Err(_) => false,
                        }
                    }
                    Edit::Clear { rsc, node } => {
                        constraints = clear(&mut self.doc, rsc, node.as_deref());
                        !constraints.is_empty()
                    }
                    Edit::Cleanup { rsc, node } => {
                        let gone = cleanup(&mut self.doc, rsc.as_deref(), node.as_deref());
                        if rsc.is_some() {
                            for (node, ids) in gone {
                                touched.extend(ids.into_iter().map(|rsc| Touch::History {
                                    node: node.clone(),
                                    rsc,
                                }));
                                touched.push(Touch::Attributes { node });
                            }
                        }
                        // Probed again: their monitors' last results are forgotten too.
                        for m in self.monitors.values_mut() {
                            if rsc.as_ref().is_none_or(|r| {
                                m.op.rsc == *r || m.op.rsc.starts_with(&format!("{r}:"))
                            }) {
                                m.last = None;
                            }
                        }
                        false
                    }
                };
                if constraints.is_empty() && touched.is_empty() {
                    self.touch(Touch::Other);
                }
                for t in touched {
                    self.touch(t);
                }
                for id in constraints {
                    self.touch(Touch::Constraint { id });
                }
                if config_changed {
                    let _ = cib::write::bump_versions(&mut self.doc, old, true);
                    self.refresh_config();
                }
            }
        }
        self.dirty = true;
        config_changed
    }

    /// Keep a change delivered before this membership's synchronisation completed.
    fn keep_for_sync(&mut self, change: Replay) {
        if !self.synced {
            self.since_change.push(change);
        }
    }

    fn on_monitors(&mut self, ops: Vec<RscOp>) {
        let me = self.me();
        let mine: BTreeMap<String, RscOp> = ops
            .into_iter()
            .filter(|o| o.node == me)
            .map(|o| (o.key.clone(), o))
            .collect();
        self.monitors
            .retain(|k, m| mine.get(k).is_some_and(|o| *o == m.op));
        for (k, op) in mine {
            let due = self.now + op.interval_ms.max(1);
            self.monitors.entry(k).or_insert(Mon {
                op,
                due,
                running: false,
                last: None,
            });
        }
    }

    /// A configuration was delivered: every member checks it against the Pacemaker on its
    /// node (as the daemon's start is checked) and says so; [`Node::on_verdict`] adopts it
    /// once every member has, or refuses it.
    fn on_config(&mut self, xml: String, req: ReqId) {
        let v = state::versions(&Document::parse(&xml).0);
        let mine = state::versions(&self.doc);
        if v <= mine {
            return self.adopt(xml, req);
        }
        let shared: Vec<String> = state::resource_ids(&xml)
            .intersection(&self.pacemaker_ids)
            .cloned()
            .collect();
        let refusal = (!shared.is_empty()).then(|| {
            format!(
                "Pacemaker runs on {} and its CIB configures {} too: crm-lite would manage {} \
                 beside it",
                self.me(),
                shared.join(", "),
                if shared.len() == 1 { "it" } else { "them" }
            )
        });
        if let Some(r) = &refusal {
            tracing::warn!(version = %state::version_text(v), "refusing a configuration: {r}");
        }
        self.proposals.insert(
            req,
            Proposal {
                xml,
                members: self.members.clone(),
                verdicts: BTreeMap::new(),
            },
        );
        self.send(&Msg::Verdict { req, refusal });
    }

    /// Member `from` checked configuration `req`.
    fn on_verdict(&mut self, from: NodeId, req: ReqId, refusal: Option<String>) {
        let Some(p) = self.proposals.get_mut(&req) else {
            return;
        };
        if !p.members.contains(&from) {
            return;
        }
        p.verdicts.insert(from, refusal);
        if !p.members.iter().all(|m| p.verdicts.contains_key(m)) {
            return;
        }
        let Some(p) = self.proposals.remove(&req) else {
            return;
        };
        let refusals: Vec<String> = p.verdicts.into_values().flatten().collect();
        if refusals.is_empty() {
            return self.adopt(p.xml, req);
        }
        let message = format!(
            "refused, nothing was changed: {}; take them out of one of the two configurations",
            refusals.join("; ")
        );
        self.progress(message.clone());
        if req.0 == self.config.local && self.waiting.remove(&req.1) {
            self.reply(req.1, Reply::Done { ok: false, message });
        }
    }

    /// Configurations still waiting for verdicts when the membership changes are dropped
    /// (their clients told to apply again).
    fn drop_proposals(&mut self) {
        for (req, _) in std::mem::take(&mut self.proposals) {
            if req.0 == self.config.local && self.waiting.remove(&req.1) {
                self.reply(
                    req.1,
                    Reply::Done {
                        ok: false,
                        message: "the membership changed while the cluster checked the \
                                  configuration: nothing was changed, apply it again"
                            .into(),
                    },
                );
            }
        }
    }

    fn adopt(&mut self, xml: String, req: ReqId) {
        let (d, _) = Document::parse(&xml);
        let v = state::versions(&d);
        let mine = state::versions(&self.doc);
        let change = Replay::Config { xml };
        let adopted = self.apply(&change);
        self.keep_for_sync(change);
        if adopted {
            self.pending_reqs.insert(req);
            self.progress(format!(
                "configuration {} adopted by the cluster",
                state::version_text(v)
            ));
        } else if req.0 == self.config.local && self.waiting.remove(&req.1) {
            self.reply(
                req.1,
                Reply::Done {
                    ok: false,
                    message: format!(
                        "refused: the configuration has version {}, not higher than the \
                         cluster's {} (another change came first)",
                        state::version_text(v),
                        state::version_text(mine)
                    ),
                },
            );
            return;
        }
        self.restart_planning("the configuration changed");
    }

    /// A change the coordinator must plan for: stop the transition (what runs is awaited)
    /// and plan again.
    fn restart_planning(&mut self, why: &str) {
        self.idle = false;
        self.rounds = 0;
        self.replan_at = None;
        if let Some((_, t)) = &mut self.transition {
            t.abort(why);
        }
        self.end_transition_if_complete();
        self.maybe_plan();
    }

    fn on_edit(&mut self, edit: Edit, req: ReqId) {
        let change = Replay::Edit { edit };
        self.apply(&change);
        self.keep_for_sync(change);
        self.pending_reqs.insert(req);
        self.restart_planning("an operator changed the cluster");
    }

    // ---- requests ----

    fn on_request(&mut self, client: u64, request: Request) {
        let refuse = |n: &mut Node, message: String| {
            n.reply(client, Reply::Done { ok: false, message });
        };
        if !self.synced {
            refuse(
                self,
                "the cluster is synchronising after a membership change: try again".into(),
            );
            return;
        }
        let req = (self.config.local, client);
        match request {
            Request::Apply { file, xml } => {
                let mut parsed = cib::parse(&file, &xml);
                parsed.check_runnable();
                if parsed.has_errors() {
                    let errors: Vec<String> = parsed
                        .diagnostics
                        .iter()
                        .filter(|d| d.is_error())
                        .map(|d| d.to_string())
                        .collect();
                    refuse(
                        self,
                        format!(
                            "{file} is invalid, nothing was changed:\n{}",
                            errors.join("\n")
                        ),
                    );
                    return;
                }
                let v = parsed.cib.versions;
                let mine = state::versions(&self.doc);
                if v <= mine {
                    refuse(
                        self,
                        format!(
                            "{file} has version {}, not higher than the cluster's {}: raise its \
                             epoch (or admin_epoch)",
                            state::version_text(v),
                            state::version_text(mine)
                        ),
                    );
                    return;
                }
                let config = state::config_xml(&parsed.doc);
                self.waiting.insert(client);
                self.reply(
                    client,
                    Reply::Progress(format!(
                        "handing {file} (version {}) to the cluster",
                        state::version_text(v)
                    )),
                );
                self.send(&Msg::Config { xml: config, req });
            }
            Request::Place { rsc, node, ban } => {
                if let Err(m) = self.check_target(Some(&rsc), Some(&node)) {
                    refuse(self, m);
                    return;
                }
                self.waiting.insert(client);
                let what = if ban { "ban" } else { "move" };
                let to = if ban { "from" } else { "to" };
                self.reply(
                    client,
                    Reply::Progress(format!("asking the cluster to {what} {rsc} {to} {node}")),
                );
                self.send(&Msg::Edit {
                    edit: Edit::Place { rsc, node, ban },
                    req,
                });
            }
            Request::Clear { rsc, node } => {
                if let Err(m) = self.check_target(Some(&rsc), node.as_deref()) {
                    refuse(self, m);
                    return;
                }
                self.waiting.insert(client);
                self.reply(
                    client,
                    Reply::Progress(format!(
                        "asking the cluster to clear {rsc}'s moves and bans"
                    )),
                );
                self.send(&Msg::Edit {
                    edit: Edit::Clear { rsc, node },
                    req,
                });
            }
            Request::Cleanup { rsc, node } => {
                if let Err(m) = self.check_target(rsc.as_deref(), node.as_deref()) {
                    refuse(self, m);
                    return;
                }
                self.waiting.insert(client);
                self.reply(
                    client,
                    Reply::Progress(format!(
                        "asking the cluster to clean up {} on {}",
                        rsc.as_deref().unwrap_or("every resource"),
                        node.as_deref().unwrap_or("every node")
                    )),
                );
                self.send(&Msg::Edit {
                    edit: Edit::Cleanup { rsc, node },
                    req,
                });
            }
        }
    }

    /// A request may name only configured resources and nodes of the nodelist.
    fn check_target(&self, rsc: Option<&str>, node: Option<&str>) -> Result<(), String> {
        if let Some(n) = node
            && self.id_of(n).is_none()
        {
            let known: Vec<&str> = self.config.nodes.values().map(String::as_str).collect();
            return Err(format!(
                "node {n} is not in the cluster's nodelist ({})",
                known.join(", ")
            ));
        }
        if let Some(r) = rsc {
            if !self.cfg.has_resource(r) {
                return Err(format!("resource {r} is not configured"));
            }
        }
        Ok(())
    }

    // ---- status ----

    /// Where the plan wants every resource (instance) now: what `status` showed before it
    /// showed what is observed. Tests compare it with the world once the cluster settled.
    pub fn planned(&self) -> Vec<ResourceStatus> {
        let (model, plan) = self.plan_now();
        plan.placement
            .iter()
            .map(|p| ResourceStatus {
                id: p.rsc.clone(),
                agent: agent_of(&model, &p.rsc),
                role: if p.nodes.is_empty() {
                    "Stopped".to_owned()
                } else {
                    p.role.to_string()
                },
                nodes: p.nodes.clone(),
                failed: false,
                failed_op: None,
                pending: None,
            })
            .collect()
    }

    /// How many of this node's plans (as coordinator) re-planned only the primitives that
    /// changed (see `scheduler::Model`).
    pub fn plans_made_alone(&self) -> u64 {
        self.alone_plans
    }

    /// How many of this node's plans (as coordinator) were made whole (a new model of
    /// its copy of the CIB).
    pub fn plans_made_whole(&self) -> u64 {
        self.whole_plans
    }

    /// How many of this node's plans (as coordinator) were made whole from the model it
    /// kept, without lowering its copy of the CIB again (a node lost, back or fenced,
    /// quorum lost or regained).
    pub fn plans_made_whole_in_place(&self) -> u64 {
        self.kept_whole_plans
    }

    /// The cluster as this node knows it.
    pub fn status(&self) -> Status {
        let (model, plan) = self.plan_now();
        let standby: BTreeSet<&str> = plan
            .unavailable
            .iter()
            .filter(|(_, why)| why.contains("standby"))
            .map(|(n, _)| n.as_str())
            .collect();
        let nodes = self
            .peers
            .iter()
            .map(|(name, p)| NodeStatus {
                name: name.clone(),
                id: self.id_of(name).unwrap_or(0),
                state: match p {
                    Peer::Member if standby.contains(name.as_str()) => "standby",
                    Peer::Member => "online",
                    Peer::Lost => "UNCLEAN",
                    Peer::Down | Peer::Unseen => "offline",
                }
                .to_owned(),
            })
            .collect();
        // Observed from this node's copy itself (the plan's copy leaves out the history
        // of nodes it takes as down).
        let (copy, _) = cib::lower("cib", "", &self.doc);
        let resources = observed(&copy, &self.peers);
        let mut failures = Vec::new();
        for ns in &model.status.nodes {
            for f in &ns.fail_counts {
                let (op, interval) = f
                    .operation
                    .as_ref()
                    .map_or(("operation", 0), |(o, i)| (o.as_str(), *i));
                failures.push(format!(
                    "{} {op}{} on {}: fail count {}",
                    f.resource.as_str(),
                    if interval > 0 {
                        format!(" (every {} s)", interval / 1000)
                    } else {
                        String::new()
                    },
                    ns.uname.as_str(),
                    f.count
                ));
            }
            for r in &ns.resources {
                for o in r
                    .ops
                    .iter()
                    .filter(|o| o.failed() && o.id.ends_with("_last_failure_0"))
                {
                    failures.push(format!(
                        "{} {} on {}: rc {}{}",
                        r.id.as_str(),
                        o.operation,
                        ns.uname.as_str(),
                        o.rc,
                        o.exit_reason
                            .as_deref()
                            .filter(|w| !w.is_empty())
                            .map_or(String::new(), |w| format!(" ({w})"))
                    ));
                }
            }
        }
        let mut fencing: Vec<String> = self
            .fencing
            .iter()
            .map(|f| {
                format!(
                    "{}.{:03} {} {} {}{}",
                    f.at_ms / 1000,
                    f.at_ms % 1000,
                    f.target,
                    f.action,
                    if f.ok { "ok" } else { "failed" },
                    if f.why.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", f.why)
                    }
                )
            })
            .collect();
        for (target, (n, at)) in &self.fence_fail {
            fencing.push(format!(
                "{target}: {n} failed fence attempt(s), next at {}.{:03}; its resources are not \
                 recovered until it is fenced",
                at / 1000,
                at % 1000
            ));
        }
        Status {
            local: self.me(),
            quorate: self.quorate,
            coordinator: self.coordinator().map(|c| self.name_of(c)),
            version: state::version_text(state::versions(&self.doc)),
            nodes,
            resources,
            failures,
            fencing,
            busy: self.transition.is_some() || !self.inflight.is_empty(),
        }
    }
}

/// Whether `doc` already records an operation of `r`'s resource on its node, in the entry
/// `r`'s result would replace, with a call id above `call_id`.
fn newer_recorded(doc: &Document, r: &RscOp, call_id: i64) -> bool {
    let Some(st) = state::node_state(doc, &r.node) else {
        return false;
    };
    let entry = if r.interval_ms > 0 {
        format!("{}_{}_{}", r.rsc, r.action, r.interval_ms)
    } else {
        format!("{}_last_0", r.rsc)
    };
    let Some(lrm) = doc.child(st, "lrm") else {
        return false;
    };
    let Some(rscs) = doc.child(lrm, "lrm_resources") else {
        return false;
    };
    doc.children(rscs)
        .filter(|&c| doc.get(c).attr("id") == Some(r.rsc.as_str()))
        .flat_map(|c| doc.children(c))
        .filter(|&o| doc.get(o).attr("id") == Some(entry.as_str()))
        .filter_map(|o| doc.get(o).attr("call-id")?.parse::<i64>().ok())
        .any(|c| c > call_id)
}

/// `ocf:crm-lite:mgmt-api`, ... for a resource (or instance) id.
fn agent_of(cib: &cib::Cib, rsc: &str) -> String {
    cib.primitive_of(rsc)
        .map(|(pr, _)| match &pr.provider {
            Some(prov) => format!("{}:{prov}:{}", pr.class, pr.agent),
            None => format!("{}:{}", pr.class, pr.agent),
        })
        .unwrap_or_default()
}

/// An operation of the history in words: `monitor (every 10 s): rc 7, timed out (why)`.
fn op_text(o: &cib::status::LrmOp) -> String {
    let every = if o.interval_ms > 0 {
        format!(" (every {} s)", o.interval_ms / 1000)
    } else if o.operation == "monitor" {
        " (probe)".to_owned()
    } else {
        String::new()
    };
    let timed_out = if o.status == cib::status::ExecStatus::Timeout {
        ", timed out"
    } else {
        ""
    };
    let why = o
        .exit_reason
        .as_deref()
        .filter(|w| !w.is_empty())
        .map_or(String::new(), |w| format!(" ({w})"));
    format!("{}{every}: rc {}{timed_out}{why}", o.operation, o.rc)
}

/// Where the resources are observed, as `crm_mon` shows them: every resource's history on
/// every node folded to its state there (the in-flight markers as pending operations).
/// One row per resource, role and node set; a resource whose last operation failed on a
/// node has a row of its own there, `failed` with the operation; a configured resource
/// observed nowhere is `Stopped`. Lost (UNCLEAN) nodes keep what was last seen there.
fn observed(cib: &cib::Cib, peers: &BTreeMap<String, Peer>) -> Vec<ResourceStatus> {
    type Key = (String, String, bool, Option<String>, Option<String>);
    let mut rows: BTreeMap<Key, BTreeSet<String>> = BTreeMap::new();
    for ns in &cib.status.nodes {
        let node = ns.uname.as_str();
        if (!cib.nodes.is_empty() && cib.node(node).is_none())
            || matches!(peers.get(node), Some(Peer::Down))
        {
            continue;
        }
        for r in &ns.resources {
            let st = &r.state;
            if !st.role.is_active() && !st.failed && st.pending.is_none() {
                continue;
            }
            let promotable = cib
                .primitive_of(r.id.as_str())
                .and_then(|(_, c)| c)
                .is_some_and(|c| c.promotable);
            let role = match st.role {
                cib::Role::Started if promotable => cib::Role::Unpromoted,
                role => role,
            };
            let failed_op = if st.failed {
                st.failed_ops.last().map(|&i| op_text(&r.ops[i]))
            } else {
                None
            };
            rows.entry((
                r.id.0.clone(),
                role.to_string(),
                st.failed,
                failed_op,
                st.pending.clone(),
            ))
            .or_default()
            .insert(node.to_owned());
        }
    }
    let seen: BTreeSet<String> = rows
        .keys()
        .map(|(id, ..)| cib::meta::base_id(id).to_owned())
        .collect();
    let mut out: Vec<ResourceStatus> = rows
        .into_iter()
        .map(
            |((id, role, failed, failed_op, pending), nodes)| ResourceStatus {
                agent: agent_of(cib, &id),
                id,
                role,
                nodes: nodes.into_iter().collect(),
                failed,
                failed_op,
                pending,
            },
        )
        .collect();
    for r in &cib.resources {
        for p in r.primitives() {
            if seen.contains(p.id.as_str()) {
                continue;
            }
            out.push(ResourceStatus {
                id: p.id.0.clone(),
                agent: agent_of(cib, p.id.as_str()),
                role: "Stopped".to_owned(),
                nodes: Vec::new(),
                failed: false,
                failed_op: None,
                pending: None,
            });
        }
    }
    out.sort_by(|a, b| (&a.id, &a.nodes, &a.role).cmp(&(&b.id, &b.nodes, &b.role)));
    out
}

/// The optional parts of an alert.
#[derive(Debug, Default)]
struct AlertExtra {
    rsc: Option<(String, String, u64)>,
    rc: Option<i32>,
    target_rc: Option<i32>,
    status: Option<i32>,
}

/// The result of an operation that never ran.
fn not_run(kind: &OpKind, why: &str) -> OpResult {
    match kind {
        OpKind::Fence(_) => OpResult::Fence { ok: false },
        OpKind::Pseudo(_) => OpResult::Implied,
        OpKind::Rsc(_) => OpResult::Agent {
            rc: 1,
            timed_out: false,
            exec_ms: 0,
            exit_reason: Some(format!("not run: {why}")),
            restart: None,
        },
    }
}

/// The history entry of `op` (`result` `None`: the in-flight marker), as
/// `executor::drive::op_record` makes it from what ran.
pub fn op_record<'a>(
    op: &'a RscOp,
    result: Option<&'a OpResult>,
    call_id: i64,
    now_s: i64,
) -> executor::OpRecord<'a> {
    let (rc, timed_out, exec_ms, exit_reason, restart) = match result {
        Some(OpResult::Agent {
            rc,
            timed_out,
            exec_ms,
            exit_reason,
            restart,
        }) => (
            *rc,
            *timed_out,
            *exec_ms,
            exit_reason.as_deref(),
            restart.as_ref(),
        ),
        Some(_) => (1, false, 0, None, None),
        None => (0, false, 0, None, None),
    };
    executor::OpRecord {
        node: &op.node,
        node_id: &op.node_id,
        rsc: &op.rsc,
        class: &op.agent.class,
        provider: op.agent.provider.as_deref(),
        agent: &op.agent.kind,
        operation: &op.action,
        interval_ms: op.interval_ms,
        rc,
        expected_rc: if result.is_some() { op.expected_rc } else { 0 },
        timed_out,
        call_id,
        now: now_s,
        exec_ms,
        digest: &op.digest,
        exit_reason,
        restart,
        migrate: result
            .and(op.migrate.as_ref())
            .map(|(s, t)| (s.as_str(), t.as_str())),
        pending: result.is_none(),
    }
}

/// `clear`: remove `rsc`'s `cli-*` constraints (only those on `node`, if given).
fn clear(doc: &mut Document, rsc: &str, node: Option<&str>) -> Vec<String> {
    let ban = format!("cli-ban-{rsc}-on-{}", node.unwrap_or(""));
    let prefer = format!("cli-prefer-{rsc}");
    let gone: Vec<_> = doc
        .all()
        .filter(|&e| {
            let el = doc.get(e);
            let in_constraints = el.parent.is_some_and(|p| doc.get(p).name == "constraints");
            el.name == "rsc_location"
                && in_constraints
                && el.attr("id").is_some_and(|id| match node {
                    // Without a node, every ban of it and its move (as `store::edit::clear`).
                    None => id == prefer || id.starts_with(&ban),
                    Some(node) => id == ban || (id == prefer && el.attr("node") == Some(node)),
                })
        })
        .collect();
    let ids = gone
        .iter()
        .filter_map(|&e| doc.get(e).attr("id").map(str::to_owned))
        .collect();
    for &e in &gone {
        doc.detach(e);
    }
    ids
}

/// `cleanup`: forget the history and fail counts of `rsc` (every resource if `None`) on
/// `node` (every node if `None`).
/// Returns, for each node whose state it read, the histories it removed (by id).
fn cleanup(
    doc: &mut Document,
    rsc: Option<&str>,
    node: Option<&str>,
) -> Vec<(String, Vec<String>)> {
    let names: Vec<String> = match node {
        Some(n) => vec![n.to_owned()],
        None => doc
            .all()
            .filter(|&e| doc.get(e).name == "node_state")
            .filter_map(|e| doc.get(e).attr("uname").map(str::to_owned))
            .collect(),
    };
    let mut gone = Vec::new();
    for n in names {
        let Some(xml) = state::node_state_xml(doc, &n) else {
            continue;
        };
        let (mut one, _) = Document::parse(&xml);
        let histories = history_ids(&one);
        let rscs: Vec<String> = match rsc {
            Some(r) => vec![r.to_owned()],
            None => histories.clone(),
        };
        for r in rscs {
            store::edit::cleanup(&mut one, &r);
        }
        let left: BTreeSet<String> = history_ids(&one).into_iter().collect();
        state::set_node_state(doc, &n, Some(&one.to_xml()));
        gone.push((
            n,
            histories
                .into_iter()
                .filter(|h| !left.contains(h))
                .collect(),
        ));
    }
    gone
}

/// The ids of the `lrm_resource` elements in `doc`'s tree (detached ones left out).
fn history_ids(doc: &Document) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<_> = doc.root().into_iter().collect();
    while let Some(e) = stack.pop() {
        let el = doc.get(e);
        match el.name.as_str() {
            "lrm_resource" => out.extend(el.attr("id").map(str::to_owned)),
            _ => stack.extend(doc.children(e)),
        }
    }
    out
}

/// One line naming an operation, for the log.
fn kind_text(kind: &OpKind) -> String {
    match kind {
        OpKind::Rsc(r) if r.interval_ms > 0 => {
            format!("monitor {} on {} every {} ms", r.rsc, r.node, r.interval_ms)
        }
        OpKind::Rsc(r) => format!("{} {} on {}", r.action, r.rsc, r.node),
        OpKind::Fence(f) => format!("fence {} ({})", f.target, f.action),
        OpKind::Pseudo(p) => format!("pseudo {}", p.action),
    }
}

/// The `node_state` attributes a plan lays out for a node down and clean (fenced, or
/// known to run nothing), a state made anew with no history: see `Node::plan_doc`.
pub(crate) fn down_state<'a>(id: &'a str, name: &'a str) -> [(&'a str, &'a str); 7] {
    [
        ("id", id),
        ("uname", name),
        ("in_ccm", "false"),
        ("crmd", "offline"),
        ("join", "down"),
        ("expected", "down"),
        ("crm-debug-origin", "crm-lite"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One history entry (`expected` from the transition key; op-status -1 is in flight).
    fn op(rsc: &str, name: &str, interval: u64, call: i64, rc: i32, status: i32) -> String {
        format!(
            r#"<lrm_rsc_op id="{rsc}_{name}_{interval}" operation="{name}" interval="{interval}" call-id="{call}" rc-code="{rc}" op-status="{status}" transition-key="1:1:0:00000000-0000-0000-0000-000000000000" exit-reason="{}"/>"#,
            if rc == 7 { "not running" } else { "" }
        )
    }

    fn rsc(id: &str, ops: &[String]) -> String {
        format!(
            r#"<lrm_resource id="{id}" class="ocf" provider="crm-lite" type="mgmt-api">{}</lrm_resource>"#,
            ops.concat()
        )
    }

    fn node_state(id: u32, rscs: &[String]) -> String {
        format!(
            r#"<node_state id="{id}" uname="n{id}" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="{id}"><lrm_resources>{}</lrm_resources></lrm></node_state>"#,
            rscs.concat()
        )
    }

    fn saved() -> String {
        let prim = |id: &str| {
            format!(r#"<primitive id="{id}" class="ocf" provider="crm-lite" type="mgmt-api"/>"#)
        };
        let n2 = node_state(
            2,
            &[
                rsc("fs", &[op("fs", "start", 0, 5, 0, 0)]),
                rsc(
                    "api",
                    &[
                        op("api", "start", 0, 6, 0, 0),
                        op("api", "monitor", 10_000, 7, 7, 0),
                    ],
                ),
            ],
        );
        let n3 = node_state(
            3,
            &[
                rsc(
                    "db",
                    &[
                        op("db", "start", 0, 8, 0, 0),
                        op("db", "promote", 0, 9, 0, 0),
                    ],
                ),
                rsc(
                    "lb",
                    &[
                        op("lb", "start", 0, 10, 0, 0),
                        op("lb", "stop", 0, 11, 0, -1),
                    ],
                ),
            ],
        );
        format!(
            r#"<cib admin_epoch="0" epoch="3" num_updates="0"><configuration><crm_config/><nodes><node id="1" uname="n1"/><node id="2" uname="n2"/><node id="3" uname="n3"/></nodes><resources>{}{}{}{}<clone id="db-clone"><meta_attributes id="db-m"><nvpair id="db-m-p" name="promotable" value="true"/></meta_attributes>{}</clone></resources><constraints/></configuration><status>{n2}{n3}</status></cib>"#,
            prim("fs"),
            prim("api"),
            prim("lb"),
            prim("a1"),
            prim("db"),
        )
    }

    #[test]
    fn status_shows_where_the_history_says_resources_run_and_what_failed() {
        let node = Node::new(Config {
            local: 1,
            nodes: (1..=3).map(|i| (i, format!("n{i}"))).collect(),
            cib: Some(saved()),
        });
        let st = node.status();
        let row = |id: &str| -> Vec<&ResourceStatus> {
            st.resources.iter().filter(|r| r.id == id).collect()
        };
        // Started as its history says, not failed.
        let fs = row("fs");
        assert_eq!(fs.len(), 1, "{st:?}");
        assert_eq!(
            (fs[0].role.as_str(), fs[0].nodes.clone()),
            ("Started", vec!["n2".to_owned()])
        );
        assert!(!fs[0].failed && fs[0].failed_op.is_none() && fs[0].pending.is_none());
        // Its last monitor found it not running: FAILED there, with the operation.
        let api = row("api");
        assert_eq!(api.len(), 1, "{st:?}");
        assert!(api[0].failed, "{st:?}");
        assert_eq!(api[0].nodes, ["n2"]);
        assert_eq!(
            api[0].failed_op.as_deref(),
            Some("monitor (every 10 s): rc 7 (not running)")
        );
        // A promotable clone's instance, promoted.
        let db = row("db");
        assert_eq!(db.len(), 1, "{st:?}");
        assert_eq!(
            (db[0].role.as_str(), db[0].nodes.clone()),
            ("Promoted", vec!["n3".to_owned()])
        );
        // A stop under way.
        let lb = row("lb");
        assert_eq!(lb.len(), 1, "{st:?}");
        assert_eq!(lb[0].pending.as_deref(), Some("stop"), "{st:?}");
        assert_eq!(lb[0].nodes, ["n3"]);
        // Configured, never seen running.
        let a1 = row("a1");
        assert_eq!(a1.len(), 1, "{st:?}");
        assert_eq!(a1[0].role, "Stopped");
        assert!(a1[0].nodes.is_empty());
        assert_eq!(a1[0].agent, "ocf:crm-lite:mgmt-api");
        // The plan (no node is a member yet) places nothing: status is not the plan.
        let planned = node.planned();
        assert!(planned.iter().all(|p| p.nodes.is_empty()), "{planned:?}");
    }
}
