//! The real Corosync behind [`cluster::Group`], over the `rust-corosync` bindings.
//!
//! [`CorosyncGroup::connect`] opens three connections to the local Corosync: CPG (the group
//! [`cluster::GROUP_NAME`]: messages in agreed order, this node's own looped back, and the
//! group's membership changes), quorum (the partition's verdict, its initial state included)
//! and cmap (the nodelist: [`Group::nodes`]). Nothing here runs on its own thread: callbacks
//! run inside `*_dispatch`, which only [`Group::poll`] and [`Group::wait`] call, after
//! `poll(2)` on the connections' descriptors says something is there.
//!
//! Invariants:
//! - The bindings call callbacks as plain functions while they hold a global lock of theirs:
//!   a callback only pushes what it was given onto a thread-local list, which the dispatching
//!   call drains; no handle is ever created, finalised or dropped inside one.
//! - After [`Group::join`] the first event is the group's membership; quorum verdicts that
//!   arrive before it wait and follow it (only a change of verdict is an event).
//! - A node id appears once in a membership even if several processes of that node are in
//!   the group.
//! - `CS_ERR_TRY_AGAIN` is [`Error::TryAgain`] (from [`Group::join`] only after retrying it
//!   for 10 s); a Corosync that went away is
//!   [`Error::Closed`], and from then on [`Group::wait`] returns `None` at once and
//!   [`Group::is_closed`] is true.

#![deny(missing_docs)]

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use cluster::{Error, Event, GROUP_NAME, Group, NodeId};
use rust_corosync::{CsError, DispatchFlags, TrackFlags, cmap, cpg, quorum};

/// How long [`Group::join`] retries Corosync's `TRY_AGAIN` before returning it.
const JOIN_RETRY_FOR: Duration = Duration::from_secs(10);

/// Why [`CorosyncGroup::connect`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// A Corosync library call failed (most often: Corosync is not running on this node).
    #[error("corosync {service}: {call} failed: {code} (is corosync running on this node?)")]
    Corosync {
        /// `cpg`, `quorum` or `cmap`.
        service: &'static str,
        /// The call that failed.
        call: &'static str,
        /// The library's error code.
        code: String,
    },
}

fn cs(service: &'static str, call: &'static str) -> impl Fn(CsError) -> ConnectError {
    move |e| ConnectError::Corosync {
        service,
        call,
        code: e.to_string(),
    }
}

/// What a callback hands over (kept as given; turned into [`Event`]s outside the callback).
enum Raw {
    Deliver {
        group: String,
        from: NodeId,
        payload: Vec<u8>,
    },
    Confchg {
        group: String,
        members: Vec<NodeId>,
        left: Vec<NodeId>,
        joined: Vec<NodeId>,
    },
    Quorum(bool),
}

thread_local! {
    /// Filled by the callbacks during one `*_dispatch` call on this thread, drained after it.
    static SINK: RefCell<Vec<Raw>> = const { RefCell::new(Vec::new()) };
}

fn push_raw(raw: Raw) {
    SINK.with(|s| s.borrow_mut().push(raw));
}

fn on_deliver(
    _h: &cpg::Handle,
    group: String,
    nodeid: rust_corosync::NodeId,
    _pid: u32,
    msg: &[u8],
    _len: usize,
) {
    push_raw(Raw::Deliver {
        group,
        from: nodeid.into(),
        payload: msg.to_vec(),
    });
}

fn ids(list: &[cpg::Address]) -> Vec<NodeId> {
    list.iter().map(|a| u32::from(a.nodeid)).collect()
}

fn on_confchg(
    _h: &cpg::Handle,
    group: &str,
    members: Vec<cpg::Address>,
    left: Vec<cpg::Address>,
    joined: Vec<cpg::Address>,
) {
    push_raw(Raw::Confchg {
        group: group.to_string(),
        members: ids(&members),
        left: ids(&left),
        joined: ids(&joined),
    });
}

fn on_quorum(
    _h: &quorum::Handle,
    quorate: bool,
    _ring: quorum::RingId,
    _members: Vec<rust_corosync::NodeId>,
) {
    push_raw(Raw::Quorum(quorate));
}

