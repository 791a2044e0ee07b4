//! The agent's parameters, declared once, and everything decided from them without looking
//! at the host: the kind of file system, which mounts in mountinfo are ours, the mount and
//! fsck command lines, and what a failed mount's message means. Pure: text in, values or a
//! [`Failure`] out.

use ocf::host::CommandSpec;
use ocf::{Failure, ParamSpec, Params};

use crate::mountinfo::Mount;

/// The default `statusfile_prefix`, as the stock `ocf:heartbeat:Filesystem` has it.
pub const DEFAULT_STATUSFILE_PREFIX: &str = ".Filesystem_status/";

/// The parameter declarations: meta-data, validation and typed access all come from here.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::string("device", "The device, export or source to mount")
        .long(
            "What to mount: a block device (/dev/drbd0, /dev/vg/lv, UUID=..., LABEL=...), an \
             NFS export (server:/export), a CephFS path for the kernel client \
             (mon1,mon2:/path or name@fsid.fs=/path), a directory for bind mounts, any word \
             for tmpfs, and none (or anything) for fuse.ceph.",
        )
        .required(),
    ParamSpec::string("directory", "The mount point")
        .long(
            "The absolute path to mount on. Give the real path: a symbolic link is refused, \
             because the kernel lists the mount under the resolved path.",
        )
        .required()
        .unique(),
    ParamSpec::string("fstype", "The file system type")
        .long(
            "ext4, xfs or another block file system; tmpfs; nfs or nfs4; ceph (the kernel \
             CephFS client); fuse.ceph (ceph-fuse); none with options=bind for a bind mount.",
        )
        .required(),
    ParamSpec::string("options", "Mount options")
        .long("Options as mount -o takes them (comma-separated). Default: none."),
    ParamSpec::select(
        "run_fsck",
        &["auto", "force", "no"],
        "Check the file system before mounting",
    )
    .long(
        "auto: run fsck -p before mounting an ext2, ext3 or ext4 block device (quick on a \
             clean file system, and it repairs one marked with errors); force: run fsck on any \
             block device; no: never.",
    )
    .default("auto"),
    ParamSpec::select(
        "force_unmount",
        &["true", "safe", "false"],
        "What stop does with a busy mount",
    )
    .long(
        "When the file system is busy at stop, the agent finds the processes that hold it \
             (open files, working or root directory, memory maps under the mount point, read \
             from /proc, never with fuser or lsof) and sends them SIGTERM, then SIGKILL before \
             the deadline. true: that, and for NFS and CephFS also a forced unmount \
             (umount -f) when it is still busy. safe: signal only those processes, never force. \
             false: signal nothing, only retry the unmount until the deadline.",
    )
    .default("true"),
    ParamSpec::string(
        "statusfile_prefix",
        "Where monitor depth 20 writes its status file",
    )
    .long(
        "A path relative to the mount point; the depth-20 monitor writes and reads back \
             <directory>/<statusfile_prefix><node name>.",
    )
    .default(DEFAULT_STATUSFILE_PREFIX),
    ParamSpec::boolean(
        "create_directory",
        "Create the mount point when it is missing",
    )
    .long("When false, a missing mount point makes start fail with 5 (not installed).")
    .default("true"),
];

/// What kind of file system, which decides the checks, the fsck and the stop policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A file system on a block device (ext4, xfs, ... on /dev/sdX, /dev/drbdN, loop).
    Block,
    /// tmpfs: nothing to check, nothing survives the unmount.
    Tmpfs,
    /// A bind mount of a directory.
    Bind,
    /// NFS (nfs, nfs4).
    Nfs,
    /// CephFS through the kernel client (`mount -t ceph`).
    CephKernel,
    /// CephFS through ceph-fuse (`fuse.ceph`).
    CephFuse,
    /// Another FUSE file system (`fuse.sshfs`, ...): served by a user-space daemon.
    Fuse,
    /// Another type, mounted by `mount` as given.
    Other,
}

