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
use executor::drive::AgentTime;

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

pub fn run(args: &Args) -> Result<ExitCode> {
    let local = match &args.node {
        Some(n) => n.clone(),
        None => nix::unistd::gethostname()
            .context("failed to read the host name")?
            .to_string_lossy()
            .into_owned(),
    };
    let ocf_root = std::env::var_os("OCF_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/ocf"));
    let name = args.file.display().to_string();
    let input =
        std::fs::read_to_string(&args.file).with_context(|| format!("failed to read {name}"))?;
    let parsed = cib::parse(&name, &input);
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
    let batch_limit = match o
        .raw
        .get("batch-limit")
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(n) if n > 0 => n,
        // Pacemaker's default: no cluster-wide limit; each node runs up to twice its cores.
        _ => 2 * std::thread::available_parallelism().map_or(1, |n| n.get()),
    };

    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("failed to create {}", args.state_dir.display()))?;
    let lock_path = args.state_dir.join("lock");
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("failed to open {}", lock_path.display()))?;
    let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .with_context(|| {
            format!(
                "another crm-lite apply holds {} (only one may run at a time)",
                lock_path.display()
            )
        })?;
    let state_path = args.state_dir.join("cib.xml");
    let state_path_name = state_path.display().to_string();
    let previous = std::fs::read_to_string(&state_path).ok();
    let journal_path = args.state_dir.join("journal");
    let (mut text, dropped) = merge(&input, previous.as_deref(), &local, &hosted);
    let reprobe: Vec<(String, String)>;
    for node in &dropped {
        writeln!(
            std::io::stdout().lock(),
            "the history of node {node} is dropped: {name} no longer names it (whatever still \
             runs there is not managed any more)"
        )?;
    }
    {
        let (mut doc, _) = cib::Document::parse(&text);
        // A round that a crash interrupted left its records in the journal.
        let disk_version = previous
            .as_deref()
            .map(|p| executor::journal::version_of(&cib::Document::parse(p).0))
            .unwrap_or_default();
        let replayed = executor::journal::replay(&journal_path, &disk_version, &mut doc);
        if replayed > 0 {
            writeln!(
                std::io::stdout().lock(),
                "the last apply was interrupted: {replayed} record(s) recovered from its journal"
            )?;
        }
        let forgotten = executor::forget_in_flight(&mut doc);
        if !forgotten.is_empty() {
            let names: BTreeSet<&str> = forgotten.iter().map(|(r, _)| r.as_str()).collect();
            writeln!(
                std::io::stdout().lock(),
                "the last apply stopped during an operation on {}: probing again",
                names.into_iter().collect::<Vec<_>>().join(", ")
            )?;
        }
        // The scheduler probes only what is configured: one taken out of the CIB meanwhile
        // is probed here, so that if it runs, it is stopped as the orphan it is.
        reprobe = forgotten
            .into_iter()
            .filter(|(rsc, _)| parsed.cib.primitive_of(rsc).is_none())
            .collect();
        if !args.dry_run {
            // From here on the state file is what this apply works from, and the journal
            // of each round applies to it. Nothing new is in it yet: no fsync needed.
            let versions = cib::parse(&name, &doc.to_xml()).cib.versions;
            save(&state_path, &mut doc, versions, false)?;
            if journal_path.exists() {
                std::fs::remove_file(&journal_path)
                    .with_context(|| format!("failed to remove {}", journal_path.display()))?;
            }
        }
        text = doc.to_xml();
    }

    let own_rsctmp = hosted
        .iter()
        .filter(|n| **n != local)
        .map(|n| (n.clone(), Path::new(executor::RSCTMP).join(n)))
        .collect();
    let ctx = Local {
        name,
        hosted,
        runner: OcfRunner {
            // Where fence agents are: /usr/sbin as for Pacemaker's fencer, or elsewhere for
            // test agents (as OCF_ROOT moves the resource agents).
            fence_dir: std::env::var_os("CRM_LITE_FENCE_DIR")
                .map_or_else(|| PathBuf::from("/usr/sbin"), PathBuf::from),
            attr_root: Some(args.state_dir.join("attrs")),
            // A node emulated beside this machine keeps its agents' pid and state files
            // apart, as a machine of its own would.
            own_rsctmp,
            metadata: Default::default(),
            ocf_root,
        },
        state_path,
        max_rounds: args.max_rounds,
        dry_run: args.dry_run,
        batch_limit,
        journal_path,
        previous: previous
            .as_deref()
            .map(|p| cib::parse(&state_path_name, p))
            .filter(|p| !p.has_errors())
            .map(|p| p.cib),
        reprobe: std::sync::Mutex::new(reprobe),
    };
    let mut out = std::io::stdout().lock();
    let started = Instant::now();
    let mut agents = AgentTime::default();
    let store = StateFile(&ctx.state_path);
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

/// The state file, written through [`save`].
struct StateFile<'a>(&'a Path);

