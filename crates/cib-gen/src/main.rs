//! `cib-gen`: write a generated CIB (see the `cib_gen` library) to stdout or a file.
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;

/// Generate a large, deterministic Pacemaker CIB.
#[derive(Debug, Parser)]
#[command(name = "cib-gen", version)]
struct Args {
    /// Number of nodes.
    #[arg(long, default_value_t = 32)]
    nodes: usize,
    /// Approximate number of primitives.
    #[arg(long, default_value_t = 2000)]
    resources: usize,
    /// Seed for the pseudo-random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Leave the status section empty (nothing running, no node lost).
    #[arg(long)]
    no_status: bool,
    /// Output file (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let xml = cib_gen::generate(&cib_gen::Config {
        nodes: args.nodes,
        resources: args.resources,
        seed: args.seed,
        status: !args.no_status,
    });
    match &args.output {
        Some(p) => {
            std::fs::write(p, xml).with_context(|| format!("failed to write {}", p.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(xml.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.context("failed to write to stdout"),
            }
        }
    }
}
