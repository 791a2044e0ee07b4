//! What `drbdsetup events2 --now <resource>` says about one resource, and what the agent
//! decides from it. Pure: text in, values out.
//!
//! The grammar (drbdsetup 9.22): one event per line, `<verb> <object> key:value...`, verbs
//! `exists`, `create`, `change`, `destroy`, `call`, `response`, `rename`; objects
//! `resource`, `connection`, `device`, `peer-device`, `path`, `helper`; the initial dump
//! of `--now` ends with `exists -`. With `--now` the agent sees only `exists` lines. Values
//! never contain spaces. Unknown verbs, objects and keys are ignored, so newer drbd-utils
//! that add fields still parse.

use std::collections::BTreeMap;
use std::fmt;

/// A DRBD disk state, as printed by drbdsetup (`disk:` and `peer-disk:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Disk {
    /// No local disk attached.
    Diskless,
    /// Being attached.
    Attaching,
    /// Being detached.
    Detaching,
    /// Failed by an I/O error (on its way to Diskless).
    Failed,
    /// Negotiating with the peer after attach.
    Negotiating,
    /// Known to be incomplete (being synced).
    Inconsistent,
    /// Consistent but known to be older than a peer's.
    Outdated,
    /// The peer's disk state is unknown (peer disks only).
    DUnknown,
    /// Consistent, but whether it is the latest is not known.
    Consistent,
    /// The latest data.
    UpToDate,
}

impl Disk {
    /// The state for drbdsetup's word, `None` for a word it does not print.
    pub fn parse(s: &str) -> Option<Disk> {
        Some(match s {
            "Diskless" => Disk::Diskless,
            "Attaching" => Disk::Attaching,
            "Detaching" => Disk::Detaching,
            "Failed" => Disk::Failed,
            "Negotiating" => Disk::Negotiating,
            "Inconsistent" => Disk::Inconsistent,
            "Outdated" => Disk::Outdated,
            "DUnknown" => Disk::DUnknown,
            "Consistent" => Disk::Consistent,
            "UpToDate" => Disk::UpToDate,
            _ => return None,
        })
    }

    /// Whether the state is on its way somewhere else (attach or detach in progress).
    pub fn transient(self) -> bool {
        matches!(self, Disk::Attaching | Disk::Detaching | Disk::Negotiating)
    }
}

impl fmt::Display for Disk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A resource's or a peer's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Promoted.
    Primary,
    /// Unpromoted.
    Secondary,
    /// Not known (a disconnected peer).
    Unknown,
}

impl Role {
    fn parse(s: &str) -> Role {
        match s {
            "Primary" => Role::Primary,
            "Secondary" => Role::Secondary,
            _ => Role::Unknown,
        }
    }
}

/// One local volume (`exists device`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The volume number.
    pub volume: u32,
    /// The minor (`/dev/drbd<minor>`).
    pub minor: Option<u32>,
    /// The local disk state.
    pub disk: Disk,
    /// Whether the node is an intentionally diskless client for this volume.
    pub client: bool,
    /// Whether the volume has quorum.
    pub quorum: bool,
}

/// A volume as a peer sees it (`exists peer-device`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerDevice {
    /// The volume number.
    pub volume: u32,
    /// The replication state (`Established`, `SyncSource`, `Off`, ...).
    pub replication: String,
    /// The peer's disk state.
    pub peer_disk: Disk,
}

/// One peer (`exists connection`, with its peer devices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The peer's node id.
    pub peer_node_id: Option<u32>,
    /// The connection's name (the peer's host name by default).
    pub name: String,
    /// The connection state (`Connected`, `Connecting`, `StandAlone`, ...).
    pub state: String,
    /// The peer's role.
    pub peer_role: Role,
    /// The peer's volumes.
    pub peer_devices: Vec<PeerDevice>,
}

impl Connection {
    /// Whether the peer is connected.
    pub fn connected(&self) -> bool {
        self.state == "Connected"
    }
}

/// One resource, as `events2 --now` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The resource name.
    pub name: String,
    /// The local role.
    pub role: Role,
    /// The `suspended:` value (`no`, `user`, `no-data`, `fencing`, `quorum`, ...).
    pub suspended: String,
    /// The local volumes.
    pub devices: Vec<Device>,
    /// The peers.
    pub connections: Vec<Connection>,
}