/// A group membership as [`Event::Membership`] says it: node ids, once each, ascending; who
/// left is only who has no process left in the group.
fn membership(members: &[NodeId], left: &[NodeId], joined: &[NodeId]) -> Event {
    let members: BTreeSet<NodeId> = members.iter().copied().collect();
    let left: BTreeSet<NodeId> = left
        .iter()
        .copied()
        .filter(|n| !members.contains(n))
        .collect();
    let joined: BTreeSet<NodeId> = joined.iter().copied().collect();
    Event::Membership {
        members: members.into_iter().collect(),
        left: left.into_iter().collect(),
        joined: joined.into_iter().collect(),
    }
}

/// What the callbacks gave, turned into [`Event`]s in the order the trait promises.
#[derive(Debug)]
struct Events {
    group: String,
    ready: VecDeque<Event>,
    /// Whether the first membership after joining was handed out.
    seen_membership: bool,
    /// The newest quorum verdict not handed out yet (held until the first membership).
    pending_quorum: Option<bool>,
    /// The last quorum verdict handed out.
    last_quorum: Option<bool>,
}

impl Events {
    /// For the CPG group `group`, with the quorum verdict read at connect.
    fn new(group: &str, quorate: bool) -> Events {
        Events {
            group: group.to_string(),
            ready: VecDeque::new(),
            seen_membership: false,
            pending_quorum: Some(quorate),
            last_quorum: None,
        }
    }

    /// Takes what one dispatch gave, in its order: messages and memberships of this group
    /// (none before its first membership), quorum changes (after it).
    fn take(&mut self, raws: Vec<Raw>) {
        for raw in raws {
            match raw {
                Raw::Deliver {
                    group,
                    from,
                    payload,
                } if group == self.group && self.seen_membership => {
                    self.ready.push_back(Event::Message { from, payload });
                }
                Raw::Confchg {
                    group,
                    members,
                    left,
                    joined,
                } if group == self.group => {
                    self.ready.push_back(membership(&members, &left, &joined));
                    if !self.seen_membership {
                        self.seen_membership = true;
                        self.flush_quorum();
                    }
                }
                Raw::Quorum(q) => {
                    self.pending_quorum = Some(q);
                    if self.seen_membership {
                        self.flush_quorum();
                    }
                }
                Raw::Deliver { .. } | Raw::Confchg { .. } => {}
            }
        }
    }

    fn flush_quorum(&mut self) {
        if let Some(q) = self.pending_quorum.take()
            && self.last_quorum != Some(q)
        {
            self.last_quorum = Some(q);
            self.ready.push_back(Event::Quorum { quorate: q });
        }
    }
}

/// This node's connection to Corosync: the CPG group, quorum and the nodelist.
pub struct CorosyncGroup {
    // Field order is drop order: the handles finalise on drop, outside any callback.
    cpg: cpg::Handle,
    quorum: quorum::Handle,
    cmap: cmap::Handle,
    group: String,
    local: NodeId,
    joined: bool,
    closed: bool,
    events: Events,
    /// The caller's descriptor that ends a wait when readable ([`Group::wake_on`]).
    wake: Option<std::os::fd::RawFd>,
    /// The nodelist read at connect, for when cmap cannot be read later.
    nodes_at_connect: Vec<(NodeId, String)>,
}

impl std::fmt::Debug for CorosyncGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorosyncGroup")
            .field("group", &self.group)
            .field("local", &self.local)
            .field("joined", &self.joined)
            .field("closed", &self.closed)
            .field("ready", &self.events.ready.len())
            .finish()
    }
}

impl CorosyncGroup {
    /// Connects to this node's Corosync for the group [`GROUP_NAME`] (not joined yet).
    pub fn connect() -> Result<CorosyncGroup, ConnectError> {
        CorosyncGroup::connect_to(GROUP_NAME)
    }

