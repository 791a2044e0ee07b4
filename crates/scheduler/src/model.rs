//! Re-planning with the cluster's model in memory, for the daemon: [`Model`] keeps the
//! element tree and the lowered CIB, takes one operation result (one `lrm_rsc_op`) at a
//! time, lowers again only that resource's history on that node, and plans from the model
//! without reading or parsing the CIB again.
//!
//! The result is the plan [`crate::schedule`] makes from the CIB with that entry written
//! in (the test `tests/model.rs` compares both). What [`Model::record`] changes is the
//! history entry alone: the fail count and last-failure attributes that the controller
//! sets beside a failure are transient attributes, a separate update.
//!
//! The model keeps the last plan and the working set it was made from. A result for a
//! primitive that stands alone (top-level, in no colocation or order: a VM, most often)
//! is re-planned for that primitive alone: it is rebuilt from its history, placed again
//! from its turn in the last placement (the nodes as they were then, replayed from a
//! log), and when it lands where it was, only its own parts of the plan are replaced:
//! nothing else read it. Any other result, or one that moves it, makes the next plan a
//! whole one ([`Stats`] counts both).
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
    stats: Stats,
}

/// How the model's plans were made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Whole plans (the first, and after any result not re-planned alone).
    pub whole: u64,
    /// Results re-planned for their primitive alone.
    pub alone: u64,
}

/// A plan and the working set it was made from (placement's log kept).
#[derive(Debug, Clone)]
struct Session {
    ws: WorkingSet,
    plan: Plan,
}

impl Session {
    fn new(cib: &Cib, input: &Input) -> Session {
        let mut ws = WorkingSet::build(cib, input);
        ws.log = Some(AssignLog::default());
        crate::assign::assign_all(&mut ws);
        let plan = crate::actions::create(&mut ws);
        Session { ws, plan }
    }

    /// Re-plan resource `rsc` alone after its history changed in `cib`. False when that
    /// is not enough (the session is then to be dropped: it may be half updated).
    fn update(&mut self, cib: &Cib, input: &Input, rsc: &str) -> bool {
        let ws = &mut self.ws;
        let Some(i) = ws.find(rsc) else {
            return false;
        };
        let r = &ws.rscs[i];
        let alone = r.kind == Kind::Primitive
            && r.parent.is_none()
            && !r.orphan
            && !r.is_fencing
            && r.this_with.is_empty()
            && r.with_this.is_empty()
            && !ws.orders.iter().any(|o| o.first == i || o.then == i);
        if !alone {
            return false;
        }
        let (assigned, next_role, managed) = (r.assigned, r.next_role, r.managed);
        ws.renew(cib, input, i)
            && crate::assign::reassign(ws, i, (assigned, next_role))
            && ws.rscs[i].managed == managed
            && crate::actions::replan_primitive(ws, &mut self.plan, i)
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

    /// Set "now" for the next plans (the next one is whole: time expires failures
    /// anywhere).
    pub fn set_now(&mut self, now: Option<i64>) {
        self.input.now = now;
        self.session = None;
    }

    /// The plan for the model as it is now.
    pub fn plan(&mut self) -> &Plan {
        let (cib, input, stats) = (&self.cib, &self.input, &mut self.stats);
        let session = self.session.get_or_insert_with(|| {
            stats.whole += 1;
            Session::new(cib, input)
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
        let list = &mut self.cib.status.nodes[ni].resources;
        match list.iter().position(|h| h.element == lr) {
            Some(k) => list[k] = history,
            None => list.push(history),
        }
        if let Some(s) = &mut self.session {
            if s.update(&self.cib, &self.input, op.rsc) {
                self.stats.alone += 1;
            } else {
                self.session = None;
            }
        }
        Ok(())
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
