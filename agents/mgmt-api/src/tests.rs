//! The agent's logic against the recording fake host: no processes, sockets or root.

use std::time::Duration;

use nix::sys::signal::Signal;
use ocf::OcfExit;
use ocf::fake::{Call, FakeHost, FakeHttp};
use ocf::host::Host as _;

use super::MgmtApi;

const PIDFILE: &str = "/run/t/api.pid";
const URL: &str = "http://127.0.0.1:8080/health";

fn base() -> Vec<(String, String)> {
    [
        ("OCF_RESOURCE_INSTANCE", "api"),
        ("OCF_RESKEY_command", "/usr/bin/srv --port 8080"),
        ("OCF_RESKEY_pidfile", PIDFILE),
        ("OCF_RESKEY_health_url", URL),
        ("OCF_RESKEY_log_file", "/var/log/srv.log"),
        ("OCF_RESKEY_CRM_meta_timeout", "20000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn host() -> FakeHost {
    let h = FakeHost::new();
    h.add_executable("/usr/bin/srv");
    h
}

fn run(h: &FakeHost, action: &str, extra: &[(&str, &str)]) -> (OcfExit, String) {
    ocf::fake::run_action(&MgmtApi, h, base(), action, extra)
}

fn spawned_pid(h: &FakeHost) -> u32 {
    h.calls()
        .iter()
        .find_map(|c| match c {
            Call::Spawn(_, pid) => Some(*pid),
            _ => None,
        })
        .expect("a spawn")
}

#[test]
fn start_spawns_records_the_pid_and_waits_for_health() {
    let h = host();
    h.push_http(URL, FakeHttp::Refused);
    h.push_http(URL, FakeHttp::Refused);
    h.push_http(
        URL,
        FakeHttp::Answer(200, "ok".into(), Duration::from_millis(3)),
    );
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    let pid = spawned_pid(&h);
    assert_eq!(h.file(PIDFILE), Some(format!("{pid}\n")));
    let polls = h
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::Http(_)))
        .count();
    assert_eq!(polls, 3);
    assert!(h.is_alive(pid));
}

#[test]
fn start_is_idempotent_when_running() {
    let h = host();
    h.push_http(URL, FakeHttp::Answer(200, "ok".into(), Duration::ZERO));
    assert_eq!(run(&h, "start", &[]).0, OcfExit::Success);
    assert_eq!(run(&h, "start", &[]).0, OcfExit::Success);
    let spawns = h
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::Spawn(..)))
        .count();
    assert_eq!(spawns, 1);
}

#[test]
fn start_without_health_url_needs_only_a_live_process() {
    let h = host();
    let (code, _) = run(&h, "start", &[("OCF_RESKEY_health_url", "")]);
    assert_eq!(code, OcfExit::Success);
    assert!(!h.calls().iter().any(|c| matches!(c, Call::Http(_))));
}

#[test]
fn start_reports_a_process_that_dies_with_its_last_log_line() {
    let h = host();
    h.add_file(
        "/var/log/srv.log",
        "booting\nerror: port 8080 in use\n\n",
        0o644,
    );
    h.spawned_die_with(3);
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("exited with status 3"), "{err}");
    assert!(
        err.contains("last log line: error: port 8080 in use"),
        "{err}"
    );
    assert_eq!(h.file(PIDFILE), None);
}

#[test]
fn start_gives_up_before_the_deadline_and_cleans_up() {
    let h = host();
    h.push_http(
        URL,
        FakeHttp::Answer(503, "starting".into(), Duration::from_millis(5)),
    );
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("returned status 503, expected 200"), "{err}");
    let pid = spawned_pid(&h);
    assert!(h.calls().contains(&Call::SignalGroup(pid, Signal::SIGKILL)));
    assert!(!h.is_alive(pid));
    assert_eq!(h.file(PIDFILE), None);
    // 20 s timeout, 2 s reserve: the agent answered within its 18 s budget.
    assert!(h.elapsed() <= Duration::from_secs(18), "{:?}", h.elapsed());
}

