//! The agent's logic against the recording fake host: no DRBD, no root. drbdsetup's
//! answers are events2 dumps in the format of drbd-utils 9.22 (see `testdata/`).

use ocf::OcfExit;
use ocf::fake::{Call, FakeHost, run_action};
use ocf::host::CommandOutput;

use super::Drbd;

const DRBDADM: &str = "/usr/sbin/drbdadm";
const DRBDSETUP: &str = "/usr/sbin/drbdsetup";
const CONF: &str = "/etc/drbd.d/r0.res";
const ATTRS: &str = "/run/attrs";
const SCORE: &str = "/run/attrs/master-data";

const PRIMARY: &str = include_str!("../testdata/events2_now_primary_uptodate.txt");
const PEER_LOST: &str = include_str!("../testdata/events2_now_secondary_peer_lost.txt");
const DOWN: &str = "exists -\n";
const MODULE_MISSING: &str = "modprobe: FATAL: Module drbd not found in directory /lib/modules/6.1.0\n\
    Failed to modprobe drbd (No such file or directory)\n";
const DUMP: &str = "resource r0 {\n    on a {\n        node-id 0;\n    }\n    on b {\n        node-id 1;\n    }\n}\n";

fn secondary(disk: &str) -> String {
    format!(
        "exists resource name:r0 role:Secondary suspended:no force-io-failures:no may_promote:no promotion_score:0\n\
         exists connection name:r0 peer-node-id:1 conn-name:b connection:Connected role:Secondary\n\
         exists device name:r0 volume:0 minor:0 backing_dev:/dev/vg/r0 disk:{disk} client:no quorum:yes\n\
         exists peer-device name:r0 peer-node-id:1 conn-name:b volume:0 replication:Established peer-disk:UpToDate peer-client:no resync-suspended:no\n\
         exists -\n"
    )
}

fn out(code: i32, stdout: &str, stderr: &str) -> CommandOutput {
    CommandOutput {
        code: Some(code),
        signal: None,
        stdout: stdout.into(),
        stderr: stderr.into(),
    }
}

fn host() -> FakeHost {
    let h = FakeHost::new();
    h.add_executable(DRBDADM);
    h.add_executable(DRBDSETUP);
    h.add_file(CONF, "resource r0 {}\n", 0o644);
    h
}

fn base() -> Vec<(String, String)> {
    [
        ("OCF_RESOURCE_INSTANCE", "data:0"),
        ("OCF_RESKEY_drbd_resource", "r0"),
        ("OCF_RESKEY_drbdconf", CONF),
        ("OCF_RESKEY_CRM_meta_timeout", "20000"),
        ("CRM_LITE_ATTR_DIR", ATTRS),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn run(h: &FakeHost, action: &str, extra: &[(&str, &str)]) -> (OcfExit, String) {
    run_action(&Drbd, h, base(), action, extra)
}

fn drbdadm_calls(h: &FakeHost) -> Vec<String> {
    h.calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Run(s) if s.starts_with(DRBDADM) => Some(s[DRBDADM.len() + 1..].to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn start_brings_a_down_resource_up_and_records_its_score() {
    let h = host();
    h.push_command(DRBDADM, out(0, DUMP, ""));
    h.push_command(DRBDADM, out(0, "", ""));
    h.push_command(DRBDSETUP, out(0, DOWN, ""));
    h.push_command(DRBDSETUP, out(0, &secondary("Attaching"), ""));
    h.push_command(DRBDSETUP, out(0, &secondary("UpToDate"), ""));
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(
        drbdadm_calls(&h),
        vec![format!("-c {CONF} dump r0"), format!("-c {CONF} up r0")]
    );
    assert_eq!(h.file(SCORE).as_deref(), Some("10000\n"));
}

#[test]
fn start_adjusts_a_resource_that_is_already_up() {
    let h = host();
    h.push_command(DRBDADM, out(0, DUMP, ""));
    h.push_command(DRBDSETUP, out(0, &secondary("Consistent"), ""));
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(drbdadm_calls(&h)[1], format!("-c {CONF} adjust r0"));
    assert_eq!(h.file(SCORE).as_deref(), Some("100\n"));
}

#[test]
fn without_the_kernel_module_start_is_5_and_probes_and_stop_say_stopped() {
    let h = host();
    h.push_command(DRBDADM, out(0, DUMP, ""));
    h.push_command(DRBDSETUP, out(20, "", MODULE_MISSING));
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrInstalled);
    assert!(
        err.contains("the DRBD kernel module is not available: Failed to modprobe drbd"),
        "{err}"
    );
    let (code, _) = run(&h, "validate-all", &[]);
    assert_eq!(code, OcfExit::ErrInstalled);
    let (code, _) = run(&h, "monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")]);
    assert_eq!(code, OcfExit::NotRunning);
    h.add_file(SCORE, "10000\n", 0o644);
    let (code, _) = run(&h, "stop", &[]);
    assert_eq!(code, OcfExit::Success);
    assert_eq!(h.file(SCORE), None, "stop removes the score");
    assert!(!drbdadm_calls(&h).iter().any(|c| c.contains("up")));
}

#[test]
fn without_drbd_utils_start_is_5_and_a_probe_is_7() {
    let h = FakeHost::new();
    h.add_file(CONF, "resource r0 {}\n", 0o644);
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrInstalled);
    assert!(err.contains("drbdadm not found"), "{err}");
    let (code, _) = run(&h, "monitor", &[]);
    assert_eq!(code, OcfExit::NotRunning);
    let (code, _) = run(&h, "stop", &[]);
    assert_eq!(code, OcfExit::Success);
}

