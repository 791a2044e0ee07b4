//! Corosync behind a trait. The cluster daemon sees the cluster only through [`Group`]:
//! it joins the CPG group `crm-lite`, sends messages, and polls [`Event`]s, which come in
//! Corosync's agreed order: messages (its own looped back included) and membership changes
//! interleaved as every member sees them, and quorum changes. Sending may fail with
//! [`Error::TryAgain`] (Corosync's `CS_ERR_TRY_AGAIN`, while the membership changes or its
//! queue is full): [`Outgoing`] keeps the messages in order and retries them.
//!
//! [`sim`] is a simulated Corosync with the same trait, in-process and seeded, for
//! deterministic tests of the daemon's state machine. The real implementation, on the
//! `rust-corosync` crate, is `corosync_group::CorosyncGroup` (crate `crates/corosync-group`).

pub mod sim;

use std::collections::VecDeque;

/// A Corosync node id (`nodeid` of corosync.conf's nodelist).
pub type NodeId = u32;

/// The CPG group every crm-lite daemon joins.
pub const GROUP_NAME: &str = "crm-lite";

/// What a member of the group sees, in agreed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message of the group, from `from` (possibly this node: its own, looped back, which
    /// is the point at which it is committed).
    Message {
        /// The sender.
        from: NodeId,
        /// What it sent.
        payload: Vec<u8>,
    },
    /// The group's membership changed (CPG confchg): every message of the previous
    /// membership that this node delivers was delivered before this event.
    Membership {
        /// The members after the change, ascending.
        members: Vec<NodeId>,
        /// Who left.
        left: Vec<NodeId>,
        /// Who joined.
        joined: Vec<NodeId>,
    },
    /// Votequorum's verdict changed.
    Quorum {
        /// Whether this node's partition is quorate.
        quorate: bool,
    },
}

/// What can go wrong talking to Corosync.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `CS_ERR_TRY_AGAIN`: the membership is changing or the queue is full; send it later.
    #[error("corosync says try again (membership changing or queue full)")]
    TryAgain,
    /// Sent before joining the group.
    #[error("not a member of the CPG group {GROUP_NAME}")]
    NotJoined,
    /// This node is no longer part of the cluster (powered off, Corosync gone).
    #[error("the connection to corosync is gone")]
    Closed,
}

/// The group as one node sees it.
pub trait Group {
    /// This node's id (from cmap).
    fn local_id(&self) -> NodeId;
    /// Joins the CPG group [`GROUP_NAME`]; the first event after it is the membership.
    fn join(&mut self) -> Result<(), Error>;
    /// Sends a message to every member, this node included, in agreed order.
    fn send(&mut self, payload: &[u8]) -> Result<(), Error>;
    /// The next event, if one is ready.
    fn poll(&mut self) -> Option<Event>;
    /// The next event, waiting at most `timeout` for one (a simulation does not wait).
    fn wait(&mut self, timeout: std::time::Duration) -> Option<Event> {
        let _ = timeout;
        self.poll()
    }
    /// Make [`Group::wait`] also return (with whatever is ready, or `None`) as soon as `fd`
    /// is readable: the caller's own events (an operation that ended) need not wait for the
    /// timeout. The caller drains `fd`. A simulation, which never waits, ignores it.
    fn wake_on(&mut self, fd: std::os::fd::RawFd) {
        let _ = fd;
    }
    /// The configured nodes (Corosync's nodelist, from cmap), ascending by id: id and name.
    fn nodes(&self) -> Vec<(NodeId, String)>;
    /// Whether the connection is gone for good (Corosync died): [`Group::wait`] then returns
    /// `None` at once and [`Group::send`] [`Error::Closed`]. A simulation never closes.
    fn is_closed(&self) -> bool {
        false
    }
}

/// The outgoing queue: messages wait here, in order, until Corosync accepts them.
#[derive(Debug, Default)]
pub struct Outgoing {
    queue: VecDeque<Vec<u8>>,
    retries: u64,
}

impl Outgoing {
    /// An empty queue.
    pub fn new() -> Outgoing {
        Outgoing::default()
    }

    /// Queues a message.
    pub fn push(&mut self, payload: Vec<u8>) {
        self.queue.push_back(payload);
    }

    /// How many messages wait.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// How many times a send was refused with [`Error::TryAgain`] so far.
    pub fn retries(&self) -> u64 {
        self.retries
    }

    /// Sends what waits, in order, until the queue is empty (`Ok(sent)`) or Corosync says
    /// try again (`Ok(sent)` with the rest kept for the next flush). Any other error is
    /// returned, the unsent messages kept.
    pub fn flush(&mut self, group: &mut dyn Group) -> Result<usize, Error> {
        let mut sent = 0;
        while let Some(next) = self.queue.front() {
            match group.send(next) {
                Ok(()) => {
                    self.queue.pop_front();
                    sent += 1;
                }
                Err(Error::TryAgain) => {
                    self.retries += 1;
                    return Ok(sent);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(sent)
    }
}
