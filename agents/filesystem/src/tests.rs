//! The agent's logic against the recording fake host: no mounts, processes or root.

use std::time::Duration;

use nix::sys::signal::Signal;
use ocf::OcfExit;
use ocf::fake::{Call, FakeHost};
use ocf::host::{CommandOutput, Host as _, ProcFiles};

use super::{FORCED_TERM_GRACE, Filesystem, MOUNTINFO, TERM_GRACE};

const BASE: &str = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n";
const EXT4: &str = "90 27 147:0 / /srv/state rw,noatime - ext4 /dev/drbd0 rw\n";
const CEPH: &str = "91 27 0:52 / /srv/state rw - fuse.ceph-fuse ceph-fuse rw\n";

fn ok(stdout: &str) -> CommandOutput {
    CommandOutput {
        code: Some(0),
        stdout: stdout.into(),
        ..CommandOutput::default()
    }
}

fn failed(code: i32, stderr: &str) -> CommandOutput {
    CommandOutput {
        code: Some(code),
        stderr: stderr.into(),
        ..CommandOutput::default()
    }
}

/// A node with ext4 support, the DRBD device and the mount point; nothing mounted.
fn host() -> FakeHost {
    let h = FakeHost::new();
    h.add_file(MOUNTINFO, BASE, 0o444);
    h.add_file(
        "/proc/filesystems",
        "nodev\ttmpfs\n\text4\n\txfs\nnodev\tfuse\n",
        0o444,
    );
    h.add_file("/dev/drbd0", "", 0o660);
    h.add_dir("/srv/state");
    h
}

fn mounted(h: &FakeHost, line: &str) {
    h.add_file(MOUNTINFO, &format!("{BASE}{line}"), 0o444);
}

fn run(h: &FakeHost, action: &str, extra: &[(&str, &str)]) -> (OcfExit, String) {
    let base: Vec<(String, String)> = [
        ("OCF_RESOURCE_INSTANCE", "fs"),
        ("OCF_RESKEY_device", "/dev/drbd0"),
        ("OCF_RESKEY_directory", "/srv/state"),
        ("OCF_RESKEY_fstype", "ext4"),
        ("OCF_RESKEY_CRM_meta_timeout", "20000"),
        ("OCF_RESKEY_CRM_meta_on_node", "node1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    ocf::fake::run_action(&Filesystem, h, base, action, extra)
}

fn runs(h: &FakeHost) -> Vec<String> {
    h.calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Run(cmd) => Some(cmd),
            _ => None,
        })
        .collect()
}

fn signals(h: &FakeHost) -> Vec<(u32, Signal)> {
    h.calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Signal(pid, s) => Some((pid, s)),
            _ => None,
        })
        .collect()
}

#[test]
fn monitor_depth_0_reads_mountinfo_and_runs_nothing() {
    let h = host();
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::NotRunning);
    mounted(&h, EXT4);
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::Success);
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    // Another file system stacked on the directory is not ours.
    mounted(&h, "95 27 0:60 / /srv/state rw - tmpfs tmpfs rw\n");
    assert_eq!(run(&h, "monitor", &[]).0, OcfExit::NotRunning);
}

#[test]
fn probes_and_stops_never_fail_on_missing_configuration() {
    let h = FakeHost::new();
    h.add_file(MOUNTINFO, BASE, 0o444);
    let probe = [
        ("OCF_RESKEY_CRM_meta_interval", "0"),
        ("OCF_RESKEY_device", "/dev/none"),
    ];
    assert_eq!(run(&h, "monitor", &probe).0, OcfExit::NotRunning);
    assert_eq!(
        run(&h, "monitor", &[("OCF_RESKEY_directory", "")]).0,
        OcfExit::NotRunning
    );
    assert_eq!(
        run(&h, "stop", &[("OCF_RESKEY_directory", "")]).0,
        OcfExit::Success
    );
    assert_eq!(
        run(&h, "stop", &[("OCF_RESKEY_force_unmount", "maybe")]).0,
        OcfExit::Success
    );
    assert!(runs(&h).is_empty());
}