impl Kind {
    /// NFS, CephFS and FUSE: served from elsewhere, so requests can hang for good, and
    /// `umount -f` means something (it aborts pending requests; for FUSE, the connection).
    pub fn is_network(self) -> bool {
        matches!(
            self,
            Kind::Nfs | Kind::CephKernel | Kind::CephFuse | Kind::Fuse
        )
    }
}

/// File system types that exist in Linux: a mount of one that fails as unknown lacks a
/// kernel module or helper on this node (5); any other name is a configuration error (6).
const KNOWN_FSTYPES: &[&str] = &[
    "ext2",
    "ext3",
    "ext4",
    "xfs",
    "btrfs",
    "f2fs",
    "jfs",
    "reiserfs",
    "vfat",
    "msdos",
    "exfat",
    "ntfs",
    "ntfs3",
    "iso9660",
    "udf",
    "squashfs",
    "erofs",
    "gfs2",
    "ocfs2",
    "zfs",
    "nilfs2",
    "tmpfs",
    "ramfs",
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "ceph",
    "glusterfs",
    "lustre",
    "9p",
    "overlay",
    "virtiofs",
    "fuse",
    "fuseblk",
];

/// Block file systems that `run_fsck=auto` checks.
const AUTO_FSCK: &[&str] = &["ext2", "ext3", "ext4"];

/// Whether a type name is one Linux knows (`fuse.<anything>` counts).
pub fn is_known_fstype(fstype: &str) -> bool {
    KNOWN_FSTYPES.contains(&fstype) || fstype.starts_with("fuse.")
}

/// When to run fsck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsck {
    /// ext2/3/4 block devices.
    Auto,
    /// Every block device.
    Force,
    /// Never.
    No,
}

/// What stop may do to a busy mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForceUnmount {
    /// Signal the holders; force-unmount network file systems.
    True,
    /// Signal the holders only.
    Safe,
    /// Signal nothing.
    False,
}

impl ForceUnmount {
    fn parse(v: Option<&str>) -> ForceUnmount {
        match v {
            Some("safe") => ForceUnmount::Safe,
            Some("false") => ForceUnmount::False,
            _ => ForceUnmount::True,
        }
    }
}

/// A checked configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// What to mount.
    pub device: String,
    /// Where, normalized (no trailing slash, no `//`).
    pub directory: String,
    /// The type as given (empty when unknown: stop and monitor without it).
    pub fstype: String,
    /// `-o` options (may be empty).
    pub options: String,
    /// The kind.
    pub kind: Kind,
    /// The fsck policy.
    pub fsck: Fsck,
    /// The stop policy.
    pub force_unmount: ForceUnmount,
    /// The status file prefix, relative to the mount point.
    pub statusfile_prefix: String,
    /// Whether start creates a missing mount point.
    pub create_directory: bool,
}

/// Normalize a mount point: absolute, no `.` or `..`, no repeated or trailing slash, not `/`.
pub fn normalize_directory(dir: &str) -> Result<String, String> {
    if !dir.starts_with('/') {
        return Err(format!("directory {dir:?} is not an absolute path"));
    }
    if dir.chars().any(char::is_control) {
        return Err(format!("directory {dir:?} contains a control character"));
    }
    let parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(format!("directory {dir:?} contains . or .."));
    }
    if parts.is_empty() {
        return Err("directory / cannot be managed".into());
    }
    Ok(format!("/{}", parts.join("/")))
}

fn kind_of(fstype: &str, options: &str) -> Kind {
    if options.split(',').any(|o| o == "bind" || o == "rbind") {
        return Kind::Bind;
    }
    match fstype {
        "tmpfs" => Kind::Tmpfs,
        "nfs" | "nfs4" => Kind::Nfs,
        "ceph" => Kind::CephKernel,
        "fuse.ceph" | "fuse.ceph-fuse" => Kind::CephFuse,
        t if KNOWN_FSTYPES.contains(&t)
            && !matches!(
                t,
                "ramfs"
                    | "cifs"
                    | "smb3"
                    | "glusterfs"
                    | "lustre"
                    | "9p"
                    | "overlay"
                    | "virtiofs"
                    | "fuse"
            ) =>
        {
            Kind::Block
        }
        t if t.starts_with("fuse.") => Kind::Fuse,
        _ => Kind::Other,
    }
}