/// Why events2 output could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A line about our resource lacks a field the agent needs, or has a value it cannot read.
    #[error("unreadable drbdsetup events2 line {line:?}: {what}")]
    Field {
        /// The line.
        line: String,
        /// What is wrong.
        what: String,
    },
    /// The dump did not end with `exists -` (drbdsetup was cut short).
    #[error("drbdsetup events2 output ends before 'exists -'")]
    Truncated,
}

fn fields(rest: &str) -> BTreeMap<&str, &str> {
    rest.split_whitespace()
        .filter_map(|w| w.split_once(':'))
        .collect()
}

/// Parse the `exists` dump of `drbdsetup events2 --now` and return the named resource,
/// `None` when the dump does not mention it (the resource is down).
pub fn parse_events2(text: &str, resource: &str) -> Result<Option<Resource>, ParseError> {
    let mut found: Option<Resource> = None;
    let mut ended = false;
    for line in text.lines() {
        let mut words = line.splitn(3, ' ');
        let (Some(verb), Some(object)) = (words.next(), words.next()) else {
            continue;
        };
        if verb != "exists" {
            // --now prints only the initial dump; anything else is a later event.
            continue;
        }
        if object == "-" {
            ended = true;
            break;
        }
        let rest = words.next().unwrap_or("");
        let f = fields(rest);
        if f.get("name") != Some(&resource) {
            continue;
        }
        let bad = |what: &str| ParseError::Field {
            line: line.to_string(),
            what: what.to_string(),
        };
        let num = |key: &str| -> Result<Option<u32>, ParseError> {
            f.get(key)
                .map(|v| {
                    v.parse::<u32>()
                        .map_err(|_| bad(&format!("{key} is not a number")))
                })
                .transpose()
        };
        match object {
            "resource" => {
                let role = f.get("role").ok_or_else(|| bad("no role"))?;
                found = Some(Resource {
                    name: resource.to_string(),
                    role: Role::parse(role),
                    suspended: f.get("suspended").unwrap_or(&"no").to_string(),
                    devices: Vec::new(),
                    connections: Vec::new(),
                });
            }
            "device" => {
                let r = found
                    .as_mut()
                    .ok_or_else(|| bad("device before its resource"))?;
                let disk = f.get("disk").ok_or_else(|| bad("no disk state"))?;
                r.devices.push(Device {
                    volume: num("volume")?.ok_or_else(|| bad("no volume"))?,
                    minor: num("minor")?,
                    disk: Disk::parse(disk).ok_or_else(|| bad("unknown disk state"))?,
                    client: f.get("client") == Some(&"yes"),
                    quorum: f.get("quorum") != Some(&"no"),
                });
            }
            "connection" => {
                let r = found
                    .as_mut()
                    .ok_or_else(|| bad("connection before its resource"))?;
                r.connections.push(Connection {
                    peer_node_id: num("peer-node-id")?,
                    name: f.get("conn-name").unwrap_or(&"").to_string(),
                    state: f
                        .get("connection")
                        .ok_or_else(|| bad("no connection state"))?
                        .to_string(),
                    peer_role: Role::parse(f.get("role").unwrap_or(&"Unknown")),
                    peer_devices: Vec::new(),
                });
            }
            "peer-device" => {
                let r = found
                    .as_mut()
                    .ok_or_else(|| bad("peer-device before its resource"))?;
                let id = num("peer-node-id")?;
                let name = f.get("conn-name").copied().unwrap_or("");
                let c = r
                    .connections
                    .iter_mut()
                    .find(|c| c.peer_node_id == id && c.name == name)
                    .ok_or_else(|| bad("peer-device of an unknown connection"))?;
                let disk = f
                    .get("peer-disk")
                    .ok_or_else(|| bad("no peer-disk state"))?;
                c.peer_devices.push(PeerDevice {
                    volume: num("volume")?.ok_or_else(|| bad("no volume"))?,
                    replication: f.get("replication").unwrap_or(&"Off").to_string(),
                    peer_disk: Disk::parse(disk).ok_or_else(|| bad("unknown peer-disk state"))?,
                });
            }
            // path, helper: nothing the agent decides on.
            _ => {}
        }
    }
    if !ended {
        return Err(ParseError::Truncated);
    }
    Ok(found)
}

