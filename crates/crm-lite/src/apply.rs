//! `crm-lite apply`: make this machine match a CIB. Probe what is unknown, then run the
//! scheduler's actions in their order through the agents, record every result in the CIB
//! status, and plan again, until nothing is left to do (or no progress is possible).
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cib::model::{Primitive, Resource};
use executor::{OcfRunner, OpRecord, Request, Runner};
use scheduler::{ActionKind, Plan};

use crate::verify::EXIT_INVALID;

/// Arguments of `crm-lite apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CIB to apply (its configuration; the status comes from the state directory).
    file: PathBuf,
    /// Where the CIB with its status is kept between runs.
    #[arg(long, default_value = "/var/lib/crm-lite")]
    state_dir: PathBuf,
    /// Show the plan only; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Give up after this many plan-and-act rounds.
    #[arg(long, default_value_t = 20)]
    max_rounds: u32,
    /// After converging, stay in the foreground: run the recurring monitors at their
    /// intervals and recover what fails, until interrupted.
    #[arg(long)]
    watch: bool,
    /// This machine's node name (default: the host name, as `uname -n`).
    #[arg(long)]
    node: Option<String>,
}

/// Time the agents ran during this apply: the union of their run intervals, so that
/// agents running side by side count once (for the overhead line).
#[derive(Debug, Default)]
struct AgentTime {
    spans: Vec<(Instant, Instant)>,
}

impl AgentTime {
    fn add(&mut self, span: (Instant, Instant)) {
        self.spans.push(span);
    }

