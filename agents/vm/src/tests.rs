//! The agent's logic against the recording fake host and a fake libvirt: no libvirt, QEMU
//! or root.

use std::cell::Cell;
use std::time::Duration;

use nix::sys::signal::Signal;
use ocf::OcfExit;
use ocf::fake::{Call, FakeHost};
use ocf::host::{CommandOutput, Host as _};

use super::Vm;
use super::config::{self, DiskSource};
use super::virt::{DomInfo, DomState, Virt, VirtError};

const CONFIG: &str = "/etc/libvirt/crm/web1.xml";
const XML: &str = "<domain type='kvm'>
  <name>web1</name>
  <memory unit='MiB'>512</memory>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/web1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/srv/iso/install.iso'/><target dev='sda'/><readonly/>
    </disk>
    <disk type='network' device='disk'>
      <source protocol='rbd' name='vms/web1-data'><host name='10.0.0.1'/></source>
      <target dev='vdb'/>
    </disk>
  </devices>
</domain>";
const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:40 / /var/lib/libvirt/images rw - nfs4 10.0.0.2:/vm rw
41 22 0:41 / /srv/iso rw - ext4 /dev/sdb1 rw
42 22 0:42 / /srv/my\\040images rw - fuse.ceph ceph-fuse rw
";

/// A scripted answer to a query, given the virsh commands run so far.
type Answer<'a> = Box<dyn Fn(&[String]) -> Result<Option<DomInfo>, VirtError> + 'a>;

/// Scripted libvirt: `answer` sees the virsh commands run so far.
struct FakeVirt<'a> {
    host: &'a FakeHost,
    answer: Answer<'a>,
    queries: Cell<usize>,
}

impl Virt for FakeVirt<'_> {
    fn domain(
        &self,
        _uri: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<Option<DomInfo>, VirtError> {
        assert_eq!(name, "web1");
        assert!(!timeout.is_zero(), "a query with no time left");
        self.queries.set(self.queries.get() + 1);
        (self.answer)(&virsh_calls(self.host))
    }
}

fn virsh_calls(host: &FakeHost) -> Vec<String> {
    host.calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Run(s) if s.starts_with("virsh ") => Some(s),
            _ => None,
        })
        .collect()
}

fn info(state: DomState) -> Option<DomInfo> {
    Some(DomInfo {
        state,
        vcpus: 2,
        max_mem_kib: 512 * 1024,
        persistent: false,
    })
}

fn agent<'a>(
    host: &'a FakeHost,
    answer: impl Fn(&[String]) -> Result<Option<DomInfo>, VirtError> + 'a,
) -> Vm<FakeVirt<'a>> {
    Vm::new(FakeVirt {
        host,
        answer: Box::new(answer),
        queries: Cell::new(0),
    })
}

fn host() -> FakeHost {
    let h = FakeHost::new();
    h.add_file(CONFIG, XML, 0o644);
    h.add_executable("/usr/bin/virsh");
    h.add_file("/proc/self/mountinfo", MOUNTINFO, 0o444);
    h
}