/// Promotion score with UpToDate data on every volume, every peer known.
pub const SCORE_UP_TO_DATE: i64 = 10_000;
/// Promotion score with UpToDate data while some peer is not connected.
pub const SCORE_UP_TO_DATE_PEER_UNKNOWN: i64 = 1_000;
/// Promotion score with Consistent data: promotable once DRBD calls it UpToDate.
pub const SCORE_CONSISTENT: i64 = 100;

impl Resource {
    /// The local volumes that hold data (not intentionally diskless).
    fn data_devices(&self) -> impl Iterator<Item = &Device> {
        self.devices.iter().filter(|d| !d.client)
    }

    /// The worst local disk state over the volumes that hold data; `None` for a diskless
    /// client or a resource without volumes.
    pub fn worst_disk(&self) -> Option<Disk> {
        self.data_devices().map(|d| d.disk).min()
    }

    /// Whether a peer has UpToDate data for every volume.
    pub fn peer_up_to_date(&self) -> bool {
        !self.devices.is_empty()
            && self.devices.iter().all(|d| {
                self.connections.iter().any(|c| {
                    c.connected()
                        && c.peer_devices
                            .iter()
                            .any(|p| p.volume == d.volume && p.peer_disk == Disk::UpToDate)
                })
            })
    }

    /// Whether every peer is connected.
    pub fn all_peers_connected(&self) -> bool {
        self.connections.iter().all(Connection::connected)
    }

    /// Whether every volume has quorum.
    pub fn quorum(&self) -> bool {
        self.devices.iter().all(|d| d.quorum)
    }

    /// This node's promotion score: `None` when it must not be promoted.
    pub fn promotion_score(&self) -> Option<i64> {
        if !self.quorum() {
            return None;
        }
        match self.worst_disk()? {
            Disk::UpToDate if self.all_peers_connected() => Some(SCORE_UP_TO_DATE),
            Disk::UpToDate => Some(SCORE_UP_TO_DATE_PEER_UNKNOWN),
            Disk::Consistent => Some(SCORE_CONSISTENT),
            _ => None,
        }
    }

    /// Why this node cannot be promoted now, `None` when it can: every volume must hold
    /// UpToDate data locally.
    pub fn promote_refusal(&self) -> Option<String> {
        if self.devices.is_empty() {
            return Some(format!("resource {} has no volumes", self.name));
        }
        if let Some(d) = self.data_devices().find(|d| d.disk != Disk::UpToDate) {
            return Some(format!(
                "volume {} of {} is {}, promote needs UpToDate data",
                d.volume, self.name, d.disk
            ));
        }
        if self.data_devices().next().is_none() {
            return Some(format!(
                "{} is a diskless client here, promote needs UpToDate data on this node",
                self.name
            ));
        }
        if let Some(d) = self.devices.iter().find(|d| !d.quorum) {
            return Some(format!(
                "volume {} of {} has no quorum",
                d.volume, self.name
            ));
        }
        None
    }

    /// Why a Primary is failed, `None` when it is healthy: a volume lost its local disk
    /// (an I/O error detaches it) or its quorum, or I/O is suspended for lack of data.
    pub fn primary_failure(&self) -> Option<String> {
        if let Some(d) = self
            .data_devices()
            .find(|d| d.disk != Disk::UpToDate && !d.disk.transient())
        {
            let via_peer = if self.peer_up_to_date() {
                " (I/O goes to the peer)"
            } else {
                " and no peer has UpToDate data"
            };
            return Some(format!(
                "{} is Primary but its volume {} is {}{via_peer}",
                self.name, d.volume, d.disk
            ));
        }
        if self.data_devices().next().is_none() && !self.peer_up_to_date() {
            return Some(format!(
                "{} is a Primary diskless client and no peer has UpToDate data",
                self.name
            ));
        }
        if let Some(d) = self.devices.iter().find(|d| !d.quorum) {
            return Some(format!(
                "{} is Primary but volume {} lost quorum",
                self.name, d.volume
            ));
        }
        if self.suspended.contains("no-data") || self.suspended.contains("quorum") {
            return Some(format!(
                "{} is Primary with I/O suspended ({})",
                self.name, self.suspended
            ));
        }
        None
    }

