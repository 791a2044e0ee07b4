//! `crm-lite apply`: make this machine match a CIB. Probe what is unknown, then run the
//! scheduler's actions in their order through the agents, record every result in the CIB
//! status, and plan again, until nothing is left to do (or no progress is possible).
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cib::model::Primitive;
use executor::OcfRunner;
use executor::converge::{HOST_ATTRIBUTE, Local, Store, Verdict, converge, watch};
use executor::drive::{AgentTime, BoxError, JournalSink};

use crate::daemon::control::{self as daemon_client, ClientMsg};
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

/// Pacemaker's exit code for an agent that is not installed (CRM_EX_NOT_INSTALLED, as
/// OCF_ERR_INSTALLED).
const EXIT_NOT_INSTALLED: u8 = 5;

/// A CIB read and checked as `apply` needs it: its name, its text and its model; or the
/// exit code after the diagnostics were printed.
fn read_checked(
    file: &Path,
) -> Result<std::result::Result<(String, String, cib::Parsed), ExitCode>> {
    let name = file.display().to_string();
    let input = std::fs::read_to_string(file).with_context(|| format!("failed to read {name}"))?;
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
        return Ok(Err(ExitCode::from(EXIT_INVALID)));
    }
    Ok(Ok((name, input, parsed)))
}

/// `crm-lite apply` on a node where the cluster daemon runs: the configuration goes to the
/// cluster, and the progress of its transitions is printed until it converges or fails.
fn through_daemon(args: &Args, client: daemon_client::Client) -> Result<ExitCode> {
    let socket = crate::daemon::control::socket_path();
    writeln!(
        std::io::stdout().lock(),
        "crm-lite apply: the cluster daemon runs on this node ({}): handing {} to the cluster",
        socket.display(),
        args.file.display()
    )?;
    if args.dry_run || args.watch || args.node.is_some() {
        bail!(
            "--dry-run, --watch and --node are for a machine without the cluster daemon: the \
             daemon plans for the whole cluster and watches it already (crm-lite simulate \
             shows a plan)"
        );
    }
    let (file, xml, _) = match read_checked(&args.file)? {
        Ok(read) => read,
        Err(code) => return Ok(code),
    };
    crate::daemon::pacemaker::check_beside(&xml, &format!("applying {file}"))?;
    crate::daemon::client::ask(client, &ClientMsg::Apply { file, xml })
}

pub fn run(args: &Args) -> Result<ExitCode> {
    if let Some(client) = crate::daemon::client::connect() {
        return through_daemon(args, client);
    }
    writeln!(
        std::io::stdout().lock(),
        "crm-lite apply: no cluster daemon on this node ({}): applying {} on this machine",
        crate::daemon::control::socket_path().display(),
        args.file.display()
    )?;
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
    let (name, _input, parsed) = match read_checked(&args.file)? {
        Ok(read) => read,
        Err(code) => return Ok(code),
    };
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
        .filter(|(rsc, _)| parsed.cib.primitive_of(rsc).is_none())
        .collect();

    let own_rsctmp = hosted
        .iter()
        .filter(|n| **n != local)
        .map(|n| (n.clone(), Path::new(executor::RSCTMP).join(n)))
        .collect();
    let ctx = Local {
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
        max_rounds: args.max_rounds,
        dry_run: args.dry_run,
        batch_limit,
        previous,
        reprobe: std::sync::Mutex::new(reprobe),
    };
    let mut out = std::io::stdout().lock();
    let started = Instant::now();
    let mut agents = AgentTime::default();
    let store = StateStore(&store);
    let verdict = converge(&ctx, &store, &now, &mut text, &mut out, &mut agents)?;
    let code = match verdict {
        Verdict::Converged => ExitCode::SUCCESS,
        Verdict::ConvergedWithFailures | Verdict::NotConverged => ExitCode::FAILURE,
    };
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
    match watch(&ctx, &store, &now, &mut text, &mut out, &mut agents)? {}
}

/// The state store as the engine's loops see it.
struct StateStore<'a>(&'a store::Store);

/// A round's journal in the state store.
struct RoundJournal(store::Journal);

impl JournalSink for RoundJournal {
    fn op(&mut self, r: &executor::OpRecord<'_>) -> Result<(), BoxError> {
        self.0.op(r).map_err(Into::into)
    }

    fn fenced(&mut self, node: &str, node_id: &str) -> Result<(), BoxError> {
        self.0.fenced(node, node_id).map_err(Into::into)
    }
}

impl Store for StateStore<'_> {
    type Journal = RoundJournal;

    fn begin_journal(&self) -> Result<RoundJournal, BoxError> {
        Ok(RoundJournal(self.0.begin_journal()?))
    }

    fn memory_journal(&self) -> RoundJournal {
        RoundJournal(store::Journal::memory())
    }

    fn commit(
        &self,
        doc: &mut cib::Document,
        base: cib::model::Versions,
        journal: RoundJournal,
        durable: bool,
    ) -> Result<(), BoxError> {
        self.0.commit(doc, base, journal.0, durable)?;
        Ok(())
    }

    fn changed_since(&self, at: cib::model::Versions) -> Result<Option<String>, BoxError> {
        if !self.0.changed_since(at)? {
            return Ok(None);
        }
        Ok(self.0.load()?.map(|s| s.text))
    }

    fn call_marker(&self, call: i64) -> (String, String) {
        self.0.call_marker(call)
    }
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

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
