use super::*;

/// The alerts of a CIB whose `<alerts>` section is `body`.
fn alerts(body: &str) -> Vec<Alert> {
    let xml = format!(
        r#"<cib admin_epoch="0" epoch="1" num_updates="0" validate-with="pacemaker-3.9">
  <configuration><crm_config/><nodes/><resources/><constraints/>
    <alerts>{body}</alerts>
  </configuration><status/></cib>"#
    );
    let parsed = cib::parse("alerts.xml", &xml);
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

fn var<'a>(inv: &'a Invocation, name: &str) -> Option<&'a str> {
    inv.env
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn names(inv: &Invocation) -> Vec<&str> {
    let mut n: Vec<&str> = inv.env.iter().map(|(k, _)| k.as_str()).collect();
    n.sort();
    n
}

// 2026-01-02T03:04:05.123456Z
const AT: u64 = 1_767_323_045_123_456;

#[test]
fn a_node_event_carries_pacemakers_node_variables_and_an_empty_recipient() {
    let a = alerts(r#"<alert id="a1" path="/bin/true"/>"#);
    let runs = invocations(&a, &AlertEvent::node("node2", "2", "lost", AT), 7);
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!((r.alert.as_str(), r.recipient.as_deref()), ("a1", None));
    assert_eq!(r.timeout, DEFAULT_TIMEOUT);
    assert_eq!(
        names(r),
        [
            "CRM_alert_desc",
            "CRM_alert_kind",
            "CRM_alert_node",
            "CRM_alert_node_sequence",
            "CRM_alert_nodeid",
            "CRM_alert_recipient",
            "CRM_alert_timestamp",
            "CRM_alert_timestamp_epoch",
            "CRM_alert_timestamp_usec",
            "CRM_alert_version",
        ]
    );
    assert_eq!(var(r, "CRM_alert_kind"), Some("node"));
    assert_eq!(var(r, "CRM_alert_node"), Some("node2"));
    assert_eq!(var(r, "CRM_alert_nodeid"), Some("2"));
    assert_eq!(var(r, "CRM_alert_desc"), Some("lost"));
    assert_eq!(var(r, "CRM_alert_recipient"), Some(""));
    assert_eq!(var(r, "CRM_alert_node_sequence"), Some("7"));
    assert_eq!(var(r, "CRM_alert_timestamp_epoch"), Some("1767323045"));
    assert_eq!(var(r, "CRM_alert_timestamp_usec"), Some("123456"));
    assert_eq!(var(r, "CRM_alert_version"), Some(VERSION));
    let ts = var(r, "CRM_alert_timestamp").unwrap_or_default();
    assert!(ts.ends_with(":05.123456"), "{ts}");
}

#[test]
fn a_resource_event_carries_the_operation_and_pacemakers_description() {
    let a = alerts(r#"<alert id="a1" path="/bin/true"/>"#);
    let ev = AlertEvent::resource("node1", "db", "monitor", 10_000, 7, 0, 0, 42, AT);
    let runs = invocations(&a, &ev, 1);
    let r = &runs[0];
    assert_eq!(var(r, "CRM_alert_kind"), Some("resource"));
    assert_eq!(var(r, "CRM_alert_rsc"), Some("db"));
    assert_eq!(var(r, "CRM_alert_task"), Some("monitor"));
    assert_eq!(var(r, "CRM_alert_interval"), Some("10000"));
    assert_eq!(var(r, "CRM_alert_rc"), Some("7"));
    assert_eq!(var(r, "CRM_alert_target_rc"), Some("0"));
    assert_eq!(var(r, "CRM_alert_status"), Some("0"));
    assert_eq!(var(r, "CRM_alert_exec_time"), Some("42"));
    assert_eq!(var(r, "CRM_alert_desc"), Some("not running"));
    assert_eq!(
        var(r, "CRM_alert_nodeid"),
        None,
        "Pacemaker sends no nodeid here"
    );
    let timed_out = AlertEvent::resource("node1", "db", "start", 0, 1, 0, 2, 20_000, AT);
    assert_eq!(timed_out.desc, "Timed out");
}

#[test]
fn a_probe_that_found_the_expected_result_is_not_alerted() {
    let a = alerts(r#"<alert id="a1" path="/bin/true"/>"#);
    let expected = AlertEvent::resource("n1", "db", "monitor", 0, 7, 7, 0, 3, AT);
    assert!(invocations(&a, &expected, 1).is_empty());
    let surprise = AlertEvent::resource("n1", "db", "monitor", 0, 0, 7, 0, 3, AT);
    assert_eq!(invocations(&a, &surprise, 1).len(), 1);
}

#[test]
fn fencing_and_attribute_events_carry_their_own_variables() {
    let a = alerts(
        r#"<alert id="a1" path="/bin/true"><select><select_fencing/><select_attributes/></select></alert>"#,
    );
    let f = AlertEvent::fencing("node3", "reboot", "Operation reboot of node3: OK", 0, AT);
    let r = &invocations(&a, &f, 1)[0];
    assert_eq!(var(r, "CRM_alert_kind"), Some("fencing"));
    assert_eq!(var(r, "CRM_alert_node"), Some("node3"));
    assert_eq!(var(r, "CRM_alert_task"), Some("reboot"));
    assert_eq!(var(r, "CRM_alert_rc"), Some("0"));
    assert_eq!(
        var(r, "CRM_alert_desc"),
        Some("Operation reboot of node3: OK")
    );
    let at = AlertEvent::attribute("node1", "1", "master-db", "10", AT);
    let r = &invocations(&a, &at, 1)[0];
    assert_eq!(var(r, "CRM_alert_kind"), Some("attribute"));
    assert_eq!(var(r, "CRM_alert_nodeid"), Some("1"));
    assert_eq!(var(r, "CRM_alert_attribute_name"), Some("master-db"));
    assert_eq!(var(r, "CRM_alert_attribute_value"), Some("10"));
}

#[test]
fn select_nodes_gets_only_node_events() {
    let a = alerts(r#"<alert id="a1" path="/bin/true"><select><select_nodes/></select></alert>"#);
    let node = AlertEvent::node("n1", "1", "member", AT);
    let fence = AlertEvent::fencing("n1", "off", "x", 0, AT);
    let rsc = AlertEvent::resource("n1", "db", "start", 0, 1, 0, 0, 3, AT);
    let attr = AlertEvent::attribute("n1", "1", "x", "y", AT);
    assert!(wants(&a[0], &node));
    assert!(!wants(&a[0], &fence));
    assert!(!wants(&a[0], &rsc));
    assert!(!wants(&a[0], &attr));
}

#[test]
fn without_select_every_kind_but_attributes_is_sent() {
    let a = alerts(r#"<alert id="a1" path="/bin/true"/>"#);
    assert!(wants(&a[0], &AlertEvent::node("n1", "1", "member", AT)));
    assert!(wants(&a[0], &AlertEvent::fencing("n1", "off", "x", 0, AT)));
    assert!(wants(
        &a[0],
        &AlertEvent::resource("n1", "db", "start", 0, 1, 0, 0, 3, AT)
    ));
    assert!(!wants(
        &a[0],
        &AlertEvent::attribute("n1", "1", "x", "y", AT)
    ));
}

#[test]
fn select_attributes_with_names_gets_only_those_attributes() {
    let a = alerts(
        r#"<alert id="a1" path="/bin/true"><select><select_attributes>
             <attribute id="s1" name="standby"/><attribute id="s2" name="pingd"/>
           </select_attributes></select></alert>"#,
    );
    assert_eq!(a[0].select_attributes, ["standby", "pingd"]);
    assert!(wants(
        &a[0],
        &AlertEvent::attribute("n1", "1", "pingd", "0", AT)
    ));
    assert!(!wants(
        &a[0],
        &AlertEvent::attribute("n1", "1", "other", "0", AT)
    ));
    assert!(!wants(&a[0], &AlertEvent::node("n1", "1", "member", AT)));
}

#[test]
fn a_disabled_alert_is_skipped() {
    let a = alerts(
        r#"<alert id="off" path="/bin/true"><meta_attributes id="m"><nvpair id="m1" name="enabled" value="false"/></meta_attributes></alert>
           <alert id="on" path="/bin/true"><meta_attributes id="m2"><nvpair id="m3" name="enabled" value="yes"/></meta_attributes></alert>"#,
    );
    let runs = invocations(&a, &AlertEvent::node("n1", "1", "member", AT), 1);
    let ids: Vec<&str> = runs.iter().map(|r| r.alert.as_str()).collect();
    assert_eq!(ids, ["on"]);
}

#[test]
fn each_recipient_gets_its_own_run_with_the_instance_attributes_and_a_sequence_number() {
    let a = alerts(
        r#"<alert id="file" path="/bin/true">
             <instance_attributes id="i"><nvpair id="i1" name="debug_exec_order" value="true"/></instance_attributes>
             <meta_attributes id="m"><nvpair id="m1" name="timeout" value="5s"/></meta_attributes>
             <recipient id="r1" value="/tmp/one.log"/><recipient id="r2" value="/tmp/two.log"/>
           </alert>"#,
    );
    let runs = invocations(&a, &AlertEvent::node("n1", "1", "member", AT), 10);
    let got: Vec<(Option<&str>, Option<&str>, Option<&str>)> = runs
        .iter()
        .map(|r| {
            (
                r.recipient.as_deref(),
                var(r, "CRM_alert_recipient"),
                var(r, "CRM_alert_node_sequence"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some("/tmp/one.log"), Some("/tmp/one.log"), Some("10")),
            (Some("/tmp/two.log"), Some("/tmp/two.log"), Some("11")),
        ]
    );
    for r in &runs {
        assert_eq!(var(r, "debug_exec_order"), Some("true"));
        assert_eq!(r.timeout, Duration::from_secs(5));
    }
}

#[test]
fn an_invalid_or_zero_timeout_falls_back_to_thirty_seconds() {
    for (value, want) in [
        ("10s", Duration::from_secs(10)),
        ("1500ms", Duration::from_millis(1500)),
        ("2m", Duration::from_secs(120)),
        ("0", DEFAULT_TIMEOUT),
        ("soon", DEFAULT_TIMEOUT),
    ] {
        let a = alerts(&format!(
            r#"<alert id="a" path="/bin/true"><meta_attributes id="m"><nvpair id="t" name="timeout" value="{value}"/></meta_attributes></alert>"#
        ));
        assert_eq!(timeout(&a[0]), want, "{value}");
    }
}

#[test]
fn the_timestamp_format_takes_a_fraction_of_the_second_of_the_given_width() {
    // %s and %S do not depend on the time zone.
    assert_eq!(format_timestamp("%s", AT), "1767323045");
    assert_eq!(format_timestamp("%S.%06N", AT), "05.123456");
    assert_eq!(format_timestamp("%S.%3N", AT), "05.123");
    assert_eq!(format_timestamp("%S.%03N", AT), "05.123");
    assert_eq!(format_timestamp("%S.%9N", AT), "05.123456");
    assert_eq!(format_timestamp("[%N]", AT), "[]");
    assert_eq!(format_timestamp("100%% at %S", AT), "100% at 05");
    // Odd formats are text, never a panic.
    for odd in ["%", "%é", "é%", "%5", "%-S", "%E", ""] {
        let _ = format_timestamp(odd, AT);
    }
    assert_eq!(format_timestamp("é %S", AT), "é 05");
    let a = alerts(
        r#"<alert id="a" path="/bin/true"><meta_attributes id="m"><nvpair id="f" name="timestamp-format" value="%s.%3N"/></meta_attributes></alert>"#,
    );
    let r = &invocations(&a, &AlertEvent::node("n1", "1", "member", AT), 1)[0];
    assert_eq!(var(r, "CRM_alert_timestamp"), Some("1767323045.123"));
}

#[test]
fn the_alert_variables_replace_those_of_the_base_environment() {
    let a = alerts(r#"<alert id="a" path="/bin/true"/>"#);
    let inv = &invocations(&a, &AlertEvent::node("n1", "1", "member", AT), 1)[0];
    let base = vec![
        (OsString::from("PATH"), OsString::from("/usr/bin:/bin")),
        (OsString::from("CRM_alert_node"), OsString::from("stale")),
    ];
    let env = environment(inv, &base);
    let get = |k: &str| {
        env.iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("PATH"), ["/usr/bin:/bin"]);
    assert_eq!(get("CRM_alert_node"), ["n1"]);
}

#[test]
fn send_runs_the_agent_and_reports_its_exit_code() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let agent = t.path().join("agent.sh");
    let out = t.path().join("out");
    std::fs::write(
        &agent,
        "#!/bin/sh\necho \"$CRM_alert_kind $CRM_alert_node $CRM_alert_recipient $extra\" >> \"$OUT\"\nexit 3\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    set_executable(&agent);
    let a = alerts(&format!(
        r#"<alert id="a" path="{}">
             <instance_attributes id="i"><nvpair id="i1" name="OUT" value="{}"/><nvpair id="i2" name="extra" value="x"/></instance_attributes>
             <recipient id="r1" value="one"/></alert>"#,
        agent.display(),
        out.display()
    ));
    let sent = send(&a, &AlertEvent::node("n1", "1", "member", AT));
    assert_eq!(
        sent,
        [Sent {
            alert: "a".into(),
            recipient: Some("one".into()),
            rc: Some(3),
            error: None
        }]
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap_or_default(),
        "node n1 one x\n"
    );
}

#[test]
fn send_kills_an_agent_at_its_timeout_and_reports_a_missing_one() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let agent = t.path().join("slow.sh");
    std::fs::write(&agent, "#!/bin/sh\nsleep 30\n").unwrap_or_else(|e| panic!("{e}"));
    set_executable(&agent);
    let a = alerts(&format!(
        r#"<alert id="slow" path="{}"><meta_attributes id="m"><nvpair id="t" name="timeout" value="300ms"/></meta_attributes></alert>
           <alert id="gone" path="{}/missing.sh"/>"#,
        agent.display(),
        t.path().display()
    ));
    let started = std::time::Instant::now();
    let sent = send(&a, &AlertEvent::node("n1", "1", "member", AT));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "not killed in time"
    );
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].alert, "slow");
    assert_eq!(sent[0].rc, None);
    assert!(
        sent[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("timed out"),
        "{:?}",
        sent[0]
    );
    assert_eq!(sent[1].alert, "gone");
    assert!(
        sent[1]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("missing.sh"),
        "{:?}",
        sent[1]
    );
}

fn set_executable(p: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
}