#[test]
fn start_checks_mounts_and_verifies_in_mountinfo() {
    let h = host();
    h.push_command("fsck", ok(""));
    h.push_command_writing("mount", ok(""), MOUNTINFO, &format!("{BASE}{EXT4}"));
    let (code, err) = run(&h, "start", &[("OCF_RESKEY_options", "noatime")]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(
        runs(&h),
        [
            "fsck -p -t ext4 /dev/drbd0",
            "mount -t ext4 -o noatime /dev/drbd0 /srv/state"
        ]
    );
    // Already mounted: nothing runs.
    let before = h.calls().len();
    assert_eq!(run(&h, "start", &[]).0, OcfExit::Success);
    assert_eq!(h.calls().len(), before);
}

#[test]
fn start_creates_the_mount_point_unless_told_not_to() {
    let h = host();
    h.add_file("/dev/xvdb", "", 0o660);
    let extra = [
        ("OCF_RESKEY_directory", "/srv/new"),
        ("OCF_RESKEY_device", "/dev/xvdb"),
        ("OCF_RESKEY_fstype", "xfs"),
        ("OCF_RESKEY_create_directory", "false"),
    ];
    let (code, err) = run(&h, "start", &extra);
    assert_eq!(code, OcfExit::ErrInstalled, "{err}");
    assert!(err.contains("create_directory=false"), "{err}");
    let line = "96 27 202:16 / /srv/new rw - xfs /dev/xvdb rw\n";
    h.push_command_writing("mount", ok(""), MOUNTINFO, &format!("{BASE}{line}"));
    let (code, err) = run(&h, "start", &extra[..3]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert!(h.file_info("/srv/new".as_ref()).is_some_and(|i| i.is_dir));
    assert!(
        !runs(&h).iter().any(|r| r.starts_with("fsck")),
        "no fsck for xfs on auto"
    );
}

#[test]
fn start_failures_have_the_codes_the_cluster_needs() {
    // Missing device: 5, and nothing is run.
    let h = host();
    let (code, err) = run(&h, "start", &[("OCF_RESKEY_device", "/dev/drbd9")]);
    assert_eq!(code, OcfExit::ErrInstalled);
    assert!(err.contains("/dev/drbd9 does not exist"), "{err}");
    assert!(runs(&h).is_empty());

    // A type this node lacks but Linux knows: 5. A type nobody knows: 6.
    h.push_command("modprobe", failed(1, ""));
    let (code, err) = run(&h, "start", &[("OCF_RESKEY_fstype", "btrfs")]);
    assert_eq!(code, OcfExit::ErrInstalled, "{err}");
    let (code, err) = run(&h, "start", &[("OCF_RESKEY_fstype", "ext5")]);
    assert_eq!(code, OcfExit::ErrConfigured, "{err}");

    // The kernel refuses: blkid tells bad options (6) from a wrong file system (6) from
    // none at all (1).
    let refused = "mount: /srv/state: wrong fs type, bad option, bad superblock on /dev/drbd0, missing codepage or helper program, or other error.\n";
    h.push_command("fsck", ok(""));
    h.push_command("mount", failed(32, refused));
    h.push_command("blkid", ok("ext4\n"));
    let (code, err) = run(&h, "start", &[("OCF_RESKEY_options", "data=bogus")]);
    assert_eq!(code, OcfExit::ErrConfigured, "{err}");
    assert!(err.contains("refused options \"data=bogus\""), "{err}");
    h.push_command("blkid", failed(2, ""));
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrGeneric, "{err}");
    assert!(err.contains("no file system found"), "{err}");

    // fsck that cannot repair: 1, and no mount.
    let h = host();
    h.push_command(
        "fsck",
        failed(
            4,
            "/dev/drbd0: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.\n",
        ),
    );
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("UNEXPECTED INCONSISTENCY"), "{err}");
    assert!(!runs(&h).iter().any(|r| r.starts_with("mount")));
}

