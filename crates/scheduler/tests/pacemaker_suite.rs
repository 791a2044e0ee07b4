//! Pinned fidelity: every core case of Pacemaker's scheduler suite (`core.txt` in
//! `../shared/pacemaker-suite`) is scheduled in process and its `--format actions` text is
//! compared with crm_simulate's decisions, recorded once by `scripts/scheduler-oracle` in
//! `tests/oracle/<case>.txt`. The cases that differ are listed, each with its reason, in
//! `tests/oracle/known-differences.txt`: the test fails when an unlisted case differs and when
//! a listed case starts to agree (so the list, and the README's figure, stay true).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `case reason...` lines of known-differences.txt (`#` starts a comment line).
fn known_differences(text: &str) -> BTreeMap<String, String> {
    let mut known = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (case, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        assert!(
            !reason.trim().is_empty(),
            "known-differences.txt:{}: {case} has no reason",
            i + 1
        );
        assert!(
            known
                .insert(case.to_owned(), reason.trim().to_owned())
                .is_none(),
            "known-differences.txt:{}: {case} is listed twice",
            i + 1
        );
    }
    known
}

/// What `crm-lite simulate --format actions [--now N]` prints for the CIB at `xml`.
fn simulate_actions(xml: &Path, now: i64) -> String {
    let bytes = std::fs::read(xml).unwrap_or_else(|e| panic!("{}: {e}", xml.display()));
    let parsed = cib::parse_vec(&xml.display().to_string(), bytes);
    if parsed.has_errors() {
        let errors: Vec<String> = parsed
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(ToString::to_string)
            .collect();
        return format!("invalid CIB:\n{}\n", errors.join("\n"));
    }
    let plan = scheduler::schedule_owned(
        parsed.cib,
        &scheduler::Input {
            now: Some(now),
            explain: false,
        },
    );
    scheduler::format::actions(&plan)
}

/// The first lines where `ours` and `theirs` differ, for the failure message.
fn first_difference(theirs: &str, ours: &str) -> String {
    let t: Vec<&str> = theirs.lines().collect();
    let o: Vec<&str> = ours.lines().collect();
    let missing: Vec<&&str> = t.iter().filter(|l| !o.contains(l)).take(4).collect();
    let extra: Vec<&&str> = o.iter().filter(|l| !t.contains(l)).take(4).collect();
    if missing.is_empty() && extra.is_empty() {
        return "the same lines, repeated a different number of times".to_owned();
    }
    format!("crm_simulate only: {missing:?}; crm-lite only: {extra:?}")
}

#[test]
fn core_cases_agree_with_crm_simulate_except_the_listed_ones() {
    let Some((suite, cases)) = test_support::pacemaker_core_cases(env!("CARGO_MANIFEST_DIR"))
    else {
        return;
    };
    let oracle = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oracle");
    assert_eq!(cases.len(), 361, "core.txt lists the 361 core cases");
    let known = known_differences(
        &std::fs::read_to_string(oracle.join("known-differences.txt"))
            .expect("tests/oracle/known-differences.txt"),
    );
    for case in known.keys() {
        assert!(
            cases.contains(case),
            "known-differences.txt lists {case}, which is not a core case"
        );
    }
    // "Now" for the cases crm_simulate ran with -t; the others ran at the current time.
    let dates: BTreeMap<String, i64> = std::fs::read_to_string(oracle.join("now.txt"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (c, t) = l.split_once(' ')?;
            Some((c.to_owned(), t.trim().parse().ok()?))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));

    // Each case in process, spread over the machine's cores.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let results: Vec<(String, Result<Option<String>, String>)> = std::thread::scope(|s| {
        let chunks: Vec<&[String]> = cases.chunks(cases.len().div_ceil(threads)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let (suite, oracle, dates) = (&suite, &oracle, &dates);
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|case| {
                            let expected = std::fs::read_to_string(oracle.join(format!("{case}.txt")))
                                .unwrap_or_else(|e| {
                                    panic!(
                                        "tests/oracle/{case}.txt: {e} (record it with scripts/scheduler-oracle {case})"
                                    )
                                });
                            let at = dates.get(case).copied().unwrap_or(now);
                            let xml = suite.join("xml").join(format!("{case}.xml"));
                            let ours = std::panic::catch_unwind(|| simulate_actions(&xml, at))
                                .map_err(|_| "the scheduler panicked".to_owned());
                            let verdict = ours.map(|o| {
                                (o != expected).then(|| first_difference(&expected, &o))
                            });
                            (case.clone(), verdict)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a worker thread"))
            .collect()
    });

    let mut problems = Vec::new();
    let mut agree = 0;
    for (case, verdict) in &results {
        match (verdict, known.get(case)) {
            (Err(e), _) => problems.push(format!("{case}: {e}")),
            (Ok(None), None) => agree += 1,
            (Ok(None), Some(_)) => problems.push(format!(
                "{case} now agrees with crm_simulate: remove it from known-differences.txt \
                 (and update the README's figure)"
            )),
            (Ok(Some(diff)), None) => problems.push(format!(
                "{case} differs from crm_simulate and is not in known-differences.txt: {diff}"
            )),
            (Ok(Some(_)), Some(_)) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(agree + known.len(), cases.len());
    eprintln!(
        "pacemaker suite: {agree}/{} core cases agree with crm_simulate",
        cases.len()
    );
}
