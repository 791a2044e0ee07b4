//! Driving a transition on this machine: the I/O half of the transition engine. The
//! [`transition::Transition`] says which operations of a [`Graph`] are ready; [`round`]
//! runs them in parallel through an [`Exec`] (agents through a [`Runner`], fencing
//! through [`crate::fence`]), feeds the results back, writes what the engine says to
//! record into the CIB status and the write-ahead journal, and prints the progress lines
//! `crm-lite apply` shows.
//!
//! A cluster driver plugs in at the same place: instead of [`RunnerExec`], it sends each
//! ready operation to its node and completes it when the answer comes.
use std::io::Write;
use std::time::{Duration, Instant};

use cib::Document;
use scheduler::graph::{FenceOp, Graph, GraphKind, OpId, OpKind, RscOp};
use transition::{Config, OpResult, Record, Transition};

use crate::fence::{Attempt, Device};
use crate::run::{ExecError, Outcome, Request, Runner};
use crate::{OpRecord, fenced, record};

/// What running one graph operation did.
#[derive(Debug)]
pub enum Ran {
    /// An agent ran (or could not be run).
    Agent {
        /// The agent's answer.
        outcome: Result<Outcome, ExecError>,
        /// When it ran.
        span: (Instant, Instant),
    },
    /// Every fence device asked, the last one decisive.
    Fence {
        /// The attempts.
        attempts: Vec<Attempt>,
        /// When it ran.
        span: (Instant, Instant),
    },
    /// Nothing ran (a pseudo operation).
    Implied,
}

impl Ran {
    /// The rc as Pacemaker records it: the agent's, or 3 (unimplemented class) and 5 (not
    /// installed) for an agent that could not be run.
    pub fn rc(&self) -> i32 {
        match self {
            Ran::Agent { outcome: Ok(o), .. } => o.rc,
            Ran::Agent {
                outcome: Err(ExecError::UnsupportedClass(_)),
                ..
            } => 3,
            Ran::Agent {
                outcome: Err(_), ..
            } => 5,
            Ran::Fence { attempts, .. } => attempts
                .last()
                .and_then(|t| t.outcome.as_ref().ok())
                .map_or(1, |o| o.rc),
            Ran::Implied => 0,
        }
    }

    /// When the agents ran, if any did.
    pub fn span(&self) -> Option<(Instant, Instant)> {
        match self {
            Ran::Agent { span, .. } | Ran::Fence { span, .. } => Some(*span),
            Ran::Implied => None,
        }
    }

    fn ms(&self) -> u128 {
        match self {
            Ran::Agent { outcome: Ok(o), .. } => o.duration.as_millis(),
            _ => 0,
        }
    }

    fn timed_out(&self) -> bool {
        matches!(self, Ran::Agent { outcome: Ok(o), .. } if o.timed_out)
    }

    /// What the transition engine is told.
    pub fn result(&self) -> OpResult {
        match self {
            Ran::Agent { outcome, .. } => OpResult::Agent {
                rc: self.rc(),
                timed_out: self.timed_out(),
                exec_ms: self.ms() as u64,
                exit_reason: why(outcome),
                restart: outcome.as_ref().ok().and_then(|o| o.restart.clone()),
            },
            Ran::Fence { .. } => OpResult::Fence {
                ok: self.rc() == 0
                    && !matches!(self, Ran::Fence { attempts, .. } if attempts.is_empty()),
            },
            Ran::Implied => OpResult::Implied,
        }
    }
}

/// The agent's exit reason, or why it could not be run.
fn why(outcome: &Result<Outcome, ExecError>) -> Option<String> {
    match outcome {
        Ok(o) => o.exit_reason.clone(),
        Err(e) => Some(e.to_string()),
    }
}

/// Something that carries out graph operations on this machine.
pub trait Exec: Sync {
    /// Run `op` and wait for it.
    fn run(&self, op: &OpKind) -> Ran;
}

/// [`Exec`] over a [`Runner`]: agent operations as [`Request`]s, fencing through the
/// configured devices.
#[derive(Debug, Clone, Copy)]
pub struct RunnerExec<'r, R>(pub &'r R);

