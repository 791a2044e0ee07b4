//! Re-planning with the cluster's model in memory, for the daemon: [`Model`] keeps the
//! element tree and the lowered CIB, takes one operation result (one `lrm_rsc_op`) at a
//! time, lowers again only that resource's history on that node, and plans from the model
//! without reading or parsing the CIB again.
//!
//! The result is the plan [`crate::schedule`] makes from the CIB with that entry written
//! in (the test `tests/model.rs` compares both). What [`Model::record`] changes is the
//! history entry alone: the fail count and last-failure attributes that the controller
//! sets beside a failure are transient attributes, a separate update
//! ([`Model::record_attribute`]).
//!
//! The model keeps the last plan and the working set it was made from. A result for a
//! primitive is re-planned apart from the rest with its component: its top-level
//! resource (itself, its group or its clone) and every one joined to it by colocations
//! and orders. They are rebuilt from their histories, placed again at their turns in the
//! last placement (the nodes as they were then, the others' placements replayed from a
//! log), and when each of their turns places as before, only their parts of the plan are
//! replaced: nothing else read them. When one places otherwise (a resource moves or
//! stops), the nodes it changed differ from then on: each later decision that read their
//! counts or capacities is taken again from what the log kept of it, and those that come
//! out otherwise are placed again too, with their components (at most a sixteenth of the
//! primitives, and at least 256, in all). The same way are re-planned: a fail count, last failure or
//! promotion score of a primitive, and any attribute only location rules of named
//! resources read ([`Model::record_attribute`]); a failure expiring or a location rule's
//! date expression coming out otherwise as time moves ([`Model::set_now`]); a move, ban
//! or clear (one location of one named resource, [`Model::sync_constraint`]; the order
//! of locations changes no plan: their scores add up alike). An attribute nothing reads
//! changes nothing. Any other result, attribute or change makes the next plan a whole
//! one ([`Stats`] counts both).
use cib::model::Condition;
use cib::status::{ExecStatus, LrmOp, ResourceHistory};
use cib::tree::{Document, ElementId};
use cib::{Cib, Diagnostic};

use crate::ws::{AssignLog, Kind, WorkingSet};
use crate::{Input, Plan};

/// One operation result, as the `lrm_rsc_op` entry the controller writes for it.
#[derive(Debug, Clone, Copy)]
pub struct OpResult<'a> {
    /// The node (`uname`) it ran on.
    pub node: &'a str,
    /// The `lrm_resource` id (the resource, `rsc:N` for a unique clone's instance).
    pub rsc: &'a str,
    /// The resource's `class`, `provider` and `type`, for an `lrm_resource` written new.
    pub class: &'a str,
    /// See `class`.
    pub provider: Option<&'a str>,
    /// See `class`.
    pub agent: &'a str,
    /// The `lrm_rsc_op`'s attributes in order, `id` among them: an entry with the same
    /// id is replaced, as the controller replaces `rsc_last_0`.
    pub attrs: &'a [(&'a str, &'a str)],
}

/// Why [`Model::record`] refused a result.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The node has no `node_state` in the status section.
    #[error("node {0} has no node_state in the status section")]
    UnknownNode(String),
    /// A transient attribute has more than one entry of that name on the node.
    #[error("node {node} has more than one transient attribute {name}")]
    RepeatedAttribute {
        /// The node.
        node: String,
        /// The attribute.
        name: String,
    },
    /// The entry has no `id` attribute.
    #[error("operation result for {rsc} on {node} has no id")]
    NoId {
        /// The resource.
        rsc: String,
        /// The node.
        node: String,
    },
    /// The history does not lower (the entry was still written to the tree).
    #[error("operation history of {rsc} on {node} is invalid: {}", .diagnostics.first().map(|d| d.message.as_str()).unwrap_or("no lowering"))]
    Invalid {
        /// The resource.
        rsc: String,
        /// The node.
        node: String,
        /// What the lowering said.
        diagnostics: Vec<Diagnostic>,
    },
    /// A node state that does not lower after a change (the change is in the tree).
    #[error("node state of {node} is invalid: {}", .diagnostics.first().map(|d| d.message.as_str()).unwrap_or("no lowering"))]
    InvalidNode {
        /// The node.
        node: String,
        /// What the lowering said.
        diagnostics: Vec<Diagnostic>,
    },
    /// A constraint that is not one location of one named resource with a node score (as
    /// a move or a ban makes it), or that does not lower: the model is to be made again
    /// from the whole CIB (it is left as it was).
    #[error("constraint {0} is not taken in apart: the model is to be made again")]
    Constraint(String),
}

/// The cluster's CIB, kept in memory between plans.
#[derive(Debug, Clone)]
pub struct Model {
    file: String,
    doc: Document,
    cib: Cib,
    input: Input,
    /// The last plan and its working set, while they still hold.
    session: Option<Session>,
    /// Primitives whose history or failures changed since the session's plan, to re-plan
    /// apart at the next plan.
    changed: Vec<String>,
    stats: Stats,
}

/// Transient node attributes that make the node's state (standby, maintenance, shutting
/// down): a change of one takes a whole plan.
const NODE_STATE: [&str; 4] = ["standby", "maintenance", "shutdown", "terminate"];

/// How the model's plans were made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Whole plans (the first, and after any result not re-planned apart).
    pub whole: u64,
    /// Plans made by re-planning changed primitives apart (with their components).
    pub alone: u64,
}

