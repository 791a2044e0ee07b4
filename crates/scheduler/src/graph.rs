//! The transition graph: a [`Plan`] lowered into self-contained operations and one edge
//! list, Pacemaker's transition graph in crm-lite's own types.
//!
//! Every [`RscOp`] carries what its node needs to run it and record it (agent, resolved
//! instance parameters, `CRM_meta_*` values, timeout, interval, expected rc, Pacemaker's
//! operation key and digest); a node that receives one needs nothing else from the CIB.
//! Fencing is its own kind ([`FenceOp`]: target, action, the devices with their agent and
//! parameters). A stop or demote on a node being fenced is a [`PseudoOp`]: done when the
//! fence is, never run. A live migration is three operations (`migrate_to` on the source,
//! `migrate_from` on the target, the source's `stop`) chained by edges. Clone
//! notifications are operations in the same edge list.
//!
//! Probes come first, as a graph of their own ([`GraphKind::Probes`]): when the plan has
//! probes the graph holds only them, and the plan is made again with their results (a
//! deliberate difference from Pacemaker, which puts probes and actions in one graph).
//!
//! Pure: no I/O, no clock (`now` is an input), deterministic.
use std::fmt;

use cib::Cib;
use cib::model::Primitive;

use crate::{ActionKind, Plan, Step};

/// An operation's index in [`Graph::ops`].
pub type OpId = usize;

/// Default timeout of an operation without its own (Pacemaker's default), in ms.
pub const DEFAULT_TIMEOUT_MS: u64 = 20_000;
/// Default `stonith-timeout`, in ms.
pub const DEFAULT_FENCE_TIMEOUT_MS: u64 = 60_000;

/// Which resource agent runs an operation: `class`, `provider`, `type`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Agent {
    /// `ocf`, `stonith`, `systemd`, ...
    pub class: String,
    /// The OCF provider.
    pub provider: Option<String>,
    /// The agent's name (`type`).
    pub kind: String,
}

/// One agent operation on a resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RscOp {
    /// The resource as the agent and the history name it (`OCF_RESOURCE_INSTANCE`).
    pub rsc: String,
    /// The node it runs on, and that node's `<node id>`.
    pub node: String,
    /// The node's id.
    pub node_id: String,
    /// `start`, `stop`, `monitor`, `notify`, `migrate_to`, ...
    pub action: String,
    /// 0 for one-shot operations and probes.
    pub interval_ms: u64,
    /// How long the agent may take.
    pub timeout_ms: u64,
    /// The rc that means success (7 for a probe that should find nothing, 8 for a promoted
    /// monitor, 0 otherwise).
    pub expected_rc: i32,
    /// Pacemaker's operation key (`rsc_action_interval`, `rsc_pre_notify_start_0`).
    pub key: String,
    /// The agent.
    pub agent: Agent,
    /// The resolved instance parameters (`OCF_RESKEY_<name>`), sorted by name.
    pub params: Vec<(String, String)>,
    /// `CRM_meta_<name>` values: clone settings, notification variables,
    /// `migrate_source`/`migrate_target`.
    pub meta: Vec<(String, String)>,
    /// Pacemaker's digest of `params`, recorded with the result.
    pub digest: String,
    /// Whether the result goes into the history (notifications: never).
    pub record: bool,
    /// `(source, target)` of a migration step, recorded with it.
    pub migrate: Option<(String, String)>,
}

impl RscOp {
    /// Whether the result is a failure the cluster must react to: a timeout, or an rc
    /// other than the expected one (a probe may find the resource in any state).
    pub fn failed(&self, rc: i32, timed_out: bool) -> bool {
        timed_out || cib::status::unexpected(&self.action, self.interval_ms, rc, self.expected_rc)
    }
}

/// A fence device as the fencer uses it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FenceDevice {
    /// The resource id.
    pub id: String,
    /// The fence agent (`fence_ipmilan`, ...).
    pub agent: String,
    /// Its resolved instance attributes, `pcmk_*` ones included.
    pub params: Vec<(String, String)>,
}

/// Fencing a node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FenceOp {
    /// The node to fence, and its id.
    pub target: String,
    /// The target's `<node id>`.
    pub target_id: String,
    /// `reboot` or `off`.
    pub action: String,
    /// The devices that may be asked, in configuration order.
    pub devices: Vec<FenceDevice>,
    /// `stonith-timeout`.
    pub timeout_ms: u64,
}

