//! Pacemaker-compatible alerts: the `alerts` section of the CIB names agents (`path`) and
//! recipients; on an event each agent runs once per recipient with the `CRM_alert_*`
//! environment Pacemaker's controller gives it. [`AlertEvent`] is what happened; sending it
//! is the runner of this module (being written: issue "The cluster").

/// Which kind of alert (`CRM_alert_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// A node joined or left (`node`).
    Node,
    /// A fence operation ended (`fencing`).
    Fencing,
    /// A resource operation ended (`resource`).
    Resource,
}

/// What happened, as the `CRM_alert_*` variables carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertEvent {
    /// `CRM_alert_kind`.
    pub kind: AlertKind,
    /// `CRM_alert_node`: the node the event is about (the fence target for fencing).
    pub node: String,
    /// `CRM_alert_nodeid`: its Corosync node id.
    pub node_id: String,
    /// `CRM_alert_desc`: the readable description (`member`/`lost` for a node, the fence
    /// result, the operation's result text).
    pub desc: String,
    /// `CRM_alert_rsc`, `CRM_alert_task`, `CRM_alert_interval` (ms): for resource alerts.
    pub rsc: Option<(String, String, u64)>,
    /// `CRM_alert_rc`: the agent's or the fence's rc.
    pub rc: Option<i32>,
    /// `CRM_alert_target_rc`: the expected rc (resource alerts).
    pub target_rc: Option<i32>,
    /// `CRM_alert_status`: Pacemaker's execution status (0 done, 1 cancelled, 2 timed out,
    /// 4 error...).
    pub status: Option<i32>,
    /// When it happened, microseconds since the epoch (`CRM_alert_timestamp*`).
    pub at_us: u64,
}
