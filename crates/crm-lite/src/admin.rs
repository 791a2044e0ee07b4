//! `crm-lite status`, `move`, `ban`, `clear`, `cleanup` and `restore`: the operator's
//! commands on the state CIB that `crm-lite apply` keeps (like `crm_mon -1` and
//! `crm_resource --move`, `--ban`, `--clear`, `--cleanup`), all through `crates/store`.
//! Changes take effect at the next round of a running apply, else at the next apply.
//! When a cluster daemon runs on this node, `status`, `move`, `ban`, `clear` and
//! `cleanup` ask it instead (`crate::daemon::client`), cluster-wide.
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use cib::Document;

use crate::daemon::client;
use crate::daemon::control::ClientMsg;

/// Where the state CIB lives.
#[derive(Debug, clap::Args)]
pub struct StateDir {
    /// The directory `crm-lite apply` keeps the CIB with its status in.
    #[arg(long, default_value = "/var/lib/crm-lite")]
    state_dir: PathBuf,
}

/// Arguments of `crm-lite status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    state: StateDir,
    /// `json` for a machine-readable document.
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"], default_value = "text")]
    output_as: String,
    /// The same as `--output-as json`.
    #[arg(long)]
    json: bool,
}

/// Arguments of `crm-lite move` and `crm-lite ban`.
#[derive(Debug, clap::Args)]
pub struct RscNodeArgs {
    /// The resource.
    rsc: String,
    /// The node.
    node: String,
    #[command(flatten)]
    state: StateDir,
}

/// Arguments of `crm-lite clear` and `crm-lite cleanup`.
#[derive(Debug, clap::Args)]
pub struct RscArgs {
    /// The resource.
    rsc: String,
    #[command(flatten)]
    state: StateDir,
}

impl StateDir {
    fn store(&self) -> store::Store {
        store::Store::new(&self.state_dir)
    }
}

/// The lowered model of a state (the store checked that it is a well-formed CIB).
fn model(store: &store::Store, text: &str) -> Result<cib::Parsed> {
    let parsed = cib::parse(&store.cib_path().display().to_string(), text);
    if parsed.has_errors() {
        bail!(
            "the state CIB {} does not parse",
            store.cib_path().display()
        );
    }
    Ok(parsed)
}

/// Apply `change` to the newest state under the store's lock; it returns what to print and
/// what it changed (`None`: nothing to save).
fn update(
    state: &StateDir,
    change: impl FnOnce(&cib::Cib, &mut Document) -> Result<(String, Option<store::Change>)>,
) -> Result<ExitCode> {
    let store = state.store();
    let said = store.update(|st: &mut store::State| {
        let parsed = model(&store, &st.text)?;
        change(&parsed.cib, &mut st.doc)
    })?;
    writeln!(std::io::stdout().lock(), "{said}")?;
    Ok(ExitCode::SUCCESS)
}

