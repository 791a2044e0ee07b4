//! The coordinator's kept plan: the scheduler's model of the copy of the CIB it last
//! planned, caught up from a journal of what changed in the copy since ([`Touch`]), so
//! that a changed primitive is re-planned apart with what it is joined to
//! (`scheduler::Model`); a new membership view that only moves nodes between member and
//! lost, fences one, or changes quorum is laid over the model in place and planned whole
//! from it ([`take_view`]); anything else plans whole from a new model.
use crate::{Node, Peer};

/// The coordinator's kept plan: the scheduler's model of the copy it planned (which
/// re-plans a changed primitive apart) and the membership view that copy was made with.
#[derive(Debug)]
pub(crate) struct Kept {
    pub(crate) model: scheduler::Model,
    view: View,
}

/// What [`Node::plan_doc`] lays over `doc`: quorum, each node's membership, and whether
/// never-seen nodes still count as pending.
type View = (bool, Vec<(String, Peer)>, bool);

/// A change to `doc` since the kept plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Touch {
    /// A resource's history on a node (an operation recorded).
    History { node: String, rsc: String },
    /// A node's transient attributes (fail counts, promotion scores).
    Attributes { node: String },
    /// A constraint added, replaced or removed by id (a move, a ban, their clearing).
    Constraint { id: String },
    /// Anything else (configuration, a synchronisation that changed node states,
    /// fencing, edits): plan whole from a new model.
    Other,
}

/// Past this many changes the kept plan is not caught up but made again.
const JOURNAL_MAX: usize = 10_000;

/// Whether every kept plan is checked against planning the whole copy: in debug builds
/// (the tests), and when `CRM_LITE_CHECK_KEPT_PLAN` is set (the release fault schedules).
fn check_kept_plans() -> bool {
    static CHECK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CHECK.get_or_init(|| {
        cfg!(debug_assertions) || std::env::var_os("CRM_LITE_CHECK_KEPT_PLAN").is_some()
    })
}

impl Node {
    /// Note a change to `doc` for the kept plan to catch up with.
    pub(crate) fn touch(&mut self, t: Touch) {
        if self.journal.len() >= JOURNAL_MAX {
            self.journal = vec![Touch::Other];
        } else if self.journal.last() != Some(&t) {
            self.journal.push(t);
        }
    }

    /// What [`Node::plan_doc`] lays over `doc` now.
    fn view(&self) -> View {
        // Only never-seen nodes read it.
        let pending = self.pending() && self.peers.values().any(|p| *p == Peer::Unseen);
        let peers = self.peers.iter().map(|(n, p)| (n.clone(), *p)).collect();
        (self.quorate, peers, pending)
    }

    /// The plan for [`Node::plan_doc`] now, from the kept model when only histories and
    /// transient attributes of nodes whose state the plan reads changed since (and time
    /// changed nothing it read): the model re-plans the primitives they concern alone
    /// where it can (`scheduler::Model`). Otherwise the copy is lowered and planned whole.
    /// Debug builds check the kept plan against the whole one ([`check_kept_plans`]).
    pub(crate) fn kept_plan(&mut self) -> Kept {
        let view = self.view();
        let now = Some((self.now / 1000) as i64);
        let journal = std::mem::take(&mut self.journal);
        if let Some(mut k) = self.kept.take() {
            let id_of = |name: &str| self.cib_node_id(&self.cfg, name);
            if take_view(&mut k, view.clone(), &self.plan_order(), id_of)
                && self.catch_up(&mut k.model, &journal)
            {
                k.model.set_now(now);
                let before = k.model.stats();
                k.model.plan();
                self.alone_plans += k.model.stats().alone - before.alone;
                self.kept_whole_plans += k.model.stats().whole - before.whole;
                if check_kept_plans() {
                    let (_, whole) = self.plan_now();
                    assert_eq!(
                        k.model.planned(),
                        Some(&whole),
                        "the kept plan is the whole plan"
                    );
                }
                return k;
            }
        }
        let doc = self.plan_doc();
        let (cib, diagnostics) = cib::lower("cib", "", &doc);
        let parsed = cib::Parsed {
            file: "cib".into(),
            source: String::new(),
            doc,
            cib,
            diagnostics,
        };
        let input = scheduler::Input {
            now,
            explain: false,
        };
        let mut model = scheduler::Model::new(parsed, input);
        model.plan();
        self.whole_plans += 1;
        Kept { model, view }
    }

