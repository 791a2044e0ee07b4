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

use crate::drive::{AgentTime, DriveError, Exec, RoundIo, RunnerExec, op_record};
use crate::journal::Journal;
use crate::run::OcfRunner;

/// The node attribute that makes a node one this machine acts as: its value is this
/// machine's node name, or `localhost` (whichever machine runs `crm-lite apply`).
pub const HOST_ATTRIBUTE: &str = "crm-lite-host";

/// Where the state is saved (the caller's state store).
pub trait Store {
    /// Write `doc` as the state after raising its version above `versions`; `durable`:
    /// fsync too (results), else an atomic replacement is enough.
    fn save(
        &self,
        doc: &mut Document,
        versions: Versions,
        durable: bool,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
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
    /// The write-ahead journal of a round (next to the state).
    pub journal_path: PathBuf,
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
    /// The journal could not be started or removed.
    #[error("failed to {what} {path}")]
    Journal {
        /// `start`, `remove`.
        what: &'static str,
        /// The journal.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The state could not be saved.
    #[error(transparent)]
    Save(Box<dyn std::error::Error + Send + Sync>),
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
    if let Some(p) = plan.probes.iter().find(|p| outside(&p.node)) {
        return why(format!("probe {}", p.rsc), &p.node);
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

/// The state and its plan at `now`.
fn plan_now(l: &Local, text: &mut String, now: i64) -> Result<(cib::Parsed, Plan), ConvergeError> {
    let parsed = with_scores(l, text, cib::parse(&l.name, text));
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
pub fn converge(
    l: &Local,
    store: &dyn Store,
    clock: &dyn Fn() -> i64,
    text: &mut String,
    out: &mut dyn Write,
    agents: &mut AgentTime,
) -> Result<Verdict, ConvergeError> {
    let mut failures = 0u32;
    let mut done = 0u32;
    for round in 1..=l.max_rounds {
        let now = clock();
        let (parsed, plan) = plan_now(l, text, now)?;
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
            let io = RoundIo {
                doc,
                journal: None,
                out: &mut *out,
                agents: &mut *agents,
            };
            let mut end = crate::drive::round(graph, config, &exec, io, now)?;
            // Probes change nothing: writing their results once, after all of them, is
            // enough, and without an fsync (a crash, even a power loss, only means probing
            // again).
            store
                .save(&mut end.doc, versions, false)
                .map_err(ConvergeError::Save)?;
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
        let journal_err = |what, source| ConvergeError::Journal {
            what,
            path: l.journal_path.display().to_string(),
            source,
        };
        let journal = Journal::begin(&l.journal_path, &crate::journal::version_of(&doc))
            .map_err(|e| journal_err("start", e))?;
        let io = RoundIo {
            doc,
            journal: Some(journal),
            out: &mut *out,
            agents: &mut *agents,
        };
        let mut end = crate::drive::round(graph, config, &exec, io, now)?;
        // The round's records go into the state file at once, durably; then the journal
        // has nothing more to say.
        store
            .save(&mut end.doc, versions, true)
            .map_err(ConvergeError::Save)?;
        if let Some(j) = end.journal.take() {
            j.clear().map_err(|e| journal_err("remove", e))?;
        }
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
pub fn watch(
    l: &Local,
    store: &dyn Store,
    clock: &dyn Fn() -> i64,
    text: &mut String,
    out: &mut dyn Write,
    agents: &mut AgentTime,
) -> Result<std::convert::Infallible, ConvergeError> {
    type Key = (String, String, u64);
    let mut due: BTreeMap<Key, Instant> = Default::default();
    writeln!(
        out,
        "watching: recurring monitors run at their intervals (interrupt to end)"
    )?;
    out.flush()?;
    loop {
        let now = clock();
        let (parsed, plan) = plan_now(l, text, now)?;
        if !plan.actions.is_empty() || !plan.probes.is_empty() {
            converge(l, store, clock, text, out, agents)?;
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
        let failed = crate::record(&mut doc, &op_record(&op, Some(&ran), call_id, now));
        store
            .save(&mut doc, parsed.cib.versions, true)
            .map_err(ConvergeError::Save)?;
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
