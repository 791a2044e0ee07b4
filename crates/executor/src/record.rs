//! Writing operation results into the CIB status, as Pacemaker's controller does.
use cib::Document;
use cib::tree::ElementId;

/// One finished operation, as it goes into the status section.
#[derive(Debug, Clone)]
pub struct OpRecord<'a> {
    /// The node's name and id.
    pub node: &'a str,
    /// The node's id (`<node id>`).
    pub node_id: &'a str,
    /// The resource id in the history (anonymous clone instances by their base id).
    pub rsc: &'a str,
    /// `class`, `provider`, `type`.
    pub class: &'a str,
    /// `provider`.
    pub provider: Option<&'a str>,
    /// `type`.
    pub agent: &'a str,
    /// The operation (`start`, `monitor`, ...).
    pub operation: &'a str,
    /// Its interval in ms.
    pub interval_ms: u64,
    /// The agent's rc.
    pub rc: i32,
    /// The rc the cluster expected (7 for a probe that should find nothing, 8 for a promoted
    /// monitor, 0 otherwise).
    pub expected_rc: i32,
    /// The timeout killed it.
    pub timed_out: bool,
    /// A call id larger than any before on this node.
    pub call_id: i64,
    /// Seconds since the epoch.
    pub now: i64,
    /// How long it ran.
    pub exec_ms: u64,
    /// The parameters' digest ([`crate::op_digest`]).
    pub digest: &'a str,
    /// The agent's exit reason.
    pub exit_reason: Option<&'a str>,
    /// `op-force-restart` and `op-restart-digest`, for an agent that can reload.
    pub restart: Option<&'a (String, String)>,
    /// `(source, target)` of a `migrate_to`/`migrate_from`.
    pub migrate: Option<(&'a str, &'a str)>,
    /// Not finished yet: recorded as in flight (`op-status="-1"`) before the agent runs, so
    /// a crash leaves a trace of what was under way.
    pub pending: bool,
}

fn child_where(
    doc: &Document,
    parent: ElementId,
    name: &str,
    attr: &str,
    value: &str,
) -> Option<ElementId> {
    doc.children(parent)
        .find(|&c| doc.get(c).name == name && doc.get(c).attr(attr) == Some(value))
}

fn child_or_append(
    doc: &mut Document,
    parent: ElementId,
    name: &str,
    attrs: &[(&str, &str)],
) -> ElementId {
    match doc.child(parent, name) {
        Some(c) => c,
        None => doc.append(parent, name, attrs),
    }
}

/// The `node_state` of `node` (created, online, when missing).
pub fn node_state(doc: &mut Document, node: &str, node_id: &str) -> Option<ElementId> {
    let root = doc.root()?;
    let status = child_or_append(doc, root, "status", &[]);
    Some(
        match child_where(doc, status, "node_state", "uname", node) {
            Some(s) => s,
            None => doc.append(
                status,
                "node_state",
                &[
                    ("id", node_id),
                    ("uname", node),
                    ("in_ccm", "true"),
                    ("crmd", "online"),
                    ("join", "member"),
                    ("expected", "member"),
                    ("crm-debug-origin", "crm-lite"),
                ],
            ),
        },
    )
}

/// Record that `node` was fenced, as Pacemaker's controller does when the fencer confirms
/// it: the node is down and clean (it was told to be), and its resource history and
/// transient attributes are gone, since nothing can run on a node that was just reset.
pub fn fenced(doc: &mut Document, node: &str, node_id: &str) {
    let Some(state) = node_state(doc, node, node_id) else {
        return;
    };
    for (k, v) in [
        ("in_ccm", "false"),
        ("crmd", "offline"),
        ("join", "down"),
        ("expected", "down"),
        ("crm-debug-origin", "crm-lite-fence"),
    ] {
        doc.get_mut(state).set_attr(k, v);
    }
    for c in doc.children(state).collect::<Vec<_>>() {
        if matches!(doc.get(c).name.as_str(), "lrm" | "transient_attributes") {
            doc.detach(c);
        }
    }
}

