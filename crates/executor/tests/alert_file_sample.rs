//! Pacemaker's own sample alert agent (`alert_file.sh.sample`, installed by
//! pacemaker-common) run by `executor::alert::send`: the lines it writes for a node, a
//! fencing, a resource and an attribute event are the ones its format documents for
//! Pacemaker's variables, with the default timestamp (`%H:%M:%S.%06N`, local time, as
//! `date` prints it).
use std::path::Path;
use std::process::Command;

use executor::alert::{AlertEvent, send};

const SAMPLE: &str = "/usr/share/pacemaker/alerts/alert_file.sh.sample";

// 2026-01-02T03:04:05.000042Z: a usec with leading zeroes.
const AT: u64 = 1_767_323_045_000_042;

/// The default timestamp as `date` prints it in this process's time zone.
fn default_timestamp(at_us: u64) -> String {
    let out = Command::new("date")
        .arg(format!("--date=@{}", at_us / 1_000_000))
        .arg("+%H:%M:%S")
        .output()
        .unwrap_or_else(|e| panic!("date: {e}"));
    assert!(out.status.success(), "date failed: {out:?}");
    format!(
        "{}.{:06}",
        String::from_utf8_lossy(&out.stdout).trim(),
        at_us % 1_000_000
    )
}

fn alerts(agent: &Path, log: &Path) -> Vec<cib::model::Alert> {
    let xml = format!(
        r#"<cib admin_epoch="0" epoch="1" num_updates="0" validate-with="pacemaker-3.9">
  <configuration><crm_config/><nodes/><resources/><constraints/>
    <alerts>
      <alert id="alert_sample" path="{}">
        <select><select_nodes/><select_fencing/><select_resources/><select_attributes/></select>
        <recipient id="logfile_destination" value="{}"/>
      </alert>
    </alerts>
  </configuration><status/></cib>"#,
        agent.display(),
        log.display()
    );
    let parsed = cib::parse("alert-sample.xml", &xml);
    assert!(
        parsed
            .diagnostics
            .iter()
            .all(|d| d.severity != cib::Severity::Error),
        "{:?}",
        parsed.diagnostics
    );
    parsed.cib.alerts
}

#[test]
fn pacemakers_sample_file_agent_writes_its_documented_lines() {
    let Ok(()) = test_support::require(
        Path::new(SAMPLE).is_file(),
        "pacemaker-common's alert_file.sh.sample (apt-get install pacemaker)",
    ) else {
        return;
    };
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let agent = t.path().join("alert_file.sh");
    std::fs::copy(SAMPLE, &agent).unwrap_or_else(|e| panic!("{SAMPLE}: {e}"));
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let log = t.path().join("alerts.log");
    let alerts = alerts(&agent, &log);

    let events = [
        AlertEvent::node("node2", "2", "lost", AT),
        AlertEvent::fencing(
            "node2",
            "reboot",
            "Operation reboot of node2 by node1 for crmd.1234@node1: OK",
            0,
            AT,
        ),
        AlertEvent::resource("node1", "db", "monitor", 10_000, 7, 0, 0, 12, AT),
        AlertEvent::resource("node1", "db", "promote", 0, 8, 8, 0, 340, AT),
        AlertEvent::resource("node1", "web", "stop", 0, 0, 0, 1, 0, AT),
        AlertEvent::attribute("node1", "1", "master-db", "100", AT),
    ];
    for ev in &events {
        let sent = send(&alerts, ev);
        let failed: Vec<_> = sent
            .iter()
            .filter(|s| s.rc != Some(0) || s.error.is_some())
            .collect();
        assert!(failed.is_empty(), "{ev:?}: {failed:?}");
    }
    let ts = default_timestamp(AT);
    let want = [
        format!("{ts}: Node 'node2' is now 'lost'"),
        format!("{ts}: Fencing Operation reboot of node2 by node1 for crmd.1234@node1: OK"),
        format!("{ts}: Resource operation 'monitor (10000)' for 'db' on 'node1': not running"),
        format!("{ts}: Resource operation 'promote' for 'db' on 'node1': promoted (target: 8)"),
        // A cancelled operation ("Cancelled") is not written by the sample.
        format!("{ts}: Attribute 'master-db' on node 'node1' was updated to '100'"),
    ];
    let got = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got, want);
}
