//! Lowering pins: the typed model built from `fixtures/valid-full-featured.xml`.
use cib::model::{
    BooleanOp, Condition, NoQuorumPolicy, OrderKind, PlacementStrategy, Resource, ResourceDiscovery,
};
use cib::status::Join;
use cib::{Role, Score};

fn full() -> cib::Parsed {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/valid-full-featured.xml"
    );
    let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let parsed = cib::parse("valid-full-featured.xml", &src);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    parsed
}

#[test]
fn cluster_options_accept_both_spellings() {
    let cib = full().cib;
    let o = &cib.options;
    assert!(o.fencing_enabled);
    assert_eq!(o.no_quorum_policy, NoQuorumPolicy::Freeze);
    assert_eq!(o.fencing_timeout_ms, 90_000);
    assert_eq!(o.priority_fencing_delay_ms, 5_000);
    assert_eq!(o.placement_strategy, PlacementStrategy::Balanced);
    assert_eq!(cib.versions.epoch, 1);
}

#[test]
fn nodes_have_attributes_utilization_and_standby() {
    let cib = full().cib;
    let n1 = cib.node("node1").unwrap_or_else(|| panic!("node1"));
    assert!(n1.standby);
    assert_eq!(n1.attributes.get("rack"), Some("a"));
    assert_eq!(n1.utilization.get("cpu"), Some("8"));
    assert!(!cib.node("node2").is_some_and(|n| n.standby));
}

#[test]
fn resources_groups_clones_and_legacy_master() {
    let cib = full().cib;
    let ids: Vec<_> = cib.resources.iter().map(|r| r.id().as_str()).collect();
    assert_eq!(
        ids,
        ["fence1", "from-template", "web", "db-clone", "legacy-ms"]
    );
    let Resource::Primitive(t) = &cib.resources[1] else {
        panic!("primitive")
    };
    assert_eq!((t.class.as_str(), t.agent.as_str()), ("ocf", "Dummy"));
    assert_eq!(t.ops[0].interval_ms, 30_000);
    let Resource::Group(g) = &cib.resources[2] else {
        panic!("group")
    };
    assert_eq!(g.meta.resource_stickiness, Some(Score::new(100)));
    assert_eq!(g.members[0].ops[1].timeout_ms, Some(60_000));
    assert_eq!(g.members[1].meta.failure_timeout_ms, Some(300_000));
    assert_eq!(g.members[1].meta.target_role, Some(Role::Started));
    let Resource::Clone(c) = &cib.resources[3] else {
        panic!("clone")
    };
    assert!(c.promotable && !c.legacy_master);
    assert_eq!(c.meta.promoted_max, Some(1));
    assert_eq!(c.meta.notify, Some(true));
    let Resource::Primitive(db) = c.child.as_ref() else {
        panic!("db")
    };
    assert_eq!(db.ops[0].role, Some(Role::Promoted));
    assert_eq!(db.ops[1].role, Some(Role::Unpromoted));
    let Resource::Clone(m) = &cib.resources[4] else {
        panic!("master")
    };
    assert!(m.promotable && m.legacy_master);
    assert!(cib.has_resource("site") && cib.has_resource("legacy"));
    assert_eq!(cib.rsc_defaults.get("resource-stickiness"), Some("1"));
    assert_eq!(cib.op_defaults.get("timeout"), Some("30s"));
}

#[test]
fn constraints_rules_and_sets() {
    let cib = full().cib;
    assert_eq!(cib.locations[0].score, Some(Score::INFINITY));
    let l = &cib.locations[1];
    assert_eq!(l.role, Some(Role::Promoted));
    assert_eq!(l.resource_discovery, ResourceDiscovery::Exclusive);
    assert_eq!(l.rules[0].boolean_op, BooleanOp::Or);
    assert_eq!(l.rules[0].conditions.len(), 3);
    assert!(matches!(l.rules[0].conditions[2], Condition::Date(_)));
    assert_eq!(cib.colocations[0].with_rsc_role, Some(Role::Promoted));
    assert_eq!(cib.colocations[1].sets[0].role, Some(Role::Unpromoted));
    assert_eq!(cib.orders[0].first_action, "promote");
    assert_eq!(cib.orders[1].kind, OrderKind::Serialize);
    assert!(!cib.orders[1].symmetrical);
    assert!(!cib.orders[1].sets[0].sequential);
    assert!(!cib.orders[1].sets[1].require_all);
    assert_eq!(cib.fencing_levels[0].devices[0].as_str(), "fence1");
    assert_eq!(cib.alerts[0].recipients, ["/var/log/alerts.log"]);
}

