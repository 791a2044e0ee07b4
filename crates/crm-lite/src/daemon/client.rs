//! The commands' side of a running daemon: `apply`, `status`, `move`, `ban`, `clear` and
//! `cleanup` ask it through the control socket when one answers on this node, and act on
//! this machine's state directory as before when none does.
use std::io::Write;
use std::process::ExitCode;

use ::daemon::Status;
use anyhow::{Result, bail};

use super::control::{Client, ClientMsg, ServerMsg, socket_path};

/// The daemon of this node, if one answers on its socket (its first answer awaited
/// `CRM_LITE_ANSWER_TIMEOUT` seconds, default [`super::control::ANSWER_TIMEOUT`]).
pub fn connect() -> Option<Client> {
    let client = Client::connect(&socket_path())?;
    Some(match answer_timeout() {
        Some(t) => client.with_answer_timeout(t),
        None => client,
    })
}

/// `CRM_LITE_ANSWER_TIMEOUT`, in seconds (fractions allowed), when set and valid.
fn answer_timeout() -> Option<std::time::Duration> {
    let v = std::env::var("CRM_LITE_ANSWER_TIMEOUT").ok()?;
    match v.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Some(std::time::Duration::from_secs_f64(s)),
        _ => {
            tracing::warn!(value = %v, "CRM_LITE_ANSWER_TIMEOUT is not a number of seconds: ignored");
            None
        }
    }
}

/// Asks `client`, printing the progress lines as they come and the last message; exit 0
/// when the daemon says it worked.
pub fn ask(client: Client, msg: &ClientMsg) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let last = client.ask(msg, |line| {
        writeln!(out, "{line}")?;
        out.flush()?;
        Ok(())
    })?;
    match last {
        ServerMsg::Done { ok, message } => {
            writeln!(out, "{message}")?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        other => bail!("the daemon answered out of turn: {other:?}"),
    }
}

