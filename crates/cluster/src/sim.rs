//! A simulated Corosync: the [`Group`] trait in-process, driven by a seeded schedule, for
//! deterministic tests in the style of raft-rs's harness. The test (or a random schedule)
//! decides when a queued message is delivered, when a node dies, when the network splits and
//! heals, and how often a send is refused with `TRY_AGAIN`. What it guarantees is what
//! Corosync guarantees, no more:
//! - agreed order: the members of a component deliver its messages in one order, the
//!   sender's own message looped back included;
//! - virtual synchrony: a membership change is delivered, to every member that stays, after
//!   the same messages of the previous membership;
//! - messages of a node that dies and are not yet delivered are cut: nobody delivers them;
//! - quorum (votequorum, one vote per configured node) follows the component's size.
//!
//! Every event delivered is also appended to a trace, with the serial of the membership
//! (view) in which it was delivered, so that tests can check those guarantees.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use crate::{Error, Event, Group, NodeId};

/// A small deterministic random source (xorshift64*), so that a seed replays a schedule.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A source for this seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Debug, Default)]
struct Component {
    view: u64,
    members: BTreeSet<NodeId>,
    pending: VecDeque<(NodeId, Vec<u8>)>,
}

#[derive(Debug)]
struct NodeState {
    alive: bool,
    joined: bool,
    component: usize,
    inbox: VecDeque<Event>,
    quorate: Option<bool>,
}

/// One entry of the trace: `node` delivered `event` while in view `view`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Who delivered it.
    pub node: NodeId,
    /// The serial of the view it was delivered in (of the new view for a membership).
    pub view: u64,
    /// What.
    pub event: Event,
}

#[derive(Debug)]
struct Net {
    rng: Rng,
    try_again_percent: u64,
    nodes: BTreeMap<NodeId, NodeState>,
    components: Vec<Component>,
    next_view: u64,
    trace: Vec<Delivered>,
}

/// The simulated cluster: make nodes with [`SimCorosync::node`], drive it with its methods.
#[derive(Debug, Clone)]
pub struct SimCorosync {
    net: Rc<RefCell<Net>>,
}

/// One node's handle, implementing [`Group`].
#[derive(Debug, Clone)]
pub struct SimNode {
    id: NodeId,
    net: Rc<RefCell<Net>>,
}

impl SimCorosync {
    /// A cluster of the configured nodes `1..=count`, all running Corosync in one component,
    /// none joined to the group yet; `try_again_percent` of the sends are refused.
    pub fn new(seed: u64, count: u32, try_again_percent: u64) -> SimCorosync {
        let nodes = (1..=count)
            .map(|id| {
                (
                    id,
                    NodeState {
                        alive: true,
                        joined: false,
                        component: 0,
                        inbox: VecDeque::new(),
                        quorate: None,
                    },
                )
            })
            .collect();
        SimCorosync {
            net: Rc::new(RefCell::new(Net {
                rng: Rng::new(seed),
                try_again_percent,
                nodes,
                components: vec![Component::default()],
                next_view: 1,
                trace: Vec::new(),
            })),
        }
    }

    /// The handle of node `id`.
    pub fn node(&self, id: NodeId) -> SimNode {
        SimNode {
            id,
            net: self.net.clone(),
        }
    }

    /// Delivers the oldest queued message of one component (chosen by the seed); false when
    /// nothing is queued.
    pub fn deliver_one(&self) -> bool {
        let mut net = self.net.borrow_mut();
        let busy: Vec<usize> = (0..net.components.len())
            .filter(|c| !net.components[*c].pending.is_empty())
            .collect();
        if busy.is_empty() {
            return false;
        }
        let c = busy[net.rng.below(busy.len() as u64) as usize];
        net.deliver_front(c);
        true
    }

    /// Delivers everything queued.
    pub fn drain(&self) {
        while self.deliver_one() {}
    }