#[test]
fn a_mount_helper_that_reports_success_falsely_is_caught() {
    let h = host();
    for helper in ["/sbin/mount.fuse.ceph", "/usr/bin/ceph-fuse"] {
        h.add_executable(helper);
    }
    // mount.fuse.ceph exits 0 even when ceph-fuse failed.
    h.push_command("mount", ok("ceph-fuse[1]: fuse failed to start\n"));
    h.push_command("umount", failed(32, "umount: /srv/state: not mounted.\n"));
    let ceph = [
        ("OCF_RESKEY_fstype", "fuse.ceph"),
        ("OCF_RESKEY_device", "none"),
    ];
    let (code, err) = run(&h, "start", &ceph);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("not mounted on /srv/state"), "{err}");
    assert!(err.contains("fuse failed to start"), "{err}");
    // When it works, mountinfo shows it under ceph-fuse's own type name.
    h.push_command_writing("mount", ok(""), MOUNTINFO, &format!("{BASE}{CEPH}"));
    assert_eq!(run(&h, "start", &ceph).0, OcfExit::Success);
    assert_eq!(run(&h, "monitor", &ceph).0, OcfExit::Success);
}

#[test]
fn deeper_monitors_run_their_tests_in_children() {
    let h = host();
    mounted(&h, EXT4);
    h.push_command("dd", ok(""));
    h.push_command("find", ok(""));
    let (code, err) = run(&h, "monitor", &[("OCF_CHECK_LEVEL", "10")]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(
        runs(&h),
        [
            "dd if=/dev/drbd0 of=/dev/null bs=4096 count=1 iflag=direct status=none",
            "find /srv/state -maxdepth 0 -empty"
        ]
    );
    let token = format!("node1 {} 0\n", std::process::id());
    h.push_command("sh", ok(&token));
    let (code, err) = run(&h, "monitor", &[("OCF_CHECK_LEVEL", "20")]);
    assert_eq!(code, OcfExit::Success, "{err}");
    let last = runs(&h).pop().unwrap();
    assert!(
        last.contains("/srv/state/.Filesystem_status/node1"),
        "{last}"
    );
    assert!(
        last.ends_with("iflag=direct /srv/state/.Filesystem_status"),
        "{last}"
    );
    // A different answer from the file is a failure.
    h.push_command("sh", ok("stale\n"));
    let (code, err) = run(&h, "monitor", &[("OCF_CHECK_LEVEL", "20")]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("read back \"stale\""), "{err}");
}

#[test]
fn a_hung_file_system_fails_the_monitor_within_its_deadline() {
    let h = host();
    h.add_executable("/sbin/mount.fuse.ceph");
    mounted(&h, CEPH);
    // No scripted answer for find: the fake's child never returns (a readdir stuck in D).
    let (code, err) = run(
        &h,
        "monitor",
        &[
            ("OCF_CHECK_LEVEL", "10"),
            ("OCF_RESKEY_fstype", "fuse.ceph"),
            ("OCF_RESKEY_CRM_meta_timeout", "4000"),
        ],
    );
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("did not answer within"), "{err}");
    assert!(
        h.elapsed() <= Duration::from_millis(3600),
        "{:?}",
        h.elapsed()
    );
}

/// A mounted ext4 with holder 500 (cwd inside, ignores SIGTERM), bystander 600 (cwd in a
/// sibling directory with a similar name) and umount answering busy twice.
fn busy_host() -> FakeHost {
    let h = host();
    mounted(&h, EXT4);
    h.add_process(500);
    h.set_process_files(
        500,
        ProcFiles {
            cwd: Some("/srv/state/db".into()),
            ..ProcFiles::default()
        },
    );
    h.add_process(600);
    h.set_process_files(
        600,
        ProcFiles {
            cwd: Some("/srv/state-old".into()),
            fds: vec!["/srv/statefile".into()],
            ..ProcFiles::default()
        },
    );
    h
}

#[test]
fn stop_terms_then_kills_only_the_holders_and_retries() {
    let h = busy_host();
    let busy = failed(32, "umount: /srv/state: target is busy.\n");
    h.push_command("umount", busy.clone());
    h.push_command("umount", busy);
    h.push_command_writing("umount", ok(""), MOUNTINFO, BASE);
    let (code, err) = run(&h, "stop", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(
        signals(&h),
        [(500, Signal::SIGTERM), (500, Signal::SIGKILL)]
    );
    assert!(h.is_alive(600), "the bystander is untouched");
    assert!(
        h.elapsed() >= TERM_GRACE,
        "SIGTERM had its grace: {:?}",
        h.elapsed()
    );
    assert_eq!(
        runs(&h).iter().filter(|r| r.starts_with("umount")).count(),
        3
    );
}

#[test]
fn stop_without_force_signals_nothing_and_fails_before_the_deadline() {
    let h = busy_host();
    h.push_command(
        "umount",
        failed(32, "umount: /srv/state: target is busy.\n"),
    );
    let (code, err) = run(
        &h,
        "stop",
        &[
            ("OCF_RESKEY_force_unmount", "false"),
            ("OCF_RESKEY_CRM_meta_timeout", "5000"),
        ],
    );
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("still mounted at the deadline"), "{err}");
    assert!(err.contains("target is busy"), "{err}");
    assert!(signals(&h).is_empty());
    assert!(
        h.elapsed() <= Duration::from_millis(4500),
        "{:?}",
        h.elapsed()
    );
}