impl Store for StateFile<'_> {
    fn save(
        &self,
        doc: &mut cib::Document,
        versions: cib::model::Versions,
        durable: bool,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        save(self.0, doc, versions, durable).map_err(Into::into)
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

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The applied CIB: `input`'s configuration with the status kept from `previous`, the nodes
/// this machine acts as (`hosted`; this machine's own node is added when the CIB names
/// none) online, and quorum. The status of a node the configuration no longer names is
/// dropped (its names are returned): Pacemaker matches a node's status by its id, and an
/// old node's could pass for a new node's.
fn merge(
    input: &str,
    previous: Option<&str>,
    local: &str,
    hosted: &BTreeSet<String>,
) -> (String, Vec<String>) {
    let status_of = |s: &str| -> Option<(usize, usize)> {
        let start = s.find("<status")?;
        let end = match s[start..].find("/>") {
            Some(e) if !s[start..start + e].contains('>') => start + e + 2,
            _ => start + s[start..].find("</status>")? + "</status>".len(),
        };
        Some((start, end))
    };
    let mut text = input.to_owned();
    if let (Some(prev), Some((s, e))) = (previous, status_of(input)) {
        if let Some((ps, pe)) = status_of(prev) {
            text = format!("{}{}{}", &input[..s], &prev[ps..pe], &input[e..]);
        }
    } else if let (Some(prev), None) = (previous, status_of(input)) {
        if let (Some((ps, pe)), Some(end)) = (status_of(prev), text.rfind("</cib>")) {
            text = format!("{}{}{}", &text[..end], &prev[ps..pe], &text[end..]);
        }
    }
    let (mut doc, _) = cib::Document::parse(&text);
    let Some(root) = doc.root() else {
        return (text, Vec::new());
    };
    doc.get_mut(root).set_attr("have-quorum", "1");
    let config = doc
        .child(root, "configuration")
        .unwrap_or_else(|| doc.append(root, "configuration", &[]));
    let nodes = doc
        .child(config, "nodes")
        .unwrap_or_else(|| doc.append(config, "nodes", &[]));
    if doc.children(nodes).next().is_none() {
        doc.append(nodes, "node", &[("id", "1"), ("uname", local)]);
    }
    let ids: Vec<(String, String)> = doc
        .children(nodes)
        .filter_map(|n| {
            let el = doc.get(n);
            let uname = el.attr("uname")?;
            hosted
                .contains(uname)
                .then(|| (uname.to_owned(), el.attr("id").unwrap_or(uname).to_owned()))
        })
        .collect();
    // What `crm-lite move`/`ban` added to the state stays until `crm-lite clear` removes it.
    if let Some(prev) = previous {
        keep_cli_constraints(&mut doc, prev, config);
    }
    let named: BTreeSet<String> = doc
        .children(nodes)
        .filter_map(|n| doc.get(n).attr("uname").map(str::to_owned))
        .collect();
    let mut dropped = Vec::new();
    if let Some(status) = doc.child(root, "status") {
        let gone: Vec<_> = doc
            .children(status)
            .filter(|&s| {
                doc.get(s).name == "node_state"
                    && doc.get(s).attr("uname").is_some_and(|u| !named.contains(u))
            })
            .collect();
        for s in gone {
            dropped.extend(doc.get(s).attr("uname").map(str::to_owned));
            doc.detach(s);
        }
    }
    for (uname, id) in &ids {
        if let Some(state) = executor::node_state(&mut doc, uname, id) {
            for (k, v) in [
                ("in_ccm", "true"),
                ("crmd", "online"),
                ("join", "member"),
                ("expected", "member"),
            ] {
                doc.get_mut(state).set_attr(k, v);
            }
        }
    }
    (doc.to_xml(), dropped)
}

fn keep_cli_constraints(doc: &mut cib::Document, previous: &str, config: cib::tree::ElementId) {
    let (prev, _) = cib::Document::parse(previous);
    let Some(proot) = prev.root() else { return };
    let Some(pcons) = prev
        .child(proot, "configuration")
        .and_then(|c| prev.child(c, "constraints"))
    else {
        return;
    };
    let cons = match doc.child(config, "constraints") {
        Some(c) => c,
        None => doc.append(config, "constraints", &[]),
    };
    for c in prev.children(pcons).collect::<Vec<_>>() {
        let el = prev.get(c);
        let Some(id) = el.attr("id") else { continue };
        if el.name != "rsc_location" || !id.starts_with("cli-") {
            continue;
        }
        if doc
            .children(cons)
            .any(|x| doc.get(x).attr("id") == Some(id))
        {
            continue;
        }
        let attrs = el.attrs.clone();
        let borrowed: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (&**k, v.as_str())).collect();
        doc.append(cons, "rsc_location", &borrowed);
    }
}

/// Write the state after raising its version. `durable`: fsync too (results); without it
/// the replacement is still atomic and survives crm-lite dying, which is all the in-flight
/// marker needs (a power loss stops the operation as well).
fn save(
    path: &Path,
    doc: &mut cib::Document,
    versions: cib::model::Versions,
    durable: bool,
) -> Result<()> {
    let _ = cib::write::bump_versions(doc, versions, false);
    let xml = doc.to_xml();
    let written = if durable {
        cib::write::write_atomic(path, xml.as_bytes())
    } else {
        cib::write::write_atomic_unsynced(path, xml.as_bytes())
    };
    written.with_context(|| format!("failed to write the state to {}", path.display()))
}
