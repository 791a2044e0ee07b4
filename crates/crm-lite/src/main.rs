//! `crm-lite`: the command-line front end (subcommands land with their issues).
use clap::Parser;

/// A small cluster resource manager that reads Pacemaker's CIB.
#[derive(Debug, Parser)]
#[command(name = "crm-lite", version)]
struct Cli {}

fn main() {
    let _ = Cli::parse();
}