#[test]
fn stop_fails_in_time_when_the_mount_stays_busy_after_its_holders_are_gone() {
    let h = busy_host();
    // Busy for good: a reference no process shows (a loop device backed by a file in it).
    h.push_command(
        "umount",
        failed(32, "umount: /srv/state: target is busy.\n"),
    );
    h.add_process(700);
    h.set_process_files(
        700,
        ProcFiles {
            maps: vec!["/srv/state/lib.so".into()],
            ..ProcFiles::default()
        },
    );
    let (code, err) = run(&h, "stop", &[("OCF_RESKEY_CRM_meta_timeout", "8000")]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("still mounted at the deadline"), "{err}");
    assert!(
        h.elapsed() <= Duration::from_millis(7200),
        "{:?}",
        h.elapsed()
    );
    let sent = signals(&h);
    assert!(
        sent.contains(&(700, Signal::SIGTERM)) && sent.contains(&(700, Signal::SIGKILL)),
        "{sent:?}"
    );
    assert!(!sent.iter().any(|(p, _)| *p == 600));
}

#[test]
fn network_file_systems_are_force_unmounted_only_when_allowed() {
    for (mode, forced) in [("true", true), ("safe", false)] {
        let h = host();
        h.add_executable("/sbin/mount.fuse.ceph");
        mounted(&h, CEPH);
        h.push_command(
            "umount",
            failed(32, "umount: /srv/state: target is busy.\n"),
        );
        h.push_command_writing("umount", ok(""), MOUNTINFO, BASE);
        let (code, err) = run(
            &h,
            "stop",
            &[
                ("OCF_RESKEY_fstype", "fuse.ceph"),
                ("OCF_RESKEY_force_unmount", mode),
            ],
        );
        assert_eq!(code, OcfExit::Success, "{err}");
        assert_eq!(
            runs(&h).iter().any(|r| r == "umount -c -f /srv/state"),
            forced,
            "{mode}: {:?}",
            runs(&h)
        );
    }
}

/// A mounted ceph-fuse on /srv/state with its daemon 900, a ceph-fuse 901 serving another
/// directory, and 902 that names the directory without serving it.
fn fuse_host() -> FakeHost {
    let h = host();
    h.add_executable("/sbin/mount.fuse.ceph");
    mounted(&h, CEPH);
    let fuse = ProcFiles {
        fds: vec!["/dev/null".into(), "/dev/fuse".into()],
        ..ProcFiles::default()
    };
    for (pid, args) in [
        (900, ["ceph-fuse", "/srv/state", "-o", "rw"]),
        (901, ["ceph-fuse", "/srv/other", "-o", "rw"]),
    ] {
        h.add_process(pid);
        h.set_process_args(pid, &args);
        h.set_process_files(pid, fuse.clone());
    }
    h.add_process(902);
    h.set_process_args(902, &["tail", "-f", "/srv/state"]);
    h
}

fn run_fuse(h: &FakeHost, extra: &[(&str, &str)]) -> (OcfExit, String) {
    let mut all = vec![("OCF_RESKEY_fstype", "fuse.ceph")];
    all.extend_from_slice(extra);
    run(h, "stop", &all)
}

