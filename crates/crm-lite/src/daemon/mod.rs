//! `crm-lite daemon`: one per cluster node, in the foreground (systemd's
//! `crm-lite.service`). It connects to Corosync, joins the CPG group `crm-lite`, starts the
//! state machine ([`::daemon::Node`]) with the CIB saved in the state directory, and runs the
//! loop of [`runtime`] until SIGTERM (it then leaves the group) or until Corosync is gone (a
//! non-zero exit; systemd restarts it). The commands reach it through [`control`]'s socket.
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use cluster::Group;
use executor::OcfRunner;
use executor::drive::{Exec, Ran, RunnerExec};
use scheduler::graph::OpKind;

pub mod client;
pub mod control;
pub mod pacemaker;
pub mod runtime;

/// Arguments of `crm-lite daemon`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where this node keeps its copy of the cluster's CIB.
    #[arg(long, default_value = "/var/lib/crm-lite")]
    state_dir: PathBuf,
    /// The control socket (`crm-lite apply`, `status`, ... on this node talk to it; they
    /// find it through `CRM_LITE_SOCKET` when it is not the default).
    #[arg(long, default_value = control::DEFAULT_SOCKET)]
    socket: PathBuf,
}

/// The runner the daemon's operations go through: `executor`'s, owned, so that each
/// operation runs in a thread of its own.
#[derive(Debug)]
pub struct AgentExec(pub OcfRunner);

impl Exec for AgentExec {
    fn run(&self, op: &OpKind) -> Ran {
        // Beside a running Pacemaker its fencer fences, with its own devices: two fencers
        // must not race for one node.
        if let OpKind::Fence(f) = op
            && executor::fence::pacemaker::running()
        {
            let start = std::time::Instant::now();
            tracing::info!(target = %f.target, action = %f.action, "fencing through Pacemaker's fencer (stonith_admin)");
            let attempt = executor::fence::pacemaker::fence(
                &f.target,
                &f.action,
                std::time::Duration::from_millis(f.timeout_ms),
            );
            return Ran::Fence {
                attempts: vec![attempt],
                span: (start, std::time::Instant::now()),
            };
        }
        RunnerExec(&self.0).run(op)
    }
}

/// Set by SIGTERM and SIGINT.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: nix::libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_stop_handler() -> Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let act = SigAction::new(
        SigHandler::Handler(on_stop),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { sigaction(sig, &act) }.with_context(|| format!("failed to handle {sig}"))?;
    }
    Ok(())
}

/// Connects to this node's Corosync.
fn connect_corosync() -> Result<corosync_group::CorosyncGroup> {
    corosync_group::CorosyncGroup::connect().context("failed to connect to corosync")
}

/// `crm-lite daemon`.
pub fn run(args: &Args) -> Result<ExitCode> {
    // No transparent huge pages for a process that lives for months on little memory: with
    // them, one touched byte of a 2 MiB-aligned allocator region keeps 2 MiB resident.
    // (Measured in the lab: 6 of the daemon's 15.6 MB were huge pages.) Not for the other
    // subcommands: `simulate` of a large CIB is faster with them.
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::debug!("transparent huge pages stay enabled: {e}");
    }
    let store = store::Store::new(&args.state_dir);
    // The daemon is the only writer of its state directory while it runs.
    let _lock = store.lock_apply().with_context(|| {
        format!(
            "the state directory {} is in use (a crm-lite apply, or another daemon)",
            args.state_dir.display()
        )
    })?;
    let saved = store.load()?.map(|s| s.text);
    if let Some(xml) = &saved {
        pacemaker::check_beside(xml, "starting the crm-lite daemon")?;
    }
    install_stop_handler()?;
    let mut group = connect_corosync()?;
    group
        .join()
        .with_context(|| format!("failed to join the CPG group {}", cluster::GROUP_NAME))?;
    let nodes = group.nodes().into_iter().collect();
    let config = ::daemon::Config {
        local: group.local_id(),
        nodes,
        cib: saved.clone(),
    };
    tracing::info!(local = config.local, nodes = ?config.nodes, "joined the group {}", cluster::GROUP_NAME);
    let machine = ::daemon::Node::new(config);
    // A node starts without promotion scores (Pacemaker's attribute manager starts empty):
    // what agents left before this start is stale.
    let attrs = args.state_dir.join("attrs");
    clear_scores(&attrs);
    let exec = AgentExec(runner(&args.state_dir));
    let server = control::Server::bind(&args.socket)?;
    tracing::info!(socket = %server.path().display(), "listening");
    let mut rt = runtime::Runtime::new(group, machine, exec, store, saved)
        .with_attr_dir(attrs.clone())
        .with_pacemaker(pacemaker::watch());
    let result = loop {
        if STOP.load(Ordering::SeqCst) {
            break Ok(());
        }
        if let Err(e) = rt.turn(runtime::MAX_WAIT, runtime::from_server(&server)) {
            break Err(e);
        }
    };
    let running = rt.running();
    let group = rt.shutdown();
    drop(group); // leaves the CPG group
    match result {
        Ok(()) => {
            tracing::info!(running, "stopped: left the group");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e),
    }
}

/// Removes the promotion scores (`<node>/master-*`) that agents left under `attrs`.
fn clear_scores(attrs: &std::path::Path) {
    for node in std::fs::read_dir(attrs).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(node.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if f.file_name().to_string_lossy().starts_with("master-") {
                if let Err(e) = std::fs::remove_file(f.path()) {
                    tracing::warn!(file = %f.path().display(), error = %e, "cannot remove a stale promotion score");
                }
            }
        }
    }
}

/// The agents' runner, as `apply` sets it up: `OCF_ROOT`, fence agents in
/// `CRM_LITE_FENCE_DIR` (default `/usr/sbin`), attribute files under the state directory.
fn runner(state_dir: &std::path::Path) -> OcfRunner {
    let ocf_root =
        std::env::var_os("OCF_ROOT").map_or_else(|| PathBuf::from("/usr/lib/ocf"), PathBuf::from);
    let fence_dir = std::env::var_os("CRM_LITE_FENCE_DIR")
        .map_or_else(|| PathBuf::from("/usr/sbin"), PathBuf::from);
    OcfRunner {
        fence_dir,
        attr_root: Some(state_dir.join("attrs")),
        own_rsctmp: Default::default(),
        metadata: Default::default(),
        ocf_root,
    }
}
