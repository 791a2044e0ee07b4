//! The status section: node membership, transient attributes and the operation history
//! folded into each resource's current state per node.
use crate::model::{NodeName, NvPair, ResourceId, Role};
use crate::score::Score;
use crate::tree::ElementId;

/// The `<status>` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// One entry per `<node_state>`, in document order.
    pub nodes: Vec<NodeState>,
}

impl Status {
    /// The state of node `uname`.
    pub fn node(&self, uname: &str) -> Option<&NodeState> {
        self.nodes.iter().find(|n| n.uname.as_str() == uname)
    }
}

/// The `join` attribute of a node_state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Joined the controller.
    Member,
    /// Not joined.
    Down,
    /// Joining.
    Pending,
    /// Refused.
    Banned,
}

/// A `<node_state>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// Node id.
    pub id: String,
    /// Node name.
    pub uname: NodeName,
    /// In the Corosync membership (`in_ccm` "true" or a non-zero timestamp).
    pub in_ccm: bool,
    /// Whether `in_ccm` is present at all (absent: the node was never seen by the cluster).
    pub in_ccm_known: bool,
    /// The controller runs (`crmd` "online" or a non-zero timestamp).
    pub crmd: bool,
    /// `join`.
    pub join: Join,
    /// `expected` is `member` (the node is supposed to be up).
    pub expected_up: bool,
    /// The node left unexpectedly (expected up but out of the membership) and must be fenced
    /// before its resources can be recovered.
    pub unclean: bool,
    /// A shutdown was requested (non-zero `shutdown` transient attribute).
    pub shutdown: bool,
    /// Transient attributes, in order.
    pub attributes: Vec<NvPair>,
    /// Parsed `fail-count-*` attributes.
    pub fail_counts: Vec<FailCount>,
    /// Parsed `last-failure-*` attributes.
    pub last_failures: Vec<LastFailure>,
    /// Parsed promotion scores (`master-<rsc>`).
    pub promotion_scores: Vec<(ResourceId, Score)>,
    /// Per-resource history on this node.
    pub resources: Vec<ResourceHistory>,
    /// Where it came from.
    pub element: ElementId,
}

impl NodeState {
    /// Online: in the membership, controller up and joined.
    pub fn online(&self) -> bool {
        self.in_ccm && self.crmd && self.join == Join::Member
    }

    /// The history of resource `id` on this node.
    pub fn resource(&self, id: &str) -> Option<&ResourceHistory> {
        self.resources.iter().find(|r| r.id.as_str() == id)
    }

    /// Read `shutdown`, the fail counts, last failures and promotion scores from
    /// [`NodeState::attributes`] (again, after they changed).
    pub fn read_attributes(&mut self) {
        self.shutdown = false;
        self.fail_counts.clear();
        self.last_failures.clear();
        self.promotion_scores.clear();
        for p in &self.attributes {
            let v = p.value.as_deref().unwrap_or("");
            if p.name == "shutdown" {
                self.shutdown = v.trim().parse::<i64>().map(|t| t != 0).unwrap_or(false);
            } else if let Some(rest) = p.name.strip_prefix("fail-count-") {
                let (rsc, op) = split_op(rest);
                self.fail_counts.push(FailCount {
                    resource: ResourceId(rsc),
                    operation: op,
                    count: Score::parse(v).unwrap_or_default(),
                });
            } else if let Some(rest) = p.name.strip_prefix("last-failure-") {
                let (rsc, op) = split_op(rest);
                self.last_failures.push(LastFailure {
                    resource: ResourceId(rsc),
                    operation: op,
                    timestamp: v.trim().parse().unwrap_or(0),
                });
            } else if let Some(rsc) = p
                .name
                .strip_prefix("master-")
                .or_else(|| p.name.strip_prefix("promotion-"))
            {
                self.promotion_scores.push((
                    ResourceId(rsc.to_owned()),
                    Score::parse(v).unwrap_or_default(),
                ));
            }
        }
    }

