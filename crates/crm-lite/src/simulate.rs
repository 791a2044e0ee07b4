//! `crm-lite simulate`: read a CIB, run the scheduler, print the plan.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::verify::EXIT_INVALID;

/// Output shapes of `crm-lite simulate`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// A crm_simulate-like transition summary.
    Text,
    /// Three sorted sections (`== actions`, `== blocked`, `== placement`) that diff line for
    /// line against Pacemaker's decisions.
    Actions,
}

/// Arguments of `crm-lite simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CIB file (configuration and status); `-` reads standard input.
    #[arg(required_unless_present = "live", conflicts_with = "live")]
    file: Option<PathBuf>,
    /// Plan for the running Pacemaker's CIB (`cibadmin -Q`, like crm_simulate -L); exit 66
    /// when there is none.
    #[arg(long)]
    live: bool,
    /// Output shape.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also print the placement scores of every resource on every node.
    #[arg(long)]
    show_scores: bool,
    /// `json`: the whole plan (placement, actions, blocked actions, scores, explanations) as
    /// one JSON document instead of text.
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"], default_value = "text")]
    output_as: String,
    /// Explain in plain words why RSC goes where it goes: every constraint, stickiness,
    /// failure and capacity limit that contributed, with its score.
    #[arg(long, value_name = "RSC")]
    explain: Option<String>,
    /// Also write the transition graph (actions and their ordering) to FILE, in Graphviz
    /// `dot` format (`dot -Tsvg FILE > plan.svg`).
    #[arg(long, value_name = "FILE")]
    dot: Option<PathBuf>,
    /// "Now" for failure-timeout and time-based rules, in seconds since the epoch
    /// (default: the current time, as crm_simulate).
    #[arg(long)]
    now: Option<i64>,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    // A file is read as a stream for the model alone (the text and the element tree,
    // most of the memory of a large CIB, are never in memory with it, nor the text with
    // the tree); only a CIB with an error is read again, whole, for located messages.
    if let Some(file) = args
        .file
        .as_ref()
        .filter(|f| !args.live && f.as_os_str() != "-")
    {
        let name = file.display().to_string();
        let f =
            std::fs::File::open(file).with_context(|| format!("failed to read CIB from {name}"))?;
        let cib = match read_lean(&name, &f)? {
            Some(cib) => cib,
            None => {
                let b = std::fs::read(file)
                    .with_context(|| format!("failed to read CIB from {name}"))?;
                match parsed_model(&name, b)? {
                    Ok(cib) => cib,
                    Err(code) => return Ok(code),
                }
            }
        };
        return simulate_model(cib, args, &name);
    }
    let (name, bytes) = if args.live {
        match crate::live::read() {
            Ok(b) => (crate::live::NAME.to_owned(), b),
            Err(code) => return Ok(code),
        }
    } else {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
            .context("failed to read standard input")?;
        ("-".to_owned(), b)
    };
    let cib = match parsed_model(&name, bytes)? {
        Ok(cib) => cib,
        Err(code) => return Ok(code),
    };
    simulate_model(cib, args, &name)
}

/// A file smaller than this is read on one thread: below it, a second one gains little.
const PART_MIN: u64 = 4 << 20;

/// The model of CIB file `f` (named `name`) as [`cib::parse_lean_reader`] makes it,
/// reading the file in as many parts as the machine has cores (at most four), each on a
/// thread of its own: most of a large CIB is its status section, whose node elements
/// read apart from each other. `None` when the CIB has an error.
fn read_lean(name: &str, f: &std::fs::File) -> Result<Option<cib::Cib>> {
    let len = f
        .metadata()
        .with_context(|| format!("failed to read CIB from {name}"))?
        .len();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut starts = vec![0u64];
    if len >= PART_MIN {
        for k in 1..cores as u64 {
            // Each cut: before the first node element after a k-th of the text.
            let at = (len * k / cores as u64).max(starts[starts.len() - 1] + 1);
            if let Some(cut) = next_boundary(f, at, len)
                .with_context(|| format!("failed to read CIB from {name}"))?
            {
                starts.push(cut);
            }
        }
    }
    if starts.len() > 1 {
        let ends = starts.iter().skip(1).copied().chain([len]);
        let parts = starts
            .iter()
            .zip(ends)
            .map(|(&s, e)| (s as usize, Part { f, at: s, end: e }))
            .collect();
        match cib::parse_lean_parts(name, parts) {
            Ok(cib) => {
                tracing::debug!(file = name, parts = starts.len(), "read in parts");
                return Ok(cib);
            }
            Err(cib::NotSplit) => tracing::debug!(file = name, "read again in one part"),
        }
    }
    Ok(cib::parse_lean_reader(name, Part { f, at: 0, end: len }))
}

/// Where the first part boundary ([`cib::part_boundary`]) at or after offset `at` of `f`
/// is, reading it a window at a time (the windows overlap by more than a tag).
fn next_boundary(f: &std::fs::File, mut at: u64, len: u64) -> std::io::Result<Option<u64>> {
    const WINDOW: u64 = 1 << 16;
    let mut window = Vec::with_capacity(WINDOW as usize);
    while at < len {
        window.clear();
        let end = (at + WINDOW).min(len);
        std::io::Read::read_to_end(&mut Part { f, at, end }, &mut window)?;
        if let Some(cut) = cib::part_boundary(&window) {
            return Ok(Some(at + cut as u64));
        }
        at = end.saturating_sub(64).max(at + 1);
        if end == len {
            break;
        }
    }
    Ok(None)
}

