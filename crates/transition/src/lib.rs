//! `transition`: the transition engine, the core that carries out a transition graph
//! ([`scheduler::graph::Graph`]) without doing any I/O, in the shape of raft-rs's
//! `RawNode::ready()` / `advance()`: it says what to do next and is told what happened; a
//! driver (`crm-lite apply`, later the cluster daemon) runs the operations and writes the
//! records.
//!
//! # Main types
//! - [`Transition`]: [`Transition::ready`] gives the operations whose predecessors all
//!   completed, at most `batch-limit` in flight; [`Transition::started`] and
//!   [`Transition::complete`] are how the driver reports; [`Transition::abort`] and
//!   [`Transition::node_lost`] are how membership changes reach it.
//! - [`OpResult`]: what an operation did; [`Outcome`]: what [`Transition::complete`] says
//!   back, the [`Record`]s to write (history entries with their fail-count effect, fenced
//!   nodes) and whether the transition stops.
//! - [`Event`]: progress, for the driver to print or log.
//!
//! # Rules (Pacemaker's)
//! - A failed operation stops the transition: nothing new starts, what runs is awaited,
//!   and the plan is made again from the new state. Probes are the exception: a probe
//!   graph runs to the end, its answers are what the next plan needs.
//! - A notification's result is never recorded and never counts towards a fail count; a
//!   failed one stops the transition all the same.
//! - Nothing ordered after a fence starts before the fence completed successfully; a
//!   failed fence stops the transition, so they never start.
//! - An operation in flight on a lost node is neither done nor failed: it is forgotten
//!   (its history must be probed again), never assumed done.
//!
//! # Invariants
//! - No processes, no clock, no files: time comes in as a value ([`Transition::started`],
//!   [`Transition::overdue`]), results come in as values.
//! - Deterministic: ready operations are given in index order.
#![deny(missing_docs)]

use std::collections::BTreeSet;
use std::time::Duration;

use scheduler::graph::{Graph, GraphKind, OpId, OpKind};

/// How a transition runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// At most this many operations in flight at once (Pacemaker's `batch-limit`; 0 is
    /// taken as 1).
    pub batch_limit: usize,
    /// The largest call id already in the history: the transition's operations take the
    /// next ones.
    pub last_call_id: i64,
}

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OpResult {
    /// An agent answered (or could not be run: rc 5 not installed, 3 unimplemented).
    Agent {
        /// The agent's rc.
        rc: i32,
        /// The timeout killed it.
        timed_out: bool,
        /// How long it ran, in ms.
        exec_ms: u64,
        /// Its `ocf-exit-reason`, or why it could not be run.
        exit_reason: Option<String>,
        /// `op-force-restart` and `op-restart-digest`, for an agent that can reload.
        restart: Option<(String, String)>,
    },
    /// A fence ended.
    Fence {
        /// The node is fenced.
        ok: bool,
    },
    /// Nothing ran: a pseudo operation, done by another.
    Implied,
}

/// Something to write into the CIB status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// An operation's history entry (`lrm_rsc_op`).
    Op {
        /// The operation.
        op: OpId,
        /// Its call id.
        call_id: i64,
        /// `None`: in flight (recorded before the agent runs, so that a crash leaves a
        /// trace of it); else the result.
        result: Option<OpResult>,
        /// Whether it failed: a `_last_failure_0` entry and a fail count go with it.
        failed: bool,
    },
    /// A node was fenced: it is down and clean, its history is gone.
    Fenced {
        /// The node.
        node: String,
        /// Its `<node id>`.
        node_id: String,
    },
}

/// What [`Transition::complete`] says back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// What to write.
    pub records: Vec<Record>,
    /// The operation failed.
    pub failed: bool,
    /// The transition stops here: nothing new starts; plan again once
    /// [`Transition::is_complete`].
    pub stop: bool,
}

/// Progress, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An operation started.
    Started(OpId),
    /// It completed as expected.
    Finished(OpId),
    /// It failed.
    Failed(OpId),
    /// The transition stops: no new operation starts.
    Aborted {
        /// Why.
        reason: String,
    },
    /// An operation in flight on a lost node is forgotten.
    Lost {
        /// The operation.
        op: OpId,
        /// The node.
        node: String,
    },
}

/// Misuse of the engine by its driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The operation is not in the graph.
    #[error("operation {0} is not in the transition graph")]
    NoSuchOp(OpId),
    /// It cannot start: already started, not ready, or the transition stops.
    #[error("operation {0} is not ready to start")]
    NotReady(OpId),
    /// It was not in flight.
    #[error("operation {0} is not in flight")]
    NotInFlight(OpId),
}

