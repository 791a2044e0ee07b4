//! `crm-lite verify`: parse a CIB, run every check, print `error:`/`warning:` lines.
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use cib::AgentMetadata;
use cib::model::Primitive;

/// crm_verify's exit code for an invalid configuration (CRM_EX_CONFIG).
pub const EXIT_INVALID: u8 = 78;

/// How long an agent may take to print its meta-data.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// Arguments of `crm-lite verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CIB file; `-` reads standard input.
    #[arg(required_unless_present = "live", conflicts_with = "live")]
    file: Option<PathBuf>,
    /// Check the running Pacemaker's CIB (`cibadmin -Q`, like crm_verify -L); exit 66 when
    /// there is none.
    #[arg(long)]
    live: bool,
    /// Do not run installed agents' `meta-data` to check parameters.
    #[arg(long)]
    no_agent_check: bool,
}

/// Where agents live and whether to ask them, read once from argv and the environment.
#[derive(Debug)]
struct AgentConfig {
    enabled: bool,
    ocf_root: PathBuf,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let agents = AgentConfig {
        enabled: !args.no_agent_check,
        ocf_root: std::env::var_os("OCF_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/lib/ocf")),
    };
    let (name, bytes) = if args.live {
        match crate::live::read() {
            Ok(bytes) => (crate::live::NAME.to_string(), bytes),
            Err(code) => return Ok(code),
        }
    } else {
        read_input(args)?
    };
    let mut parsed = cib::parse_vec(&name, bytes);
    parsed.check_runnable();
    if agents.enabled {
        let mut cache: HashMap<PathBuf, Option<AgentMetadata>> = HashMap::new();
        parsed.check_agents(|p| {
            let path = agent_path(&agents.ocf_root, p)?;
            cache
                .entry(path.clone())
                .or_insert_with(|| agent_metadata(&agents.ocf_root, &path))
                .clone()
        });
    }
    // Report in file order, whichever pass found the problem.
    parsed.diagnostics.sort_by_key(|d| (d.line, d.col));
    let mut out = std::io::stdout().lock();
    let (mut errors, mut warnings) = (0, 0);
    for d in &parsed.diagnostics {
        if d.is_error() {
            errors += 1;
        } else {
            warnings += 1;
        }
        writeln!(out, "{d}").context("failed to write diagnostics")?;
    }
    out.flush().context("failed to write diagnostics")?;
    if errors > 0 {
        eprintln!("crm-lite: configuration invalid: {errors} errors, {warnings} warnings");
        Ok(ExitCode::from(EXIT_INVALID))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

fn read_input(args: &Args) -> Result<(String, Vec<u8>)> {
    let file = args.file.as_deref().unwrap_or(Path::new("-"));
    let mut bytes = Vec::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("failed to read CIB from standard input")?;
    } else {
        bytes = std::fs::read(file)
            .with_context(|| format!("failed to read CIB from {}", file.display()))?;
    }
    Ok((file.display().to_string(), bytes))
}

/// `${OCF_ROOT}/resource.d/<provider>/<type>` when it exists.
fn agent_path(root: &Path, p: &Primitive) -> Option<PathBuf> {
    let provider = p.provider.as_deref()?;
    // A name that is a path is reported by `check_runnable`, and never run.
    cib::names::check_agent(Some(provider), &p.agent).ok()?;
    let path = root.join("resource.d").join(provider).join(&p.agent);
    path.is_file().then_some(path)
}

/// Run `<agent> meta-data` with a timeout and a size cap (the executor's, shared with
/// `apply`); `None`, said on stderr, when it gives none.
fn agent_metadata(root: &Path, path: &Path) -> Option<AgentMetadata> {
    match executor::metadata::read(path, root, METADATA_TIMEOUT) {
        Ok(md) => Some(md),
        Err(e) => {
            eprintln!(
                "crm-lite verify: warning: {e}; the parameters of its resources are not checked"
            );
            None
        }
    }
}