/// A plan and the working set it was made from (placement's log kept).
#[derive(Debug, Clone)]
struct Session {
    ws: WorkingSet,
    plan: Plan,
    /// Every node attribute the configuration reads (rules' `attribute` and
    /// `score-attribute`, colocations' `node-attribute`), with the resources whose
    /// location rules alone read it (`rsc_location rsc=...`); `None` when anything else
    /// reads it too (a colocation, a rule of a set of attributes, a pattern or set).
    read: crate::hash::Map<String, Option<Vec<String>>>,
    /// What "now" can change: whether the configuration has date expressions; when each
    /// failure expires (its time plus its resource's `failure-timeout`), with the
    /// resource's history name, sorted.
    dated: bool,
    expiries: Vec<(i64, String)>,
    /// The date expressions of named resources' location rules, with their resource.
    dates: Vec<(cib::model::DateExpression, String)>,
    /// The most primitives re-planned apart from the others ([`Session::budget`]).
    apart: usize,
}

impl Session {
    /// The top-level resources primitive `rsc` is re-planned with when it changes (arena
    /// entries, in placement order): its own top-level resource (itself, its group or its
    /// clone) and every one joined to it through colocations and orders, when none of them is
    /// an orphan, and they have at most [`Session::budget`] primitives.
    fn component(&self, rsc: &str) -> Option<Vec<usize>> {
        let ws = &self.ws;
        // A clone's instance by its history's name: the base id (anonymous) or `base:N`.
        let i = ws
            .find(rsc)
            .or_else(|| ws.instances.get(crate::ws::base_id(rsc))?.first().copied())?;
        if ws.rscs[i].kind != Kind::Primitive {
            return None;
        }
        ws.joined_tops(ws.top_of(i), self.apart)
    }

    /// The most primitives re-planned apart from the others, in a working set of
    /// `primitives`: a sixteenth of them, and at least 256. A whole plan costs some tens
    /// of microseconds per primitive of the cluster (0.6 s at 100 x 10,000); re-planning
    /// apart, a few milliseconds at that size plus about as much per primitive placed
    /// again, so it stays well under the whole plan (in a small cluster, where either
    /// takes a few milliseconds, the floor keeps what 32 top-level resources allowed).
    fn budget(primitives: usize) -> usize {
        (primitives / 16).max(256)
    }

    fn new(doc: &Document, cib: &Cib, input: &Input) -> Session {
        let mut ws = WorkingSet::build(cib, input);
        ws.log = Some(AssignLog::default());
        ws.index_histories(cib);
        crate::assign::assign_all(&mut ws);
        let plan = crate::actions::create(&mut ws);
        let mut read: crate::hash::Map<String, Option<Vec<String>>> = Default::default();
        let mut dated = false;
        let config = doc.root().and_then(|r| doc.child(r, "configuration"));
        // Each element with the resource whose location rule it is part of, if any.
        let mut stack: Vec<(ElementId, Option<&str>)> =
            config.into_iter().map(|c| (c, None)).collect();
        while let Some((e, location)) = stack.pop() {
            let el = doc.get(e);
            // One in a named resource's location rule is taken from the lowered
            // constraints below; anywhere else, time moving on plans whole.
            dated |= el.name == "date_expression" && location.is_none();
            let location = match el.name.as_str() {
                "rsc_location" if el.attr("rsc-pattern").is_none() => el.attr("rsc"),
                "rule" | "expression" => location,
                _ => None,
            };
            for key in [
                "attribute",
                "score-attribute",
                "score_attribute",
                "node-attribute",
            ] {
                if let Some(v) = el.attr(key) {
                    let readers = read.entry(v.to_owned()).or_insert_with(|| Some(Vec::new()));
                    match (location, readers.as_mut()) {
                        (Some(rsc), Some(list)) if key != "node-attribute" => {
                            list.push(rsc.to_owned());
                        }
                        _ => *readers = None,
                    }
                }
            }
            stack.extend(doc.children(e).map(|c| (c, location)));
        }
        let mut dates = Vec::new();
        for l in cib.locations.iter().filter(|l| l.sets.is_empty()) {
            if let (Some(rsc), None) = (&l.rsc, &l.rsc_pattern) {
                let mut rules: Vec<&cib::model::Rule> = l.rules.iter().collect();
                while let Some(r) = rules.pop() {
                    for c in &r.conditions {
                        match c {
                            Condition::Date(d) => dates.push((d.clone(), rsc.as_str().to_owned())),
                            Condition::Rule(r) => rules.push(r),
                            Condition::Expression(_) => {}
                        }
                    }
                }
            }
        }
        let primitives = ws.rscs.iter().filter(|r| r.kind == Kind::Primitive).count();
        let mut s = Session {
            apart: Session::budget(primitives),
            ws,
            plan,
            read,
            dated,
            dates,
            expiries: Vec::new(),
        };
        for ns in &cib.status.nodes {
            for l in &ns.last_failures {
                s.note_times(l.resource.as_str(), [l.timestamp]);
            }
            for h in &ns.resources {
                let times = h.state.failed_ops.iter().map(|&k| h.ops[k].last_rc_change);
                s.note_times(h.id.as_str(), times.flatten());
            }
        }
        s
    }

