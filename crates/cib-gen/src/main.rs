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
    /// The kind of cluster: `classic` (the benchmarks' fixed shape) or `operators` (clones
    /// with and without interleave, any clone-max, notify on or off, failed monitors with
    /// failure-timeout relative to --now 1700000000, zero to two lost nodes, every placement
    /// strategy, ordering and colocation sets).
    #[arg(long, value_enum, default_value_t = MixArg::Classic)]
    mix: MixArg,
    /// Leave the status section empty (nothing running, no node lost).
    #[arg(long)]
    no_status: bool,
    /// Output file (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum MixArg {
    Classic,
    Operators,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mix = match args.mix {
        MixArg::Classic => cib_gen::Mix::Classic,
        MixArg::Operators => cib_gen::Mix::Operators,
    };
    let xml = cib_gen::generate_mix(
        &cib_gen::Config {
            nodes: args.nodes,
            resources: args.resources,
            seed: args.seed,
            status: !args.no_status,
        },
        mix,
    );
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
