//! The driver against a recording fake [`Runner`]: no agent process runs. Graphs come from
//! the scheduler's lowering of `cib-examples` scenarios.
use super::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use scheduler::graph::{Sources, lower};

/// Answers every request from a table by `(rsc, action)` (default: rc 0, and 7 for a
/// probe), and records what it was asked, with what the journal held at that moment.
#[derive(Debug, Default)]
struct FakeRunner {
    rc: BTreeMap<(String, String), i32>,
    journal: Option<Lines>,
    calls: Mutex<Vec<(Request, String)>>,
}

impl Runner for FakeRunner {
    fn run(&self, req: &Request) -> Result<Outcome, ExecError> {
        let journal = self
            .journal
            .as_ref()
            .map(|j| j.lock().expect("not poisoned").join(""))
            .unwrap_or_default();
        self.calls
            .lock()
            .expect("not poisoned")
            .push((req.clone(), journal));
        let probe = req.action == "monitor" && req.interval_ms == 0;
        let rc = self
            .rc
            .get(&(req.rsc.clone(), req.action.clone()))
            .copied()
            .unwrap_or(if probe { 7 } else { 0 });
        Ok(Outcome {
            rc,
            timed_out: false,
            duration: Duration::ZERO,
            exit_reason: (rc != 0 && !probe).then(|| "told to fail".to_owned()),
            stdout: String::new(),
            restart: None,
        })
    }
}

/// The lines a [`MemJournal`] holds, shared with the fake runner.
type Lines = Arc<Mutex<Vec<String>>>;

/// A journal that keeps one line per record in memory.
#[derive(Debug, Default)]
struct MemJournal(Lines);

impl JournalSink for MemJournal {
    fn op(&mut self, r: &OpRecord<'_>) -> Result<(), BoxError> {
        self.0.lock().expect("not poisoned").push(format!(
            "<op rsc=\"{}\" operation=\"{}\" call=\"{}\" pending=\"{}\"/>\n",
            r.rsc,
            r.operation,
            r.call_id,
            u8::from(r.pending)
        ));
        Ok(())
    }

    fn fenced(&mut self, node: &str, _node_id: &str) -> Result<(), BoxError> {
        self.0
            .lock()
            .expect("not poisoned")
            .push(format!("<fenced node=\"{node}\"/>\n"));
        Ok(())
    }
}

const NOW: i64 = 1_700_000_000;