impl<R: Runner + Sync> Exec for RunnerExec<'_, R> {
    fn run(&self, op: &OpKind) -> Ran {
        let start = Instant::now();
        match op {
            OpKind::Rsc(r) => {
                let outcome = self.0.run(&request(r));
                Ran::Agent {
                    outcome,
                    span: (start, Instant::now()),
                }
            }
            OpKind::Fence(f) => {
                let attempts = crate::fence::fence_node(
                    self.0,
                    &devices(f),
                    &f.target,
                    &f.action,
                    Duration::from_millis(f.timeout_ms),
                );
                Ran::Fence {
                    attempts,
                    span: (start, Instant::now()),
                }
            }
            OpKind::Pseudo(_) => Ran::Implied,
        }
    }
}

/// The request that runs a graph operation's agent.
pub fn request(op: &RscOp) -> Request {
    Request {
        rsc: op.rsc.clone(),
        class: op.agent.class.clone(),
        provider: op.agent.provider.clone(),
        agent: op.agent.kind.clone(),
        action: op.action.clone(),
        interval_ms: op.interval_ms,
        timeout: Duration::from_millis(op.timeout_ms),
        params: op.params.clone(),
        meta: op.meta.clone(),
        node: op.node.clone(),
    }
}

fn devices(f: &FenceOp) -> Vec<Device> {
    f.devices
        .iter()
        .map(|d| Device {
            id: d.id.clone(),
            agent: d.agent.clone(),
            params: d.params.clone(),
        })
        .collect()
}

/// The history entry of `op`'s result (`ran`: `None` for the in-flight marker).
pub fn op_record<'a>(op: &'a RscOp, ran: Option<&'a Ran>, call_id: i64, now: i64) -> OpRecord<'a> {
    let outcome = match ran {
        Some(Ran::Agent { outcome: Ok(o), .. }) => Some(o),
        _ => None,
    };
    OpRecord {
        node: &op.node,
        node_id: &op.node_id,
        rsc: &op.rsc,
        class: &op.agent.class,
        provider: op.agent.provider.as_deref(),
        agent: &op.agent.kind,
        operation: &op.action,
        interval_ms: op.interval_ms,
        rc: ran.map_or(0, Ran::rc),
        expected_rc: if ran.is_some() { op.expected_rc } else { 0 },
        timed_out: outcome.is_some_and(|o| o.timed_out),
        call_id,
        now,
        exec_ms: outcome.map_or(0, |o| o.duration.as_millis() as u64),
        digest: &op.digest,
        exit_reason: outcome.and_then(|o| o.exit_reason.as_deref()),
        restart: outcome.and_then(|o| o.restart.as_ref()),
        migrate: ran
            .and(op.migrate.as_ref())
            .map(|(s, t)| (s.as_str(), t.as_str())),
        pending: ran.is_none(),
    }
}

/// Time the agents ran: the union of their run intervals, so that agents running side by
/// side count once (for the overhead line).
#[derive(Debug, Default)]
pub struct AgentTime {
    spans: Vec<(Instant, Instant)>,
}

impl AgentTime {
    /// Count `span`.
    pub fn add(&mut self, span: (Instant, Instant)) {
        self.spans.push(span);
    }

    /// The union's length.
    pub fn total(&self) -> Duration {
        let mut spans = self.spans.clone();
        spans.sort();
        let mut total = Duration::ZERO;
        let mut current: Option<(Instant, Instant)> = None;
        for (a, b) in spans {
            current = match current {
                Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
                Some((ca, cb)) => {
                    total += cb - ca;
                    Some((a, b))
                }
                None => Some((a, b)),
            };
        }
        if let Some((a, b)) = current {
            total += b - a;
        }
        total
    }
}

/// Why a round could not go on.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// Progress could not be printed.
    #[error("failed to print progress")]
    Output(#[source] std::io::Error),
    /// The journal could not be written.
    #[error("failed to write the journal")]
    Journal(#[source] BoxError),
}

/// An error of the caller's storage.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where a round's records go as they happen (the write-ahead journal), before the state
/// is saved at the round's end; the caller's store implements it (`crm-lite apply` over
/// `store::Journal`), and replays or re-applies the records as it must.
pub trait JournalSink {
    /// Append one operation record (an in-flight marker or a result).
    fn op(&mut self, r: &OpRecord<'_>) -> Result<(), BoxError>;
    /// Append that `node` was fenced.
    fn fenced(&mut self, node: &str, node_id: &str) -> Result<(), BoxError>;
}

/// The meta-attribute `(name, value)` that marks the agent of a call (by call id), so that
/// a later run can find it if this one dies while it runs.
pub type CallMarker<'m> = &'m dyn Fn(i64) -> (String, String);

/// What a round did.
#[derive(Debug)]
pub struct RoundEnd {
    /// The state with every record of the round.
    pub doc: Document,
    /// Steps (actions, notifications) that ended.
    pub done: u32,
    /// Steps that failed.
    pub failures: u32,
}

/// Where a round writes.
pub struct RoundIo<'o> {
    /// The state the records go into.
    pub doc: Document,
    /// The write-ahead journal: every record goes there too, as it happens.
    pub journal: &'o mut dyn JournalSink,
    /// Marks each agent operation that gets an in-flight marker (`None`: no mark).
    pub marker: Option<CallMarker<'o>>,
    /// Progress lines.
    pub out: &'o mut dyn Write,
    /// The agents' run time, for the overhead line.
    pub agents: &'o mut AgentTime,
}

impl std::fmt::Debug for RoundIo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoundIo").finish_non_exhaustive()
    }
}

