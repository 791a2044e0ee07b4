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

/// The operators mix, over 200 small clusters: every CIB lowers without errors, and every
/// promised variation shows up somewhere.
#[test]
fn operators_mix_lowers_cleanly_and_covers_each_variation() {
    let mut seen = std::collections::BTreeSet::new();
    let mut lost_counts = std::collections::BTreeSet::new();
    for seed in 1..=200u64 {
        let cfg = cib_gen::Config {
            nodes: 2 + (seed % 5) as usize,
            resources: 3 + ((seed * 7) % 22) as usize,
            seed,
            status: true,
        };
        let xml = cib_gen::generate_mix(&cfg, cib_gen::Mix::Operators);
        assert_eq!(xml, cib_gen::generate_mix(&cfg, cib_gen::Mix::Operators));
        let parsed = cib::parse("generated.xml", &xml);
        let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "seed {seed}: {errors:?}");
        let cib = parsed.cib;
        let lost = cib.status.nodes.iter().filter(|n| n.unclean).count();
        assert!(
            lost * 2 < cfg.nodes || cfg.nodes == 2,
            "seed {seed}: quorum is kept"
        );
        lost_counts.insert(lost);
        for strategy in ["default", "utilization", "minimal", "balanced"] {
            if xml.contains(&format!("name=\"placement-strategy\" value=\"{strategy}\"")) {
                seen.insert(format!("strategy {strategy}"));
            }
        }
        for (what, needle) in [
            ("interleave off", "name=\"interleave\" value=\"false\""),
            ("interleave on", "name=\"interleave\" value=\"true\""),
            ("notify off", "name=\"notify\" value=\"false\""),
            ("clone-max 1", "name=\"clone-max\" value=\"1\""),
            ("clone-max 3", "name=\"clone-max\" value=\"3\""),
            ("failure-timeout", "name=\"failure-timeout\""),
            ("failed monitor", "_last_failure_0\""),
            ("last-failure", "name=\"last-failure-"),
            ("order set", "<rsc_order id=\"ord-set"),
            ("colocation set", "<rsc_colocation id=\"col-set"),
            ("role colocation", "with-rsc-role=\"Promoted\""),
            ("optional order", "kind=\"Optional\""),
        ] {
            if xml.contains(needle) {
                seen.insert(what.to_owned());
            }
        }
        if cib.resources.iter().any(|r| {
            matches!(r, cib::model::Resource::Clone(c)
                if !xml.contains(&format!("id=\"{}-clone-max\"", c.id.as_str())))
        }) {
            seen.insert("clone-max absent".to_owned());
        }
    }
    assert_eq!(lost_counts.into_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
    let missing: Vec<&str> = [
        "strategy default",
        "strategy utilization",
        "strategy minimal",
        "strategy balanced",
        "interleave off",
        "interleave on",
        "notify off",
        "clone-max 1",
        "clone-max 3",
        "clone-max absent",
        "failure-timeout",
        "failed monitor",
        "last-failure",
        "order set",
        "colocation set",
        "role colocation",
        "optional order",
    ]
    .into_iter()
    .filter(|w| !seen.contains(*w))
    .collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
}