    /// The total fail count of resource `id` (all operations) on this node.
    pub fn fail_count(&self, id: &str) -> Score {
        self.fail_counts
            .iter()
            .filter(|f| f.resource.as_str() == id)
            .fold(Score::ZERO, |a, f| a + f.count)
    }
}

/// `fail-count-<rsc>[#<op>_<interval>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailCount {
    /// The resource.
    pub resource: ResourceId,
    /// Operation and interval in ms (Pacemaker ≥ 2.0 per-operation form).
    pub operation: Option<(String, u64)>,
    /// The count.
    pub count: Score,
}

/// `last-failure-<rsc>[#<op>_<interval>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastFailure {
    /// The resource.
    pub resource: ResourceId,
    /// Operation and interval in ms.
    pub operation: Option<(String, u64)>,
    /// Seconds since the epoch.
    pub timestamp: i64,
}

/// The executor's status of an operation (`op-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecStatus {
    /// -1: still running.
    Pending,
    /// 0: completed; `rc-code` tells the result.
    Done,
    /// 1: cancelled.
    Cancelled,
    /// 2: timed out.
    Timeout,
    /// 3: not supported by the agent.
    NotSupported,
    /// 4: failed.
    Error,
    /// 5: failed, do not retry on this node.
    ErrorHard,
    /// 6: failed, do not retry anywhere.
    ErrorFatal,
    /// 7: agent not installed.
    NotInstalled,
    /// 8..: connection, invalid, no fencing device, no secrets.
    Other(i32),
}

impl ExecStatus {
    fn from_code(c: i32) -> ExecStatus {
        match c {
            -1 => ExecStatus::Pending,
            0 => ExecStatus::Done,
            1 => ExecStatus::Cancelled,
            2 => ExecStatus::Timeout,
            3 => ExecStatus::NotSupported,
            4 => ExecStatus::Error,
            5 => ExecStatus::ErrorHard,
            6 => ExecStatus::ErrorFatal,
            7 => ExecStatus::NotInstalled,
            o => ExecStatus::Other(o),
        }
    }
}

/// One `<lrm_rsc_op>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LrmOp {
    /// The op's `id` (`rsc_last_0`, `rsc_last_failure_0`, `rsc_monitor_10000`).
    pub id: String,
    /// `operation`.
    pub operation: String,
    /// `call-id` (-1 while pending).
    pub call_id: i64,
    /// `rc-code`: 0 ok, 7 not running, 8 running promoted, 9 failed promoted, else error.
    pub rc: i32,
    /// `op-status`.
    pub status: ExecStatus,
    /// `interval` in ms.
    pub interval_ms: u64,
    /// The rc the controller expected (from `transition-key`; 0 when absent).
    pub expected_rc: i32,
    /// `exit-reason`.
    pub exit_reason: Option<String>,
    /// `last-rc-change` (seconds since the epoch).
    pub last_rc_change: Option<i64>,
    /// `migrate_source`/`migrate_target` for migrations.
    pub migrate: Option<(String, String)>,
    /// `op-digest`: hash of the parameters the op ran with (restart-vs-reload decisions).
    pub op_digest: Option<String>,
    /// `op-restart-digest`: hash of only the parameters that need a restart (reloadable
    /// agents).
    pub op_restart_digest: Option<String>,
    /// `op-force-restart`: the names of those parameters, separated by spaces.
    pub op_force_restart: Option<String>,
    /// `op-secure-digest`.
    pub op_secure_digest: Option<String>,
    /// `exec-time` in ms.
    pub exec_time_ms: Option<u64>,
    /// `on_node`.
    pub on_node: Option<String>,
    /// Where it came from.
    pub element: ElementId,
}

