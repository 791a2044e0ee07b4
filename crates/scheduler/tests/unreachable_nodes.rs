//! A partition without quorum cannot fence: what runs on a node it lost is out of reach.
//! Its stop (and demote) is blocked, it stays where it was, and nothing starts it elsewhere,
//! whatever `no-quorum-policy` says (Pacemaker's `rec-node-10`; `crm_simulate` decides the
//! same on these CIBs).
mod common;

use scheduler::format;

/// Three nodes: `n1` lost (unclean) while it ran `db` Promoted and `web`, `n2` online and
/// running `app`, `n3` lost without history. No quorum, fencing enabled.
fn cib(policy: &str) -> String {
    format!(
        r#"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0" have-quorum="0" dc-uuid="2">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="true"/><nvpair id="o-q" name="no-quorum-policy" value="{policy}"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/><node id="2" uname="n2"/><node id="3" uname="n3"/></nodes>
    <resources>
      <primitive id="fence" class="stonith" type="fence_dummy"/>
      <clone id="db-clone"><meta_attributes id="db-m"><nvpair id="db-m-p" name="promotable" value="true"/><nvpair id="db-m-c" name="clone-max" value="2"/></meta_attributes>
        <primitive id="db" class="ocf" provider="pacemaker" type="Stateful"/></clone>
      <primitive id="web" class="ocf" provider="heartbeat" type="Dummy"/>
      <primitive id="app" class="ocf" provider="heartbeat" type="Dummy"/>
    </resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="n1" in_ccm="false" crmd="offline" join="down" expected="member">
      <lrm id="1"><lrm_resources>
        <lrm_resource id="db" class="ocf" provider="pacemaker" type="Stateful">
          <lrm_rsc_op id="db_last_0" operation="promote" call-id="2" rc-code="0" op-status="0" interval="0" transition-key="2:1:0:x" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
        </lrm_resource>
        <lrm_resource id="web" class="ocf" provider="heartbeat" type="Dummy">
          <lrm_rsc_op id="web_last_0" operation="start" call-id="3" rc-code="0" op-status="0" interval="0" transition-key="3:1:0:x" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
    <node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="2"><lrm_resources>
        <lrm_resource id="app" class="ocf" provider="heartbeat" type="Dummy">
          <lrm_rsc_op id="app_last_0" operation="start" call-id="3" rc-code="0" op-status="0" interval="0" transition-key="3:1:0:x" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
  </status>
</cib>"#
    )
}

#[test]
fn without_quorum_what_runs_on_a_lost_node_stays_there_blocked() {
    let out = format::actions(&common::plan_of(&cib("stop")));
    assert_eq!(
        out,
        "== actions\nstop app on n2\n\
         == blocked\ndemote db on n1\nstart fence on n2\nstop db on n1\nstop web on n1\n\
         == placement\napp: - (Stopped)\ndb: n1 (Promoted)\nfence: - (Stopped)\nweb: n1 (Started)\n"
    );
}

#[test]
fn a_frozen_partition_does_not_start_elsewhere_what_a_lost_node_ran() {
    let out = format::actions(&common::plan_of(&cib("freeze")));
    assert_eq!(
        out,
        "== actions\n\
         == blocked\ndemote db on n1\nstart fence on n2\nstop db on n1\nstop web on n1\n\
         == placement\napp: n2 (Started)\ndb: n1 (Promoted)\nfence: - (Stopped)\nweb: n1 (Started)\n"
    );
}