#[test]
fn status_folds_history_into_roles() {
    let cib = full().cib;
    let n1 = cib.status.node("node1").unwrap_or_else(|| panic!("node1"));
    assert!(n1.online());
    assert_eq!(
        n1.resource("db").map(|r| r.state.role),
        Some(Role::Promoted)
    );
    let site = n1.resource("site").unwrap_or_else(|| panic!("site"));
    assert_eq!(site.state.role, Role::Started);
    assert!(site.state.failed);
    assert_eq!(
        site.ops[site.state.failed_ops[0]].exit_reason.as_deref(),
        Some("not running")
    );
    let ip = n1.resource("ip").unwrap_or_else(|| panic!("ip"));
    assert_eq!(ip.state.pending.as_deref(), Some("start"));
    assert_eq!(n1.fail_count("site"), Score::new(2));
    assert_eq!(
        n1.fail_counts[0].operation,
        Some(("monitor".to_owned(), 10_000))
    );
    assert_eq!(n1.last_failures[0].timestamp, 1_700_000_000);
    assert_eq!(n1.promotion_scores[0].1, Score::new(10));
    let n2 = cib.status.node("node2").unwrap_or_else(|| panic!("node2"));
    assert!(n2.unclean && !n2.online());
    assert_eq!(n2.join, Join::Down);
}

#[test]
fn the_lean_parse_gives_the_same_model_or_none_on_an_error() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut valid = 0;
    let mut invalid = 0;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .filter(|p| !p.to_string_lossy().ends_with(".metadata.xml"))
        .collect();
    files.sort();
    for path in files {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let full = cib::parse_bytes("f.xml", &bytes);
        match cib::parse_lean("f.xml", bytes) {
            Some(cib) => {
                assert!(
                    !full.has_errors(),
                    "{}: lean parse hid an error",
                    path.display()
                );
                assert_eq!(cib, full.cib, "{}", path.display());
                valid += 1;
            }
            None => {
                assert!(
                    full.has_errors(),
                    "{}: lean parse refused it",
                    path.display()
                );
                invalid += 1;
            }
        }
    }
    assert!(
        valid > 0 && invalid > 0,
        "{valid} valid, {invalid} invalid fixtures"
    );
}

/// Every status element id in `cib` set to `to`: the streamed lean reading drops the
/// operations' elements as it goes, so the ids after the first history differ.
fn without_status_elements(mut cib: cib::Cib, to: cib::tree::ElementId) -> cib::Cib {
    for ns in &mut cib.status.nodes {
        ns.element = to;
        for a in &mut ns.attributes {
            a.element = to;
        }
        for h in &mut ns.resources {
            h.element = to;
            for o in &mut h.ops {
                o.element = to;
            }
        }
    }
    cib
}

/// Every CIB of the test fixtures, the examples and Pacemaker's suite (read from
/// `../shared`), in name order; `None` when the suite is absent and skipping is allowed.
fn corpus() -> Option<Vec<std::path::PathBuf>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let suite = test_support::shared_dir(env!("CARGO_MANIFEST_DIR")).join("pacemaker-suite/xml");
    test_support::require(suite.is_dir(), &format!("{} is absent", suite.display())).ok()?;
    let mut files = Vec::new();
    let mut dirs = vec![
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")),
        std::path::PathBuf::from(root).join("cib-examples"),
        suite,
    ];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap_or_else(|e| panic!("{e}")).path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "xml")
                && !p.to_string_lossy().ends_with(".metadata.xml")
            {
                files.push(p);
            }
        }
    }
    files.sort();
    Some(files)
}

