//! Pinned fidelity on random clusters of the `operators` mix: a sample of the report range
//! of seeds (never used while fixing the scheduler; see the README's "Fidelity") with
//! crm_simulate's decisions recorded once by `scripts/scheduler-differential --mix operators
//! --record DIR` in `tests/oracle/operators/<seed>.txt`. Each seed's cluster is generated
//! again (cib-gen's output for a seed never changes), scheduled in process at cib-gen's
//! `NOW`, and its `--format actions` text must equal the recorded one, so CI needs no
//! crm_simulate. Seeds whose decisions differ are listed with the reason in
//! `tests/oracle/operators/known-differences.txt`; the test fails when an unlisted seed
//! differs and when a listed one starts to agree.
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The cluster size scripts/scheduler-differential gives a seed.
fn size(seed: u64) -> (usize, usize) {
    let nodes = 2 + (seed % 5) as usize;
    let resources = 3 + ((seed * 7) % 22) as usize;
    (nodes, resources)
}

fn actions(seed: u64) -> String {
    let (nodes, resources) = size(seed);
    let xml = cib_gen::generate_mix(
        &cib_gen::Config {
            nodes,
            resources,
            seed,
            status: true,
        },
        cib_gen::Mix::Operators,
    );
    let parsed = cib::parse(&format!("seed {seed}"), &xml);
    assert!(
        !parsed.has_errors(),
        "seed {seed}: the generated CIB has errors: {:?}",
        parsed.diagnostics
    );
    let plan = scheduler::schedule_owned(
        parsed.cib,
        &scheduler::Input {
            now: Some(i64::try_from(cib_gen::NOW).unwrap_or(i64::MAX)),
            explain: false,
        },
    );
    scheduler::format::actions(&plan)
}

#[test]
fn recorded_sample_of_the_report_range_agrees_with_crm_simulate() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/operators");
    let known: BTreeMap<u64, String> = std::fs::read_to_string(dir.join("known-differences.txt"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (seed, reason) = l.split_once(' ').unwrap_or((l, ""));
            let seed = seed
                .parse()
                .unwrap_or_else(|e| panic!("known-differences.txt: {l}: {e}"));
            assert!(
                !reason.trim().is_empty(),
                "known-differences.txt: {l}: no reason"
            );
            (seed, reason.to_owned())
        })
        .collect();
    let mut seeds: Vec<u64> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".txt")?.parse().ok()
        })
        .collect();
    seeds.sort_unstable();
    assert!(
        seeds.len() >= 50,
        "the recorded sample has {} seeds, expected at least 50",
        seeds.len()
    );
    let mut problems = Vec::new();
    for &seed in &seeds {
        let expected = std::fs::read_to_string(dir.join(format!("{seed}.txt")))
            .unwrap_or_else(|e| panic!("{seed}.txt: {e}"));
        let ours = actions(seed);
        match (ours == expected, known.get(&seed)) {
            (true, Some(_)) => problems.push(format!(
                "seed {seed} now agrees: remove it from known-differences.txt"
            )),
            (false, None) => problems.push(format!(
                "seed {seed} {:?} differs from crm_simulate:\n--- crm_simulate\n{expected}--- crm-lite\n{ours}",
                size(seed)
            )),
            _ => {}
        }
    }
    for seed in known.keys() {
        if !seeds.contains(seed) {
            problems.push(format!(
                "known-differences.txt lists {seed}, which is not recorded"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