/// `crm-lite status` with a daemon: the cluster as this node knows it.
pub fn status(client: Client, json: bool) -> Result<ExitCode> {
    let last = client.ask(&ClientMsg::Status, |line| {
        tracing::debug!(line, "status progress");
        Ok(())
    })?;
    let ServerMsg::Status(st) = last else {
        bail!("the daemon answered status with {last:?}");
    };
    std::io::stdout()
        .lock()
        .write_all(shown(&st, json)?.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// What `status` prints: [`render`], or the status as a JSON document.
pub fn shown(st: &Status, json: bool) -> Result<String> {
    if json {
        let mut s = serde_json::to_string_pretty(st)?;
        s.push('\n');
        Ok(s)
    } else {
        Ok(render(st))
    }
}

/// The text form of a cluster status (in the manner of `crm_mon -1`).
pub fn render(st: &Status) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Cluster (crm-lite daemon on {}): {}, coordinator {}, CIB version {}{}",
        st.local,
        if st.quorate {
            "partition with quorum"
        } else {
            "partition WITHOUT quorum"
        },
        st.coordinator.as_deref().unwrap_or("none"),
        if st.version.is_empty() {
            "none"
        } else {
            &st.version
        },
        if st.busy {
            ", transition in progress"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "Nodes:");
    for n in &st.nodes {
        let _ = writeln!(s, "  * {} (id {}): {}", n.name, n.id, n.state);
    }
    let _ = writeln!(s, "Resources:");
    if st.resources.is_empty() {
        let _ = writeln!(s, "  (none configured)");
    }
    // Where each resource is observed (its operation history), as crm_mon shows it; a
    // failed one with the operation that failed.
    for r in &st.resources {
        let mut extra = String::new();
        if r.failed {
            extra.push_str(" FAILED");
            if let Some(op) = &r.failed_op {
                extra.push_str(&format!(" ({op})"));
            }
        }
        if let Some(p) = &r.pending {
            extra.push_str(&format!(" ({p} in progress)"));
        }
        let _ = writeln!(
            s,
            "  * {:<24} ({}) {:<10} {}{extra}",
            r.id,
            r.agent,
            r.role,
            r.nodes.join(" ")
        );
    }
    if !st.failures.is_empty() {
        let _ = writeln!(s, "Failed operations:");
        for f in &st.failures {
            let _ = writeln!(s, "  * {f}");
        }
    }
    if !st.fencing.is_empty() {
        let _ = writeln!(s, "Fencing history:");
        for f in &st.fencing {
            let _ = writeln!(s, "  * {f}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::daemon::{NodeStatus, ResourceStatus};

    #[test]
    fn the_text_status_shows_nodes_quorum_coordinator_roles_failures_and_fencing() {
        let st = Status {
            local: "n1".into(),
            quorate: true,
            coordinator: Some("n1".into()),
            version: "0.7.12".into(),
            nodes: vec![
                NodeStatus {
                    name: "n1".into(),
                    id: 1,
                    state: "online".into(),
                },
                NodeStatus {
                    name: "n3".into(),
                    id: 3,
                    state: "UNCLEAN".into(),
                },
            ],
            resources: vec![
                ResourceStatus {
                    id: "web-fs".into(),
                    agent: "ocf:crm-lite:filesystem".into(),
                    role: "Started".into(),
                    nodes: vec!["n1".into()],
                    failed: false,
                    failed_op: None,
                    pending: None,
                },
                ResourceStatus {
                    id: "web-api".into(),
                    agent: "ocf:crm-lite:mgmt-api".into(),
                    role: "Started".into(),
                    nodes: vec!["n1".into()],
                    failed: true,
                    failed_op: Some("monitor (every 10 s): rc 7 (not running)".into()),
                    pending: None,
                },
                ResourceStatus {
                    id: "web-lb".into(),
                    agent: "ocf:crm-lite:haproxy".into(),
                    role: "Started".into(),
                    nodes: vec!["n2".into()],
                    failed: false,
                    failed_op: None,
                    pending: Some("stop".into()),
                },
            ],
            failures: vec!["web-api monitor on n1: 7 (not running)".into()],
            fencing: vec!["1796466538 n3 off failed (fence_lab: exit 1)".into()],
            busy: false,
        };
        let text = render(&st);
        for want in [
            "partition with quorum, coordinator n1, CIB version 0.7.12",
            "n3 (id 3): UNCLEAN",
            "web-fs",
            "ocf:crm-lite:filesystem",
            "Started    n1\n",
            "web-api                  (ocf:crm-lite:mgmt-api) Started    n1 FAILED (monitor (every 10 s): rc 7 (not running))",
            "Started    n2 (stop in progress)",
            "Failed operations:\n  * web-api monitor on n1: 7 (not running)",
            "Fencing history:\n  * 1796466538 n3 off failed",
        ] {
            assert!(text.contains(want), "{want:?} not in:\n{text}");
        }
        // The JSON form carries the same facts, per row.
        let json: serde_json::Value =
            serde_json::from_str(&shown(&st, true).expect("json")).expect("parses");
        let rows = json["resources"].as_array().cloned().unwrap_or_default();
        assert_eq!(rows.len(), 3, "{json}");
        assert_eq!(rows[1]["id"], "web-api");
        assert_eq!(rows[1]["failed"], true);
        assert_eq!(rows[1]["nodes"][0], "n1");
        assert!(
            rows[1]["failed_op"]
                .as_str()
                .is_some_and(|o| o.starts_with("monitor (every 10 s): rc 7")),
            "{json}"
        );
        assert_eq!(rows[0]["failed"], false);
        assert!(rows[0].get("failed_op").is_none(), "{json}");
        assert_eq!(rows[2]["pending"], "stop");
        let lost = Status {
            quorate: false,
            coordinator: None,
            failures: vec![],
            fencing: vec![],
            ..st
        };
        let text = render(&lost);
        assert!(text.contains("WITHOUT quorum, coordinator none"), "{text}");
        assert!(!text.contains("Fencing history"), "{text}");
    }
}