#[test]
fn the_streamed_lean_parse_folds_histories_into_the_same_model() {
    // Test fixtures, the examples and Pacemaker's suite: histories of every kind.
    let Some(files) = corpus() else {
        return;
    };
    let (mut same, mut refused, mut with_history) = (0, 0, 0);
    for path in files {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let full = cib::parse_bytes("f.xml", &bytes);
        match cib::parse_lean_reader("f.xml", &bytes[..]) {
            Some(lean) => {
                assert!(!full.has_errors(), "{}: an error hidden", path.display());
                let Some(to) = full.doc.root() else {
                    panic!("{}: no root", path.display())
                };
                with_history += usize::from(
                    full.cib
                        .status
                        .nodes
                        .iter()
                        .any(|n| n.resources.iter().any(|h| !h.ops.is_empty())),
                );
                assert_eq!(
                    without_status_elements(lean, to),
                    without_status_elements(full.cib, to),
                    "{}",
                    path.display()
                );
                same += 1;
            }
            None => {
                // Refused: the caller reads it again, whole, for the located errors.
                assert!(
                    full.has_errors() || std::str::from_utf8(&bytes).is_err(),
                    "{}: refused a CIB the full reading accepts",
                    path.display()
                );
                refused += 1;
            }
        }
    }
    assert!(
        same > 500 && with_history > 400 && refused > 0,
        "{same} the same ({with_history} with history), {refused} refused"
    );
}

