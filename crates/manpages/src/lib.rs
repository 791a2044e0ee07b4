//! `manpages`: crm-lite's man pages and shell completions, generated rather than written.
//!
//! * [`write_cli`] takes the clap definition of `crm-lite` and writes `crm-lite(8)`, one
//!   page per visible subcommand (`crm-lite-verify(8)`, ...) with `clap_mangen`, and the bash
//!   and zsh completions with `clap_complete`.
//! * [`write_agents`] runs each agent's `meta-data` action and writes
//!   `ocf_<provider>_<agent>(7)` through [`agent`], the pure meta-data → roff converter.
//!
//! Layout under the output directory: `man8/`, `man7/`, `bash-completion/crm-lite`,
//! `zsh/_crm-lite`, as `scripts/package` installs them. Invariant: the pages say only what
//! the program itself declares (its clap definition, its meta-data), so they cannot drift.
#![deny(missing_docs)]

pub mod agent;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why generating documentation failed.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    /// Writing a file or directory failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// An agent could not be run, or its meta-data could not be read.
    #[error("meta-data of {agent}: {reason}")]
    MetaData {
        /// The agent.
        agent: String,
        /// What went wrong.
        reason: String,
    },
}

fn write(path: PathBuf, bytes: &[u8]) -> Result<PathBuf, DocsError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| DocsError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(&path, bytes).map_err(|source| DocsError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// `cmd` without its hidden subcommands (clap_complete would offer them).
fn without_hidden(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new(cmd.get_name().to_string());
    if let Some(v) = cmd.get_version() {
        out = out.version(v.to_string());
    }
    if let Some(a) = cmd.get_about() {
        out = out.about(a.clone());
    }
    if let Some(a) = cmd.get_long_about() {
        out = out.long_about(a.clone());
    }
    for a in cmd.get_arguments() {
        out = out.arg(a.clone());
    }
    for s in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out = out.subcommand(s.clone());
    }
    out.subcommand_required(cmd.is_subcommand_required_set())
}

/// Write the section-8 pages of `cmd` and its visible subcommands, and the bash and zsh
/// completions, under `out`. Returns the files written.
pub fn write_cli(cmd: clap::Command, out: &Path) -> Result<Vec<PathBuf>, DocsError> {
    let mut cmd = without_hidden(&cmd).disable_help_subcommand(true);
    cmd.build();
    let bin = cmd.get_name().to_string();
    let mut files = Vec::new();
    let mut pages = vec![cmd.clone()];
    pages.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    for page in pages {
        let man = clap_mangen::Man::new(page)
            .section("8")
            .manual("System Administration")
            .source(format!(
                "crm-lite {}",
                cmd.get_version().unwrap_or_default()
            ));
        let mut text = Vec::new();
        man.render(&mut text).map_err(|source| DocsError::Write {
            path: out.join("man8"),
            source,
        })?;
        files.push(write(out.join("man8").join(man.get_filename()), &text)?);
    }
    for (shell, path) in [
        (
            clap_complete::Shell::Bash,
            out.join("bash-completion").join(&bin),
        ),
        (
            clap_complete::Shell::Zsh,
            out.join("zsh").join(format!("_{bin}")),
        ),
    ] {
        let mut text = Vec::new();
        clap_complete::generate(shell, &mut cmd, bin.clone(), &mut text);
        if shell == clap_complete::Shell::Bash {
            text = fix_bash_states(&bin, &text);
        }
        files.push(write(path, &text)?);
    }
    Ok(files)
}

/// clap_complete 4.6 spells the states of a hyphenated program's subcommands one way in
/// the bash script's loop (`crm__lite__subcmd__verify`) and another in its case arms
/// (`crm__subcmd__lite__subcmd__verify`), so that nothing after a subcommand completes
/// (clap-rs/clap#6421). Spell the arms as the loop does.
fn fix_bash_states(bin: &str, script: &[u8]) -> Vec<u8> {
    if !bin.contains('-') {
        return script.to_vec();
    }
    let wrong = format!("{}__subcmd__", bin.replace('-', "__subcmd__"));
    let right = format!("{}__subcmd__", bin.replace('-', "__"));
    String::from_utf8_lossy(script)
        .replace(&wrong, &right)
        .into_bytes()
}

/// Run `meta-data` of every executable in `agent_dir` (sorted by name) and write
/// `man7/ocf_<provider>_<agent>.7` under `out`. Returns the files written.
pub fn write_agents(
    agent_dir: &Path,
    provider: &str,
    out: &Path,
) -> Result<Vec<PathBuf>, DocsError> {
    let entries = std::fs::read_dir(agent_dir).map_err(|e| DocsError::MetaData {
        agent: agent_dir.display().to_string(),
        reason: format!("cannot list the agents: {e}"),
    })?;
    let mut agents: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    agents.sort();
    let mut files = Vec::new();
    for path in agents {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let meta_err = |reason: String| DocsError::MetaData {
            agent: name.clone(),
            reason,
        };
        let output = Command::new(&path)
            .arg("meta-data")
            .env("OCF_ROOT", "/usr/lib/ocf")
            .output()
            .map_err(|e| meta_err(format!("cannot run {}: {e}", path.display())))?;
        if !output.status.success() {
            return Err(meta_err(format!(
                "{} meta-data exited with {}",
                path.display(),
                output.status
            )));
        }
        let meta = agent::parse(&name, &String::from_utf8_lossy(&output.stdout))?;
        let page = agent::render(provider, &meta);
        files.push(write(
            out.join("man7").join(agent::file_name(provider, &meta)),
            page.as_bytes(),
        )?);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> clap::Command {
        clap::Command::new("crm-lite")
            .version("9.9")
            .about("A small cluster resource manager")
            .subcommand(
                clap::Command::new("verify")
                    .about("Check a CIB")
                    .arg(clap::Arg::new("xml-file").long("xml-file")),
            )
            .subcommand(clap::Command::new("secret").hide(true))
    }

    #[test]
    fn cli_pages_and_completions_are_written_for_visible_subcommands() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_cli(demo(), dir.path()).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "man8/crm-lite.8",
                "man8/crm-lite-verify.8",
                "bash-completion/crm-lite",
                "zsh/_crm-lite"
            ]
        );
        let page = std::fs::read_to_string(dir.path().join("man8/crm-lite-verify.8")).unwrap();
        assert!(page.contains(".TH crm-lite-verify 8"), "{page}");
        assert!(page.contains("xml\\-file"), "{page}");
        let bash = std::fs::read_to_string(dir.path().join("bash-completion/crm-lite")).unwrap();
        assert!(
            bash.contains("complete -F") && bash.contains("--xml-file"),
            "{bash}"
        );
        let offered = bash
            .lines()
            .find(|l| l.trim_start().starts_with("opts=") && l.contains("verify"))
            .unwrap_or_else(|| panic!("no top-level word list: {bash}"));
        assert!(
            !offered.contains("secret"),
            "hidden subcommands are not offered: {offered}"
        );
        let zsh = std::fs::read_to_string(dir.path().join("zsh/_crm-lite")).unwrap();
        assert!(zsh.starts_with("#compdef crm-lite"), "{zsh}");
    }

    #[test]
    fn an_agent_that_fails_meta_data_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let agents = dir.path().join("agents");
        std::fs::create_dir(&agents).unwrap();
        std::os::unix::fs::symlink("/bin/false", agents.join("broken")).unwrap();
        let e = write_agents(&agents, "crm-lite", &dir.path().join("out"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("meta-data of broken") && e.contains("exited"),
            "{e}"
        );
    }
}
