//! What `crm-lite status` lists as resources: where the history says they run now.
use std::collections::{BTreeMap, BTreeSet};

use crate::ResourceStatus;

/// What runs where now, from the history in `cib`'s status (as `crm_mon` shows it, not
/// where the plan would put it): one entry per resource (the base id for an anonymous
/// clone) and role, with its nodes; a started instance of a promotable clone is
/// `Unpromoted`; a resource of the plan active nowhere is `Stopped`.
pub(crate) fn resources(cib: &cib::Cib, plan: &scheduler::Plan) -> Vec<ResourceStatus> {
    let agent = |id: &str| {
        cib.primitive_of(id)
            .map(|(pr, _)| match &pr.provider {
                Some(prov) => format!("{}:{prov}:{}", pr.class, pr.agent),
                None => format!("{}:{}", pr.class, pr.agent),
            })
            .unwrap_or_default()
    };
    let promotable: BTreeSet<&str> = cib
        .resources
        .iter()
        .filter_map(|r| match r {
            cib::model::Resource::Clone(c) if c.promotable => Some(c.child.primitives()),
            _ => None,
        })
        .flatten()
        .map(|p| p.id.as_str())
        .collect();
    let base = |id: &str| id.split(':').next().unwrap_or(id).to_owned();
    let mut active: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for ns in &cib.status.nodes {
        if !cib.nodes.is_empty() && cib.node(ns.uname.as_str()).is_none() {
            continue;
        }
        for r in &ns.resources {
            if !r.state.role.is_active() {
                continue;
            }
            let role = match r.state.role {
                cib::Role::Started if promotable.contains(base(r.id.as_str()).as_str()) => {
                    cib::Role::Unpromoted
                }
                role => role,
            };
            active
                .entry((r.id.0.clone(), role.to_string()))
                .or_default()
                .push(ns.uname.0.clone());
        }
    }
    let running: BTreeSet<String> = active.keys().map(|(id, _)| base(id)).collect();
    let mut out: Vec<ResourceStatus> = active
        .into_iter()
        .map(|((id, role), nodes)| ResourceStatus {
            agent: agent(&id),
            id,
            role,
            nodes,
        })
        .collect();
    let mut stopped = BTreeSet::new();
    for p in &plan.placement {
        let b = base(&p.rsc);
        if !running.contains(&b) && stopped.insert(b.clone()) {
            out.push(ResourceStatus {
                agent: agent(&p.rsc),
                id: b,
                role: "Stopped".to_owned(),
                nodes: Vec::new(),
            });
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| a.role.cmp(&b.role)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(rsc: &str, op: &str, rc: i32) -> String {
        format!(
            r#"<lrm_resource id="{rsc}" class="ocf" provider="crm-lite" type="mgmt-api"><lrm_rsc_op id="{rsc}_last_0" operation_key="{rsc}_{op}_0" operation="{op}" crm-debug-origin="t" crm_feature_set="3.16.1" transition-key="1:1:0:x" transition-magic="0:{rc};1:1:0:x" exit-reason="" on_node="n" call-id="3" rc-code="{rc}" op-status="0" interval="0" last-rc-change="1" exec-time="1" queue-time="0" op-digest="x"/></lrm_resource>"#
        )
    }

    #[test]
    fn status_lists_what_the_history_says_runs_not_the_plans_target() {
        let node = |id: u32, ops: &str| {
            format!(
                r#"<node_state id="{id}" uname="n{id}" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="{id}"><lrm_resources>{ops}</lrm_resources></lrm></node_state>"#
            )
        };
        let xml = format!(
            r#"<cib admin_epoch="0" epoch="1" num_updates="0" have-quorum="1"><configuration><crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config><nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes><resources><primitive id="web" class="ocf" provider="crm-lite" type="mgmt-api"/><primitive id="idle" class="ocf" provider="crm-lite" type="mgmt-api"/><clone id="db-clone"><meta_attributes id="m"><nvpair id="m-p" name="promotable" value="true"/></meta_attributes><primitive id="db" class="ocf" provider="crm-lite" type="mysql"/></clone></resources><constraints><rsc_location id="web-n1" rsc="web" node="n1" score="INFINITY"/></constraints></configuration><status>{}{}</status></cib>"#,
            node(
                1,
                &format!("{}{}", op("db", "promote", 0), op("idle", "monitor", 7))
            ),
            node(
                2,
                &format!("{}{}", op("db", "start", 0), op("web", "start", 0))
            ),
        );
        let parsed = cib::parse("t", &xml);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let plan = scheduler::schedule(&parsed.cib, &scheduler::Input::default());
        // The plan moves web to n1; status still says n2 until it has moved.
        assert!(
            plan.placement
                .iter()
                .any(|p| p.rsc == "web" && p.nodes == ["n1"]),
            "{:?}",
            plan.placement
        );
        let got: Vec<(String, String, Vec<String>)> = resources(&parsed.cib, &plan)
            .into_iter()
            .map(|r| (r.id, r.role, r.nodes))
            .collect();
        let want = |id: &str, role: &str, nodes: &[&str]| {
            (
                id.to_owned(),
                role.to_owned(),
                nodes.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            got,
            vec![
                want("db", "Promoted", &["n1"]),
                want("db", "Unpromoted", &["n2"]),
                want("idle", "Stopped", &[]),
                want("web", "Started", &["n2"]),
            ]
        );
    }
}
