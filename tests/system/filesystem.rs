//! `ocf:crm-lite:filesystem` with real mounts: ext4 and xfs on loop devices this test
//! creates, tmpfs, a bind mount, a busy mount with real holders, `ocf-tester`, a FUSE file
//! system whose server stops answering, and CephFS through ceph-fuse on a throw-away
//! single-node Ceph whose MDS is then killed. Everything needs root; each test cleans up
//! only the mounts, loop devices and daemons it made.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tests::{Agent, Outcome, alive, built, have, is_root, require, wait_for};

/// A temp dir with the loop devices and mount points one test made; on drop it detaches
/// the mounts under it (lazily, so a hung one cannot block) and its loop devices.
struct Scratch {
    dir: tempfile::TempDir,
    loops: Vec<String>,
}

/// Whether mountinfo lists a mount on `dir` (read from /proc only: never stats `dir`).
fn is_mounted(dir: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == dir.to_str())
}

impl Scratch {
    fn new(tools: &[&str]) -> Option<Scratch> {
        let Ok(()) = require(is_root(), "mounting needs root") else {
            return None;
        };
        let Ok(()) = require(
            built("filesystem").is_some(),
            "target/<profile>/filesystem is not built (run cargo build --workspace)",
        ) else {
            return None;
        };
        for tool in tools {
            let Ok(()) = require(have(tool), &format!("{tool} is not installed")) else {
                return None;
            };
        }
        Some(Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
            loops: Vec::new(),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A fresh file system of `fstype` on a new loop device over an image file here.
    fn loop_device(&mut self, fstype: &str, size_mb: u64) -> String {
        let img = self.path(&format!("{fstype}.img"));
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(size_mb << 20).unwrap();
        drop(f);
        let mkfs = Command::new(format!("mkfs.{fstype}"))
            .args(if fstype == "xfs" {
                ["-q", "-f"]
            } else {
                ["-q", "-F"]
            })
            .arg(&img)
            .output()
            .unwrap();
        assert!(mkfs.status.success(), "mkfs.{fstype}: {mkfs:?}");
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&img)
            .output()
            .unwrap();
        assert!(out.status.success(), "losetup: {out:?}");
        let dev = String::from_utf8(out.stdout).unwrap().trim().to_string();
        self.loops.push(dev.clone());
        dev
    }

    fn agent(&self, params: &[(&str, &str)]) -> Agent {
        Agent::new(&built("filesystem").unwrap(), "fs", params)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let base = self.dir.path().to_path_buf();
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut ours: Vec<PathBuf> = text
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .map(PathBuf::from)
            .filter(|p| p.starts_with(&base))
            .collect();
        ours.reverse();
        for m in ours {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
        for dev in &self.loops {
            let _ = Command::new("losetup").arg("-d").arg(dev).status();
        }
    }
}

fn check(o: &Outcome, code: i32, what: &str) {
    assert_eq!(o.code, code, "{what}: {o:?}");
    assert!(o.stdout.is_empty(), "{what} wrote to stdout: {o:?}");
}

/// The whole life of one resource: validate, probe, start twice, monitor at every depth,
/// stop twice.
fn lifecycle(a: &Agent, dir: &Path) {
    check(&a.run("validate-all"), 0, "validate-all");
    check(
        &a.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")]),
        7,
        "probe",
    );
    check(&a.run("start"), 0, "start");
    assert!(is_mounted(dir), "mounted after start");
    check(&a.run("start"), 0, "start again");
    for level in ["0", "10", "20"] {
        check(
            &a.run_with("monitor", &[("OCF_CHECK_LEVEL", level)]),
            0,
            &format!("monitor depth {level}"),
        );
    }
    let status = std::fs::read_dir(dir.join(".Filesystem_status"))
        .unwrap()
        .count();
    assert_eq!(status, 1, "one status file from depth 20");
    check(&a.run("stop"), 0, "stop");
    assert!(!is_mounted(dir), "unmounted after stop");
    check(&a.run("monitor"), 7, "monitor after stop");
    check(&a.run("stop"), 0, "stop again");
}

#[test]
fn ext4_on_a_loop_device() {
    let Some(mut s) = Scratch::new(&["losetup", "mkfs.ext4", "fsck", "tune2fs", "dumpe2fs"]) else {
        return;
    };
    let dev = s.loop_device("ext4", 32);
    let dir = s.path("mnt");
    let a = s.agent(&[
        ("device", &dev),
        ("directory", dir.to_str().unwrap()),
        ("fstype", "ext4"),
        ("options", "noatime"),
    ]);
    lifecycle(&a, &dir);
    assert!(dir.is_dir(), "the mount point was created");

    // A file system marked with errors is checked (run_fsck=auto) before it is mounted.
    let state = || {
        let out = Command::new("dumpe2fs")
            .args(["-h", &dev])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| {
                l.strip_prefix("Filesystem state:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let tune = Command::new("tune2fs")
        .args(["-E", "force_fsck", &dev])
        .output()
        .unwrap();
    assert!(tune.status.success(), "{tune:?}");
    assert_eq!(state(), "clean with errors");
    let start = a.run("start");
    check(&start, 0, "start after errors");
    assert!(start.stderr.contains("fsck -p -t ext4"), "{start:?}");
    assert_eq!(state(), "clean", "fsck repaired it before the mount");
    check(&a.run("stop"), 0, "stop");
}

#[test]
fn xfs_on_a_loop_device() {
    let Some(mut s) = Scratch::new(&["losetup", "mkfs.xfs"]) else {
        return;
    };
    let dev = s.loop_device("xfs", 320);
    let dir = s.path("mnt");
    let a = s.agent(&[
        ("device", &dev),
        ("directory", dir.to_str().unwrap()),
        ("fstype", "xfs"),
    ]);
    lifecycle(&a, &dir);
}

#[test]
fn tmpfs_and_bind() {
    let Some(s) = Scratch::new(&[]) else {
        return;
    };
    let dir = s.path("tmp");
    let a = s.agent(&[
        ("device", "tmpfs"),
        ("directory", dir.to_str().unwrap()),
        ("fstype", "tmpfs"),
        ("options", "size=8m,mode=0755"),
    ]);
    lifecycle(&a, &dir);

    let src = s.path("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("hello"), "hi").unwrap();
    let dir = s.path("bind");
    let b = s.agent(&[
        ("device", src.to_str().unwrap()),
        ("directory", dir.to_str().unwrap()),
        ("fstype", "none"),
        ("options", "bind"),
    ]);
    check(&b.run("start"), 0, "bind start");
    assert_eq!(std::fs::read_to_string(dir.join("hello")).unwrap(), "hi");
    check(&b.run("stop"), 0, "bind stop");
    lifecycle(&b, &dir);
    assert!(src.join("hello").exists(), "the source is untouched");
}

/// A process started here, killed on drop.
struct Proc(Child);

impl Proc {
    fn spawn(script: &str, cwd: &Path) -> Proc {
        Proc(
            Command::new("sh")
                .args(["-c", script])
                .current_dir(cwd)
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
    fn pid(&self) -> i32 {
        i32::try_from(self.0.id()).unwrap()
    }
    /// Reap it if it died (so that it is not a zombie), and say whether it lives.
    fn lives(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none() && alive(self.pid())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn stop_signals_the_processes_that_hold_the_mount_and_no_others() {
    let Some(mut s) = Scratch::new(&["losetup", "mkfs.ext4", "fsck"]) else {
        return;
    };
    let dev = s.loop_device("ext4", 32);
    let dir = s.path("mnt");
    let a = s.agent(&[
        ("device", &dev),
        ("directory", dir.to_str().unwrap()),
        ("fstype", "ext4"),
    ]);
    check(&a.run("start"), 0, "start");
    std::fs::write(dir.join("data"), "x").unwrap();
    // Holds the mount through its working directory; dies on SIGTERM.
    let mut by_cwd = Proc::spawn("exec sleep 300", &dir);
    // Holds it through an open file and ignores SIGTERM: needs SIGKILL.
    let mut by_fd = Proc::spawn("trap '' TERM; exec sleep 300 < data", &dir);
    // Works next to the mount, in a directory whose name starts the same.
    let near = s.path("mnt-old");
    std::fs::create_dir(&near).unwrap();
    let mut bystander = Proc::spawn("exec sleep 300", &near);
    assert!(wait_for(Duration::from_secs(5), || {
        std::fs::read_link(format!("/proc/{}/fd/0", by_fd.pid()))
            .is_ok_and(|p| p == dir.join("data"))
    }));

    let stop = a.run_with("stop", &[("OCF_RESKEY_CRM_meta_timeout", "3000")]);
    check(&stop, 0, "stop of a busy mount");
    assert!(!is_mounted(&dir));
    assert!(stop.took < Duration::from_millis(3000), "{:?}", stop.took);
    assert!(
        stop.stderr.contains("SIGTERM") && stop.stderr.contains("SIGKILL"),
        "{stop:?}"
    );
    assert!(
        wait_for(Duration::from_secs(2), || !by_cwd.lives()),
        "cwd holder"
    );
    assert!(
        wait_for(Duration::from_secs(2), || !by_fd.lives()),
        "fd holder"
    );
    assert!(bystander.lives(), "the bystander was left alone");
}

#[test]
fn stop_with_force_unmount_false_fails_in_time_and_names_the_holder() {
    let Some(s) = Scratch::new(&[]) else {
        return;
    };
    let dir = s.path("tmp");
    let a = s.agent(&[
        ("device", "tmpfs"),
        ("directory", dir.to_str().unwrap()),
        ("fstype", "tmpfs"),
        ("force_unmount", "false"),
    ]);
    check(&a.run("start"), 0, "start");
    let mut holder = Proc::spawn("exec sleep 300", &dir);
    assert!(wait_for(Duration::from_secs(5), || {
        std::fs::read_link(format!("/proc/{}/cwd", holder.pid())).is_ok_and(|p| p == dir)
    }));
    let stop = a.run_with("stop", &[("OCF_RESKEY_CRM_meta_timeout", "1500")]);
    assert_eq!(stop.code, 1, "{stop:?}");
    assert!(stop.took < Duration::from_millis(1500), "{:?}", stop.took);
    assert!(
        stop.reason().unwrap().contains("target is busy"),
        "{stop:?}"
    );
    assert!(holder.lives(), "force_unmount=false signals nothing");
    drop(holder);
    check(&a.run("stop"), 0, "stop once the holder is gone");
}

/// One environment variable for a run.
type Var<'a> = (&'a str, &'a str);

#[test]
fn bad_input_is_rejected_with_the_right_code() {
    let Some(mut s) = Scratch::new(&["losetup", "mkfs.ext4", "blkid"]) else {
        return;
    };
    let dev = s.loop_device("ext4", 32);
    let dir = s.path("mnt");
    let d = dir.to_str().unwrap();
    let a = s.agent(&[("device", &dev), ("directory", d), ("fstype", "ext4")]);
    let cases: &[(&[Var<'_>], i32, &str)] = &[
        (
            &[("OCF_RESKEY_device", "/dev/does-not-exist")],
            5,
            "does not exist",
        ),
        (
            &[("OCF_RESKEY_fstype", "ext5")],
            6,
            "not a file system type",
        ),
        (
            &[("OCF_RESKEY_options", "data=bogus")],
            6,
            "refused options",
        ),
        (
            &[("OCF_RESKEY_fstype", "xfs")],
            6,
            "holds a ext4 file system",
        ),
        (&[("OCF_RESKEY_directory", "relative/dir")], 6, "absolute"),
        (&[("OCF_RESKEY_fstype", "")], 6, "fstype is not set"),
    ];
    for (extra, code, needle) in cases {
        let o = a.run_with("start", extra);
        assert_eq!(o.code, *code, "{extra:?}: {o:?}");
        assert!(
            o.reason().is_some_and(|r| r.contains(needle)),
            "{extra:?}: {o:?}"
        );
        assert!(!is_mounted(&dir), "{extra:?} left a mount");
    }
    // Probe and stop answer truthfully with the same bad input.
    let bad = [("OCF_RESKEY_device", "/dev/does-not-exist")];
    check(
        &a.run_with("monitor", &bad),
        7,
        "monitor with a missing device",
    );
    check(&a.run_with("stop", &bad), 0, "stop with a missing device");
    let o = a.run("frobnicate");
    assert_eq!(o.code, 3);
    assert!(o.stderr.contains("usage: filesystem {"), "{o:?}");
}

/// A FUSE file system whose server answers INIT and then reads every request without ever
/// replying: callers sleep uninterruptibly, as on a CephFS mount whose MDS is down. Runs in
/// a forked child; killing it aborts the connection and frees every caller.
struct HungFuse {
    server: libc::pid_t,
    dir: PathBuf,
}

impl HungFuse {
    fn mount(dir: &Path) -> HungFuse {
        std::fs::create_dir_all(dir).unwrap();
        let dev = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .unwrap();
        let fd = dev.as_raw_fd();
        nix::mount::mount(
            Some("hung"),
            dir,
            Some("fuse.hung"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
            Some(format!("fd={fd},rootmode=40000,user_id=0,group_id=0").as_str()),
        )
        .expect("mount fuse");
        let mut buf = vec![0u8; 1 << 17];
        // SAFETY: the child makes only read, write and _exit calls on memory allocated
        // before the fork.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            loop {
                // SAFETY: buf is valid for its length.
                let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n < 40 {
                    unsafe { libc::_exit(0) };
                }
                let opcode = u32::from_ne_bytes(buf[4..8].try_into().unwrap());
                if opcode == 26 {
                    // FUSE_INIT: fuse_out_header (16 bytes) + fuse_init_out (64 bytes),
                    // protocol 7.31, max_write 64 KiB; everything else zero.
                    let mut out = [0u8; 80];
                    out[0..4].copy_from_slice(&80u32.to_ne_bytes());
                    out[8..16].copy_from_slice(&buf[8..16]);
                    out[16..20].copy_from_slice(&7u32.to_ne_bytes());
                    out[20..24].copy_from_slice(&31u32.to_ne_bytes());
                    out[36..40].copy_from_slice(&65536u32.to_ne_bytes());
                    out[40..44].copy_from_slice(&1u32.to_ne_bytes());
                    unsafe { libc::write(fd, out.as_ptr().cast(), out.len()) };
                }
            }
        }
        drop(dev);
        HungFuse {
            server: pid,
            dir: dir.to_path_buf(),
        }
    }

    /// Kill the server (which aborts the connection), then detach the mount.
    fn release(&mut self) {
        if self.server > 0 {
            unsafe {
                libc::kill(self.server, libc::SIGKILL);
                libc::waitpid(self.server, std::ptr::null_mut(), 0);
            }
            self.server = 0;
        }
        let _ = nix::mount::umount2(&self.dir, nix::mount::MntFlags::MNT_DETACH);
    }
}

impl Drop for HungFuse {
    fn drop(&mut self) {
        self.release();
    }
}

#[test]
fn a_hung_fuse_mount_fails_the_monitor_in_time_and_stop_forces_it_off() {
    let Some(s) = Scratch::new(&["find"]) else {
        return;
    };
    let Ok(()) = require(Path::new("/dev/fuse").exists(), "/dev/fuse is missing") else {
        return;
    };
    let dir = s.path("hung");
    let mut fuse = HungFuse::mount(&dir);
    let a = s.agent(&[
        ("device", "hung"),
        ("directory", dir.to_str().unwrap()),
        ("fstype", "fuse.hung"),
    ]);
    let quick = [("OCF_RESKEY_CRM_meta_timeout", "1500")];
    // Depth 0 reads mountinfo only, so it answers at once.
    let m = a.run_with("monitor", &quick);
    check(&m, 0, "depth 0 on a hung mount");
    assert!(m.took < Duration::from_millis(500), "{:?}", m.took);
    // Depth 10 touches the file system in a child, which hangs; the agent answers anyway.
    let m = a.run_with("monitor", &[quick[0], ("OCF_CHECK_LEVEL", "10")]);
    assert_eq!(m.code, 1, "{m:?}");
    assert!(m.took < Duration::from_millis(1500), "{:?}", m.took);
    assert!(m.reason().unwrap().contains("did not answer"), "{m:?}");
    // The child it gave up on is still there, in uninterruptible sleep despite SIGKILL.
    let probe = format!("find\0{}\0", dir.display());
    let stuck = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .find(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c.starts_with(probe.as_bytes()))
        })
        .map(|e| e.path());
    let stuck = stuck.expect("the read test's child is stuck on the mount");
    let stuck_pid: i32 = stuck
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // On a loaded machine the child may still be on its way into the kernel's FUSE wait:
    // give it a moment to reach uninterruptible sleep.
    let in_d = |stat: &str| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, r)| r.starts_with('D'))
    };
    let mut stat = String::new();
    let reached = wait_for(Duration::from_secs(3), || {
        stat = std::fs::read_to_string(stuck.join("stat")).unwrap_or_default();
        in_d(&stat)
    });
    assert!(reached, "{stat}");
    // Stop: the stuck lookup keeps the mount busy and no signal can wake it; the forced
    // unmount (force_unmount=true) aborts the FUSE connection, and the unmount goes through.
    let stop = a.run_with("stop", &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
    check(&stop, 0, "stop of a hung mount");
    assert!(stop.took < Duration::from_millis(5000), "{:?}", stop.took);
    assert!(
        stop.stderr.contains("forcing the unmount: umount -c -f"),
        "{stop:?}"
    );
    assert!(!is_mounted(&dir));
    assert!(
        wait_for(Duration::from_secs(2), || !alive(stuck_pid)),
        "the stuck child is freed"
    );
    fuse.release();
}

#[test]
fn passes_ocf_tester_on_ext4() {
    let Ok(()) = require(
        have("ocf-tester"),
        "ocf-tester (Debian resource-agents) is not installed",
    ) else {
        return;
    };
    let Some(mut s) = Scratch::new(&["losetup", "mkfs.ext4", "fsck"]) else {
        return;
    };
    let dev = s.loop_device("ext4", 32);
    let dir = s.path("mnt");
    let a = s.agent(&[
        ("device", &dev),
        ("directory", dir.to_str().unwrap()),
        ("fstype", "ext4"),
    ]);
    tests::ocf_tester(&a, "fs");
    assert!(!is_mounted(&dir), "ocf-tester ends with stop");
}

#[test]
fn metadata_validates_against_the_dtd_and_the_rng() {
    let Some(s) = Scratch::new(&[]) else {
        return;
    };
    let Ok(_) = tests::validated_metadata(&s.agent(&[])) else {
        return;
    };
}

/// A throw-away single-node Ceph on loopback: one mon, one memstore OSD, one MDS and a
/// CephFS named `cephfs`, all under one directory, no mgr (CephFS does not need one), no
/// /etc/ceph. The daemons run in the foreground as children of the test, each in its own
/// process group, and are killed on drop.
struct Ceph {
    base: PathBuf,
    conf: PathBuf,
    keyring: PathBuf,
    daemons: Vec<(&'static str, Child)>,
}

/// Run a command to success, or say what it printed.
fn run_ok(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn uuid() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .unwrap()
        .trim()
        .to_string()
}

impl Ceph {
    const TOOLS: &'static [&'static str] = &[
        "ceph",
        "ceph-mon",
        "ceph-osd",
        "ceph-mds",
        "ceph-authtool",
        "monmaptool",
        "ceph-fuse",
        "mount.fuse.ceph",
    ];

    fn ceph(&self, args: &[&str]) -> Result<String, String> {
        run_ok(
            Command::new("ceph")
                .arg("-c")
                .arg(&self.conf)
                .args(["--connect-timeout", "5"])
                .args(args),
        )
    }

    fn spawn(&mut self, name: &'static str, program: &str, args: &[&str]) {
        use std::os::unix::process::CommandExt as _;
        let log = std::fs::File::create(self.base.join(format!("{name}.out"))).unwrap();
        let child = Command::new(program)
            .arg("-f")
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        self.daemons.push((name, child));
    }

    /// Poll `check` every 200 ms for up to 30 s.
    fn until(&self, what: &str, mut check: impl FnMut(&Ceph) -> bool) -> Result<(), String> {
        if wait_for(Duration::from_secs(30), || {
            std::thread::sleep(Duration::from_millis(150));
            check(self)
        }) {
            Ok(())
        } else {
            Err(format!(
                "{what} did not happen within 30 s (logs in {})",
                self.base.display()
            ))
        }
    }

    fn start(base: &Path) -> Result<Ceph, String> {
        std::fs::create_dir_all(base).unwrap();
        let (v2, v1) = (tests::free_port(), tests::free_port());
        let fsid = uuid();
        let b = base.display();
        let addrs = format!("[v2:127.0.0.1:{v2},v1:127.0.0.1:{v1}]");
        let conf = format!(
            "[global]\nfsid = {fsid}\nmon_host = {addrs}\npublic_addr = 127.0.0.1\n\
             auth_cluster_required = cephx\nauth_service_required = cephx\n\
             auth_client_required = cephx\nkeyring = {b}/$name.keyring\n\
             run_dir = {b}/run\npid_file = {b}/run/$name.pid\n\
             admin_socket = {b}/run/$name.$pid.asok\nlog_file = {b}/log/$name.log\n\
             mon_cluster_log_file = {b}/log/cluster.log\ncrash_dir = {b}/crash\n\
             osd_pool_default_size = 1\nosd_pool_default_min_size = 1\n\
             osd_crush_chooseleaf_type = 0\nmon_allow_pool_size_one = true\n\
             mon_warn_on_pool_no_redundancy = false\nmon_data_avail_crit = 1\n\
             auth_allow_insecure_global_id_reclaim = false\n\
             client_mount_timeout = 10\n\
             [mon]\nmon_data = {b}/mon/$id\n[osd]\nosd_data = {b}/osd/$id\n\
             osd_objectstore = memstore\nmemstore_device_bytes = 268435456\n\
             [mds]\nmds_data = {b}/mds/$id\n"
        );
        for d in ["run", "log", "mon/a", "osd/0", "mds/a"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        let mut c = Ceph {
            base: base.to_path_buf(),
            conf: base.join("ceph.conf"),
            keyring: base.join("client.admin.keyring"),
            daemons: Vec::new(),
        };
        std::fs::write(&c.conf, conf).unwrap();
        let mon_keyring = base.join("mon.keyring");
        let tool = |args: &[&str]| run_ok(Command::new("ceph-authtool").args(args));
        let mk = mon_keyring.to_str().unwrap();
        let ak = c.keyring.to_str().unwrap().to_string();
        tool(&[
            "--create-keyring",
            mk,
            "--gen-key",
            "-n",
            "mon.",
            "--cap",
            "mon",
            "allow *",
        ])?;
        tool(&[
            "--create-keyring",
            &ak,
            "--gen-key",
            "-n",
            "client.admin",
            "--cap",
            "mon",
            "allow *",
            "--cap",
            "osd",
            "allow *",
            "--cap",
            "mds",
            "allow *",
            "--cap",
            "mgr",
            "allow *",
        ])?;
        tool(&[mk, "--import-keyring", &ak])?;
        let monmap = base.join("monmap");
        run_ok(
            Command::new("monmaptool")
                .args(["--create", "--fsid", &fsid, "--addv", "a", &addrs])
                .arg(&monmap),
        )?;
        run_ok(
            Command::new("ceph-mon")
                .arg("-c")
                .arg(&c.conf)
                .args(["--mkfs", "-i", "a", "--monmap"])
                .arg(&monmap)
                .args(["--keyring", mk]),
        )?;
        std::fs::copy(&mon_keyring, base.join("mon/a/keyring")).unwrap();
        c.spawn("mon.a", "ceph-mon", &["-i", "a"]);
        c.until("mon quorum", |c| c.ceph(&["mon", "stat"]).is_ok())?;

        let osd_uuid = uuid();
        let id = c.ceph(&["osd", "new", &osd_uuid])?.trim().to_string();
        let osd_keyring = base.join(format!("osd/{id}/keyring"));
        let ok = osd_keyring.to_str().unwrap().to_string();
        tool(&[
            "--create-keyring",
            &ok,
            "--gen-key",
            "-n",
            &format!("osd.{id}"),
        ])?;
        c.ceph(&[
            "auth",
            "add",
            &format!("osd.{id}"),
            "osd",
            "allow *",
            "mon",
            "allow profile osd",
            "-i",
            &ok,
        ])?;
        run_ok(Command::new("ceph-osd").arg("-c").arg(&c.conf).args([
            "-i",
            &id,
            "--mkfs",
            "--osd-uuid",
            &osd_uuid,
            "--keyring",
            &ok,
        ]))?;
        c.spawn("osd", "ceph-osd", &["-i", &id, "--keyring", &ok]);

        let mds_keyring = base.join("mds/a/keyring");
        let caps = c.ceph(&[
            "auth",
            "get-or-create",
            "mds.a",
            "mon",
            "allow profile mds",
            "osd",
            "allow rwx",
            "mds",
            "allow",
        ])?;
        std::fs::write(&mds_keyring, caps).unwrap();
        c.spawn(
            "mds.a",
            "ceph-mds",
            &["-i", "a", "--keyring", mds_keyring.to_str().unwrap()],
        );
        c.until("osd up", |c| {
            c.ceph(&["osd", "dump"])
                .is_ok_and(|d| d.lines().any(|l| l.starts_with(&format!("osd.{id} up"))))
        })?;
        c.ceph(&["osd", "pool", "create", "cephfs_metadata", "8"])?;
        c.ceph(&["osd", "pool", "create", "cephfs_data", "8"])?;
        c.ceph(&["fs", "new", "cephfs", "cephfs_metadata", "cephfs_data"])?;
        c.until("mds active", |c| {
            c.ceph(&["mds", "stat"])
                .is_ok_and(|s| s.contains("up:active"))
        })?;
        Ok(c)
    }

    /// SIGKILL one daemon (and its group) and reap it.
    fn kill(&mut self, name: &str) {
        if let Some(i) = self.daemons.iter().position(|(n, _)| *n == name) {
            let (_, mut child) = self.daemons.remove(i);
            let pgrp = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
            let _ = nix::sys::signal::killpg(pgrp, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
        }
    }

    /// The options for `mount -t fuse.ceph none DIR -o ...`.
    fn fuse_options(&self) -> String {
        format!(
            "ceph.conf={},ceph.id=admin,ceph.keyring={},ceph.client_fs=cephfs",
            self.conf.display(),
            self.keyring.display()
        )
    }
}

impl Drop for Ceph {
    fn drop(&mut self) {
        let names: Vec<&'static str> = self.daemons.iter().map(|(n, _)| *n).collect();
        for n in names {
            self.kill(n);
        }
    }
}

/// The ceph-fuse processes serving `dir` (started by mount.fuse.ceph for the agent), found
/// by their command line: only ours.
fn ceph_fuse_serving(dir: &Path) -> Vec<i32> {
    let want = dir.to_str().unwrap().as_bytes();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                c.starts_with(b"ceph-fuse\0") && c.split(|b| *b == 0).any(|a| a == want)
            })
        })
        .collect()
}

/// Kills, on drop, the ceph-fuse processes serving a directory (if a test fails midway).
struct CephFuseGuard(PathBuf);

impl Drop for CephFuseGuard {
    fn drop(&mut self) {
        for pid in ceph_fuse_serving(&self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[test]
fn cephfs_through_ceph_fuse_and_its_mds_dying() {
    let Some(s) = Scratch::new(Ceph::TOOLS) else {
        return;
    };
    let Ok(()) = require(Path::new("/dev/fuse").exists(), "/dev/fuse is missing") else {
        return;
    };
    let mut ceph = Ceph::start(&s.path("ceph")).expect("single-node ceph");
    let dir = s.path("cephfs");
    let _guard = CephFuseGuard(dir.clone());
    let options = ceph.fuse_options();
    let a = s.agent(&[
        ("device", "none"),
        ("directory", dir.to_str().unwrap()),
        ("fstype", "fuse.ceph"),
        ("options", &options),
    ]);
    // The helper exits 0 when ceph-fuse fails: a wrong file system name must still fail.
    let bad = format!("{options},ceph.client_mount_timeout=3").replace("=cephfs", "=nosuchfs");
    let o = a.run_with("start", &[("OCF_RESKEY_options", &bad)]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.reason().unwrap().contains("is not mounted"), "{o:?}");
    assert!(!is_mounted(&dir));

    lifecycle(&a, &dir);
    // Stop returns only once ceph-fuse has exited: a start right after it (as ocf-tester
    // does) would otherwise find its pid file still locked.
    assert_eq!(
        ceph_fuse_serving(&dir),
        Vec::<i32>::new(),
        "stop waited for ceph-fuse"
    );
    if have("ocf-tester") {
        tests::ocf_tester(&a, "fs");
        assert!(!is_mounted(&dir), "ocf-tester ends with stop");
        assert_eq!(
            ceph_fuse_serving(&dir),
            Vec::<i32>::new(),
            "stop waited for ceph-fuse"
        );
    } else {
        let Ok(()) = require(
            false,
            "ocf-tester (Debian resource-agents) is not installed",
        ) else {
            return;
        };
    }
    // Right after ocf-tester's quick mount cycles, ceph-fuse now and then gives up at once
    // with "(33) Numerical argument out of domain" while the MDS still holds the last
    // session; the agent must report that as a failed start, and a later start must mount.
    let mut refused = Vec::new();
    let started = wait_for(Duration::from_secs(20), || {
        let o = a.run("start");
        if o.code == 0 {
            return true;
        }
        assert_eq!(o.code, 1, "{o:?}");
        assert!(
            !is_mounted(&dir),
            "a failed start leaves nothing mounted: {o:?}"
        );
        refused.push(o);
        std::thread::sleep(Duration::from_millis(500));
        false
    });
    assert!(started, "start never mounted: {refused:?}");
    let fuse = ceph_fuse_serving(&dir);
    assert_eq!(fuse.len(), 1, "one ceph-fuse serves the mount");

    // The MDS dies: depth 0 still answers at once from mountinfo; depth 10 fails within its
    // timeout instead of hanging.
    ceph.kill("mds.a");
    let quick = [("OCF_RESKEY_CRM_meta_timeout", "3000")];
    let m = a.run_with("monitor", &quick);
    check(&m, 0, "depth 0 with the MDS down");
    let m = a.run_with("monitor", &[quick[0], ("OCF_CHECK_LEVEL", "20")]);
    assert_eq!(m.code, 1, "{m:?}");
    assert!(m.took < Duration::from_millis(3000), "{:?}", m.took);
    // Stop forces the unmount of the hung mount before its deadline.
    let stop = a.run_with("stop", &[("OCF_RESKEY_CRM_meta_timeout", "10000")]);
    check(&stop, 0, "stop with the MDS down");
    assert!(stop.took < Duration::from_millis(5_000), "{:?}", stop.took);
    assert!(!is_mounted(&dir));
    assert!(stop.stderr.contains("forcing the unmount"), "{stop:?}");
    // ceph-fuse cannot close its MDS session: after the forced unmount, stop ends it.
    assert_eq!(ceph_fuse_serving(&dir), Vec::<i32>::new(), "{stop:?}");
    assert!(stop.stderr.contains("to the FUSE daemon"), "{stop:?}");
}

#[test]
fn a_symlinked_mount_point_fails_start_and_leaves_nothing_mounted() {
    let Some(s) = Scratch::new(&[]) else {
        return;
    };
    let real = s.path("real");
    std::fs::create_dir(&real).unwrap();
    let link = s.path("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let a = s.agent(&[
        ("device", "tmpfs"),
        ("directory", link.to_str().unwrap()),
        ("fstype", "tmpfs"),
    ]);
    let o = a.run("start");
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.reason().unwrap().contains("symbolic link"), "{o:?}");
    assert!(
        !is_mounted(&real) && !is_mounted(&link),
        "the mount was undone"
    );
    check(&a.run("monitor"), 7, "monitor");
}
