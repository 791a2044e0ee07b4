//! What an OCF agent's meta-data says about reloading, as Pacemaker's controller reads it:
//! which reload action the agent has, and so which parameters force a restart when they
//! change. The executor records those (`op-force-restart`, `op-restart-digest`) with every
//! one-shot operation, so that the scheduler can plan a reload instead of a restart when
//! only the others changed.
//!
//! [`read`] asks an agent for its meta-data with a deadline and a size cap (the same
//! [`crate::OUTPUT_LIMIT`] as any agent output): `crm-lite verify` and the executor read
//! it the same way, so a broken agent that prints without end costs a bounded amount of
//! memory and time, and says so.
use std::path::Path;
use std::time::Duration;

use cib::AgentMetadata;

use crate::process;

/// Why an agent's meta-data could not be had.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The agent could not be started.
    #[error("failed to run {path} meta-data: {source}")]
    Spawn {
        /// The agent.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It did not answer in time (its process group was killed).
    #[error("{path} meta-data did not answer within {ms} ms")]
    TimedOut {
        /// The agent.
        path: String,
        /// The deadline.
        ms: u128,
    },
    /// It printed more than the cap (it was stopped there).
    #[error("{path} meta-data printed more than {limit} bytes (stopped there)")]
    TooLarge {
        /// The agent.
        path: String,
        /// The cap.
        limit: usize,
    },
    /// It exited with an error.
    #[error("{path} meta-data failed with exit code {code}")]
    Failed {
        /// The agent.
        path: String,
        /// Its exit code (-1: killed by a signal).
        code: i32,
    },
    /// What it printed is not meta-data.
    #[error("{path} meta-data does not parse: {reason}")]
    Parse {
        /// The agent.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Run `<agent> meta-data` (with `OCF_ROOT` and a plain `PATH`), at most `timeout`, and
/// parse what it prints.
pub fn read(
    agent: &Path,
    ocf_root: &Path,
    timeout: Duration,
) -> Result<AgentMetadata, MetadataError> {
    read_with(&process::Spawn {
        program: agent.to_owned(),
        args: vec!["meta-data".into()],
        env: vec![
            (
                "PATH".into(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ),
            ("OCF_ROOT".into(), ocf_root.into()),
        ],
        stdin: None,
        capture_stdout: true,
        timeout,
        output_limit: crate::OUTPUT_LIMIT,
    })
}

/// [`read`] with a process already described (the executor's full OCF environment).
pub(crate) fn read_with(spec: &process::Spawn) -> Result<AgentMetadata, MetadataError> {
    let path = spec.program.display().to_string();
    let fin = process::run(spec).map_err(|source| MetadataError::Spawn {
        path: path.clone(),
        source,
    })?;
    if fin.stdout_overflow {
        return Err(MetadataError::TooLarge {
            path,
            limit: spec.output_limit,
        });
    }
    if fin.timed_out || fin.abandoned {
        return Err(MetadataError::TimedOut {
            path,
            ms: spec.timeout.as_millis(),
        });
    }
    match fin.code {
        Some(0) => {}
        code => {
            return Err(MetadataError::Failed {
                path,
                code: code.unwrap_or(-1),
            });
        }
    }
    AgentMetadata::parse(&String::from_utf8_lossy(&fin.stdout)).map_err(|e| MetadataError::Parse {
        path,
        reason: e.to_string(),
    })
}

/// How an agent reloads changed parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// OCF 1.1 `reload-agent`: parameters not marked `reloadable="1"` force a restart.
    Agent,
    /// Pre-1.1 `reload`: parameters marked `unique="1"` force a restart.
    Legacy,
}

/// The reload an agent supports, if any: `reload-agent` counts only for OCF 1.1 agents,
/// `reload` only for older ones.
pub fn reload_of(md: &AgentMetadata) -> Option<Reload> {
    let ocf_1_1 = md.ocf_version.as_deref().is_some_and(at_least_1_1);
    let has = |a: &str| md.actions.iter().any(|x| x.eq_ignore_ascii_case(a));
    if ocf_1_1 && has("reload-agent") {
        Some(Reload::Agent)
    } else if !ocf_1_1 && has("reload") {
        Some(Reload::Legacy)
    } else {
        None
    }
}

/// The action that carries out a planned reload: `reload` for a pre-1.1 agent,
/// `reload-agent` otherwise (Pacemaker's controller maps it the same way).
pub fn reload_action(md: &AgentMetadata) -> &'static str {
    match reload_of(md) {
        Some(Reload::Legacy) => "reload",
        _ => "reload-agent",
    }
}

/// `op-force-restart` (the names, each between spaces, as Pacemaker writes the list) and
/// `op-restart-digest` for an operation with `params`; `None` when the agent cannot
/// reload, and then neither is recorded.
pub fn restart_list(md: &AgentMetadata, params: &[(String, String)]) -> Option<(String, String)> {
    let reload = reload_of(md)?;
    let names: Vec<&str> = md
        .parameters
        .iter()
        .filter(|p| match reload {
            Reload::Agent => !p.reloadable,
            Reload::Legacy => p.unique,
        })
        .map(|p| p.name.as_str())
        .collect();
    let list = if names.is_empty() {
        String::new()
    } else {
        format!(" {} ", names.join(" "))
    };
    let digest = cib::digest::restart_digest(params, &list);
    Some((list, digest))
}

/// Whether an OCF version string is 1.1 or later.
fn at_least_1_1(v: &str) -> bool {
    let mut parts = v.split('.').map(|p| p.trim().parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (1, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY: &str = r#"<?xml version="1.0"?>
<resource-agent name="lb"><version>1.0</version>
<parameters>
<parameter name="config" unique="1"><content type="string"/></parameter>
<parameter name="weight" unique="0"><content type="string"/></parameter>
<parameter name="socket" unique="1"><content type="string"/></parameter>
</parameters>
<actions><action name="start"/><action name="reload"/><action name="meta-data"/></actions>
</resource-agent>"#;

    fn md(xml: &str) -> AgentMetadata {
        AgentMetadata::parse(xml).expect("meta-data")
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_legacy_reload_restarts_for_unique_parameters_only() {
        let m = md(LEGACY);
        assert_eq!(reload_of(&m), Some(Reload::Legacy));
        assert_eq!(reload_action(&m), "reload");
        let p = params(&[("config", "/a"), ("weight", "3"), ("socket", "/s")]);
        let (list, digest) = restart_list(&m, &p).expect("reloadable");
        assert_eq!(list, " config socket ");
        // Only the listed parameters count: changing weight keeps the restart digest.
        let p2 = params(&[("config", "/a"), ("weight", "9"), ("socket", "/s")]);
        assert_eq!(restart_list(&m, &p2).unwrap().1, digest);
        let p3 = params(&[("config", "/b"), ("weight", "3"), ("socket", "/s")]);
        assert_ne!(restart_list(&m, &p3).unwrap().1, digest);
    }

    #[test]
    fn reload_agent_needs_ocf_1_1_and_restarts_for_parameters_not_reloadable() {
        let xml = r#"<resource-agent name="x"><version>1.1</version><parameters>
<parameter name="a" reloadable="1"/><parameter name="b" unique="1"/><parameter name="c"/>
</parameters><actions><action name="reload-agent"/><action name="reload"/></actions></resource-agent>"#;
        let m = md(xml);
        assert_eq!(reload_of(&m), Some(Reload::Agent));
        assert_eq!(reload_action(&m), "reload-agent");
        assert_eq!(restart_list(&m, &[]).unwrap().0, " b c ");
        // The same actions under OCF 1.0: reload-agent is not used, reload is.
        let old = xml.replace("<version>1.1</version>", "<version>1.0</version>");
        assert_eq!(reload_of(&md(&old)), Some(Reload::Legacy));
    }

    #[test]
    fn an_agent_without_reload_records_no_restart_list() {
        let m = md(r#"<resource-agent name="x"><version>1.1</version>
<actions><action name="start"/></actions></resource-agent>"#);
        assert_eq!(reload_of(&m), None);
        assert_eq!(restart_list(&m, &[]), None);
    }
}
