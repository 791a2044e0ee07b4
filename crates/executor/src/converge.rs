//! The loops of `crm-lite apply` on this machine, over the transition engine: [`converge`]
//! plans, lowers the plan into its transition graph and runs it ([`crate::drive::round`]),
//! round after round, until nothing is left to do; [`watch`] then runs the recurring
//! monitors at their intervals and converges again when one fails.
//!
//! The state file is written through a [`Store`] the caller provides, progress goes to a
//! writer, and "now" (seconds since the epoch, for the scheduler and the records) comes
//! from a clock the caller provides.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cib::Document;
use cib::model::Versions;
use scheduler::graph::{self, GraphKind, OpKind, implied_by_fencing};
use scheduler::{ActionKind, Plan};

use crate::drive::{
    AgentTime, BoxError, DriveError, Exec, JournalSink, RoundIo, RunnerExec, op_record,
};
use crate::run::OcfRunner;

/// The node attribute that makes a node one this machine acts as: its value is this
/// machine's node name, or `localhost` (whichever machine runs `crm-lite apply`).
pub const HOST_ATTRIBUTE: &str = "crm-lite-host";

/// Where the state is kept (the caller's state store): rounds journal their records as they
/// happen and commit the state at their end; other writers (`crm-lite move`, ...) may save
/// meanwhile.
pub trait Store {
    /// The journal of one round.
    type Journal: JournalSink;
    /// Start the write-ahead journal of an action round, on a file: its records apply to
    /// the state saved now.
    fn begin_journal(&self) -> Result<Self::Journal, BoxError>;
    /// A journal without a file, for records that need no crash safety (probes, monitors).
    fn memory_journal(&self) -> Self::Journal;
    /// Save `doc`, the state at version `base` with `journal`'s records made on it (onto a
    /// newer saved state if someone saved one meanwhile: then `doc` becomes the result), and
    /// drop the journal. `durable`: fsync too (results), else an atomic replacement is
    /// enough.
    fn commit(
        &self,
        doc: &mut Document,
        base: Versions,
        journal: Self::Journal,
        durable: bool,
    ) -> Result<(), BoxError>;
    /// The saved state, when another writer saved it since version `at` (else `None`).
    fn changed_since(&self, at: Versions) -> Result<Option<String>, BoxError>;
    /// The meta-attribute that marks the agent of call `call`, so that the next apply finds
    /// it if this one dies while it runs.
    fn call_marker(&self, call: i64) -> (String, String);
}

/// What one apply works with.
#[derive(Debug)]
pub struct Local {
    /// The CIB's file name, for messages.
    pub name: String,
    /// Where the state is kept, for messages.
    pub state_path: PathBuf,
    /// The nodes this machine acts as.
    pub hosted: BTreeSet<String>,
    /// Runs the agents.
    pub runner: OcfRunner,
    /// Give up after this many rounds.
    pub max_rounds: u32,
    /// Print the plan only.
    pub dry_run: bool,
    /// How many agents may run at once.
    pub batch_limit: usize,
    /// The CIB applied before this one, if any (it still configures orphans).
    pub previous: Option<cib::Cib>,
    /// Resources no longer configured whose operation a crash interrupted: probed once,
    /// with the last applied CIB's definition, at the first probe round.
    pub reprobe: std::sync::Mutex<Vec<(String, String)>>,
}

