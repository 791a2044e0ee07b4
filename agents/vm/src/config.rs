//! The agent's parameters, and what it reads from text: the domain XML (name, disks),
//! `/proc/self/mountinfo` (which file system holds a disk), virsh's error messages and a
//! QEMU command line. Everything here is pure.

use std::path::{Path, PathBuf};

use ocf::{Failure, ParamSpec, Params};
use quick_xml::Reader;
use quick_xml::events::Event;

/// The libvirt URI used when `hypervisor` is not set.
pub const DEFAULT_HYPERVISOR: &str = "qemu:///system";

/// The parameter declarations: meta-data, validation and typed access all come from here.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::string("config", "The domain's libvirt XML file")
        .long(
            "Absolute path of the domain's XML definition (virsh dumpxml). The domain's \
             name is read from it. It must exist on every node that may run the domain.",
        )
        .required()
        .unique(),
    ParamSpec::string("hypervisor", "libvirt URI of this node's hypervisor")
        .long("The libvirt connection URI of the local hypervisor.")
        .default(DEFAULT_HYPERVISOR),
    ParamSpec::boolean("force_stop", "Destroy instead of shutting down")
        .long(
            "Stop with 'virsh destroy' at once instead of a graceful ACPI shutdown first. \
             For guests that do not react to the ACPI power button.",
        )
        .default("false"),
    ParamSpec::integer(
        "shutdown_timeout",
        "Seconds to wait for a graceful shutdown",
    )
    .long(
        "How long stop waits for the guest to power off after the ACPI shutdown \
             request before it destroys the domain. Default: as long as the stop timeout \
             allows while keeping a fifth of it (at most 5 s) for the destroy.",
    )
    .range(Some(0), None),
    ParamSpec::select(
        "migration_transport",
        &["ssh", "tcp", "tls", "libssh", "libssh2"],
        "Transport to the target node's libvirt",
    )
    .long(
        "The transport of the default remote_uri, qemu+TRANSPORT://TARGET/system: ssh, \
             tcp, tls, libssh or libssh2.",
    )
    .default("ssh"),
    ParamSpec::string("remote_uri", "libvirt URI of the target node").long(
        "How migrate_to reaches the target node's libvirt. %n is replaced by the target \
             node's name (CRM_meta_migrate_target). Default: \
             qemu+MIGRATION_TRANSPORT://%n/system.",
    ),
    ParamSpec::string("migrateuri", "Where the migration data goes").long(
        "The URI QEMU's migration stream goes to (virsh migrate's migrateuri, e.g. \
             tcp://%n or tcp://%n:49152, for a dedicated migration network). %n is \
             replaced by the target node's name. Default: chosen by libvirt.",
    ),
    ParamSpec::string("migrate_options", "Extra 'virsh migrate' options").long(
        "Options added to 'virsh migrate --live', separated by spaces (no quoting), \
             e.g. '--compressed --auto-converge' or '--unsafe'.",
    ),
    ParamSpec::boolean(
        "sync_config_on_stop",
        "Write the running definition back on stop",
    )
    .long(
        "Before stopping, write the running domain's definition (virsh dumpxml \
             --migratable) to the config file, so that changes made through libvirt \
             survive a stop.",
    )
    .default("false"),
    ParamSpec::boolean(
        "autoset_utilization_cpu",
        "Publish the vCPUs as utilization",
    )
    .long(
        "After start, migrate_from and on monitor, publish the domain's vCPU count as \
             the resource's 'cpu' utilization (only when it changed).",
    )
    .default("true"),
    ParamSpec::boolean(
        "autoset_utilization_mem",
        "Publish the memory as utilization",
    )
    .long(
        "After start, migrate_from and on monitor, publish the domain's maximum memory \
             in MiB as the resource's 'hv_memory' utilization (only when it changed), so \
             placement checks a node's free RAM.",
    )
    .default("true"),
    ParamSpec::boolean("require_shared_storage", "Refuse domains with local disks")
        .long(
            "When true, validate-all and start refuse (exit 6) a domain with a writable \
             disk on local storage: only disks over the network (RBD, iSCSI, NBD, \
             Gluster), RBD, DRBD or iSCSI block devices, and files on NFS, CephFS, \
             GlusterFS, GFS2, OCFS2 or CIFS can follow the domain to another node.",
        )
        .default("false"),
    ParamSpec::boolean("monitor_guest_agent", "Ping the guest agent at depth 10")
        .long(
            "Monitor depth 10 also pings the QEMU guest agent inside the domain \
             (guest-ping); a running domain whose agent does not answer fails the monitor.",
        )
        .default("false"),
];