/// `crm-lite status`.
pub fn status(args: &StatusArgs) -> Result<ExitCode> {
    let json = args.json || args.output_as == "json";
    if let Some(c) = client::connect() {
        return client::status(c, json);
    }
    let store = args.state.store();
    let mut snap = store.snapshot()?;
    // What a round has done so far is in its journal, replayed here; what it is doing now
    // is listed apart, with the history before it shown as it was.
    let doc = &mut snap.state.doc;
    let pending: Vec<_> = doc
        .all()
        .filter(|&e| doc.get(e).name == "lrm_rsc_op" && doc.get(e).attr("op-status") == Some("-1"))
        .collect();
    for e in pending {
        doc.detach(e);
    }
    let parsed = model(&store, &doc.to_xml())?;
    let cib = &parsed.cib;
    let running: Vec<String> = snap
        .in_flight
        .iter()
        .map(|o| format!("{} {} on {}", o.operation, o.rsc, o.node))
        .collect();
    let mut nodes = Vec::new();
    let mut rows = Vec::new();
    for n in &cib.nodes {
        let st = cib.status.node(n.uname.as_str());
        let state = match st {
            Some(s) if s.online() && n.standby => "standby",
            Some(s) if s.online() => "online",
            _ => "offline",
        };
        nodes.push((n.uname.0.clone(), state));
    }
    // Instances of promotable clones that are started but not promoted are shown as
    // crm_mon shows them: Unpromoted.
    let promotable: BTreeSet<&str> = cib
        .resources
        .iter()
        .filter_map(|r| match r {
            cib::model::Resource::Clone(c) if c.promotable => Some(c.child.primitives()),
            _ => None,
        })
        .flatten()
        .map(|p| p.id.as_str())
        .collect();
    for ns in &cib.status.nodes {
        // History of a node the configuration no longer names is not part of the cluster.
        if !cib.nodes.is_empty() && cib.node(ns.uname.as_str()).is_none() {
            continue;
        }
        for r in &ns.resources {
            let fails = ns.fail_count(r.id.as_str()).value();
            if r.state.role.is_active() || r.state.failed || fails > 0 {
                let base = r.id.as_str().split(':').next().unwrap_or_default();
                let role = match r.state.role {
                    cib::Role::Started if promotable.contains(base) => cib::Role::Unpromoted,
                    role => role,
                };
                rows.push((
                    r.id.0.clone(),
                    ns.uname.0.clone(),
                    role.to_string(),
                    r.state.failed,
                    fails,
                ));
            }
        }
    }
    rows.sort();
    let mut out = std::io::stdout().lock();
    if json {
        let doc = serde_json::json!({
            "apply_running": snap.apply_running,
            "in_progress": running,
            "nodes": nodes.iter().map(|(n, s)| serde_json::json!({"name": n, "state": s})).collect::<Vec<_>>(),
            "resources": rows.iter().map(|(r, n, role, failed, fails)| serde_json::json!({
                "resource": r, "node": n, "role": role, "failed": failed, "fail_count": fails,
            })).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "Nodes:")?;
    for (n, s) in &nodes {
        writeln!(out, "  * {n}: {s}")?;
    }
    match (snap.apply_running, running.is_empty()) {
        (true, true) => writeln!(out, "An apply is running; as last saved:")?,
        (true, false) => writeln!(out, "An apply round is in progress: {}", running.join(", "))?,
        (false, false) => writeln!(
            out,
            "The last apply was interrupted during: {} (the next apply probes it)",
            running.join(", ")
        )?,
        (false, true) => {}
    }
    writeln!(out, "Resources:")?;
    if rows.is_empty() {
        writeln!(out, "  (none active)")?;
    }
    for (r, n, role, failed, fails) in &rows {
        let mut extra = String::new();
        if *failed {
            extra.push_str(" FAILED");
        }
        if *fails > 0 {
            extra.push_str(&format!(" (fail count {fails})"));
        }
        writeln!(out, "  * {r:<24} {role:<10} {n}{extra}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn check_rsc(cib: &cib::Cib, rsc: &str) -> Result<()> {
    if !cib.has_resource(rsc) {
        bail!("no resource named {rsc} is configured");
    }
    Ok(())
}

fn move_or_ban(args: &RscNodeArgs, ban: bool) -> Result<ExitCode> {
    if let Some(c) = client::connect() {
        let (rsc, node) = (args.rsc.clone(), args.node.clone());
        return client::ask(c, &ClientMsg::Place { rsc, node, ban });
    }
    update(&args.state, |cib, doc| {
        check_rsc(cib, &args.rsc)?;
        if cib.node(&args.node).is_none() {
            bail!("no node named {} is configured", args.node);
        }
        let id = store::edit::place(doc, &args.rsc, &args.node, ban)?;
        let what = if ban { "banned from" } else { "moved to" };
        let (rsc, node) = (&args.rsc, &args.node);
        Ok((
            format!(
                "{rsc} {what} {node} ({id}); crm-lite apply carries it out (a running apply \
                 --watch at once), crm-lite clear {rsc} undoes it"
            ),
            Some(store::Change::Config),
        ))
    })
}

/// `crm-lite move RSC NODE`: prefer NODE for RSC (`cli-prefer-RSC`, INFINITY).
pub fn move_to(args: &RscNodeArgs) -> Result<ExitCode> {
    move_or_ban(args, false)
}

/// `crm-lite ban RSC NODE`: keep RSC off NODE (`cli-ban-RSC-on-NODE`, -INFINITY).
pub fn ban(args: &RscNodeArgs) -> Result<ExitCode> {
    move_or_ban(args, true)
}

/// `crm-lite clear RSC`: remove what `move` and `ban` added for RSC.
pub fn clear(args: &RscArgs) -> Result<ExitCode> {
    if let Some(c) = client::connect() {
        let rsc = args.rsc.clone();
        return client::ask(c, &ClientMsg::Clear { rsc, node: None });
    }
    update(&args.state, |cib, doc| {
        check_rsc(cib, &args.rsc)?;
        let n = store::edit::clear(doc, &args.rsc)?;
        let said = format!("{}: {n} move/ban constraint(s) removed", args.rsc);
        Ok((said, (n > 0).then_some(store::Change::Config)))
    })
}

/// `crm-lite cleanup RSC`: forget RSC's operation history and fail counts, so the next
/// apply probes it afresh.
pub fn cleanup(args: &RscArgs) -> Result<ExitCode> {
    if let Some(c) = client::connect() {
        let rsc = Some(args.rsc.clone());
        return client::ask(c, &ClientMsg::Cleanup { rsc, node: None });
    }
    let rsc = args.rsc.as_str();
    update(&args.state, |cib, doc| {
        check_rsc(cib, rsc)?;
        let n = store::edit::cleanup(doc, rsc);
        let said = format!(
            "{rsc}: {n} history and fail-count entries removed; the next apply probes it again"
        );
        Ok((said, Some(store::Change::Status)))
    })
}

/// Arguments of `crm-lite restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    state: StateDir,
}

/// `crm-lite restore`: put back the last good copy of a corrupt state file.
pub fn restore(args: &RestoreArgs) -> Result<ExitCode> {
    let store = args.state.store();
    let (from, v) = store.restore_last_good()?;
    writeln!(
        std::io::stdout().lock(),
        "{} restored from {} (version {}); the corrupt file is kept as {}. Operations after \
         that copy are not in it: `crm-lite cleanup RSC` makes the next apply probe a resource \
         whose state is in doubt",
        store.cib_path().display(),
        from.display(),
        store::version_string(v),
        store.dir().join("cib.xml.corrupt").display()
    )?;
    Ok(ExitCode::SUCCESS)
}
