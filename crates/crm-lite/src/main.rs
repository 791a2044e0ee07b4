//! `crm-lite`: the command-line front end. One module per subcommand; `main` only parses
//! argv, installs the tracing subscriber and maps results to exit codes.
use std::io::ErrorKind;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod admin;
mod apply;
mod daemon;
mod live;

/// mimalloc instead of the C library's allocator: a large CIB is millions of small strings,
/// which glibc's malloc rounds up to 32 bytes each and fragments; measured on 100 nodes x
/// 10,000 resources, it is the difference between meeting the 500 MB budget and not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`, the same in its v2 and v3; the
/// bindings do not name it): how long freed memory is kept before it goes back to the
/// system.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Hand freed memory back after 10 ms (mimalloc 2's default) rather than v3's 1 s: the
/// stages of `simulate` free large structures (the text, the element tree, the model)
/// just before building the next one, which would otherwise come on top of them.
/// Measured by hand on 100 nodes x 10,000 resources: a peak of 262 MB instead of 298 MB.
fn allocator_options() {
    // SAFETY: sets one integer option; no pointers, and mimalloc is the allocator.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
}
mod simulate;
mod verify;

/// A small cluster resource manager that reads Pacemaker's CIB.
#[derive(Debug, Parser)]
#[command(name = "crm-lite", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a CIB like crm_verify: exit 0 when valid (warnings allowed), 78 when invalid.
    Verify(verify::Args),
    /// Decide what the cluster should do, like crm_simulate: placement, actions, fencing.
    Simulate(simulate::Args),
    /// Make this machine match a CIB: probe, then start, stop, promote and demote in the
    /// planned order through the agents, recording every result, until converged.
    Apply(apply::Args),
    /// Show the cluster as this node's daemon knows it, or without a daemon what runs where
    /// on this machine, from the state `apply` keeps (like crm_mon -1).
    Status(admin::StatusArgs),
    /// Move a resource to a node (a cli-prefer location constraint, like crm_resource --move).
    Move(admin::RscNodeArgs),
    /// Keep a resource off a node (a cli-ban location constraint, like crm_resource --ban).
    Ban(admin::RscNodeArgs),
    /// Remove the move and ban constraints of a resource (like crm_resource --clear).
    Clear(admin::RscArgs),
    /// Forget a resource's failures and history so the next apply probes it again.
    Cleanup(admin::RscArgs),
    /// Run the cluster daemon of this node, in the foreground: Corosync membership, the
    /// cluster's CIB, fencing before recovery (one per node; crm-lite.service runs it).
    Daemon(daemon::Args),
    /// Put back the last good copy of a corrupt state file (cib-N.raw, kept beside it).
    Restore(admin::RestoreArgs),
    /// Write the man pages and shell completions (for packaging).
    #[command(hide = true)]
    Docs(DocsArgs),
}

/// `crm-lite docs --out DIR [--agents DIR]`: what `scripts/package` installs.
#[derive(Debug, clap::Args)]
struct DocsArgs {
    /// Directory to write man8/, man7/, bash-completion/ and zsh/ into.
    #[arg(long)]
    out: std::path::PathBuf,
    /// Directory of agent binaries whose meta-data becomes ocf_crm-lite_<agent>(7).
    #[arg(long)]
    agents: Option<std::path::PathBuf>,
}

fn docs(args: &DocsArgs) -> anyhow::Result<ExitCode> {
    let mut files = manpages::write_cli(Cli::command(), &args.out)?;
    if let Some(dir) = &args.agents {
        files.extend(manpages::write_agents(dir, "crm-lite", &args.out)?);
    }
    let mut stdout = std::io::stdout().lock();
    for f in files {
        std::io::Write::write_all(&mut stdout, format!("{}\n", f.display()).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Log level from `CRM_LITE_LOG` (error, warn, info, debug, trace; default warn), to stderr.
fn init_tracing() {
    let level = std::env::var("CRM_LITE_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::WARN);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    allocator_options();
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Verify(args) => verify::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Apply(args) => apply::run(&args),
        Command::Status(args) => admin::status(&args),
        Command::Move(args) => admin::move_to(&args),
        Command::Ban(args) => admin::ban(&args),
        Command::Clear(args) => admin::clear(&args),
        Command::Cleanup(args) => admin::cleanup(&args),
        Command::Restore(args) => admin::restore(&args),
        Command::Daemon(args) => daemon::run(&args),
        Command::Docs(args) => docs(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("crm-lite: error: {e:#}");
            if e.chain()
                .any(|c| c.downcast_ref::<daemon::control::NoAnswer>().is_some())
            {
                return ExitCode::from(daemon::control::EXIT_TIMEOUT);
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    /// The option number is mimalloc's purge delay: the only option whose default is
    /// 1000 (ms) in the mimalloc these bindings build.
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads one integer option.
        let v = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        // The test binary has the same allocator but does not run main.
        assert_eq!(v, 1000);
    }
}
