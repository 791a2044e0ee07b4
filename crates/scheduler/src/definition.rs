//! Whether a resource's definition changed since it started on a node, decided from the
//! operation digests in its history as Pacemaker 2.1.5 decides it
//! (`pcmk__check_action_config`, `rsc_action_digest_cmp`).
//!
//! Only the history since the last start counts (a `start` or `migrate_from`; without one,
//! the last promote/demote, else the last probe or monitor that found it running), and
//! nothing when a stop came later. Of that history, the one-shot operations that leave the
//! resource running (`start`, `migrate_from`, `promote`, probes) are compared with the
//! digest of the parameters configured now:
//! - the restart digest (`op-restart-digest`, over the `op-force-restart` parameters)
//!   differs: restart;
//! - else the full digest (`op-digest`) differs or is missing: reload when the operation
//!   has a restart digest (the agent can reload), otherwise restart.
//!
//! Recurring monitors are only re-issued by Pacemaker when their digest changes, which the
//! plan does not show; they are not compared here.
use cib::digest::{op_digest, restart_digest};
use cib::status::{ExecStatus, LrmOp};

/// What a changed definition requires on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Change {
    /// The agent reloads the new parameters in place.
    Reload,
    /// Stop and start again.
    Restart,
}

/// The change `ops` (a resource's history on one node) call for, given the parameters the
/// resource has there now (`params`, as [`crate::instance_params`] gives them) and those a
/// configured one-shot operation adds (`extra`, by operation name). A one-shot operation
/// with parameters of its own always restarts when its digest changed (a reload would not
/// pass them).
pub(crate) fn change(
    ops: &[LrmOp],
    params: &[(String, String)],
    extra: impl Fn(&str) -> Vec<(String, String)>,
) -> Option<Change> {
    let mut order: Vec<&LrmOp> = ops.iter().collect();
    order.sort_by_key(|o| (o.call_id < 0, o.call_id));
    let (mut start, mut stop) = (None, None);
    let (mut implied_by_role, mut implied_by_monitor) = (None, None);
    for (k, o) in order.iter().enumerate() {
        match o.operation.as_str() {
            "stop" if o.status == ExecStatus::Done => stop = Some(k),
            "start" | "migrate_from" => start = Some(k),
            "monitor" if implied_by_monitor <= stop && matches!(o.rc, 0 | 8) => {
                implied_by_monitor = Some(k)
            }
            "promote" | "demote" => implied_by_role = Some(k),
            _ => {}
        }
    }
    let start = start.or(implied_by_role).or(implied_by_monitor);
    if start < stop {
        return None;
    }
    let mut verdict: Option<Change> = None;
    for o in order.iter().skip(start.unwrap_or(0)) {
        if o.interval_ms > 0
            || !matches!(
                o.operation.as_str(),
                "monitor" | "start" | "promote" | "migrate_from"
            )
        {
            continue;
        }
        let own = extra(&o.operation);
        let mut params = params.to_vec();
        params.extend(own.iter().cloned());
        // Without `op-force-restart`, the restart digest covers every parameter.
        let restart_changed = match (&o.op_restart_digest, &o.op_force_restart) {
            (Some(recorded), Some(list)) => *recorded != restart_digest(&params, list),
            (Some(recorded), None) => *recorded != op_digest(&params),
            (None, _) => false,
        };
        let this = if restart_changed {
            Some(Change::Restart)
        } else if o.op_digest.as_deref() == Some(op_digest(&params).as_str()) {
            None
        } else if o.op_restart_digest.is_some() && own.is_empty() {
            Some(Change::Reload)
        } else {
            Some(Change::Restart)
        };
        verdict = verdict.max(this);
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, call: i64, digest: Option<&str>) -> LrmOp {
        LrmOp {
            id: format!("r_{name}_{call}"),
            operation: name.into(),
            call_id: call,
            rc: 0,
            status: ExecStatus::Done,
            interval_ms: 0,
            expected_rc: 0,
            exit_reason: None,
            last_rc_change: None,
            migrate: None,
            op_digest: digest.map(str::to_owned),
            op_restart_digest: None,
            op_force_restart: None,
            op_secure_digest: None,
            exec_time_ms: None,
            on_node: None,
            element: cib::Document::parse("<x/>")
                .0
                .root()
                .unwrap_or_else(|| unreachable!("a one-element document has a root")),
        }
    }

    fn change_(ops: &[LrmOp], params: &[(String, String)]) -> Option<Change> {
        change(ops, params, |_| Vec::new())
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    // MD5 of ` <parameters cidr_netmask="24" ip="192.0.2.10"/>\n` and of the `ip` part
    // alone, from an independent MD5.
    const ALL: &str = "ae06a3ac7cfcb6a2ecf8efb773617766";
    const IP_ONLY: &str = "00b33024faa29667a75591f76303da03";

    fn ip() -> Vec<(String, String)> {
        params(&[("ip", "192.0.2.10"), ("cidr_netmask", "24")])
    }

    #[test]
    fn unchanged_parameters_change_nothing() {
        assert_eq!(change_(&[op("start", 3, Some(ALL))], &ip()), None);
    }

    #[test]
    fn changed_parameters_of_an_agent_without_reload_restart() {
        let now = params(&[("ip", "192.0.2.10"), ("cidr_netmask", "25")]);
        assert_eq!(
            change_(&[op("start", 3, Some(ALL))], &now),
            Some(Change::Restart)
        );
    }

    #[test]
    fn a_missing_digest_restarts() {
        assert_eq!(
            change_(&[op("start", 3, None)], &ip()),
            Some(Change::Restart)
        );
    }

    #[test]
    fn only_reloadable_parameters_changed_reload() {
        let mut start = op("start", 3, Some(ALL));
        start.op_restart_digest = Some(IP_ONLY.into());
        start.op_force_restart = Some(" ip ".into());
        let now = params(&[("ip", "192.0.2.10"), ("cidr_netmask", "25")]);
        assert_eq!(change_(&[start.clone()], &now), Some(Change::Reload));
        let moved = params(&[("ip", "192.0.2.11"), ("cidr_netmask", "24")]);
        assert_eq!(change_(&[start], &moved), Some(Change::Restart));
    }

    #[test]
    fn history_before_the_last_start_or_after_a_stop_is_ignored() {
        let old = op("start", 3, Some("0123456789abcdef0123456789abcdef"));
        let new = op("start", 5, Some(ALL));
        assert_eq!(
            change_(&[old.clone(), op("stop", 4, None), new], &ip()),
            None
        );
        assert_eq!(change_(&[old, op("stop", 4, None)], &ip()), None);
    }

    #[test]
    fn a_start_with_its_own_parameters_restarts_rather_than_reloads() {
        let mut start = op("start", 3, Some(ALL));
        start.op_restart_digest = Some(IP_ONLY.into());
        start.op_force_restart = Some(" ip ".into());
        let trace = |name: &str| {
            if name == "start" {
                params(&[("trace_ra", "1")])
            } else {
                Vec::new()
            }
        };
        assert_eq!(change(&[start], &ip(), trace), Some(Change::Restart));
    }

    #[test]
    fn recurring_monitors_never_restart() {
        let mut mon = op("monitor", 4, Some("0123456789abcdef0123456789abcdef"));
        mon.interval_ms = 10_000;
        assert_eq!(change_(&[op("start", 3, Some(ALL)), mon], &ip()), None);
    }
}
