//! A member of a CPG group through `corosync_group::CorosyncGroup`, for the lab tests of the
//! real Corosync: it joins, multicasts numbered messages and prints every event as one JSON
//! line on stdout (`kind`: start, membership, message, quorum, sent, closed, error; `at`: unix
//! time in seconds).
//!
//! `corosync-probe [--group NAME] [--send N] [--interval-ms MS] [--wait-members K]
//! [--tag TAG] [--stop-file PATH]`: once the group has K members (default 1), it sends N
//! messages (`<TAG>-<seq>`, TAG by default the local node id; N 0: until stopped) one every MS ms (default 20), through
//! `cluster::Outgoing` (TRY_AGAIN retried). It stops when PATH exists or Corosync goes away
//! (then it prints `closed`).

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cluster::{Event, Group, Outgoing};
use corosync_group::CorosyncGroup;
use serde_json::{Value, json};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn num(args: &[String], name: &str, default: u64) -> u64 {
    match arg(args, name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("corosync-probe: {name} wants a number, not {v:?}");
            std::process::exit(2)
        }),
    }
}

fn emit(mut line: Value) {
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    line["at"] = json!(at);
    let mut out = std::io::stdout().lock();
    // A closed stdout ends the probe.
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let group = arg(&args, "--group").unwrap_or_else(|| cluster::GROUP_NAME.to_string());
    let to_send = num(&args, "--send", 0);
    let interval = Duration::from_millis(num(&args, "--interval-ms", 20));
    let wait_members = num(&args, "--wait-members", 1) as usize;
    let stop_file = arg(&args, "--stop-file");
    let tag = arg(&args, "--tag");

    let mut g = match CorosyncGroup::connect_to(&group) {
        Ok(g) => g,
        Err(e) => {
            emit(json!({"kind": "error", "what": e.to_string()}));
            std::process::exit(1);
        }
    };
    let tag = tag.unwrap_or_else(|| g.local_id().to_string());
    emit(json!({"kind": "start", "local_id": g.local_id(), "nodes": g.nodes(), "group": group}));
    if let Err(e) = g.join() {
        emit(json!({"kind": "error", "what": format!("join: {e}")}));
        std::process::exit(1);
    }

    let mut out = Outgoing::new();
    let mut members = 0usize;
    let mut sent = 0u64;
    let mut said_sent = false;
    let mut next_send = Instant::now();
    loop {
        if stop_file
            .as_deref()
            .is_some_and(|f| std::path::Path::new(f).exists())
        {
            break;
        }
        let more = (to_send == 0 || sent < to_send) && members >= wait_members;
        let timeout = if more {
            next_send.saturating_duration_since(Instant::now())
        } else {
            Duration::from_millis(100)
        };
        match g.wait(timeout) {
            Some(Event::Membership {
                members: m,
                left,
                joined,
            }) => {
                members = m.len();
                emit(json!({"kind": "membership", "members": m, "left": left, "joined": joined}));
            }
            Some(Event::Message { from, payload }) => {
                let text = String::from_utf8_lossy(&payload).into_owned();
                emit(json!({"kind": "message", "from": from, "payload": text}));
            }
            Some(Event::Quorum { quorate }) => {
                emit(json!({"kind": "quorum", "quorate": quorate}));
            }
            None if g.is_closed() => {
                emit(json!({"kind": "closed"}));
                return;
            }
            None => {}
        }
        let more = (to_send == 0 || sent < to_send) && members >= wait_members;
        if more && Instant::now() >= next_send {
            sent += 1;
            out.push(format!("{tag}-{sent}").into_bytes());
            next_send = Instant::now() + interval;
        }
        match out.flush(&mut g) {
            Ok(_) => {}
            Err(cluster::Error::Closed) => {
                emit(json!({"kind": "closed"}));
                return;
            }
            Err(e) => emit(json!({"kind": "error", "what": format!("send: {e}")})),
        }
        if to_send != 0 && sent == to_send && out.is_empty() && !said_sent {
            said_sent = true;
            emit(json!({"kind": "sent", "n": sent, "retries": out.retries()}));
        }
    }
}