/// Whether an operation that ran to its end answered other than expected: an rc other
/// than `expected_rc`, except that a probe (a one-shot `monitor`) may find the resource
/// running, stopped or promoted (0, 7, 8). The one rule for recording a result and for
/// reading one back.
pub fn unexpected(operation: &str, interval_ms: u64, rc: i32, expected_rc: i32) -> bool {
    let probe = operation == "monitor" && interval_ms == 0;
    rc != expected_rc && !(probe && matches!(rc, 0 | 7 | 8))
}

impl LrmOp {
    /// Whether the result differs from what was expected (a failure to report).
    ///
    /// As Pacemaker remaps results: for a completed (or plain "error") execution the rc-code
    /// decides — the expected rc is success, and a probe may find the resource running,
    /// stopped or promoted; timeouts, hard and fatal errors and the rest always fail.
    pub fn failed(&self) -> bool {
        let rc = self.effective_rc();
        match self.status {
            ExecStatus::Pending | ExecStatus::Cancelled => false,
            ExecStatus::Done | ExecStatus::Error => {
                unexpected(&self.operation, self.interval_ms, rc, self.expected_rc)
            }
            _ => true,
        }
    }

    /// The rc as Pacemaker reads it: "degraded" (190) is success and "degraded promoted"
    /// (191) is running promoted.
    pub fn effective_rc(&self) -> i32 {
        match self.rc {
            190 => 0,
            191 => 8,
            rc => rc,
        }
    }

    /// A probe: a one-shot monitor.
    pub fn is_probe(&self) -> bool {
        self.operation == "monitor" && self.interval_ms == 0
    }
}

/// A resource's history on one node and what it folds to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceHistory {
    /// `lrm_resource` id: the resource (clone instances as `rsc:N` for unique clones).
    pub id: ResourceId,
    /// `class`.
    pub class: Option<String>,
    /// `provider`.
    pub provider: Option<String>,
    /// `type`.
    pub agent: Option<String>,
    /// Operations in document order.
    pub ops: Vec<LrmOp>,
    /// Current state derived from `ops` (see [`fold`]).
    pub state: ResourceState,
    /// Where it came from.
    pub element: ElementId,
}

/// The current state of a resource on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceState {
    /// The role it runs in here (`Started` means running, promotion unknown or n/a).
    pub role: Role,
    /// The latest significant operation failed: the resource needs recovery here.
    pub failed: bool,
    /// A stop failed: the node must be fenced (or the resource blocked).
    pub stop_failed: bool,
    /// Operation in flight (pending in the history).
    pub pending: Option<String>,
    /// Indexes into `ops` of operations whose result was unexpected, by call order.
    pub failed_ops: Vec<usize>,
    /// A `migrate_to` ran here but no stop/`migrate_from` completed it yet.
    pub partial_migration: bool,
    /// The `migrate_to` from here completed on the target (`migrate_from` succeeded there):
    /// the resource runs on the target; Pacemaker still stops it here to clean up.
    pub migrated_away: bool,
}

