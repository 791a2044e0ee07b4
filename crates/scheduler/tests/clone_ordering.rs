//! A clone's own ordering across its instances, as in Pacemaker's transition graphs: in a
//! promotable clone no instance stops before every demote is done, and no instance is
//! promoted before every start is done.
mod common;

use scheduler::{ActionKind, Plan};

fn plan(stop_all: bool, n2_running: bool) -> Plan {
    let op = |rsc: &str, id: &str, op: &str, rc: u8| {
        format!(
            r#"<lrm_rsc_op id="{id}" operation_key="{rsc}_{op}_0" operation="{op}" call-id="3" rc-code="{rc}" op-status="0" interval="0" transition-key="1:1:0:x" transition-magic="0:{rc};1:1:0:x"/>"#
        )
    };
    let n2_history = if n2_running {
        op("db", "db_last_0", "start", 0)
    } else {
        op("db", "db_last_0", "monitor", 7)
    };
    let xml = format!(
        r#"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="o">
      <nvpair id="o-s" name="stonith-enabled" value="false"/>
      <nvpair id="o-a" name="stop-all-resources" value="{stop_all}"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
    <resources>
      <clone id="db-clone">
        <meta_attributes id="m"><nvpair id="m-p" name="promotable" value="true"/></meta_attributes>
        <primitive id="db" class="ocf" provider="pacemaker" type="Stateful"/>
      </clone>
    </resources>
    <constraints>
      <rsc_location id="p1" rsc="db-clone" role="Promoted" node="n1" score="10"/>
    </constraints>
  </configuration>
  <status>
    <node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="1"><lrm_resources><lrm_resource id="db" class="ocf" provider="pacemaker" type="Stateful">{}</lrm_resource></lrm_resources></lrm>
    </node_state>
    <node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="2"><lrm_resources><lrm_resource id="db" class="ocf" provider="pacemaker" type="Stateful">{n2_history}</lrm_resource></lrm_resources></lrm>
    </node_state>
  </status>
</cib>"#,
        op("db", "db_last_0", "promote", 0)
    );
    common::plan_of(&xml)
}

fn find(plan: &Plan, kind: ActionKind, node: &str) -> usize {
    plan.actions
        .iter()
        .position(|a| a.kind == kind && a.node == node)
        .unwrap_or_else(|| panic!("no {kind:?} on {node} in {:?}", plan.actions))
}

/// Whether `b` comes after `a` through the plan's ordering edges.
fn after(plan: &Plan, a: usize, b: usize) -> bool {
    let mut seen = vec![false; plan.actions.len()];
    let mut stack = vec![a];
    while let Some(x) = stack.pop() {
        for &(f, t) in &plan.edges {
            if f == x && !seen[t] {
                seen[t] = true;
                stack.push(t);
            }
        }
    }
    seen[b]
}

#[test]
fn a_replica_stops_only_after_the_primary_is_demoted() {
    let plan = plan(true, true);
    let demote = find(&plan, ActionKind::Demote, "n1");
    let stop_n2 = find(&plan, ActionKind::Stop, "n2");
    assert!(after(&plan, demote, stop_n2), "{:?}", plan.edges);
}

#[test]
fn stops_come_before_any_start_and_starts_before_the_promote() {
    // History without operation digests: Pacemaker restarts the promoted instance on n1
    // (demote, stop, start, promote) and starts n2. Its graph (crm_simulate -D) orders
    // the clone's stopped before its start, and its running before its promote.
    let plan = plan(false, false);
    let stop_n1 = find(&plan, ActionKind::Stop, "n1");
    let start_n2 = find(&plan, ActionKind::Start, "n2");
    let promote = find(&plan, ActionKind::Promote, "n1");
    let demote = find(&plan, ActionKind::Demote, "n1");
    assert!(after(&plan, stop_n1, start_n2), "{:?}", plan.edges);
    assert!(after(&plan, demote, start_n2), "{:?}", plan.edges);
    assert!(after(&plan, start_n2, promote), "{:?}", plan.edges);
    assert!(!after(&plan, promote, start_n2), "{:?}", plan.edges);
}
