//! A node that is up but has not joined yet (pending) cannot run probes, and a start waits
//! for the resource's probes everywhere it has no history.
mod common;

use scheduler::format;

#[test]
fn a_pending_node_without_history_blocks_new_starts() {
    let xml = r#"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="true"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
    <resources>
      <primitive id="fence" class="stonith" type="fence_dummy"/>
      <primitive id="web" class="ocf" provider="heartbeat" type="Dummy"/>
    </resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="1"><lrm_resources>
        <lrm_resource id="fence" class="stonith" type="fence_dummy">
          <lrm_rsc_op id="fence_last_0" operation="monitor" call-id="1" rc-code="7" op-status="0" interval="0" transition-key="1:1:7:x"/>
        </lrm_resource>
        <lrm_resource id="web" class="ocf" provider="heartbeat" type="Dummy">
          <lrm_rsc_op id="web_last_0" operation="monitor" call-id="2" rc-code="7" op-status="0" interval="0" transition-key="2:1:7:x"/>
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
    <node_state id="2" uname="n2" in_ccm="true" crmd="online" join="pending" expected="down"/>
  </status>
</cib>"#;
    let plan = common::plan_of(xml);
    let out = format::actions(&plan);
    assert!(
        out.contains("== blocked\nstart fence on n1\nstart web on n1\n"),
        "{out}"
    );
    assert!(out.contains("web: - (Stopped)"), "{out}");
}