/// The parameters, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The domain XML file.
    pub config: PathBuf,
    /// The local libvirt URI.
    pub hypervisor: String,
    /// Destroy at once on stop.
    pub force_stop: bool,
    /// The graceful-shutdown limit.
    pub shutdown_timeout: Option<std::time::Duration>,
    /// The default remote URI's transport.
    pub migration_transport: String,
    /// The remote URI template.
    pub remote_uri: Option<String>,
    /// The migration URI template.
    pub migrateuri: Option<String>,
    /// Extra `virsh migrate` options.
    pub migrate_options: Vec<String>,
    /// Write the definition back on stop.
    pub sync_config_on_stop: bool,
    /// Publish vCPUs.
    pub utilization_cpu: bool,
    /// Publish memory.
    pub utilization_mem: bool,
    /// Refuse local disks.
    pub require_shared_storage: bool,
    /// Ping the guest agent at depth 10.
    pub monitor_guest_agent: bool,
}

impl Config {
    /// The configuration from validated (or leniently parsed) parameters. Fails only on
    /// a missing or relative `config` or an empty `hypervisor`.
    pub fn from_params(params: &Params) -> Result<Config, Failure> {
        let config = match params.str("config") {
            Some(c) if Path::new(c).is_absolute() => PathBuf::from(c),
            Some(c) => {
                return Err(Failure::configured(format!(
                    "parameter config must be an absolute path, not {c:?}"
                )));
            }
            None => return Err(Failure::configured("required parameter config is not set")),
        };
        let hypervisor = params
            .str("hypervisor")
            .unwrap_or(DEFAULT_HYPERVISOR)
            .trim()
            .to_string();
        if hypervisor.is_empty() {
            return Err(Failure::configured("parameter hypervisor is empty"));
        }
        let template = |name: &str| {
            params
                .str(name)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        Ok(Config {
            config,
            hypervisor,
            force_stop: params.bool("force_stop"),
            shutdown_timeout: params
                .int("shutdown_timeout")
                .map(|s| std::time::Duration::from_secs(s.max(0).unsigned_abs())),
            migration_transport: params
                .str("migration_transport")
                .unwrap_or("ssh")
                .to_string(),
            remote_uri: template("remote_uri"),
            migrateuri: template("migrateuri"),
            migrate_options: params
                .str("migrate_options")
                .unwrap_or("")
                .split_whitespace()
                .map(String::from)
                .collect(),
            sync_config_on_stop: params.bool("sync_config_on_stop"),
            utilization_cpu: params.bool("autoset_utilization_cpu"),
            utilization_mem: params.bool("autoset_utilization_mem"),
            require_shared_storage: params.bool("require_shared_storage"),
            monitor_guest_agent: params.bool("monitor_guest_agent"),
        })
    }

    /// The configuration whatever the parameters: `config` as given (possibly empty) and
    /// the default hypervisor for an empty one. For stop and probes only.
    pub fn lenient(params: &Params) -> Config {
        let hypervisor = params
            .str("hypervisor")
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .unwrap_or(DEFAULT_HYPERVISOR);
        let template = |name: &str| params.str(name).map(String::from);
        Config {
            config: PathBuf::from(params.str("config").unwrap_or("")),
            hypervisor: hypervisor.to_string(),
            force_stop: params.bool("force_stop"),
            shutdown_timeout: params
                .int("shutdown_timeout")
                .map(|s| std::time::Duration::from_secs(s.max(0).unsigned_abs())),
            migration_transport: "ssh".into(),
            remote_uri: template("remote_uri"),
            migrateuri: template("migrateuri"),
            migrate_options: Vec::new(),
            sync_config_on_stop: false,
            utilization_cpu: false,
            utilization_mem: false,
            require_shared_storage: false,
            monitor_guest_agent: false,
        }
    }

    /// The target node's libvirt URI for a migration to `target`.
    pub fn remote_uri_for(&self, target: &str) -> String {
        match &self.remote_uri {
            Some(t) => t.replace("%n", target),
            None => format!("qemu+{}://{target}/system", self.migration_transport),
        }
    }

    /// The migration URI for a migration to `target`, if one is set.
    pub fn migrateuri_for(&self, target: &str) -> Option<String> {
        self.migrateuri.as_ref().map(|t| t.replace("%n", target))
    }

    /// Whether the hypervisor is the local system QEMU driver, whose QEMU processes the
    /// agent can find itself when libvirtd does not answer.
    pub fn local_system_qemu(&self) -> bool {
        matches!(
            self.hypervisor.as_str(),
            "qemu:///system" | "qemu+unix:///system" | "kvm:///system"
        )
    }
}

/// How a disk is attached, as far as sharing goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskSource {
    /// `<disk type='file'>`: a path.
    File(PathBuf),
    /// `<disk type='block'>`: a device path.
    Block(PathBuf),
    /// `<disk type='network'>`: a protocol (rbd, iscsi, nbd, gluster, ...).
    Network(String),
    /// Anything else (`volume`, `dir`, `nvme`, ...), with its type.
    Other(String),
}

