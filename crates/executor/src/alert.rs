//! Pacemaker-compatible alerts: the `alerts` section of the CIB names agents (`path`) and
//! recipients; on an event each agent runs once per recipient with the `CRM_alert_*`
//! environment Pacemaker's controller gives it. [`AlertEvent`] is what happened; [`send`]
//! runs the agents that want it and says how each ended ([`Sent`]).
//!
//! What matches Pacemaker (its `lib/common/alerts.c`, `lib/lrmd/lrmd_alerts.c` and the
//! executor's alert runner):
//! - one run per `<recipient>` (`CRM_alert_recipient`), or one run with an empty recipient
//!   when the alert has none;
//! - the variables of each kind: `node`: node, nodeid, desc; `fencing`: node, task, desc,
//!   rc; `resource`: node, rsc, task, interval, target_rc, status, rc, exec_time, desc;
//!   `attribute`: node, nodeid, attribute_name, attribute_value; and for every kind
//!   `CRM_alert_kind`, `_version`, `_recipient`, `_node_sequence` (one counter for every
//!   alert this process runs), `_timestamp` (the `timestamp-format` meta, default
//!   `%H:%M:%S.%06N`, where `%<width>N` is the fraction of the second in `width` digits),
//!   `_timestamp_epoch` and `_timestamp_usec`;
//! - the alert's `instance_attributes` as environment variables, after the `CRM_alert_*`
//!   ones, over the environment of the calling process (Pacemaker's executor passes its own);
//! - the `timeout` meta (default 30s; an invalid or zero one falls back to it), enforced
//!   by [`crate::process`], which kills the agent's process group at the deadline;
//! - `enabled` false (any value Pacemaker does not read as true) skips the alert;
//! - `<select>`: with `select_nodes`, `select_fencing`, `select_resources` or
//!   `select_attributes` the alert gets only those kinds; without, it gets node, fencing
//!   and resource events but no attribute events (Pacemaker's default); `<attribute
//!   name>`s under `select_attributes` narrow attribute events to those names;
//! - a probe (`monitor` with interval 0) that found the expected result is not alerted.
//!
//! Differences: `CRM_alert_version` is crm-lite's version (agents test only that it is
//! set); the timestamp is the event's time rather than the moment of sending; recipients'
//! own `meta_attributes`/`instance_attributes` are not modelled by the CIB crate (the
//! alert's own apply to every recipient); agents run as the caller, not as `hacluster`.
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cib::model::Alert;

use crate::process::{self, Spawn};

/// Pacemaker's default alert timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Pacemaker's default `timestamp-format`.
pub const DEFAULT_TIMESTAMP_FORMAT: &str = "%H:%M:%S.%06N";
/// What `CRM_alert_version` says.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Which kind of alert (`CRM_alert_kind`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AlertKind {
    /// A node joined or left (`node`).
    #[default]
    Node,
    /// A fence operation ended (`fencing`).
    Fencing,
    /// A resource operation ended (`resource`).
    Resource,
    /// A node attribute changed (`attribute`).
    Attribute,
}

impl AlertKind {
    /// The `CRM_alert_kind` text.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Node => "node",
            AlertKind::Fencing => "fencing",
            AlertKind::Resource => "resource",
            AlertKind::Attribute => "attribute",
        }
    }

    /// The `<select>` child that asks for this kind.
    fn select_element(self) -> &'static str {
        match self {
            AlertKind::Node => "select_nodes",
            AlertKind::Fencing => "select_fencing",
            AlertKind::Resource => "select_resources",
            AlertKind::Attribute => "select_attributes",
        }
    }
}

/// What happened, as the `CRM_alert_*` variables carry it. The constructors fill in what
/// each kind carries; `..Default::default()` completes a literal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertEvent {
    /// `CRM_alert_kind`.
    pub kind: AlertKind,
    /// `CRM_alert_node`: the node the event is about (the fence target for fencing).
    pub node: String,
    /// `CRM_alert_nodeid`: its Corosync node id (node and attribute alerts).
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
    /// `CRM_alert_exec_time`: how long the operation ran, in ms (resource alerts).
    pub exec_time_ms: Option<u64>,
    /// `CRM_alert_task` of a fencing alert: the fence action (`reboot`, `off`, `on`).
    pub fence_task: Option<String>,
    /// `CRM_alert_attribute_name` and `_value` (attribute alerts).
    pub attribute: Option<(String, String)>,
}

