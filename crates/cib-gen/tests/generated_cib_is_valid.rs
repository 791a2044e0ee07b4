//! The generated CIB lowers without errors and has the promised shape.
use cib::model::Resource;

#[test]
fn generated_cib_lowers_cleanly_with_one_lost_node() {
    let xml = cib_gen::generate(&cib_gen::Config {
        nodes: 8,
        resources: 200,
        seed: 42,
        status: true,
    });
    let parsed = cib::parse("generated.xml", &xml);
    let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let cib = parsed.cib;
    assert_eq!(cib.nodes.len(), 8);
    assert!(cib.primitives().count() >= 200);
    assert!(
        cib.resources
            .iter()
            .any(|r| matches!(r, Resource::Group(_)))
    );
    assert!(
        cib.resources
            .iter()
            .any(|r| matches!(r, Resource::Clone(c) if c.promotable))
    );
    assert!(
        cib.resources
            .iter()
            .any(|r| matches!(r, Resource::Clone(c) if !c.promotable))
    );
    assert!(!cib.locations.is_empty() && !cib.colocations.is_empty() && !cib.orders.is_empty());
    let lost: Vec<_> = cib.status.nodes.iter().filter(|n| n.unclean).collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].uname.as_str(), "node8");
}