    /// The resources (history names) whose failures expire or come back, or whose location
    /// rules' date expressions come out otherwise, when "now" moves from `from` to `to`;
    /// `None` when the move changes more than they (a date expression elsewhere, or now
    /// set or unset).
    fn expiring(&self, from: Option<i64>, to: Option<i64>) -> Option<Vec<String>> {
        let (Some(a), Some(b)) = (from, to) else {
            return (from == to).then(Vec::new);
        };
        if self.dated {
            return None;
        }
        // A failure expires when now reaches its expiry: those in (lo, hi].
        let (lo, hi) = (a.min(b), a.max(b));
        let first = self.expiries.partition_point(|(t, _)| *t <= lo);
        let mut rscs: Vec<String> = self.expiries[first..]
            .iter()
            .take_while(|(t, _)| *t <= hi)
            .map(|(_, rsc)| rsc.clone())
            .collect();
        for (d, rsc) in &self.dates {
            if crate::rules::date_holds(d, from) != crate::rules::date_holds(d, to) {
                rscs.push(self.primitive_of(rsc)?);
            }
        }
        rscs.sort_unstable();
        rscs.dedup();
        Some(rscs)
    }

    /// The name of resource `id`'s first primitive (itself, a member, an instance), by
    /// which a change to it is re-planned ([`Session::component`]).
    fn primitive_of(&self, id: &str) -> Option<String> {
        let x = self.ws.find(id)?;
        let p = *self.ws.primitives_of(x).first()?;
        Some(self.ws.rscs[p].id.clone())
    }

    /// Take node `node`'s attributes into the working set again as `cib` has them (as
    /// [`WorkingSet::build`] reads them); false for a node the configuration lacks.
    fn refresh_attributes(&mut self, cib: &Cib, node: &str) -> bool {
        let Some(config) = cib.nodes.iter().find(|n| n.uname.as_str() == node) else {
            return false;
        };
        let Some(n) = self.ws.nodes.iter_mut().find(|n| n.name == node) else {
            return false;
        };
        n.attrs = crate::ws::node_attrs(cib, config);
        true
    }

    /// Note failure times of resource `rsc` (a history name, or an anonymous clone's id)
    /// that a change brought (any of them may be one), with when they expire. A name the
    /// working set does not know (an orphan) is given every `failure-timeout` there is:
    /// its expiry then takes a whole plan.
    fn note_times(&mut self, rsc: &str, times: impl IntoIterator<Item = i64>) {
        let ws = &self.ws;
        let known = ws
            .find(rsc)
            .or_else(|| ws.instances.get(crate::ws::base_id(rsc))?.first().copied());
        let timeouts: Vec<i64> = match known {
            Some(i) => vec![ws.rscs[i].failure_timeout_s],
            None => ws.rscs.iter().map(|r| r.failure_timeout_s).collect(),
        };
        let mut timeouts: Vec<i64> = timeouts.into_iter().filter(|&d| d > 0).collect();
        if timeouts.is_empty() {
            return;
        }
        timeouts.sort_unstable();
        timeouts.dedup();
        for t in times {
            for &d in &timeouts {
                self.expiries.push((t.saturating_add(d), rsc.to_owned()));
            }
        }
        self.expiries.sort_unstable();
        self.expiries.dedup();
    }

    /// Re-plan resource `rsc` alone after its history changed in `cib`. False when that
    /// is not enough (the session is then to be dropped: it may be half updated).
    fn update(&mut self, cib: &Cib, input: &Input, rsc: &str) -> bool {
        let Some(tops) = self.component(rsc) else {
            return false;
        };
        let ws = &mut self.ws;
        if !crate::assign::rebuild(ws, cib, input, &tops) {
            return false;
        }
        let Some(placed) = crate::assign::reassign(ws, cib, input, &tops, self.apart) else {
            return false;
        };
        crate::actions::replan_apart(ws, &mut self.plan, &placed)
    }
}