/// One disk of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// Where its data is.
    pub source: DiskSource,
    /// `<readonly/>` or a CD-ROM/floppy: never written, needs no sharing.
    pub readonly: bool,
    /// The guest's name for it (`vda`), for messages.
    pub target: String,
}

/// What the agent needs from a domain's XML.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Domain {
    /// `<name>`.
    pub name: String,
    /// `<devices><disk>`s that have a source.
    pub disks: Vec<Disk>,
}

/// Read a domain XML definition: its name and its disks.
pub fn parse_domain(xml: &str) -> Result<Domain, String> {
    let mut reader = Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut dom = Domain::default();
    let mut name = None::<String>;
    // The disk being read: type, device, source, readonly, target.
    let mut disk: Option<(String, String, Option<DiskSource>, bool, String)> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed domain XML: {e}"))?;
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let tag = s.name().as_ref().to_string();
                let attr = |key: &str| -> Option<String> {
                    s.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == key)
                        .map(|a| a.value.to_string())
                };
                if path.is_empty() && tag != "domain" {
                    return Err(format!("the root element is <{tag}>, not <domain>"));
                }
                let in_devices = path.len() == 2 && path[1] == "devices";
                if in_devices && tag == "disk" {
                    disk = Some((
                        attr("type").unwrap_or_else(|| "file".into()),
                        attr("device").unwrap_or_else(|| "disk".into()),
                        None,
                        false,
                        String::new(),
                    ));
                } else if let Some(d) = disk.as_mut().filter(|_| path.len() == 3) {
                    match tag.as_str() {
                        "source" => {
                            d.2 = match d.0.as_str() {
                                "file" => attr("file").map(|f| DiskSource::File(f.into())),
                                "block" => attr("dev").map(|f| DiskSource::Block(f.into())),
                                "network" => {
                                    Some(DiskSource::Network(attr("protocol").unwrap_or_default()))
                                }
                                other => Some(DiskSource::Other(other.to_string())),
                            }
                        }
                        "readonly" => d.3 = true,
                        "target" => d.4 = attr("dev").unwrap_or_default(),
                        _ => {}
                    }
                }
                if matches!(event, Event::Start(_)) {
                    path.push(tag);
                } else if in_devices && tag == "disk" {
                    disk = None;
                }
            }
            Event::Text(t) if path.len() == 2 && path[1] == "name" => {
                let text = t.trim().to_string();
                name.get_or_insert_with(String::new).push_str(&text);
            }
            Event::End(_) => {
                if path.len() == 3
                    && path[2] == "disk"
                    && let Some((_, device, Some(source), readonly, target)) = disk.take()
                {
                    dom.disks.push(Disk {
                        source,
                        readonly: readonly || device == "cdrom" || device == "floppy",
                        target,
                    });
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    dom.name = name
        .filter(|n| !n.is_empty())
        .ok_or("the domain XML has no <name>")?;
    Ok(dom)
}

/// File systems whose files other nodes see too.
pub const SHARED_FS: &[&str] = &[
    "nfs",
    "nfs4",
    "ceph",
    "fuse.ceph",
    "fuse.ceph-fuse",
    "glusterfs",
    "fuse.glusterfs",
    "gfs2",
    "ocfs2",
    "cifs",
    "smb3",
];

/// Mount points and their file-system types from `/proc/self/mountinfo`.
pub fn parse_mounts(mountinfo: &str) -> Vec<(PathBuf, String)> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let mount_point = left.split(' ').nth(4)?;
            let fstype = right.split(' ').next()?;
            Some((
                PathBuf::from(unescape_octal(mount_point)),
                fstype.to_string(),
            ))
        })
        .collect()
}

fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The file-system type holding `path`: the longest mount point that contains it (later
/// mounts over the same point win, as in the kernel).
pub fn fs_type_of<'a>(mounts: &'a [(PathBuf, String)], path: &Path) -> Option<&'a str> {
    mounts
        .iter()
        .filter(|(mp, _)| path.starts_with(mp))
        .max_by_key(|(mp, _)| mp.components().count())
        .map(|(_, t)| t.as_str())
}

/// Why a disk is not on shared storage, or `None` when it is (or is read-only).
pub fn local_disk_reason(disk: &Disk, mounts: &[(PathBuf, String)]) -> Option<String> {
    if disk.readonly {
        return None;
    }
    match &disk.source {
        DiskSource::Network(_) => None,
        DiskSource::File(p) => match fs_type_of(mounts, p) {
            Some(t) if SHARED_FS.contains(&t) => None,
            Some(t) => Some(format!("{} is {} on local {t}", disk.target, p.display())),
            None => Some(format!(
                "{} is {} on no known mount",
                disk.target,
                p.display()
            )),
        },
        DiskSource::Block(p) => {
            let s = p.to_string_lossy();
            let shared = s.starts_with("/dev/rbd")
                || s.starts_with("/dev/drbd")
                || (s.starts_with("/dev/disk/by-path/ip-") && s.contains("-iscsi-"));
            (!shared).then(|| format!("{} is the local block device {s}", disk.target))
        }
        DiskSource::Other(t) => Some(format!(
            "{} is a disk of type {t}, whose sharing the agent cannot tell",
            disk.target
        )),
    }
}

/// Whether a libvirt error message says that the domain does not exist, in the wordings of
/// libvirt from 0.x to 10: `Domain not found`, `domain not found` (9.x, also with `no
/// domain with matching uuid '…' (name)` after it), `failed to get domain` (virsh's own
/// message when the lookup fails).
pub fn says_no_domain(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("domain not found")
        || m.contains("failed to get domain")
        || m.contains("no domain with matching")
}

/// Whether a QEMU command line (`/proc/<pid>/cmdline`, NUL-separated) is that of libvirt's
/// domain `name`: libvirt passes `-name guest=<name>,debug-threads=on`, with commas in the
/// name doubled.
pub fn cmdline_is_domain(cmdline: &str, name: &str) -> bool {
    let escaped = name.replace(',', ",,");
    let mut args = cmdline.split('\0');
    while let Some(a) = args.next() {
        if a == "-name"
            && let Some(v) = args.next()
        {
            let v = v.strip_prefix("guest=").unwrap_or(v);
            return v == escaped
                || v.strip_prefix(escaped.as_str())
                    .is_some_and(|rest| rest.starts_with(',') && !rest.starts_with(",,"));
        }
    }
    false
}