#[test]
fn stop_waits_for_the_fuse_daemon_to_exit_after_the_unmount() {
    let h = fuse_host();
    h.push_command_writing("umount", ok(""), MOUNTINFO, BASE);
    h.exits_after(900, Duration::from_millis(1500));
    let (code, err) = run_fuse(&h, &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert!(!h.is_alive(900));
    assert!(
        h.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        h.elapsed()
    );
    assert!(
        signals(&h).is_empty(),
        "a daemon that exits is left to do so"
    );
    assert!(
        h.is_alive(901) && h.is_alive(902),
        "only the mount's daemon"
    );
}

#[test]
fn a_fuse_daemon_that_lingers_gets_sigterm_at_the_graceful_deadline_then_sigkill() {
    // It exits on SIGTERM.
    let h = fuse_host();
    h.push_command_writing("umount", ok(""), MOUNTINFO, BASE);
    h.exits_on(900, Signal::SIGTERM);
    let (code, err) = run_fuse(&h, &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(signals(&h), [(900, Signal::SIGTERM)]);
    // 20 s timeout: 18 s budget, of which 3.6 s are kept for forcing.
    assert!(
        h.elapsed() >= Duration::from_millis(14_400) && h.elapsed() < Duration::from_millis(14_500),
        "{:?}",
        h.elapsed()
    );
    // It ignores SIGTERM: SIGKILL before the deadline.
    let h = fuse_host();
    h.push_command_writing("umount", ok(""), MOUNTINFO, BASE);
    let (code, err) = run_fuse(&h, &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(
        signals(&h),
        [(900, Signal::SIGTERM), (900, Signal::SIGKILL)]
    );
    assert!(h.elapsed() <= Duration::from_secs(18), "{:?}", h.elapsed());
    assert!(h.is_alive(901) && h.is_alive(902));
}

#[test]
fn after_a_forced_unmount_the_fuse_daemon_is_ended_at_once() {
    let h = fuse_host();
    h.push_command(
        "umount",
        failed(32, "umount: /srv/state: target is busy.\n"),
    );
    h.push_command_writing("umount", ok(""), MOUNTINFO, BASE);
    h.exits_on(900, Signal::SIGTERM);
    let (code, err) = run_fuse(&h, &[("OCF_RESKEY_force_unmount", "true")]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert!(runs(&h).iter().any(|r| r == "umount -c -f /srv/state"));
    assert_eq!(signals(&h), [(900, Signal::SIGTERM)]);
    assert!(h.elapsed() < Duration::from_secs(1), "{:?}", h.elapsed());
    // One that ignores SIGTERM gets SIGKILL after FORCED_TERM_GRACE.
    let h = fuse_host();
    h.push_command(
        "umount",
        failed(32, "umount: /srv/state: target is busy.\n"),
    );
    h.push_command_writing("umount", ok(""), MOUNTINFO, BASE);
    let (code, err) = run_fuse(&h, &[("OCF_RESKEY_force_unmount", "true")]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(
        signals(&h),
        [(900, Signal::SIGTERM), (900, Signal::SIGKILL)]
    );
    let t = h.elapsed();
    assert!(t >= FORCED_TERM_GRACE && t < FORCED_TERM_GRACE * 2, "{t:?}");
}

#[test]
fn a_fuse_daemon_that_cannot_be_ended_fails_the_stop_in_time() {
    let h = fuse_host();
    h.push_command_writing("umount", ok(""), MOUNTINFO, BASE);
    h.deny_signals();
    let (code, err) = run_fuse(&h, &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(
        err.contains("FUSE daemon (pid [900]) did not exit"),
        "{err}"
    );
    assert!(
        h.elapsed() <= Duration::from_millis(4500),
        "{:?}",
        h.elapsed()
    );
    // A stop with nothing mounted still ends a daemon left over from an earlier one.
    let h = fuse_host();
    mounted(&h, "");
    h.exits_on(900, Signal::SIGTERM);
    let (code, err) = run_fuse(&h, &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert!(runs(&h).is_empty());
    assert_eq!(signals(&h), [(900, Signal::SIGTERM)]);
}

#[test]
fn validate_checks_this_node_only_when_not_mounted() {
    let h = host();
    assert_eq!(run(&h, "validate-all", &[]).0, OcfExit::Success);
    let (code, _) = run(&h, "validate-all", &[("OCF_RESKEY_device", "/dev/sdz")]);
    assert_eq!(code, OcfExit::ErrInstalled);
    let (code, err) = run(&h, "validate-all", &[("OCF_RESKEY_directory", "")]);
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(err.contains("directory"), "{err}");
    let (code, _) = run(
        &h,
        "validate-all",
        &[
            ("OCF_RESKEY_fstype", "nfs"),
            ("OCF_RESKEY_device", "srv:/export"),
        ],
    );
    assert_eq!(code, OcfExit::ErrInstalled, "no mount.nfs here");
}

#[test]
fn metadata_lists_every_parameter_and_depth() {
    let h = FakeHost::new();
    let env = ocf::OcfEnv::from_vars(Vec::<(String, String)>::new());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = ocf::dispatch::execute(&Filesystem, Some("meta-data"), &env, &h, &mut out, &mut err);
    assert_eq!(code, OcfExit::Success);
    let xml = String::from_utf8(out).unwrap();
    for p in [
        "device",
        "directory",
        "fstype",
        "options",
        "run_fsck",
        "force_unmount",
        "statusfile_prefix",
        "create_directory",
    ] {
        assert!(xml.contains(&format!("<parameter name=\"{p}\"")), "{p}");
    }
    assert!(xml.contains("depth=\"20\""));
}

#[test]
fn holders_stuck_on_a_network_file_system_get_a_forced_unmount_at_once() {
    let h = host();
    h.add_executable("/sbin/mount.fuse.ceph");
    mounted(&h, CEPH);
    // A reader stuck in readdir: its descriptor is under the mount, it sleeps in D.
    h.add_process(800);
    h.set_process_files(
        800,
        ProcFiles {
            fds: vec!["/srv/state".into()],
            ..ProcFiles::default()
        },
    );
    h.set_state(800, 'D');
    h.push_command(
        "umount",
        failed(32, "umount: /srv/state: target is busy.\n"),
    );
    h.push_command_writing("umount", ok(""), MOUNTINFO, BASE);
    let (code, err) = run(&h, "stop", &[("OCF_RESKEY_fstype", "fuse.ceph")]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(
        runs(&h),
        ["umount -c /srv/state", "umount -c -f /srv/state"],
        "no SIGTERM grace for processes no signal can wake"
    );
    assert!(h.elapsed() < Duration::from_secs(1), "{:?}", h.elapsed());
}

#[test]
fn stop_trusts_mountinfo_when_someone_else_unmounted_first() {
    let h = host();
    mounted(&h, EXT4);
    let raced = failed(32, "umount: /srv/state: not mounted.\n");
    h.push_command_writing("umount", raced, MOUNTINFO, BASE);
    let (code, err) = run(&h, "stop", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(runs(&h).len(), 1);
    assert!(signals(&h).is_empty());
}

#[test]
fn a_mount_helper_does_not_stand_in_for_a_missing_kernel_module() {
    let h = host();
    h.add_executable("/sbin/mount.ceph");
    h.push_command("modprobe", failed(1, ""));
    let (code, err) = run(
        &h,
        "start",
        &[
            ("OCF_RESKEY_fstype", "ceph"),
            ("OCF_RESKEY_device", "10.0.0.1:6789:/vol"),
        ],
    );
    assert_eq!(code, OcfExit::ErrInstalled, "{err}");
    assert!(err.contains("the kernel has no ceph file system"), "{err}");
    assert_eq!(runs(&h), ["modprobe -n -q fs-ceph"], "no mount attempted");
}

#[test]
fn refused_permissions_are_4_not_a_generic_failure() {
    // mount(8) run by a user who may not mount.
    let h = host();
    h.push_command("fsck", ok(""));
    h.push_command(
        "mount",
        failed(1, "mount: /srv/state: must be superuser to use mount.\n"),
    );
    let (code, err) = run(&h, "start", &[]);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
    assert!(err.contains("must be superuser"), "{err}");
    // The mount point may not be created here (EACCES).
    let h = host();
    h.add_file("/dev/xvdb", "", 0o660);
    h.deny("/srv/new");
    let extra = [
        ("OCF_RESKEY_directory", "/srv/new"),
        ("OCF_RESKEY_device", "/dev/xvdb"),
        ("OCF_RESKEY_fstype", "xfs"),
    ];
    let (code, err) = run(&h, "start", &extra);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
    assert!(err.contains("cannot create /srv/new: "), "{err}");
    assert!(!runs(&h).iter().any(|r| r.starts_with("mount")), "{err}");
}