    fn total(&self) -> Duration {
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

/// Default timeout of an operation without its own (Pacemaker's default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Pacemaker's exit code for an agent that is not installed (CRM_EX_NOT_INSTALLED, as
/// OCF_ERR_INSTALLED).
const EXIT_NOT_INSTALLED: u8 = 5;

/// The node attribute that makes a node one this machine acts as: its value is this
/// machine's node name, or `localhost` (whichever machine runs `crm-lite apply`).
const HOST_ATTRIBUTE: &str = "crm-lite-host";

pub fn run(args: &Args) -> Result<ExitCode> {
    let local = match &args.node {
        Some(n) => n.clone(),
        None => nix::unistd::gethostname()
            .context("failed to read the host name")?
            .to_string_lossy()
            .into_owned(),
    };
    // This node's name names its attribute directory (and HA_RSCTMP for emulated nodes).
    cib::names::check_node_name(&local).context("this machine's node name (--node)")?;
    let ocf_root = std::env::var_os("OCF_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/ocf"));
    let name = args.file.display().to_string();
    let input =
        std::fs::read_to_string(&args.file).with_context(|| format!("failed to read {name}"))?;
    let mut parsed = cib::parse(&name, &input);
    parsed.check_runnable();
    if parsed.has_errors() {
        let mut err = std::io::stderr().lock();
        for d in parsed.diagnostics.iter().filter(|d| d.is_error()) {
            writeln!(err, "{d}")?;
        }
        writeln!(
            err,
            "crm-lite apply: {name} is not a CIB crm-lite can apply"
        )?;
        return Ok(ExitCode::from(EXIT_INVALID));
    }
    let hosted = hosted_nodes(&parsed.cib, &local);
    if !parsed.cib.nodes.is_empty() && hosted.is_empty() {
        bail!(
            "{name} names node(s) {}, none of them this machine ({local}): crm-lite apply acts \
             on this machine's node and on nodes whose `{HOST_ATTRIBUTE}` attribute is \
             `{local}` or `localhost`; a cluster of several machines is the cluster daemon's job",
            parsed
                .cib
                .nodes
                .iter()
                .map(|n| n.uname.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let o = &parsed.cib.options;
    if o.fencing_enabled && !parsed.cib.primitives().any(Primitive::is_fencing) {
        bail!(
            "{name} enables fencing but configures no fencing device, so nothing could be \
             managed: set stonith-enabled=false for a one-machine cluster"
        );
    }
    // Where fence agents are: /usr/sbin as for Pacemaker's fencer, or elsewhere for test
    // agents (as OCF_ROOT moves the resource agents).
    let fence_dir = std::env::var_os("CRM_LITE_FENCE_DIR")
        .map_or_else(|| PathBuf::from("/usr/sbin"), PathBuf::from);
    let missing = executor::preflight::missing_agents(&ocf_root, &fence_dir, &parsed.cib);
    if !missing.is_empty() {
        let mut err = std::io::stderr().lock();
        for m in &missing {
            writeln!(err, "error: {m}")?;
        }
        writeln!(
            err,
            "crm-lite apply: install the missing agent(s) or take their resources out of \
             {name}; nothing was run"
        )?;
        return Ok(ExitCode::from(EXIT_NOT_INSTALLED));
    }
    let batch_limit = match o
        .raw
        .get("batch-limit")
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(n) if n > 0 => n,
        // Pacemaker's default: no cluster-wide limit; each node runs up to twice its cores.
        _ => 2 * std::thread::available_parallelism().map_or(1, |n| n.get()),
    };

    // The state store: one apply at a time (a dry run changes nothing and needs no lock);
    // `move`, `ban`, ... keep writing meanwhile, through the same store.
    let store = store::Store::new(&args.state_dir);
    let _lock = if args.dry_run {
        None
    } else {
        let lock = store.lock_apply()?;
        settle_orphans(&store)?;
        Some(lock)
    };
    let mut dropped = Vec::new();
    let mut forgotten = Vec::new();
    let mut replayed = 0;
    let mut previous = None;
    let state = store.begin_apply::<anyhow::Error>(!args.dry_run, |saved, n| {
        // A round that a crash interrupted left its records in the journal: they are in
        // `saved` now (`n` of them).
        replayed = n;
        previous = saved
            .map(|s| cib::parse(&store.cib_path().display().to_string(), &s.text))
            .filter(|p| !p.has_errors())
            .map(|p| p.cib);
        let merged = store::merge(&parsed.doc, saved.map(|s| &s.doc), &local, &hosted);
        dropped = merged.dropped;
        let mut doc = merged.doc;
        forgotten = executor::forget_in_flight(&mut doc);
        Ok(doc)
    })?;
    let mut text = state.text;
    {
        let mut out = std::io::stdout().lock();
        for node in &dropped {
            writeln!(
                out,
                "the history of node {node} is dropped: {name} no longer names it (whatever \
                 still runs there is not managed any more)"
            )?;
        }
        if replayed > 0 {
            writeln!(
                out,
                "the last apply was interrupted: {replayed} record(s) recovered from its journal"
            )?;
        }
        if !forgotten.is_empty() {
            let names: BTreeSet<&str> = forgotten.iter().map(|(r, _)| r.as_str()).collect();
            writeln!(
                out,
                "the last apply stopped during an operation on {}: probing again",
                names.into_iter().collect::<Vec<_>>().join(", ")
            )?;
        }
    }
    // The scheduler probes only what is configured: one taken out of the CIB meanwhile
    // is probed here, so that if it runs, it is stopped as the orphan it is.
    let reprobe: Vec<(String, String)> = forgotten
        .into_iter()
        .filter(|(rsc, _)| primitive(&parsed.cib, rsc).is_none())
        .collect();

    let own_rsctmp = hosted
        .iter()
        .filter(|n| **n != local)
        .map(|n| (n.clone(), Path::new(executor::RSCTMP).join(n)))
        .collect();
    let ctx = Ctx {
        name,
        hosted,
        runner: OcfRunner {
            fence_dir,
            attr_root: Some(args.state_dir.join("attrs")),
            // A node emulated beside this machine keeps its agents' pid and state files
            // apart, as a machine of its own would.
            own_rsctmp,
            metadata: Default::default(),
            ocf_root,
        },
        state_path: store.cib_path(),
        store,
        max_rounds: args.max_rounds,
        dry_run: args.dry_run,
        batch_limit,
        previous,
        reprobe: std::sync::Mutex::new(reprobe),
    };
    let mut out = std::io::stdout().lock();
    let started = Instant::now();
    let mut agents = AgentTime::default();
    let code = converge(&ctx, &mut text, &mut out, &mut agents)?;
    let total = started.elapsed();
    if !args.dry_run && !total.is_zero() {
        let busy = agents.total();
        let own = total.saturating_sub(busy);
        writeln!(
            out,
            "time: {:.1} ms, of which agents {:.1} ms; crm-lite's own {:.1} ms ({:.1}%)",
            total.as_secs_f64() * 1e3,
            busy.as_secs_f64() * 1e3,
            own.as_secs_f64() * 1e3,
            own.as_secs_f64() * 100.0 / total.as_secs_f64()
        )?;
    }
    if !args.watch || args.dry_run {
        return Ok(code);
    }
    watch(&ctx, &mut text, &mut out, &mut agents)
}

/// The nodes this machine acts as: its own (`local`) when the CIB names it or names no node
/// at all, and every node whose [`HOST_ATTRIBUTE`] is `local` or `localhost`.
fn hosted_nodes(cib: &cib::Cib, local: &str) -> BTreeSet<String> {
    let mut hosted: BTreeSet<String> = cib
        .nodes
        .iter()
        .filter(|n| {
            n.uname.as_str() == local
                || n.attributes
                    .get(HOST_ATTRIBUTE)
                    .is_some_and(|h| h == local || h == "localhost")
        })
        .map(|n| n.uname.as_str().to_owned())
        .collect();
    if cib.nodes.is_empty() {
        hosted.insert(local.to_owned());
    }
    hosted
}

/// Wait for the agents that an interrupted apply left running (the journal names their
/// calls), or kill them past their timeout, so that nothing is probed or started while its
/// last operation still runs.
fn settle_orphans(store: &store::Store) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for op in store.in_flight()? {
        let (_, marker) = store.call_marker(op.call);
        let Some(o) = store::orphans::find(&marker) else {
            continue;
        };
        writeln!(
            out,
            "the {} of {} on {} that the last apply started still runs (pid {}): waiting for \
             it, at most {:.1} s (its timeout)",
            op.operation,
            op.rsc,
            op.node,
            o.pid,
            o.remaining.as_secs_f64()
        )?;
        out.flush()?;
        match store::orphans::settle(&o) {
            store::Settled::Finished { waited } => {
                writeln!(out, "  it ended after {:.1} s", waited.as_secs_f64())?
            }
            store::Settled::Killed => {
                writeln!(out, "  past its timeout: its process group was killed")?
            }
        }
    }
    Ok(())
}

/// Pick up what another writer (`crm-lite move`, `ban`, `clear`, `cleanup`) saved since the
/// state `text`, at version `at`, was saved. Returns whether `text` changed.
fn refresh(ctx: &Ctx, text: &mut String, at: cib::model::Versions) -> Result<bool> {
    if ctx.dry_run || !ctx.store.changed_since(at)? {
        return Ok(false);
    }
    match ctx.store.load()? {
        Some(s) => {
            *text = s.text;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// `--watch`: run every recurring monitor at its interval and recover what fails (by
/// planning and acting again), until interrupted. Every result is recorded like any other.
fn watch(
    ctx: &Ctx,
    text: &mut String,
    out: &mut impl Write,
    agents: &mut AgentTime,
) -> Result<ExitCode> {
    type Key = (String, String, u64);
    let mut due: std::collections::BTreeMap<Key, Instant> = Default::default();
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
        let mut parsed = with_scores(ctx, text, cib::parse(&ctx.name, text));
        if refresh(ctx, text, parsed.cib.versions)? {
            parsed = with_scores(ctx, text, cib::parse(&ctx.name, text));
        }
        if parsed.has_errors() {
            bail!("the state in {} does not parse", ctx.state_path.display());
        }
        let now = now();
        let plan = scheduler::schedule(
            &parsed.cib,
            &scheduler::Input {
                now: Some(now),
                explain: false,
            },
        );
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
            stalled = converge(ctx, text, out, agents)? != ExitCode::SUCCESS;
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
        let Some((prim, meta)) = primitive(&parsed.cib, &m.rsc) else {
            continue;
        };
        let node_id = node_id(&parsed.cib, &m.node);
        let call_id = last_call_id(&parsed.cib) + 1;
        let mut req = request(&parsed.cib, prim, &meta, &m.rsc, "monitor", &m.node, now);
        req.interval_ms = m.interval_ms;
        if let Some(op) = prim
            .ops
            .iter()
            .find(|o| o.name == "monitor" && o.interval_ms == m.interval_ms)
        {
            if let Some(t) = op.timeout_ms {
                req.timeout = Duration::from_millis(t);
            }
        }
        let expected = if m.role == Some(cib::Role::Promoted) {
            8
        } else {
            0
        };
        let (rc, outcome, span) = execute(&ctx.runner, &req);
        agents.add(span);
        let digest = executor::op_digest(&req.params);
        let mut doc = parsed.doc.clone();
        let mut journal = store::Journal::memory();
        let failed = journal.record(
            &mut doc,
            &op_record(
                &req, prim, &node_id, rc, expected, &outcome, call_id, now, &digest,
            ),
        )?;
        ctx.store
            .commit(&mut doc, parsed.cib.versions, journal, true)?;
        *text = doc.to_xml();
        due.insert(k, Instant::now() + Duration::from_millis(m.interval_ms));
        if failed {
            writeln!(
                out,
                "monitor {} on {} failed (rc {rc}): recovering",
                m.rsc, m.node
            )?;
            converge(ctx, text, out, agents)?;
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

/// The state with the promotion scores that agents on the hosted nodes left in their
/// attribute directories (`ocf::promotion` under crm-lite) as transient attributes, as
/// Pacemaker's attribute manager would hold them. `text` follows.
fn with_scores(ctx: &Ctx, text: &mut String, parsed: cib::Parsed) -> cib::Parsed {
    let Some(root) = &ctx.runner.attr_root else {
        return parsed;
    };
    let dirs: Vec<(&String, PathBuf)> = ctx
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
        changed |= executor::sync_promotion_scores(&mut doc, n, &node_id(&parsed.cib, n), dir);
    }
    if !changed {
        return parsed;
    }
    *text = doc.to_xml();
    cib::parse(&ctx.name, text)
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

/// What one apply works with.
#[derive(Debug)]
struct Ctx {
    name: String,
    /// The nodes this machine acts as (see [`hosted_nodes`]).
    hosted: BTreeSet<String>,
    runner: OcfRunner,
    state_path: PathBuf,
    max_rounds: u32,
    dry_run: bool,
    /// How many agents may run at once.
    batch_limit: usize,
    /// The CIB applied before this one, if any.
    previous: Option<cib::Cib>,
    /// The state store: every save goes through it.
    store: store::Store,
    /// Resources no longer configured whose operation a crash interrupted: probed once,
    /// with the last applied CIB's definition, at the first probe round.
    reprobe: std::sync::Mutex<Vec<(String, String)>>,
}

/// One step of a round, as a worker thread carries it out.
enum Job {
    /// One agent operation.
    Op(Request),
    /// A live migration: `migrate_to` on the source, `migrate_from` on the target, then the
    /// source's stop; each only after the one before succeeded.
    Migrate(Box<[Request; 3]>),
    /// Nothing to run: an action the plan implies by another (a stop or demote on a node
    /// being fenced is done when the fence is).
    Implied(String),
    /// A clone notification: run, never recorded nor counted in a fail count; a failure
    /// stops the round, as a failed graph action stops Pacemaker's transition.
    Notify(Request),
    /// Fence a node with the configured devices.
    Fence {
        target: String,
        action: String,
        devices: Vec<executor::fence::Device>,
        timeout: Duration,
    },
}

/// A finished operation with what it returned and when it ran.
type Ran = (
    Request,
    i32,
    Result<executor::Outcome, executor::ExecError>,
    (Instant, Instant),
);

/// What a job did.
enum Done {
    /// The operations that ran, in order (a migration stops at the first failure).
    Ops(Vec<Ran>),
    /// Every device asked, the last one decisive.
    Fence(Vec<executor::fence::Attempt>, (Instant, Instant)),
    /// Nothing ran, for this reason.
    Implied(String),
    /// A notification ran: its rc and outcome.
    Notified(
        i32,
        Result<executor::Outcome, executor::ExecError>,
        (Instant, Instant),
    ),
}

/// Whether action `a` of `plan` is done by fencing its node (Pacemaker's pseudo-actions:
/// whatever ran on a node that is reset has stopped).
fn implied_by_fencing(plan: &Plan, a: &scheduler::Action) -> bool {
    matches!(a.kind, ActionKind::Stop | ActionKind::Demote)
        && plan
            .actions
            .iter()
            .any(|f| f.kind == ActionKind::Fence && f.rsc == a.node)
}

fn run_job(runner: &OcfRunner, job: Job) -> Done {
    match job {
        Job::Op(req) => {
            let (rc, outcome, span) = execute(runner, &req);
            Done::Ops(vec![(req, rc, outcome, span)])
        }
        Job::Migrate(reqs) => {
            let mut ran = Vec::new();
            for req in *reqs {
                let (rc, outcome, span) = execute(runner, &req);
                let ok = rc == 0 && outcome.as_ref().is_ok_and(|o| !o.timed_out);
                ran.push((req, rc, outcome, span));
                if !ok {
                    break;
                }
            }
            Done::Ops(ran)
        }
        Job::Implied(why) => Done::Implied(why),
        Job::Notify(req) => {
            let (rc, outcome, span) = execute(runner, &req);
            Done::Notified(rc, outcome, span)
        }
        Job::Fence {
            target,
            action,
            devices,
            timeout,
        } => {
            let start = Instant::now();
            let attempts = executor::fence::fence_node(runner, &devices, &target, &action, timeout);
            Done::Fence(attempts, (start, Instant::now()))
        }
    }
}

/// The fence devices of the CIB as the fencer would use them, in configuration order, and
/// how long fencing may take.
fn fence_devices(cib: &cib::Cib, now: i64) -> Vec<executor::fence::Device> {
    cib.primitives()
        .filter(|p| p.is_fencing())
        .filter(|p| p.meta.raw.get("target-role") != Some("Stopped"))
        .map(|p| executor::fence::Device {
            id: p.id.as_str().to_owned(),
            agent: p.agent.clone(),
            // Device parameters do not depend on the node that fences.
            params: scheduler::instance_params(cib, p, "", Some(now)),
        })
        .collect()
}

/// A plan step this machine cannot carry out, said as an error.
fn foreign(ctx: &Ctx, plan: &Plan) -> Option<String> {
    let outside = |n: &str| !ctx.hosted.contains(n);
    let acts_as = ctx.hosted.iter().cloned().collect::<Vec<_>>().join(", ");
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

/// The bookkeeping of one round's walk, shared by its `prepare` and `finish` steps.
struct Round<'o> {
    doc: cib::Document,
    call_id: i64,
    out: &'o mut dyn Write,
    io: std::io::Result<()>,
    save_err: Result<()>,
    /// Where this round's records go as they happen (the CIB is written at its end).
    journal: Option<store::Journal>,
    labels: Vec<String>,
    agents: &'o mut AgentTime,
    started: usize,
    done: u32,
    failures: u32,
}

impl<'o> Round<'o> {
    fn new(
        doc: cib::Document,
        call_id: i64,
        out: &'o mut dyn Write,
        agents: &'o mut AgentTime,
        actions: usize,
    ) -> Round<'o> {
        Round {
            doc,
            call_id,
            out,
            io: Ok(()),
            save_err: Ok(()),
            journal: None,
            labels: vec![String::new(); actions],
            agents,
            started: 0,
            done: 0,
            failures: 0,
        }
    }

    /// Print a line now (the first write error is kept for the end of the walk).
    fn say(&mut self, line: std::fmt::Arguments<'_>) {
        if self.io.is_ok() {
            self.io = writeln!(self.out, "{line}").and_then(|()| self.out.flush());
        }
    }

    /// Record an operation in the state and in the journal (the first error is kept, and
    /// stops the walk). Returns whether the operation failed.
    fn record(&mut self, r: &OpRecord<'_>) -> bool {
        if let (Ok(()), Some(j)) = (&self.save_err, self.journal.as_mut()) {
            self.save_err = j.op(r).context("failed to write the journal");
        }
        executor::record(&mut self.doc, r)
    }

    /// Record that `node` was fenced, in the state and in the journal.
    fn fenced(&mut self, node: &str, node_id: &str) {
        if let (Ok(()), Some(j)) = (&self.save_err, self.journal.as_mut()) {
            self.save_err = j
                .fenced(node, node_id)
                .context("failed to write the journal");
        }
        executor::fenced(&mut self.doc, node, node_id);
    }
}

/// Plan and act until nothing is left to do (or `max_rounds` rounds passed).
fn converge(
    ctx: &Ctx,
    text: &mut String,
    out: &mut impl Write,
    agents: &mut AgentTime,
) -> Result<ExitCode> {
    let mut failures = 0u32;
    let mut done = 0u32;
    for round in 1..=ctx.max_rounds {
        let mut parsed = with_scores(ctx, text, cib::parse(&ctx.name, text));
        if refresh(ctx, text, parsed.cib.versions)? {
            parsed = with_scores(ctx, text, cib::parse(&ctx.name, text));
        }
        if parsed.has_errors() {
            bail!("the state in {} does not parse", ctx.state_path.display());
        }
        let now = now();
        let plan = scheduler::schedule(
            &parsed.cib,
            &scheduler::Input {
                now: Some(now),
                explain: false,
            },
        );
        if ctx.dry_run {
            out.write_all(scheduler::format::summary(&plan).as_bytes())?;
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(why) = foreign(ctx, &plan) {
            bail!("{}: {why}", ctx.name);
        }
        let doc = parsed.doc.clone();
        let call_id = last_call_id(&parsed.cib);
        let orphans: Vec<(String, String)> = ctx
            .reprobe
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        if !plan.probes.is_empty() || !orphans.is_empty() {
            let targets: Vec<(&str, &str)> = plan
                .probes
                .iter()
                .map(|p| (&*p.rsc, &*p.node))
                .chain(orphans.iter().map(|(r, n)| (r.as_str(), n.as_str())))
                .collect();
            writeln!(out, "round {round}: probing {} resource(s)", targets.len())?;
            let mut reqs = Vec::new();
            for (rsc, node) in targets {
                if let Some((cib, prim, meta)) = configured(&parsed.cib, ctx.previous.as_ref(), rsc)
                {
                    let req = request(cib, prim, &meta, rsc, "monitor", node, now);
                    reqs.push((req, prim));
                }
            }
            let mut r = Round::new(doc, call_id, out, agents, 0);
            r.journal = Some(store::Journal::memory());
            executor::walk::walk(
                reqs.len(),
                &[],
                ctx.batch_limit,
                &mut r,
                |_, i| reqs[i].0.clone(),
                |req| execute(&ctx.runner, &req),
                |r, i, (rc, outcome, span)| {
                    r.agents.add(span);
                    let (req, prim) = &reqs[i];
                    r.call_id += 1;
                    let digest = executor::op_digest(&req.params);
                    let node_id = node_id(&parsed.cib, &req.node);
                    let failed = r.record(&op_record(
                        req, prim, &node_id, rc, 7, &outcome, r.call_id, now, &digest,
                    ));
                    let ms = outcome.as_ref().map_or(0, |o| o.duration.as_millis());
                    r.say(format_args!(
                        "  probe {} on {}: rc {rc}{} ({ms} ms)",
                        req.rsc,
                        req.node,
                        if failed { " (failed)" } else { "" }
                    ));
                    executor::walk::Flow::Continue
                },
            );
            r.io?;
            let journal = r.journal.take().unwrap_or_else(store::Journal::memory);
            let mut doc = r.doc;
            // Probes change nothing: writing their results once, after all of them, is
            // enough, and without an fsync (a crash, even a power loss, only means probing
            // again).
            ctx.store
                .commit(&mut doc, parsed.cib.versions, journal, false)?;
            *text = doc.to_xml();
            continue;
        }
        if plan.actions.is_empty() {
            print_status(out, &plan)?;
            if !plan.blocked.is_empty() {
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
            }
            if failures > 0 {
                print_failed_starts(out, &parsed.cib)?;
                writeln!(
                    out,
                    "converged, but {failures} operation(s) failed on the way"
                )?;
                return Ok(ExitCode::FAILURE);
            }
            writeln!(
                out,
                "converged after {done} action(s){}",
                if done == 0 { ": nothing to do" } else { "" }
            )?;
            return Ok(ExitCode::SUCCESS);
        }
        // The walk covers the actions and, after them in numbering, the clone
        // notifications; ordering edges between both.
        let n_act = plan.actions.len();
        let total = n_act + plan.notifications.len();
        if plan.notifications.is_empty() {
            writeln!(out, "round {round}: {n_act} action(s)")?;
        } else {
            writeln!(
                out,
                "round {round}: {n_act} action(s), {} notification(s)",
                plan.notifications.len()
            )?;
        }
        let step = |s: &scheduler::Step| match *s {
            scheduler::Step::Action(i) => i,
            scheduler::Step::Notify(k) => n_act + k,
        };
        let mut edges = plan.edges.clone();
        edges.extend(plan.notify_edges.iter().map(|(a, b)| (step(a), step(b))));
        // Everything the plan names must exist before anything runs: in this CIB, or, for
        // a resource taken out of it (an orphan to stop), in the one applied before.
        for a in plan.actions.iter().filter(|a| a.kind != ActionKind::Fence) {
            if configured(&parsed.cib, ctx.previous.as_ref(), &a.rsc).is_none() {
                bail!(
                    "the plan names {}, which neither {} nor the last applied CIB configures",
                    a.rsc,
                    ctx.name
                );
            }
        }
        let devices = fence_devices(&parsed.cib, now);
        let fence_timeout = parsed
            .cib
            .options
            .raw
            .get("stonith-timeout")
            .and_then(cib::duration::parse_ms)
            .map_or(Duration::from_secs(60), Duration::from_millis);
        let mut r = Round::new(doc, call_id, out, agents, total);
        r.journal = Some(ctx.store.begin_journal()?);
        executor::walk::walk(
            total,
            &edges,
            ctx.batch_limit,
            &mut r,
            |r, i| {
                r.started += 1;
                let started = r.started;
                if i >= n_act {
                    let n = &plan.notifications[i - n_act];
                    let stage = match n.stage {
                        scheduler::NotifyStage::Pre => "pre",
                        scheduler::NotifyStage::Post => "post",
                    };
                    r.labels[i] = format!(
                        "[{started}/{total}] notify {} on {} ({stage}-{})",
                        n.rsc, n.node, n.operation
                    );
                    let label = r.labels[i].clone();
                    r.say(format_args!("  {label} ..."));
                    let Some((cib, prim, meta)) =
                        configured(&parsed.cib, ctx.previous.as_ref(), &n.rsc)
                    else {
                        unreachable!("checked above")
                    };
                    let mut meta = meta.clone();
                    if let Some((_, k)) = n.instance.rsplit_once(':') {
                        meta.push(("clone".into(), k.to_owned()));
                    }
                    meta.extend(n.vars.iter().cloned());
                    return Job::Notify(request(cib, prim, &meta, &n.rsc, "notify", &n.node, now));
                }
                let a = &plan.actions[i];
                r.labels[i] = match a.kind {
                    ActionKind::Fence => {
                        format!("[{started}/{total}] fence ({}) {}", a.node, a.rsc)
                    }
                    ActionKind::Migrate => format!(
                        "[{started}/{total}] migrate {} from {} to {}",
                        a.rsc,
                        a.from.as_deref().unwrap_or("?"),
                        a.node
                    ),
                    _ => format!(
                        "[{started}/{total}] {} {} on {}",
                        a.kind.name(),
                        a.rsc,
                        a.node
                    ),
                };
                let label = r.labels[i].clone();
                r.say(format_args!("  {label} ..."));
                if implied_by_fencing(&plan, a) {
                    return Job::Implied(format!("done by fencing {}", a.node));
                }
                if a.kind == ActionKind::Fence {
                    return Job::Fence {
                        target: a.rsc.clone(),
                        action: a.node.clone(),
                        devices: devices.clone(),
                        timeout: fence_timeout,
                    };
                }
                let Some((cib, prim, meta)) =
                    configured(&parsed.cib, ctx.previous.as_ref(), &a.rsc)
                else {
                    unreachable!("checked above")
                };
                // A notifying clone's own actions carry the notification lists too.
                let mut meta = meta.clone();
                if matches!(
                    a.kind,
                    ActionKind::Start | ActionKind::Stop | ActionKind::Promote | ActionKind::Demote
                ) {
                    meta.extend(notify_vars(&plan, cib, &a.rsc).iter().cloned());
                }
                let mut job = if a.kind == ActionKind::Migrate {
                    let from = a.from.clone().unwrap_or_default();
                    let mut meta = meta.clone();
                    meta.push(("migrate_source".into(), from.clone()));
                    meta.push(("migrate_target".into(), a.node.clone()));
                    let to = request(cib, prim, &meta, &a.rsc, "migrate_to", &from, now);
                    let back = request(cib, prim, &meta, &a.rsc, "migrate_from", &a.node, now);
                    let stop = request(cib, prim, &[], &a.rsc, "stop", &from, now);
                    Job::Migrate(Box::new([to, back, stop]))
                } else {
                    Job::Op(request(
                        cib,
                        prim,
                        &meta,
                        &a.rsc,
                        a.kind.name(),
                        &a.node,
                        now,
                    ))
                };
                // What is under way goes into the state first: after a crash, the next
                // apply knows to probe it rather than trust (or repeat) the unfinished
                // operation, and finds its agent by the call marker to wait for it.
                r.call_id += 1;
                let marker = ctx.store.call_marker(r.call_id);
                match &mut job {
                    Job::Op(q) => q.meta.push(marker),
                    Job::Migrate(m) => m[0].meta.push(marker),
                    Job::Fence { .. } | Job::Implied(_) | Job::Notify(_) => {}
                }
                let first = match &job {
                    Job::Op(r) => r,
                    Job::Migrate(m) => &m[0],
                    Job::Fence { .. } | Job::Implied(_) | Job::Notify(_) => {
                        unreachable!("returned above")
                    }
                };
                let in_flight: Result<executor::Outcome, executor::ExecError> =
                    Ok(executor::Outcome {
                        rc: 0,
                        timed_out: false,
                        duration: Duration::ZERO,
                        exit_reason: None,
                        stdout: String::new(),
                        restart: None,
                    });
                let digest = executor::op_digest(&first.params);
                let node_id = node_id(&parsed.cib, &first.node);
                let mut pending = op_record(
                    first, prim, &node_id, 0, 0, &in_flight, r.call_id, now, &digest,
                );
                pending.pending = true;
                r.record(&pending);
                job
            },
            |job| run_job(&ctx.runner, job),
            |r, i, result| {
                let mut failed = false;
                let mut line = format!("  {}: ", r.labels[i]);
                if let Done::Notified(rc, outcome, span) = result {
                    // Like Pacemaker's controller: a notification is never recorded in the
                    // history and never counts towards a fail count. A failed one is a
                    // failed graph action all the same: the transition stops (what runs
                    // finishes, nothing new starts) and the plan is made again.
                    r.agents.add(span);
                    let ms = outcome.as_ref().map_or(0, |o| o.duration.as_millis());
                    r.done += 1;
                    if rc == 0 {
                        line.push_str(&format!("ok ({ms} ms)"));
                        r.say(format_args!("{line}"));
                        return executor::walk::Flow::Continue;
                    }
                    let timed = outcome.as_ref().is_ok_and(|o| o.timed_out);
                    let why = outcome
                        .as_ref()
                        .ok()
                        .and_then(|o| o.exit_reason.clone())
                        .or_else(|| outcome.as_ref().err().map(|e| e.to_string()))
                        .map_or(String::new(), |w| format!(": {w}"));
                    line.push_str(&format!(
                        "FAILED (rc {rc}{}, {ms} ms){why}; not recorded, no fail count; \
                         the round stops and the plan is made again",
                        if timed { ", timed out" } else { "" }
                    ));
                    r.failures += 1;
                    r.say(format_args!("{line}"));
                    return executor::walk::Flow::Stop;
                }
                let a = &plan.actions[i];
                match result {
                    Done::Notified(..) => unreachable!("handled above"),
                    Done::Implied(why) => line.push_str(&why),
                    Done::Fence(attempts, span) => {
                        r.agents.add(span);
                        let ok = attempts
                            .last()
                            .is_some_and(|t| t.outcome.as_ref().is_ok_and(|o| o.rc == 0));
                        if ok {
                            let node_id = node_id(&parsed.cib, &a.rsc);
                            r.fenced(&a.rsc, &node_id);
                            let by = attempts.last().map_or("", |t| t.device.as_str());
                            line.push_str(&format!("ok (by {by})"));
                        } else {
                            failed = true;
                            if attempts.is_empty() {
                                line.push_str(&format!(
                                    "FAILED: no fence device can fence {}: its resources stay \
                                     where they were until it is fenced",
                                    a.rsc
                                ));
                            } else {
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
                                line.push_str(&format!("FAILED ({})", said.join("; ")));
                            }
                        }
                    }
                    Done::Ops(ran) => {
                        let Some((_, prim, _)) =
                            configured(&parsed.cib, ctx.previous.as_ref(), &a.rsc)
                        else {
                            unreachable!("checked above")
                        };
                        let mut parts = Vec::new();
                        for (k, (req, rc, outcome, span)) in ran.into_iter().enumerate() {
                            r.agents.add(span);
                            if k > 0 {
                                r.call_id += 1;
                            }
                            let digest = executor::op_digest(&req.params);
                            let node_id = node_id(&parsed.cib, &req.node);
                            let mut rec = op_record(
                                &req, prim, &node_id, rc, 0, &outcome, r.call_id, now, &digest,
                            );
                            if a.kind == ActionKind::Migrate && req.action != "stop" {
                                rec.migrate = Some((a.from.as_deref().unwrap_or(""), &a.node));
                            }
                            let this_failed = r.record(&rec);
                            let ms = outcome.as_ref().map_or(0, |o| o.duration.as_millis());
                            let what = if a.kind == ActionKind::Migrate {
                                format!("{} ", req.action)
                            } else {
                                String::new()
                            };
                            if this_failed {
                                failed = true;
                                let why = outcome
                                    .as_ref()
                                    .ok()
                                    .and_then(|o| o.exit_reason.clone())
                                    .or_else(|| outcome.as_ref().err().map(|e| e.to_string()))
                                    .unwrap_or_default();
                                let timed = outcome.as_ref().is_ok_and(|o| o.timed_out);
                                parts.push(format!(
                                    "{what}FAILED (rc {rc}{}, {ms} ms){}",
                                    if timed { ", timed out" } else { "" },
                                    if why.is_empty() {
                                        String::new()
                                    } else {
                                        format!(": {why}")
                                    }
                                ));
                            } else {
                                parts.push(format!("{what}ok ({ms} ms)"));
                            }
                        }
                        line.push_str(&parts.join(", "));
                    }
                }
                r.done += 1;
                if failed {
                    r.failures += 1;
                }
                r.say(format_args!("{line}"));
                if failed || r.save_err.is_err() {
                    executor::walk::Flow::Stop
                } else {
                    executor::walk::Flow::Continue
                }
            },
        );
        r.io?;
        r.save_err?;
        // The round's records go into the state file at once, durably; then the journal
        // has nothing more to say.
        let journal = r.journal.take().unwrap_or_else(store::Journal::memory);
        ctx.store
            .commit(&mut r.doc, parsed.cib.versions, journal, true)?;
        done += r.done;
        failures += r.failures;
        *text = r.doc.to_xml();
    }
    writeln!(out, "not converged after {} rounds", ctx.max_rounds)?;
    Ok(ExitCode::FAILURE)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Meta-attributes an agent sees as `OCF_RESKEY_CRM_meta_<name>`.
type Meta = Vec<(String, String)>;

/// The primitive behind a plan resource name, with the CIB that configures it: `cib`, else
/// `previous` (the CIB applied before, which still knows how to stop what was taken out).
fn configured<'a>(
    cib: &'a cib::Cib,
    previous: Option<&'a cib::Cib>,
    rsc: &str,
) -> Option<(&'a cib::Cib, &'a Primitive, Meta)> {
    if let Some((p, meta)) = primitive(cib, rsc) {
        return Some((cib, p, meta));
    }
    let previous = previous?;
    primitive(previous, rsc).map(|(p, meta)| (previous, p, meta))
}

/// A plan resource name without its clone instance number (`rsc:N` -> `rsc`).
fn base_id(rsc: &str) -> &str {
    match rsc.rsplit_once(':') {
        Some((b, n)) if n.bytes().all(|c| c.is_ascii_digit()) => b,
        _ => rsc,
    }
}

/// The notification lists a clone with `notify=true` gives its instance `rsc`'s actions.
fn notify_vars<'p>(plan: &'p Plan, cib: &cib::Cib, rsc: &str) -> &'p [(String, String)] {
    let base = base_id(rsc);
    let owns = |clone: &str| {
        cib.resources.iter().any(|r| match r {
            Resource::Clone(c) => {
                c.id.as_str() == clone && c.child.primitives().iter().any(|p| p.id.as_str() == base)
            }
            _ => false,
        })
    };
    plan.notify_vars
        .iter()
        .find(|(clone, _)| owns(clone))
        .map_or(&[], |(_, vars)| vars.as_slice())
}

/// The configured primitive behind a plan resource name (`rsc`, `rsc:N`), with the clone
/// meta-attributes its agent sees.
fn primitive<'a>(cib: &'a cib::Cib, rsc: &str) -> Option<(&'a Primitive, Vec<(String, String)>)> {
    let base = base_id(rsc);
    for r in &cib.resources {
        if let Resource::Clone(c) = r {
            if let Some(p) = c
                .child
                .primitives()
                .into_iter()
                .find(|p| p.id.as_str() == base)
            {
                return Some((p, clone_meta(cib, c)));
            }
        } else if let Some(p) = r.primitives().into_iter().find(|p| p.id.as_str() == base) {
            return Some((p, Vec::new()));
        }
    }
    None
}

/// The clone settings every operation of a clone instance gets, with the values in force
/// (configured, else `rsc_defaults`, else the default), under the names Pacemaker passes
/// them: `clone_max`, `clone_node_max`, `globally_unique`, `notify`, and for promotable
/// clones `promoted_max`, `promoted_node_max` and their legacy `master_*` twins (stock
/// agents read either). `promotable` is crm-lite's own addition.
fn clone_meta(cib: &cib::Cib, c: &cib::model::Clone) -> Vec<(String, String)> {
    let get = |names: &[&str]| -> Option<String> {
        [&c.meta.raw, &cib.rsc_defaults]
            .into_iter()
            .find_map(|a| names.iter().find_map(|n| a.get(n)))
            .map(str::to_owned)
    };
    let count = |names: &[&str], default: usize| {
        get(names)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map_or(default.to_string(), |v| v.max(0).to_string())
    };
    let flag = |name: &str| {
        let on = get(&[name]).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "true" | "on" | "yes" | "y" | "1"
            )
        });
        on.to_string()
    };
    let mut meta = vec![
        (
            "clone-max".to_owned(),
            count(&["clone-max"], cib.nodes.len().max(1)),
        ),
        ("clone-node-max".to_owned(), count(&["clone-node-max"], 1)),
        ("globally-unique".to_owned(), flag("globally-unique")),
        ("notify".to_owned(), flag("notify")),
    ];
    if c.promotable {
        let max = count(&["promoted-max", "master-max"], 1);
        let node_max = count(&["promoted-node-max", "master-node-max"], 1);
        meta.extend([
            ("promotable".to_owned(), "true".to_owned()),
            ("promoted-max".to_owned(), max.clone()),
            ("promoted-node-max".to_owned(), node_max.clone()),
            ("master-max".to_owned(), max),
            ("master-node-max".to_owned(), node_max),
        ]);
    }
    meta
}

fn request(
    cib: &cib::Cib,
    p: &Primitive,
    meta: &[(String, String)],
    rsc: &str,
    action: &str,
    node: &str,
    now: i64,
) -> Request {
    let params = scheduler::instance_params(cib, p, node, Some(now));
    let timeout = p
        .ops
        .iter()
        .find(|o| o.name == action && o.interval_ms == 0)
        .and_then(|o| o.timeout_ms)
        .or_else(|| {
            cib.op_defaults
                .get("timeout")
                .and_then(cib::duration::parse_ms)
        })
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
    Request {
        rsc: rsc.to_owned(),
        class: p.class.clone(),
        provider: p.provider.clone(),
        agent: p.agent.clone(),
        action: action.to_owned(),
        interval_ms: 0,
        timeout,
        params,
        meta: meta.to_vec(),
        node: node.to_owned(),
    }
}

/// Run `req`; an agent that cannot be run at all reads as Pacemaker records it (5: not
/// installed, 3: unimplemented class).
fn execute(
    runner: &OcfRunner,
    req: &Request,
) -> (
    i32,
    Result<executor::Outcome, executor::ExecError>,
    (Instant, Instant),
) {
    let start = Instant::now();
    let result = runner.run(req);
    let span = (start, Instant::now());
    match result {
        Ok(o) => (o.rc, Ok(o), span),
        Err(e @ executor::ExecError::UnsupportedClass(_)) => (3, Err(e), span),
        Err(e) => (5, Err(e), span),
    }
}

#[allow(clippy::too_many_arguments)]
fn op_record<'a>(
    req: &'a Request,
    p: &'a Primitive,
    node_id: &'a str,
    rc: i32,
    expected_rc: i32,
    outcome: &'a Result<executor::Outcome, executor::ExecError>,
    call_id: i64,
    now: i64,
    digest: &'a str,
) -> OpRecord<'a> {
    let (timed_out, exec_ms) = match outcome {
        Ok(o) => (o.timed_out, o.duration.as_millis() as u64),
        Err(_) => (false, 0),
    };
    OpRecord {
        node: &req.node,
        node_id,
        rsc: &req.rsc,
        class: &p.class,
        provider: p.provider.as_deref(),
        agent: &p.agent,
        operation: &req.action,
        interval_ms: req.interval_ms,
        rc,
        expected_rc,
        timed_out,
        call_id,
        now,
        exec_ms,
        digest,
        exit_reason: outcome.as_ref().ok().and_then(|o| o.exit_reason.as_deref()),
        restart: outcome.as_ref().ok().and_then(|o| o.restart.as_ref()),
        migrate: None,
        pending: false,
    }
}

/// Say which resources a failed start or stop keeps off which node (their fail count is
/// INFINITY, as Pacemaker's `start-failure-is-fatal` sets it), and how they come back.
fn print_failed_starts(out: &mut impl Write, cib: &cib::Cib) -> Result<()> {
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

fn print_status(out: &mut impl Write, plan: &Plan) -> Result<()> {
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
