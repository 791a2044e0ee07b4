//! The loop against the simulated Corosync, a scripted machine and a recording executor: what
//! the machine asks is carried out, and what happens comes back to it.
use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster::sim::{SimCorosync, SimNode};
use cluster::{Event, Group};
use executor::drive::{Exec, Ran};
use scheduler::graph::{Agent, OpKind, RscOp};

use super::*;
use crate::daemon::control::{ClientMsg, Incoming, ServerMsg};

/// A machine that answers inputs from a script and records them.
#[derive(Debug, Default)]
struct Script {
    seen: Vec<Input>,
    ticks: Vec<u64>,
    deadline: Option<u64>,
    out: Vec<Output>,
    /// Messages to send for an `Apply` request.
    burst: usize,
    /// An alert to raise with a request.
    alert: Option<executor::alert::AlertEvent>,
    /// The CIB to save for a request.
    xml: Option<String>,
}

const XML: &str = r#"<cib admin_epoch="0" epoch="3" num_updates="1"><configuration><crm_config/><nodes/><resources/><constraints/></configuration><status/></cib>"#;

fn start_web() -> OpKind {
    OpKind::Rsc(RscOp {
        rsc: "web".into(),
        node: "n1".into(),
        node_id: "1".into(),
        action: "start".into(),
        interval_ms: 0,
        timeout_ms: 20_000,
        expected_rc: 0,
        key: "web_start_0".into(),
        agent: Agent {
            class: "ocf".into(),
            provider: Some("heartbeat".into()),
            kind: "Dummy".into(),
        },
        params: Vec::new(),
        meta: Vec::new(),
        digest: String::new(),
        record: true,
        migrate: None,
    })
}

impl Machine for Script {
    fn handle(&mut self, input: Input, _now_ms: u64) {
        match &input {
            Input::Request { client, .. } => {
                for i in 0..self.burst {
                    self.out.push(Output::Send(format!("m{i}").into_bytes()));
                }
                self.out.push(Output::Send(b"cfg".to_vec()));
                self.out.push(Output::Run {
                    id: RunId(7),
                    op: start_web(),
                    call_id: 42,
                });
                let xml = self.xml.clone().unwrap_or_else(|| XML.into());
                self.out.push(Output::Save { xml });
                if let Some(a) = self.alert.clone() {
                    self.out.push(Output::Alert(a));
                }
                self.out.push(Output::Reply {
                    client: *client,
                    reply: ::daemon::Reply::Progress("start web on n1".into()),
                });
            }
            Input::Done { id, .. } => {
                let client = self
                    .seen
                    .iter()
                    .find_map(|i| match i {
                        Input::Request { client, .. } => Some(*client),
                        _ => None,
                    })
                    .expect("a request came first");
                self.out.push(Output::Reply {
                    client,
                    reply: ::daemon::Reply::Done {
                        ok: true,
                        message: format!("run {} done", id.0),
                    },
                });
            }
            Input::Cluster(_) | Input::Scores(_) | Input::Pacemaker { .. } => {}
        }
        self.seen.push(input);
    }
    fn tick(&mut self, now_ms: u64) {
        self.ticks.push(now_ms);
        self.deadline = None;
    }
    fn next_deadline(&self) -> Option<u64> {
        self.deadline
    }
    fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }
    fn status(&self) -> Status {
        Status {
            local: "n1".into(),
            quorate: true,
            coordinator: Some("n1".into()),
            version: "0.3.1".into(),
            nodes: Vec::new(),
            resources: Vec::new(),
            failures: Vec::new(),
            fencing: Vec::new(),
            busy: false,
        }
    }
}

/// Records what it runs; every agent succeeds.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<OpKind>>>);

impl Exec for Recorder {
    fn run(&self, op: &OpKind) -> Ran {
        self.0.lock().expect("recorder").push(op.clone());
        let now = Instant::now();
        Ran::Agent {
            outcome: Ok(executor::Outcome {
                rc: 0,
                timed_out: false,
                duration: Duration::from_millis(3),
                exit_reason: None,
                stdout: String::new(),
                restart: None,
            }),
            span: (now, now),
        }
    }
}

type Rt = Runtime<SimNode, Script, Recorder>;

