//! The real Corosync behind `cluster::Group` (`corosync_group::CorosyncGroup`), in a 3-node lab
//! with Corosync only (`LAB_STACK=none`, lab `cct`). A `corosync-probe` on every node joins the
//! group, multicasts a numbered message every 20 ms and prints its events as JSON lines. Then:
//! n3 loses its power (n1 and n2 see it leave, stay quorate), boots again and rejoins, loses
//! its link (it sees itself alone and not quorate, the others see it leave) and gets it back
//! (everyone sees everyone). Through all of it the messages every two probes both delivered
//! came in the same order (agreed order), each probe received its own messages, all of them,
//! in order, and n1 and n2, never separated, saw the same events in the same order. Last,
//! Corosync itself dies on n2 and its probe hears that at once (`closed`).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::lab::{Lab, now, project_root};
use tests::{built, is_root, require};

const LAB: &str = "cct";

/// A probe running in a node, writing its JSON lines to `out`.
struct Probe {
    name: String,
    out: PathBuf,
    child: Child,
}

impl Probe {
    fn start(lab: &Lab, node: &str, name: &str, bin: &Path, extra: &[&str]) -> Probe {
        let out = lab.dir().join(format!("probe-{name}.jsonl"));
        let stop = lab.dir().join("probe-stop");
        let mut cmd = Command::new(project_root().join("scripts/lab"));
        cmd.args(["exec", node])
            .arg(bin)
            .args(["--interval-ms", "20", "--stop-file"])
            .arg(&stop)
            .args(extra)
            .env("LAB_DIR", lab.dir())
            .env("LAB_NAME", LAB)
            .stdin(Stdio::null())
            .stdout(File::create(&out).expect("probe output file"))
            .stderr(Stdio::inherit());
        let child = cmd.spawn().expect("scripts/lab exec corosync-probe");
        Probe {
            name: name.to_string(),
            out,
            child,
        }
    }

    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.ends_with('}'))
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("probe {}: bad line {l:?}: {e}", self.name))
            })
            .collect()
    }

    /// Waits until an event satisfies `pred`; returns it.
    fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let evs = self.events();
            if let Some(e) = evs.iter().find(|e| pred(e)) {
                return e.clone();
            }
            if let Some(e) = evs.iter().find(|e| e["kind"] == "error") {
                panic!("probe {}: {e}", self.name);
            }
            assert!(
                start.elapsed() < limit,
                "probe {}: timed out after {limit:?} waiting for {what}; its events: {}",
                self.name,
                tail(&evs)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn messages_from(&self, tag: &str) -> usize {
        self.events()
            .iter()
            .filter(|e| e["kind"] == "message" && payload(e).starts_with(&format!("{tag}-")))
            .count()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        // The lab's `down` powers every node off; this only reaps the `scripts/lab exec`.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(evs: &[Value]) -> String {
    let non_msg: Vec<String> = evs
        .iter()
        .filter(|e| e["kind"] != "message")
        .map(|e| e.to_string())
        .collect();
    format!(
        "{} messages; other events: {}",
        evs.len() - non_msg.len(),
        non_msg.join(" ")
    )
}

fn payload(e: &Value) -> &str {
    e["payload"].as_str().unwrap_or("")
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

fn is_membership(e: &Value, members: &[u64], left: &[u64], joined: &[u64]) -> bool {
    e["kind"] == "membership"
        && ids(&e["members"]) == members
        && ids(&e["left"]) == left
        && ids(&e["joined"]) == joined
}

fn after(t: f64) -> impl Fn(&Value) -> bool {
    move |e: &Value| e["at"].as_f64().is_some_and(|at| at >= t)
}

/// The message payloads a probe delivered, in order.
fn delivered(p: &Probe) -> Vec<String> {
    p.events()
        .iter()
        .filter(|e| e["kind"] == "message")
        .map(|e| payload(e).to_string())
        .collect()
}

/// The violations of agreed order between two probes: messages both delivered, in a
/// different relative order.
fn order_violations(a: &[String], b: &[String]) -> Vec<String> {
    let pos_b: HashMap<&str, usize> = b.iter().enumerate().map(|(i, m)| (m.as_str(), i)).collect();
    let mut last: Option<(usize, &str)> = None;
    let mut bad = Vec::new();
    for m in a {
        if let Some(&j) = pos_b.get(m.as_str()) {
            if let Some((lj, lm)) = last
                && j < lj
            {
                bad.push(format!("{lm} before {m} on one, after it on the other"));
            }
            last = Some((j, m));
        }
    }
    bad
}

/// A probe's own messages (tag) it delivered must be 1, 2, ... k, in order.
fn own_in_order(p: &Probe, tag: &str) -> usize {
    let own: Vec<u64> = delivered(p)
        .iter()
        .filter_map(|m| m.strip_prefix(&format!("{tag}-")).map(str::to_string))
        .map(|n| n.parse().expect("sequence number"))
        .collect();
    let want: Vec<u64> = (1..=own.len() as u64).collect();
    assert_eq!(
        own, want,
        "probe {}: its own messages came back out of order or with gaps",
        p.name
    );
    own.len()
}

/// The events from the first membership of all three nodes on, as comparable strings.
fn from_full_view(p: &Probe) -> Vec<String> {
    let evs = p.events();
    let start = evs
        .iter()
        .position(|e| e["kind"] == "membership" && ids(&e["members"]) == [1, 2, 3])
        .unwrap_or_else(|| panic!("probe {} never saw all three nodes", p.name));
    evs[start..]
        .iter()
        .filter(|e| e["kind"] == "message" || e["kind"] == "membership")
        .map(|e| {
            if e["kind"] == "message" {
                format!("message {}", payload(e))
            } else {
                format!(
                    "membership {} -{} +{}",
                    e["members"], e["left"], e["joined"]
                )
            }
        })
        .collect()
}

#[test]
fn corosync_group_agreed_order_self_delivery_membership_quorum_and_closed_in_a_lab() {
    let Ok(()) = require(is_root(), "root (network and mount namespaces)") else {
        return;
    };
    let Some(bin) = built("corosync-probe") else {
        let Ok(()) = require(false, "corosync-probe built (cargo build -p tests)") else {
            return;
        };
        return;
    };
    let lab = Lab::up_named(LAB, 3, "none", &[]).unwrap_or_else(|e| panic!("{e}"));
    let wait3 = ["--wait-members", "3"];
    let p1 = Probe::start(&lab, "n1", "n1", &bin, &wait3);
    let p2 = Probe::start(&lab, "n2", "n2", &bin, &wait3);
    let p3 = Probe::start(&lab, "n3", "n3", &bin, &wait3);
    let limit = Duration::from_secs(20);

    // Every node: its id and Corosync's nodelist, the first membership, quorate.
    for (i, p) in [&p1, &p2, &p3].iter().enumerate() {
        let start = p.wait_for("start", limit, |e| e["kind"] == "start");
        assert_eq!(start["local_id"], i as u64 + 1, "probe {}: {start}", p.name);
        assert_eq!(
            start["nodes"].to_string(),
            r#"[[1,"n1"],[2,"n2"],[3,"n3"]]"#,
            "probe {}: nodes()",
            p.name
        );
        let first = p
            .events()
            .into_iter()
            .find(|e| e["kind"] != "start")
            .map(|e| e["kind"].clone());
        p.wait_for("a membership", limit, |e| e["kind"] == "membership");
        assert_eq!(
            p.events()
                .iter()
                .find(|e| e["kind"] != "start")
                .map(|e| e["kind"].clone()),
            Some(Value::from("membership")),
            "probe {}: the first event after joining is the membership (first seen: {first:?})",
            p.name
        );
        p.wait_for("quorate", limit, |e| {
            e["kind"] == "quorum" && e["quorate"] == true
        });
    }
    for p in [&p1, &p2, &p3] {
        p.wait_for("messages from every node", limit, |_| {
            ["1", "2", "3"].iter().all(|t| p.messages_from(t) >= 20)
        });
    }

    // 1. Power loss of n3: n1 and n2 see it leave and stay quorate.
    let t_kill = now();
    lab.must(&["kill", "n3"]);
    for p in [&p1, &p2] {
        let e = p.wait_for("n3 leaving after its power loss", limit, |e| {
            after(t_kill)(e) && is_membership(e, &[1, 2], &[3], &[])
        });
        eprintln!(
            "{}: n3 left {:.2} s after its power loss",
            p.name,
            e["at"].as_f64().unwrap_or(0.0) - t_kill
        );
    }

    // 2. It boots again and a new probe joins: everyone sees the three.
    let t_boot = now();
    lab.must(&["start", "n3"]);
    let p3b = Probe::start(&lab, "n3", "n3b", &bin, &["--tag", "3b"]);
    for p in [&p1, &p2] {
        p.wait_for("n3 joining again", limit, |e| {
            after(t_boot)(e) && is_membership(e, &[1, 2, 3], &[], &[3])
        });
    }
    p3b.wait_for("quorate", limit, |e| {
        e["kind"] == "quorum" && e["quorate"] == true
    });
    p3b.wait_for("messages of its own", limit, |_| {
        p3b.messages_from("3b") >= 10
    });

    // 3. Link cut of n3: it is alone and not quorate; the others see it leave, stay quorate.
    let t_cut = now();
    lab.must(&["cut", "n3"]);
    p3b.wait_for("itself alone after the cut", limit, |e| {
        after(t_cut)(e) && is_membership(e, &[3], &[1, 2], &[])
    });
    p3b.wait_for("quorum lost", limit, |e| {
        after(t_cut)(e) && e["kind"] == "quorum" && e["quorate"] == false
    });
    for p in [&p1, &p2] {
        p.wait_for("n3 leaving after the cut", limit, |e| {
            after(t_cut)(e) && is_membership(e, &[1, 2], &[3], &[])
        });
    }
    // Alone, it still receives its own messages (CPG works without quorum).
    let own_before = p3b.messages_from("3b");
    p3b.wait_for("its own messages while alone", limit, |_| {
        p3b.messages_from("3b") >= own_before + 10
    });

    // 4. Heal: everyone sees the three again, n3 quorate again.
    let t_heal = now();
    lab.must(&["heal", "n3"]);
    p3b.wait_for("the others back", limit, |e| {
        after(t_heal)(e) && is_membership(e, &[1, 2, 3], &[], &[1, 2])
    });
    p3b.wait_for("quorum back", limit, |e| {
        after(t_heal)(e) && e["kind"] == "quorum" && e["quorate"] == true
    });
    for p in [&p1, &p2] {
        p.wait_for("n3 back after the heal", limit, |e| {
            after(t_heal)(e) && is_membership(e, &[1, 2, 3], &[], &[3])
        });
    }
    let n1_msgs = p1.messages_from("3b");
    p1.wait_for("n3's messages after the heal", limit, |_| {
        p1.messages_from("3b") >= n1_msgs + 10
    });
    // n1 and n2 never lost quorum.
    for p in [&p1, &p2] {
        let lost: Vec<Value> = p
            .events()
            .into_iter()
            .filter(|e| e["kind"] == "quorum" && e["quorate"] == false)
            .collect();
        assert!(lost.is_empty(), "probe {} lost quorum: {lost:?}", p.name);
    }

    // 5. Corosync dies on n2: its probe hears it at once.
    let pid = std::fs::read_to_string(lab.dir().join("n2/run/corosync.pid"))
        .expect("n2's corosync.pid")
        .trim()
        .parse::<i32>()
        .expect("a pid");
    let pids = lab.must(&["pids", "n2"]);
    assert!(
        pids.lines().any(|l| l.trim() == pid.to_string()),
        "corosync pid {pid} is not in node n2 ({pids})"
    );
    let t_dead = now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL)
        .expect("kill n2's corosync");
    let closed = p2.wait_for("closed", Duration::from_secs(2), |e| e["kind"] == "closed");
    eprintln!(
        "n2's probe saw corosync gone after {:.3} s",
        closed["at"].as_f64().unwrap_or(0.0) - t_dead
    );

    // Stop the rest and compare what they delivered.
    std::fs::write(lab.dir().join("probe-stop"), "").expect("stop file");
    std::thread::sleep(Duration::from_millis(500));
    let all = [&p1, &p2, &p3, &p3b];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            let bad = order_violations(&delivered(a), &delivered(b));
            assert!(
                bad.is_empty(),
                "agreed order broken between {} and {}: {bad:?}",
                a.name,
                b.name
            );
        }
    }
    for (p, tag) in [(&p1, "1"), (&p2, "2"), (&p3, "3"), (&p3b, "3b")] {
        let k = own_in_order(p, tag);
        assert!(k >= 10, "probe {} received {k} of its own messages", p.name);
    }
    // n1 and n2 were never apart: the same events in the same order up to where n2's
    // Corosync died (a message or two delivered on n2 just before may be lost with it).
    let (s1, s2) = (from_full_view(&p1), from_full_view(&p2));
    let common = s1.len().min(s2.len()).saturating_sub(5);
    assert!(common > 100, "only {common} events in common");
    let first_diff = (0..common).find(|&i| s1[i] != s2[i]);
    assert_eq!(
        first_diff,
        None,
        "n1 and n2 diverge at event {:?}: {:?} vs {:?}",
        first_diff,
        first_diff.map(|i| &s1[i]),
        first_diff.map(|i| &s2[i])
    );
    // And n3, until its power loss, saw what n1 saw (but for the last few messages, which
    // may have died with it).
    let s3 = from_full_view(&p3);
    assert!(s3.len() > 20, "n3 saw {} events", s3.len());
    let upto = s3.len().saturating_sub(5);
    assert_eq!(
        s3[..upto],
        s1[..upto],
        "n3 and n1 diverge before n3's power loss"
    );
}