#[test]
fn monitor_maps_roles_and_failures_to_ocf_codes_and_refreshes_the_score() {
    let h = host();
    h.push_command(DRBDSETUP, out(0, PRIMARY, ""));
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::RunningPromoted);
    assert_eq!(h.file(SCORE).as_deref(), Some("10000\n"));

    let h = host();
    h.push_command(DRBDSETUP, out(0, PEER_LOST, ""));
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::Success);
    assert_eq!(h.file(SCORE).as_deref(), Some("1000\n"));

    let h = host();
    h.push_command(DRBDSETUP, out(0, &secondary("Outdated"), ""));
    h.add_file(SCORE, "10000\n", 0o644);
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::Success);
    assert_eq!(h.file(SCORE), None, "Outdated data has no score");

    let h = host();
    let failed = PRIMARY.replace("disk:UpToDate client", "disk:Diskless client");
    h.push_command(DRBDSETUP, out(0, &failed, ""));
    let (code, err) = run(&h, "monitor", &[]);
    assert_eq!(code, OcfExit::FailedPromoted);
    assert!(
        err.contains("r0 is Primary but its volume 0 is Diskless (I/O goes to the peer)"),
        "{err}"
    );

    let h = host();
    h.push_command(DRBDSETUP, out(0, DOWN, ""));
    h.add_file(SCORE, "10000\n", 0o644);
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::NotRunning);
    assert_eq!(h.file(SCORE), None);
}

#[test]
fn a_resource_the_kernel_does_not_know_is_down() {
    let h = host();
    h.push_command(DRBDSETUP, out(10, "", "r0: No such resource\n"));
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::NotRunning);
}