    /// The order of the node states in [`Node::plan_doc`]: those of `doc` as they are,
    /// but for the nodes down or never seen, whose states it makes anew, last (and none
    /// for a node never seen that startup fencing is to fence).
    fn plan_order(&self) -> Vec<String> {
        let fence_unseen = !self.pending() && self.opts.startup_fencing;
        // Whether the plan makes the node's state anew (`Some(true)`), leaves it out
        // (`Some(false)`), or takes it from `doc` (`None`).
        let anew = |p: Option<&Peer>| match p {
            Some(Peer::Down) => Some(true),
            Some(Peer::Unseen) => Some(!fence_unseen),
            _ => None,
        };
        let mut order: Vec<String> = crate::state::node_state_order(&self.doc)
            .into_iter()
            .filter(|n| anew(self.peers.get(n)).is_none())
            .collect();
        order.extend(
            self.peers
                .iter()
                .filter(|(_, p)| anew(Some(p)) == Some(true))
                .map(|(n, _)| n.clone()),
        );
        order
    }

    /// Bring `model` up to `doc` after `journal`'s changes; false when it cannot be.
    fn catch_up(&self, model: &mut scheduler::Model, journal: &[Touch]) -> bool {
        // The copy the plan reads keeps the state of members and lost nodes only.
        let read =
            |node: &str| matches!(self.peers.get(node), Some(Peer::Member) | Some(Peer::Lost));
        journal.iter().all(|t| match t {
            Touch::History { node, rsc } => {
                !read(node) || model.sync_history(node, rsc, &self.doc).is_ok()
            }
            Touch::Attributes { node } => {
                !read(node) || model.sync_attributes(node, &self.doc).is_ok()
            }
            Touch::Constraint { id } => model.sync_constraint(id, &self.doc).is_ok(),
            Touch::Other => false,
        })
    }
}

/// Lay membership view `view` and the node states' `order` (see [`Node::plan_order`])
/// over the kept model when only members and lost nodes changed places (a node lost, or
/// back), one of them was fenced (down: its state made anew), quorum came or went, or a
/// synchronisation put the node states in another order: the model takes them in place
/// ([`scheduler::Model::set_node_state`], [`scheduler::Model::renew_node_state`],
/// [`scheduler::Model::order_node_states`]) and plans whole without lowering the CIB
/// again. False when the view differs otherwise (a node down or never seen coming back,
/// a new node, pending nodes): then the model is made again.
fn take_view(k: &mut Kept, view: View, order: &[String], id_of: impl Fn(&str) -> String) -> bool {
    if k.view != view {
        let ((old_q, old_peers, old_pending), (q, peers, pending)) = (&k.view, &view);
        if old_pending != pending || old_peers.len() != peers.len() {
            return false;
        }
        for ((name, was), (other, now)) in old_peers.iter().zip(peers) {
            if name != other {
                return false;
            }
            if was == now {
                continue;
            }
            let taken = match (was.membership(), now.membership(), now) {
                (Some(_), Some(attrs), _) => k.model.set_node_state(name, attrs),
                // Fenced: a clean state made anew, as `Node::plan_doc` makes it.
                (Some(_), None, Peer::Down) => {
                    let id = id_of(name);
                    k.model
                        .renew_node_state(name, &crate::down_state(&id, name))
                }
                _ => return false,
            };
            if taken.is_err() {
                return false;
            }
        }
        if old_q != q {
            k.model
                .set_cluster_state(&[("have-quorum", if *q { "1" } else { "0" })]);
        }
        k.view = view;
    }
    let order: Vec<&str> = order.iter().map(String::as_str).collect();
    k.model.order_node_states(&order).is_ok()
}