impl AlertEvent {
    /// A node joined (`desc` `member`) or left (`lost`).
    pub fn node(node: &str, node_id: &str, desc: &str, at_us: u64) -> AlertEvent {
        AlertEvent {
            kind: AlertKind::Node,
            node: node.to_owned(),
            node_id: node_id.to_owned(),
            desc: desc.to_owned(),
            at_us,
            ..AlertEvent::default()
        }
    }

    /// A fence action against `target` ended with `rc` (0: done); `desc` is the readable
    /// result (Pacemaker's "Operation reboot of node2 by node1 for ...: OK").
    pub fn fencing(target: &str, task: &str, desc: &str, rc: i32, at_us: u64) -> AlertEvent {
        AlertEvent {
            kind: AlertKind::Fencing,
            node: target.to_owned(),
            desc: desc.to_owned(),
            rc: Some(rc),
            fence_task: Some(task.to_owned()),
            at_us,
            ..AlertEvent::default()
        }
    }

    /// A resource operation ended; the description is Pacemaker's: the result's text
    /// when the operation completed (`status` 0), the execution status's otherwise.
    #[allow(clippy::too_many_arguments)]
    pub fn resource(
        node: &str,
        rsc: &str,
        task: &str,
        interval_ms: u64,
        rc: i32,
        target_rc: i32,
        status: i32,
        exec_time_ms: u64,
        at_us: u64,
    ) -> AlertEvent {
        let desc = if status == 0 {
            ocf_exit_text(rc)
        } else {
            exec_status_text(status)
        };
        AlertEvent {
            kind: AlertKind::Resource,
            node: node.to_owned(),
            desc: desc.to_owned(),
            rsc: Some((rsc.to_owned(), task.to_owned(), interval_ms)),
            rc: Some(rc),
            target_rc: Some(target_rc),
            status: Some(status),
            exec_time_ms: Some(exec_time_ms),
            at_us,
            ..AlertEvent::default()
        }
    }

    /// A node attribute changed.
    pub fn attribute(node: &str, node_id: &str, name: &str, value: &str, at_us: u64) -> AlertEvent {
        AlertEvent {
            kind: AlertKind::Attribute,
            node: node.to_owned(),
            node_id: node_id.to_owned(),
            attribute: Some((name.to_owned(), value.to_owned())),
            at_us,
            ..AlertEvent::default()
        }
    }

    /// A probe that found what was expected: Pacemaker sends no alert for it.
    fn is_expected_probe(&self) -> bool {
        matches!(&self.rsc, Some((_, task, 0)) if task == "monitor")
            && self.rc.is_some()
            && self.rc == self.target_rc
    }