impl Model {
    /// Keep `parsed`'s tree and model (its source text is dropped); plan at `input`.
    pub fn new(parsed: cib::Parsed, input: Input) -> Model {
        let cib::Parsed { file, doc, cib, .. } = parsed;
        Model {
            file,
            doc,
            cib,
            input,
            session: None,
            changed: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// How the plans so far were made.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The model as lowered.
    pub fn cib(&self) -> &Cib {
        &self.cib
    }

    /// The element tree, with every recorded result in it (what to write back).
    pub fn document(&self) -> &Document {
        &self.doc
    }

    /// Set "now" for the next plans. The kept plan still holds when no date expression
    /// and no failure expiring in between makes time matter; the resources whose failures
    /// expire (or come back) in between are re-planned as changed; a date expression
    /// makes the next plan whole.
    pub fn set_now(&mut self, now: Option<i64>) {
        let expiring = self
            .session
            .as_ref()
            .and_then(|s| s.expiring(self.input.now, now));
        self.input.now = now;
        match expiring {
            Some(rscs) => rscs.iter().for_each(|r| self.changed_alone(Some(r))),
            None => self.changed_alone(None),
        }
    }

    /// The plan for the model as it is now.
    pub fn plan(&mut self) -> &Plan {
        let changed = std::mem::take(&mut self.changed);
        if let Some(s) = &mut self.session {
            if !changed.is_empty() {
                if changed
                    .iter()
                    .all(|rsc| s.update(&self.cib, &self.input, rsc))
                {
                    self.stats.alone += 1;
                } else {
                    self.session = None;
                }
            }
        }
        let (doc, cib, input, stats) = (&self.doc, &self.cib, &self.input, &mut self.stats);
        let session = self.session.get_or_insert_with(|| {
            stats.whole += 1;
            Session::new(doc, cib, input)
        });
        &session.plan
    }

    /// Record one operation result: write its `lrm_rsc_op` into the node's history
    /// (replacing the entry with the same id, creating `lrm`, `lrm_resources` and the
    /// `lrm_resource` when missing) and lower that one resource's history again.
    pub fn record(&mut self, op: &OpResult<'_>) -> Result<(), ModelError> {
        let Some(op_id) = op.attrs.iter().find(|(k, _)| *k == "id").map(|(_, v)| *v) else {
            return Err(ModelError::NoId {
                rsc: op.rsc.to_owned(),
                node: op.node.to_owned(),
            });
        };
        let Some(ni) = self
            .cib
            .status
            .nodes
            .iter()
            .position(|n| n.uname.as_str() == op.node)
        else {
            return Err(ModelError::UnknownNode(op.node.to_owned()));
        };
        let state = self.cib.status.nodes[ni].element;
        let node_id = self.cib.status.nodes[ni].id.clone();
        let lrm = self.child_or_append(state, "lrm", &[("id", &node_id)]);
        let resources = self.child_or_append(lrm, "lrm_resources", &[]);
        let lr = match self.child_with_id(resources, "lrm_resource", op.rsc) {
            Some(lr) => lr,
            None => {
                let mut attrs = vec![("id", op.rsc), ("class", op.class), ("type", op.agent)];
                if let Some(p) = op.provider {
                    attrs.push(("provider", p));
                }
                self.doc.append(resources, "lrm_resource", &attrs)
            }
        };
        if let Some(old) = self.child_with_id(lr, "lrm_rsc_op", op_id) {
            self.doc.detach(old);
        }
        self.doc.append(lr, "lrm_rsc_op", op.attrs);
        let (history, diagnostics) = cib::lower_history(&self.file, &self.doc, lr);
        let invalid = |diagnostics| ModelError::Invalid {
            rsc: op.rsc.to_owned(),
            node: op.node.to_owned(),
            diagnostics,
        };
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(invalid(diagnostics));
        }
        let Some(history) = history else {
            return Err(invalid(diagnostics));
        };
        let at = self.cib.status.nodes[ni]
            .resources
            .iter()
            .position(|h| h.element == lr);
        self.take_history(ni, at, history);
        Ok(())
    }

    /// Set (`Some`) or remove (`None`) transient attribute `name` of `node` (an `nvpair` of
    /// its `transient_attributes`), as the attribute manager does beside a failure
    /// (`fail-count-<rsc>#<op>_<interval>`, `last-failure-...`) or as a promotable
    /// agent sets its promotion score (`master-<rsc>`). A failure's attributes, a
    /// promotion score and an attribute only location rules of named resources read
    /// re-plan those resources apart; an attribute nothing reads changes nothing; one
    /// that anything else in the configuration or the node's state reads takes a whole
    /// plan.
    pub fn record_attribute(
        &mut self,
        node: &str,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), ModelError> {
        let Some(ni) = self
            .cib
            .status
            .nodes
            .iter()
            .position(|n| n.uname.as_str() == node)
        else {
            return Err(ModelError::UnknownNode(node.to_owned()));
        };
        let ns = &self.cib.status.nodes[ni];
        let mut found = ns
            .attributes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.name == name);
        let (at, again) = (found.next().map(|(k, p)| (k, p.element)), found.next());
        if again.is_some() {
            return Err(ModelError::RepeatedAttribute {
                node: node.to_owned(),
                name: name.to_owned(),
            });
        }
        let (state, node_id) = (ns.element, ns.id.clone());
        match (at, value) {
            (Some((k, el)), Some(v)) => {
                self.doc.get_mut(el).set_attr("value", v);
                self.cib.status.nodes[ni].attributes[k].value = Some(v.to_owned());
            }
            (Some((k, el)), None) => {
                self.doc.detach(el);
                self.cib.status.nodes[ni].attributes.remove(k);
            }
            (None, Some(v)) => {
                // In the last set, so that the attributes stay in document order.
                let transient =
                    self.child_or_append(state, "transient_attributes", &[("id", &node_id)]);
                let last = self
                    .doc
                    .children(transient)
                    .filter(|&c| self.doc.get(c).name == "instance_attributes")
                    .last();
                let set = match last {
                    Some(set) => set,
                    None => {
                        let id = format!("status-{node_id}");
                        self.doc
                            .append(transient, "instance_attributes", &[("id", &id)])
                    }
                };
                let id = format!("status-{node_id}-{name}");
                let el =
                    self.doc
                        .append(set, "nvpair", &[("id", &id), ("name", name), ("value", v)]);
                self.cib.status.nodes[ni]
                    .attributes
                    .push(cib::model::NvPair {
                        id: Some(id),
                        name: name.to_owned(),
                        value: Some(v.to_owned()),
                        element: el,
                    });
            }
            (None, None) => return Ok(()),
        }
        self.cib.status.nodes[ni].read_attributes();
        let failure = name
            .strip_prefix("fail-count-")
            .or_else(|| name.strip_prefix("last-failure-"))
            .map(|rest| rest.split_once('#').map_or(rest, |(rsc, _)| rsc));
        let Some(s) = &mut self.session else {
            self.changed_alone(None);
            return Ok(());
        };
        if name.starts_with("last-failure-") {
            s.note_times(
                failure.unwrap_or(name),
                value.and_then(|v| v.trim().parse().ok()),
            );
        }
        // Who reads the attribute: the location rules of some resources, a resource's
        // failure handling or a promotable clone's promotion (those re-planned apart);
        // anything else in the configuration (a colocation, a rule in a set of
        // attributes) or the node's state (a whole plan); or nothing at all.
        let readers: Option<Vec<Option<String>>> = match s.read.get(name) {
            Some(Some(locations)) => Some(locations.iter().map(|r| s.primitive_of(r)).collect()),
            Some(None) => None,
            None => Some(Vec::new()),
        };
        let whole = NODE_STATE.contains(&name) || name.starts_with('#');
        let mut rscs = readers.filter(|_| !whole);
        if let Some(rscs) = &mut rscs {
            match (failure, name.strip_prefix("master-")) {
                (Some(rsc), _) => rscs.push(Some(rsc.to_owned())),
                (None, Some(rsc)) => rscs.push(s.component(rsc).map(|_| rsc.to_owned())),
                (None, None) => {}
            }
        }
        let rscs: Option<Vec<String>> = rscs.and_then(|r| r.into_iter().collect());
        match rscs {
            Some(rscs) if s.refresh_attributes(&self.cib, node) => {
                for rsc in &rscs {
                    self.changed_alone(Some(rsc));
                }
            }
            _ => self.changed_alone(None),
        }
        Ok(())
    }