    /// One line for logs: role, disks, peers.
    pub fn summary(&self) -> String {
        let disks: Vec<String> = self
            .devices
            .iter()
            .map(|d| format!("{}:{}", d.volume, d.disk))
            .collect();
        let peers: Vec<String> = self
            .connections
            .iter()
            .map(|c| {
                let pd: Vec<String> = c
                    .peer_devices
                    .iter()
                    .map(|p| p.peer_disk.to_string())
                    .collect();
                format!("{}={}/{:?}/{}", c.name, c.state, c.peer_role, pd.join(","))
            })
            .collect();
        format!(
            "{} {:?} disk {} peers [{}]",
            self.name,
            self.role,
            disks.join(","),
            peers.join(" ")
        )
    }
}

/// Whether drbdsetup failed because the DRBD kernel module cannot be loaded: drbdsetup
/// exits 20 after printing `Failed to modprobe drbd (...)` (or, when the module is loaded
/// but has no generic-netlink family, `Could not connect to 'drbd' generic netlink family`).
pub fn module_missing(code: Option<i32>, stderr: &str) -> bool {
    code == Some(20)
        && (stderr.contains("Failed to modprobe drbd")
            || stderr.contains("Could not connect to 'drbd' generic netlink family"))
}

/// Whether drbdsetup failed because the kernel does not know the resource (exit 10 with
/// `<name>: No such resource` or `(158) Unknown resource`): the resource is down. drbdsetup
/// 9.22 with a current module answers `events2 --now` for an unknown resource with an
/// empty dump instead, which means the same.
pub fn unknown_resource(code: Option<i32>, stderr: &str) -> bool {
    code == Some(10)
        && (stderr.contains(": No such resource") || stderr.contains("Unknown resource"))
}

/// The last line of a command's error output that says something (drbdadm repeats
/// `modinfo` noise before the real message), for exit reasons.
pub fn last_message(stderr: &str) -> &str {
    stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("modinfo:"))
        .unwrap_or("")
}