/// An operation that runs nothing: another one does it (a stop or demote on a node being
/// fenced is done by the fence).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PseudoOp {
    /// The resource.
    pub rsc: String,
    /// The node.
    pub node: String,
    /// `stop` or `demote`.
    pub action: String,
    /// Why nothing runs (`done by fencing node2`).
    pub reason: String,
}

/// What an operation is.
// Most operations are agent operations: boxing them would cost an allocation each to save
// space on the few fences and pseudo operations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OpKind {
    /// An agent operation.
    Rsc(RscOp),
    /// Fencing.
    Fence(FenceOp),
    /// Implied by another operation.
    Pseudo(PseudoOp),
}

/// One operation of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphOp {
    /// What it is.
    pub kind: OpKind,
    /// The plan step it carries out ([`Graph::steps`]).
    pub step: usize,
}

impl GraphOp {
    /// The node the operation runs on (the fencer's side for a fence: none).
    pub fn node(&self) -> Option<&str> {
        match &self.kind {
            OpKind::Rsc(r) => Some(&r.node),
            OpKind::Pseudo(p) => Some(&p.node),
            OpKind::Fence(_) => None,
        }
    }
}

/// Where a plan step comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `Plan::probes[i]`, or an extra probe after them.
    Probe(usize),
    /// `Plan::actions[i]`.
    Action(usize),
    /// `Plan::notifications[i]`.
    Notify(usize),
}

/// One step of the plan as the operator sees it: an action (a migration is three
/// operations), a notification or a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepInfo {
    /// Where it comes from.
    pub origin: Origin,
    /// How progress names it (`start web on node1`, `migrate vm from a to b`,
    /// `fence (reboot) node2`, `notify db on a (pre-start)`).
    pub label: String,
    /// Its operations, in the order they run.
    pub ops: Vec<OpId>,
}

/// Probes, or actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphKind {
    /// Only probes: learn the state, then plan again.
    Probes,
    /// The plan's actions and notifications.
    Actions,
}

/// A transition graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    /// Probes or actions.
    pub kind: GraphKind,
    /// The operations.
    pub ops: Vec<GraphOp>,
    /// `(a, b)`: `ops[a]` completes before `ops[b]` starts.
    pub edges: Vec<(OpId, OpId)>,
    /// The plan's steps, in the plan's order.
    pub steps: Vec<StepInfo>,
}

/// Why a plan cannot be lowered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// The plan names a resource that neither CIB configures.
    #[error("the plan names {rsc}, which neither the CIB nor the last applied CIB configures")]
    Unconfigured {
        /// The resource.
        rsc: String,
    },
}

/// What lowering reads besides the plan.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// The CIB the plan was made from.
    pub cib: &'a Cib,
    /// The CIB applied before: it still configures an orphan (a resource taken out of
    /// `cib`) that must be stopped or probed.
    pub previous: Option<&'a Cib>,
    /// "Now", for rules in instance attributes.
    pub now: i64,
}

