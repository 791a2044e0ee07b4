//! `crm-lite`: the command-line front end. One module per subcommand; `main` only parses
//! argv, installs the tracing subscriber and maps results to exit codes.
use std::io::ErrorKind;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod apply;
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
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Verify(args) => verify::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Apply(args) => apply::run(&args),
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
            ExitCode::FAILURE
        }
    }
}
