//! `resource-discovery` of location constraints: `never` skips the probe on that node,
//! `exclusive` probes and runs a resource only on the nodes marked so. The expected probes
//! are the ones `crm_simulate -S` schedules for cib-examples/resource-discovery/cib.xml
//! (its placement is checked by the golden file there).
mod common;

#[test]
fn probes_follow_resource_discovery_as_crm_simulate_schedules_them() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../cib-examples/resource-discovery/cib.xml"
    );
    let xml = std::fs::read_to_string(path).expect("read the example");
    let plan = common::plan_of(&xml);
    let probes: Vec<String> = plan
        .probes
        .iter()
        .map(|p| format!("{} on {}", p.rsc, p.node))
        .collect();
    assert_eq!(
        probes,
        [
            // exclusive on the clone: db1 and db2 only
            "db-tools on db1",
            "db-tools on db2",
            // exclusive: db1 and db2 only
            "db-vip on db1",
            "db-vip on db2",
            // never on hv1, yet it runs there (its score is highest)
            "lb on db1",
            "lb on db2",
        ]
    );
    let placed = |rsc: &str| {
        plan.placement
            .iter()
            .filter(|p| p.rsc == rsc)
            .flat_map(|p| p.nodes.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(placed("lb"), ["hv1"]);
    assert_eq!(placed("db-vip"), ["db2"]);
}