#[test]
fn monitor_fails_on_unreadable_state_instead_of_guessing() {
    let h = host();
    h.push_command(
        DRBDSETUP,
        out(0, "exists resource name:r0 role:Primary\n", ""),
    );
    let (code, err) = run(&h, "monitor", &[]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("ends before 'exists -'"), "{err}");
    let h = host();
    h.push_command(DRBDSETUP, out(10, "", "r0: something unexpected\n"));
    let (code, err) = run(&h, "monitor", &[]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(
        err.contains("exited with 10: r0: something unexpected"),
        "{err}"
    );
}

#[test]
fn promote_refuses_without_uptodate_data_and_names_the_state() {
    for disk in ["Outdated", "Inconsistent", "Consistent", "Diskless"] {
        let h = host();
        h.push_command(DRBDSETUP, out(0, &secondary(disk), ""));
        let (code, err) = run(&h, "promote", &[]);
        assert_eq!(code, OcfExit::ErrGeneric, "{disk}");
        assert!(
            err.contains(&format!(
                "cannot promote: volume 0 of r0 is {disk}, promote needs UpToDate data"
            )),
            "{err}"
        );
        assert!(drbdadm_calls(&h).is_empty(), "{disk}: drbdadm was called");
    }
}

#[test]
fn promote_runs_drbdadm_primary_and_waits_for_the_role() {
    let h = host();
    h.push_command(DRBDSETUP, out(0, &secondary("UpToDate"), ""));
    h.push_command(DRBDSETUP, out(0, PRIMARY, ""));
    h.push_command(DRBDADM, out(0, "", ""));
    let (code, err) = run(&h, "promote", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(drbdadm_calls(&h), vec![format!("-c {CONF} primary r0")]);
    // Promoting a Primary does nothing.
    let (code, _) = run(&h, "promote", &[]);
    assert_eq!(code, OcfExit::Success);
    assert_eq!(drbdadm_calls(&h).len(), 1);
}

#[test]
fn a_promote_drbd_refuses_fails_with_drbdsetups_message() {
    let h = host();
    h.push_command(DRBDSETUP, out(0, &secondary("UpToDate"), ""));
    h.push_command(
        DRBDADM,
        out(
            11,
            "",
            "r0: State change failed: (-1) Multiple primaries not allowed by config\n\
             Command 'drbdsetup primary r0' terminated with exit code 11\n",
        ),
    );
    let (code, err) = run(&h, "promote", &[]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(
        err.contains("promote: drbdadm primary r0 failed with exit code 11: r0: State change failed: (-1) Multiple primaries not allowed by config"),
        "{err}"
    );
}

#[test]
fn demote_retries_while_the_device_is_held_open() {
    let h = host();
    h.push_command(DRBDSETUP, out(0, PRIMARY, ""));
    h.push_command(DRBDSETUP, out(0, &secondary("UpToDate"), ""));
    h.push_command(
        DRBDADM,
        out(
            11,
            "",
            "r0: State change failed: (-12) Device is held open by someone\n\
             Command 'drbdsetup secondary r0' terminated with exit code 11\n",
        ),
    );
    h.push_command(DRBDADM, out(0, "", ""));
    let (code, err) = run(&h, "demote", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(drbdadm_calls(&h).len(), 2);
}

#[test]
fn demote_that_never_succeeds_fails_before_the_deadline_with_the_reason() {
    let h = host();
    h.push_command(DRBDSETUP, out(0, PRIMARY, ""));
    h.push_command(
        DRBDADM,
        out(
            11,
            "",
            "r0: State change failed: (-12) Device is held open by someone\n",
        ),
    );
    let (code, err) = run(&h, "demote", &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("Device is held open by someone"), "{err}");
    assert!(h.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn stop_takes_the_resource_down_and_removes_the_score() {
    let h = host();
    h.add_file(SCORE, "10000\n", 0o644);
    h.push_command(DRBDSETUP, out(0, PRIMARY, ""));
    h.push_command(DRBDSETUP, out(0, DOWN, ""));
    h.push_command(DRBDADM, out(0, "", ""));
    let (code, err) = run(&h, "stop", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(drbdadm_calls(&h), vec![format!("-c {CONF} down r0")]);
    assert_eq!(h.file(SCORE), None);
    // Stopping a stopped resource runs nothing.
    let (code, _) = run(&h, "stop", &[]);
    assert_eq!(code, OcfExit::Success);
    assert_eq!(drbdadm_calls(&h).len(), 1);
}

#[test]
fn validate_all_checks_the_configuration_and_the_clone() {
    let h = host();
    h.push_command(DRBDSETUP, out(0, DOWN, ""));
    h.push_command(DRBDADM, out(0, DUMP, ""));
    assert_eq!(run(&h, "validate-all", &[]).0, OcfExit::Success);
    let pcmk = [
        ("OCF_RESKEY_crm_feature_set", "3.16.2"),
        ("OCF_RESKEY_CRM_meta_clone_max", "2"),
        ("OCF_RESKEY_CRM_meta_promotable", "false"),
    ];
    let (code, err) = run(&h, "validate-all", &pcmk);
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(err.contains("promotable=false"), "{err}");
    let (code, err) = run(
        &h,
        "validate-all",
        &[("OCF_RESKEY_crm_feature_set", "3.16.2")],
    );
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(err.contains("not as a primitive"), "{err}");
    let (code, err) = run(
        &h,
        "validate-all",
        &[
            ("OCF_RESKEY_CRM_meta_clone_max", "3"),
            ("OCF_RESKEY_CRM_meta_promoted_max", "1"),
        ],
    );
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(err.contains("declares only 2 hosts"), "{err}");

    let h = host();
    h.push_command(
        DRBDADM,
        out(1, "", "'r0' not defined in your config (for this host).\n"),
    );
    let (code, err) = run(&h, "validate-all", &[]);
    assert_eq!(code, OcfExit::ErrArgs);
    assert!(err.contains("not defined in your config"), "{err}");
}

#[test]
fn bad_parameters_are_6_and_a_missing_config_file_is_5() {
    let h = host();
    for (k, v, needle) in [
        (
            "OCF_RESKEY_drbd_resource",
            "all",
            "not a DRBD resource name",
        ),
        (
            "OCF_RESKEY_drbd_resource",
            "r0 r1",
            "not a DRBD resource name",
        ),
        ("OCF_RESKEY_drbdconf", "drbd.conf", "absolute path"),
    ] {
        let (code, err) = run(&h, "validate-all", &[(k, v)]);
        assert_eq!(code, OcfExit::ErrConfigured, "{v}");
        assert!(err.contains(needle), "{err}");
    }
    let (code, err) = run(&h, "start", &[("OCF_RESKEY_drbd_resource", "")]);
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(err.contains("drbd_resource"), "{err}");
    let (code, err) = run(
        &h,
        "validate-all",
        &[("OCF_RESKEY_drbdconf", "/etc/nope.conf")],
    );
    assert_eq!(code, OcfExit::ErrInstalled);
    assert!(err.contains("/etc/nope.conf does not exist"), "{err}");
    // Probes and stop never fail on a bad configuration.
    assert_eq!(
        run(&h, "monitor", &[("OCF_RESKEY_drbd_resource", "")]).0,
        OcfExit::NotRunning
    );
    assert_eq!(
        run(&h, "stop", &[("OCF_RESKEY_drbd_resource", "")]).0,
        OcfExit::Success
    );
    assert!(h.calls().iter().all(|c| !matches!(c, Call::Run(_))));
}

#[test]
fn notify_refreshes_the_score_and_never_fails() {
    let h = host();
    h.push_command(DRBDSETUP, out(0, PEER_LOST, ""));
    let post_demote = [
        ("OCF_RESKEY_CRM_meta_notify_type", "post"),
        ("OCF_RESKEY_CRM_meta_notify_operation", "demote"),
        ("OCF_RESKEY_CRM_meta_notify_demote_resource", "data:1"),
        ("OCF_RESKEY_CRM_meta_notify_demote_uname", "b"),
    ];
    assert_eq!(run(&h, "notify", &post_demote).0, OcfExit::Success);
    assert_eq!(h.file(SCORE).as_deref(), Some("1000\n"));
    let h = host();
    h.push_command(DRBDSETUP, out(20, "", MODULE_MISSING));
    assert_eq!(run(&h, "notify", &post_demote).0, OcfExit::Success);
    // ocf-tester's notify carries no notification at all.
    assert_eq!(run(&h, "notify", &[]).0, OcfExit::Success);
}

#[test]
fn under_pacemaker_scores_go_through_crm_attribute() {
    let h = host();
    h.push_command(DRBDSETUP, out(0, PRIMARY, ""));
    h.push_command("crm_attribute", out(0, "", ""));
    let (code, _) = run(
        &h,
        "monitor",
        &[
            ("CRM_LITE_ATTR_DIR", ""),
            ("OCF_RESKEY_crm_feature_set", "3.16.2"),
        ],
    );
    assert_eq!(code, OcfExit::RunningPromoted);
    assert!(
        h.calls()
            .contains(&Call::Run("crm_attribute --promotion -v 10000".into())),
        "{:?}",
        h.calls()
    );
}

#[test]
fn meta_data_advertises_the_promotable_actions() {
    let h = host();
    let env = ocf::OcfEnv::from_vars(Vec::<(String, String)>::new());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = ocf::dispatch::execute(&Drbd, Some("meta-data"), &env, &h, &mut out, &mut err);
    assert_eq!(code, OcfExit::Success);
    let md = String::from_utf8(out).unwrap();
    for a in ["promote", "demote", "notify", "validate-all"] {
        assert!(md.contains(&format!("<action name=\"{a}\"")), "{a}");
    }
    assert!(md.contains("role=\"Promoted\"") && md.contains("role=\"Unpromoted\""));
    assert!(
        md.contains("<parameter name=\"drbd_resource\" unique=\"1\" required=\"1\">"),
        "{md}"
    );
}

#[test]
fn stop_does_not_retry_what_retrying_cannot_cure() {
    let h = FakeHost::new();
    h.add_executable(DRBDSETUP);
    h.push_command(DRBDSETUP, out(0, PRIMARY, ""));
    let (code, err) = run(&h, "stop", &[]);
    assert_eq!(code, OcfExit::ErrInstalled, "{err}");
    assert!(err.contains("drbdadm not found"), "{err}");
    assert!(h.elapsed() < std::time::Duration::from_millis(100));
}

#[test]
fn drbdadm_refused_by_the_kernel_for_this_user_is_4() {
    let h = host();
    h.push_command(DRBDADM, out(0, DUMP, ""));
    h.push_command(DRBDSETUP, out(0, DOWN, ""));
    // The C library's words for EPERM, as a tool prints them.
    h.push_command(
        DRBDADM,
        out(
            20,
            "",
            "r0: Operation not permitted\nCommand 'drbdsetup new-resource r0 0' terminated with exit code 20\n",
        ),
    );
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
    assert!(err.contains("Operation not permitted"), "{err}");
}