struct Bookkeeping<'o> {
    io: RoundIo<'o>,
    out_err: Option<std::io::Error>,
    journal_err: Option<BoxError>,
    now: i64,
    total: usize,
    started_steps: usize,
    labels: Vec<String>,
    parts: Vec<Vec<String>>,
    done: u32,
    failures: u32,
}

impl Bookkeeping<'_> {
    fn say(&mut self, line: std::fmt::Arguments<'_>) {
        if self.out_err.is_none() {
            if let Err(e) = writeln!(self.io.out, "{line}").and_then(|()| self.io.out.flush()) {
                self.out_err = Some(e);
            }
        }
    }

    fn record(&mut self, r: &OpRecord<'_>) -> bool {
        if self.journal_err.is_none() {
            self.journal_err = self.io.journal.op(r).err();
        }
        record(&mut self.io.doc, r)
    }

    fn fenced(&mut self, node: &str, node_id: &str) {
        if self.journal_err.is_none() {
            self.journal_err = self.io.journal.fenced(node, node_id).err();
        }
        fenced(&mut self.io.doc, node, node_id);
    }
}

/// Run `graph` to its end through `exec`: ready operations in parallel up to
/// `config.batch_limit`, in-flight markers and results recorded (at `now`, seconds since
/// the epoch) as the engine says, progress printed as `crm-lite apply` prints it. A failed
/// operation stops the round (what runs is awaited), as does a journal that cannot be
/// written.
pub fn round(
    graph: Graph,
    config: Config,
    exec: &dyn Exec,
    io: RoundIo<'_>,
    now: i64,
) -> Result<RoundEnd, DriveError> {
    let total = graph.steps.len();
    let probes = graph.kind == GraphKind::Probes;
    let mut t = Transition::new(graph, config);
    let mut b = Bookkeeping {
        io,
        out_err: None,
        journal_err: None,
        now,
        total,
        started_steps: 0,
        labels: vec![String::new(); total],
        parts: vec![Vec::new(); total],
        done: 0,
        failures: 0,
    };
    let clock = Instant::now();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(OpId, Ran)>();
        let mut running = 0usize;
        loop {
            for op in t.ready() {
                let Ok(marker) = t.started(op, clock.elapsed()) else {
                    continue;
                };
                let g = t.graph();
                let step = g.ops[op].step;
                if !probes && g.steps[step].ops.first() == Some(&op) {
                    b.started_steps += 1;
                    b.labels[step] =
                        format!("[{}/{}] {}", b.started_steps, b.total, g.steps[step].label);
                    let label = b.labels[step].clone();
                    b.say(format_args!("  {label} ..."));
                }
                let mut kind = g.ops[op].kind.clone();
                if let (Some(Record::Op { call_id, .. }), OpKind::Rsc(r)) =
                    (marker, &g.ops[op].kind)
                {
                    // What is under way goes into the state first: after a crash, the
                    // next apply knows to probe it rather than trust (or repeat) it, and
                    // finds its agent by the call marker to wait for it.
                    let pending = op_record(r, None, call_id, now);
                    b.record(&pending);
                    if let (Some(mark), OpKind::Rsc(q)) = (b.io.marker, &mut kind) {
                        q.meta.push(mark(call_id));
                    }
                }
                let tx = tx.clone();
                scope.spawn(move || {
                    let _ = tx.send((op, exec.run(&kind)));
                });
                running += 1;
            }
            if running == 0 {
                break;
            }
            let Ok((op, ran)) = rx.recv() else { break };
            running -= 1;
            if let Some(span) = ran.span() {
                b.io.agents.add(span);
            }
            let Ok(outcome) = t.complete(op, ran.result()) else {
                continue;
            };
            finish(&mut b, &t, op, &ran, &outcome, probes);
            for e in t.take_events() {
                tracing::debug!(event = ?e, "transition");
            }
            if b.journal_err.is_some() && t.stopped().is_none() {
                t.abort("the round cannot record its results");
            }
        }
    });
    if let Some(e) = b.out_err {
        return Err(DriveError::Output(e));
    }
    if let Some(e) = b.journal_err {
        return Err(DriveError::Journal(e));
    }
    Ok(RoundEnd {
        doc: b.io.doc,
        done: b.done,
        failures: b.failures,
    })
}

