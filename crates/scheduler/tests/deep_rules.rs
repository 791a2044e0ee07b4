//! Rules nested as deeply as the CIB reader allows (`cib::tree::MAX_DEPTH`) are lowered and
//! evaluated on a test thread's small stack: the recursive rule walks stay far from its
//! end. (Deeper input never reaches the scheduler: the reader refuses it.)
mod common;

/// A location preferring n2 by 50 through a rule nested `depth` levels deep; the
/// innermost expression matches n2 only.
fn cib(depth: usize) -> String {
    let open: String = (1..depth)
        .map(|i| format!(r#"<rule id="r{i}" boolean-op="and">"#))
        .collect();
    format!(
        r##"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
    <resources><primitive id="d" class="ocf" provider="pacemaker" type="Dummy"/></resources>
    <constraints><rsc_location id="l" rsc="d"><rule id="r0" score="50">{open}<expression id="x" attribute="#uname" operation="eq" value="n2"/>{close}</rule></rsc_location></constraints>
  </configuration>
  <status>
    <node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member"/>
    <node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>"##,
        close = "</rule>".repeat(depth - 1)
    )
}

#[test]
fn a_rule_nested_to_the_readers_limit_is_evaluated() {
    // cib, configuration, constraints, rsc_location and the expression take 5 levels.
    let depth = cib::tree::MAX_DEPTH - 5;
    let xml = cib(depth);
    let (_, err) = cib::Document::parse(&xml);
    assert_eq!(err, None, "the CIB is within the limit");
    let plan = common::plan_of(&xml);
    let d = plan
        .placement
        .iter()
        .find(|p| p.rsc == "d")
        .unwrap_or_else(|| panic!("no placement for d"));
    assert_eq!(d.nodes, ["n2"], "{:?}", plan.actions);
    // One level more and the reader refuses it.
    let (_, err) = cib::Document::parse(&cib(depth + 1));
    assert!(err.is_some());
}