    /// Connects for another CPG group name (tests, or a second crm-lite beside the first).
    pub fn connect_to(group: &str) -> Result<CorosyncGroup, ConnectError> {
        let model = cpg::ModelData::ModelV1(cpg::Model1Data {
            flags: cpg::Model1Flags::None,
            deliver_fn: Some(on_deliver),
            confchg_fn: Some(on_confchg),
            totem_confchg_fn: None,
        });
        let cpg = cpg::initialize(&model, 0).map_err(cs("cpg", "cpg_initialize"))?;
        let local: NodeId = cpg::local_get(&cpg)
            .map_err(cs("cpg", "cpg_local_get"))?
            .into();
        let qmodel = quorum::ModelData::ModelV1(quorum::Model1Data {
            flags: quorum::Model1Flags::None,
            quorum_notification_fn: Some(on_quorum),
            nodelist_notification_fn: None,
        });
        let (quorum, _) =
            quorum::initialize(&qmodel, 0).map_err(cs("quorum", "quorum_initialize"))?;
        let quorate = quorum::getquorate(&quorum).map_err(cs("quorum", "quorum_getquorate"))?;
        quorum::trackstart(&quorum, TrackFlags::Changes)
            .map_err(cs("quorum", "quorum_trackstart"))?;
        let cmap = cmap::initialize(cmap::Map::Icmap).map_err(cs("cmap", "cmap_initialize"))?;
        let nodes_at_connect = read_nodelist(&cmap).map_err(cs("cmap", "cmap_get"))?;
        tracing::debug!(
            local,
            group,
            quorate,
            nodes = nodes_at_connect.len(),
            "connected to corosync"
        );
        Ok(CorosyncGroup {
            cpg,
            quorum,
            cmap,
            group: group.to_string(),
            local,
            joined: false,
            closed: false,
            wake: None,
            events: Events::new(group, quorate),
            nodes_at_connect,
        })
    }