impl Config {
    /// What stop and monitor need, which never fails on a value another node might lack:
    /// `None` only when `directory` is missing or unusable (then nothing can be mounted
    /// by this resource). A missing `fstype` matches any mount on the directory.
    pub fn lenient(params: &Params) -> Option<Config> {
        let directory = normalize_directory(params.str("directory")?).ok()?;
        let fstype = params.str("fstype").unwrap_or("").to_string();
        let options = params.str("options").unwrap_or("").to_string();
        Some(Config {
            device: params.str("device").unwrap_or("").to_string(),
            kind: if fstype.is_empty() {
                Kind::Other
            } else {
                kind_of(&fstype, &options)
            },
            directory,
            fstype,
            options,
            fsck: Fsck::No,
            force_unmount: ForceUnmount::parse(params.str("force_unmount")),
            statusfile_prefix: params
                .str("statusfile_prefix")
                .unwrap_or(DEFAULT_STATUSFILE_PREFIX)
                .to_string(),
            create_directory: true,
        })
    }

    /// Check everything that can be checked without looking at this host.
    pub fn from_params(params: &Params) -> Result<Config, Failure> {
        let need = |name: &str| {
            params
                .str(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| Failure::configured(format!("required parameter {name} is not set")))
        };
        let device = need("device")?.trim().to_string();
        let directory = normalize_directory(need("directory")?.trim())
            .map_err(|e| Failure::configured(format!("parameter {e}")))?;
        let fstype = need("fstype")?.trim().to_string();
        if fstype.len() > 64
            || !fstype
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
        {
            return Err(Failure::configured(format!(
                "parameter fstype {fstype:?} is not a file system type name"
            )));
        }
        let options = params.str("options").unwrap_or("").trim().to_string();
        if options.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Failure::configured(format!(
                "parameter options {options:?} contains white space; separate options with commas"
            )));
        }
        if options.split(',').any(|o| o == "remount") {
            return Err(Failure::configured(
                "parameter options must not contain remount",
            ));
        }
        let kind = kind_of(&fstype, &options);
        if fstype == "none" && kind != Kind::Bind {
            return Err(Failure::configured(
                "fstype none is only for bind mounts: add options=bind",
            ));
        }
        match kind {
            Kind::Block if !device_is_block_spec(&device) => {
                return Err(Failure::configured(format!(
                    "device {device:?} must be a /dev path, UUID=... or LABEL=... for {fstype}"
                )));
            }
            Kind::Bind if !device.starts_with('/') => {
                return Err(Failure::configured(format!(
                    "device {device:?} must be an absolute directory for a bind mount"
                )));
            }
            Kind::Nfs if !device.contains(":/") => {
                return Err(Failure::configured(format!(
                    "device {device:?} must be server:/export for NFS"
                )));
            }
            Kind::CephKernel if !(device.contains(":/") || device.contains("=/")) => {
                return Err(Failure::configured(format!(
                    "device {device:?} must be mon1,mon2:/path or name@fsid.fs=/path for CephFS"
                )));
            }
            _ => {}
        }
        if kind == Kind::Bind && normalize_directory(&device).ok().as_deref() == Some(&directory) {
            return Err(Failure::configured(
                "a directory cannot be bind-mounted on itself",
            ));
        }
        let statusfile_prefix = params
            .str("statusfile_prefix")
            .unwrap_or(DEFAULT_STATUSFILE_PREFIX)
            .to_string();
        if statusfile_prefix.starts_with('/')
            || statusfile_prefix.split('/').any(|p| p == "..")
            || statusfile_prefix.chars().any(char::is_control)
        {
            return Err(Failure::configured(format!(
                "parameter statusfile_prefix {statusfile_prefix:?} must be a relative path without .."
            )));
        }
        let fsck = match params.str("run_fsck") {
            Some("force") => Fsck::Force,
            Some("no") => Fsck::No,
            _ => Fsck::Auto,
        };
        Ok(Config {
            device,
            directory,
            fstype,
            options,
            kind,
            fsck,
            force_unmount: ForceUnmount::parse(params.str("force_unmount")),
            statusfile_prefix,
            create_directory: !params.is_set("create_directory") || params.bool("create_directory"),
        })
    }

    /// Whether a mount in mountinfo is this resource's: on our directory, of a compatible
    /// type (so that another file system stacked on the same directory is left alone).
    pub fn matches(&self, m: &Mount) -> bool {
        if m.mount_point != self.directory {
            return false;
        }
        let ext = |t: &str| matches!(t, "ext2" | "ext3" | "ext4");
        match self.kind {
            Kind::Bind => true,
            _ if self.fstype.is_empty() || self.fstype == "auto" => true,
            Kind::Block => m.fstype == self.fstype || (ext(&m.fstype) && ext(&self.fstype)),
            Kind::Tmpfs => m.fstype == "tmpfs",
            Kind::Nfs => m.fstype.starts_with("nfs"),
            Kind::CephKernel => m.fstype == "ceph",
            Kind::CephFuse => m.fstype.starts_with("fuse"),
            Kind::Fuse | Kind::Other => m.fstype == self.fstype,
        }
    }

    /// Our mount, the topmost if several are stacked.
    pub fn find<'a>(&self, mounts: &'a [Mount]) -> Option<&'a Mount> {
        mounts.iter().rev().find(|m| self.matches(m))
    }

    /// Whether start runs fsck first.
    pub fn wants_fsck(&self) -> bool {
        self.kind == Kind::Block
            && match self.fsck {
                Fsck::Auto => AUTO_FSCK.contains(&self.fstype.as_str()),
                Fsck::Force => true,
                Fsck::No => false,
            }
    }

    /// `fsck -p -t TYPE DEVICE`: preen, repair what is safe to repair without asking.
    pub fn fsck_command(&self) -> CommandSpec {
        c_locale(CommandSpec::new(
            "fsck",
            ["-p", "-t", self.fstype.as_str(), self.device.as_str()],
        ))
    }

    /// `mount -t TYPE [-o OPTIONS] DEVICE DIRECTORY` (no `-t` for bind mounts; `none` as
    /// the source of a fuse.ceph mount given no device).
    pub fn mount_command(&self) -> CommandSpec {
        let mut args: Vec<String> = Vec::new();
        if self.kind != Kind::Bind {
            args.extend(["-t".into(), self.fstype.clone()]);
        }
        if !self.options.is_empty() {
            args.extend(["-o".into(), self.options.clone()]);
        }
        args.push(self.device.clone());
        args.push(self.directory.clone());
        c_locale(CommandSpec::new("mount", args))
    }

    /// `umount -c [-f] DIRECTORY`: `-c` (no canonicalization) because resolving the path
    /// stats it, which hangs on a dead network file system.
    pub fn umount_command(&self, force: bool) -> CommandSpec {
        let mut args = vec!["-c".to_string()];
        if force {
            args.push("-f".to_string());
        }
        args.push(self.directory.clone());
        c_locale(CommandSpec::new("umount", args))
    }

    /// The depth-20 status file for a node.
    pub fn status_file(&self, node: &str) -> String {
        let node: String = node
            .chars()
            .map(|c| if c == '/' || c.is_control() { '_' } else { c })
            .collect();
        format!("{}/{}{node}", self.directory, self.statusfile_prefix)
    }
}