    /// Note that primitive `rsc` changed, to re-plan it alone at the next plan; `None`:
    /// something changed that only a whole plan takes in.
    fn changed_alone(&mut self, rsc: Option<&str>) {
        match rsc {
            Some(rsc) if self.session.is_some() => {
                if !self.changed.iter().any(|c| c == rsc) {
                    self.changed.push(rsc.to_owned());
                }
            }
            _ => {
                self.session = None;
                self.changed.clear();
            }
        }
    }

    /// Whether a change to resource `rsc` can be re-planned for it alone (it is a
    /// top-level primitive in no colocation or order), as the
    /// working set of the kept plan sees it (false before the first plan).
    pub fn stands_alone(&self, rsc: &str) -> bool {
        self.session.as_ref().is_some_and(|s| {
            s.component(rsc)
                .is_some_and(|t| t.len() == 1 && s.ws.rscs[t[0]].kind == Kind::Primitive)
        })
    }

    /// The top-level resources a change to primitive `rsc` is re-planned with, apart from
    /// the others: its own and those joined to it by colocations and orders (see
    /// [`Model::stands_alone`] for one alone); `None` when it takes a whole plan (a clone
    /// is among them, or before the first plan).
    pub fn replanned_with(&self, rsc: &str) -> Option<Vec<String>> {
        let s = self.session.as_ref()?;
        let tops = s.component(rsc)?;
        Some(tops.iter().map(|&t| s.ws.rscs[t].id.clone()).collect())
    }

    /// The plan last made, if it still holds (no change since).
    pub fn planned(&self) -> Option<&Plan> {
        self.session
            .as_ref()
            .filter(|_| self.changed.is_empty())
            .map(|s| &s.plan)
    }

    /// Take resource `rsc`'s history on `node` as `from` (another copy of this CIB, kept
    /// by its owner) has it now: its `lrm_resource` copied over this one's (or removed
    /// when `from` has none), then lowered again, as [`Model::record`] does for one entry.
    pub fn sync_history(
        &mut self,
        node: &str,
        rsc: &str,
        from: &Document,
    ) -> Result<(), ModelError> {
        let Some(ni) = self.node_index(node) else {
            return Err(ModelError::UnknownNode(node.to_owned()));
        };
        let source = state_of(from, node)
            .and_then(|st| from.child(st, "lrm"))
            .and_then(|lrm| from.child(lrm, "lrm_resources"))
            .and_then(|list| {
                from.children(list).find(|&c| {
                    let el = from.get(c);
                    el.name == "lrm_resource" && el.id() == Some(rsc)
                })
            });
        let state = self.cib.status.nodes[ni].element;
        let node_id = self.cib.status.nodes[ni].id.clone();
        let lrm = self.child_or_append(state, "lrm", &[("id", &node_id)]);
        let resources = self.child_or_append(lrm, "lrm_resources", &[]);
        let old = self.child_with_id(resources, "lrm_resource", rsc);
        let list = &mut self.cib.status.nodes[ni].resources;
        let at = old.and_then(|o| list.iter().position(|h| h.element == o));
        let (old, source) = match (old, source) {
            (None, None) => return Ok(()),
            (Some(old), None) => {
                self.doc.detach(old);
                if let Some(k) = at {
                    list.remove(k);
                }
                self.changed_alone(Some(rsc));
                return Ok(());
            }
            (old, Some(source)) => (old, source),
        };
        // In place (the entries keep their order, which binds clone instances), or last.
        let lr = match old {
            Some(lr) => {
                for c in self.doc.children(lr).collect::<Vec<_>>() {
                    self.doc.detach(c);
                }
                for (k, v) in from.get(source).attrs.iter() {
                    self.doc.get_mut(lr).set_attr(k, v);
                }
                for c in from.children(source) {
                    copy_element(&mut self.doc, lr, from, c);
                }
                lr
            }
            None => copy_element(&mut self.doc, resources, from, source),
        };
        let (history, diagnostics) = cib::lower_history(&self.file, &self.doc, lr);
        let Some(history) = history.filter(|_| !diagnostics.iter().any(Diagnostic::is_error))
        else {
            self.changed_alone(None);
            return Err(ModelError::Invalid {
                rsc: rsc.to_owned(),
                node: node.to_owned(),
                diagnostics,
            });
        };
        self.take_history(ni, at, history);
        Ok(())
    }

