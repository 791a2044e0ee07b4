//! Beside Pacemaker on one Corosync ring: crm-lite never manages a resource id that
//! Pacemaker's CIB also has. The daemon refuses to start (and `apply` to hand a
//! configuration over) when one would be managed by both, naming them; while it runs,
//! [`watch`] tells the state machine Pacemaker's ids, and every member checks each
//! configuration that arrives through the group against them before any adopts it.
use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// The resource ids configured in a CIB's `<resources>` (the daemon's own reading, which
/// every node also applies to configurations arriving through the group).
pub use ::daemon::resource_ids;

/// The ids both CIBs configure.
pub fn shared_ids(ours: &str, pacemaker: &str) -> Vec<String> {
    let theirs = resource_ids(pacemaker);
    resource_ids(ours)
        .into_iter()
        .filter(|id| theirs.contains(id))
        .collect()
}

/// The running Pacemaker's CIB (`cibadmin -Q`, bounded to 10 s), or `None` when no
/// Pacemaker runs here (no `cibadmin`, or it cannot reach a CIB manager).
pub fn live_cib() -> Option<String> {
    let mut child = Command::new("cibadmin")
        .arg("-Q")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let text = reader.join().ok()?;
                return (status.success() && text.contains("<cib")).then_some(text);
            }
            Ok(None) if start.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                tracing::warn!("cibadmin -Q did not answer in 10 s: taken as no Pacemaker");
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// How often [`watch`] reads Pacemaker's CIB.
pub const WATCH_EVERY: Duration = Duration::from_secs(5);

/// Reads the running Pacemaker's resource ids now and every [`WATCH_EVERY`], and sends
/// them whenever they change (empty when no Pacemaker runs), until the receiver is gone.
pub fn watch() -> std::sync::mpsc::Receiver<BTreeSet<String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("pacemaker-watch".into())
        .spawn(move || {
            let mut last: Option<BTreeSet<String>> = None;
            loop {
                let ids = live_cib().map(|x| resource_ids(&x)).unwrap_or_default();
                if last.as_ref() != Some(&ids) {
                    if !ids.is_empty() {
                        tracing::info!(
                            count = ids.len(),
                            "Pacemaker runs here: its resource ids are refused"
                        );
                    }
                    if tx.send(ids.clone()).is_err() {
                        return;
                    }
                    last = Some(ids);
                }
                std::thread::sleep(WATCH_EVERY);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot watch Pacemaker's CIB");
    }
    rx
}

/// Refuses `ours` when a running Pacemaker configures one of its resource ids.
pub fn check_beside(ours: &str, what: &str) -> Result<()> {
    let Some(live) = live_cib() else {
        return Ok(());
    };
    let shared = shared_ids(ours, &live);
    if !shared.is_empty() {
        bail!(
            "Pacemaker runs on this ring and its CIB (cibadmin -Q) configures {} too: {what} \
             would have both manage {}; take them out of one of the two configurations",
            shared.join(", "),
            if shared.len() == 1 { "it" } else { "them" }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = r#"<cib epoch="1"><configuration><resources>
  <group id="web"><primitive id="web-fs" class="ocf" provider="crm-lite" type="filesystem"/>
    <primitive id="web-api" class="ocf" provider="crm-lite" type="mgmt-api"/></group>
  <clone id="ping-clone"><primitive id="ping" class="ocf" provider="pacemaker" type="ping"/></clone>
</resources><constraints><rsc_location id="web-fs" rsc="web" node="n1" score="1"/></constraints>
</configuration><status><node_state id="1"><lrm><lrm_resources>
  <lrm_resource id="old-db" type="mysql" class="ocf"/></lrm_resources></lrm></node_state></status></cib>"#;

    #[test]
    fn resource_ids_are_every_resource_at_any_depth_and_nothing_else() {
        let ids: Vec<String> = resource_ids(OURS).into_iter().collect();
        assert_eq!(ids, ["ping", "ping-clone", "web", "web-api", "web-fs"]);
    }

    #[test]
    fn an_id_in_both_cibs_is_named_and_disjoint_ones_pass() {
        let theirs = r#"<cib><configuration><resources>
  <primitive id="fence-lab" class="stonith" type="fence_lab"/>
  <primitive id="web-api" class="ocf" provider="heartbeat" type="apache"/>
</resources></configuration></cib>"#;
        assert_eq!(shared_ids(OURS, theirs), ["web-api"]);
        let other = r#"<cib><configuration><resources>
  <primitive id="fence-lab" class="stonith" type="fence_lab"/></resources></configuration></cib>"#;
        assert!(shared_ids(OURS, other).is_empty());
        // A constraint or a history entry of the same name is not a resource.
        let hist = r#"<cib><configuration><resources/></configuration><status>
  <lrm_resource id="web"/></status></cib>"#;
        assert!(shared_ids(OURS, hist).is_empty());
    }
}
