//! `--live` (verify, simulate): the CIB of the Pacemaker running on this node, as
//! `cibadmin -Q` prints it (which, like crm_verify -L and crm_simulate -L, honours
//! `CIB_file`). When none can be read the command ends with crm_verify -L's exit code.
use std::process::{Command, ExitCode, Stdio};

/// crm_verify -L's exit code when there is no CIB to read (CRM_EX_NOINPUT).
pub const EXIT_NO_INPUT: u8 = 66;

/// The name a live CIB has in messages.
pub const NAME: &str = "live CIB";

/// The live CIB's bytes, or (said on stderr) the exit code to end with.
pub fn read() -> Result<Vec<u8>, ExitCode> {
    let out = match Command::new("cibadmin")
        .arg("-Q")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!(
                "crm-lite: error: --live reads a running Pacemaker's CIB with cibadmin, which \
                 could not be run ({e}); install pacemaker-cli-utils"
            );
            return Err(ExitCode::from(EXIT_NO_INPUT));
        }
    };
    if !out.status.success() || out.stdout.is_empty() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        eprintln!(
            "crm-lite: error: no live CIB to read: cibadmin -Q failed ({}){}; --live needs \
             Pacemaker running on this node (or CIB_file naming a CIB)",
            out.status,
            if why.is_empty() {
                String::new()
            } else {
                format!(": {why}")
            }
        );
        return Err(ExitCode::from(EXIT_NO_INPUT));
    }
    Ok(out.stdout)
}