    /// Put `history` in node `ni`'s list (in place of entry `at`, or last) and note its
    /// resource as changed, unless it plans as the entry it replaces (a recurring
    /// monitor's repeated success).
    fn take_history(
        &mut self,
        ni: usize,
        at: Option<usize>,
        history: cib::status::ResourceHistory,
    ) {
        let list = &mut self.cib.status.nodes[ni].resources;
        let alike = at.is_some_and(|k| plans_alike(&list[k], &history));
        let rsc = history.id.as_str().to_owned();
        if let Some(s) = &mut self.session {
            s.ws.note_history(&rsc, ni);
            let failed = history.state.failed_ops.iter();
            s.note_times(&rsc, failed.filter_map(|&k| history.ops[k].last_rc_change));
        }
        match at {
            Some(k) => list[k] = history,
            None => list.push(history),
        }
        if !alike {
            self.changed_alone(Some(&rsc));
        }
    }

    /// Take constraint `id` as `from` has it now: added (last among the constraints, as a
    /// move or ban adds it), replaced (taken out and added last) or removed. Only a
    /// location of one named resource on one node with a score (no rule, pattern or set)
    /// is taken in; its resource (before and after) is re-planned apart at the next plan.
    pub fn sync_constraint(&mut self, id: &str, from: &Document) -> Result<(), ModelError> {
        let refused = || ModelError::Constraint(id.to_owned());
        let find = |doc: &Document| -> Option<(ElementId, Option<ElementId>)> {
            let root = doc.root()?;
            let cons = doc.child(doc.child(root, "configuration")?, "constraints")?;
            Some((
                cons,
                doc.children(cons).find(|&c| doc.get(c).id() == Some(id)),
            ))
        };
        let plain = |doc: &Document, e: ElementId| -> Option<String> {
            let el = doc.get(e);
            let simple = el.name == "rsc_location"
                && el.attr("rsc-pattern").is_none()
                && el.attr("node").is_some()
                && el.attr("score").is_some()
                && el.attr("resource-discovery").is_none()
                && doc.children(e).next().is_none();
            el.attr("rsc").filter(|_| simple).map(str::to_owned)
        };
        let (Some((_, theirs)), Some((cons, ours))) = (find(from), find(&self.doc)) else {
            return Err(refused());
        };
        let mut rscs = Vec::new();
        for (doc, e) in [(from, theirs), (&self.doc, ours)] {
            if let Some(e) = e {
                rscs.push(plain(doc, e).ok_or_else(refused)?);
            }
        }
        let lowered = match theirs {
            Some(e) => {
                let (loc, diagnostics) = cib::lower_location(&self.file, from, e);
                let loc = loc.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
                Some(loc.ok_or_else(refused)?)
            }
            None => None,
        };
        if let Some(old) = ours {
            self.doc.detach(old);
            self.cib.locations.retain(|l| l.element != old);
        }
        if let (Some(e), Some(mut loc)) = (theirs, lowered) {
            loc.element = copy_element(&mut self.doc, cons, from, e);
            self.cib.locations.push(loc);
        }
        let primitives: Option<Vec<String>> = match &self.session {
            Some(s) => rscs.iter().map(|r| s.primitive_of(r)).collect(),
            None => None,
        };
        match primitives {
            Some(ps) => ps.iter().for_each(|p| self.changed_alone(Some(p))),
            None => self.changed_alone(None),
        }
        Ok(())
    }

    /// Take `node`'s transient attributes as `from` has them now (each one that differs,
    /// as [`Model::record_attribute`] takes it).
    pub fn sync_attributes(&mut self, node: &str, from: &Document) -> Result<(), ModelError> {
        let Some(ni) = self.node_index(node) else {
            return Err(ModelError::UnknownNode(node.to_owned()));
        };
        let mut theirs: Vec<(String, String)> = Vec::new();
        let sets = state_of(from, node)
            .into_iter()
            .flat_map(|st| from.children(st))
            .filter(|&c| from.get(c).name == "transient_attributes")
            .flat_map(|t| from.children(t))
            .filter(|&c| from.get(c).name == "instance_attributes");
        for set in sets {
            for p in from.children(set).filter(|&c| from.get(c).name == "nvpair") {
                let el = from.get(p);
                if let (Some(k), Some(v)) = (el.attr("name"), el.attr("value")) {
                    theirs.push((k.to_owned(), v.to_owned()));
                }
            }
        }
        let ours: Vec<(String, Option<String>)> = self.cib.status.nodes[ni]
            .attributes
            .iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect();
        for (k, v) in &theirs {
            if !ours
                .iter()
                .any(|(ok, ov)| ok == k && ov.as_deref() == Some(v.as_str()))
            {
                self.record_attribute(node, k, Some(v))?;
            }
        }
        for (k, _) in &ours {
            if !theirs.iter().any(|(tk, _)| tk == k) {
                self.record_attribute(node, k, None)?;
            }
        }
        Ok(())
    }

