//! Whose `interleave` decides how an order between two clones relates their instances:
//! the then clone's, unless the then action is a stop or a demote (then the first's), as
//! Pacemaker's `can_interleave_actions` decides. Here the database clone is interleaved but
//! the API clone ordered after its promotion is not: every API instance waits for the one
//! promotion, wherever it is, and nothing stops where the database is only a replica
//! (`crm_simulate` plans nothing on this CIB).
mod common;

use scheduler::format;

const CIB: &str = r#"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
    <resources>
      <clone id="db-clone"><meta_attributes id="db-m"><nvpair id="db-m-p" name="promotable" value="true"/><nvpair id="db-m-i" name="interleave" value="true"/></meta_attributes>
        <primitive id="db" class="ocf" provider="pacemaker" type="Stateful"/></clone>
      <clone id="api-clone"><meta_attributes id="api-m"><nvpair id="api-m-i" name="interleave" value="false"/></meta_attributes>
        <primitive id="api" class="ocf" provider="heartbeat" type="Dummy"/></clone>
    </resources>
    <constraints>
      <rsc_order id="db-then-api" first="db-clone" first-action="promote" then="api-clone" then-action="start" kind="Mandatory"/>
    </constraints>
  </configuration>
  <status>
    <node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
      <transient_attributes id="1"><instance_attributes id="s1"><nvpair id="s1-m" name="master-db" value="10"/></instance_attributes></transient_attributes>
      <lrm id="1"><lrm_resources>
        <lrm_resource id="db" class="ocf" provider="pacemaker" type="Stateful">
          <lrm_rsc_op id="db_last_0" operation="promote" call-id="2" rc-code="0" op-status="0" interval="0" transition-key="2:1:0:x" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
        </lrm_resource>
        <lrm_resource id="api" class="ocf" provider="heartbeat" type="Dummy">
          <lrm_rsc_op id="api_last_0" operation="start" call-id="3" rc-code="0" op-status="0" interval="0" transition-key="3:1:0:x" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
    <node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member">
      <transient_attributes id="2"><instance_attributes id="s2"><nvpair id="s2-m" name="master-db" value="5"/></instance_attributes></transient_attributes>
      <lrm id="2"><lrm_resources>
        <lrm_resource id="db" class="ocf" provider="pacemaker" type="Stateful">
          <lrm_rsc_op id="db_last_0" operation="start" call-id="2" rc-code="0" op-status="0" interval="0" transition-key="2:1:0:x" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
        </lrm_resource>
        <lrm_resource id="api" class="ocf" provider="heartbeat" type="Dummy">
          <lrm_rsc_op id="api_last_0" operation="start" call-id="3" rc-code="0" op-status="0" interval="0" transition-key="3:1:0:x" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
  </status>
</cib>"#;

#[test]
fn the_then_clones_interleave_decides_an_order_after_a_promotion() {
    let out = format::actions(&common::plan_of(CIB));
    assert_eq!(
        out,
        "== actions\n== blocked\n== placement\n\
         api: n1 (Started)\napi: n2 (Started)\ndb: n1 (Promoted)\ndb: n2 (Unpromoted)\n"
    );
}