    /// The descriptors to watch (CPG, quorum) when this group is polled together with other
    /// descriptors; when one is readable, [`Group::poll`] has something.
    pub fn fds(&self) -> Vec<RawFd> {
        [
            cpg::fd_get(&self.cpg).ok(),
            quorum::fd_get(&self.quorum).ok(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn close(&mut self, why: &str) {
        if !self.closed {
            tracing::warn!(group = %self.group, why, "the connection to corosync is gone");
        }
        self.closed = true;
    }

    /// Turns what the callbacks left into events.
    fn take_raw(&mut self) {
        let raws = SINK.with(|s| std::mem::take(&mut *s.borrow_mut()));
        self.events.take(raws);
    }

    /// Waits up to `timeout` for a descriptor to be readable and dispatches what is there.
    /// Waits at most `timeout` for Corosync and dispatches what came; whether the caller's
    /// wake descriptor is readable.
    fn pump(&mut self, timeout: Duration) -> bool {
        if self.closed {
            return false;
        }
        let (Ok(cfd), Ok(qfd)) = (cpg::fd_get(&self.cpg), quorum::fd_get(&self.quorum)) else {
            self.close("fd_get failed");
            return false;
        };
        let mut fds = [
            libc::pollfd {
                fd: cfd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: qfd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                // A negative descriptor is ignored by poll(2).
                fd: self.wake.unwrap_or(-1),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: `fds` is a valid array of three pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                tracing::error!(error = %err, "poll on corosync's descriptors failed");
            }
            return false;
        }
        let gone = libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;
        if fds[0].revents != 0 {
            let r = cpg::dispatch(&self.cpg, DispatchFlags::All);
            self.take_raw();
            match r {
                Ok(()) | Err(CsError::CsErrTryAgain) => {}
                Err(e) => self.close(&format!("cpg_dispatch: {e}")),
            }
            if fds[0].revents & gone != 0 {
                self.close("cpg connection hung up");
            }
        }
        if fds[1].revents != 0 {
            let r = quorum::dispatch(&self.quorum, DispatchFlags::All);
            self.take_raw();
            match r {
                Ok(()) | Err(CsError::CsErrTryAgain) => {}
                Err(e) => self.close(&format!("quorum_dispatch: {e}")),
            }
            if fds[1].revents & gone != 0 {
                self.close("quorum connection hung up");
            }
        }
        fds[2].revents != 0
    }
}

/// Corosync's nodelist from cmap (`nodelist.node.<i>.nodeid` and `.name`, or `.ring0_addr`
/// when a node has no name), ascending by id.
fn read_nodelist(cmap: &cmap::Handle) -> Result<Vec<(NodeId, String)>, CsError> {
    let mut nodes = Vec::new();
    for i in 0.. {
        let id = match cmap::get(cmap, &format!("nodelist.node.{i}.nodeid")) {
            Ok(d) => number(&d),
            Err(CsError::CsErrNotExist) => break,
            Err(e) => return Err(e),
        };
        let name = ["name", "ring0_addr"].iter().find_map(|k| {
            match cmap::get(cmap, &format!("nodelist.node.{i}.{k}")) {
                Ok(cmap::Data::String(s)) => Some(s),
                _ => None,
            }
        });
        if let (Some(id), Some(name)) = (id, name) {
            nodes.push((id, name));
        }
    }
    nodes.sort();
    Ok(nodes)
}

fn number(d: &cmap::Data) -> Option<NodeId> {
    match *d {
        cmap::Data::UInt32(v) => Some(v),
        cmap::Data::Int32(v) => u32::try_from(v).ok(),
        cmap::Data::UInt16(v) => Some(v.into()),
        cmap::Data::UInt8(v) => Some(v.into()),
        cmap::Data::UInt64(v) => u32::try_from(v).ok(),
        cmap::Data::String(ref s) => s.parse().ok(),
        _ => None,
    }
}

impl Group for CorosyncGroup {
    fn local_id(&self) -> NodeId {
        self.local
    }

    fn join(&mut self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        if self.joined {
            return Ok(());
        }
        // Corosync says TRY_AGAIN while a membership forms (a node booting with the others):
        // retried here for a while, as Pacemaker does, so that a caller joining once at
        // start-up does not fail for it.
        let until = Instant::now() + JOIN_RETRY_FOR;
        loop {
            match cpg::join(&self.cpg, &self.group) {
                Ok(()) => {
                    self.joined = true;
                    tracing::info!(group = %self.group, local = self.local, "joined the CPG group");
                    return Ok(());
                }
                Err(CsError::CsErrTryAgain) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(CsError::CsErrTryAgain) => return Err(Error::TryAgain),
                Err(e) => {
                    self.close(&format!("cpg_join: {e}"));
                    return Err(Error::Closed);
                }
            }
        }
    }

    fn send(&mut self, payload: &[u8]) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        if !self.joined {
            return Err(Error::NotJoined);
        }
        match cpg::mcast_joined(&self.cpg, cpg::Guarantee::TypeAgreed, payload) {
            Ok(()) => Ok(()),
            Err(CsError::CsErrTryAgain) | Err(CsError::CsErrQueueFull) => Err(Error::TryAgain),
            Err(CsError::CsErrNotExist) => Err(Error::NotJoined),
            Err(e) => {
                // A library or handle error: the connection is gone. (The trait has no
                // variant for a message Corosync refuses; none of ours is near its limit.)
                self.close(&format!("cpg_mcast_joined ({} bytes): {e}", payload.len()));
                Err(Error::Closed)
            }
        }
    }

    fn poll(&mut self) -> Option<Event> {
        if self.events.ready.is_empty() {
            self.pump(Duration::ZERO);
        }
        self.events.ready.pop_front()
    }

    fn wait(&mut self, timeout: Duration) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.events.ready.pop_front() {
                return Some(e);
            }
            if self.closed {
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let woken = self.pump(left);
            if left.is_zero() || woken {
                return self.events.ready.pop_front();
            }
        }
    }

    fn nodes(&self) -> Vec<(NodeId, String)> {
        if self.closed {
            return self.nodes_at_connect.clone();
        }
        read_nodelist(&self.cmap).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read corosync's nodelist; using the one read at connect");
            self.nodes_at_connect.clone()
        })
    }

    fn is_closed(&self) -> bool {
        self.closed
    }

    fn wake_on(&mut self, fd: std::os::fd::RawFd) {
        self.wake = Some(fd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_membership_names_each_node_once_and_a_node_with_a_process_left_has_not_left() {
        // Node 2 had two processes in the group; one left.
        let e = membership(&[3, 1, 2], &[2], &[3]);
        assert_eq!(
            e,
            Event::Membership {
                members: vec![1, 2, 3],
                left: vec![],
                joined: vec![3],
            }
        );
        let e = membership(&[1, 1], &[3, 3, 2], &[]);
        assert_eq!(
            e,
            Event::Membership {
                members: vec![1],
                left: vec![2, 3],
                joined: vec![],
            }
        );
    }

    fn deliver(group: &str, from: NodeId, text: &str) -> Raw {
        Raw::Deliver {
            group: group.into(),
            from,
            payload: text.as_bytes().to_vec(),
        }
    }

    fn confchg(group: &str, members: &[NodeId], joined: &[NodeId]) -> Raw {
        Raw::Confchg {
            group: group.into(),
            members: members.to_vec(),
            left: vec![],
            joined: joined.to_vec(),
        }
    }

    #[test]
    fn quorum_waits_for_the_first_membership_and_only_a_change_of_verdict_is_an_event() {
        let mut ev = Events::new("crm-lite", false);
        // A verdict arrives before the membership: held, and the newest one wins.
        ev.take(vec![Raw::Quorum(true)]);
        assert!(ev.ready.is_empty());
        ev.take(vec![
            confchg("crm-lite", &[1, 2], &[2]),
            Raw::Quorum(true),
            deliver("crm-lite", 1, "a"),
            Raw::Quorum(false),
            Raw::Quorum(false),
        ]);
        let got: Vec<Event> = ev.ready.drain(..).collect();
        assert_eq!(
            got,
            vec![
                Event::Membership {
                    members: vec![1, 2],
                    left: vec![],
                    joined: vec![2],
                },
                Event::Quorum { quorate: true },
                Event::Message {
                    from: 1,
                    payload: b"a".to_vec(),
                },
                Event::Quorum { quorate: false },
            ]
        );
    }

    #[test]
    fn another_groups_traffic_and_messages_before_the_membership_are_not_events() {
        let mut ev = Events::new("crm-lite", true);
        ev.take(vec![
            deliver("crm-lite", 2, "early"),
            confchg("other", &[1], &[1]),
            deliver("other", 1, "x"),
        ]);
        assert!(ev.ready.is_empty(), "{:?}", ev.ready);
        ev.take(vec![
            confchg("crm-lite", &[1], &[1]),
            deliver("other", 1, "y"),
        ]);
        assert_eq!(ev.ready.len(), 2, "{:?}", ev.ready); // membership, then quorum
        assert_eq!(ev.ready[1], Event::Quorum { quorate: true });
    }

    #[test]
    fn cmap_numbers_of_every_width_are_node_ids_and_other_data_is_not() {
        assert_eq!(number(&cmap::Data::UInt32(7)), Some(7));
        assert_eq!(number(&cmap::Data::UInt8(3)), Some(3));
        assert_eq!(number(&cmap::Data::String("12".into())), Some(12));
        assert_eq!(number(&cmap::Data::Int32(-1)), None);
        assert_eq!(number(&cmap::Data::Binary(vec![1])), None);
    }

    #[test]
    fn connecting_without_corosync_is_an_error_naming_the_service() {
        // This test process runs outside any lab node: when no corosync runs here, connect
        // must fail with an error that says so (and must not panic or hang).
        let running = std::path::Path::new("/run/corosync.pid").exists();
        match CorosyncGroup::connect_to("crm-lite-unit") {
            Err(e) => {
                let text = e.to_string();
                assert!(text.contains("corosync cpg"), "{text}");
                assert!(text.contains("is corosync running"), "{text}");
            }
            Ok(g) => assert!(running, "connected with no corosync running: {g:?}"),
        }
    }
}