fn base() -> Vec<(String, String)> {
    [
        ("OCF_RESOURCE_INSTANCE", "vm-web1"),
        ("OCF_RESKEY_config", CONFIG),
        ("OCF_RESKEY_CRM_meta_timeout", "30000"),
        ("HA_RSCTMP", "/run/rsc"),
        ("CRM_LITE_ATTR_DIR", "/run/attrs"),
        ("PATH", "/usr/bin"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn run(
    vm: &Vm<FakeVirt<'_>>,
    host: &FakeHost,
    action: &str,
    extra: &[(&str, &str)],
) -> (OcfExit, String) {
    ocf::fake::run_action(vm, host, base(), action, extra)
}

fn ok() -> CommandOutput {
    CommandOutput {
        code: Some(0),
        ..CommandOutput::default()
    }
}

fn failed(stderr: &str) -> CommandOutput {
    CommandOutput {
        code: Some(1),
        stderr: stderr.into(),
        ..CommandOutput::default()
    }
}

#[test]
fn monitor_maps_libvirt_states() {
    for (state, want) in [
        (info(DomState::Running), OcfExit::Success),
        (info(DomState::Paused), OcfExit::Success),
        (info(DomState::Blocked), OcfExit::Success),
        (info(DomState::ShutOff), OcfExit::NotRunning),
        (None, OcfExit::NotRunning),
        (info(DomState::Crashed), OcfExit::ErrGeneric),
    ] {
        let h = host();
        let vm = agent(&h, move |_| Ok(state));
        let (code, err) = run(&vm, &h, "monitor", &[]);
        assert_eq!(code, want, "{state:?}: {err}");
        assert!(virsh_calls(&h).is_empty(), "monitor spawned virsh");
    }
}

#[test]
fn monitor_publishes_utilization_once() {
    let h = host();
    let vm = agent(&h, |_| Ok(info(DomState::Running)));
    assert_eq!(run(&vm, &h, "monitor", &[]).0, OcfExit::Success);
    assert_eq!(
        h.file("/run/attrs/utilization-vm-web1").as_deref(),
        Some("cpu=2\nhv_memory=512\n")
    );
    let writes = |h: &FakeHost| {
        h.calls()
            .iter()
            .filter(|c| matches!(c, Call::Write(..)))
            .count()
    };
    let before = writes(&h);
    assert_eq!(run(&vm, &h, "monitor", &[]).0, OcfExit::Success);
    assert_eq!(writes(&h), before, "unchanged utilization is not rewritten");
    let (_, _) = run(
        &vm,
        &h,
        "monitor",
        &[
            ("OCF_RESKEY_autoset_utilization_cpu", "false"),
            ("OCF_RESKEY_autoset_utilization_mem", "false"),
        ],
    );
    assert_eq!(writes(&h), before);
}

#[test]
fn monitor_without_libvirtd_checks_the_qemu_process() {
    let h = host();
    let vm = agent(&h, |_| {
        Err(VirtError::Connect(
            "Failed to connect socket to '/run/libvirt/libvirt-sock-ro': Connection refused".into(),
        ))
    });
    assert_eq!(run(&vm, &h, "monitor", &[]).0, OcfExit::NotRunning);
    h.add_file("/run/libvirt/qemu/web1.pid", "4242", 0o600);
    assert_eq!(
        run(&vm, &h, "monitor", &[]).0,
        OcfExit::NotRunning,
        "a stale pid file"
    );
    h.add_process(4242);
    h.add_file(
        "/proc/4242/cmdline",
        "/usr/bin/qemu-system-x86_64\0-name\0guest=web10,debug-threads=on\0",
        0o444,
    );
    assert_eq!(
        run(&vm, &h, "monitor", &[]).0,
        OcfExit::NotRunning,
        "another domain's QEMU under a recycled pid"
    );
    h.add_file(
        "/proc/4242/cmdline",
        "/usr/bin/qemu-system-x86_64\0-name\0guest=web1,debug-threads=on\0",
        0o444,
    );
    assert_eq!(run(&vm, &h, "monitor", &[]).0, OcfExit::Success);
    // A remote hypervisor has no local process to look at: the failure is reported.
    let (code, err) = run(
        &vm,
        &h,
        "monitor",
        &[("OCF_RESKEY_hypervisor", "qemu+tcp://127.0.0.1:16510/system")],
    );
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("cannot connect to libvirt"), "{err}");
}

#[test]
fn a_libvirt_that_hangs_is_bounded_and_falls_back() {
    let h = host();
    let vm = agent(&h, |_| Err(VirtError::Timeout(Duration::from_secs(5))));
    assert_eq!(run(&vm, &h, "monitor", &[]).0, OcfExit::NotRunning);
}

#[test]
fn probes_where_the_configuration_is_missing_say_not_running() {
    let h = FakeHost::new();
    let vm = agent(&h, |_| panic!("no name, no query"));
    let probe = [("OCF_RESKEY_CRM_meta_interval", "0")];
    assert_eq!(run(&vm, &h, "monitor", &probe).0, OcfExit::NotRunning);
    let (code, err) = run(
        &vm,
        &h,
        "monitor",
        &[("OCF_RESKEY_CRM_meta_interval", "10000")],
    );
    assert_eq!(code, OcfExit::ErrInstalled, "{err}");
    assert_eq!(run(&vm, &h, "stop", &[]).0, OcfExit::Success);
    // libvirt itself missing.
    let h = host();
    let vm = agent(&h, |_| {
        Err(VirtError::NotInstalled(
            "libvirt.so.0: cannot open shared object file".into(),
        ))
    });
    assert_eq!(run(&vm, &h, "monitor", &probe).0, OcfExit::NotRunning);
    assert_eq!(run(&vm, &h, "stop", &[]).0, OcfExit::Success);
    assert_eq!(run(&vm, &h, "start", &[]).0, OcfExit::ErrInstalled);
}

#[test]
fn stop_uses_the_name_recorded_at_start_when_the_configuration_is_gone() {
    let h = host();
    h.push_command("virsh", ok());
    let vm = agent(&h, |calls| {
        Ok(if calls.iter().any(|c| c.contains(" create ")) {
            info(DomState::Running)
        } else {
            None
        })
    });
    assert_eq!(run(&vm, &h, "start", &[]).0, OcfExit::Success);
    assert_eq!(
        h.file("/run/rsc/vm-vm-web1.name").as_deref(),
        Some("web1\n")
    );
    h.remove_file(std::path::Path::new(CONFIG)).unwrap();
    let vm = agent(&h, |calls| {
        Ok(if calls.iter().any(|c| c.contains(" shutdown ")) {
            None
        } else {
            info(DomState::Running)
        })
    });
    let (code, err) = run(&vm, &h, "stop", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert!(
        virsh_calls(&h)
            .iter()
            .any(|c| c == "virsh -q -c qemu:///system shutdown web1")
    );
}

#[test]
fn stop_and_probes_answer_without_the_config_parameter() {
    let h = host();
    h.add_file("/run/rsc/vm-vm-web1.name", "web1\n", 0o644);
    h.push_command("virsh", ok());
    let vm = agent(&h, |calls| {
        Ok(if calls.is_empty() {
            info(DomState::Running)
        } else {
            None
        })
    });
    let none = [("OCF_RESKEY_config", ""), ("OCF_RESKEY_force_stop", "true")];
    let (code, err) = run(&vm, &h, "stop", &none);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(virsh_calls(&h), ["virsh -q -c qemu:///system destroy web1"]);
    let probe = [
        ("OCF_RESKEY_config", ""),
        ("OCF_RESKEY_CRM_meta_interval", "0"),
    ];
    assert_eq!(run(&vm, &h, "monitor", &probe).0, OcfExit::NotRunning);
    // A recurring monitor still says what is wrong.
    let recurring = [
        ("OCF_RESKEY_config", ""),
        ("OCF_RESKEY_CRM_meta_interval", "10000"),
    ];
    let (code, err) = run(&vm, &h, "monitor", &recurring);
    assert_eq!(code, OcfExit::ErrConfigured, "{err}");
}

#[test]
fn start_creates_a_transient_domain_and_waits_until_it_runs() {
    let h = host();
    h.push_command("virsh", ok());
    let vm = agent(&h, |calls| {
        Ok(if calls.is_empty() {
            None
        } else {
            info(DomState::Running)
        })
    });
    let (code, err) = run(&vm, &h, "start", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(
        virsh_calls(&h),
        [format!("virsh -q -c qemu:///system create {CONFIG}")]
    );
    assert_eq!(
        h.file("/run/attrs/utilization-vm-web1").as_deref(),
        Some("cpu=2\nhv_memory=512\n")
    );
}

#[test]
fn start_is_idempotent_and_resumes_a_paused_domain() {
    let h = host();
    let vm = agent(&h, |_| Ok(info(DomState::Running)));
    assert_eq!(run(&vm, &h, "start", &[]).0, OcfExit::Success);
    assert!(virsh_calls(&h).is_empty());
    h.push_command("virsh", ok());
    let vm = agent(&h, |calls| {
        Ok(info(if calls.is_empty() {
            DomState::Paused
        } else {
            DomState::Running
        }))
    });
    assert_eq!(run(&vm, &h, "start", &[]).0, OcfExit::Success);
    assert_eq!(virsh_calls(&h), ["virsh -q -c qemu:///system resume web1"]);
}

#[test]
fn start_redefines_and_starts_a_persistent_domain() {
    let h = host();
    h.push_command("virsh", ok());
    let vm = agent(&h, |calls| {
        let mut i = info(if calls.len() < 2 {
            DomState::ShutOff
        } else {
            DomState::Running
        });
        if let Some(i) = i.as_mut() {
            i.persistent = true;
        }
        Ok(i)
    });
    assert_eq!(run(&vm, &h, "start", &[]).0, OcfExit::Success);
    assert_eq!(
        virsh_calls(&h),
        [
            format!("virsh -q -c qemu:///system define {CONFIG}"),
            "virsh -q -c qemu:///system start web1".to_string()
        ]
    );
}

#[test]
fn start_reports_virsh_errors_and_a_guest_that_dies_at_once() {
    let h = host();
    h.push_command(
        "virsh",
        failed("error: Failed to create domain from x.xml\nerror: Cannot access storage file '/var/lib/libvirt/images/web1.qcow2': No such file or directory\n"),
    );
    let vm = agent(&h, |_| Ok(None));
    let (code, err) = run(&vm, &h, "start", &[]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("Cannot access storage file"), "{err}");
    let h = host();
    h.push_command("virsh", ok());
    let vm = agent(&h, |_| Ok(None));
    let (code, err) = run(&vm, &h, "start", &[]);
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("is gone"), "{err}");
    assert!(
        h.elapsed() < Duration::from_secs(30),
        "start outlived its timeout"
    );
}

#[test]
fn bad_configuration_is_6_and_a_missing_one_5() {
    let h = host();
    h.add_file(CONFIG, "<domain><memory>1</memory></domain>", 0o644);
    let vm = agent(&h, |_| Ok(None));
    let (code, err) = run(&vm, &h, "validate-all", &[]);
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(err.contains("no <name>"), "{err}");
    h.add_file(CONFIG, "<network><name>x</name></network>", 0o644);
    assert_eq!(run(&vm, &h, "start", &[]).0, OcfExit::ErrConfigured);
    let (code, err) = run(&vm, &h, "start", &[("OCF_RESKEY_config", "/nowhere.xml")]);
    assert_eq!(code, OcfExit::ErrInstalled);
    assert!(err.contains("/nowhere.xml"), "{err}");
    let (code, err) = run(&vm, &h, "start", &[("OCF_RESKEY_config", "web1.xml")]);
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(err.contains("parameter config"), "{err}");
}

#[test]
fn shared_storage_is_required_only_when_asked() {
    let h = host();
    let vm = agent(&h, |_| Ok(None));
    assert_eq!(run(&vm, &h, "validate-all", &[]).0, OcfExit::Success);
    let shared = [("OCF_RESKEY_require_shared_storage", "true")];
    // vda is on NFS, the CD-ROM is read-only, vdb is RBD: all fine.
    assert_eq!(run(&vm, &h, "validate-all", &shared).0, OcfExit::Success);
    h.add_file(
        CONFIG,
        &XML.replace("/var/lib/libvirt/images/web1.qcow2", "/srv/iso/web1.qcow2"),
        0o644,
    );
    let (code, err) = run(&vm, &h, "start", &shared);
    assert_eq!(code, OcfExit::ErrConfigured);
    assert!(
        err.contains("vda is /srv/iso/web1.qcow2 on local ext4"),
        "{err}"
    );
    assert!(virsh_calls(&h).is_empty(), "a refused start ran virsh");
}

#[test]
fn graceful_stop_waits_for_the_guest_to_power_off() {
    let h = host();
    h.push_command("virsh", ok());
    let vm = agent(&h, |calls| {
        Ok(if calls.is_empty() {
            info(DomState::Running)
        } else {
            None
        })
    });
    assert_eq!(run(&vm, &h, "stop", &[]).0, OcfExit::Success);
    assert_eq!(
        virsh_calls(&h),
        ["virsh -q -c qemu:///system shutdown web1"]
    );
}

#[test]
fn a_guest_that_ignores_acpi_is_destroyed_before_the_deadline() {
    let h = host();
    h.push_command("virsh", ok());
    let vm = agent(&h, |calls| {
        Ok(if calls.iter().any(|c| c.ends_with("destroy web1")) {
            None
        } else {
            info(DomState::Running)
        })
    });
    let (code, err) = run(&vm, &h, "stop", &[]);
    assert_eq!(code, OcfExit::Success, "{err}");
    let calls = virsh_calls(&h);
    let (last, shutdowns) = calls.split_last().unwrap();
    assert_eq!(last, "virsh -q -c qemu:///system destroy web1");
    // Repeated every 5 s over the 22 s graceful phase: a press during boot is lost.
    assert_eq!(shutdowns.len(), 5, "{calls:?}");
    assert!(
        shutdowns
            .iter()
            .all(|c| c == "virsh -q -c qemu:///system shutdown web1")
    );
    // 30 s timeout: 27 s budget, destroy at 27 - 5 = 22 s.
    let t = h.elapsed();
    assert!(
        t >= Duration::from_secs(21) && t < Duration::from_secs(27),
        "{t:?}"
    );

    // shutdown_timeout shortens the graceful phase; force_stop skips it.
    let h = host();
    h.push_command("virsh", ok());
    let vm = agent(&h, |calls| {
        Ok(if calls.iter().any(|c| c.ends_with("destroy web1")) {
            None
        } else {
            info(DomState::Running)
        })
    });
    run(&vm, &h, "stop", &[("OCF_RESKEY_shutdown_timeout", "3")]);
    assert!(h.elapsed() < Duration::from_secs(4), "{:?}", h.elapsed());
    let h = host();
    h.push_command("virsh", ok());
    let vm = agent(&h, |calls| {
        Ok(if calls.is_empty() {
            info(DomState::Running)
        } else {
            None
        })
    });
    assert_eq!(
        run(&vm, &h, "stop", &[("OCF_RESKEY_force_stop", "true")]).0,
        OcfExit::Success
    );
    assert_eq!(virsh_calls(&h), ["virsh -q -c qemu:///system destroy web1"]);
}

#[test]
fn stop_is_idempotent_and_a_domain_vanishing_midway_is_stopped() {
    let h = host();
    let vm = agent(&h, |_| Ok(None));
    assert_eq!(run(&vm, &h, "stop", &[]).0, OcfExit::Success);
    let vm = agent(&h, |_| Ok(info(DomState::ShutOff)));
    assert_eq!(run(&vm, &h, "stop", &[]).0, OcfExit::Success);
    assert!(virsh_calls(&h).is_empty());
    // libvirt 9's wording when a transient domain powers off under virsh's feet.
    h.push_command(
        "virsh",
        failed("error: Failed to shutdown domain 'web1'\nerror: domain not found: no domain with matching uuid 'c0ffee00-0000-4000-8000-000000000001' (web1)\n"),
    );
    let vm = agent(&h, |_| Ok(info(DomState::Running)));
    assert_eq!(run(&vm, &h, "stop", &[]).0, OcfExit::Success);
}

#[test]
fn stop_without_libvirtd_ends_the_qemu_process() {
    let h = host();
    h.add_file("/run/libvirt/qemu/web1.pid", "4242\n", 0o600);
    h.add_process(4242);
    h.add_file(
        "/proc/4242/cmdline",
        "qemu-system-x86_64\0-name\0guest=web1,debug-threads=on\0",
        0o444,
    );
    h.exits_on(4242, Signal::SIGTERM);
    let vm = agent(&h, |_| Err(VirtError::Connect("connection refused".into())));
    assert_eq!(run(&vm, &h, "stop", &[]).0, OcfExit::Success);
    assert!(!h.is_alive(4242));
    assert!(h.calls().contains(&Call::Signal(4242, Signal::SIGTERM)));
}

#[test]
fn sync_config_on_stop_writes_the_running_definition_back() {
    let h = host();
    let dumped =
        "<domain type='kvm'><name>web1</name><memory unit='KiB'>1048576</memory></domain>\n";
    h.push_command(
        "virsh",
        CommandOutput {
            code: Some(0),
            stdout: dumped.into(),
            ..CommandOutput::default()
        },
    );
    let vm = agent(&h, |calls| {
        Ok(if calls.len() < 2 {
            info(DomState::Running)
        } else {
            None
        })
    });
    let on = [("OCF_RESKEY_sync_config_on_stop", "true")];
    assert_eq!(run(&vm, &h, "stop", &on).0, OcfExit::Success);
    assert_eq!(h.file(CONFIG).as_deref(), Some(dumped));
    assert_eq!(
        virsh_calls(&h)[0],
        "virsh -q -c qemu:///system dumpxml --migratable web1"
    );
}

#[test]
fn migrate_to_substitutes_the_target_node() {
    let h = host();
    h.push_command("virsh", ok());
    let vm = agent(&h, |_| Ok(info(DomState::Running)));
    let (code, err) = run(&vm, &h, "migrate_to", &[]);
    assert_eq!(code, OcfExit::ErrArgs, "{err}");
    let (code, err) = run(
        &vm,
        &h,
        "migrate_to",
        &[
            ("OCF_RESKEY_CRM_meta_migrate_target", "node2"),
            ("OCF_RESKEY_migrateuri", "tcp://%n-mig"),
            ("OCF_RESKEY_migrate_options", "--unsafe  --compressed"),
        ],
    );
    assert_eq!(code, OcfExit::Success, "{err}");
    assert_eq!(
        virsh_calls(&h),
        [
            "virsh -q -c qemu:///system migrate --live --unsafe --compressed web1 qemu+ssh://node2/system tcp://node2-mig"
        ]
    );
    let h = host();
    h.push_command(
        "virsh",
        failed("error: operation failed: migration out job: unexpectedly failed\n"),
    );
    let vm = agent(&h, |_| Ok(info(DomState::Running)));
    let (code, err) = run(
        &vm,
        &h,
        "migrate_to",
        &[
            ("OCF_RESKEY_CRM_meta_migrate_target", "node2"),
            ("OCF_RESKEY_remote_uri", "qemu+tcp://%n:16510/system"),
        ],
    );
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("qemu+tcp://node2:16510/system"), "{err}");
    assert!(err.contains("unexpectedly failed"), "{err}");
    // Nothing running here: nothing to migrate.
    let vm = agent(&h, |_| Ok(None));
    let (code, _) = run(
        &vm,
        &h,
        "migrate_to",
        &[("OCF_RESKEY_CRM_meta_migrate_target", "n2")],
    );
    assert_eq!(code, OcfExit::ErrGeneric);
}

#[test]
fn migrate_from_waits_for_the_domain_to_run_here() {
    let h = host();
    let vm = agent(&h, |_| Ok(info(DomState::Running)));
    assert_eq!(run(&vm, &h, "migrate_from", &[]).0, OcfExit::Success);
    assert_eq!(
        h.file("/run/rsc/vm-vm-web1.name").as_deref(),
        Some("web1\n")
    );
    let h = host();
    let vm = agent(&h, |_| Ok(None));
    let (code, err) = run(
        &vm,
        &h,
        "migrate_from",
        &[("OCF_RESKEY_CRM_meta_timeout", "5000")],
    );
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("does not exist here"), "{err}");
    assert!(h.elapsed() <= Duration::from_secs(5));
}

#[test]
fn depth_10_pings_the_guest_agent_when_asked() {
    let h = host();
    h.push_command(
        "virsh",
        failed("error: Guest agent is not responding: QEMU guest agent is not connected\n"),
    );
    let vm = agent(&h, |_| Ok(info(DomState::Running)));
    let deep = [("OCF_CHECK_LEVEL", "10")];
    assert_eq!(run(&vm, &h, "monitor", &deep).0, OcfExit::Success);
    assert!(virsh_calls(&h).is_empty());
    let (code, err) = run(
        &vm,
        &h,
        "monitor",
        &[
            ("OCF_CHECK_LEVEL", "10"),
            ("OCF_RESKEY_monitor_guest_agent", "true"),
        ],
    );
    assert_eq!(code, OcfExit::ErrGeneric);
    assert!(err.contains("guest agent"), "{err}");
    assert!(virsh_calls(&h)[0].contains("qemu-agent-command web1 {\"execute\":\"guest-ping\"}"));
}

#[test]
fn utilization_under_pacemaker_goes_through_crm_resource() {
    let h = host();
    h.push_command(
        "crm_resource",
        CommandOutput {
            code: Some(6),
            ..CommandOutput::default()
        },
    );
    let vm = agent(&h, |_| Ok(info(DomState::Running)));
    let (code, _) = run(
        &vm,
        &h,
        "monitor",
        &[
            ("CRM_LITE_ATTR_DIR", ""),
            ("OCF_RESKEY_crm_feature_set", "3.16.2"),
        ],
    );
    assert_eq!(
        code,
        OcfExit::Success,
        "utilization failures never fail the monitor"
    );
    let calls: Vec<String> = h
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Run(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls[..2],
        [
            "crm_resource --resource vm-web1 --utilization --get-parameter cpu --quiet",
            "crm_resource --resource vm-web1 --utilization --set-parameter cpu --parameter-value 2"
        ]
    );
}

#[test]
fn domain_xml_yields_the_name_and_the_writable_disks() {
    let d = config::parse_domain(XML).unwrap();
    assert_eq!(d.name, "web1");
    assert_eq!(d.disks.len(), 3);
    assert_eq!(
        d.disks[0].source,
        DiskSource::File("/var/lib/libvirt/images/web1.qcow2".into())
    );
    assert!(d.disks[1].readonly);
    assert_eq!(d.disks[2].source, DiskSource::Network("rbd".into()));
    assert!(config::parse_domain("<domain><name>").is_err());
    assert!(config::parse_domain("not xml at all").is_err());
    let mounts = config::parse_mounts(MOUNTINFO);
    assert_eq!(
        config::fs_type_of(&mounts, std::path::Path::new("/srv/my images/a.qcow2")),
        Some("fuse.ceph")
    );
    assert_eq!(
        config::fs_type_of(&mounts, std::path::Path::new("/srv/isofoo/a")),
        Some("ext4")
    );
}

#[test]
fn no_domain_is_recognised_in_every_libvirt_wording() {
    for m in [
        // libvirt 9.0 (Debian 12), virsh's own lookup failure.
        "error: failed to get domain 'web1'",
        // libvirt 9.0, a transient domain that vanished during the call.
        "error: domain not found: no domain with matching uuid 'c0ffee00-0000-4000-8000-000000000001' (web1)",
        // libvirt 1.x–6.x (CentOS 7, Debian 10/11).
        "error: failed to get domain 'web1'\nerror: Domain not found: no domain with matching name 'web1'",
        // libvirt 0.x.
        "error: Domain not found: no domain with matching name 'web1'",
    ] {
        assert!(config::says_no_domain(m), "{m}");
    }
    for m in [
        "error: failed to connect to the hypervisor",
        "error: Requested operation is not valid: domain is not running",
    ] {
        assert!(!config::says_no_domain(m), "{m}");
    }
}

#[test]
fn qemu_command_lines_are_matched_by_the_exact_domain_name() {
    let line =
        |n: &str| format!("/usr/bin/qemu-system-x86_64\0-name\0guest={n},debug-threads=on\0-S\0");
    assert!(config::cmdline_is_domain(&line("web1"), "web1"));
    assert!(!config::cmdline_is_domain(&line("web10"), "web1"));
    assert!(!config::cmdline_is_domain(&line("web"), "web1"));
    assert!(config::cmdline_is_domain(&line("a,,b"), "a,b"));
    assert!(!config::cmdline_is_domain(&line("a,,b"), "a"));
    assert!(config::cmdline_is_domain("qemu\0-name\0web1\0", "web1"));
    assert!(!config::cmdline_is_domain("bash\0-c\0web1\0", "web1"));
}

#[test]
fn a_libvirt_socket_this_user_may_not_open_is_4() {
    let h = host();
    let vm = agent(&h, |_| {
        Err(VirtError::Connect(
            "Failed to connect socket to '/run/libvirt/libvirt-sock': Permission denied".into(),
        ))
    });
    let (code, err) = run(&vm, &h, "start", &[]);
    assert_eq!(code, OcfExit::ErrPerm, "{err}");
    assert!(err.contains("Permission denied"), "{err}");
}