impl Sources<'_> {
    /// The primitive behind a plan resource name, with the CIB that configures it.
    fn configured(&self, rsc: &str) -> Option<(&Cib, &Primitive)> {
        if let Some((p, _)) = self.cib.primitive_of(rsc) {
            return Some((self.cib, p));
        }
        let prev = self.previous?;
        prev.primitive_of(rsc).map(|(p, _)| (prev, p))
    }

    fn node_id(&self, node: &str) -> String {
        self.cib
            .node(node)
            .map_or_else(|| "1".into(), |n| n.id.clone())
    }

    /// An operation of `rsc` on `node` with the clone meta-attributes, plus `extra`.
    fn rsc_op(
        &self,
        rsc: &str,
        action: &str,
        node: &str,
        extra: &[(String, String)],
        clone_meta: bool,
    ) -> Result<RscOp, GraphError> {
        let (cib, p) = self
            .configured(rsc)
            .ok_or_else(|| GraphError::Unconfigured {
                rsc: rsc.to_owned(),
            })?;
        let mut meta = match cib.clone_of(rsc) {
            Some(c) if clone_meta => cib.clone_meta(c),
            _ => Vec::new(),
        };
        meta.extend_from_slice(extra);
        let params = crate::instance_params(cib, p, node, Some(self.now));
        let timeout_ms = p
            .ops
            .iter()
            .find(|o| o.name == action && o.interval_ms == 0)
            .and_then(|o| o.timeout_ms)
            .or_else(|| {
                cib.op_defaults
                    .get("timeout")
                    .and_then(cib::duration::parse_ms)
            })
            .unwrap_or(DEFAULT_TIMEOUT_MS);
        Ok(RscOp {
            rsc: rsc.to_owned(),
            node: node.to_owned(),
            node_id: self.node_id(node),
            action: action.to_owned(),
            interval_ms: 0,
            timeout_ms,
            expected_rc: 0,
            key: format!("{rsc}_{action}_0"),
            agent: Agent {
                class: p.class.clone(),
                provider: p.provider.clone(),
                kind: p.agent.clone(),
            },
            digest: cib::digest::op_digest(&params),
            params,
            meta,
            record: true,
            migrate: None,
        })
    }

    /// The fence devices, in configuration order, as the fencer would use them.
    fn fence_devices(&self) -> Vec<FenceDevice> {
        let cib = self.cib;
        cib.primitives()
            .filter(|p| p.is_fencing())
            .filter(|p| p.meta.raw.get("target-role") != Some("Stopped"))
            .map(|p| FenceDevice {
                id: p.id.as_str().to_owned(),
                agent: p.agent.clone(),
                // Device parameters do not depend on the node that fences.
                params: crate::instance_params(cib, p, "", Some(self.now)),
            })
            .collect()
    }
}

/// A probe of `rsc` on `node`: a one-shot monitor expected to find nothing (rc 7).
pub fn probe(src: &Sources<'_>, rsc: &str, node: &str) -> Result<RscOp, GraphError> {
    let mut op = src.rsc_op(rsc, "monitor", node, &[], true)?;
    op.expected_rc = 7;
    Ok(op)
}

/// The recurring monitor `m` of the plan, as it runs once: expected rc 8 in the promoted
/// role, its own timeout when its `<op>` sets one.
pub fn monitor(src: &Sources<'_>, m: &crate::Monitor) -> Result<RscOp, GraphError> {
    let mut op = src.rsc_op(&m.rsc, "monitor", &m.node, &[], true)?;
    op.interval_ms = m.interval_ms;
    op.key = format!("{}_monitor_{}", m.rsc, m.interval_ms);
    if m.role == Some(cib::Role::Promoted) {
        op.expected_rc = 8;
    }
    let own = src.configured(&m.rsc).and_then(|(_, p)| {
        p.ops
            .iter()
            .find(|o| o.name == "monitor" && o.interval_ms == m.interval_ms)
            .and_then(|o| o.timeout_ms)
    });
    if let Some(t) = own {
        op.timeout_ms = t;
    }
    Ok(op)
}

/// Whether action `a` of `plan` is done by fencing its node (Pacemaker's pseudo-actions:
/// whatever ran on a node that is reset has stopped).
pub fn implied_by_fencing(plan: &Plan, a: &crate::Action) -> bool {
    matches!(a.kind, ActionKind::Stop | ActionKind::Demote)
        && plan
            .actions
            .iter()
            .any(|f| f.kind == ActionKind::Fence && f.rsc == a.node)
}

