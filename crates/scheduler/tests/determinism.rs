//! The scheduler is a pure function: the same CIB gives the same plan, and the order in
//! which constraints are written does not change the decisions.
mod common;

const CIB: &str = include_str!("../../../cib-examples/control-plane-node-lost/cib.xml");

fn plan_of(xml: &str) -> scheduler::Plan {
    common::plan_with(xml, true)
}

#[test]
fn same_input_same_plan() {
    let a = plan_of(CIB);
    let b = plan_of(CIB);
    assert_eq!(a, b);
    assert!(
        !a.actions.is_empty(),
        "the node-lost scenario must plan something"
    );
}

#[test]
fn constraint_order_does_not_change_decisions() {
    let start = CIB.find("<constraints>").expect("constraints section") + "<constraints>".len();
    let end = CIB.find("</constraints>").expect("constraints end");
    // Split the section into its constraint elements (single tags or with children).
    let body = &CIB[start..end];
    let mut items: Vec<&str> = Vec::new();
    let mut at = 0;
    while let Some(open) = body[at..].find("<rsc_") {
        let from = at + open;
        let name_end = from + body[from..].find([' ', '>']).expect("tag name");
        let tag_end = from + body[from..].find('>').expect("tag end") + 1;
        let to = if body[..tag_end].ends_with("/>") {
            tag_end
        } else {
            let close = format!("</{}>", &body[from + 1..name_end]);
            tag_end + body[tag_end..].find(&close).expect("closing tag") + close.len()
        };
        items.push(&body[from..to]);
        at = to;
    }
    assert!(
        items.len() > 3,
        "expected several constraints, found {}",
        items.len()
    );
    items.reverse();
    let shuffled = format!("{}\n{}\n{}", &CIB[..start], items.join("\n"), &CIB[end..]);
    let a = plan_of(CIB);
    let b = plan_of(&shuffled);
    assert_eq!(a.actions, b.actions);
    assert_eq!(a.blocked, b.blocked);
    assert_eq!(a.placement, b.placement);
}

#[test]
fn explain_names_the_constraints_that_decided() {
    let plan = plan_of(CIB);
    let text = scheduler::format::explain(&plan, "api-b").expect("api-b is a resource");
    assert!(text.contains("colocation api-apart with api-a"), "{text}");
    assert!(text.contains("cannot run resources: unclean"), "{text}");
    assert!(scheduler::format::explain(&plan, "no-such-resource").is_none());
}

#[test]
fn fencing_comes_before_recovering_what_the_node_ran() {
    let plan = plan_of(CIB);
    let index = |line: &str| {
        plan.actions
            .iter()
            .position(|a| {
                let l = match a.kind {
                    scheduler::ActionKind::Fence => format!("fence {}", a.rsc),
                    k => format!("{:?} {} on {}", k, a.rsc, a.node).to_lowercase(),
                };
                l == line
            })
            .unwrap_or_else(|| panic!("no action {line} in {:?}", plan.actions))
    };
    let fence = index("fence ctl3");
    let start = index("start api-b on ctl1");
    let promote = index("promote db on ctl2");
    let api_a = index("start api-a on ctl2");
    assert!(plan.edges.contains(&(fence, start)), "{:?}", plan.edges);
    assert!(plan.edges.contains(&(promote, api_a)), "{:?}", plan.edges);
}