/// Forget every resource with an operation that was in flight when crm-lite stopped (a
/// crash): its history goes, so the next plan probes it and learns its real state instead
/// of running the operation twice. Returns the resources forgotten, with their nodes.
pub fn forget_in_flight(doc: &mut Document) -> Vec<(String, String)> {
    let mut gone = Vec::new();
    for e in doc.all().collect::<Vec<_>>() {
        let el = doc.get(e);
        if el.name != "lrm_resource" {
            continue;
        }
        let in_flight = doc
            .children(e)
            .any(|c| doc.get(c).attr("op-status") == Some("-1"));
        if in_flight {
            let rsc = el.attr("id").unwrap_or("").to_owned();
            // lrm_resource < lrm_resources < lrm < node_state
            let mut up = Some(e);
            for _ in 0..3 {
                up = up.and_then(|x| doc.get(x).parent);
            }
            let node = up
                .and_then(|s| doc.get(s).attr("uname"))
                .unwrap_or("")
                .to_owned();
            gone.push((rsc, node));
            doc.detach(e);
        }
    }
    gone
}

/// Whether the result is a failure the cluster must react to.
fn failed(r: &OpRecord<'_>) -> bool {
    r.timed_out || cib::status::unexpected(r.operation, r.interval_ms, r.rc, r.expected_rc)
}

/// Record `r` in `doc`: the resource's `lrm_rsc_op` (replacing the previous one with the same
/// id), a `_last_failure_0` entry and the fail count when it failed. Returns whether it failed.
pub fn record(doc: &mut Document, r: &OpRecord<'_>) -> bool {
    let Some(state) = node_state(doc, r.node, r.node_id) else {
        return false;
    };
    let lrm = child_or_append(doc, state, "lrm", &[("id", r.node_id)]);
    let resources = child_or_append(doc, lrm, "lrm_resources", &[]);
    let mut rattrs: Vec<(&str, &str)> = vec![("id", r.rsc), ("class", r.class), ("type", r.agent)];
    if let Some(p) = r.provider {
        rattrs.push(("provider", p));
    }
    let rsc = match child_where(doc, resources, "lrm_resource", "id", r.rsc) {
        Some(x) => x,
        None => doc.append(resources, "lrm_resource", &rattrs),
    };
    let failed = !r.pending && failed(r);
    let key = format!(
        "{}:0:{}:00000000-0000-0000-0000-000000000000",
        r.call_id, r.expected_rc
    );
    let op_status = if r.pending {
        -1
    } else if r.timed_out {
        2
    } else if failed {
        4
    } else {
        0
    };
    let magic = format!("{op_status}:{};{key}", r.rc);
    // As Pacemaker's controller: a finished reload is recorded as a start (with the new
    // digest) when it succeeded, as a monitor when it failed.
    let operation = match r.operation {
        "reload" | "reload-agent" if !r.pending && failed => "monitor",
        "reload" | "reload-agent" if !r.pending => "start",
        op => op,
    };
    let op_key = format!("{}_{}_{}", r.rsc, operation, r.interval_ms);
    let (call, rc, status, interval, now, exec) = (
        r.call_id.to_string(),
        r.rc.to_string(),
        op_status.to_string(),
        r.interval_ms.to_string(),
        r.now.to_string(),
        r.exec_ms.to_string(),
    );
    let write = |doc: &mut Document, id: &str| {
        if let Some(old) = child_where(doc, rsc, "lrm_rsc_op", "id", id) {
            doc.detach(old);
        }
        doc.append(
            rsc,
            "lrm_rsc_op",
            &[
                ("id", id),
                ("operation_key", &op_key),
                ("operation", operation),
                ("crm-debug-origin", "crm-lite"),
                ("crm_feature_set", "3.16.1"),
                ("transition-key", &key),
                ("transition-magic", &magic),
                ("exit-reason", r.exit_reason.unwrap_or("")),
                ("on_node", r.node),
                ("call-id", &call),
                ("rc-code", &rc),
                ("op-status", &status),
                ("interval", &interval),
                ("last-rc-change", &now),
                ("exec-time", &exec),
                ("queue-time", "0"),
                ("op-digest", r.digest),
            ],
        );
        if let (Some((source, target)), Some(op)) =
            (r.migrate, child_where(doc, rsc, "lrm_rsc_op", "id", id))
        {
            let el = doc.get_mut(op);
            el.set_attr("migrate_source", source);
            el.set_attr("migrate_target", target);
        }
        if let (Some((list, digest)), Some(op)) =
            (r.restart, child_where(doc, rsc, "lrm_rsc_op", "id", id))
        {
            let el = doc.get_mut(op);
            el.set_attr("op-force-restart", list);
            el.set_attr("op-restart-digest", digest);
        }
    };
    if r.interval_ms > 0 {
        write(doc, &op_key);
    } else {
        write(doc, &format!("{}_last_0", r.rsc));
    }
    if r.pending {
        return false;
    }
    if failed {
        write(doc, &format!("{}_last_failure_0", r.rsc));
        if let Some(bump) = fail_count_update(doc, r) {
            bump_fail_count(doc, state, r, bump);
        }
    } else if operation == "stop" {
        // A stopped resource has no recurring monitors left.
        let recurring: Vec<ElementId> = doc
            .children(rsc)
            .filter(|&c| doc.get(c).attr("interval").is_some_and(|i| i != "0"))
            .collect();
        for c in recurring {
            doc.detach(c);
        }
    }
    failed
}