/// Lower `plan` into its transition graph. `extra_probes` are `(resource, node)` probes
/// to add to the plan's (a resource taken out of the CIB whose operation a crash
/// interrupted, configured by `src.previous`). When there is any probe, the graph holds
/// the probes only.
pub fn lower(
    plan: &Plan,
    src: &Sources<'_>,
    extra_probes: &[(String, String)],
) -> Result<Graph, GraphError> {
    let mut g = Graph {
        kind: GraphKind::Actions,
        ops: Vec::new(),
        edges: Vec::new(),
        steps: Vec::new(),
    };
    if !plan.probes.is_empty() || !extra_probes.is_empty() {
        g.kind = GraphKind::Probes;
        let targets = plan
            .probes
            .iter()
            .map(|p| (p.rsc, p.node))
            .chain(extra_probes.iter().map(|(r, n)| (r.as_str(), n.as_str())));
        for (i, (rsc, node)) in targets.enumerate() {
            // A probe of something neither CIB configures has nothing to run.
            let Ok(op) = probe(src, rsc, node) else {
                continue;
            };
            g.push_step(
                Origin::Probe(i),
                format!("probe {rsc} on {node}"),
                vec![OpKind::Rsc(op)],
            );
        }
        return Ok(g);
    }
    // Everything the plan names must exist before anything runs.
    for a in plan.actions.iter().filter(|a| a.kind != ActionKind::Fence) {
        if src.configured(&a.rsc).is_none() {
            return Err(GraphError::Unconfigured { rsc: a.rsc.clone() });
        }
    }
    let fence_timeout_ms = src
        .cib
        .options
        .raw
        .get("stonith-timeout")
        .and_then(cib::duration::parse_ms)
        .unwrap_or(DEFAULT_FENCE_TIMEOUT_MS);
    for (i, a) in plan.actions.iter().enumerate() {
        let label = match a.kind {
            ActionKind::Fence => format!("fence ({}) {}", a.node, a.rsc),
            ActionKind::Migrate => format!(
                "migrate {} from {} to {}",
                a.rsc,
                a.from.as_deref().unwrap_or("?"),
                a.node
            ),
            _ => format!("{} {} on {}", a.kind.name(), a.rsc, a.node),
        };
        let ops = if implied_by_fencing(plan, a) {
            vec![OpKind::Pseudo(PseudoOp {
                rsc: a.rsc.clone(),
                node: a.node.clone(),
                action: a.kind.name().to_owned(),
                reason: format!("done by fencing {}", a.node),
            })]
        } else if a.kind == ActionKind::Fence {
            vec![OpKind::Fence(FenceOp {
                target: a.rsc.clone(),
                target_id: src.node_id(&a.rsc),
                action: a.node.clone(),
                devices: src.fence_devices(),
                timeout_ms: fence_timeout_ms,
            })]
        } else if a.kind == ActionKind::Migrate {
            let from = a.from.clone().unwrap_or_default();
            let extra = [
                ("migrate_source".to_owned(), from.clone()),
                ("migrate_target".to_owned(), a.node.clone()),
            ];
            let mut to = src.rsc_op(&a.rsc, "migrate_to", &from, &extra, true)?;
            let mut back = src.rsc_op(&a.rsc, "migrate_from", &a.node, &extra, true)?;
            to.migrate = Some((from.clone(), a.node.clone()));
            back.migrate = to.migrate.clone();
            let stop = src.rsc_op(&a.rsc, "stop", &from, &[], false)?;
            vec![OpKind::Rsc(to), OpKind::Rsc(back), OpKind::Rsc(stop)]
        } else {
            // A notifying clone's own actions carry the notification lists too.
            let vars = match a.kind {
                ActionKind::Start | ActionKind::Stop | ActionKind::Promote | ActionKind::Demote => {
                    notify_vars(plan, src, &a.rsc)
                }
                _ => &[],
            };
            vec![OpKind::Rsc(src.rsc_op(
                &a.rsc,
                a.kind.name(),
                &a.node,
                vars,
                true,
            )?)]
        };
        g.push_step(Origin::Action(i), label, ops);
    }
    for (k, n) in plan.notifications.iter().enumerate() {
        let stage = match n.stage {
            crate::NotifyStage::Pre => "pre",
            crate::NotifyStage::Post => "post",
        };
        let mut extra = Vec::new();
        if let (_, Some(num)) = cib::meta::instance(&n.instance) {
            extra.push(("clone".to_owned(), num.to_string()));
        }
        extra.extend(n.vars.iter().cloned());
        let mut op = src.rsc_op(&n.rsc, "notify", &n.node, &extra, true)?;
        op.key = format!("{}_{stage}_notify_{}_0", n.rsc, n.operation);
        op.record = false;
        g.push_step(
            Origin::Notify(k),
            format!("notify {} on {} ({stage}-{})", n.rsc, n.node, n.operation),
            vec![OpKind::Rsc(op)],
        );
    }
    // Steps are numbered actions first, then notifications, as in the plan.
    let n_act = plan.actions.len();
    let step = |s: &Step| match *s {
        Step::Action(i) => i,
        Step::Notify(k) => n_act + k,
    };
    let first = |g: &Graph, s: usize| g.steps[s].ops[0];
    let last = |g: &Graph, s: usize| *g.steps[s].ops.last().unwrap_or(&g.steps[s].ops[0]);
    let mut edges: Vec<(OpId, OpId)> = Vec::new();
    for &(a, b) in &plan.edges {
        if a < g.steps.len() && b < g.steps.len() && a != b {
            edges.push((last(&g, a), first(&g, b)));
        }
    }
    for (a, b) in &plan.notify_edges {
        let (a, b) = (step(a), step(b));
        if a < g.steps.len() && b < g.steps.len() && a != b {
            edges.push((last(&g, a), first(&g, b)));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    g.edges
        .extend(edges.into_iter().filter(|e| seen.insert(*e)));
    Ok(g)
}

/// The notification lists a clone with `notify=true` gives its instance `rsc`'s actions.
fn notify_vars<'p>(plan: &'p Plan, src: &Sources<'_>, rsc: &str) -> &'p [(String, String)] {
    let clone = src
        .configured(rsc)
        .and_then(|(cib, _)| cib.clone_of(rsc))
        .map(|c| c.id.as_str());
    plan.notify_vars
        .iter()
        .find(|(c, _)| Some(c.as_str()) == clone)
        .map_or(&[], |(_, vars)| vars.as_slice())
}

impl Graph {
    /// Add a step of `kinds`, chained in order.
    fn push_step(&mut self, origin: Origin, label: String, kinds: Vec<OpKind>) {
        let step = self.steps.len();
        let mut ids = Vec::with_capacity(kinds.len());
        for kind in kinds {
            let id = self.ops.len();
            if let Some(&prev) = ids.last() {
                self.edges.push((prev, id));
            }
            self.ops.push(GraphOp { kind, step });
            ids.push(id);
        }
        self.steps.push(StepInfo {
            origin,
            label,
            ops: ids,
        });
    }
}

fn pairs(f: &mut fmt::Formatter<'_>, what: &str, v: &[(String, String)]) -> fmt::Result {
    if v.is_empty() {
        return Ok(());
    }
    write!(f, "\n      {what}:")?;
    for (k, val) in v {
        write!(f, " {k}={val}")?;
    }
    Ok(())
}

/// The text form: one block per operation, then the edges (golden tests compare it).
impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "graph: {}",
            match self.kind {
                GraphKind::Probes => "probes",
                GraphKind::Actions => "actions",
            }
        )?;
        for (i, op) in self.ops.iter().enumerate() {
            write!(
                f,
                "op {i} [step {} {}]: ",
                op.step, self.steps[op.step].label
            )?;
            match &op.kind {
                OpKind::Rsc(r) => {
                    write!(
                        f,
                        "{} on {} (id {}) {}:{}:{} timeout={}ms expect={}{}{}",
                        r.key,
                        r.node,
                        r.node_id,
                        r.agent.class,
                        r.agent.provider.as_deref().unwrap_or(""),
                        r.agent.kind,
                        r.timeout_ms,
                        r.expected_rc,
                        if r.record { "" } else { " unrecorded" },
                        r.migrate
                            .as_ref()
                            .map_or(String::new(), |(s, t)| format!(" migrate={s}->{t}"))
                    )?;
                    pairs(f, "params", &r.params)?;
                    pairs(f, "meta", &r.meta)?;
                }
                OpKind::Fence(x) => {
                    write!(
                        f,
                        "fence {} (id {}) action={} timeout={}ms devices:",
                        x.target, x.target_id, x.action, x.timeout_ms
                    )?;
                    for d in &x.devices {
                        write!(f, " {}({})", d.id, d.agent)?;
                    }
                }
                OpKind::Pseudo(p) => {
                    write!(
                        f,
                        "pseudo {} {} on {}: {}",
                        p.action, p.rsc, p.node, p.reason
                    )?;
                }
            }
            writeln!(f)?;
        }
        for (a, b) in &self.edges {
            writeln!(f, "edge {a} -> {b}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, Input, schedule};

    const NOW: i64 = 1_700_000_000;

    fn parse(xml: &str) -> cib::Parsed {
        let parsed = cib::parse("t.xml", xml);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        parsed
    }

    const OLD: &str = r#"<cib have-quorum="1"><configuration><crm_config><cluster_property_set id="o">
      <nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
      <nodes><node id="7" uname="n1"/></nodes><resources>
      <primitive id="gone" class="ocf" provider="heartbeat" type="Dummy">
        <instance_attributes id="g"><nvpair id="g1" name="state" value="/run/gone"/></instance_attributes>
        <operations><op id="g-stop" name="stop" interval="0" timeout="45s"/></operations></primitive>
      </resources><constraints/></configuration><status/></cib>"#;

    const NEW: &str = r#"<cib have-quorum="1"><configuration><crm_config><cluster_property_set id="o">
      <nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
      <nodes><node id="7" uname="n1"/></nodes><resources/><constraints/>
      <op_defaults><meta_attributes id="od"><nvpair id="od1" name="timeout" value="33s"/></meta_attributes></op_defaults>
      </configuration><status/></cib>"#;

    fn stop_gone() -> Plan {
        Plan {
            actions: vec![Action {
                kind: ActionKind::Stop,
                rsc: "gone".into(),
                node: "n1".into(),
                from: None,
                blocked: None,
                reason: "orphan".into(),
            }],
            ..Plan::default()
        }
    }

    #[test]
    fn an_orphan_is_stopped_with_the_definition_it_ran_with() {
        let (old, new) = (parse(OLD), parse(NEW));
        let src = Sources {
            cib: &new.cib,
            previous: Some(&old.cib),
            now: NOW,
        };
        let g = lower(&stop_gone(), &src, &[]).expect("the previous CIB configures it");
        let OpKind::Rsc(op) = &g.ops[0].kind else {
            panic!("{:?}", g.ops[0])
        };
        assert_eq!(op.params, [("state".to_owned(), "/run/gone".to_owned())]);
        assert_eq!(op.timeout_ms, 45_000, "its own stop timeout");
        assert_eq!((op.node_id.as_str(), op.key.as_str()), ("7", "gone_stop_0"));
        assert_eq!(op.digest, cib::digest::op_digest(&op.params));
    }

    #[test]
    fn a_resource_neither_cib_configures_is_an_error_naming_it() {
        let new = parse(NEW);
        let src = Sources {
            cib: &new.cib,
            previous: None,
            now: NOW,
        };
        assert_eq!(
            lower(&stop_gone(), &src, &[]),
            Err(GraphError::Unconfigured { rsc: "gone".into() })
        );
    }

    #[test]
    fn an_extra_probe_makes_a_probe_graph_and_uses_op_defaults() {
        let new = parse(NEW.replace("<resources/>", r#"<resources><primitive id="p" class="ocf" provider="heartbeat" type="Dummy"/></resources>"#).as_str());
        let plan = schedule(
            &new.cib,
            &Input {
                now: Some(NOW),
                explain: false,
            },
        );
        let src = Sources {
            cib: &new.cib,
            previous: None,
            now: NOW,
        };
        let g = lower(&plan, &src, &[("p".into(), "n1".into())]).expect("lowered");
        assert_eq!(g.kind, GraphKind::Probes);
        let OpKind::Rsc(op) = &g.ops.last().expect("a probe").kind else {
            panic!()
        };
        assert_eq!(
            (op.action.as_str(), op.expected_rc, op.timeout_ms),
            ("monitor", 7, 33_000)
        );
    }

    #[test]
    fn a_probe_may_find_any_state_but_an_action_must_meet_its_rc() {
        let mut op = RscOp {
            rsc: "r".into(),
            node: "n".into(),
            node_id: "1".into(),
            action: "monitor".into(),
            interval_ms: 0,
            timeout_ms: 1,
            expected_rc: 7,
            key: "r_monitor_0".into(),
            agent: Agent {
                class: "ocf".into(),
                provider: None,
                kind: "Dummy".into(),
            },
            params: Vec::new(),
            meta: Vec::new(),
            digest: String::new(),
            record: true,
            migrate: None,
        };
        assert!(!op.failed(0, false) && !op.failed(8, false) && !op.failed(7, false));
        assert!(op.failed(1, false) && op.failed(7, true));
        op.action = "start".into();
        op.expected_rc = 0;
        assert!(!op.failed(0, false));
        assert!(op.failed(7, false));
    }
}