    /// Cuts node `id`'s power: its undelivered messages are cut, the others of its
    /// component are delivered, then its component's members see it leave.
    pub fn kill(&self, id: NodeId) {
        let mut net = self.net.borrow_mut();
        let Some(state) = net.nodes.get_mut(&id) else {
            return;
        };
        if !state.alive {
            return;
        }
        state.alive = false;
        state.inbox.clear();
        let c = state.component;
        net.components[c].pending.retain(|(from, _)| *from != id);
        net.flush(c);
        let was_member = net.components[c].members.remove(&id);
        if was_member {
            net.new_view(c, vec![id], vec![]);
        }
    }

    /// Powers node `id` on again after [`SimCorosync::kill`]: Corosync runs on it (in the
    /// first component, where a healed network puts everyone), not joined to the group yet;
    /// the restarted daemon joins through its handle. False if it was not dead.
    pub fn restart(&self, id: NodeId) -> bool {
        let mut net = self.net.borrow_mut();
        let Some(state) = net.nodes.get_mut(&id) else {
            return false;
        };
        if state.alive {
            return false;
        }
        state.alive = true;
        state.joined = false;
        state.component = 0;
        state.inbox.clear();
        state.quorate = None;
        true
    }

    /// Splits the nodes `ids` from the others (a network partition): what is queued is
    /// delivered on both sides first, then each side sees the other leave.
    pub fn split(&self, ids: &[NodeId]) {
        let mut net = self.net.borrow_mut();
        let new = net.components.len();
        net.components.push(Component::default());
        for c in 0..new {
            net.flush(c);
            let moving: Vec<NodeId> = net.components[c]
                .members
                .iter()
                .copied()
                .filter(|m| ids.contains(m))
                .collect();
            let all_nodes: Vec<NodeId> = net
                .nodes
                .iter()
                .filter(|(n, s)| s.component == c && ids.contains(n))
                .map(|(n, _)| *n)
                .collect();
            for n in all_nodes {
                if let Some(s) = net.nodes.get_mut(&n) {
                    s.component = new;
                }
            }
            if moving.is_empty() {
                continue;
            }
            for m in &moving {
                net.components[c].members.remove(m);
                net.components[new].members.insert(*m);
            }
            let stayed: Vec<NodeId> = net.components[c].members.iter().copied().collect();
            net.new_view(c, moving.clone(), vec![]);
            net.new_view(new, stayed, vec![]);
        }
    }

    /// Heals every partition: each side delivers what it has queued, then all see the
    /// others join.
    pub fn heal(&self) {
        let mut net = self.net.borrow_mut();
        for c in 0..net.components.len() {
            net.flush(c);
        }
        let ids: Vec<NodeId> = net.nodes.keys().copied().collect();
        for id in ids {
            if let Some(s) = net.nodes.get_mut(&id) {
                s.component = 0;
            }
        }
        let before: Vec<BTreeSet<NodeId>> =
            net.components.iter().map(|c| c.members.clone()).collect();
        let all: BTreeSet<NodeId> = before.iter().flatten().copied().collect();
        // With members on one side only, nobody sees a change: that side's view goes on.
        let only_view = net
            .components
            .iter()
            .find(|c| !c.members.is_empty())
            .map(|c| c.view);
        net.components.truncate(1);
        net.components[0].members = all.clone();
        if let Some(view) = only_view {
            net.components[0].view = view;
        }
        if before.iter().filter(|m| !m.is_empty()).count() > 1 {
            // Every member sees those of the other sides join.
            let view = net.next_view;
            net.next_view += 1;
            net.components[0].view = view;
            for side in &before {
                let joined: Vec<NodeId> = all.difference(side).copied().collect();
                for m in side {
                    net.push_event(
                        *m,
                        view,
                        Event::Membership {
                            members: all.iter().copied().collect(),
                            left: vec![],
                            joined: joined.clone(),
                        },
                    );
                }
            }
            net.update_quorum(0);
        }
    }

    /// Whether anything is queued for delivery.
    pub fn busy(&self) -> bool {
        self.net
            .borrow()
            .components
            .iter()
            .any(|c| !c.pending.is_empty())
    }

    /// Every event delivered so far, in delivery order.
    pub fn trace(&self) -> Vec<Delivered> {
        self.net.borrow().trace.clone()
    }