/// Block file systems that several nodes may mount at once.
const CLUSTER_FSTYPES: &[&str] = &["gfs2", "ocfs2"];

impl Config {
    /// Refuse to run as a clone on a file system that only one node may mount: two nodes
    /// mounting one ext4 or xfs device (a dual-primary DRBD, a SAN LUN) corrupt it.
    pub fn check_clone(&self, clone_max: Option<u32>) -> Result<(), Failure> {
        match clone_max {
            Some(n)
                if n > 1
                    && self.kind == Kind::Block
                    && !CLUSTER_FSTYPES.contains(&self.fstype.as_str()) =>
            {
                Err(Failure::configured(format!(
                    "{} is not a cluster file system: as a clone ({n} instances) it would be \
                     mounted on several nodes at once",
                    self.fstype
                )))
            }
            _ => Ok(()),
        }
    }

    /// The mount command line for logs, with secrets (`secret=`, `password=`) masked.
    pub fn mount_command_for_log(&self) -> String {
        let mut cmd = self.mount_command();
        for a in &mut cmd.args {
            if a.contains('=') && a.split(',').any(is_secret_option) {
                *a = redact_options(a);
            }
        }
        cmd.display()
    }
}

fn is_secret_option(o: &str) -> bool {
    matches!(
        o.split_once('=').map(|(k, _)| k),
        Some("secret" | "password" | "pass" | "passwd" | "key")
    )
}