fn runtime(t: &tempfile::TempDir, try_again: u64, burst: usize) -> (SimCorosync, Rt, Recorder) {
    let sim = SimCorosync::new(11, 1, try_again);
    let mut node = sim.node(1);
    node.join().expect("join");
    let rec = Recorder::default();
    let machine = Script {
        burst,
        ..Script::default()
    };
    let store = store::Store::new(t.path().join("state"));
    (
        sim,
        Runtime::new(node, machine, rec.clone(), store, None),
        rec,
    )
}

fn request(msg: ClientMsg, n: u64) -> (Incoming, Receiver<ServerMsg>) {
    let (tx, rx) = channel();
    (
        Incoming {
            client: ClientId(n),
            msg,
            replies: tx,
        },
        rx,
    )
}

/// Turns (delivering everything the simulated Corosync holds between them) until `done`, at
/// most 5 s.
fn turn_until(sim: &SimCorosync, rt: &mut Rt, mut done: impl FnMut(&Rt) -> bool) {
    let start = Instant::now();
    while !done(rt) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the loop never got there"
        );
        rt.turn(Duration::from_millis(1), || None).expect("turn");
        sim.drain();
    }
}

#[test]
fn a_request_is_run_saved_sent_and_answered_and_what_happened_comes_back() {
    let t = tempfile::tempdir().expect("tempdir");
    let (sim, mut rt, rec) = runtime(&t, 0, 0);
    let (apply, replies) = request(
        ClientMsg::Apply {
            file: "web.xml".into(),
            xml: XML.into(),
        },
        1,
    );
    let mut once = Some(apply);
    rt.turn(Duration::from_millis(1), || once.take())
        .expect("turn");
    sim.drain();
    turn_until(&sim, &mut rt, |rt| {
        rt.machine()
            .seen
            .iter()
            .any(|i| matches!(i, Input::Done { .. }))
    });

    // The membership of the join, then the request, the own message looped back, the run.
    let seen = &rt.machine().seen;
    assert!(
        matches!(&seen[0], Input::Cluster(Event::Membership { members, .. }) if members == &[1]),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|i| matches!(i, Input::Request { client: ClientId(1), request: ::daemon::Request::Apply { file, .. } } if file == "web.xml")),
        "{seen:?}"
    );
    assert!(
        seen.contains(&Input::Cluster(Event::Message {
            from: 1,
            payload: b"cfg".to_vec()
        })),
        "the message went through Corosync and came back: {seen:?}"
    );
    let done = seen
        .iter()
        .find_map(|i| match i {
            Input::Done { id, result } => Some((*id, result.clone())),
            _ => None,
        })
        .expect("done");
    assert_eq!(done.0, RunId(7));
    assert!(
        matches!(
            done.1,
            transition::OpResult::Agent {
                rc: 0,
                exec_ms: 3,
                ..
            }
        ),
        "{done:?}"
    );
    // The agent ran once, carrying its call marker.
    let ran = rec.0.lock().expect("recorder").clone();
    assert_eq!(ran.len(), 1, "{ran:?}");
    let OpKind::Rsc(r) = &ran[0] else {
        panic!("{ran:?}")
    };
    let marker = store::Store::new(t.path().join("state")).call_marker(42);
    assert!(r.meta.contains(&marker), "{:?} lacks {marker:?}", r.meta);
    // Saved as given.
    let saved = store::Store::new(t.path().join("state"))
        .load()
        .expect("load")
        .expect("a state");
    assert_eq!(saved.text, XML);
    // The client got the progress line, then the end.
    turn_until(&sim, &mut rt, |_| true);
    let got: Vec<ServerMsg> = replies.try_iter().collect();
    assert_eq!(
        got,
        [
            ServerMsg::Progress("start web on n1".into()),
            ServerMsg::Done {
                ok: true,
                message: "run 7 done".into()
            }
        ]
    );
    assert_eq!(rt.running(), 0);

    // Status is answered by the runtime, from the machine, without an input.
    let before = rt.machine().seen.len();
    let (status, answer) = request(ClientMsg::Status, 2);
    let mut once = Some(status);
    rt.turn(Duration::from_millis(1), || once.take())
        .expect("turn");
    match answer.try_recv() {
        Ok(ServerMsg::Status(st)) => assert_eq!(st.version, "0.3.1"),
        other => panic!("{other:?}"),
    }
    assert_eq!(rt.machine().seen.len(), before);
}

