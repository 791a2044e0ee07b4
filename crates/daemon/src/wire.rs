//! The daemon's wire format: one [`Msg`] per CPG message, serde_json in a versioned
//! envelope. Only daemons of the same [`VERSION`] understand each other; a message of
//! another version (or not ours at all) is ignored with a warning.
use scheduler::graph::{OpKind, RscOp};
use serde::{Deserialize, Serialize};
use transition::OpResult;

use crate::NodeId;

/// The version of the format (2: configurations are adopted only after every member's
/// [`Msg::Verdict`], which a daemon of version 1 would never send).
pub const VERSION: u32 = 2;

/// A transition, named by its coordinator and the coordinator's serial.
pub type Tx = (NodeId, u64);

/// A client request, named by the node that took it and its client.
pub type ReqId = (NodeId, u64);

/// What a node knows of another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Peer {
    /// In the current membership.
    Member,
    /// Left while a member and not fenced since: UNCLEAN.
    Lost,
    /// Down and clean: fenced, or known to run nothing.
    Down,
    /// Not seen since this node started.
    Unseen,
}

impl Peer {
    /// The `node_state` attributes a plan lays over a member or a lost node (a lost one
    /// stays expected: it is unclean until fenced); `None` for the others, whose state
    /// the plan makes anew.
    pub fn membership(self) -> Option<&'static [(&'static str, &'static str)]> {
        match self {
            Peer::Member => Some(&[
                ("in_ccm", "true"),
                ("crmd", "online"),
                ("join", "member"),
                ("expected", "member"),
            ]),
            Peer::Lost => Some(&[
                ("in_ccm", "false"),
                ("crmd", "offline"),
                ("join", "down"),
                ("expected", "member"),
            ]),
            Peer::Down | Peer::Unseen => None,
        }
    }
}

/// A fence operation that ended, as the fencing history shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FenceEntry {
    /// When it ended (unix ms, the coordinator's clock).
    pub at_ms: u64,
    /// The node fenced.
    pub target: String,
    /// `reboot` or `off`.
    pub action: String,
    /// It worked.
    pub ok: bool,
    /// Who ran it.
    pub by: String,
    /// Why it failed, if it did.
    pub why: String,
}

/// A member's state after a membership change (Pacemaker's join).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Join {
    /// The membership it answers.
    pub members: Vec<NodeId>,
    /// The sender's count of membership changes (its own; to spot its stale joins).
    pub seq: u64,
    /// The version of `config`: `admin_epoch`, `epoch`, `num_updates`.
    pub version: (u64, u64, u64),
    /// The sender's configuration (a CIB without status).
    pub config: String,
    /// The configuration before it, which still configures the orphans to stop.
    pub previous: Option<String>,
    /// The sender's own `node_state` (its operation history), as a small CIB.
    pub own: Option<String>,
    /// What the sender knows of the other nodes: state and `node_state`.
    pub peers: Vec<(String, Peer, Option<String>)>,
    /// Operations running on the sender: transition and op.
    pub running: Vec<(Tx, usize)>,
    /// The sender's fencing history.
    pub fencing: Vec<FenceEntry>,
    /// Requests waiting for the cluster to converge.
    pub pending: Vec<ReqId>,
}

/// An operator's edit, applied by every node at delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Edit {
    /// move / ban.
    Place {
        /// Resource.
        rsc: String,
        /// Node.
        node: String,
        /// Ban.
        ban: bool,
    },
    /// clear.
    Clear {
        /// Resource.
        rsc: String,
        /// Only on this node.
        node: Option<String>,
    },
    /// cleanup.
    Cleanup {
        /// Resource (all if none).
        rsc: Option<String>,
        /// Node (all if none).
        node: Option<String>,
    },
}

/// One message.
// Joins and operations are the common messages; boxing them buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// State after a membership change.
    Join(Join),
    /// The sender's Join `seq` was delivered in the membership it was made for: the
    /// others may use it (a Join sent late, after a later change, is never used).
    Ready {
        /// The Join's `seq`.
        seq: u64,
    },
    /// Run operation `op` of transition `tx` (on the node the operation names; fences on
    /// the coordinator).
    Execute {
        /// The transition.
        tx: Tx,
        /// The op's index.
        op: usize,
        /// Where it runs.
        node: NodeId,
        /// What.
        kind: OpKind,
        /// Its call id.
        call_id: i64,
    },
    /// An agent operation ended.
    Result {
        /// The transition (`None`: a recurring monitor).
        tx: Option<Tx>,
        /// The op's index.
        op: usize,
        /// Where it ran.
        node: NodeId,
        /// What ran.
        rsc_op: RscOp,
        /// Its call id.
        call_id: i64,
        /// How it ended.
        result: OpResult,
        /// When (unix seconds).
        now_s: i64,
        /// The sender's promotion scores after it ran ([`crate::scores`]; `None`: it knows
        /// none, nothing changes).
        #[serde(default)]
        scores: Option<crate::scores::Scores>,
    },
    /// A fence ended.
    Fenced {
        /// The transition.
        tx: Tx,
        /// The op's index.
        op: usize,
        /// The target and its `<node id>`.
        target: String,
        /// Target's `<node id>`.
        target_id: String,
        /// History entry.
        entry: FenceEntry,
    },
    /// The recurring monitors every node runs from now on (the whole set).
    Monitors {
        /// The monitors.
        ops: Vec<RscOp>,
    },
    /// A new configuration.
    Config {
        /// The CIB text (its status is ignored).
        xml: String,
        /// The request.
        req: ReqId,
    },
    /// The sender's verdict on configuration `req`: `None` when no Pacemaker on its node
    /// configures one of its resource ids, else why it refuses it.
    Verdict {
        /// The configuration's request.
        req: ReqId,
        /// Why not.
        refusal: Option<String>,
    },
    /// An operator's edit.
    Edit {
        /// What.
        edit: Edit,
        /// The request.
        req: ReqId,
    },
    /// The coordinator found nothing left to do (ok) or gave up (not ok).
    Settled {
        /// No operation failed on the way.
        ok: bool,
        /// What to tell the clients.
        message: String,
        /// The requests this answers.
        reqs: Vec<ReqId>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    v: u32,
    msg: Msg,
}

/// The bytes of `msg`.
pub fn encode(msg: &Msg) -> Vec<u8> {
    serde_json::to_vec(&Envelope {
        v: VERSION,
        msg: msg.clone(),
    })
    .unwrap_or_default()
}

/// Why bytes are not a message.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not JSON of ours.
    #[error("not a crm-lite daemon message: {0}")]
    Malformed(String),
    /// Another version.
    #[error("a message of wire version {0}, this daemon speaks {VERSION}")]
    Version(u32),
}

/// The message in `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Msg, WireError> {
    let e: Envelope =
        serde_json::from_slice(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    if e.v != VERSION {
        return Err(WireError::Version(e.v));
    }
    Ok(e.msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_foreign_bytes_are_refused() {
        let m = Msg::Settled {
            ok: true,
            message: "converged".into(),
            reqs: vec![(1, 2)],
        };
        assert_eq!(decode(&encode(&m)).ok(), Some(m));
        assert!(matches!(decode(b"hello"), Err(WireError::Malformed(_))));
        let other = br#"{"v":99,"msg":{"Monitors":{"ops":[]}}}"#;
        assert!(matches!(decode(other), Err(WireError::Version(99))));
    }
}