/// Options with the values of secret-bearing keys replaced by `***`.
pub fn redact_options(options: &str) -> String {
    options
        .split(',')
        .map(|o| match o.split_once('=') {
            Some((k, _)) if is_secret_option(o) => format!("{k}=***"),
            _ => o.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether a device names a block device the way mount takes it.
fn device_is_block_spec(device: &str) -> bool {
    device.starts_with("/dev/")
        || device.starts_with('/')
        || device.strip_prefix("UUID=").is_some_and(|v| !v.is_empty())
        || device.strip_prefix("LABEL=").is_some_and(|v| !v.is_empty())
}

/// Where a block device spec should exist: the path itself, or the udev link of a UUID or
/// label.
pub fn device_path(device: &str) -> String {
    if let Some(u) = device.strip_prefix("UUID=") {
        format!("/dev/disk/by-uuid/{u}")
    } else if let Some(l) = device.strip_prefix("LABEL=") {
        format!("/dev/disk/by-label/{l}")
    } else {
        device.to_string()
    }
}

/// Messages in English, whatever the node's locale: they are matched below.
fn c_locale(mut c: CommandSpec) -> CommandSpec {
    c.env.push(("LC_ALL".into(), "C".into()));
    c
}

/// What a failed `mount` told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountVerdict {
    /// 5: this node lacks something (module, helper, device); another may have it.
    Installed(String),
    /// 6: the configuration is wrong everywhere.
    Configured(String),
    /// The kernel refused the device or the options: probe the device to tell which.
    ProbeDevice,
    /// 1: anything else (server down, I/O error).
    Generic(String),
}

/// The first line of a command's complaint, for exit reasons.
pub fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message")
        .chars()
        .take(300)
        .collect()
}

/// Classify a failed mount from its standard error (C locale).
pub fn classify_mount_error(cfg: &Config, stderr: &str) -> MountVerdict {
    let msg = first_line(stderr);
    let lower = stderr.to_ascii_lowercase();
    if lower.contains("unknown filesystem type") {
        return if is_known_fstype(&cfg.fstype) {
            MountVerdict::Installed(format!(
                "this node cannot mount {} (kernel module or mount helper missing): {msg}",
                cfg.fstype
            ))
        } else {
            MountVerdict::Configured(format!(
                "fstype {:?} is not a file system type: {msg}",
                cfg.fstype
            ))
        };
    }
    if lower.contains("does not exist")
        || lower.contains("no such file or directory")
        || (lower.contains("module") && lower.contains("not found"))
    {
        return MountVerdict::Installed(msg);
    }
    if lower.contains("incorrect mount option") || lower.contains("bad option") {
        return match cfg.kind {
            Kind::Block => MountVerdict::ProbeDevice,
            Kind::Tmpfs | Kind::Bind | Kind::Nfs => MountVerdict::Configured(format!(
                "mount rejected options {:?}: {msg}",
                redact_options(&cfg.options)
            )),
            _ => MountVerdict::Generic(msg),
        };
    }
    MountVerdict::Generic(msg)
}

/// Judge a block device the kernel refused, from what `blkid -p` found on it.
pub fn judge_refused_device(cfg: &Config, probed: Option<&str>) -> Failure {
    match probed {
        Some(t) if t == cfg.fstype || (cfg.fstype == "ext4" && matches!(t, "ext2" | "ext3")) => {
            Failure::configured(format!(
                "the kernel refused options {:?} for {} on {}",
                redact_options(&cfg.options),
                cfg.fstype,
                cfg.device
            ))
        }
        Some(t) => Failure::configured(format!(
            "{} holds a {t} file system, not {}",
            cfg.device, cfg.fstype
        )),
        None => Failure::generic(format!(
            "no file system found on {} (expected {})",
            cfg.device, cfg.fstype
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocf::OcfExit;

    fn params(pairs: &[(&str, &str)]) -> Params {
        ocf::fake::params(PARAMS, pairs)
    }

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, Failure> {
        Config::from_params(&params(pairs))
    }

    fn mount(point: &str, fstype: &str) -> Mount {
        crate::mountinfo::parse(&format!("90 27 7:0 / {point} rw - {fstype} src rw"))
            .0
            .remove(0)
    }

    #[test]
    fn kinds_follow_fstype_and_bind_options() {
        for (fstype, options, kind) in [
            ("ext4", "", Kind::Block),
            ("xfs", "noatime", Kind::Block),
            ("tmpfs", "size=16m", Kind::Tmpfs),
            ("none", "bind", Kind::Bind),
            ("ext4", "rbind", Kind::Bind),
            ("nfs4", "", Kind::Nfs),
            ("ceph", "", Kind::CephKernel),
            ("fuse.ceph", "", Kind::CephFuse),
            ("fuse.sshfs", "", Kind::Fuse),
            ("9p", "", Kind::Other),
        ] {
            assert_eq!(kind_of(fstype, options), kind, "{fstype} {options}");
        }
        assert!(Kind::CephFuse.is_network() && Kind::Fuse.is_network());
        assert!(!Kind::Block.is_network() && !Kind::Other.is_network());
    }

    #[test]
    fn directories_are_normalized_and_dangerous_ones_refused() {
        assert_eq!(normalize_directory("/srv//data/").unwrap(), "/srv/data");
        for bad in ["srv/data", "/", "//", "/srv/../etc", "/a/./b", "/a\nb"] {
            assert!(normalize_directory(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn invalid_configuration_is_6_and_names_the_problem() {
        let base = [
            ("device", "/dev/drbd0"),
            ("directory", "/srv"),
            ("fstype", "ext4"),
        ];
        let with = |k: &str, v: &str| {
            let mut p: Vec<(&str, &str)> = base.iter().copied().filter(|(n, _)| *n != k).collect();
            p.push((k, v));
            p.into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        for (k, v, needle) in [
            ("device", "", "device is not set"),
            ("directory", "srv", "absolute"),
            ("fstype", "ext4 -o x", "not a file system type"),
            ("options", "ro, noatime", "white space"),
            ("options", "remount", "remount"),
            ("device", "drbd0", "/dev path"),
            ("statusfile_prefix", "/abs", "relative"),
            ("statusfile_prefix", "../up", "relative"),
        ] {
            let pairs = with(k, v);
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            let e = cfg(&refs).unwrap_err();
            assert_eq!(e.exit(), OcfExit::ErrConfigured, "{k}={v}");
            assert!(e.reason().contains(needle), "{k}={v}: {}", e.reason());
        }
        for (pairs, needle) in [
            (
                vec![("device", "x"), ("directory", "/m"), ("fstype", "none")],
                "bind",
            ),
            (
                vec![("device", "server"), ("directory", "/m"), ("fstype", "nfs")],
                "server:/export",
            ),
            (
                vec![("device", "mon1"), ("directory", "/m"), ("fstype", "ceph")],
                "mon1,mon2",
            ),
            (
                vec![
                    ("device", "/m/"),
                    ("directory", "/m"),
                    ("fstype", "none"),
                    ("options", "bind"),
                ],
                "itself",
            ),
        ] {
            let e = cfg(&pairs).unwrap_err();
            assert!(e.reason().contains(needle), "{pairs:?}: {}", e.reason());
        }
        assert!(
            cfg(&[
                ("device", "admin@fsid.cephfs=/vol"),
                ("directory", "/m"),
                ("fstype", "ceph")
            ])
            .is_ok()
        );
        assert!(
            cfg(&[
                ("device", "none"),
                ("directory", "/m"),
                ("fstype", "fuse.ceph")
            ])
            .is_ok()
        );
        assert!(
            cfg(&[
                ("device", "UUID=1234"),
                ("directory", "/m"),
                ("fstype", "xfs")
            ])
            .is_ok()
        );
    }

    #[test]
    fn only_compatible_mounts_on_the_directory_are_ours() {
        let c = cfg(&[
            ("device", "/dev/loop0"),
            ("directory", "/srv/d/"),
            ("fstype", "ext4"),
        ])
        .unwrap();
        assert!(c.matches(&mount("/srv/d", "ext4")));
        assert!(c.matches(&mount("/srv/d", "ext3")));
        assert!(
            !c.matches(&mount("/srv/d", "tmpfs")),
            "another fs stacked there"
        );
        assert!(!c.matches(&mount("/srv/dx", "ext4")));
        assert!(!c.matches(&mount("/srv", "ext4")));
        let fuse = cfg(&[
            ("device", "none"),
            ("directory", "/c"),
            ("fstype", "fuse.ceph"),
        ])
        .unwrap();
        assert!(fuse.matches(&mount("/c", "fuse.ceph-fuse")));
        let nfs = cfg(&[("device", "h:/e"), ("directory", "/n"), ("fstype", "nfs")]).unwrap();
        assert!(nfs.matches(&mount("/n", "nfs4")));
        let bind = cfg(&[
            ("device", "/src"),
            ("directory", "/b"),
            ("fstype", "none"),
            ("options", "bind"),
        ])
        .unwrap();
        assert!(bind.matches(&mount("/b", "ext4")));
        let mounts = vec![mount("/b", "ext4"), mount("/b", "tmpfs")];
        assert_eq!(bind.find(&mounts).unwrap().fstype, "tmpfs", "the topmost");
        let lenient = Config::lenient(&params(&[("directory", "/b")])).unwrap();
        assert!(lenient.matches(&mount("/b", "anything")));
        assert!(Config::lenient(&params(&[("fstype", "ext4")])).is_none());
    }

    #[test]
    fn fsck_runs_on_ext_block_devices_unless_told_otherwise() {
        let c = |fstype: &str, mode: &str, device: &str| {
            cfg(&[
                ("device", device),
                ("directory", "/m"),
                ("fstype", fstype),
                ("run_fsck", mode),
            ])
            .unwrap()
            .wants_fsck()
        };
        assert!(c("ext4", "auto", "/dev/drbd0"));
        assert!(!c("xfs", "auto", "/dev/drbd0"));
        assert!(c("xfs", "force", "/dev/drbd0"));
        assert!(!c("ext4", "no", "/dev/drbd0"));
        assert!(!c("tmpfs", "force", "tmpfs"));
        let e = cfg(&[
            ("device", "/dev/sdb1"),
            ("directory", "/m"),
            ("fstype", "ext4"),
        ])
        .unwrap();
        assert_eq!(e.fsck_command().display(), "fsck -p -t ext4 /dev/sdb1");
    }

    #[test]
    fn command_lines() {
        let c = cfg(&[
            ("device", "/dev/drbd0"),
            ("directory", "/srv"),
            ("fstype", "xfs"),
            ("options", "noatime"),
        ])
        .unwrap();
        assert_eq!(
            c.mount_command().display(),
            "mount -t xfs -o noatime /dev/drbd0 /srv"
        );
        assert!(
            c.mount_command()
                .env
                .contains(&("LC_ALL".into(), "C".into()))
        );
        let b = cfg(&[
            ("device", "/src"),
            ("directory", "/b"),
            ("fstype", "none"),
            ("options", "bind"),
        ])
        .unwrap();
        assert_eq!(b.mount_command().display(), "mount -o bind /src /b");
        assert_eq!(b.umount_command(true).display(), "umount -c -f /b");
        assert_eq!(c.status_file("node/1"), "/srv/.Filesystem_status/node_1");
        assert_eq!(device_path("UUID=ab-cd"), "/dev/disk/by-uuid/ab-cd");
        assert_eq!(device_path("LABEL=data"), "/dev/disk/by-label/data");
    }

    #[test]
    fn local_file_systems_refuse_to_be_clones() {
        let ext4 = cfg(&[
            ("device", "/dev/drbd0"),
            ("directory", "/m"),
            ("fstype", "ext4"),
        ])
        .unwrap();
        let e = ext4.check_clone(Some(2)).unwrap_err();
        assert_eq!(e.exit(), OcfExit::ErrConfigured);
        assert!(
            e.reason().contains("not a cluster file system"),
            "{}",
            e.reason()
        );
        assert!(ext4.check_clone(None).is_ok() && ext4.check_clone(Some(1)).is_ok());
        let gfs2 = cfg(&[
            ("device", "/dev/sdb"),
            ("directory", "/m"),
            ("fstype", "gfs2"),
        ])
        .unwrap();
        assert!(gfs2.check_clone(Some(3)).is_ok());
        let nfs = cfg(&[("device", "h:/e"), ("directory", "/m"), ("fstype", "nfs4")]).unwrap();
        assert!(nfs.check_clone(Some(3)).is_ok());
    }

    #[test]
    fn secrets_never_reach_the_log() {
        let c = cfg(&[
            ("device", "10.0.0.1:6789:/vol"),
            ("directory", "/m"),
            ("fstype", "ceph"),
            ("options", "name=admin,secret=AQBx==,noatime"),
        ])
        .unwrap();
        assert_eq!(
            c.mount_command_for_log(),
            "mount -t ceph -o name=admin,secret=***,noatime 10.0.0.1:6789:/vol /m"
        );
        assert_eq!(
            redact_options("username=u,password=p"),
            "username=u,password=***"
        );
    }

    /// Messages of util-linux 2.38 mount, as seen on Debian 12.
    #[test]
    fn mount_errors_are_classified() {
        let ext4 = cfg(&[
            ("device", "/dev/loop0"),
            ("directory", "/m"),
            ("fstype", "ext4"),
        ])
        .unwrap();
        let ext5 = cfg(&[
            ("device", "/dev/loop0"),
            ("directory", "/m"),
            ("fstype", "ext5"),
        ])
        .unwrap();
        let tmpfs = cfg(&[
            ("device", "tmpfs"),
            ("directory", "/m"),
            ("fstype", "tmpfs"),
            ("options", "size=zz"),
        ])
        .unwrap();
        let ceph = cfg(&[("device", "m:/"), ("directory", "/m"), ("fstype", "ceph")]).unwrap();
        let bad_opt = "mount: /m: wrong fs type, bad option, bad superblock on /dev/loop0, missing codepage or helper program, or other error.\n       dmesg(1) may have more information after failed mount system call.\n";
        assert_eq!(
            classify_mount_error(&ext4, bad_opt),
            MountVerdict::ProbeDevice
        );
        assert!(
            matches!(classify_mount_error(&tmpfs, bad_opt), MountVerdict::Configured(m) if m.contains("size=zz"))
        );
        assert!(matches!(
            classify_mount_error(&ext5, "mount: /m: unknown filesystem type 'ext5'.\n"),
            MountVerdict::Configured(_)
        ));
        assert!(matches!(
            classify_mount_error(&ceph, "mount: /m: unknown filesystem type 'ceph'.\n"),
            MountVerdict::Installed(m) if m.contains("cannot mount ceph")
        ));
        assert!(matches!(
            classify_mount_error(
                &ext4,
                "mount: /m: special device /dev/loop0 does not exist.\n"
            ),
            MountVerdict::Installed(_)
        ));
        assert!(matches!(
            classify_mount_error(
                &ceph,
                "modprobe: FATAL: Module ceph not found in directory /lib/modules/6.18\n"
            ),
            MountVerdict::Installed(_)
        ));
        assert!(matches!(
            classify_mount_error(&ceph, "mount error: no mds server is up or the cluster is laggy\n"),
            MountVerdict::Generic(m) if m.contains("no mds")
        ));
        assert_eq!(
            judge_refused_device(&ext4, Some("ext4")).exit(),
            OcfExit::ErrConfigured
        );
        let other = judge_refused_device(&ext4, Some("xfs"));
        assert!(other.reason().contains("holds a xfs"), "{}", other.reason());
        assert_eq!(
            judge_refused_device(&ext4, None).exit(),
            OcfExit::ErrGeneric
        );
    }
}
