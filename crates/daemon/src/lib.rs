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
#![deny(missing_docs)]

use std::collections::BTreeMap;

pub use cluster::NodeId;
use scheduler::graph::OpKind;
use transition::OpResult;

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
    /// A client asks.
    Request {
        /// Who (replies go to it).
        client: ClientId,
        /// What.
        request: Request,
    },
}

/// What a client of the control socket asks (`crm-lite apply`, `move`, `ban`, `clear`,
/// `cleanup` on a node of a running cluster).
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
    /// Where it runs.
    pub nodes: Vec<String>,
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

/// One cluster node's daemon state machine.
#[derive(Debug)]
pub struct Node {
    config: Config,
    outputs: Vec<Output>,
}

impl Node {
    /// A node that has not joined the group yet (the runtime joins, then feeds the
    /// membership event).
    pub fn new(config: Config) -> Node {
        Node {
            config,
            outputs: Vec::new(),
        }
    }

    /// This node's id.
    pub fn local(&self) -> NodeId {
        self.config.local
    }

    /// Something happened at `now_ms`.
    pub fn handle(&mut self, input: Input, now_ms: u64) {
        let _ = (input, now_ms);
    }

    /// Time passed: timers (monitors due, operations overdue, fence retries) fire.
    pub fn tick(&mut self, now_ms: u64) {
        let _ = now_ms;
    }

    /// When [`Node::tick`] is needed next, if ever.
    pub fn next_deadline(&self) -> Option<u64> {
        None
    }

    /// What to do now, in order.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    /// The cluster as this node knows it.
    pub fn status(&self) -> Status {
        Status {
            local: self
                .config
                .nodes
                .get(&self.config.local)
                .cloned()
                .unwrap_or_default(),
            quorate: false,
            coordinator: None,
            version: String::new(),
            nodes: Vec::new(),
            resources: Vec::new(),
            failures: Vec::new(),
            fencing: Vec::new(),
            busy: false,
        }
    }
}