#[test]
fn messages_refused_with_try_again_are_sent_later_in_their_order() {
    let t = tempfile::tempdir().expect("tempdir");
    let (sim, mut rt, _) = runtime(&t, 60, 30);
    let (apply, _replies) = request(
        ClientMsg::Apply {
            file: "f".into(),
            xml: XML.into(),
        },
        1,
    );
    let mut once = Some(apply);
    rt.turn(Duration::from_millis(1), || once.take())
        .expect("turn");
    turn_until(&sim, &mut rt, |rt| {
        rt.machine().seen.iter().any(
            |i| matches!(i, Input::Cluster(Event::Message { payload, .. }) if payload == b"cfg"),
        )
    });
    let got: Vec<String> = rt
        .machine()
        .seen
        .iter()
        .filter_map(|i| match i {
            Input::Cluster(Event::Message { payload, .. }) => {
                Some(String::from_utf8_lossy(payload).into_owned())
            }
            _ => None,
        })
        .collect();
    let mut want: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
    want.push("cfg".into());
    assert_eq!(got, want);
    assert!(rt.outgoing.retries() > 0, "the schedule refused no send");
}

#[test]
fn the_machine_is_ticked_at_its_deadline_and_not_before() {
    let t = tempfile::tempdir().expect("tempdir");
    let (_sim, rt, _) = runtime(&t, 0, 0);
    let clock = Rc::new(Cell::new(1_000u64));
    let c = clock.clone();
    let mut rt = rt.with_clock(move || c.get());
    rt.machine.deadline = Some(1_050);
    rt.turn(Duration::ZERO, || None).expect("turn");
    assert!(rt.machine().ticks.is_empty(), "ticked early");
    clock.set(1_050);
    rt.turn(Duration::ZERO, || None).expect("turn");
    assert_eq!(rt.machine().ticks, [1_050]);
}

#[test]
fn corosync_gone_ends_the_loop_with_an_error_that_says_so() {
    let t = tempfile::tempdir().expect("tempdir");
    let (sim, mut rt, _) = runtime(&t, 0, 0);
    sim.kill(1);
    let (apply, _replies) = request(
        ClientMsg::Apply {
            file: "f".into(),
            xml: XML.into(),
        },
        1,
    );
    let mut once = Some(apply);
    let err = rt
        .turn(Duration::from_millis(1), || once.take())
        .expect_err("corosync is gone");
    assert!(err.to_string().contains("corosync is gone"), "{err:#}");
}

#[test]
fn a_state_that_cannot_be_saved_stops_the_loop_naming_the_directory() {
    let t = tempfile::tempdir().expect("tempdir");
    let sim = SimCorosync::new(3, 1, 0);
    let mut node = sim.node(1);
    node.join().expect("join");
    // The state directory is a file.
    let blocked = t.path().join("state");
    std::fs::write(&blocked, "not a directory").expect("write");
    let mut rt = Runtime::new(
        node,
        Script::default(),
        Recorder::default(),
        store::Store::new(&blocked),
        None,
    );
    let (apply, _replies) = request(
        ClientMsg::Apply {
            file: "f".into(),
            xml: XML.into(),
        },
        1,
    );
    let mut once = Some(apply);
    let err = rt
        .turn(Duration::from_millis(1), || once.take())
        .expect_err("cannot save");
    assert!(
        format!("{err:#}").contains(&blocked.display().to_string()),
        "{err:#}"
    );
}

