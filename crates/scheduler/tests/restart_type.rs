//! The deprecated `restart-type=restart`: an optional order carries a restart of the first
//! over to the then, as Pacemaker 2.1.5 does.
mod common;

use scheduler::format;

fn actions_of(restart_type: &str) -> String {
    let xml = format!(
        r#"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/></nodes>
    <resources>
      <primitive id="db" class="ocf" provider="heartbeat" type="Dummy"/>
      <primitive id="app" class="ocf" provider="heartbeat" type="Dummy">
        <meta_attributes id="app-meta">{restart_type}</meta_attributes>
      </primitive>
    </resources>
    <constraints>
      <rsc_order id="db-then-app" first="db" then="app" kind="Optional"/>
    </constraints>
  </configuration>
  <status>
    <node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="1"><lrm_resources>
        <lrm_resource id="db" class="ocf" provider="heartbeat" type="Dummy">
          <lrm_rsc_op id="db_last_0" operation="start" call-id="1" rc-code="0" op-status="0" interval="0" transition-key="1:1:0:x" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
          <lrm_rsc_op id="db_monitor_10000" operation="monitor" call-id="3" rc-code="7" op-status="0" interval="10000" transition-key="3:1:0:x"/>
        </lrm_resource>
        <lrm_resource id="app" class="ocf" provider="heartbeat" type="Dummy">
          <lrm_rsc_op id="app_last_0" operation="start" call-id="2" rc-code="0" op-status="0" interval="0" transition-key="2:1:0:x" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
  </status>
</cib>"#
    );
    let plan = common::plan_of(&xml);
    format::actions(&plan)
}

#[test]
fn restart_type_restart_restarts_the_then_with_a_recovering_first() {
    let out = actions_of(r#"<nvpair id="app-rt" name="restart-type" value="restart"/>"#);
    assert!(out.contains("stop app on n1\n"), "{out}");
    assert!(out.contains("start app on n1\n"), "{out}");
    assert!(out.contains("start db on n1\n"), "{out}");
}

#[test]
fn an_optional_order_alone_leaves_the_then_running() {
    let out = actions_of("");
    assert!(!out.contains("app on n1\n"), "{out}");
    assert!(out.contains("start db on n1\n"), "{out}");
}
