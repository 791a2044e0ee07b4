//! Probes where nothing is known yet, recurring monitors where resources end up.
mod common;
use common::plan_of;

#[test]
fn a_fresh_cluster_probes_everything_once_per_node() {
    let plan = plan_of(include_str!(
        "../../../cib-examples/drbd-filesystem/cib.xml"
    ));
    let probes: Vec<String> = plan
        .probes
        .iter()
        .map(|p| format!("{}@{}", p.rsc, p.node))
        .collect();
    // One probe per node for the anonymous DRBD clone, not one per instance.
    assert_eq!(
        probes.iter().filter(|p| p.starts_with("data@")).count(),
        2,
        "{probes:?}"
    );
    assert!(probes.contains(&"data-fs@node1".to_owned()), "{probes:?}");
    assert!(probes.contains(&"data-fs@node2".to_owned()), "{probes:?}");
    // Unpromoted instances get the Unpromoted-role monitor, nothing else.
    for m in plan.monitors.iter().filter(|m| &*m.rsc == "data") {
        assert_eq!(m.role, Some(cib::Role::Unpromoted), "{m:?}");
    }
    assert_eq!(
        plan.monitors.iter().filter(|m| &*m.rsc == "data").count(),
        2
    );
}

#[test]
fn a_running_cluster_needs_no_probes_and_keeps_its_monitors() {
    let plan = plan_of(include_str!("../../../cib-examples/manual-move/cib.xml"));
    assert!(plan.probes.is_empty(), "{:?}", plan.probes);
    let vm: Vec<_> = plan
        .monitors
        .iter()
        .filter(|m| &*m.rsc == "vm-web")
        .collect();
    assert_eq!(vm.len(), 1, "{vm:?}");
    assert_eq!(&*vm[0].node, "ctl1", "the monitor follows the migration");
}