/// The `<instance_attributes>` of a node's transient attributes (created when missing).
fn transient_set(doc: &mut Document, state: ElementId, node_id: &str) -> ElementId {
    let ta = child_or_append(doc, state, "transient_attributes", &[("id", node_id)]);
    let set_id = format!("status-{node_id}");
    child_or_append(doc, ta, "instance_attributes", &[("id", &set_id)])
}

/// The promotion scores the agents last wrote to `dir` (one `master-<rsc>` file per
/// resource, as `ocf::promotion` writes them under crm-lite): attribute name and value,
/// sorted. Files that do not hold a score are ignored; a missing directory holds none.
pub fn read_promotion_scores(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut wanted: Vec<(String, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if !name.starts_with("master-") {
                return None;
            }
            let value = std::fs::read_to_string(e.path()).ok()?;
            let value = value.trim();
            (value.parse::<i64>().is_ok() || matches!(value, "INFINITY" | "-INFINITY"))
                .then(|| (name, value.to_owned()))
        })
        .collect();
    wanted.sort();
    wanted
}

/// Make `node`'s promotion scores (`master-<rsc>` transient attributes) what the agents
/// last wrote to `dir` ([`read_promotion_scores`]), as Pacemaker's attribute manager does
/// with `crm_attribute --promotion`. Returns whether anything changed.
pub fn sync_promotion_scores(
    doc: &mut Document,
    node: &str,
    node_id: &str,
    dir: &std::path::Path,
) -> bool {
    set_promotion_scores(doc, node, node_id, &read_promotion_scores(dir))
}

/// Make `node`'s promotion scores (its `master-*` transient attributes) exactly `wanted`
/// (attribute name and value), leaving its other transient attributes alone. Returns
/// whether anything changed.
pub fn set_promotion_scores(
    doc: &mut Document,
    node: &str,
    node_id: &str,
    wanted: &[(String, String)],
) -> bool {
    let Some(state) = node_state(doc, node, node_id) else {
        return false;
    };
    let has_any = doc
        .children(state)
        .any(|c| doc.get(c).name == "transient_attributes");
    if wanted.is_empty() && !has_any {
        return false;
    }
    let set = transient_set(doc, state, node_id);
    let mut changed = false;
    for c in doc.children(set).collect::<Vec<_>>() {
        let el = doc.get(c);
        let Some(name) = el.attr("name") else {
            continue;
        };
        if name.starts_with("master-") && !wanted.iter().any(|(n, _)| n == name) {
            doc.detach(c);
            changed = true;
        }
    }
    for (name, value) in wanted {
        match child_where(doc, set, "nvpair", "name", name) {
            Some(c) if doc.get(c).attr("value") == Some(value.as_str()) => {}
            Some(c) => {
                doc.get_mut(c).set_attr("value", value);
                changed = true;
            }
            None => {
                let id = format!("status-{node_id}-{name}");
                doc.append(
                    set,
                    "nvpair",
                    &[("id", &id), ("name", name), ("value", value)],
                );
                changed = true;
            }
        }
    }
    changed
}