/// Why applying stopped short.
#[derive(Debug, thiserror::Error)]
pub enum ConvergeError {
    /// The state does not parse any more.
    #[error("the state in {0} does not parse")]
    State(String),
    /// The plan needs a node this machine does not host.
    #[error("{name}: {why}")]
    Foreign {
        /// The CIB.
        name: String,
        /// What and where.
        why: String,
    },
    /// The plan names a resource neither CIB configures.
    #[error("the plan names {rsc}, which neither {name} nor the last applied CIB configures")]
    Unconfigured {
        /// The CIB.
        name: String,
        /// The resource.
        rsc: String,
    },
    /// Progress could not be printed.
    #[error("failed to print progress")]
    Output(#[from] std::io::Error),
    /// A round could not go on.
    #[error(transparent)]
    Drive(#[from] DriveError),
    /// The store failed (a journal could not be started, the state could not be read or
    /// saved).
    #[error(transparent)]
    Store(BoxError),
}

/// How applying ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing left to do, nothing failed (or a dry run).
    Converged,
    /// Nothing left to do, but operations failed on the way.
    ConvergedWithFailures,
    /// `max_rounds` rounds passed.
    NotConverged,
}

/// The state with the promotion scores that agents on the hosted nodes left in their
/// attribute directories (`ocf::promotion` under crm-lite) as transient attributes, as
/// Pacemaker's attribute manager would hold them. `text` follows.
fn with_scores(l: &Local, text: &mut String, parsed: cib::Parsed) -> cib::Parsed {
    let Some(root) = &l.runner.attr_root else {
        return parsed;
    };
    let dirs: Vec<(&String, PathBuf)> = l
        .hosted
        .iter()
        .map(|n| (n, root.join(n)))
        .filter(|(_, d)| d.is_dir())
        .collect();
    if dirs.is_empty() {
        return parsed;
    }
    let mut doc = parsed.doc.clone();
    let mut changed = false;
    for (n, dir) in &dirs {
        changed |= crate::sync_promotion_scores(&mut doc, n, &node_id(&parsed.cib, n), dir);
    }
    if !changed {
        return parsed;
    }
    *text = doc.to_xml();
    cib::parse(&l.name, text)
}

/// The `<node id>` of a node.
fn node_id(cib: &cib::Cib, node: &str) -> String {
    cib.node(node).map_or_else(|| "1".into(), |n| n.id.clone())
}

/// The largest call id in the status: the next operation takes a larger one.
fn last_call_id(cib: &cib::Cib) -> i64 {
    cib.status
        .nodes
        .iter()
        .flat_map(|n| {
            n.resources
                .iter()
                .flat_map(|r| r.ops.iter().map(|o| o.call_id))
        })
        .max()
        .unwrap_or(0)
}

/// A plan step this machine cannot carry out, said as an error.
fn foreign(l: &Local, plan: &Plan) -> Option<String> {
    let outside = |n: &str| !l.hosted.contains(n);
    let acts_as = l.hosted.iter().cloned().collect::<Vec<_>>().join(", ");
    let why = |what: String, node: &str| {
        Some(format!(
            "the plan needs to {what} on node {node}, which this machine cannot act on (it \
             acts as {acts_as}; give a node the `{HOST_ATTRIBUTE}` attribute `localhost` to \
             host it here); nothing was done in this round"
        ))
    };
    if let Some(p) = plan.probes.iter().find(|p| outside(p.node)) {
        return why(format!("probe {}", p.rsc), p.node);
    }
    for a in plan
        .actions
        .iter()
        .filter(|a| a.kind != ActionKind::Fence && !implied_by_fencing(plan, a))
    {
        if outside(&a.node) {
            return why(format!("{} {}", a.kind.name(), a.rsc), &a.node);
        }
        if let Some(from) = a.from.as_deref().filter(|f| outside(f)) {
            return why(format!("{} {}", a.kind.name(), a.rsc), from);
        }
    }
    None
}

fn print_status(out: &mut dyn Write, plan: &Plan) -> std::io::Result<()> {
    writeln!(out, "status:")?;
    for p in &plan.placement {
        writeln!(
            out,
            "  {:<24} {:<10} {}{}",
            p.rsc,
            p.role.to_string(),
            if p.nodes.is_empty() {
                "-".to_owned()
            } else {
                p.nodes.join(",")
            },
            if p.managed { "" } else { " (unmanaged)" }
        )?;
    }
    Ok(())
}

/// The state and its plan at `now`, after picking up what another writer (`crm-lite move`,
/// `ban`, `clear`, `cleanup`) saved since `text` was saved.
fn plan_now<S: Store + ?Sized>(
    l: &Local,
    store: &S,
    text: &mut String,
    now: i64,
) -> Result<(cib::Parsed, Plan), ConvergeError> {
    let mut parsed = with_scores(l, text, cib::parse(&l.name, text));
    if !l.dry_run {
        if let Some(newer) = store
            .changed_since(parsed.cib.versions)
            .map_err(ConvergeError::Store)?
        {
            *text = newer;
            parsed = with_scores(l, text, cib::parse(&l.name, text));
        }
    }
    if parsed.has_errors() {
        return Err(ConvergeError::State(l.state_path.display().to_string()));
    }
    let plan = scheduler::schedule(
        &parsed.cib,
        &scheduler::Input {
            now: Some(now),
            explain: false,
        },
    );
    Ok((parsed, plan))
}

/// Plan and act until nothing is left to do (or `max_rounds` rounds passed): each round
/// lowers the plan into its transition graph and runs it through the transition engine.
/// `text` is the state, kept up to date; `clock` gives "now" in seconds since the epoch.
pub fn converge<S: Store + ?Sized>(
    l: &Local,
    store: &S,
    clock: &dyn Fn() -> i64,
    text: &mut String,
    out: &mut dyn Write,
    agents: &mut AgentTime,
) -> Result<Verdict, ConvergeError> {
    let mut failures = 0u32;
    let mut done = 0u32;
    for round in 1..=l.max_rounds {
        let now = clock();
        let (parsed, plan) = plan_now(l, store, text, now)?;
        if l.dry_run {
            out.write_all(scheduler::format::summary(&plan).as_bytes())?;
            return Ok(Verdict::Converged);
        }
        if let Some(why) = foreign(l, &plan) {
            return Err(ConvergeError::Foreign {
                name: l.name.clone(),
                why,
            });
        }
        let orphans: Vec<(String, String)> = l
            .reprobe
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        if plan.probes.is_empty() && orphans.is_empty() && plan.actions.is_empty() {
            print_status(out, &plan)?;
            for b in &plan.blocked {
                writeln!(
                    out,
                    "blocked: {} {} on {}: {}",
                    b.kind.name(),
                    b.rsc,
                    b.node,
                    b.blocked.as_deref().unwrap_or("")
                )?;
            }
            if failures > 0 {
                print_failed_starts(out, &parsed.cib)?;
                writeln!(
                    out,
                    "converged, but {failures} operation(s) failed on the way"
                )?;
                return Ok(Verdict::ConvergedWithFailures);
            }
            writeln!(
                out,
                "converged after {done} action(s){}",
                if done == 0 { ": nothing to do" } else { "" }
            )?;
            return Ok(Verdict::Converged);
        }
        let src = graph::Sources {
            cib: &parsed.cib,
            previous: l.previous.as_ref(),
            now,
        };
        let graph = graph::lower(&plan, &src, &orphans).map_err(|e| match e {
            graph::GraphError::Unconfigured { rsc } => ConvergeError::Unconfigured {
                name: l.name.clone(),
                rsc,
            },
        })?;
        let config = transition::Config {
            batch_limit: l.batch_limit,
            last_call_id: last_call_id(&parsed.cib),
        };
        let exec = RunnerExec(&l.runner);
        let doc = parsed.doc.clone();
        let versions = parsed.cib.versions;
        if graph.kind == GraphKind::Probes {
            writeln!(
                out,
                "round {round}: probing {} resource(s)",
                plan.probes.len() + orphans.len()
            )?;
            let mut journal = store.memory_journal();
            let io = RoundIo {
                doc,
                journal: &mut journal,
                marker: None,
                out: &mut *out,
                agents: &mut *agents,
            };
            let mut end = crate::drive::round(graph, config, &exec, io, now)?;
            // Probes change nothing: writing their results once, after all of them, is
            // enough, and without an fsync (a crash, even a power loss, only means probing
            // again).
            store
                .commit(&mut end.doc, versions, journal, false)
                .map_err(ConvergeError::Store)?;
            *text = end.doc.to_xml();
            continue;
        }
        let n_act = plan.actions.len();
        if plan.notifications.is_empty() {
            writeln!(out, "round {round}: {n_act} action(s)")?;
        } else {
            writeln!(
                out,
                "round {round}: {n_act} action(s), {} notification(s)",
                plan.notifications.len()
            )?;
        }
        let mut journal = store.begin_journal().map_err(ConvergeError::Store)?;
        let mark = |call| store.call_marker(call);
        let io = RoundIo {
            doc,
            journal: &mut journal,
            marker: Some(&mark),
            out: &mut *out,
            agents: &mut *agents,
        };
        let mut end = crate::drive::round(graph, config, &exec, io, now)?;
        // The round's records go into the state file at once, durably; then the journal
        // has nothing more to say.
        store
            .commit(&mut end.doc, versions, journal, true)
            .map_err(ConvergeError::Store)?;
        done += end.done;
        failures += end.failures;
        *text = end.doc.to_xml();
    }
    writeln!(out, "not converged after {} rounds", l.max_rounds)?;
    Ok(Verdict::NotConverged)
}

/// `--watch`: run every recurring monitor at its interval and recover what fails (by
/// converging again), until interrupted (it returns only on an error). Every result is
/// recorded like any other.
pub fn watch<S: Store + ?Sized>(
    l: &Local,
    store: &S,
    clock: &dyn Fn() -> i64,
    text: &mut String,
    out: &mut dyn Write,
    agents: &mut AgentTime,
) -> Result<std::convert::Infallible, ConvergeError> {
    type Key = (String, String, u64);
    let mut due: BTreeMap<Key, Instant> = Default::default();
    // After a pass that could not converge (an action that keeps failing without banning
    // itself, e.g. under start-failure-is-fatal=false), the next pass waits for the
    // cluster-recheck-interval: operations never run faster than the plan's intervals.
    let mut retry_at: Option<Instant> = None;
    // Work left right after the first pass means that pass could not converge either.
    let mut stalled = true;
    writeln!(
        out,
        "watching: recurring monitors run at their intervals (interrupt to end)"
    )?;
    out.flush()?;
    loop {
        let now = clock();
        let (parsed, plan) = plan_now(l, store, text, now)?;
        let pending = !plan.actions.is_empty() || !plan.probes.is_empty();
        if !pending {
            stalled = false;
            retry_at = None;
        } else if stalled && retry_at.is_none() {
            let after = converge_again_after(&parsed.cib);
            retry_at = Some(Instant::now() + after);
            writeln!(
                out,
                "not converged: planning again in {} s (cluster-recheck-interval)",
                after.as_secs()
            )?;
        }
        if pending && retry_at.is_none_or(|t| t <= Instant::now()) {
            stalled = converge(l, store, clock, text, out, agents)? != Verdict::Converged;
            retry_at = None;
            out.flush()?;
            continue;
        }
        let key = |m: &scheduler::Monitor| (m.rsc.to_string(), m.node.to_string(), m.interval_ms);
        let current: BTreeSet<Key> = plan.monitors.iter().map(key).collect();
        due.retain(|k, _| current.contains(k));
        let instant = Instant::now();
        for m in &plan.monitors {
            due.entry(key(m))
                .or_insert(instant + Duration::from_millis(m.interval_ms));
        }
        let Some((k, at)) = due
            .iter()
            .min_by_key(|(_, t)| **t)
            .map(|(k, t)| (k.clone(), *t))
        else {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        };
        if at > instant {
            std::thread::sleep((at - instant).min(Duration::from_secs(1)));
            continue;
        }
        let Some(m) = plan.monitors.iter().find(|m| key(m) == k) else {
            continue;
        };
        let src = graph::Sources {
            cib: &parsed.cib,
            previous: None,
            now,
        };
        let Ok(op) = graph::monitor(&src, m) else {
            continue;
        };
        let call_id = last_call_id(&parsed.cib) + 1;
        let ran = RunnerExec(&l.runner).run(&OpKind::Rsc(op.clone()));
        if let Some(span) = ran.span() {
            agents.add(span);
        }
        let mut doc = parsed.doc.clone();
        let mut journal = store.memory_journal();
        let r = op_record(&op, Some(&ran), call_id, now);
        journal
            .op(&r)
            .map_err(|e| ConvergeError::Drive(DriveError::Journal(e)))?;
        let failed = crate::record(&mut doc, &r);
        store
            .commit(&mut doc, parsed.cib.versions, journal, true)
            .map_err(ConvergeError::Store)?;
        *text = doc.to_xml();
        due.insert(k, Instant::now() + Duration::from_millis(m.interval_ms));
        if failed {
            writeln!(
                out,
                "monitor {} on {} failed (rc {}): recovering",
                m.rsc,
                m.node,
                ran.rc()
            )?;
            converge(l, store, clock, text, out, agents)?;
        }
        out.flush()?;
    }
}

/// How long `--watch` waits before planning again after a pass that ended with work
/// left: the `cluster-recheck-interval` (Pacemaker's default 15 minutes; at least 1 s).
fn converge_again_after(cib: &cib::Cib) -> Duration {
    let ms = cib
        .options
        .raw
        .get("cluster-recheck-interval")
        .and_then(cib::duration::parse_ms)
        .filter(|ms| *ms > 0)
        .unwrap_or(15 * 60 * 1000);
    Duration::from_millis(ms.max(1000))
}

/// Say which resources a failed start or stop keeps off which node (their fail count is
/// INFINITY, as Pacemaker's `start-failure-is-fatal` sets it), and how they come back.
fn print_failed_starts(out: &mut dyn Write, cib: &cib::Cib) -> std::io::Result<()> {
    for ns in &cib.status.nodes {
        let mut banned: Vec<&str> = ns
            .fail_counts
            .iter()
            .filter(|f| f.count.is_infinity())
            .map(|f| f.resource.as_str())
            .collect();
        banned.dedup();
        for rsc in banned {
            let how = ns
                .fail_counts
                .iter()
                .filter(|f| f.resource.as_str() == rsc && f.count.is_infinity())
                .filter_map(|f| f.operation.as_ref().map(|(op, _)| op.as_str()))
                .next()
                .unwrap_or("operation");
            writeln!(
                out,
                "{rsc} stays off {}: its {how} failed there (fail count INFINITY); it is tried \
                 there again after its failure-timeout, or after `crm-lite cleanup {rsc}`",
                ns.uname
            )?;
        }
    }
    Ok(())
}
