//! The commands' side of a running daemon: `apply`, `status`, `move`, `ban`, `clear` and
//! `cleanup` ask it through the control socket when one answers on this node, and act on
//! this machine's state directory as before when none does.
use std::io::Write;
use std::process::ExitCode;

use ::daemon::Status;
use anyhow::{Result, bail};

use super::control::{Client, ClientMsg, ServerMsg, socket_path};

/// The daemon of this node, if one answers on its socket.
pub fn connect() -> Option<Client> {
    Client::connect(&socket_path())
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
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &st).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        out.write_all(render(&st).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
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
    for r in &st.resources {
        let _ = writeln!(
            s,
            "  * {:<24} ({}) {:<10} {}",
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
            resources: vec![ResourceStatus {
                id: "web-fs".into(),
                agent: "ocf:crm-lite:filesystem".into(),
                role: "Started".into(),
                nodes: vec!["n1".into()],
            }],
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
            "Started    n1",
            "Failed operations:\n  * web-api monitor on n1: 7 (not running)",
            "Fencing history:\n  * 1796466538 n3 off failed",
        ] {
            assert!(text.contains(want), "{want:?} not in:\n{text}");
        }
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