/// How a failure changes the fail count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bump {
    /// One more.
    Increment,
    /// INFINITY: the resource may not run on this node until the failure expires
    /// (`failure-timeout`) or is cleaned up.
    Infinity,
}

/// What Pacemaker's controller does to the fail count when `r` failed
/// (`update_failcount`): a recurring operation, a promote or a demote counts one more; a
/// start sets it to INFINITY under `start-failure-is-fatal` (the default), else counts one
/// more; a stop always sets it to INFINITY. Other one-shot operations (probes, migrations,
/// reloads) leave it alone: their failure is in the history, and the scheduler reacts to
/// that.
fn fail_count_update(doc: &Document, r: &OpRecord<'_>) -> Option<Bump> {
    if r.interval_ms > 0 || matches!(r.operation, "promote" | "demote") {
        return Some(Bump::Increment);
    }
    match r.operation {
        "start" if start_failure_is_fatal(doc) => Some(Bump::Infinity),
        "start" => Some(Bump::Increment),
        "stop" => Some(Bump::Infinity),
        _ => None,
    }
}

/// The `start-failure-is-fatal` cluster option of the CIB in `doc` (default true).
fn start_failure_is_fatal(doc: &Document) -> bool {
    let Some(config) = doc
        .root()
        .and_then(|root| doc.child(root, "configuration"))
        .and_then(|c| doc.child(c, "crm_config"))
    else {
        return true;
    };
    let value = doc
        .children(config)
        .filter(|&set| doc.get(set).name == "cluster_property_set")
        .flat_map(|set| doc.children(set))
        .filter_map(|p| {
            let el = doc.get(p);
            (el.name == "nvpair" && el.attr("name") == Some("start-failure-is-fatal"))
                .then(|| el.attr("value"))
                .flatten()
        })
        .next();
    // Pacemaker's false spellings (crm_is_true's complement for what verify accepts).
    !value.is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "false" | "off" | "no" | "n" | "0"
        )
    })
}

fn bump_fail_count(doc: &mut Document, state: ElementId, r: &OpRecord<'_>, bump: Bump) {
    let node_id = r.node_id.to_owned();
    let set = transient_set(doc, state, &node_id);
    let suffix = format!("{}#{}_{}", r.rsc, r.operation, r.interval_ms);
    let count_name = format!("fail-count-{suffix}");
    let count = child_where(doc, set, "nvpair", "name", &count_name);
    let current = count
        .and_then(|c| doc.get(c).attr("value"))
        .and_then(|v| match v.trim() {
            "INFINITY" | "+INFINITY" => Some(1_000_000),
            v => v.parse::<i64>().ok(),
        })
        .unwrap_or(0);
    // Score arithmetic: one more than 999,999 is INFINITY, and INFINITY stays.
    let value = match bump {
        Bump::Increment if current < 999_999 => (current + 1).to_string(),
        _ => "INFINITY".to_owned(),
    };
    match count {
        Some(c) => doc.get_mut(c).set_attr("value", &value),
        None => {
            let id = format!("status-{node_id}-{count_name}");
            doc.append(
                set,
                "nvpair",
                &[("id", &id), ("name", &count_name), ("value", &value)],
            );
        }
    }
    let last_name = format!("last-failure-{suffix}");
    let now = r.now.to_string();
    match child_where(doc, set, "nvpair", "name", &last_name) {
        Some(c) => doc.get_mut(c).set_attr("value", &now),
        None => {
            let id = format!("status-{node_id}-{last_name}");
            doc.append(
                set,
                "nvpair",
                &[("id", &id), ("name", &last_name), ("value", &now)],
            );
        }
    }
}

