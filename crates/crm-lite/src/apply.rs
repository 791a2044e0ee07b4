//! `crm-lite apply`: make this machine match a CIB. Probe what is unknown, then run the
//! scheduler's actions in their order through the agents, record every result in the CIB
//! status, and plan again, until nothing is left to do (or no progress is possible).
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

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

/// Time spent in agents during this apply, in µs (for the overhead line).
static AGENT_TIME: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Default timeout of an operation without its own (Pacemaker's default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

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
    let input = std::fs::read_to_string(&args.file)
        .with_context(|| format!("failed to read CIB from {name}"))?;
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
    if let Some(other) = parsed.cib.nodes.iter().find(|n| n.uname.as_str() != local) {
        bail!(
            "{name} names node {}: crm-lite apply acts on this machine ({local}) only; a cluster \
             of several nodes is the cluster daemon's job",
            other.uname
        );
    }
    let o = &parsed.cib.options;
    if o.fencing_enabled && !parsed.cib.primitives().any(Primitive::is_fencing) {
        bail!(
            "{name} enables fencing but configures no fencing device, so nothing could be \
             managed: set stonith-enabled=false for a one-machine cluster"
        );
    }

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
    let previous = std::fs::read_to_string(&state_path).ok();
    let mut text = merge(&input, previous.as_deref(), &local);
    {
        let (mut doc, _) = cib::Document::parse(&text);
        let forgotten = executor::forget_in_flight(&mut doc);
        if !forgotten.is_empty() {
            writeln!(
                std::io::stdout().lock(),
                "the last apply stopped during an operation on {}: probing again",
                forgotten.join(", ")
            )?;
            text = doc.to_xml();
        }
    }

    let ctx = Ctx {
        name,
        local,
        runner: OcfRunner { ocf_root },
        state_path,
        max_rounds: args.max_rounds,
        dry_run: args.dry_run,
    };
    let mut out = std::io::stdout().lock();
    let started = std::time::Instant::now();
    let code = converge(&ctx, &mut text, &mut out)?;
    let total_us = started.elapsed().as_micros() as u64;
    let agents_us = AGENT_TIME.load(std::sync::atomic::Ordering::Relaxed);
    if !args.dry_run && total_us > 0 {
        let own = total_us.saturating_sub(agents_us);
        writeln!(
            out,
            "time: {:.1} ms, of which agents {:.1} ms; crm-lite's own {:.1} ms ({:.1}%)",
            total_us as f64 / 1000.0,
            agents_us as f64 / 1000.0,
            own as f64 / 1000.0,
            own as f64 * 100.0 / total_us as f64
        )?;
    }
    if !args.watch || args.dry_run {
        return Ok(code);
    }
    watch(&ctx, &mut text, &mut out)
}

/// `--watch`: run every recurring monitor at its interval and recover what fails (by
/// planning and acting again), until interrupted. Every result is recorded like any other.
fn watch(ctx: &Ctx, text: &mut String, out: &mut impl Write) -> Result<ExitCode> {
    type Key = (String, String, u64);
    let mut due: std::collections::BTreeMap<Key, std::time::Instant> = Default::default();
    writeln!(
        out,
        "watching: recurring monitors run at their intervals (interrupt to end)"
    )?;
    out.flush()?;
    loop {
        let parsed = cib::parse(&ctx.name, text);
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
        if !plan.actions.is_empty() || !plan.probes.is_empty() {
            converge(ctx, text, out)?;
            out.flush()?;
            continue;
        }
        let key = |m: &scheduler::Monitor| (m.rsc.clone(), m.node.clone(), m.interval_ms);
        let current: BTreeSet<Key> = plan.monitors.iter().map(key).collect();
        due.retain(|k, _| current.contains(k));
        let instant = std::time::Instant::now();
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
        let node_id = node_id(&parsed.cib, &ctx.local);
        let call_id = last_call_id(&parsed.cib) + 1;
        let mut req = request(&parsed.cib, prim, &meta, &m.rsc, "monitor", &ctx.local);
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
        let (rc, outcome) = execute(&ctx.runner, &req);
        let digest = executor::op_digest(&req.params);
        let mut doc = parsed.doc.clone();
        let failed = executor::record(
            &mut doc,
            &op_record(
                &req, prim, &node_id, rc, expected, &outcome, call_id, now, &digest,
            ),
        );
        save(&ctx.state_path, &mut doc, parsed.cib.versions, true)?;
        *text = doc.to_xml();
        due.insert(
            k,
            std::time::Instant::now() + Duration::from_millis(m.interval_ms),
        );
        if failed {
            writeln!(
                out,
                "monitor {} on {} failed (rc {rc}): recovering",
                m.rsc, m.node
            )?;
            converge(ctx, text, out)?;
        }
        out.flush()?;
    }
}