    /// The random source of the simulation (for a schedule to draw from the same seed).
    pub fn draw(&self, n: u64) -> u64 {
        self.net.borrow_mut().rng.below(n)
    }

    /// Whether node `id` is powered on.
    pub fn alive(&self, id: NodeId) -> bool {
        self.net.borrow().nodes.get(&id).is_some_and(|s| s.alive)
    }
}

impl Net {
    fn push_event(&mut self, node: NodeId, view: u64, event: Event) {
        if let Some(s) = self.nodes.get_mut(&node)
            && s.alive
        {
            s.inbox.push_back(event.clone());
            self.trace.push(Delivered { node, view, event });
        }
    }

    fn deliver_front(&mut self, c: usize) {
        let Some((from, payload)) = self.components[c].pending.pop_front() else {
            return;
        };
        let view = self.components[c].view;
        let members: Vec<NodeId> = self.components[c].members.iter().copied().collect();
        for m in members {
            self.push_event(
                m,
                view,
                Event::Message {
                    from,
                    payload: payload.clone(),
                },
            );
        }
    }

    fn flush(&mut self, c: usize) {
        while !self.components[c].pending.is_empty() {
            self.deliver_front(c);
        }
    }

    fn new_view(&mut self, c: usize, left: Vec<NodeId>, joined: Vec<NodeId>) {
        let view = self.next_view;
        self.next_view += 1;
        self.components[c].view = view;
        let members: Vec<NodeId> = self.components[c].members.iter().copied().collect();
        for m in &members {
            self.push_event(
                *m,
                view,
                Event::Membership {
                    members: members.clone(),
                    left: left.clone(),
                    joined: joined.clone(),
                },
            );
        }
        self.update_quorum(c);
    }

    fn update_quorum(&mut self, c: usize) {
        let total = self.nodes.len();
        let alive_in_c = self
            .nodes
            .values()
            .filter(|s| s.alive && s.component == c)
            .count();
        let quorate = alive_in_c * 2 > total;
        let view = self.components[c].view;
        let members: Vec<NodeId> = self.components[c].members.iter().copied().collect();
        for m in members {
            let changed = self
                .nodes
                .get(&m)
                .is_some_and(|s| s.quorate != Some(quorate));
            if changed {
                if let Some(s) = self.nodes.get_mut(&m) {
                    s.quorate = Some(quorate);
                }
                self.push_event(m, view, Event::Quorum { quorate });
            }
        }
    }
}

impl Group for SimNode {
    fn local_id(&self) -> NodeId {
        self.id
    }

    /// The simulated nodelist: node `i` is named `n<i>`.
    fn nodes(&self) -> Vec<(NodeId, String)> {
        let net = self.net.borrow();
        net.nodes.keys().map(|&id| (id, format!("n{id}"))).collect()
    }

    fn join(&mut self) -> Result<(), Error> {
        let mut net = self.net.borrow_mut();
        let state = net.nodes.get_mut(&self.id).ok_or(Error::Closed)?;
        if !state.alive {
            return Err(Error::Closed);
        }
        if state.joined {
            return Ok(());
        }
        state.joined = true;
        let c = state.component;
        net.flush(c);
        net.components[c].members.insert(self.id);
        net.new_view(c, vec![], vec![self.id]);
        Ok(())
    }

    fn send(&mut self, payload: &[u8]) -> Result<(), Error> {
        let mut net = self.net.borrow_mut();
        let state = net.nodes.get(&self.id).ok_or(Error::Closed)?;
        if !state.alive {
            return Err(Error::Closed);
        }
        if !state.joined {
            return Err(Error::NotJoined);
        }
        let c = state.component;
        let p = net.try_again_percent;
        if net.rng.chance(p) {
            return Err(Error::TryAgain);
        }
        net.components[c]
            .pending
            .push_back((self.id, payload.to_vec()));
        Ok(())
    }

    fn poll(&mut self) -> Option<Event> {
        self.net
            .borrow_mut()
            .nodes
            .get_mut(&self.id)
            .and_then(|s| s.inbox.pop_front())
    }
}