    /// The event's own variables (without the per-alert ones), in Pacemaker's order.
    fn variables(&self) -> Vec<(&'static str, String)> {
        let mut v: Vec<(&'static str, String)> = vec![("CRM_alert_node", self.node.clone())];
        match self.kind {
            AlertKind::Node => {
                v.push(("CRM_alert_desc", self.desc.clone()));
                v.push(("CRM_alert_nodeid", self.node_id.clone()));
            }
            AlertKind::Fencing => {
                v.push((
                    "CRM_alert_task",
                    self.fence_task.clone().unwrap_or_default(),
                ));
                v.push(("CRM_alert_desc", self.desc.clone()));
                v.push(("CRM_alert_rc", self.rc.unwrap_or(0).to_string()));
            }
            AlertKind::Resource => {
                let (rsc, task, interval) = self.rsc.clone().unwrap_or_default();
                v.push(("CRM_alert_rsc", rsc));
                v.push(("CRM_alert_task", task));
                v.push(("CRM_alert_interval", interval.to_string()));
                v.push((
                    "CRM_alert_target_rc",
                    self.target_rc.unwrap_or(0).to_string(),
                ));
                v.push(("CRM_alert_status", self.status.unwrap_or(0).to_string()));
                v.push(("CRM_alert_rc", self.rc.unwrap_or(0).to_string()));
                v.push((
                    "CRM_alert_exec_time",
                    self.exec_time_ms.unwrap_or(0).to_string(),
                ));
                v.push(("CRM_alert_desc", self.desc.clone()));
            }
            AlertKind::Attribute => {
                let (name, value) = self.attribute.clone().unwrap_or_default();
                v.push(("CRM_alert_nodeid", self.node_id.clone()));
                v.push(("CRM_alert_attribute_name", name));
                v.push(("CRM_alert_attribute_value", value));
            }
        }
        v
    }
}

/// Pacemaker's text for an OCF result (`services_ocf_exitcode_str`).
pub fn ocf_exit_text(rc: i32) -> &'static str {
    match rc {
        0 => "ok",
        1 => "error",
        2 => "invalid parameter",
        3 => "unimplemented feature",
        4 => "insufficient privileges",
        5 => "not installed",
        6 => "not configured",
        7 => "not running",
        8 => "promoted",
        9 => "promoted (failed)",
        190 => "OCF_DEGRADED",
        191 => "promoted (degraded)",
        _ => "unknown",
    }
}

/// Pacemaker's text for an execution status (`pcmk_exec_status_str`).
pub fn exec_status_text(status: i32) -> &'static str {
    match status {
        -1 => "Pending",
        0 => "Done",
        1 => "Cancelled",
        2 => "Timed out",
        3 => "Unsupported",
        4 => "Error",
        5 => "Hard error",
        6 => "Fatal error",
        7 => "Not installed",
        8 => "Internal communication failure",
        9 => "Cannot execute now",
        10 => "No fence device",
        11 => "CIB secrets unavailable",
        _ => "Unrecognized status (bug?)",
    }
}

/// How one run of an alert agent ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The alert's id.
    pub alert: String,
    /// The recipient (`None` when the alert has none).
    pub recipient: Option<String>,
    /// The agent's exit code, when it exited.
    pub rc: Option<i32>,
    /// Why it did not run or did not exit (not found, timed out, killed by a signal).
    pub error: Option<String>,
}

/// One run of an alert agent, as [`send`] would start it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The alert's id.
    pub alert: String,
    /// The recipient (`None` when the alert has none).
    pub recipient: Option<String>,
    /// The agent.
    pub path: PathBuf,
    /// Its `timeout` meta.
    pub timeout: Duration,
    /// The variables this alert adds to the base environment, in the order they are set
    /// (a later one replaces an earlier one of the same name).
    pub env: Vec<(String, String)>,
}

/// Pacemaker's notion of a true value.
fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on" | "y"
    )
}

/// Whether `alert` wants `event` (its `enabled` meta and `<select>`).
pub fn wants(alert: &Alert, event: &AlertEvent) -> bool {
    if alert.meta.get("enabled").is_some_and(|v| !is_true(v)) {
        return false;
    }
    let known = [
        "select_nodes",
        "select_fencing",
        "select_resources",
        "select_attributes",
    ];
    let selects: Vec<&str> = alert
        .select
        .iter()
        .map(String::as_str)
        .filter(|s| known.contains(s))
        .collect();
    let kind_wanted = if selects.is_empty() {
        event.kind != AlertKind::Attribute
    } else {
        selects.contains(&event.kind.select_element())
    };
    if !kind_wanted {
        return false;
    }
    if event.kind == AlertKind::Attribute && !alert.select_attributes.is_empty() {
        let name = event.attribute.as_ref().map(|(n, _)| n.as_str());
        return name.is_some_and(|n| alert.select_attributes.iter().any(|a| a == n));
    }
    true
}

/// The alert's `timeout` meta, as Pacemaker reads it.
pub fn timeout(alert: &Alert) -> Duration {
    match alert.meta.get("timeout").and_then(cib::duration::parse_ms) {
        Some(ms) if ms > 0 => Duration::from_millis(ms.min(i32::MAX as u64)),
        _ => DEFAULT_TIMEOUT,
    }
}