#[test]
fn folded_histories_keep_their_places_beside_ones_read_whole() {
    // An empty <lrm_resource/> (never folded: no end tag) between folded ones, and a
    // second <lrm> in the same node_state: every history where the full reading puts it.
    let op = |rsc: &str, n: u32| {
        format!(
            r#"<lrm_rsc_op id="{rsc}_last_0" operation_key="{rsc}_start_0" operation="start" transition-key="{n}:1:0:x" call-id="{n}" rc-code="0" op-status="0" interval="0"/>"#
        )
    };
    let xml = format!(
        r#"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration><crm_config/><nodes><node id="1" uname="a"/></nodes><resources>
    <primitive id="A" class="ocf" provider="heartbeat" type="Dummy"/>
    <primitive id="B" class="ocf" provider="heartbeat" type="Dummy"/>
    <primitive id="C" class="ocf" provider="heartbeat" type="Dummy"/>
    <primitive id="D" class="ocf" provider="heartbeat" type="Dummy"/>
  </resources><constraints/></configuration>
  <status><node_state id="1" uname="a" in_ccm="true" crmd="online" join="member" expected="member">
    <lrm id="1"><lrm_resources>
      <lrm_resource id="A" class="ocf" provider="heartbeat" type="Dummy">{}</lrm_resource>
      <lrm_resource id="B" class="ocf" provider="heartbeat" type="Dummy"/>
      <lrm_resource id="C" class="ocf" provider="heartbeat" type="Dummy">{}</lrm_resource>
    </lrm_resources></lrm>
    <lrm id="1b"><lrm_resources>
      <lrm_resource id="D" class="ocf" provider="heartbeat" type="Dummy">{}</lrm_resource>
    </lrm_resources></lrm>
  </node_state></status>
</cib>"#,
        op("A", 1),
        op("C", 2),
        op("D", 3)
    );
    let full = cib::parse("f.xml", &xml);
    assert!(!full.has_errors(), "{:?}", full.diagnostics);
    let lean = cib::parse_lean_reader("f.xml", xml.as_bytes()).expect("no error");
    let to = full.doc.root().expect("root");
    let (lean, full) = (
        without_status_elements(lean, to),
        without_status_elements(full.cib, to),
    );
    let ids = |c: &cib::Cib| {
        c.status.nodes[0]
            .resources
            .iter()
            .map(|h| (h.id.as_str().to_owned(), h.ops.len()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&full),
        [("A", 1), ("B", 0), ("C", 1), ("D", 1)].map(|(i, n)| (i.to_owned(), n))
    );
    assert_eq!(lean, full);
}

/// Every place [`cib::part_boundary`] finds in `text`.
fn boundaries(text: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(k) = cib::part_boundary(&text[at..]) {
        out.push(at + k);
        at += k + 1;
    }
    out
}

/// `text` read in parts cut at `cuts`.
fn in_parts(text: &[u8], cuts: &[usize]) -> Result<Option<cib::Cib>, cib::NotSplit> {
    let starts: Vec<usize> = std::iter::once(0).chain(cuts.iter().copied()).collect();
    let ends = starts.iter().skip(1).copied().chain([text.len()]);
    let parts = starts
        .iter()
        .zip(ends)
        .map(|(&s, e)| (s, &text[s..e]))
        .collect();
    cib::parse_lean_parts("f.xml", parts)
}

#[test]
fn a_cib_read_in_parts_is_the_cib_read_in_one() {
    // Cut before each node of the status section in turn, and before the second and the
    // last at once: the same model as one reading, element numbers included.
    let Some(files) = corpus() else {
        return;
    };
    let (mut cut, mut refused, mut none) = (0, 0, 0);
    for path in files {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let whole = cib::parse_lean_reader("f.xml", &bytes[..]);
        let at = boundaries(&bytes);
        let mut ways: Vec<Vec<usize>> = at.iter().skip(1).map(|&k| vec![k]).collect();
        if at.len() > 2 {
            ways.push(vec![at[1], at[at.len() - 1]]);
        }
        for cuts in ways {
            match in_parts(&bytes, &cuts) {
                Ok(parts) => {
                    assert_eq!(parts, whole, "{} cut at {cuts:?}", path.display());
                    cut += 1;
                    none += usize::from(parts.is_none());
                }
                Err(cib::NotSplit) => {
                    assert!(
                        whole.is_none(),
                        "{} cut at {cuts:?}: refused",
                        path.display()
                    );
                    refused += 1;
                }
            }
        }
    }
    // Refused: a cut where the whole reading finds an error (the parts cannot tell it
    // from a cut in a comment), read whole by the caller.
    assert!(
        cut > 1000 && none > 0,
        "{cut} read in parts ({none} with an error), {refused} refused"
    );
}

#[test]
fn a_cut_that_is_not_between_nodes_of_the_status_section_is_refused() {
    let node = |id: u32| {
        format!(
            r#"<node_state id="{id}" uname="n{id}" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="{id}"><lrm_resources><lrm_resource id="A" class="ocf" provider="heartbeat" type="Dummy"><lrm_rsc_op id="A_last_0" operation_key="A_start_0" operation="start" transition-key="{id}:1:0:x" call-id="{id}" rc-code="0" op-status="0" interval="0"/></lrm_resource></lrm_resources></lrm></node_state>"#
        )
    };
    let config = r#"<configuration><crm_config/><nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes><resources><primitive id="A" class="ocf" provider="heartbeat" type="Dummy"/></resources><constraints/></configuration>"#;
    let cib = |status: String, config_first: bool| {
        let (a, b) = if config_first {
            (config.to_owned(), format!("<status>{status}</status>"))
        } else {
            (format!("<status>{status}</status>"), config.to_owned())
        };
        format!(
            r#"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">{a}{b}</cib>"#
        )
    };
    // Between the nodes: read in parts, the same.
    let good = cib(format!("{}{}", node(1), node(2)), true);
    let cuts = boundaries(good.as_bytes());
    assert_eq!(cuts.len(), 2);
    let whole = cib::parse_lean_reader("f.xml", good.as_bytes()).expect("valid");
    assert_eq!(in_parts(good.as_bytes(), &cuts[1..]), Ok(Some(whole)));
    // In a comment, in a CDATA section, in an attribute's value: refused.
    for wrap in [("<!-- ", " -->"), ("<![CDATA[", "]]>")] {
        let text = cib(format!("{}{}{}{}", node(1), wrap.0, node(2), wrap.1), true);
        let cuts = boundaries(text.as_bytes());
        assert!(cib::parse_lean_reader("f.xml", text.as_bytes()).is_some());
        assert_eq!(
            in_parts(text.as_bytes(), &cuts[1..]),
            Err(cib::NotSplit),
            "{text}"
        );
    }
    // The status section before the configuration: the last part holds more than nodes.
    let text = cib(format!("{}{}", node(1), node(2)), false);
    let cuts = boundaries(text.as_bytes());
    assert!(cib::parse_lean_reader("f.xml", text.as_bytes()).is_some());
    assert_eq!(in_parts(text.as_bytes(), &cuts[1..]), Err(cib::NotSplit));
    // A node of the status section inside another element: refused too.
    let text = cib(format!("{}<x>{}</x>", node(1), node(2)), true);
    let cuts = boundaries(text.as_bytes());
    assert_eq!(in_parts(text.as_bytes(), &cuts[1..]), Err(cib::NotSplit));
    // A history with an error after the cut: no model, as read in one.
    let bad = cib(
        format!("{}{}", node(1), node(2).replace(" operation=\"start\"", "")),
        true,
    );
    let cuts = boundaries(bad.as_bytes());
    assert_eq!(cib::parse_lean_reader("f.xml", bad.as_bytes()), None);
    assert_eq!(in_parts(bad.as_bytes(), &cuts[1..]), Ok(None));
}
