//! The agent's decisions that need no server, against the recording fake host: probes and
//! stops where nothing runs, bad parameters, password files, score publication. The
//! statements and the verdicts on replica status are tested in `config`.

use ocf::OcfExit;
use ocf::fake::{Call, FakeHost, run_action};

use super::Mysql;

fn base() -> Vec<(String, String)> {
    [
        ("OCF_RESOURCE_INSTANCE", "db:0"),
        ("OCF_RESKEY_config", "/etc/mysql/db.cnf"),
        ("OCF_RESKEY_datadir", "/var/lib/db"),
        ("OCF_RESKEY_pid", "/run/db/db.pid"),
        ("OCF_RESKEY_socket", "/run/db/db.sock"),
        ("OCF_RESKEY_CRM_meta_timeout", "20000"),
        ("CRM_LITE_ATTR_DIR", "/run/attrs"),
        ("HA_RSCTMP", "/run/rsc"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn installed() -> FakeHost {
    let h = FakeHost::new();
    h.add_executable("/usr/sbin/mariadbd");
    h.add_file("/etc/mysql/db.cnf", "[mysqld]\nserver_id=1\n", 0o644);
    h.add_dir("/var/lib/db");
    h.add_user("mysql", 101, 101);
    h
}

#[test]
fn monitor_without_a_server_is_7_even_with_bad_parameters() {
    let h = FakeHost::new();
    for extra in [
        &[][..],
        &[
            ("OCF_RESKEY_max_lag", "soon"),
            ("OCF_RESKEY_test_table", "x;y"),
        ][..],
    ] {
        let (code, err) = run_action(&Mysql, &h, base(), "monitor", extra);
        assert_eq!(code, OcfExit::NotRunning, "{err}");
    }
}

#[test]
fn a_stale_pid_file_is_not_a_running_server() {
    let h = FakeHost::new();
    h.add_file("/run/db/db.pid", "4242\n", 0o644);
    let (code, _) = run_action(&Mysql, &h, base(), "monitor", &[]);
    assert_eq!(code, OcfExit::NotRunning);
}

#[test]
fn stop_of_a_stopped_server_succeeds_and_removes_the_score() {
    let h = FakeHost::new();
    h.add_file("/run/attrs/master-db", "17\n", 0o644);
    h.add_file("/run/rsc/mysql-db_0.promoted", "promoted\n", 0o644);
    let (code, err) = run_action(&Mysql, &h, base(), "stop", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(h.file("/run/attrs/master-db"), None);
    assert_eq!(h.file("/run/rsc/mysql-db_0.promoted"), None);
}

#[test]
fn stop_sends_term_then_kill_to_a_server_that_ignores_it() {
    let h = FakeHost::new();
    h.add_process(4242);
    h.add_file("/run/db/db.pid", "4242\n", 0o644);
    h.ignore_term(4242);
    let (code, err) = run_action(&Mysql, &h, base(), "stop", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert!(!h.is_alive(4242));
    let calls = h.calls();
    assert!(calls.contains(&Call::Signal(4242, nix::sys::signal::Signal::SIGTERM)));
    assert!(calls.contains(&Call::SignalGroup(4242, nix::sys::signal::Signal::SIGKILL)));
    assert!(h.elapsed() < std::time::Duration::from_secs(18));
}

#[test]
fn validate_names_what_is_missing() {
    let h = FakeHost::new();
    let (code, err) = run_action(&Mysql, &h, base(), "validate-all", &[]);
    assert_eq!(code, OcfExit::ErrInstalled);
    assert!(err.contains("parameter binary"), "{err}");
    let h = installed();
    let (code, err) = run_action(&Mysql, &h, base(), "validate-all", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    let (code, err) = run_action(
        &Mysql,
        &h,
        base(),
        "validate-all",
        &[("OCF_RESKEY_user", "nobody-here")],
    );
    assert_eq!(code, OcfExit::ErrInstalled);
    assert!(err.contains("parameter user"), "{err}");
}

#[test]
fn bad_parameters_are_6_naming_the_parameter() {
    let h = installed();
    for (k, v) in [
        ("OCF_RESKEY_max_lag", "-1"),
        ("OCF_RESKEY_test_table", "mysql.user; DROP TABLE x"),
        ("OCF_RESKEY_node_addresses", "db1=127.0.0.1"),
        ("OCF_RESKEY_port", "70000"),
    ] {
        let (code, err) = run_action(&Mysql, &h, base(), "start", &[(k, v)]);
        assert_eq!(code, OcfExit::ErrConfigured, "{k}={v}: {err}");
        let name = k.trim_start_matches("OCF_RESKEY_");
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn password_files_must_be_private() {
    let h = installed();
    h.add_file("/etc/mysql/repl.pw", "secret\n", 0o644);
    let (code, err) = run_action(
        &Mysql,
        &h,
        base(),
        "validate-all",
        &[("OCF_RESKEY_replication_password_file", "/etc/mysql/repl.pw")],
    );
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(
        err.contains("replication_password_file") && err.contains("0600"),
        "{err}"
    );
    assert!(!err.contains("secret"));
    h.add_file("/etc/mysql/repl.pw", "secret\n", 0o600);
    let (code, err) = run_action(
        &Mysql,
        &h,
        base(),
        "validate-all",
        &[("OCF_RESKEY_replication_password_file", "/etc/mysql/repl.pw")],
    );
    assert_eq!(code, OcfExit::Success, "{err}");
    let (code, err) = run_action(
        &Mysql,
        &h,
        base(),
        "validate-all",
        &[("OCF_RESKEY_replication_password_file", "/etc/mysql/none.pw")],
    );
    assert_eq!(code, OcfExit::ErrInstalled, "{err}");
}

#[test]
fn start_of_a_server_that_dies_fails_with_its_log_and_spawns_without_secrets() {
    let h = installed();
    h.add_file("/etc/mysql/repl.pw", "secret\n", 0o600);
    h.spawned_die_with(1);
    let (code, err) = run_action(
        &Mysql,
        &h,
        base(),
        "start",
        &[("OCF_RESKEY_replication_password_file", "/etc/mysql/repl.pw")],
    );
    assert_eq!(code, OcfExit::ErrGeneric, "{err}");
    assert!(err.contains("exited"), "{err}");
    let spawn = h
        .calls()
        .into_iter()
        .find(|c| matches!(c, Call::Spawn(..)))
        .expect("spawned");
    assert!(!format!("{spawn:?}").contains("secret"));
}

#[test]
fn meta_data_declares_promotable_actions() {
    let h = FakeHost::new();
    let env = ocf::OcfEnv::from_vars(base());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = ocf::dispatch::execute(&Mysql, Some("meta-data"), &env, &h, &mut out, &mut err);
    assert_eq!(code, OcfExit::Success);
    let md = String::from_utf8(out).unwrap();
    for needle in [
        "<action name=\"promote\"",
        "<action name=\"demote\"",
        "<action name=\"notify\"",
        "role=\"Promoted\"",
        "name=\"replication_password_file\"",
        "name=\"max_lag\"",
    ] {
        assert!(md.contains(needle), "{needle} missing:\n{md}");
    }
}

#[test]
fn the_primary_comes_from_the_promote_list_then_the_promoted_one() {
    let env = ocf::OcfEnv::from_vars([
        ("OCF_RESKEY_CRM_meta_notify_type", "post"),
        ("OCF_RESKEY_CRM_meta_notify_operation", "promote"),
        ("OCF_RESKEY_CRM_meta_notify_promote_resource", "db:1"),
        ("OCF_RESKEY_CRM_meta_notify_promote_uname", "n2"),
        ("OCF_RESKEY_CRM_meta_notify_master_resource", "db:0"),
        ("OCF_RESKEY_CRM_meta_notify_master_uname", "n1"),
        ("OCF_RESKEY_CRM_meta_notify_demote_resource", "db:0"),
        ("OCF_RESKEY_CRM_meta_notify_demote_uname", "n1"),
    ]);
    let n = env.meta.notification.unwrap();
    assert_eq!(
        Mysql::primary_from_notification(&n, "n3").as_deref(),
        Some("n2")
    );
    assert_eq!(Mysql::primary_from_notification(&n, "n2"), None);
    let env = ocf::OcfEnv::from_vars([
        ("OCF_RESKEY_CRM_meta_notify_type", "post"),
        ("OCF_RESKEY_CRM_meta_notify_operation", "start"),
        ("OCF_RESKEY_CRM_meta_notify_promoted_resource", "db:0"),
        ("OCF_RESKEY_CRM_meta_notify_promoted_uname", "n1"),
    ]);
    let n = env.meta.notification.unwrap();
    assert_eq!(
        Mysql::primary_from_notification(&n, "n3").as_deref(),
        Some("n1")
    );
}

#[test]
fn refused_permissions_are_4_not_a_generic_failure() {
    // A server of another user (kill: EPERM).
    let h = FakeHost::new();
    h.add_process(4242);
    h.add_file("/run/db/db.pid", "4242\n", 0o644);
    h.deny_signals();
    let (code, err) = run_action(&Mysql, &h, base(), "stop", &[]);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
    assert!(err.contains("cannot stop the server"), "{err}");
    // The socket's directory may not be created (EACCES): nothing is spawned.
    let h = installed();
    h.deny("/run/db");
    let (code, err) = run_action(&Mysql, &h, base(), "start", &[]);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
    assert!(err.contains("cannot create /run/db: "), "{err}");
    assert!(!h.calls().iter().any(|c| matches!(c, Call::Spawn(..))));
    // The server binary may not be run (execve: EACCES).
    let h = installed();
    h.deny_spawn();
    let (code, err) = run_action(&Mysql, &h, base(), "start", &[]);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
}