/// Format `at_us` (microseconds since the epoch, shown in local time) with a
/// `timestamp-format`: `strftime` conversions, plus `%<width>N` for the fraction of the
/// second in `width` digits (at most 6, truncated; `%N` without a width prints nothing, as
/// in Pacemaker).
pub fn format_timestamp(format: &str, at_us: u64) -> String {
    let secs = (at_us / 1_000_000) as libc::time_t;
    let usec = (at_us % 1_000_000) as u32;
    let mut tm: libc::tm = unsafe_zeroed_tm();
    // SAFETY: both pointers are valid for the call; localtime_r is thread-safe.
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if !ok {
        return String::new();
    }
    let mut out = String::new();
    let mut plain = String::new();
    let bytes = format.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b'N' {
                out.push_str(&strftime(&plain, &tm));
                plain.clear();
                let width: usize = format[i + 1..j].parse().unwrap_or(0).min(6);
                if width > 0 {
                    let v = usec / 10u32.pow(6 - width as u32);
                    out.push_str(&format!("{v:0width$}"));
                }
                i = j + 1;
                continue;
            }
            // Any other conversion goes to strftime whole (with its flags and width).
            let end = format[j..].chars().next().map_or(j, |c| j + c.len_utf8());
            plain.push_str(&format[i..end]);
            i = end;
            continue;
        }
        let ch = format[i..].chars().next().unwrap_or(' ');
        plain.push(ch);
        i += ch.len_utf8();
    }
    out.push_str(&strftime(&plain, &tm));
    out
}

fn unsafe_zeroed_tm() -> libc::tm {
    // SAFETY: libc::tm is plain data; all zeroes is a valid value (tm_zone a null pointer).
    unsafe { std::mem::zeroed() }
}

fn strftime(fmt: &str, tm: &libc::tm) -> String {
    if fmt.is_empty() {
        return String::new();
    }
    let Ok(cfmt) = std::ffi::CString::new(fmt) else {
        return String::new();
    };
    let mut buf = vec![0u8; 256 + fmt.len() * 16];
    // SAFETY: buf is writable for its length, cfmt is NUL-terminated, tm is valid.
    let n = unsafe {
        libc::strftime(
            buf.as_mut_ptr().cast::<libc::c_char>(),
            buf.len(),
            cfmt.as_ptr(),
            tm,
        )
    };
    buf.truncate(n);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Every run `event` asks of `alerts`, in configuration order (recipients in order),
/// with the node sequence numbers `first_sequence`, `first_sequence + 1`, ... Pure: the
/// runner of [`send`] and the tests share it.
pub fn invocations(alerts: &[Alert], event: &AlertEvent, first_sequence: u64) -> Vec<Invocation> {
    if event.kind == AlertKind::Resource && event.is_expected_probe() {
        return Vec::new();
    }
    let mut common: Vec<(String, String)> = event
        .variables()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    common.push(("CRM_alert_kind".into(), event.kind.as_str().into()));
    common.push(("CRM_alert_version".into(), VERSION.into()));
    let mut seq = first_sequence;
    let mut out = Vec::new();
    for alert in alerts.iter().filter(|a| wants(a, event)) {
        let format = alert
            .meta
            .get("timestamp-format")
            .unwrap_or(DEFAULT_TIMESTAMP_FORMAT);
        let params: Vec<(String, String)> = {
            let mut seen: Vec<(String, String)> = Vec::new();
            for p in alert
                .params
                .sets
                .iter()
                .filter(|s| s.rule.is_none())
                .flat_map(|s| s.pairs.iter())
            {
                if !seen.iter().any(|(n, _)| *n == p.name) {
                    seen.push((p.name.clone(), p.value.clone().unwrap_or_default()));
                }
            }
            seen
        };
        let recipients: Vec<Option<&String>> = if alert.recipients.is_empty() {
            vec![None]
        } else {
            alert.recipients.iter().map(Some).collect()
        };
        for r in recipients {
            let mut env = common.clone();
            env.push(("CRM_alert_recipient".into(), r.cloned().unwrap_or_default()));
            env.push((
                "CRM_alert_timestamp".into(),
                format_timestamp(format, event.at_us),
            ));
            env.push((
                "CRM_alert_timestamp_epoch".into(),
                (event.at_us / 1_000_000).to_string(),
            ));
            env.push((
                "CRM_alert_timestamp_usec".into(),
                format!("{:06}", event.at_us % 1_000_000),
            ));
            env.push(("CRM_alert_node_sequence".into(), seq.to_string()));
            seq += 1;
            env.extend(params.iter().cloned());
            out.push(Invocation {
                alert: alert.id.clone(),
                recipient: r.cloned(),
                path: PathBuf::from(&alert.path),
                timeout: timeout(alert),
                env,
            });
        }
    }
    out
}

/// The node sequence: one counter for every alert this process sends, as Pacemaker's
/// executor keeps one.
static SEQUENCE: AtomicU64 = AtomicU64::new(1);

/// Run every alert agent that wants `event`, once per recipient (once with an empty
/// `CRM_alert_recipient` when the alert has none), all at once, each within its `timeout`
/// meta; return how each run ended, in configuration order. Blocks until the last one
/// has ended (or been killed at its deadline).
pub fn send(alerts: &[Alert], event: &AlertEvent) -> Vec<Sent> {
    let count = invocations(alerts, event, 0).len() as u64;
    if count == 0 {
        return Vec::new();
    }
    let first = SEQUENCE.fetch_add(count, Ordering::Relaxed);
    let runs = invocations(alerts, event, first);
    let base: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter()
            .map(|inv| s.spawn(|| run_one(inv, &base)))
            .collect();
        handles
            .into_iter()
            .zip(&runs)
            .map(|(h, inv)| {
                h.join().unwrap_or_else(|_| Sent {
                    alert: inv.alert.clone(),
                    recipient: inv.recipient.clone(),
                    rc: None,
                    error: Some("the alert runner thread panicked".into()),
                })
            })
            .collect()
    })
}