fn example(case: &str) -> cib::Parsed {
    let path = format!(
        "{}/../../cib-examples/{case}/cib.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let xml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let parsed = cib::parse(&path, &xml);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    parsed
}

fn graph_of(parsed: &cib::Parsed) -> Graph {
    let plan = scheduler::schedule(
        &parsed.cib,
        &scheduler::Input {
            now: Some(NOW),
            explain: false,
        },
    );
    let src = Sources {
        cib: &parsed.cib,
        previous: None,
        now: NOW,
    };
    lower(&plan, &src, &[]).expect("lowered")
}

struct RoundRun {
    end: RoundEnd,
    out: String,
    calls: Vec<(Request, String)>,
}

fn run_round(parsed: &cib::Parsed, runner: FakeRunner, lines: Option<Lines>) -> RoundRun {
    let graph = graph_of(parsed);
    let mut out = Vec::new();
    let mut agents = AgentTime::default();
    let mut journal = MemJournal(lines.unwrap_or_default());
    let mark = |call: i64| ("crm_lite_call".to_owned(), format!("test-{call}"));
    let io = RoundIo {
        doc: parsed.doc.clone(),
        journal: &mut journal,
        marker: Some(&mark),
        out: &mut out,
        agents: &mut agents,
    };
    let config = Config {
        batch_limit: 4,
        last_call_id: 100,
    };
    let end = round(graph, config, &RunnerExec(&runner), io, NOW).expect("the round runs");
    RoundRun {
        end,
        out: String::from_utf8(out).expect("utf-8"),
        calls: runner.calls.into_inner().expect("not poisoned"),
    }
}

fn migrate_source(doc: &Document, id: &str) -> Option<String> {
    doc.all()
        .find(|&e| doc.get(e).name == "lrm_rsc_op" && doc.get(e).attr("id") == Some(id))
        .and_then(|e| doc.get(e).attr("migrate_source").map(str::to_owned))
}

#[test]
fn a_migration_runs_its_three_steps_in_order_on_one_progress_line() {
    let parsed = example("manual-move");
    let r = run_round(&parsed, FakeRunner::default(), None);
    let asked: Vec<(&str, &str)> = r
        .calls
        .iter()
        .map(|(q, _)| (q.action.as_str(), q.node.as_str()))
        .collect();
    assert_eq!(
        asked,
        [
            ("migrate_to", "ctl2"),
            ("migrate_from", "ctl1"),
            ("stop", "ctl2")
        ]
    );
    assert!(
        r.calls[0]
            .0
            .meta
            .contains(&("migrate_target".into(), "ctl1".into())),
        "{:?}",
        r.calls[0].0.meta
    );
    assert!(
        r.out
            .contains("  [1/1] migrate vm-web from ctl2 to ctl1 ...\n"),
        "{}",
        r.out
    );
    assert!(
        r.out.contains(
            "  [1/1] migrate vm-web from ctl2 to ctl1: migrate_to ok (0 ms), migrate_from ok (0 ms), stop ok (0 ms)\n"
        ),
        "{}",
        r.out
    );
    assert_eq!((r.end.done, r.end.failures), (1, 0));
    assert_eq!(
        migrate_source(&r.end.doc, "vm-web_last_0").as_deref(),
        None,
        "on the source the last operation is the stop"
    );
}

#[test]
fn a_failed_migrate_to_stops_the_round_and_is_recorded_without_a_fail_count() {
    let parsed = example("manual-move");
    let runner = FakeRunner {
        rc: BTreeMap::from([(("vm-web".into(), "migrate_to".into()), 1)]),
        ..FakeRunner::default()
    };
    let r = run_round(&parsed, runner, None);
    assert_eq!(r.calls.len(), 1, "migrate_from and stop never run");
    assert!(
        r.out.contains(
            "migrate vm-web from ctl2 to ctl1: migrate_to FAILED (rc 1, 0 ms): told to fail\n"
        ),
        "{}",
        r.out
    );
    assert_eq!((r.end.done, r.end.failures), (1, 1));
    let xml = r.end.doc.to_xml();
    assert!(xml.contains("vm-web_last_failure_0"), "a failure entry");
    // As Pacemaker's controller: a failed migration is in the history (the scheduler
    // reacts to it), it does not count towards the fail count.
    assert!(!xml.contains("fail-count-vm-web"), "no fail count: {xml}");
}

#[test]
fn the_in_flight_marker_is_journaled_before_the_agent_runs() {
    let parsed = example("manual-move");
    let lines = Lines::default();
    let runner = FakeRunner {
        journal: Some(lines.clone()),
        ..FakeRunner::default()
    };
    let r = run_round(&parsed, runner, Some(lines.clone()));
    assert!(!r.calls.is_empty());
    for (req, journal_then) in &r.calls {
        let marker = journal_then.lines().any(|l| {
            l.contains(&format!("rsc=\"{}\"", req.rsc))
                && l.contains(&format!("operation=\"{}\"", req.action))
                && l.contains("pending=\"1\"")
        });
        assert!(
            marker,
            "{} {}: no in-flight marker before it ran:\n{journal_then}",
            req.action, req.rsc
        );
    }
    let after = lines.lock().expect("not poisoned").join("");
    assert_eq!(
        after.lines().filter(|l| l.starts_with("<op")).count(),
        2 * r.calls.len(),
        "a marker and a result per operation:\n{after}"
    );
}

#[test]
fn probes_are_recorded_without_markers_and_printed_one_line_each() {
    let parsed = example("resource-discovery");
    let r = run_round(&parsed, FakeRunner::default(), None);
    assert!(!r.calls.is_empty());
    assert!(r.calls.iter().all(|(q, _)| q.action == "monitor"));
    for (q, _) in &r.calls {
        let line = format!("  probe {} on {}: rc 7 (0 ms)\n", q.rsc, q.node);
        assert!(r.out.contains(&line), "{line:?} in {}", r.out);
    }
    let xml = r.end.doc.to_xml();
    assert!(
        !xml.contains("op-status=\"-1\""),
        "no in-flight marker left"
    );
    assert_eq!(r.end.done, 0, "probes are not actions");
}

#[test]
fn each_agent_operation_of_an_action_round_carries_its_call_marker() {
    let parsed = example("manual-move");
    let lines = Lines::default();
    let r = run_round(&parsed, FakeRunner::default(), Some(lines.clone()));
    assert!(!r.calls.is_empty());
    let journal = lines.lock().expect("not poisoned").join("");
    for (req, _) in &r.calls {
        let marks: Vec<&String> = req
            .meta
            .iter()
            .filter(|(k, _)| k == "crm_lite_call")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(marks.len(), 1, "{} {}: {:?}", req.action, req.rsc, req.meta);
        let call = marks[0].trim_start_matches("test-");
        assert!(
            journal
                .lines()
                .any(|l| l.contains(&format!("rsc=\"{}\"", req.rsc))
                    && l.contains(&format!("call=\"{call}\""))
                    && l.contains("pending=\"1\"")),
            "{} {}: its marker's call {call} is not its in-flight marker's:\n{journal}",
            req.action,
            req.rsc
        );
    }
}