/// The message of a failed drbdadm run: drbdsetup's own error line when drbdadm quotes
/// one, else the last line.
pub fn drbdadm_failure(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("modinfo:"))
        .collect();
    match lines.iter().position(|l| l.starts_with("Command '")) {
        Some(i) if i > 0 => format!("{} ({})", lines[i - 1], lines[i]),
        _ => lines.last().copied().unwrap_or("no message").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIMARY: &str = include_str!("../testdata/events2_now_primary_uptodate.txt");
    const PEER_LOST: &str = include_str!("../testdata/events2_now_secondary_peer_lost.txt");
    const STREAM: &str = include_str!("../testdata/events2_stream_resync.txt");

    fn parse(text: &str) -> Resource {
        parse_events2(text, "r0").unwrap().unwrap()
    }

    #[test]
    fn a_connected_primary_with_uptodate_data_everywhere() {
        let r = parse(PRIMARY);
        assert_eq!(r.role, Role::Primary);
        assert_eq!(r.suspended, "no");
        assert_eq!(
            r.devices,
            vec![Device {
                volume: 0,
                minor: Some(100),
                disk: Disk::UpToDate,
                client: false,
                quorum: true
            }]
        );
        assert_eq!(r.connections.len(), 1);
        let c = &r.connections[0];
        assert_eq!((c.peer_node_id, c.name.as_str()), (Some(1), "peer"));
        assert!(c.connected());
        assert_eq!(c.peer_role, Role::Secondary);
        assert_eq!(c.peer_devices[0].replication, "Established");
        assert_eq!(c.peer_devices[0].peer_disk, Disk::UpToDate);
        assert!(r.peer_up_to_date());
        assert_eq!(r.promotion_score(), Some(SCORE_UP_TO_DATE));
        assert_eq!(r.primary_failure(), None);
        assert_eq!(r.promote_refusal(), None);
    }

    #[test]
    fn a_secondary_that_lost_its_peer_keeps_a_lower_score() {
        let r = parse(PEER_LOST);
        assert_eq!(r.role, Role::Secondary);
        assert_eq!(r.connections[0].state, "Connecting");
        assert_eq!(r.connections[0].peer_role, Role::Unknown);
        assert_eq!(r.connections[0].peer_devices[0].peer_disk, Disk::DUnknown);
        assert!(!r.peer_up_to_date());
        assert_eq!(r.promotion_score(), Some(SCORE_UP_TO_DATE_PEER_UNKNOWN));
        assert_eq!(r.promote_refusal(), None);
    }

    #[test]
    fn a_stream_without_exists_lines_has_no_resource() {
        // events2 without --now: the dump is empty ("exists -" first) and later events are
        // changes, which the agent never reads as the current state.
        assert_eq!(parse_events2(STREAM, "r0").unwrap(), None);
    }

    #[test]
    fn an_empty_dump_means_down_and_a_cut_dump_is_an_error() {
        assert_eq!(parse_events2("exists -\n", "r0").unwrap(), None);
        assert_eq!(parse_events2(PRIMARY, "r1").unwrap(), None);
        let cut: String = PRIMARY.lines().take(3).map(|l| format!("{l}\n")).collect();
        assert_eq!(parse_events2(&cut, "r0"), Err(ParseError::Truncated));
        assert_eq!(parse_events2("", "r0"), Err(ParseError::Truncated));
    }

    #[test]
    fn other_resources_unknown_fields_and_objects_are_ignored() {
        let text = "exists resource name:r1 role:Primary suspended:no\n\
            exists resource name:r0 role:Secondary suspended:no new-field:42\n\
            exists device name:r1 volume:0 minor:1 disk:Diskless client:no quorum:yes\n\
            exists device name:r0 volume:0 minor:0 disk:Outdated client:no quorum:yes open:no\n\
            exists frobnicator name:r0 x:y\n\
            exists -\n";
        let r = parse(text);
        assert_eq!(r.devices.len(), 1);
        assert_eq!(r.worst_disk(), Some(Disk::Outdated));
        assert_eq!(r.promotion_score(), None);
        assert_eq!(
            r.promote_refusal().unwrap(),
            "volume 0 of r0 is Outdated, promote needs UpToDate data"
        );
    }

    #[test]
    fn unreadable_lines_are_errors_naming_the_line() {
        for text in [
            "exists device name:r0 volume:0 disk:UpToDate\nexists -\n",
            "exists resource name:r0 role:Secondary\nexists device name:r0 volume:x disk:UpToDate\nexists -\n",
            "exists resource name:r0 role:Secondary\nexists device name:r0 volume:0 disk:Shiny\nexists -\n",
            "exists resource name:r0\nexists -\n",
        ] {
            let e = parse_events2(text, "r0").unwrap_err();
            assert!(matches!(e, ParseError::Field { .. }), "{text}: {e}");
        }
    }

    fn with_disk(disk: &str, extra_volume: Option<&str>) -> Resource {
        let mut text = format!(
            "exists resource name:r0 role:Secondary suspended:no\n\
             exists connection name:r0 peer-node-id:1 conn-name:b connection:Connected role:Secondary\n\
             exists device name:r0 volume:0 minor:0 backing_dev:/dev/vg/r0 disk:{disk} client:no quorum:yes\n"
        );
        if let Some(d) = extra_volume {
            text += &format!(
                "exists device name:r0 volume:1 minor:1 backing_dev:/dev/vg/r1 disk:{d} client:no quorum:yes\n"
            );
        }
        text += "exists peer-device name:r0 peer-node-id:1 conn-name:b volume:0 replication:Established peer-disk:UpToDate peer-client:no resync-suspended:no\nexists -\n";
        parse(&text)
    }

    #[test]
    fn scores_follow_the_worst_local_disk() {
        assert_eq!(with_disk("UpToDate", None).promotion_score(), Some(10_000));
        assert_eq!(with_disk("Consistent", None).promotion_score(), Some(100));
        for d in [
            "Outdated",
            "Inconsistent",
            "Diskless",
            "Failed",
            "Attaching",
        ] {
            assert_eq!(with_disk(d, None).promotion_score(), None, "{d}");
        }
        assert_eq!(
            with_disk("UpToDate", Some("Inconsistent")).promotion_score(),
            None
        );
        assert!(
            with_disk("UpToDate", Some("Inconsistent"))
                .promote_refusal()
                .unwrap()
                .contains("volume 1 of r0 is Inconsistent")
        );
    }

    #[test]
    fn a_primary_that_lost_its_disk_has_failed() {
        let mut r = with_disk("Diskless", None);
        r.role = Role::Primary;
        let why = r.primary_failure().unwrap();
        assert!(
            why.contains("volume 0 is Diskless (I/O goes to the peer)"),
            "{why}"
        );
        r.connections[0].state = "Connecting".into();
        let why = r.primary_failure().unwrap();
        assert!(why.contains("no peer has UpToDate data"), "{why}");
        let mut r = with_disk("UpToDate", None);
        r.devices[0].quorum = false;
        assert!(r.primary_failure().unwrap().contains("lost quorum"));
        assert_eq!(r.promotion_score(), None);
        // A disk that is still attaching is not a failure yet.
        let r = with_disk("Attaching", None);
        assert_eq!(r.primary_failure(), None);
    }

    #[test]
    fn three_nodes_two_peers_each_counted() {
        let text = "exists resource name:r0 role:Secondary suspended:no\n\
            exists connection name:r0 peer-node-id:1 conn-name:b connection:Connected role:Primary\n\
            exists connection name:r0 peer-node-id:2 conn-name:c connection:Connecting role:Unknown\n\
            exists device name:r0 volume:0 minor:0 backing_dev:/dev/vg/r0 disk:UpToDate client:no quorum:yes\n\
            exists peer-device name:r0 peer-node-id:1 conn-name:b volume:0 replication:Established peer-disk:UpToDate peer-client:no resync-suspended:no\n\
            exists peer-device name:r0 peer-node-id:2 conn-name:c volume:0 replication:Off peer-disk:DUnknown peer-client:no resync-suspended:no\n\
            exists -\n";
        let r = parse(text);
        assert_eq!(r.connections.len(), 2);
        assert_eq!(r.connections[1].peer_devices[0].peer_disk, Disk::DUnknown);
        assert!(r.peer_up_to_date());
        assert!(!r.all_peers_connected());
        assert_eq!(r.promotion_score(), Some(SCORE_UP_TO_DATE_PEER_UNKNOWN));
    }

    #[test]
    fn a_diskless_client_is_never_a_promotion_candidate() {
        let text = "exists resource name:r0 role:Secondary suspended:no\n\
            exists connection name:r0 peer-node-id:1 conn-name:b connection:Connected role:Primary\n\
            exists device name:r0 volume:0 minor:0 backing_dev:none disk:Diskless client:yes quorum:yes\n\
            exists peer-device name:r0 peer-node-id:1 conn-name:b volume:0 replication:Established peer-disk:UpToDate peer-client:no resync-suspended:no\n\
            exists -\n";
        let r = parse(text);
        assert_eq!(r.promotion_score(), None);
        assert!(r.promote_refusal().unwrap().contains("diskless client"));
        let mut p = r.clone();
        p.role = Role::Primary;
        assert_eq!(p.primary_failure(), None);
    }

    #[test]
    fn module_missing_is_recognised_from_drbdsetups_own_words() {
        let real = "modprobe: FATAL: Module drbd not found in directory /lib/modules/6.18.44-fc-v657\n\
                    Failed to modprobe drbd (No such file or directory)\n";
        assert!(module_missing(Some(20), real));
        assert!(!module_missing(Some(10), real));
        assert!(!module_missing(Some(20), "r0: No such resource\n"));
        assert_eq!(
            last_message(&format!("modinfo: ERROR: Module drbd not found.\n{real}")),
            "Failed to modprobe drbd (No such file or directory)"
        );
    }

    #[test]
    fn an_unknown_resource_is_recognised() {
        assert!(unknown_resource(Some(10), "r0: No such resource\n"));
        assert!(unknown_resource(
            Some(10),
            "r0: Failure: (158) Unknown resource\n"
        ));
        assert!(!unknown_resource(Some(20), "r0: No such resource\n"));
        assert!(!unknown_resource(
            Some(10),
            "r0: Failure: (161) Something else\n"
        ));
    }

    #[test]
    fn drbdadm_failures_quote_drbdsetups_error() {
        let err = "r0: State change failed: (-2) Need access to UpToDate data\n\
                   Command 'drbdsetup primary r0' terminated with exit code 17\n";
        assert_eq!(
            drbdadm_failure(err),
            "r0: State change failed: (-2) Need access to UpToDate data \
             (Command 'drbdsetup primary r0' terminated with exit code 17)"
        );
        assert_eq!(
            drbdadm_failure("'r1' not defined in your config (for this host).\n"),
            "'r1' not defined in your config (for this host)."
        );
    }
}
