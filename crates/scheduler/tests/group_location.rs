//! A location constraint on a group counts once, through its first member: the other
//! members follow that one (the group's internal colocation), as Pacemaker 2.1.5 applies
//! it. Here four members with stickiness 25 each outweigh a preference of 71 for n2, and
//! `crm_simulate` keeps the group on n1 (counted four times, 71 would win).
mod common;

const CIB: &str = r#"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
    <resources>
      <group id="g">
        <meta_attributes id="g-m"><nvpair id="g-st" name="resource-stickiness" value="25"/></meta_attributes>
        <primitive id="m1" class="ocf" provider="pacemaker" type="Dummy"/>
        <primitive id="m2" class="ocf" provider="pacemaker" type="Dummy"/>
        <primitive id="m3" class="ocf" provider="pacemaker" type="Dummy"/>
        <primitive id="m4" class="ocf" provider="pacemaker" type="Dummy"/>
      </group>
    </resources>
    <constraints>
      <rsc_location id="g-prefers-n2" rsc="g" node="n2" score="71"/>
    </constraints>
  </configuration>
  <status>
    <node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="1"><lrm_resources>
        <lrm_resource id="m1" class="ocf" provider="pacemaker" type="Dummy"><lrm_rsc_op id="m1_last_0" operation_key="m1_start_0" operation="start" call-id="1" rc-code="0" op-status="0" interval="0" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x"/></lrm_resource>
        <lrm_resource id="m2" class="ocf" provider="pacemaker" type="Dummy"><lrm_rsc_op id="m2_last_0" operation_key="m2_start_0" operation="start" call-id="2" rc-code="0" op-status="0" interval="0" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x"/></lrm_resource>
        <lrm_resource id="m3" class="ocf" provider="pacemaker" type="Dummy"><lrm_rsc_op id="m3_last_0" operation_key="m3_start_0" operation="start" call-id="3" rc-code="0" op-status="0" interval="0" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x"/></lrm_resource>
        <lrm_resource id="m4" class="ocf" provider="pacemaker" type="Dummy"><lrm_rsc_op id="m4_last_0" operation_key="m4_start_0" operation="start" call-id="4" rc-code="0" op-status="0" interval="0" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x"/></lrm_resource>
      </lrm_resources></lrm>
    </node_state>
    <node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="2"><lrm_resources>
        <lrm_resource id="m1" class="ocf" provider="pacemaker" type="Dummy"><lrm_rsc_op id="m1_last_0" operation_key="m1_monitor_0" operation="monitor" call-id="5" rc-code="7" op-status="0" interval="0" transition-key="1:1:7:x" transition-magic="0:7;1:1:7:x"/></lrm_resource>
        <lrm_resource id="m2" class="ocf" provider="pacemaker" type="Dummy"><lrm_rsc_op id="m2_last_0" operation_key="m2_monitor_0" operation="monitor" call-id="6" rc-code="7" op-status="0" interval="0" transition-key="1:1:7:x" transition-magic="0:7;1:1:7:x"/></lrm_resource>
        <lrm_resource id="m3" class="ocf" provider="pacemaker" type="Dummy"><lrm_rsc_op id="m3_last_0" operation_key="m3_monitor_0" operation="monitor" call-id="7" rc-code="7" op-status="0" interval="0" transition-key="1:1:7:x" transition-magic="0:7;1:1:7:x"/></lrm_resource>
        <lrm_resource id="m4" class="ocf" provider="pacemaker" type="Dummy"><lrm_rsc_op id="m4_last_0" operation_key="m4_monitor_0" operation="monitor" call-id="8" rc-code="7" op-status="0" interval="0" transition-key="1:1:7:x" transition-magic="0:7;1:1:7:x"/></lrm_resource>
      </lrm_resources></lrm>
    </node_state>
  </status>
</cib>"#;

#[test]
fn a_group_location_counts_once_and_stickiness_keeps_the_group() {
    let plan = common::plan_of(CIB);
    for m in ["m1", "m2", "m3", "m4"] {
        let p = plan
            .placement
            .iter()
            .find(|p| p.rsc == m)
            .unwrap_or_else(|| panic!("no placement for {m}"));
        assert_eq!(p.nodes, ["n1"], "{m}: {:?}", plan.actions);
    }
}