/// The whole environment of one run: `base` with the invocation's variables set over it.
pub fn environment(inv: &Invocation, base: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = base
        .iter()
        .filter(|(k, _)| !inv.env.iter().any(|(n, _)| k == n.as_str()))
        .cloned()
        .collect();
    for (k, v) in &inv.env {
        match env.iter_mut().find(|(n, _)| n == k.as_str()) {
            Some(slot) => slot.1 = v.into(),
            None => env.push((k.into(), v.into())),
        }
    }
    env
}

fn run_one(inv: &Invocation, base: &[(OsString, OsString)]) -> Sent {
    let spec = Spawn {
        program: inv.path.clone(),
        args: Vec::new(),
        env: environment(inv, base),
        stdin: None,
        capture_stdout: false,
        timeout: inv.timeout,
        output_limit: 4096,
    };
    tracing::info!(alert = %inv.alert, recipient = ?inv.recipient, "sending alert");
    let mut sent = Sent {
        alert: inv.alert.clone(),
        recipient: inv.recipient.clone(),
        rc: None,
        error: None,
    };
    match process::run(&spec) {
        Err(e) => {
            sent.error = Some(format!(
                "could not run alert agent {}: {e}",
                inv.path.display()
            ));
        }
        Ok(f) => {
            sent.rc = f.code;
            if f.timed_out {
                sent.error = Some(format!(
                    "alert agent {} timed out after {}ms",
                    inv.path.display(),
                    inv.timeout.as_millis()
                ));
            } else if let Some(sig) = f.signal {
                sent.error = Some(format!(
                    "alert agent {} was killed by signal {sig}",
                    inv.path.display()
                ));
            }
            match (&sent.error, f.code) {
                (Some(e), _) => tracing::warn!(alert = %inv.alert, error = %e, "alert failed"),
                (None, Some(c)) if c != 0 => {
                    tracing::warn!(alert = %inv.alert, rc = c, "alert agent exited non-zero")
                }
                _ => {}
            }
        }
    }
    sent
}

#[cfg(test)]
mod tests;