#[test]
fn an_alert_runs_the_alert_agents_of_the_cib_saved_last() {
    let t = tempfile::tempdir().expect("tempdir");
    let agent = t.path().join("alert.sh");
    let out = t.path().join("alerted");
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\necho \"$CRM_alert_kind $CRM_alert_node $CRM_alert_desc $CRM_alert_recipient\" >> {}\n",
            out.display()
        ),
    )
    .expect("agent");
    std::process::Command::new("chmod")
        .arg("0755")
        .arg(&agent)
        .status()
        .expect("chmod");
    let xml = XML.replace(
        "<constraints/></configuration>",
        &format!(
            r#"<constraints/><alerts><alert id="a" path="{}"><recipient id="a-r" value="ops"/></alert></alerts></configuration>"#,
            agent.display()
        ),
    );
    let (sim, mut rt, _) = runtime(&t, 0, 0);
    rt.machine.xml = Some(xml);
    rt.machine.alert = Some(executor::alert::AlertEvent {
        kind: executor::alert::AlertKind::Node,
        node: "n3".into(),
        node_id: "3".into(),
        desc: "lost".into(),
        rsc: None,
        rc: None,
        target_rc: None,
        status: None,
        at_us: 1_796_466_538_000_000,
        ..Default::default()
    });
    let (apply, _replies) = request(
        ClientMsg::Apply {
            file: "f".into(),
            xml: XML.into(),
        },
        1,
    );
    let mut once = Some(apply);
    rt.turn(Duration::from_millis(1), || once.take())
        .expect("turn");
    sim.drain();
    let start = Instant::now();
    while !out.exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let said = std::fs::read_to_string(&out).expect("the alert agent ran");
    assert_eq!(said.trim(), "node n3 lost ops");
}

/// An agent that leaves a promotion score in its node's attribute directory, as
/// `ocf::promotion` does under crm-lite.
#[derive(Debug, Clone)]
struct Scorer(std::path::PathBuf);

impl Exec for Scorer {
    fn run(&self, op: &OpKind) -> Ran {
        if let OpKind::Rsc(r) = op {
            let dir = self.0.join(&r.node);
            std::fs::create_dir_all(&dir).expect("attribute directory");
            std::fs::write(dir.join("master-web"), "7\n").expect("score");
            std::fs::write(dir.join("utilization-web"), "cpu=1\n").expect("other file");
        }
        Recorder::default().run(op)
    }
}

#[test]
fn the_scores_an_agent_left_reach_the_machine_right_before_its_result() {
    let t = tempfile::tempdir().expect("tempdir");
    let sim = SimCorosync::new(12, 1, 0);
    let mut node = sim.node(1);
    node.join().expect("join");
    let attrs = t.path().join("attrs");
    let store = store::Store::new(t.path().join("state"));
    let mut rt = Runtime::new(node, Script::default(), Scorer(attrs.clone()), store, None)
        .with_attr_dir(attrs);
    let (apply, _replies) = request(
        ClientMsg::Apply {
            file: "web.xml".into(),
            xml: XML.into(),
        },
        1,
    );
    let mut once = Some(apply);
    rt.turn(Duration::from_millis(1), || once.take())
        .expect("turn");
    sim.drain();
    let start = Instant::now();
    while !rt
        .machine()
        .seen
        .iter()
        .any(|i| matches!(i, Input::Done { .. }))
    {
        assert!(start.elapsed() < Duration::from_secs(5), "never done");
        rt.turn(Duration::from_millis(1), || None).expect("turn");
        sim.drain();
    }
    let seen = &rt.machine().seen;
    let done = seen
        .iter()
        .position(|i| matches!(i, Input::Done { .. }))
        .expect("done");
    assert!(done > 0, "{seen:?}");
    assert_eq!(
        seen[done - 1],
        Input::Scores(vec![("master-web".into(), "7".into())]),
        "{seen:?}"
    );
}

#[test]
fn pacemakers_resource_ids_reach_the_machine_as_they_change() {
    let t = tempfile::tempdir().expect("tempdir");
    let (_sim, rt, _) = runtime(&t, 0, 0);
    let (tx, rx) = std::sync::mpsc::channel();
    let mut rt = rt.with_pacemaker(rx);
    let ids: std::collections::BTreeSet<String> = ["web".to_owned()].into();
    tx.send(ids.clone()).expect("send");
    rt.turn(Duration::from_millis(1), || None).expect("turn");
    assert!(
        rt.machine()
            .seen
            .iter()
            .any(|i| matches!(i, Input::Pacemaker { ids: got } if *got == ids)),
        "{:?}",
        rt.machine().seen
    );
}