/// The `<node id>` of this machine's node.
fn node_id(cib: &cib::Cib, local: &str) -> String {
    cib.node(local).map_or_else(|| "1".into(), |n| n.id.clone())
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
    local: String,
    runner: OcfRunner,
    state_path: PathBuf,
    max_rounds: u32,
    dry_run: bool,
}

/// Plan and act until nothing is left to do (or `max_rounds` rounds passed).
fn converge(ctx: &Ctx, text: &mut String, out: &mut impl Write) -> Result<ExitCode> {
    let mut failures = 0u32;
    let mut done = 0u32;
    for round in 1..=ctx.max_rounds {
        let parsed = cib::parse(&ctx.name, text);
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
        let node_id = node_id(&parsed.cib, &ctx.local);
        let mut doc = parsed.doc.clone();
        let mut call_id = last_call_id(&parsed.cib);
        if !plan.probes.is_empty() {
            writeln!(
                out,
                "round {round}: probing {} resource(s)",
                plan.probes.len()
            )?;
            for p in &plan.probes {
                let Some((prim, meta)) = primitive(&parsed.cib, &p.rsc) else {
                    continue;
                };
                call_id += 1;
                let req = request(&parsed.cib, prim, &meta, &p.rsc, "monitor", &ctx.local);
                let (rc, outcome) = execute(&ctx.runner, &req);
                let digest = executor::op_digest(&req.params);
                let failed = executor::record(
                    &mut doc,
                    &op_record(&req, prim, &node_id, rc, 7, &outcome, call_id, now, &digest),
                );
                let ms = outcome.as_ref().map_or(0, |o| o.duration.as_millis());
                AGENT_TIME.fetch_add(
                    outcome
                        .as_ref()
                        .map_or(0, |o| o.duration.as_micros() as u64),
                    std::sync::atomic::Ordering::Relaxed,
                );
                writeln!(
                    out,
                    "  probe {} on {}: rc {rc}{} ({ms} ms)",
                    p.rsc,
                    ctx.local,
                    if failed { " (failed)" } else { "" }
                )?;
            }
            // Probes change nothing: writing their results once, after all of them, is
            // enough (a crash in between only means probing again).
            save(&ctx.state_path, &mut doc, parsed.cib.versions, true)?;
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
        let order = topological(&plan);
        writeln!(out, "round {round}: {} action(s)", order.len())?;
        for (k, &i) in order.iter().enumerate() {
            let a = &plan.actions[i];
            if matches!(a.kind, ActionKind::Migrate | ActionKind::Fence) {
                bail!(
                    "the plan needs to {} on one machine, which cannot be done: {}",
                    a.kind.name(),
                    a.rsc
                );
            }
            let action = a.kind.name();
            let Some((prim, meta)) = primitive(&parsed.cib, &a.rsc) else {
                bail!("the plan names {}, which the CIB does not configure", a.rsc);
            };
            write!(
                out,
                "  [{}/{}] {action} {} on {} ... ",
                k + 1,
                order.len(),
                a.rsc,
                a.node
            )?;
            out.flush()?;
            call_id += 1;
            let req = request(&parsed.cib, prim, &meta, &a.rsc, action, &ctx.local);
            // What is under way goes into the state first: after a crash, the next apply
            // knows to probe it rather than trust (or repeat) the unfinished operation.
            let digest = executor::op_digest(&req.params);
            let in_flight: Result<executor::Outcome, executor::ExecError> = Ok(executor::Outcome {
                rc: 0,
                timed_out: false,
                duration: Duration::ZERO,
                exit_reason: None,
            });
            let mut pending = op_record(
                &req, prim, &node_id, 0, 0, &in_flight, call_id, now, &digest,
            );
            pending.pending = true;
            executor::record(&mut doc, &pending);
            save(&ctx.state_path, &mut doc, parsed.cib.versions, false)?;
            let (rc, outcome) = execute(&ctx.runner, &req);
            let digest = executor::op_digest(&req.params);
            let failed = executor::record(
                &mut doc,
                &op_record(&req, prim, &node_id, rc, 0, &outcome, call_id, now, &digest),
            );
            save(&ctx.state_path, &mut doc, parsed.cib.versions, true)?;
            done += 1;
            let ms = outcome.as_ref().map_or(0, |o| o.duration.as_millis());
            AGENT_TIME.fetch_add(
                outcome
                    .as_ref()
                    .map_or(0, |o| o.duration.as_micros() as u64),
                std::sync::atomic::Ordering::Relaxed,
            );
            if failed {
                failures += 1;
                let why = outcome
                    .as_ref()
                    .ok()
                    .and_then(|o| o.exit_reason.clone())
                    .or_else(|| outcome.as_ref().err().map(|e| e.to_string()))
                    .unwrap_or_default();
                let timed = outcome.as_ref().is_ok_and(|o| o.timed_out);
                writeln!(
                    out,
                    "FAILED (rc {rc}{}, {ms} ms){}",
                    if timed { ", timed out" } else { "" },
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(": {why}")
                    }
                )?;
                break;
            }
            writeln!(out, "ok ({ms} ms)")?;
        }
        *text = doc.to_xml();
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

/// The applied CIB: `input`'s configuration with the status kept from `previous`, this
/// machine as the only node (added when the CIB names none), online and with quorum.
fn merge(input: &str, previous: Option<&str>, local: &str) -> String {
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
        return text;
    };
    doc.get_mut(root).set_attr("have-quorum", "1");
    let config = doc
        .child(root, "configuration")
        .unwrap_or_else(|| doc.append(root, "configuration", &[]));
    let nodes = doc
        .child(config, "nodes")
        .unwrap_or_else(|| doc.append(config, "nodes", &[]));
    let found = doc
        .children(nodes)
        .find(|&n| doc.get(n).attr("uname") == Some(local));
    let id = match found {
        Some(n) => doc.get(n).attr("id").unwrap_or("1").to_owned(),
        None => {
            doc.append(nodes, "node", &[("id", "1"), ("uname", local)]);
            "1".to_owned()
        }
    };
    // What `crm-lite move`/`ban` added to the state stays until `crm-lite clear` removes it.
    if let Some(prev) = previous {
        keep_cli_constraints(&mut doc, prev, config);
    }
    if let Some(state) = executor::node_state(&mut doc, local, &id) {
        for (k, v) in [
            ("in_ccm", "true"),
            ("crmd", "online"),
            ("join", "member"),
            ("expected", "member"),
        ] {
            doc.get_mut(state).set_attr(k, v);
        }
    }
    doc.to_xml()
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
        let attrs: Vec<(String, String)> = el.attrs.clone();
        let borrowed: Vec<(&str, &str)> = attrs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        doc.append(cons, "rsc_location", &borrowed);
    }
}