/// Fold an operation history into the current state, as Pacemaker replays it: operations
/// in `call-id` order (pending ones, with call-id -1, last); start/promote/demote/stop set the
/// role; monitors report it (rc 0 running, 7 stopped, 8 promoted, 9 failed promoted); an
/// unexpected result marks the resource failed until a later start or stop succeeds.
///
/// A failure leaves the resource active and failed where it ran (Pacemaker's `FAILED node`:
/// it will be stopped and recovered), except "not installed"/"not configured" results, which
/// mean it cannot be running there; a failed stop keeps its role with `stop_failed`.
pub fn fold(ops: &[LrmOp]) -> ResourceState {
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| {
        let o = &ops[i];
        let pending = o.status == ExecStatus::Pending || o.call_id < 0;
        (pending, o.call_id)
    });
    let mut st = ResourceState {
        role: Role::Stopped,
        failed: false,
        stop_failed: false,
        pending: None,
        failed_ops: Vec::new(),
        partial_migration: false,
        migrated_away: false,
    };
    for i in order {
        let o = &ops[i];
        let name = o.operation.as_str();
        match o.status {
            ExecStatus::Cancelled => continue,
            ExecStatus::Pending => {
                st.pending = Some(name.to_owned());
                // As Pacemaker: a stop, demote or migration under way leaves the resource
                // active there (a pending stop on an unclean node is implied by its fence,
                // and recovery elsewhere waits for it), even when the in-flight marker
                // replaced the entry that said it ran.
                match name {
                    "start" | "migrate_from" | "stop" | "migrate_to" if !st.role.is_active() => {
                        st.role = Role::Started
                    }
                    "promote" => st.role = Role::Promoted,
                    "demote" if !st.role.is_active() => st.role = Role::Promoted,
                    _ => {}
                }
                continue;
            }
            _ => {}
        }
        let failed = o.failed();
        if failed {
            st.failed_ops.push(i);
        }
        let rc_known = matches!(o.status, ExecStatus::Done | ExecStatus::Error);
        if !failed {
            // A result as expected (or a probe, which only reports).
            match (name, o.effective_rc()) {
                (_, 7) => st.role = Role::Stopped,
                (_, 8) => st.role = Role::Promoted,
                ("start" | "migrate_from", _) => st.role = Role::Started,
                ("promote", _) => st.role = Role::Promoted,
                ("demote", _) => st.role = Role::Unpromoted,
                ("stop", _) => st.role = Role::Stopped,
                ("migrate_to", _) => {
                    st.partial_migration = true;
                    if !st.role.is_active() {
                        st.role = Role::Started;
                    }
                }
                ("monitor", 0) if !st.role.is_active() || st.role == Role::Promoted => {
                    st.role = Role::Started
                }
                _ => {}
            }
            if matches!(
                name,
                "start" | "stop" | "promote" | "demote" | "migrate_from"
            ) {
                st.failed = false;
                st.stop_failed = false;
                st.partial_migration = false;
            }
            if name == "stop" {
                st.pending = None;
            }
            continue;
        }
        // An unexpected result.
        st.failed = true;
        match (name, o.effective_rc()) {
            ("stop", _) => {
                st.stop_failed = true;
                if !st.role.is_active() {
                    st.role = Role::Started;
                }
            }
            (_, 8 | 9) if rc_known => st.role = Role::Promoted,
            // Not installed or not configured: it cannot be running here.
            (_, 5 | 6) => st.role = Role::Stopped,
            _ if o.status == ExecStatus::NotInstalled => st.role = Role::Stopped,
            ("promote" | "demote", _) => st.role = Role::Promoted,
            _ => {
                if !st.role.is_active() {
                    st.role = Role::Started;
                }
            }
        }
    }
    st
}

/// Cross-node part of the fold: a partial migration whose `migrate_from` succeeded on the
/// target afterwards is complete, so the source no longer runs the resource.
pub(crate) fn settle_migrations(status: &mut Status) {
    let mut done = Vec::new();
    for (ni, n) in status.nodes.iter().enumerate() {
        for (ri, r) in n.resources.iter().enumerate() {
            if !r.state.partial_migration {
                continue;
            }
            let Some(to) = r
                .ops
                .iter()
                .filter(|o| o.operation == "migrate_to" && !o.failed())
                .max_by_key(|o| o.call_id)
            else {
                continue;
            };
            let Some((source, target)) = &to.migrate else {
                continue;
            };
            let completed = status
                .node(target)
                .and_then(|t| t.resource(r.id.as_str()))
                .is_some_and(|tr| {
                    tr.state.role.is_active()
                        && tr.ops.iter().any(|o| {
                            o.operation == "migrate_from"
                                && !o.failed()
                                && o.migrate.as_ref() == Some(&(source.clone(), target.clone()))
                        })
                });
            if completed && n.uname.as_str() == source {
                done.push((ni, ri));
            }
        }
    }
    for (ni, ri) in done {
        let st = &mut status.nodes[ni].resources[ri].state;
        st.role = Role::Stopped;
        st.partial_migration = false;
        st.migrated_away = true;
    }
}