/// The bytes `at..end` of a file, read without moving its cursor (parts read at once).
struct Part<'a> {
    f: &'a std::fs::File,
    at: u64,
    end: u64,
}

impl std::io::Read for Part<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min((self.end - self.at) as usize);
        let n = std::os::unix::fs::FileExt::read_at(self.f, &mut buf[..want], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// Parse `bytes` in full: the model, or the errors printed and the exit code.
fn parsed_model(name: &str, bytes: Vec<u8>) -> Result<Result<cib::Cib, ExitCode>> {
    let parsed = cib::parse_vec(name, bytes);
    if parsed.has_errors() {
        let mut err = std::io::stderr().lock();
        for d in parsed.diagnostics.iter().filter(|d| d.is_error()) {
            writeln!(err, "{d}")?;
        }
        writeln!(
            err,
            "crm-lite simulate: {name} is not a CIB crm-lite can schedule"
        )?;
        return Ok(Err(ExitCode::from(EXIT_INVALID)));
    }
    // The scheduler needs only the typed model: the text and the element tree (most of
    // the memory of a large CIB) go before it runs.
    Ok(Ok(parsed.cib))
}

/// Plan `cib` and print the plan.
fn simulate_model(cib: cib::Cib, args: &Args, name: &str) -> Result<ExitCode> {
    // "Now" is read here, at the edge: the scheduler itself never reads the clock.
    let now = args.now.or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
    });
    let explain = args.explain.is_some() || args.output_as == "json" || args.show_scores;
    let plan = scheduler::schedule_owned(cib, &scheduler::Input { now, explain });
    if let Some(path) = &args.dot {
        std::fs::write(path, scheduler::format::dot(&plan))
            .with_context(|| format!("failed to write the graph to {}", path.display()))?;
    }
    let printed = print(&plan, args, name);
    // The process ends here: handing the (large) CIB and plan back to the allocator one
    // node at a time would only cost time.
    std::mem::forget(plan);
    printed.map(|()| ExitCode::SUCCESS)
}

/// Print `plan` in the form `args` ask for.
fn print(plan: &scheduler::Plan, args: &Args, name: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if let Some(rsc) = &args.explain {
        return match scheduler::format::explain(plan, rsc) {
            Some(text) => Ok(out.write_all(text.as_bytes())?),
            None => anyhow::bail!("{name} has no resource named {rsc}"),
        };
    }
    if args.output_as == "json" {
        serde_json::to_writer_pretty(&mut out, &plan_json(plan)).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    match args.format {
        Format::Actions => out.write_all(scheduler::format::actions(plan).as_bytes())?,
        Format::Text => out.write_all(scheduler::format::summary(plan).as_bytes())?,
    }
    if args.show_scores {
        writeln!(out, "\nAllocation scores:")?;
        for s in &plan.scores {
            writeln!(
                out,
                "  {} on {}: {}",
                s.rsc,
                s.node,
                cib::Score::new(s.score as i64)
            )?;
        }
    }
    Ok(())
}

/// The plan as JSON (stable field names; arrays in the plan's deterministic order).
fn plan_json(plan: &scheduler::Plan) -> serde_json::Value {
    use serde_json::json;
    let action = |a: &scheduler::Action| {
        json!({
            "action": a.kind.name(),
            "resource": a.rsc,
            "node": a.node,
            "from": a.from,
            "blocked": a.blocked,
            "reason": a.reason,
        })
    };
    json!({
        "actions": plan.actions.iter().map(action).collect::<Vec<_>>(),
        "blocked": plan.blocked.iter().map(action).collect::<Vec<_>>(),
        "placement": plan.placement.iter().map(|p| json!({
            "resource": p.rsc,
            "nodes": p.nodes,
            "role": p.role.to_string(),
            "managed": p.managed,
        })).collect::<Vec<_>>(),
        "scores": plan.scores.iter().map(|s| json!({
            "resource": s.rsc, "node": s.node, "score": s.score,
        })).collect::<Vec<_>>(),
        "explanations": plan.explanations.iter().map(|e| json!({
            "resource": e.rsc, "node": e.node, "delta": e.delta, "reason": e.reason,
        })).collect::<Vec<_>>(),
        "edges": plan.edges,
        "probes": plan.probes.iter().map(|p| json!({"resource": p.rsc, "node": p.node})).collect::<Vec<_>>(),
        "monitors": plan.monitors.iter().map(|m| json!({
            "resource": &*m.rsc, "node": &*m.node, "interval_ms": m.interval_ms,
            "role": m.role.map(|r| r.to_string()),
        })).collect::<Vec<_>>(),
        "notes": plan.notes,
        "notifications": plan.notifications.iter().map(|n| json!({
            "clone": n.clone,
            "resource": n.rsc,
            "node": n.node,
            "stage": match n.stage {
                scheduler::NotifyStage::Pre => "pre",
                scheduler::NotifyStage::Post => "post",
            },
            "operation": n.operation,
            "meta": n.vars.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        })).collect::<Vec<_>>(),
        "notify_edges": plan.notify_edges.iter().map(|(a, b)| {
            let end = |s: &scheduler::Step| match *s {
                scheduler::Step::Action(i) => json!({"action": i}),
                scheduler::Step::Notify(i) => json!({"notification": i}),
            };
            json!([end(a), end(b)])
        }).collect::<Vec<_>>(),
    })
}