/// The configured primitive behind a plan resource name (`rsc`, `rsc:N`), with the clone
/// meta-attributes its agent sees.
fn primitive<'a>(cib: &'a cib::Cib, rsc: &str) -> Option<(&'a Primitive, Vec<(String, String)>)> {
    let base = match rsc.rsplit_once(':') {
        Some((b, n)) if n.bytes().all(|c| c.is_ascii_digit()) => b,
        _ => rsc,
    };
    for r in &cib.resources {
        if let Resource::Clone(c) = r {
            if let Some(p) = c
                .child
                .primitives()
                .into_iter()
                .find(|p| p.id.as_str() == base)
            {
                let mut meta = Vec::new();
                for name in [
                    "clone-max",
                    "clone-node-max",
                    "globally-unique",
                    "notify",
                    "promotable",
                    "promoted-max",
                    "promoted-node-max",
                ] {
                    if let Some(v) = c.meta.raw.get(name) {
                        meta.push((name.to_owned(), v.to_owned()));
                    }
                }
                if c.promotable && c.meta.raw.get("promotable").is_none() {
                    meta.push(("promotable".into(), "true".into()));
                }
                return Some((p, meta));
            }
        } else if let Some(p) = r.primitives().into_iter().find(|p| p.id.as_str() == base) {
            return Some((p, Vec::new()));
        }
    }
    None
}

fn request(
    cib: &cib::Cib,
    p: &Primitive,
    meta: &[(String, String)],
    rsc: &str,
    action: &str,
    node: &str,
) -> Request {
    let mut params: Vec<(String, String)> = Vec::new();
    let mut seen = BTreeSet::new();
    for pair in p
        .params
        .sets
        .iter()
        .filter(|s| s.rule.is_none())
        .flat_map(|s| s.pairs.iter())
    {
        if let Some(v) = &pair.value {
            if seen.insert(pair.name.clone()) {
                params.push((pair.name.clone(), v.clone()));
            }
        }
    }
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
) -> (i32, Result<executor::Outcome, executor::ExecError>) {
    match runner.run(req) {
        Ok(o) => (o.rc, Ok(o)),
        Err(e @ executor::ExecError::UnsupportedClass(_)) => (3, Err(e)),
        Err(e) => (5, Err(e)),
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
        pending: false,
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

/// The plan's actions in an order that respects its edges (ties by plan order).
fn topological(plan: &Plan) -> Vec<usize> {
    let n = plan.actions.len();
    let mut indegree = vec![0usize; n];
    for &(_, b) in &plan.edges {
        indegree[b] += 1;
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(&i) = ready.iter().next() {
        ready.remove(&i);
        order.push(i);
        for &(a, b) in &plan.edges {
            if a == i {
                indegree[b] -= 1;
                if indegree[b] == 0 {
                    ready.insert(b);
                }
            }
        }
    }
    // A cycle (never expected) leaves actions out: run them last rather than never.
    for i in 0..n {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    order
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