#[test]
fn bad_input_gets_the_right_codes() {
    let h = host();
    type Case = (
        &'static [(&'static str, &'static str)],
        OcfExit,
        &'static str,
    );
    let cases: &[Case] = &[
        (
            &[("OCF_RESKEY_command", "")],
            OcfExit::ErrConfigured,
            "command is not set",
        ),
        (
            &[("OCF_RESKEY_health_url", "htp:/x")],
            OcfExit::ErrConfigured,
            "health_url",
        ),
        (
            &[("OCF_RESKEY_expect_status", "999")],
            OcfExit::ErrConfigured,
            "expect_status",
        ),
        (
            &[("OCF_RESKEY_command", "/opt/missing/srv")],
            OcfExit::ErrInstalled,
            "not found",
        ),
        (
            &[("OCF_RESKEY_user", "nobody-here")],
            OcfExit::ErrInstalled,
            "user",
        ),
        (
            &[("OCF_RESKEY_workdir", "/nope")],
            OcfExit::ErrInstalled,
            "workdir",
        ),
        (
            &[("OCF_RESKEY_env_file", "/etc/srv.env")],
            OcfExit::ErrInstalled,
            "env_file",
        ),
    ];
    for (extra, want, needle) in cases {
        for action in ["validate-all", "start"] {
            let (code, err) = run(&h, action, extra);
            assert_eq!(code, *want, "{action} {extra:?}: {err}");
            assert!(
                err.contains("ocf-exit-reason:") && err.contains(needle),
                "{err}"
            );
        }
    }
    h.add_file("/etc/srv.env", "GOOD=1\nbad line\n", 0o600);
    let (code, err) = run(
        &h,
        "validate-all",
        &[("OCF_RESKEY_env_file", "/etc/srv.env")],
    );
    assert_eq!(code, OcfExit::ErrArgs, "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(!h.calls().iter().any(|c| matches!(c, Call::Spawn(..))));
}

#[test]
fn probes_answer_7_even_where_the_software_is_missing() {
    let h = FakeHost::new();
    let (code, _) = run(&h, "monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")]);
    assert_eq!(code, OcfExit::NotRunning);
    let (code, _) = run(&h, "stop", &[]);
    assert_eq!(code, OcfExit::Success);
}

#[test]
fn stale_and_recycled_pids_are_not_running() {
    let h = host();
    h.add_file(PIDFILE, "4242\n", 0o644);
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::NotRunning);
    // The pid now exists but started after the pid file was written: a recycled pid.
    h.sleep(Duration::from_secs(60));
    h.add_process(4242);
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::NotRunning);
    // A process in someone else's session is not ours either.
    h.add_file(PIDFILE, "4243\n", 0o644);
    h.add_group_member(4243, 1);
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::NotRunning);
    assert_eq!(run(&h, "stop", &[]).0, OcfExit::Success);
    assert!(
        h.is_alive(4243),
        "stop must not touch a process that is not ours"
    );
}

#[test]
fn monitor_depths_check_process_status_and_body() {
    let h = host();
    h.push_http(URL, FakeHttp::Answer(200, "ok".into(), Duration::ZERO));
    assert_eq!(run(&h, "start", &[]).0, OcfExit::Success);

    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::Success);
    let body = [
        ("OCF_CHECK_LEVEL", "20"),
        ("OCF_RESKEY_expect_body", "^ok$"),
    ];
    assert_eq!(run(&h, "monitor", &body).0, OcfExit::Success);

    h.push_http(
        URL,
        FakeHttp::Answer(200, "degraded: db down".into(), Duration::ZERO),
    );
    // Depth 10 looks at the status only; depth 20 at the body too.
    let (code, _) = run(
        &h,
        "monitor",
        &[
            ("OCF_CHECK_LEVEL", "10"),
            ("OCF_RESKEY_expect_body", "^ok$"),
        ],
    );
    assert_eq!(code, OcfExit::Success);
    let (code, err) = run(&h, "monitor", &body);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("body does not match"), "{err}");

    h.push_http(URL, FakeHttp::Answer(503, "".into(), Duration::ZERO));
    let (code, err) = run(&h, "monitor", &[("OCF_CHECK_LEVEL", "10")]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("status 503, expected 200"), "{err}");
    // Depth 0 is the process only.
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::Success);
}

#[test]
fn a_slow_but_healthy_service_is_degraded() {
    let h = host();
    h.push_http(
        URL,
        FakeHttp::Answer(200, "ok".into(), Duration::from_millis(400)),
    );
    assert_eq!(run(&h, "start", &[]).0, OcfExit::Success);
    let slow = [("OCF_CHECK_LEVEL", "10"), ("OCF_RESKEY_slow_ms", "250")];
    assert_eq!(run(&h, "monitor", &slow).0, OcfExit::Degraded);
    let fast = [("OCF_CHECK_LEVEL", "10"), ("OCF_RESKEY_slow_ms", "500")];
    assert_eq!(run(&h, "monitor", &fast).0, OcfExit::Success);
}

#[test]
fn a_health_check_that_hangs_fails_within_the_monitor_timeout() {
    let h = host();
    h.push_http(URL, FakeHttp::Answer(200, "ok".into(), Duration::ZERO));
    assert_eq!(run(&h, "start", &[]).0, OcfExit::Success);
    h.push_http(
        URL,
        FakeHttp::Answer(200, "ok".into(), Duration::from_secs(3600)),
    );
    let t0 = h.elapsed();
    let (code, err) = run(
        &h,
        "monitor",
        &[
            ("OCF_CHECK_LEVEL", "10"),
            ("OCF_RESKEY_CRM_meta_timeout", "5000"),
        ],
    );
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("timed out"), "{err}");
    assert!(h.elapsed() - t0 <= Duration::from_millis(4500));
}