pub(crate) fn exec_status(code: i32) -> ExecStatus {
    ExecStatus::from_code(code)
}

/// `rsc#op_interval` as (rsc, (op, interval ms)); a plain `rsc` as (rsc, None).
fn split_op(s: &str) -> (String, Option<(String, u64)>) {
    match s.split_once('#') {
        None => (s.to_owned(), None),
        Some((rsc, rest)) => {
            let op = rest
                .rsplit_once('_')
                .and_then(|(op, i)| Some((op.to_owned(), i.parse().ok()?)));
            (rsc.to_owned(), op)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, call: i64, rc: i32, expected: i32) -> LrmOp {
        LrmOp {
            id: format!("{name}_{call}"),
            operation: name.into(),
            call_id: call,
            rc,
            status: if rc == 0 || rc == 7 || rc == 8 {
                ExecStatus::Done
            } else {
                ExecStatus::Error
            },
            interval_ms: 0,
            expected_rc: expected,
            exit_reason: None,
            last_rc_change: None,
            migrate: None,
            op_digest: None,
            op_restart_digest: None,
            op_force_restart: None,
            op_secure_digest: None,
            exec_time_ms: None,
            on_node: None,
            element: crate::tree::Document::parse("<x/>")
                .0
                .root()
                .unwrap_or_else(|| unreachable!("a one-element document has a root")),
        }
    }

    #[test]
    fn last_operation_by_call_id_decides() {
        let st = fold(&[op("stop", 5, 0, 0), op("start", 3, 0, 0)]);
        assert_eq!(st.role, Role::Stopped);
        let st = fold(&[op("start", 5, 0, 0), op("monitor", 3, 7, 7)]);
        assert_eq!(st.role, Role::Started);
    }

    #[test]
    fn promote_and_failed_monitor() {
        let st = fold(&[op("start", 2, 0, 0), op("promote", 3, 0, 0)]);
        assert_eq!(st.role, Role::Promoted);
        let mut m = op("monitor", 4, 7, 0);
        m.interval_ms = 10_000;
        let st = fold(&[op("start", 2, 0, 0), m]);
        // Pacemaker shows this as "FAILED node": still active there, to be recovered.
        assert_eq!(st.role, Role::Started);
        assert!(st.failed);
        assert_eq!(st.failed_ops, vec![1]);
    }

    #[test]
    fn failed_stop_needs_fencing_and_pending_start_counts_as_started() {
        let st = fold(&[op("start", 2, 0, 0), op("stop", 3, 1, 0)]);
        assert!(st.stop_failed);
        assert_eq!(st.role, Role::Started);
        let mut p = op("start", -1, 0, 0);
        p.status = ExecStatus::Pending;
        let st = fold(&[op("monitor", 1, 7, 7), p]);
        assert_eq!(st.role, Role::Started);
        assert_eq!(st.pending.as_deref(), Some("start"));
    }

    #[test]
    fn a_pending_stop_demote_or_migration_leaves_it_active_and_a_pending_probe_does_not() {
        // The in-flight marker replaced the `_last_0` entry of the start: all that is left.
        let pending = |name: &str| {
            let mut p = op(name, 9, 0, 0);
            p.status = ExecStatus::Pending;
            fold(&[p]).role
        };
        // As crm_simulate: "Stopping n3 (UNCLEAN)", recovery ordered after its fence.
        assert_eq!(pending("stop"), Role::Started);
        assert_eq!(pending("migrate_to"), Role::Started);
        assert_eq!(pending("demote"), Role::Promoted);
        assert_eq!(pending("monitor"), Role::Stopped);
        assert_eq!(pending("notify"), Role::Stopped);
    }
}