    /// Set attributes of `node`'s `node_state` element (its membership: `in_ccm`, `crmd`,
    /// `join`, `expected`, as a new membership view lays them over the CIB) and lower its
    /// node state again. A change to what the plan reads of it (in the membership, out,
    /// unclean, expected) makes the next plan whole, from the model in memory: nothing
    /// else is lowered again.
    pub fn set_node_state(&mut self, node: &str, attrs: &[(&str, &str)]) -> Result<(), ModelError> {
        let Some(ni) = self.node_index(node) else {
            return Err(ModelError::UnknownNode(node.to_owned()));
        };
        let el = self.cib.status.nodes[ni].element;
        for (k, v) in attrs {
            self.doc.get_mut(el).set_attr(k, v);
        }
        let (fresh, diagnostics) = cib::lower_node_state(&self.file, &self.doc, el);
        let Some(fresh) = fresh.filter(|_| !diagnostics.iter().any(Diagnostic::is_error)) else {
            self.changed_alone(None);
            return Err(ModelError::InvalidNode {
                node: node.to_owned(),
                diagnostics,
            });
        };
        let ns = &mut self.cib.status.nodes[ni];
        if membership(ns) != membership(&fresh) {
            (ns.in_ccm, ns.in_ccm_known, ns.crmd) = (fresh.in_ccm, fresh.in_ccm_known, fresh.crmd);
            (ns.join, ns.expected_up, ns.unclean) = (fresh.join, fresh.expected_up, fresh.unclean);
            self.changed_alone(None);
        }
        Ok(())
    }

    /// Replace `node`'s `node_state` by an empty one with attributes `attrs` (`id` and
    /// `uname` among them), last in the status section: a node down and clean (fenced),
    /// whose histories and transient attributes are gone, as a new membership view lays
    /// it out. The next plan is whole, from the model in memory.
    pub fn renew_node_state(
        &mut self,
        node: &str,
        attrs: &[(&str, &str)],
    ) -> Result<(), ModelError> {
        let Some(ni) = self.node_index(node) else {
            return Err(ModelError::UnknownNode(node.to_owned()));
        };
        let old = self.cib.status.nodes[ni].element;
        let Some(status) = self.doc.get(old).parent else {
            return Err(ModelError::UnknownNode(node.to_owned()));
        };
        let el = self.doc.append(status, "node_state", attrs);
        let (fresh, diagnostics) = cib::lower_node_state(&self.file, &self.doc, el);
        let fresh = fresh
            .filter(|n| n.uname.as_str() == node && !diagnostics.iter().any(Diagnostic::is_error));
        let Some(fresh) = fresh else {
            self.doc.detach(el);
            return Err(ModelError::InvalidNode {
                node: node.to_owned(),
                diagnostics,
            });
        };
        self.doc.detach(old);
        self.cib.status.nodes.remove(ni);
        self.cib.status.nodes.push(fresh);
        self.changed_alone(None);
        Ok(())
    }

    /// Put the status section's node states in the order of `unames` (every node with a
    /// node state, each once), as a new membership view lays them out. Another order
    /// makes the next plan whole, from the model in memory (the order of the histories
    /// read binds clone instances). Refused, nothing changed, when `unames` are not
    /// exactly the nodes with a state.
    pub fn order_node_states(&mut self, unames: &[&str]) -> Result<(), ModelError> {
        let nodes = &self.cib.status.nodes;
        if nodes.len() == unames.len()
            && nodes
                .iter()
                .zip(unames)
                .all(|(n, u)| n.uname.as_str() == *u)
        {
            return Ok(());
        }
        let mut at = Vec::with_capacity(unames.len());
        for u in unames {
            match self.node_index(u) {
                Some(ni) if !at.contains(&ni) => at.push(ni),
                _ => return Err(ModelError::UnknownNode((*u).to_owned())),
            }
        }
        if let Some(n) = nodes.iter().enumerate().find(|(k, _)| !at.contains(k)) {
            return Err(ModelError::UnknownNode(n.1.uname.as_str().to_owned()));
        }
        for &ni in &at {
            self.doc.move_last(self.cib.status.nodes[ni].element);
        }
        let mut old: Vec<Option<cib::status::NodeState>> =
            std::mem::take(&mut self.cib.status.nodes)
                .into_iter()
                .map(Some)
                .collect();
        self.cib.status.nodes = at.iter().filter_map(|&ni| old[ni].take()).collect();
        self.changed_alone(None);
        Ok(())
    }

    /// Set attributes of the CIB's root element (`have-quorum`, `dc-uuid`, as a new
    /// membership view lays them over the CIB). A change to what the plan reads of them
    /// makes the next plan whole, from the model in memory.
    pub fn set_cluster_state(&mut self, attrs: &[(&str, &str)]) {
        let Some(root) = self.doc.root() else {
            return;
        };
        for (k, v) in attrs {
            self.doc.get_mut(root).set_attr(k, v);
        }
        let fresh = cib::cluster_state(&self.doc);
        if fresh != (self.cib.have_quorum, self.cib.dc_uuid.clone()) {
            (self.cib.have_quorum, self.cib.dc_uuid) = fresh;
            self.changed_alone(None);
        }
    }

    fn node_index(&self, node: &str) -> Option<usize> {
        self.cib
            .status
            .nodes
            .iter()
            .position(|n| n.uname.as_str() == node)
    }

    fn child_with_id(&self, parent: ElementId, name: &str, id: &str) -> Option<ElementId> {
        self.doc.children(parent).find(|&c| {
            let el = self.doc.get(c);
            el.name == name && el.id() == Some(id)
        })
    }

    fn child_or_append(
        &mut self,
        parent: ElementId,
        name: &str,
        attrs: &[(&str, &str)],
    ) -> ElementId {
        match self.doc.child(parent, name) {
            Some(c) => c,
            None => self.doc.append(parent, name, attrs),
        }
    }
}