/// The state of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpState {
    /// Not started.
    Waiting,
    /// In flight since this time (the caller's clock).
    Running {
        /// When it started.
        since: Duration,
    },
    /// Completed as expected.
    Succeeded,
    /// Completed and failed.
    Failed,
    /// In flight on a node that was lost: forgotten.
    Lost,
}

/// A transition in progress.
#[derive(Debug, Clone)]
pub struct Transition {
    graph: Graph,
    limit: usize,
    call_id: i64,
    state: Vec<OpState>,
    call_ids: Vec<i64>,
    /// For each op, the ops ordered after it.
    after: Vec<Vec<OpId>>,
    /// For each op, how many of its predecessors have not succeeded yet.
    waiting_on: Vec<usize>,
    ready: BTreeSet<OpId>,
    in_flight: usize,
    stopped: Option<String>,
    failures: usize,
    events: Vec<Event>,
}

impl Transition {
    /// A transition over `graph`, nothing started.
    pub fn new(graph: Graph, config: Config) -> Transition {
        let n = graph.ops.len();
        let mut after = vec![Vec::new(); n];
        let mut waiting_on = vec![0usize; n];
        for &(a, b) in &graph.edges {
            if a < n && b < n && a != b {
                after[a].push(b);
                waiting_on[b] += 1;
            }
        }
        let ready = (0..n).filter(|&i| waiting_on[i] == 0).collect();
        Transition {
            graph,
            limit: config.batch_limit.max(1),
            call_id: config.last_call_id,
            state: vec![OpState::Waiting; n],
            call_ids: vec![0; n],
            after,
            waiting_on,
            ready,
            in_flight: 0,
            stopped: None,
            failures: 0,
            events: Vec::new(),
        }
    }

    /// The graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The state of `op`.
    pub fn state(&self, op: OpId) -> Option<OpState> {
        self.state.get(op).copied()
    }

    /// The operations to start now: every predecessor succeeded, in index order, as many
    /// as the batch limit leaves room for; none once the transition stops. Report each
    /// with [`Transition::started`] when it starts.
    pub fn ready(&self) -> Vec<OpId> {
        if self.stopped.is_some() {
            return Vec::new();
        }
        let room = self.limit.saturating_sub(self.in_flight);
        self.ready.iter().copied().take(room).collect()
    }

    /// `op` starts at `now` (the caller's clock). Returns the in-flight record to write
    /// first, for an operation whose result goes into the history (not for probes, which
    /// change nothing, nor notifications, fences and pseudo operations).
    pub fn started(&mut self, op: OpId, now: Duration) -> Result<Option<Record>, TransitionError> {
        let st = *self.state.get(op).ok_or(TransitionError::NoSuchOp(op))?;
        if st != OpState::Waiting
            || self.stopped.is_some()
            || self.in_flight >= self.limit
            || !self.ready.remove(&op)
        {
            return Err(TransitionError::NotReady(op));
        }
        self.state[op] = OpState::Running { since: now };
        self.in_flight += 1;
        self.events.push(Event::Started(op));
        match &self.graph.ops[op].kind {
            OpKind::Rsc(r) if r.record => {
                self.call_id += 1;
                self.call_ids[op] = self.call_id;
                Ok(
                    (self.graph.kind == GraphKind::Actions).then_some(Record::Op {
                        op,
                        call_id: self.call_id,
                        result: None,
                        failed: false,
                    }),
                )
            }
            _ => Ok(None),
        }
    }