#[test]
fn stop_terms_the_group_and_escalates_before_the_deadline() {
    let h = host();
    h.push_http(URL, FakeHttp::Answer(200, "ok".into(), Duration::ZERO));
    assert_eq!(run(&h, "start", &[]).0, OcfExit::Success);
    let pid = spawned_pid(&h);
    h.add_group_member(pid + 100, pid);
    assert_eq!(run(&h, "stop", &[]).0, OcfExit::Success);
    assert!(!h.is_alive(pid) && !h.is_alive(pid + 100));
    assert!(!h.calls().contains(&Call::SignalGroup(pid, Signal::SIGKILL)));
    assert_eq!(h.file(PIDFILE), None);
    assert_eq!(run(&h, "stop", &[]).0, OcfExit::Success);
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::NotRunning);

    // A service that ignores SIGTERM gets SIGKILL, and stop still answers in time.
    assert_eq!(run(&h, "start", &[]).0, OcfExit::Success);
    let pid2 = h
        .calls()
        .iter()
        .filter_map(|c| match c {
            Call::Spawn(_, p) => Some(*p),
            _ => None,
        })
        .next_back()
        .unwrap();
    h.ignore_term(pid2);
    let t0 = h.elapsed();
    let (code, err) = run(&h, "stop", &[("OCF_RESKEY_CRM_meta_timeout", "10000")]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert!(
        h.calls()
            .contains(&Call::SignalGroup(pid2, Signal::SIGKILL))
    );
    let took = h.elapsed() - t0;
    assert!(
        took >= Duration::from_secs(6) && took <= Duration::from_secs(9),
        "{took:?}"
    );
}

#[test]
fn unknown_actions_are_unimplemented_and_metadata_lists_everything() {
    let h = host();
    let (code, err) = run(&h, "promote", &[]);
    assert_eq!(code, OcfExit::ErrUnimplemented);
    assert!(
        err.contains("usage: mgmt-api {start|stop|monitor|meta-data|validate-all"),
        "{err}"
    );
    let xml = super::INFO.metadata_xml();
    for p in super::config::PARAMS {
        assert!(xml.contains(&format!("<parameter name=\"{}\"", p.name)));
    }
}

#[test]
fn start_retries_a_silent_socket_in_short_attempts() {
    // Something accepts on the port and never answers. Each attempt gives up after 2 s,
    // so the process is looked at again between attempts (a death is seen at once), and
    // start still ends before its deadline.
    let h = host();
    h.push_http(
        URL,
        FakeHttp::Answer(200, "ok".into(), Duration::from_secs(3600)),
    );
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("timed out after 2s"), "{err}");
    let attempts = h
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::Http(_)))
        .count();
    assert!(attempts >= 5, "{attempts} attempts");
    assert!(h.elapsed() <= Duration::from_secs(18), "{:?}", h.elapsed());
}

#[test]
fn refused_permissions_are_4_not_a_generic_failure() {
    // The command may not be run by this user (execve: EACCES).
    let h = host();
    h.deny_spawn();
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
    assert!(err.contains("cannot start the service"), "{err}");
    // The pid file's directory may not be created.
    let h = host();
    h.deny("/run/t");
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
    // The service belongs to another user (kill: EPERM).
    let h = host();
    h.push_http(
        URL,
        FakeHttp::Answer(200, "ok".into(), Duration::from_millis(1)),
    );
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    h.deny_signals();
    let (code, err) = run(&h, "stop", &[]);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
    assert!(err.contains("cannot stop the service"), "{err}");
}

#[test]
fn https_health_url_needs_a_readable_health_ca_and_health_ca_needs_https() {
    const HTTPS: &str = "https://127.0.0.1:8443/health";
    let https = [
        ("OCF_RESKEY_health_url", HTTPS),
        ("OCF_RESKEY_health_ca", "/etc/srv/ca.pem"),
    ];
    let h = host();
    // The CA file must exist on this host.
    let (code, err) = run(&h, "validate-all", &https);
    assert_eq!(code, OcfExit::ErrInstalled, "{err}");
    assert!(err.contains("health_ca /etc/srv/ca.pem"), "{err}");
    h.add_file("/etc/srv/ca.pem", "-----BEGIN CERTIFICATE-----\n", 0o644);
    assert_eq!(run(&h, "validate-all", &https).0, OcfExit::Success);

    h.push_http(HTTPS, FakeHttp::Answer(200, "ok".into(), Duration::ZERO));
    let (code, err) = run(&h, "start", &https);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert!(
        h.calls()
            .iter()
            .any(|c| matches!(c, Call::Http(u) if u == "https://127.0.0.1:8443/health"))
    );

    // health_ca means nothing for http://.
    let (code, err) = run(
        &h,
        "validate-all",
        &[("OCF_RESKEY_health_ca", "/etc/srv/ca.pem")],
    );
    assert_eq!(code, OcfExit::ErrConfigured, "{err}");
    assert!(err.contains("health_ca needs an https"), "{err}");
}