/// `node`'s `node_state` in `doc`.
/// What a node state says of its membership (what [`Model::set_node_state`] takes).
fn membership(n: &cib::status::NodeState) -> (bool, bool, bool, cib::status::Join, bool, bool) {
    (
        n.in_ccm,
        n.in_ccm_known,
        n.crmd,
        n.join,
        n.expected_up,
        n.unclean,
    )
}

fn state_of(doc: &Document, node: &str) -> Option<ElementId> {
    let root = doc.root()?;
    let status = doc.child(root, "status")?;
    doc.children(status).find(|&c| {
        let el = doc.get(c);
        el.name == "node_state" && el.attr("uname") == Some(node)
    })
}

/// Append a copy of `from`'s element `el` (attributes and child elements) under `parent`.
fn copy_element(
    doc: &mut Document,
    parent: ElementId,
    from: &Document,
    el: ElementId,
) -> ElementId {
    let src = from.get(el);
    let attrs: Vec<(&str, &str)> = src.attrs.iter().map(|(k, v)| (&**k, v)).collect();
    let copy = doc.append(parent, &src.name, &attrs);
    for c in from.children(el) {
        copy_element(doc, copy, from, c);
    }
    copy
}

/// Whether two histories of a resource on a node plan alike: the same state, the same
/// operations (by id) with the same results, digests and migration, the same failure
/// times, in the same order of call ids. They may differ in call ids, run and
/// execution times, and the order of the entries: a recurring monitor's repeated
/// success, recorded again, differs from the last in nothing the scheduler reads. `b`
/// may also hold one more entry, a recurring monitor's first success (what every
/// resource's first monitor after its start records): the scheduler reads a recurring
/// entry only for the state (compared) and, in a history with no start, promote, demote
/// or incoming migration, for where its definition counts from (then it is not skipped).
fn plans_alike(a: &ResourceHistory, b: &ResourceHistory) -> bool {
    alike_but(a, b, None) || first_success(a, b).is_some_and(|k| alike_but(a, b, Some(k)))
}

/// The entry of `b` that is a recurring monitor's first success, when `b` is `a` with it
/// added and `a` has a start, promote, demote or incoming migration.
fn first_success(a: &ResourceHistory, b: &ResourceHistory) -> Option<usize> {
    let started = a.ops.iter().any(|o| {
        matches!(
            o.operation.as_str(),
            "start" | "promote" | "demote" | "migrate_from"
        )
    });
    if !started || b.ops.len() != a.ops.len() + 1 {
        return None;
    }
    let k = b
        .ops
        .iter()
        .position(|o| !a.ops.iter().any(|p| p.id == o.id))?;
    let o = &b.ops[k];
    let success = o.operation == "monitor"
        && o.interval_ms > 0
        && o.status == ExecStatus::Done
        && o.call_id >= 0
        && o.rc == o.expected_rc;
    success.then_some(k)
}

/// [`plans_alike`] with `b`'s entry `skip` left out.
fn alike_but(a: &ResourceHistory, b: &ResourceHistory, skip: Option<usize>) -> bool {
    fn failed(h: &ResourceHistory) -> Vec<&str> {
        h.state
            .failed_ops
            .iter()
            .map(|&k| h.ops[k].id.as_str())
            .collect()
    }
    fn order(h: &ResourceHistory, skip: Option<usize>) -> Vec<(&str, bool)> {
        let pending = |o: &LrmOp| o.status == ExecStatus::Pending || o.call_id < 0;
        let mut o: Vec<&LrmOp> = (h.ops.iter().enumerate())
            .filter(|&(k, _)| Some(k) != skip)
            .map(|(_, o)| o)
            .collect();
        o.sort_by_key(|o| (pending(o), o.call_id));
        o.iter().map(|o| (o.id.as_str(), o.call_id < 0)).collect()
    }
    type Key<'a> = (
        (&'a str, i32, ExecStatus, u64, i32),
        (
            &'a Option<String>,
            Option<i64>,
            &'a Option<(String, String)>,
            &'a Option<String>,
        ),
        [&'a Option<String>; 4],
    );
    fn key<'a>(o: &'a LrmOp, failed: &[&str]) -> Key<'a> {
        let time = o.last_rc_change.filter(|_| failed.contains(&o.id.as_str()));
        (
            (&o.operation, o.rc, o.status, o.interval_ms, o.expected_rc),
            (&o.exit_reason, time, &o.migrate, &o.on_node),
            [
                &o.op_digest,
                &o.op_restart_digest,
                &o.op_force_restart,
                &o.op_secure_digest,
            ],
        )
    }
    let (sa, sb) = (&a.state, &b.state);
    let fa = failed(a);
    a.id == b.id
        && (&a.class, &a.provider, &a.agent) == (&b.class, &b.provider, &b.agent)
        && (sa.role, sa.failed, sa.stop_failed, &sa.pending)
            == (sb.role, sb.failed, sb.stop_failed, &sb.pending)
        && (sa.partial_migration, sa.migrated_away) == (sb.partial_migration, sb.migrated_away)
        && a.ops.len() + usize::from(skip.is_some()) == b.ops.len()
        && fa == failed(b)
        && order(a, None) == order(b, skip)
        && a.ops.iter().all(|o| {
            b.ops
                .iter()
                .find(|p| p.id == o.id)
                .is_some_and(|p| key(o, &fa) == key(p, &fa))
        })
}
