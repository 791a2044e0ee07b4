//! The scheduler is a pure function: the same CIB gives the same plan, and the order in
//! which constraints are written does not change the decisions.
//! Seeded shuffles: the children of `<nodes>`, `<resources>`, `<constraints>` and `<status>`
//! of every core case of Pacemaker's suite (`../shared/pacemaker-suite`) are put in random
//! orders drawn from fixed seeds (not only reversed), and the plan must stay the same bytes,
//! except where `tests/oracle/order-dependent.txt` says why not (Pacemaker's own order
//! effects, checked against crm_simulate on the same shuffled files).
use std::collections::BTreeMap;
use std::path::Path;

use cib::tree::{Document, ElementId, Node};

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

/// A small seeded generator (SplitMix64): the orders are random but the same on every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher-Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.next() % (i as u64 + 1)).expect("index");
            items.swap(i, j);
        }
    }
}

/// Which section's children a shuffle reorders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Nodes,
    Resources,
    Constraints,
    Status,
}

impl Section {
    const ALL: [Section; 4] = [
        Section::Nodes,
        Section::Resources,
        Section::Constraints,
        Section::Status,
    ];

    fn path(self) -> &'static [&'static str] {
        match self {
            Section::Nodes => &["configuration", "nodes"],
            Section::Resources => &["configuration", "resources"],
            Section::Constraints => &["configuration", "constraints"],
            Section::Status => &["status"],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Section::Nodes => "nodes",
            Section::Resources => "resources",
            Section::Constraints => "constraints",
            Section::Status => "status",
        }
    }
}

/// `xml` with the element children of `section` in a random order drawn from `seed` (text
/// between them is dropped). `None` when the section has fewer than two children.
fn shuffled(xml: &str, section: Section, seed: u64) -> Option<String> {
    let (mut doc, err) = Document::parse(xml);
    assert!(err.is_none(), "{err:?}");
    let mut at = doc.root()?;
    for name in section.path() {
        at = doc.child(at, name)?;
    }
    let mut kids: Vec<ElementId> = doc.children(at).collect();
    if kids.len() < 2 {
        return None;
    }
    let before = kids.clone();
    let mut rng = SplitMix(seed);
    // A permutation different from the written order (two elements always can be).
    while kids == before {
        rng.shuffle(&mut kids);
    }
    doc.get_mut(at).children = kids.into_iter().map(Node::Element).collect();
    Some(doc.to_xml())
}

/// The plan's bytes as `crm-lite simulate --format actions` prints them.
fn plan_bytes(xml: &str) -> Option<String> {
    let parsed = cib::parse("cib.xml", xml);
    if parsed.has_errors() {
        return None;
    }
    let plan = scheduler::schedule(
        &parsed.cib,
        &scheduler::Input {
            now: Some(1_700_000_000),
            explain: false,
        },
    );
    Some(scheduler::format::actions(&plan))
}

fn load(suite: &Path, case: &str) -> String {
    std::fs::read_to_string(suite.join("xml").join(format!("{case}.xml"))).expect("case xml")
}

/// `section case reason` lines of oracle/order-dependent.txt.
fn order_dependent(text: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (Some(section), Some(case), Some(reason)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!(
                "order-dependent.txt:{}: expected `section case reason`",
                i + 1
            );
        };
        assert!(
            Section::ALL.iter().any(|s| s.name() == section),
            "order-dependent.txt:{}: unknown section {section}",
            i + 1
        );
        out.insert((section.to_owned(), case.to_owned()), reason.to_owned());
    }
    out
}

/// Seeds of the random orders: the exclusions of order-dependent.txt were checked against
/// crm_simulate for exactly these.
const SEEDS: std::ops::RangeInclusive<u64> = 1..=4;

#[test]
fn seeded_shuffles_of_the_suite_keep_the_plan() {
    let Some((suite, cases)) = test_support::pacemaker_core_cases(env!("CARGO_MANIFEST_DIR"))
    else {
        return;
    };
    let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle");
    let excluded = order_dependent(
        &std::fs::read_to_string(oracle.join("order-dependent.txt"))
            .expect("tests/oracle/order-dependent.txt"),
    );
    // A person checking exclusions against crm_simulate has the shuffled files written here.
    let dump = std::env::var_os("CRM_LITE_DUMP_SHUFFLES").map(std::path::PathBuf::from);
    // Each case's shuffles, spread over the machine's cores: (pair, seed, plan kept).
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let outcomes: Vec<((String, String), u64, bool)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(cases.len().div_ceil(threads))
            .map(|chunk| {
                let (suite, dump) = (&suite, &dump);
                s.spawn(move || {
                    let mut out = Vec::new();
                    for case in chunk {
                        let xml = load(suite, case);
                        let Some(base) = plan_bytes(&xml) else {
                            continue; // refused by crm-lite (see known-differences.txt)
                        };
                        for section in Section::ALL {
                            for seed in SEEDS {
                                let Some(other) = shuffled(&xml, section, seed) else {
                                    continue;
                                };
                                let same = plan_bytes(&other).as_deref() == Some(base.as_str());
                                if let (false, Some(dir)) = (same, dump) {
                                    let file =
                                        dir.join(format!("{case}.{}.{seed}.xml", section.name()));
                                    std::fs::write(&file, &other)
                                        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                                }
                                out.push(((section.name().to_owned(), case.clone()), seed, same));
                            }
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a worker thread"))
            .collect()
    });
    let mut problems = Vec::new();
    let mut changed_excluded = std::collections::BTreeSet::new();
    let shuffles = outcomes.len();
    let mut kept = 0;
    for (key, seed, same) in outcomes {
        if same {
            kept += 1;
        } else if excluded.contains_key(&key) {
            changed_excluded.insert(key);
        } else {
            problems.push(format!(
                "{}: shuffling its {} (seed {seed}) changes the plan",
                key.1, key.0
            ));
        }
    }
    for (section, case) in excluded.keys() {
        if !changed_excluded.contains(&(section.clone(), case.clone())) {
            problems.push(format!(
                "{case}: shuffling its {section} no longer changes the plan: remove it from \
                 order-dependent.txt"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(shuffles > 3000, "only {shuffles} shuffles were made");
    eprintln!(
        "{kept} of {shuffles} shuffles keep the plan; {} (section, case) pairs are Pacemaker's order effects or known differences",
        excluded.len()
    );
}