#[cfg(test)]
mod promotion_tests {
    use super::*;

    #[test]
    fn promotion_scores_follow_the_files_the_agents_write() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (mut doc, _) = Document::parse("<cib><configuration/><status/></cib>");
        std::fs::write(t.path().join("master-db"), "1000\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(t.path().join("utilization-vm"), "cpu=1\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(sync_promotion_scores(&mut doc, "n1", "1", t.path()));
        let xml = doc.to_xml();
        assert!(
            xml.contains(r#"<nvpair id="status-1-master-db" name="master-db" value="1000"/>"#),
            "{xml}"
        );
        assert!(!xml.contains("utilization"), "{xml}");
        assert!(
            !sync_promotion_scores(&mut doc, "n1", "1", t.path()),
            "no change"
        );
        std::fs::write(t.path().join("master-db"), "5\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(sync_promotion_scores(&mut doc, "n1", "1", t.path()));
        assert!(doc.to_xml().contains(r#"value="5""#));
        std::fs::remove_file(t.path().join("master-db")).unwrap_or_else(|e| panic!("{e}"));
        assert!(sync_promotion_scores(&mut doc, "n1", "1", t.path()));
        assert!(!doc.to_xml().contains("master-db"));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record of `web` (ocf:heartbeat:Dummy) on n1, for tests.
    pub(crate) fn rec<'a>(operation: &'a str, rc: i32, expected: i32, call: i64) -> OpRecord<'a> {
        OpRecord {
            node: "n1",
            node_id: "1",
            rsc: "web",
            class: "ocf",
            provider: Some("heartbeat"),
            agent: "Dummy",
            operation,
            interval_ms: 0,
            rc,
            expected_rc: expected,
            timed_out: false,
            call_id: call,
            now: 1_700_000_000,
            exec_ms: 12,
            digest: "f2317cad3d54cec5d7d7aa7d0bf35cf8",
            exit_reason: None,
            restart: None,
            migrate: None,
            pending: false,
        }
    }

    const CIB: &str = r#"<cib have-quorum="1" epoch="1" num_updates="0" admin_epoch="0"><configuration><crm_config/><nodes><node id="1" uname="n1"/></nodes><resources><primitive id="web" class="ocf" provider="heartbeat" type="Dummy"/></resources><constraints/></configuration><status/></cib>"#;

    #[test]
    fn a_recorded_start_reads_back_as_running_and_a_failure_as_a_fail_count() {
        let (mut doc, err) = Document::parse(CIB);
        assert!(err.is_none());
        assert!(
            !record(&mut doc, &rec("monitor", 7, 7, 1)),
            "a probe finding nothing is fine"
        );
        assert!(!record(&mut doc, &rec("start", 0, 0, 2)));
        let parsed = cib::parse("cib.xml", &doc.to_xml());
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let n1 = parsed
            .cib
            .status
            .node("n1")
            .unwrap_or_else(|| panic!("node_state n1"));
        assert!(n1.online());
        let web = n1
            .resource("web")
            .unwrap_or_else(|| panic!("history of web"));
        assert_eq!(web.state.role, cib::Role::Started);
        assert!(!web.state.failed);

        // A failed monitor: the resource is failed there and counts one failure.
        let mut m = rec("monitor", 7, 0, 3);
        m.interval_ms = 10_000;
        assert!(record(&mut doc, &m));
        let parsed = cib::parse("cib.xml", &doc.to_xml());
        let n1 = parsed
            .cib
            .status
            .node("n1")
            .unwrap_or_else(|| panic!("node_state n1"));
        assert!(n1.resource("web").is_some_and(|r| r.state.failed));
        assert_eq!(n1.fail_count("web"), cib::Score::new(1));
        assert!(record(&mut doc, &m));
        let parsed = cib::parse("cib.xml", &doc.to_xml());
        let n1 = parsed
            .cib
            .status
            .node("n1")
            .unwrap_or_else(|| panic!("node_state n1"));
        assert_eq!(n1.fail_count("web"), cib::Score::new(2));
    }

    fn fail_count_of(doc: &Document, op: &str) -> Option<String> {
        let xml = doc.to_xml();
        let key = format!("name=\"fail-count-web#{op}\" value=\"");
        let at = xml.find(&key)? + key.len();
        Some(xml[at..].split('"').next()?.to_owned())
    }

    #[test]
    fn a_failed_start_sets_the_fail_count_to_infinity_unless_start_failure_is_not_fatal() {
        let (mut doc, _) = Document::parse(CIB);
        assert!(record(&mut doc, &rec("start", 1, 0, 1)));
        assert_eq!(fail_count_of(&doc, "start_0").as_deref(), Some("INFINITY"));
        let parsed = cib::parse("cib.xml", &doc.to_xml());
        let n1 = parsed.cib.status.node("n1").unwrap_or_else(|| panic!("n1"));
        assert!(n1.fail_count("web").is_infinity());
        // A failed stop too, whatever the option.
        assert!(record(&mut doc, &rec("stop", 1, 0, 2)));
        assert_eq!(fail_count_of(&doc, "stop_0").as_deref(), Some("INFINITY"));

        let lenient = CIB.replace(
            "<crm_config/>",
            r#"<crm_config><cluster_property_set id="o"><nvpair id="o-f" name="start-failure-is-fatal" value="false"/></cluster_property_set></crm_config>"#,
        );
        let (mut doc, _) = Document::parse(&lenient);
        assert!(record(&mut doc, &rec("start", 1, 0, 1)));
        assert!(record(&mut doc, &rec("start", 1, 0, 2)));
        assert_eq!(fail_count_of(&doc, "start_0").as_deref(), Some("2"));
    }

    #[test]
    fn probes_and_migrations_that_fail_leave_the_fail_count_alone() {
        let (mut doc, _) = Document::parse(CIB);
        assert!(
            record(&mut doc, &rec("monitor", 1, 7, 1)),
            "a probe's rc 1 is a failure"
        );
        assert!(record(&mut doc, &rec("migrate_to", 1, 0, 2)));
        assert!(!doc.to_xml().contains("fail-count-"), "{}", doc.to_xml());
        assert!(doc.to_xml().contains("web_last_failure_0"));
        // A recurring monitor counts one at a time, and INFINITY stays INFINITY.
        let mut m = rec("monitor", 7, 0, 3);
        m.interval_ms = 10_000;
        assert!(record(&mut doc, &m));
        assert_eq!(fail_count_of(&doc, "monitor_10000").as_deref(), Some("1"));
        assert!(record(&mut doc, &rec("stop", 1, 0, 4)));
        assert!(record(&mut doc, &rec("stop", 1, 0, 5)));
        assert_eq!(fail_count_of(&doc, "stop_0").as_deref(), Some("INFINITY"));
    }

    #[test]
    fn a_reload_is_recorded_as_a_start_with_the_new_digest() {
        let (mut doc, err) = Document::parse(CIB);
        assert!(err.is_none());
        assert!(!record(&mut doc, &rec("start", 0, 0, 1)));
        let mut reload = rec("reload", 0, 0, 2);
        reload.digest = "ae06a3ac7cfcb6a2ecf8efb773617766";
        assert!(!record(&mut doc, &reload));
        let parsed = cib::parse("cib.xml", &doc.to_xml());
        let web = parsed
            .cib
            .status
            .node("n1")
            .and_then(|n| n.resource("web"))
            .unwrap_or_else(|| panic!("history of web"));
        assert_eq!(web.state.role, cib::Role::Started);
        assert_eq!(web.ops.len(), 1, "{:?}", web.ops);
        assert_eq!(web.ops[0].operation, "start");
        assert_eq!(
            web.ops[0].op_digest.as_deref(),
            Some("ae06a3ac7cfcb6a2ecf8efb773617766")
        );
    }
}
