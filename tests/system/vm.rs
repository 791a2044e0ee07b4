//! `ocf:crm-lite:vm` against real libvirt 9 and QEMU 7.2: a tiny Linux guest under TCG that
//! powers off on the ACPI button, OS-less guests that ignore it, two libvirtd instances
//! (the second in its own mount namespace with its own host UUID, on
//! qemu+tcp://127.0.0.1:16510) for live migration. `scripts/vm-lab.sh up` installs and
//! starts all of it; the tests run one at a time (one of them kills libvirtd).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tests::{Agent, Outcome, built, is_root, require, wait_for};

const URI1: &str = "qemu:///system";
const URI2: &str = "qemu+tcp://127.0.0.1:16510/system";
/// The local daemon through libvirt's C library (the wire client leaves ?socket= URIs to it).
const LIB_URI: &str = "qemu+unix:///system?socket=/run/libvirt/libvirt-sock-ro";
/// Where `scripts/vm-lab.sh` builds the tiny guest and keeps its daemons' pid files.
const GUEST: &str = "/var/cache/crm-lite-test/vm-guest";
const LIBVIRTD_PID: &str = "/run/crm-lite-test/vm-lab/libvirtd.pid";

fn lab_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scripts/vm-lab.sh")
}

fn lab_up() -> Result<(), String> {
    let out = Command::new(lab_script())
        .arg("up")
        .output()
        .map_err(|e| format!("cannot run scripts/vm-lab.sh: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "scripts/vm-lab.sh up failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The lab, brought up once; the guard serialises the tests.
fn lab() -> Option<MutexGuard<'static, ()>> {
    static LOCK: Mutex<()> = Mutex::new(());
    static UP: OnceLock<Result<(), String>> = OnceLock::new();
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    require(built("vm").is_some(), "target/<profile>/vm is not built").ok()?;
    require(is_root(), "not root (libvirt's system daemon needs root)").ok()?;
    let up = UP.get_or_init(lab_up);
    require(up.is_ok(), up.as_ref().err().map_or("", String::as_str)).ok()?;
    Some(guard)
}

fn virsh(uri: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("virsh")
        .args(["-q", "-c", uri])
        .args(args)
        .output()
        .expect("run virsh");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn domstate(uri: &str, name: &str) -> Option<String> {
    let (ok, out) = virsh(uri, &["domstate", name]);
    ok.then(|| out.trim().to_string())
}

/// A domain definition in a temp dir, the agents for it, and a guard that destroys the
/// domain on both daemons whatever happens.
struct Dom {
    name: String,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Dom {
    /// The tiny Linux guest (TCG), with its serial console in `console.log`.
    fn tiny(name: &str) -> Dom {
        Dom::new(
            name,
            &format!(
                "<domain type='qemu'><name>{name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{GUEST}/vmlinuz</kernel>
    <initrd>{GUEST}/initrd.gz</initrd><cmdline>console=ttyS0 panic=-1 quiet</cmdline></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='@DIR@/console.log'/><target port='0'/></serial>
    <memballoon model='none'/></devices></domain>"
            ),
        )
    }

    /// A guest with no OS: firmware only, it ignores the ACPI button. `disk` adds a qcow2
    /// disk on local storage.
    fn bare(name: &str, disk: bool) -> Dom {
        let disk = if disk {
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
               <source file='@DIR@/disk.qcow2'/><target dev='vda' bus='virtio'/></disk>"
        } else {
            ""
        };
        Dom::new(
            name,
            &format!(
                "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><features><acpi/></features>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>{disk}<memballoon model='none'/></devices>
</domain>"
            ),
        )
    }

    fn new(name: &str, xml: &str) -> Dom {
        let dir = tempfile::tempdir().expect("temp dir");
        // QEMU runs as libvirt-qemu and must reach the console file.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod temp dir");
        let config = dir.path().join(format!("{name}.xml"));
        let xml = xml.replace("@DIR@", &dir.path().display().to_string());
        std::fs::write(&config, xml).expect("write domain XML");
        for uri in [URI1, URI2] {
            virsh(uri, &["destroy", name]);
        }
        Dom {
            name: name.into(),
            dir,
            config,
        }
    }

    /// The agent for this domain on the daemon at `uri`, with its own runtime directory.
    fn agent(&self, uri: &str, rsctmp: &str, params: &[(&str, &str)]) -> Agent {
        let rt = self.dir.path().join(rsctmp);
        std::fs::create_dir_all(&rt).expect("runtime dir");
        let config = self.config.display().to_string();
        let mut all = vec![("config", config.as_str()), ("hypervisor", uri)];
        all.extend_from_slice(params);
        let mut a = Agent::new(&built("vm").expect("vm built"), "vm-test", &all);
        a.env.insert("HA_RSCTMP".into(), rt.display().to_string());
        a.env.insert(
            "CRM_LITE_ATTR_DIR".into(),
            rt.join("attrs").display().to_string(),
        );
        a.env
            .insert("OCF_RESKEY_CRM_meta_timeout".into(), "30000".into());
        a
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("console.log")).unwrap_or_default()
    }
}

impl Drop for Dom {
    fn drop(&mut self) {
        for uri in [URI1, URI2] {
            virsh(uri, &["destroy", &self.name]);
        }
    }
}

fn ok(o: &Outcome, what: &str) {
    assert_eq!(o.code, 0, "{what}: {o:?}");
}

fn probe(a: &Agent) -> Outcome {
    a.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")])
}

#[test]
fn vm_lifecycle_with_a_guest_that_powers_off_on_acpi() {
    let Some(_lab) = lab() else { return };
    let d = Dom::tiny("crmlite-t-life");
    let a = d.agent(URI1, "n1", &[]);
    assert_eq!(probe(&a).code, 7, "probe before start");
    ok(&a.run("validate-all"), "validate-all");
    let start = a.run("start");
    ok(&start, "start");
    assert_eq!(domstate(URI1, &d.name).as_deref(), Some("running"));
    let m = a.run("monitor");
    ok(&m, "monitor");
    assert!(
        m.took < Duration::from_millis(500),
        "monitor took {:?}",
        m.took
    );
    ok(&a.run("start"), "second start");
    // The same answer through libvirt.so.0, which a ?socket= URI forces.
    let lib = [("OCF_RESKEY_hypervisor", LIB_URI)];
    ok(&a.run_with("monitor", &lib), "monitor through libvirt.so.0");
    // utilization published for crm-lite: 1 vCPU, 128 MiB.
    let util = std::fs::read_to_string(d.dir.path().join("n1/attrs/utilization-vm-test"))
        .expect("utilization file");
    assert_eq!(util, "cpu=1\nhv_memory=128\n");
    // Stop right after start too: the agent repeats the ACPI request until the guest's
    // acpid runs. The guest itself powers off (its console says so), long before the
    // 30 s timeout's graceful phase ends.
    let stop = a.run("stop");
    ok(&stop, "graceful stop");
    assert!(
        d.console().contains("power button, powering off"),
        "the guest did not power off by itself: {}",
        d.console()
    );
    assert!(
        stop.took < Duration::from_secs(20),
        "stop took {:?}",
        stop.took
    );
    assert_eq!(domstate(URI1, &d.name), None, "a transient domain is gone");
    ok(&a.run("stop"), "second stop");
    assert_eq!(a.run("monitor").code, 7);
    assert_eq!(probe(&a).code, 7);
    let m = a.run_with("monitor", &lib);
    assert_eq!(m.code, 7, "no such domain through libvirt.so.0: {m:?}");
}

#[test]
fn vm_a_guest_that_ignores_acpi_is_destroyed_in_time() {
    let Some(_lab) = lab() else { return };
    let d = Dom::bare("crmlite-t-force", false);
    let a = d.agent(URI1, "n1", &[("shutdown_timeout", "2")]);
    ok(&a.run("start"), "start");
    let stop = a.run("stop");
    ok(&stop, "stop");
    assert!(
        stop.took >= Duration::from_secs(2) && stop.took < Duration::from_secs(10),
        "stop took {:?}",
        stop.took
    );
    assert_eq!(domstate(URI1, &d.name), None);
    // force_stop: destroy at once.
    let a = d.agent(URI1, "n1", &[("force_stop", "true")]);
    ok(&a.run("start"), "start");
    let stop = a.run("stop");
    ok(&stop, "forced stop");
    assert!(
        stop.took < Duration::from_secs(5),
        "stop took {:?}",
        stop.took
    );
    assert_eq!(a.run("monitor").code, 7);
    // Without shutdown_timeout, a 20 s stop timeout (Pacemaker's default) still answers in
    // time: the agent keeps a fifth of it, 4 s, for the destroy. (With 12 s, 2.4 s were
    // kept, and a loaded CI machine once took longer than that to destroy the guest.)
    ok(&a.run("start"), "start");
    let a = d.agent(URI1, "n1", &[]);
    let stop = a.run_with("stop", &[("OCF_RESKEY_CRM_meta_timeout", "20000")]);
    ok(&stop, "stop within 20 s");
    assert!(
        stop.took < Duration::from_secs(20),
        "stop took {:?}",
        stop.took
    );
    assert_eq!(domstate(URI1, &d.name), None);
}

#[test]
fn vm_monitor_answers_while_libvirtd_is_down() {
    let Some(_lab) = lab() else { return };
    let Ok(()) = require(
        Path::new(LIBVIRTD_PID).exists(),
        "libvirtd was not started by scripts/vm-lab.sh (an outside libvirtd is never killed)",
    ) else {
        return;
    };
    let d = Dom::bare("crmlite-t-down", false);
    let a = d.agent(URI1, "n1", &[("force_stop", "true")]);
    ok(&a.run("start"), "start");
    let other = Dom::bare("crmlite-t-never", false);
    let b = other.agent(URI1, "n1", &[]);
    let pid: i32 = std::fs::read_to_string(LIBVIRTD_PID)
        .expect("libvirtd pid file")
        .trim()
        .parse()
        .expect("pid");
    let libvirtd = nix::unistd::Pid::from_raw(pid);
    // A hung libvirtd (stopped: it accepts connections but never answers) holds the
    // monitor only for its deadline; then the QEMU process decides.
    nix::sys::signal::kill(libvirtd, nix::sys::signal::SIGSTOP).expect("stop libvirtd");
    let hung = a.run_with("monitor", &[("OCF_RESKEY_CRM_meta_timeout", "3000")]);
    nix::sys::signal::kill(libvirtd, nix::sys::signal::SIGCONT).expect("continue libvirtd");
    assert_eq!(hung.code, 0, "monitor with libvirtd hung: {hung:?}");
    assert!(hung.took < Duration::from_secs(3), "took {:?}", hung.took);
    nix::sys::signal::kill(libvirtd, nix::sys::signal::SIGKILL).expect("kill libvirtd");
    assert!(wait_for(Duration::from_secs(5), || !tests::alive(pid)));
    let result = std::panic::catch_unwind(|| {
        for _ in 0..3 {
            let m = a.run("monitor");
            assert_eq!(
                m.code, 0,
                "monitor of a running guest, libvirtd down: {m:?}"
            );
            assert!(m.took < Duration::from_millis(300), "took {:?}", m.took);
        }
        let m = b.run("monitor");
        assert_eq!(m.code, 7, "a domain that never ran, libvirtd down: {m:?}");
        assert!(m.took < Duration::from_millis(300), "took {:?}", m.took);
    });
    // libvirtd back (it finds the running QEMU again), whatever the assertions said.
    let up = lab_up();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    up.expect("libvirtd restarts");
    ok(&a.run("monitor"), "monitor after libvirtd restarted");
    ok(&a.run("stop"), "stop");
    assert_eq!(a.run("monitor").code, 7);
}

#[test]
fn vm_live_migration_between_two_libvirtds() {
    let Some(_lab) = lab() else { return };
    let d = Dom::bare("crmlite-t-mig", false);
    let migrate = [
        ("remote_uri", "qemu+tcp://%n:16510/system"),
        ("migrateuri", "tcp://%n"),
        ("force_stop", "true"),
    ];
    let src = d.agent(URI1, "n1", &migrate);
    let dst = d.agent(URI2, "n2", &migrate);
    ok(&src.run("start"), "start on the source");
    assert_eq!(dst.run("monitor").code, 7);
    let meta = [
        ("OCF_RESKEY_CRM_meta_migrate_source", "node1"),
        ("OCF_RESKEY_CRM_meta_migrate_target", "127.0.0.1"),
    ];
    let t0 = Instant::now();
    ok(&src.run_with("migrate_to", &meta), "migrate_to");
    ok(&dst.run_with("migrate_from", &meta), "migrate_from");
    let took = t0.elapsed();
    assert_eq!(src.run("monitor").code, 7, "source after migration");
    ok(&dst.run("monitor"), "target after migration");
    assert_eq!(domstate(URI2, &d.name).as_deref(), Some("running"));
    assert_eq!(domstate(URI1, &d.name), None);
    assert!(took < Duration::from_secs(30), "migration took {took:?}");
    // Migrating something that is not running here fails with a reason.
    let again = src.run_with("migrate_to", &meta);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.reason().unwrap_or("").contains("does not run here"));
    ok(&dst.run("stop"), "stop on the target");
    assert_eq!(dst.run("monitor").code, 7);
}

#[test]
fn vm_require_shared_storage_refuses_a_local_disk() {
    let Some(_lab) = lab() else { return };
    let d = Dom::bare("crmlite-t-local", true);
    let a = d.agent(URI1, "n1", &[("require_shared_storage", "true")]);
    let v = a.run("validate-all");
    assert_eq!(v.code, 6, "{v:?}");
    let s = a.run("start");
    assert_eq!(s.code, 6, "{s:?}");
    let reason = s.reason().unwrap_or("");
    assert!(
        reason.contains("vda is") && reason.contains("disk.qcow2"),
        "{reason}"
    );
    assert_eq!(
        domstate(URI1, &d.name),
        None,
        "a refused domain was started"
    );
    let plain = d.agent(URI1, "n1", &[]);
    ok(
        &plain.run("validate-all"),
        "validate-all without the requirement",
    );
}

#[test]
fn vm_passes_ocf_tester() {
    let Some(_lab) = lab() else { return };
    let Ok(()) = require(tests::have("ocf-tester"), "ocf-tester is not installed") else {
        return;
    };
    let d = Dom::bare("crmlite-t-ocft", false);
    let mut a = d.agent(URI1, "n1", &[("force_stop", "true")]);
    // ocf-tester passes parameters with -o only; the runtime directory comes from HA_RSCTMP
    // of its own environment, which it does not pass on: drop ours.
    a.env.retain(|k, _| k.starts_with("OCF_RESKEY_"));
    a.env.remove("OCF_RESKEY_CRM_meta_timeout");
    let text = tests::ocf_tester(&a, "vm-test");
    assert!(text.contains("passed all tests"), "{text}");
    assert_eq!(domstate(URI1, &d.name), None, "ocf-tester left it running");
}

#[test]
fn vm_metadata_validates() {
    let Some(agent) = built("vm") else {
        let _ = require(false, "target/<profile>/vm is not built");
        return;
    };
    let a = Agent::new(&agent, "vm-test", &[]);
    let Ok(md) = tests::validated_metadata(&a) else {
        return;
    };
    for p in [
        "config",
        "hypervisor",
        "force_stop",
        "shutdown_timeout",
        "migration_transport",
        "migrateuri",
        "migrate_options",
        "remote_uri",
        "sync_config_on_stop",
        "autoset_utilization_cpu",
        "autoset_utilization_mem",
        "require_shared_storage",
    ] {
        assert!(md.contains(&format!("<parameter name=\"{p}\"")), "{p}");
    }
    assert!(md.contains("name=\"migrate_to\"") && md.contains("name=\"migrate_from\""));
}