    /// `op` ended with `result`. Says what to record and whether the transition stops.
    /// A result for an operation forgotten by [`Transition::node_lost`] is ignored (empty
    /// outcome): its node may have done anything since.
    pub fn complete(&mut self, op: OpId, result: OpResult) -> Result<Outcome, TransitionError> {
        let st = *self.state.get(op).ok_or(TransitionError::NoSuchOp(op))?;
        if st == OpState::Lost {
            return Ok(Outcome::default());
        }
        if !matches!(st, OpState::Running { .. }) {
            return Err(TransitionError::NotInFlight(op));
        }
        self.in_flight -= 1;
        let mut out = Outcome::default();
        match (&self.graph.ops[op].kind, &result) {
            (OpKind::Rsc(r), OpResult::Agent { rc, timed_out, .. }) => {
                out.failed = r.failed(*rc, *timed_out);
                if r.record {
                    out.records.push(Record::Op {
                        op,
                        call_id: self.call_ids[op],
                        result: Some(result.clone()),
                        failed: out.failed,
                    });
                }
            }
            (OpKind::Fence(f), OpResult::Fence { ok }) => {
                out.failed = !ok;
                if *ok {
                    out.records.push(Record::Fenced {
                        node: f.target.clone(),
                        node_id: f.target_id.clone(),
                    });
                }
            }
            (OpKind::Pseudo(_), OpResult::Implied) => {}
            // A result of the wrong kind says nothing of what happened: a failure.
            _ => out.failed = true,
        }
        if out.failed {
            self.state[op] = OpState::Failed;
            self.failures += 1;
            self.events.push(Event::Failed(op));
            if self.graph.kind == GraphKind::Actions {
                self.stop(format!("operation {op} failed"));
            }
        } else {
            self.state[op] = OpState::Succeeded;
            self.events.push(Event::Finished(op));
        }
        // Successors wait for success: after a failure they never become ready (and the
        // transition stops anyway, but a probe graph has no edges).
        if !out.failed {
            for &b in &self.after[op] {
                self.waiting_on[b] -= 1;
                if self.waiting_on[b] == 0 && self.state[b] == OpState::Waiting {
                    self.ready.insert(b);
                }
            }
        }
        out.stop = self.stopped.is_some();
        Ok(out)
    }

    fn stop(&mut self, reason: String) {
        if self.stopped.is_none() {
            self.events.push(Event::Aborted {
                reason: reason.clone(),
            });
            self.stopped = Some(reason);
        }
    }

    /// Stop the transition: no new operation starts; those in flight are awaited
    /// (complete them as usual). Returns the operations that will never run.
    pub fn abort(&mut self, reason: &str) -> Vec<OpId> {
        self.stop(reason.to_owned());
        self.never_ran()
    }

    /// `node` left the cluster: its operations in flight are forgotten (their results, if
    /// any come, are ignored; the driver drops their history so that they are probed
    /// again) and the transition stops. Returns the forgotten operations.
    pub fn node_lost(&mut self, node: &str) -> Vec<OpId> {
        let lost: Vec<OpId> = (0..self.state.len())
            .filter(|&i| {
                matches!(self.state[i], OpState::Running { .. })
                    && self.graph.ops[i].node() == Some(node)
            })
            .collect();
        for &i in &lost {
            self.state[i] = OpState::Lost;
            self.in_flight -= 1;
            self.events.push(Event::Lost {
                op: i,
                node: node.to_owned(),
            });
        }
        self.stop(format!("node {node} was lost"));
        lost
    }

    /// Operations in flight longer than their timeout (plus `grace`) at `now`: a driver
    /// whose runner answers for itself never sees any; a coordinator waiting on another
    /// node completes them as timed out.
    pub fn overdue(&self, now: Duration, grace: Duration) -> Vec<OpId> {
        (0..self.state.len())
            .filter(|&i| match self.state[i] {
                OpState::Running { since } => {
                    let timeout = match &self.graph.ops[i].kind {
                        OpKind::Rsc(r) => Duration::from_millis(r.timeout_ms),
                        OpKind::Fence(f) => Duration::from_millis(f.timeout_ms),
                        OpKind::Pseudo(_) => Duration::ZERO,
                    };
                    now.saturating_sub(since) > timeout + grace
                }
                _ => false,
            })
            .collect()
    }

    /// The operations that never started (so far, or ever once it stopped).
    pub fn never_ran(&self) -> Vec<OpId> {
        (0..self.state.len())
            .filter(|&i| self.state[i] == OpState::Waiting)
            .collect()
    }

    /// Nothing in flight and nothing more will start: time to plan again.
    pub fn is_complete(&self) -> bool {
        self.in_flight == 0 && (self.stopped.is_some() || self.ready.is_empty())
    }

    /// Why the transition stopped, if it did.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// How many operations failed.
    pub fn failures(&self) -> usize {
        self.failures
    }

    /// The largest call id handed out so far.
    pub fn last_call_id(&self) -> i64 {
        self.call_id
    }

    /// The call id `op` took when it started (0: none).
    pub fn call_id(&self, op: OpId) -> i64 {
        self.call_ids.get(op).copied().unwrap_or(0)
    }

    /// The events since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}

#[cfg(test)]
mod tests;
