//! The agent's logic against the recording fake host: no HAProxy, sockets or root. The
//! socket answers are real HAProxy 2.6 output from `testdata/`.

use std::time::Duration;

use nix::sys::signal::Signal;
use ocf::OcfExit;
use ocf::fake::{Call, FakeHost, FakeUnix};
use ocf::host::{CommandOutput, Host as _};

use super::Haproxy;

const PIDFILE: &str = "/run/t/lb.pid";
const LOG: &str = "/run/t/lb.log";
const CONFIG: &str = "/etc/haproxy/lb.cfg";
const STATS: &str = "/run/haproxy/admin.sock";
const MASTER: &str = "/run/t/lb.master.sock";
const BINARY: &str = "/usr/sbin/haproxy";

const CFG: &str = "\
global
    stats socket /run/haproxy/admin.sock mode 600 level admin expose-fd listeners
defaults
    mode http
frontend fe
    bind 127.0.0.1:80
    default_backend web
backend web
    server s1 127.0.0.1:8081 check
backend dead
    server d1 127.0.0.1:8089 check
";

const INFO: &str = include_str!("../testdata/show_info.txt");
/// The worker `show info` answers from (testdata/show_info.txt).
const WORKER: u32 = 26537;

fn base() -> Vec<(String, String)> {
    [
        ("OCF_RESOURCE_INSTANCE", "lb"),
        ("OCF_RESKEY_config", CONFIG),
        ("OCF_RESKEY_pidfile", PIDFILE),
        ("OCF_RESKEY_master_socket", MASTER),
        ("OCF_RESKEY_CRM_meta_timeout", "20000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn ok_output() -> CommandOutput {
    CommandOutput {
        code: Some(0),
        signal: None,
        stdout: "Configuration file is valid\n".into(),
        stderr: String::new(),
    }
}

fn bad_output() -> CommandOutput {
    CommandOutput {
        code: Some(1),
        signal: None,
        stdout: String::new(),
        stderr: include_str!("../testdata/check_unknown_keyword.txt").into(),
    }
}

/// A host with HAProxy and its configuration, nothing scripted yet.
fn installed() -> FakeHost {
    let h = FakeHost::new();
    h.add_executable(BINARY);
    h.add_file(CONFIG, CFG, 0o644);
    h
}

/// A host with HAProxy installed, a valid configuration, and a stats socket that answers.
fn host() -> FakeHost {
    let h = installed();
    h.push_command(BINARY, ok_output());
    h.push_unix(
        STATS,
        "show info",
        FakeUnix::Answer(INFO.into(), Duration::ZERO),
    );
    h.push_unix(
        MASTER,
        "show proc",
        FakeUnix::Answer(PROC_BEFORE.into(), Duration::ZERO),
    );
    h
}

fn run(h: &FakeHost, action: &str, extra: &[(&str, &str)]) -> (OcfExit, String) {
    ocf::fake::run_action(&Haproxy, h, base(), action, extra)
}

fn spawned(h: &FakeHost) -> Vec<u32> {
    h.calls()
        .iter()
        .filter_map(|c| match c {
            Call::Spawn(_, pid) => Some(*pid),
            _ => None,
        })
        .collect()
}

fn unix_calls(h: &FakeHost, socket: &str) -> Vec<String> {
    h.calls()
        .iter()
        .filter_map(|c| match c {
            Call::Unix(p, r) if p.to_str() == Some(socket) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// Start a master (pid 1001) and return its pid.
fn started(h: &FakeHost) -> u32 {
    let (code, err) = run(h, "start", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    spawned(h)[0]
}

#[test]
fn start_validates_spawns_the_master_and_waits_for_show_info() {
    let h = installed();
    h.push_command(BINARY, ok_output());
    h.push_unix(STATS, "show info", FakeUnix::Refused);
    h.push_unix(STATS, "show info", FakeUnix::Refused);
    h.push_unix(
        STATS,
        "show info",
        FakeUnix::Answer(INFO.into(), Duration::ZERO),
    );
    // The master's CLI comes up after the worker serves.
    h.push_unix(MASTER, "show proc", FakeUnix::Refused);
    h.push_unix(
        MASTER,
        "show proc",
        FakeUnix::Answer(PROC_BEFORE.into(), Duration::ZERO),
    );
    let pid = started(&h);
    assert_eq!(h.file(PIDFILE), Some(format!("{pid}\n")));
    assert!(h.is_alive(pid));
    let calls = h.calls();
    assert!(calls.contains(&Call::Run(format!("{BINARY} -c -f {CONFIG}"))));
    assert!(calls.contains(&Call::Spawn(BINARY.into(), pid)));
    assert!(calls.contains(&Call::Remove(LOG.into())), "a fresh log");
    assert_eq!(unix_calls(&h, STATS).len(), 4);
    assert_eq!(unix_calls(&h, MASTER), vec!["show proc", "show proc"]);
}

#[test]
fn start_is_idempotent_when_running() {
    let h = host();
    started(&h);
    assert_eq!(run(&h, "start", &[]).0, OcfExit::Success);
    assert_eq!(spawned(&h).len(), 1);
}

#[test]
fn an_invalid_config_is_6_with_haproxys_message_and_nothing_starts() {
    let h = installed();
    h.push_command(BINARY, bad_output());
    for action in ["validate-all", "start"] {
        let (code, err) = run(&h, action, &[]);
        assert_eq!(code, OcfExit::ErrConfigured, "{action}");
        assert_eq!(
            err.trim(),
            format!(
                "ocf-exit-reason:configuration {CONFIG} is invalid: parsing [bad.cfg:17] : \
                 unknown keyword 'bogus_keyword' in 'backend' section"
            )
        );
    }
    assert!(spawned(&h).is_empty());
}

#[test]
fn missing_software_or_files_are_5_and_probes_there_are_7() {
    let h = FakeHost::new();
    for action in ["validate-all", "start"] {
        let (code, err) = run(&h, action, &[]);
        assert_eq!(code, OcfExit::ErrInstalled, "{err}");
        assert!(err.contains("binary \"haproxy\" not found"), "{err}");
    }
    h.add_executable(BINARY);
    let (code, err) = run(&h, "validate-all", &[]);
    assert_eq!(code, OcfExit::ErrInstalled);
    assert!(
        err.contains(&format!("configuration {CONFIG} does not exist")),
        "{err}"
    );
    for level in ["0", "10"] {
        let (code, _) = run(
            &h,
            "monitor",
            &[
                ("OCF_CHECK_LEVEL", level),
                ("OCF_RESKEY_CRM_meta_interval", "0"),
            ],
        );
        assert_eq!(code, OcfExit::NotRunning);
    }
    assert_eq!(run(&h, "stop", &[]).0, OcfExit::Success);
    assert!(h.calls().iter().all(|c| matches!(c, Call::Remove(_))));
}

#[test]
fn a_config_without_stats_socket_or_with_unknown_backends_is_6() {
    let h = host();
    h.add_file(
        CONFIG,
        "global\n    stats socket ipv4@127.0.0.1:9999\n",
        0o644,
    );
    let (code, err) = run(&h, "validate-all", &[]);
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(err.contains("declares no stats socket"), "{err}");
    let (code, _) = run(&h, "validate-all", &[("OCF_RESKEY_stats_socket", STATS)]);
    assert_eq!(code, OcfExit::Success, "the parameter is enough");

    let h = host();
    let (code, err) = run(
        &h,
        "validate-all",
        &[("OCF_RESKEY_require_backends", "web:1 mgmt:1")],
    );
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(err.contains("names mgmt"), "{err}");
    let (code, _) = run(
        &h,
        "validate-all",
        &[
            ("OCF_RESKEY_require_backends", "web:1 mgmt:1"),
            ("OCF_RESKEY_extra_args", "-f /etc/haproxy/conf.d"),
        ],
    );
    assert_eq!(code, OcfExit::Success, "mgmt may come from conf.d");
}

#[test]
fn a_master_that_dies_while_starting_is_reported() {
    let h = host();
    h.spawned_die_with(1);
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(
        err.contains("haproxy exited with status 1 while starting"),
        "{err}"
    );
    assert!(h.file(PIDFILE).is_none());
}

#[test]
fn a_master_whose_worker_never_answers_is_killed_before_the_deadline() {
    let h = installed();
    h.push_command(BINARY, ok_output());
    h.push_unix(STATS, "show info", FakeUnix::Refused);
    let (code, err) = run(&h, "start", &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(
        err.contains("was not ready before the start timeout"),
        "{err}"
    );
    let pid = spawned(&h)[0];
    assert!(h.calls().contains(&Call::SignalGroup(pid, Signal::SIGKILL)));
    assert!(!h.is_alive(pid));
    assert!(
        h.elapsed() < Duration::from_millis(4500),
        "{:?}",
        h.elapsed()
    );
}

#[test]
fn monitor_depth_0_is_the_process_and_show_info() {
    let h = host();
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::NotRunning);
    let pid = started(&h);
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::Success);
    h.push_unix(STATS, "show info", FakeUnix::Refused);
    let (code, err) = run(&h, "monitor", &[]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(
        err.contains(&format!(
            "master {pid} runs but the stats socket {STATS} does not answer"
        )),
        "{err}"
    );
    h.kill_process(pid, 0);
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::NotRunning);
}

#[test]
fn monitor_depth_10_names_the_backend_without_servers_up() {
    let h = host();
    started(&h);
    h.push_unix(
        STATS,
        "show stat",
        FakeUnix::Answer(
            include_str!("../testdata/show_stat_down.csv").into(),
            Duration::ZERO,
        ),
    );
    let deep = |need: &str| {
        run(
            &h,
            "monitor",
            &[
                ("OCF_CHECK_LEVEL", "10"),
                ("OCF_RESKEY_require_backends", need),
            ],
        )
    };
    assert_eq!(deep("web:1").0, OcfExit::Success);
    let (code, err) = deep("web:1 dead:1");
    assert_eq!(code, OcfExit::ErrGeneric);
    assert_eq!(
        err.trim(),
        "ocf-exit-reason:backend dead has 0 of 1 servers up, needs 1: d1 DOWN (L4CON)"
    );
    assert_eq!(
        run(&h, "monitor", &[("OCF_RESKEY_require_backends", "dead:1")]).0,
        OcfExit::Success,
        "depth 0 does not look at backends"
    );
}

#[test]
fn stop_is_a_soft_stop_when_the_master_exits() {
    let h = host();
    let pid = started(&h);
    h.add_group_member(pid + 50, pid);
    h.exits_on(pid, Signal::SIGUSR1);
    let (code, err) = run(&h, "stop", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert!(h.calls().contains(&Call::Signal(pid, Signal::SIGUSR1)));
    assert!(
        !h.calls().iter().any(|c| matches!(c, Call::SignalGroup(..))),
        "no forced stop"
    );
    assert!(!h.is_alive(pid + 50));
    assert!(h.file(PIDFILE).is_none());
    assert_eq!(run(&h, "stop", &[]).0, OcfExit::Success, "idempotent");
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::NotRunning);
}

#[test]
fn stop_forces_a_master_that_keeps_connections_before_the_deadline() {
    let h = host();
    let pid = started(&h);
    let t0 = h.elapsed();
    let (code, err) = run(&h, "stop", &[("OCF_RESKEY_CRM_meta_timeout", "10000")]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert!(h.calls().contains(&Call::Signal(pid, Signal::SIGUSR1)));
    assert!(h.calls().contains(&Call::SignalGroup(pid, Signal::SIGTERM)));
    assert!(!h.is_alive(pid));
    let took = h.elapsed() - t0;
    assert!(
        took > Duration::from_secs(5) && took < Duration::from_secs(9),
        "{took:?}"
    );
}

#[test]
fn stop_kills_what_ignores_sigterm_and_still_answers_in_time() {
    let h = host();
    let pid = started(&h);
    h.ignore_term(pid);
    let usr1 = |h: &FakeHost| {
        h.calls()
            .iter()
            .filter(|c| **c == Call::Signal(pid, Signal::SIGUSR1))
            .count()
    };
    let t0 = h.elapsed();
    let (code, err) = run(&h, "stop", &[("OCF_RESKEY_CRM_meta_timeout", "10000")]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert!(h.calls().contains(&Call::SignalGroup(pid, Signal::SIGKILL)));
    assert!(h.elapsed() - t0 < Duration::from_secs(9));
    assert!(usr1(&h) >= 7, "the soft stop is repeated every second");
}

const PROC_BEFORE: &str = include_str!("../testdata/show_proc.txt");

/// `show proc` after a successful reload: master 26527, new worker `WORKER`.
fn proc_after() -> String {
    include_str!("../testdata/show_proc_old_workers.txt")
        .replace("27817", "99999")
        .replace("26537", "27817")
        .replace("99999", &WORKER.to_string())
}

fn reload_host() -> (FakeHost, u32) {
    let h = host();
    let pid = started(&h);
    h.add_file(LOG, "[NOTICE]   (26527) : Loading success.\n", 0o644);
    h.push_unix(
        MASTER,
        "show proc",
        FakeUnix::Answer(PROC_BEFORE.into(), Duration::ZERO),
    );
    h.push_unix(
        MASTER,
        "reload",
        FakeUnix::Answer(String::new(), Duration::ZERO),
    );
    (h, pid)
}

#[test]
fn reload_asks_the_master_and_waits_for_the_new_worker() {
    let (h, _) = reload_host();
    // Before the reload the old worker 27817 answers; then the master's table shows the
    // new generation, but the old worker still answers once.
    h.push_unix(MASTER, "show proc", FakeUnix::Refused);
    h.push_unix(
        MASTER,
        "show proc",
        FakeUnix::Answer(proc_after(), Duration::ZERO),
    );
    let old_info = INFO.replace(&format!("Pid: {WORKER}"), "Pid: 27817");
    h.push_unix(
        STATS,
        "show info",
        FakeUnix::Answer(old_info, Duration::ZERO),
    );
    h.push_unix(
        STATS,
        "show info",
        FakeUnix::Answer(INFO.into(), Duration::ZERO),
    );
    let (code, err) = run(&h, "reload", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    let master = unix_calls(&h, MASTER)[1..].to_vec();
    assert_eq!(master[..2], ["show proc".to_string(), "reload".to_string()]);
}

#[test]
fn a_config_that_fails_validation_never_reaches_the_master() {
    let (h, pid) = reload_host();
    h.push_command(BINARY, bad_output());
    let (code, err) = run(&h, "reload", &[]);
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(err.contains("unknown keyword 'bogus_keyword'"), "{err}");
    assert_eq!(unix_calls(&h, MASTER), ["show proc"], "only start's");
    assert!(h.is_alive(pid));
    assert!(
        !h.calls()
            .iter()
            .any(|c| matches!(c, Call::Signal(..) | Call::SignalGroup(..)))
    );
}

#[test]
fn a_reload_the_master_could_not_complete_fails_with_haproxys_alerts() {
    let (h, _) = reload_host();
    h.push_unix(
        MASTER,
        "show proc",
        FakeUnix::Answer(
            include_str!("../testdata/show_proc_failed_reload.txt").into(),
            Duration::ZERO,
        ),
    );
    // The alerts the re-executed master wrote; earlier lines of the log are not quoted.
    let mut log = h.file(LOG).unwrap();
    log.insert_str(0, "[ALERT]    (1) : an alert of an earlier start\n");
    h.add_file(LOG, &log, 0o644);
    let (code, err) = run(&h, "reload", &[]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(
        err.contains("could not load the new configuration and keeps serving the previous one"),
        "{err}"
    );
    assert!(!err.contains("earlier start"), "{err}");
}

#[test]
fn reload_quotes_only_alerts_written_after_the_request() {
    // log_alerts reads from the offset taken before the reload.
    let h = host();
    h.add_file(
        LOG,
        "[ALERT] (1) : old\n[NOTICE] (1) : Reloading HAProxy\n[ALERT]    (26527) : Binding \
         [lb.cfg:12] for frontend fe: cannot bind socket (Address already in use) for \
         [127.0.0.1:80]\n",
        0o644,
    );
    let env = ocf::OcfEnv::from_vars(base());
    let ctx = ocf::Ctx {
        env: &env,
        params: ocf::Params::default(),
        action: ocf::Action::Reload,
        host: &h,
        deadline: ocf::Deadline::new(h.now(), Duration::from_secs(5)),
    };
    let text = h.file(LOG).unwrap();
    let from = text.find("[NOTICE]").unwrap();
    assert_eq!(
        super::log_alerts(&ctx, std::path::Path::new(LOG), from),
        ": Binding [lb.cfg:12] for frontend fe: cannot bind socket (Address already in use) \
         for [127.0.0.1:80]"
    );
}

#[test]
fn reload_refuses_arguments_that_need_a_restart() {
    let (h, pid) = reload_host();
    let running = format!("{BINARY}\0-W\0-db\0-S\0{MASTER},mode,600\0-f\0/etc/haproxy/old.cfg\0");
    h.add_file(format!("/proc/{pid}/cmdline"), &running, 0o444);
    let (code, err) = run(&h, "reload", &[]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("change only with a restart"), "{err}");
    assert_eq!(unix_calls(&h, MASTER), ["show proc"], "only start's");
}

#[test]
fn reload_of_a_stopped_instance_only_validates() {
    let h = host();
    assert_eq!(run(&h, "reload", &[]).0, OcfExit::Success);
    assert!(spawned(&h).is_empty());
    h.push_command(BINARY, bad_output());
    assert_eq!(run(&h, "reload", &[]).0, OcfExit::ErrConfigured);
}

#[test]
fn meta_data_declares_reload_and_every_parameter() {
    let h = host();
    let env = ocf::OcfEnv::from_vars(base());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = ocf::dispatch::execute(&Haproxy, Some("meta-data"), &env, &h, &mut out, &mut err);
    assert_eq!(code, OcfExit::Success);
    let xml = String::from_utf8(out).unwrap();
    assert!(xml.contains("<action name=\"reload\""), "{xml}");
    for p in [
        "binary",
        "config",
        "pidfile",
        "stats_socket",
        "master_socket",
        "require_backends",
        "extra_args",
    ] {
        assert!(xml.contains(&format!("<parameter name=\"{p}\"")), "{p}");
    }
}

#[test]
fn reload_saves_server_states_where_the_config_loads_them_from() {
    let (h, _) = reload_host();
    let cfg = CFG.replace(
        "global\n",
        "global\n    server-state-base /var/lib/haproxy\n    server-state-file lb.state\n",
    );
    h.add_file(CONFIG, &cfg, 0o644);
    let states =
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state\n3 web 1 s1 127.0.0.1 0\n";
    h.push_unix(
        STATS,
        "show servers state",
        FakeUnix::Answer(states.into(), Duration::ZERO),
    );
    h.push_unix(
        MASTER,
        "show proc",
        FakeUnix::Answer(proc_after(), Duration::ZERO),
    );
    let (code, err) = run(&h, "reload", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(h.file("/var/lib/haproxy/lb.state").as_deref(), Some(states));
    // Saved before the master was asked to reload.
    let calls = h.calls();
    let saved = calls
        .iter()
        .position(|c| matches!(c, Call::Write(p, _) if p.ends_with("lb.state")))
        .unwrap();
    let reload = calls
        .iter()
        .position(|c| matches!(c, Call::Unix(_, r) if r == "reload"))
        .unwrap();
    assert!(saved < reload);
}

#[test]
fn a_worker_that_accepts_but_never_answers_still_leaves_time_to_kill() {
    let h = installed();
    h.push_command(BINARY, ok_output());
    h.push_unix(
        STATS,
        "show info",
        FakeUnix::Answer(INFO.into(), Duration::from_secs(600)),
    );
    let (code, err) = run(&h, "start", &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("timed out"), "{err}");
    let pid = spawned(&h)[0];
    assert!(h.calls().contains(&Call::SignalGroup(pid, Signal::SIGKILL)));
    // The request ended at the give-up point (4.5 s budget less 0.9 s), not the deadline.
    assert_eq!(h.elapsed(), Duration::from_millis(3600));
}

#[test]
fn refused_permissions_are_4_not_a_generic_failure() {
    // The master may not be run by this user (execve: EACCES).
    let h = host();
    h.deny_spawn();
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
    assert!(err.contains("cannot start haproxy"), "{err}");
    // The runtime directory may not be created.
    let h = host();
    h.deny("/run/t");
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
    assert!(err.contains("cannot create /run/t: "), "{err}");
    assert!(spawned(&h).is_empty());
    // The master belongs to another user (kill: EPERM).
    let h = host();
    started(&h);
    h.deny_signals();
    let (code, err) = run(&h, "stop", &[]);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
    assert!(err.contains("cannot stop haproxy"), "{err}");
    // haproxy -c cannot read the configuration: permissions, not an invalid file.
    let h = installed();
    h.push_command(
        BINARY,
        CommandOutput {
            code: Some(1),
            signal: None,
            stdout: String::new(),
            stderr: "[ALERT]    (7) : config : Cannot open configuration file/directory \
                     /etc/haproxy/lb.cfg : Permission denied\n"
                .into(),
        },
    );
    let (code, err) = run(&h, "validate-all", &[]);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
}

#[test]
fn extra_args_naming_another_file_quote_only_haproxys_first_line() {
    let h = installed();
    h.push_command(
        BINARY,
        CommandOutput {
            code: Some(1),
            signal: None,
            stdout: String::new(),
            stderr: include_str!("../testdata/check_other_file.txt").into(),
        },
    );
    let (code, err) = run(
        &h,
        "validate-all",
        &[("OCF_RESKEY_extra_args", "-f /etc/secrets.txt")],
    );
    assert_eq!(code, OcfExit::ErrConfigured, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("[/etc/secrets.txt:1]"), "{err}");
    assert!(!err.contains("daemon") && !err.contains("alice"), "{err}");
}