/// Record a completed operation and print what it did.
fn finish(
    b: &mut Bookkeeping<'_>,
    t: &Transition,
    op: OpId,
    ran: &Ran,
    outcome: &transition::Outcome,
    probes: bool,
) {
    let g = t.graph();
    let step = g.ops[op].step;
    let rc = ran.rc();
    let ms = ran.ms();
    let timed = if ran.timed_out() { ", timed out" } else { "" };
    let reason = match ran {
        Ran::Agent { outcome, .. } => why(outcome).map_or(String::new(), |w| format!(": {w}")),
        _ => String::new(),
    };
    let mut failed = outcome.failed;
    for rec in &outcome.records {
        match (rec, &g.ops[op].kind) {
            (Record::Op { call_id, .. }, OpKind::Rsc(r)) => {
                failed = b.record(&op_record(r, Some(ran), *call_id, b.now));
            }
            (Record::Fenced { node, node_id }, _) => b.fenced(node, node_id),
            _ => {}
        }
    }
    if probes {
        let OpKind::Rsc(r) = &g.ops[op].kind else {
            return;
        };
        b.say(format_args!(
            "  probe {} on {}: rc {rc}{} ({ms} ms)",
            r.rsc,
            r.node,
            if failed { " (failed)" } else { "" }
        ));
        return;
    }
    let text = match &g.ops[op].kind {
        OpKind::Rsc(r) if !r.record => {
            // Like Pacemaker's controller: a notification is never recorded in the
            // history and never counts towards a fail count. A failed one is a failed
            // graph action all the same: the transition stops and the plan is made again.
            if failed {
                format!(
                    "FAILED (rc {rc}{timed}, {ms} ms){reason}; not recorded, no fail count; \
                     the round stops and the plan is made again"
                )
            } else {
                format!("ok ({ms} ms)")
            }
        }
        OpKind::Rsc(r) => {
            // A migration's line names each of its operations.
            let what = if g.steps[step].ops.len() > 1 {
                format!("{} ", r.action)
            } else {
                String::new()
            };
            if failed {
                format!("{what}FAILED (rc {rc}{timed}, {ms} ms){reason}")
            } else {
                format!("{what}ok ({ms} ms)")
            }
        }
        OpKind::Pseudo(p) => p.reason.clone(),
        OpKind::Fence(f) => fence_text(f, ran, failed),
    };
    b.parts[step].push(text);
    let last = g.steps[step].ops.last() == Some(&op);
    if last || failed || t.stopped().is_some() {
        b.done += 1;
        if failed {
            b.failures += 1;
        }
        let line = format!("  {}: {}", b.labels[step], b.parts[step].join(", "));
        b.say(format_args!("{line}"));
    }
}

fn fence_text(f: &FenceOp, ran: &Ran, failed: bool) -> String {
    let Ran::Fence { attempts, .. } = ran else {
        return "FAILED".into();
    };
    if !failed {
        let by = attempts.last().map_or("", |t| t.device.as_str());
        return format!("ok (by {by})");
    }
    if attempts.is_empty() {
        return format!(
            "FAILED: no fence device can fence {}: its resources stay where they were until \
             it is fenced",
            f.target
        );
    }
    let said: Vec<String> = attempts
        .iter()
        .map(|t| match &t.outcome {
            Ok(o) => format!(
                "{} rc {}{}",
                t.device,
                o.rc,
                if o.timed_out { " (timed out)" } else { "" }
            ),
            Err(e) => format!("{}: {e}", t.device),
        })
        .collect();
    format!("FAILED ({})", said.join("; "))
}

#[cfg(test)]
mod tests;
