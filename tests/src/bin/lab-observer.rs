//! The lab's observer as a command, for the replay scripts (`scripts/replay-*`): it looks
//! into every node of a lab that is up (its mounts, listening sockets and processes) every 50 ms,
//! without asking the cluster, until a stop file appears, then prints what it saw.
//!
//! `lab-observer --lab NAME --nodes n1,n2,.. --stop FILE [--fence-log FILE]
//! [--victim NODE@UNIXTIME]... [--victims FILE] RSC=mount:/DIR | RSC=port:PORT | RSC=proc:TEXT ...`
//!
//! `--victims FILE` is read when the observer stops: one `NODE UNIXTIME` line per node lost
//! meanwhile (the replays append to it as they inject each fault).
//!
//! Output, one fact a line: `start <time> <node> <rsc>`, `double <what>` for every sample with
//! a resource active on two nodes, `early <what>` for every start of a victim's resource on
//! another node after the victim was lost and before the fence log shows it fenced (the
//! victim's resources are those whose last start before the loss was on it), and last
//! `observer: rounds=N double-active=D early-starts=E`. Exit status 0 when D and E are 0,
//! 1 otherwise, 2 on bad arguments.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use tests::lab::{Observer, Probe, parse_fence_log};

fn usage(msg: &str) -> ExitCode {
    eprintln!("lab-observer: {msg}");
    eprintln!(
        "usage: lab-observer --lab NAME --nodes n1,n2 --stop FILE [--fence-log FILE] [--victim NODE@TIME]... RSC=mount:/DIR|RSC=port:N|RSC=proc:TEXT..."
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut lab, mut nodes, mut stop, mut fence_log) = (None, Vec::new(), None, None);
    let mut victims_file = None;
    let mut victims: Vec<(String, f64)> = Vec::new();
    let mut probes: Vec<(String, Probe)> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        let r = match a.as_str() {
            "--lab" => value("--lab").map(|v| lab = Some(v)),
            "--nodes" => value("--nodes").map(|v| nodes = v.split(',').map(String::from).collect()),
            "--stop" => value("--stop").map(|v| stop = Some(v)),
            "--fence-log" => value("--fence-log").map(|v| fence_log = Some(v)),
            "--victims" => value("--victims").map(|v| victims_file = Some(v)),
            "--victim" => value("--victim").and_then(|v| {
                let (n, t) = v
                    .split_once('@')
                    .ok_or(format!("--victim {v}: NODE@TIME"))?;
                let t = t
                    .parse()
                    .map_err(|_| format!("--victim {v}: TIME is not a number"))?;
                victims.push((n.to_string(), t));
                Ok(())
            }),
            spec => parse_probe(spec).map(|p| probes.push(p)),
        };
        if let Err(e) = r {
            return usage(&e);
        }
    }
    let (Some(lab), Some(stop)) = (lab, stop) else {
        return usage("--lab and --stop are required");
    };
    if nodes.is_empty() || probes.is_empty() {
        return usage("no nodes or no resources to watch");
    }
    let list: Vec<(&str, Probe)> = probes
        .iter()
        .map(|(n, p)| (n.as_str(), p.clone()))
        .collect();
    let observer = Observer::watch(&lab, nodes, &list);
    while !Path::new(&stop).exists() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let seen = observer.finish();
    if let Some(f) = &victims_file {
        // A file not written is no victim at all.
        for line in std::fs::read_to_string(f).unwrap_or_default().lines() {
            let mut w = line.split_whitespace();
            match (w.next(), w.next().and_then(|t| t.parse::<f64>().ok())) {
                (Some(n), Some(t)) => victims.push((n.to_string(), t)),
                _ => {
                    eprintln!("lab-observer: {f}: expected NODE UNIXTIME, not {line:?}");
                    return ExitCode::from(2);
                }
            }
        }
    }
    let fences = match &fence_log {
        Some(f) => match std::fs::read_to_string(f) {
            Ok(t) => parse_fence_log(&t),
            Err(e) => {
                eprintln!("lab-observer: cannot read the fence log {f}: {e}");
                return ExitCode::from(2);
            }
        },
        None => Vec::new(),
    };
    let mut report = String::new();
    for s in &seen.starts {
        let _ = writeln!(report, "start {:.3} {} {}", s.at, s.node, s.resource);
    }
    for d in &seen.double_active {
        let _ = writeln!(report, "double {d}");
    }
    for d in &seen.passing {
        let _ = writeln!(report, "passing {d}");
    }
    let mut early = Vec::new();
    for (victim, lost_at) in &victims {
        // The victim's resources: those whose last start before the loss was on it.
        let mut last: std::collections::BTreeMap<&str, &str> = Default::default();
        for s in seen.starts.iter().filter(|s| s.at <= *lost_at) {
            last.insert(&s.resource, &s.node);
        }
        let mine: Vec<&str> = last
            .iter()
            .filter(|(_, n)| **n == victim.as_str())
            .map(|(r, _)| *r)
            .collect();
        early.extend(seen.starts_before_fence(victim, &mine, *lost_at, &fences));
    }
    for e in &early {
        let _ = writeln!(report, "early {e}");
    }
    let _ = writeln!(
        report,
        "observer: rounds={} double-active={} early-starts={} passing={}",
        seen.rounds,
        seen.double_active.len(),
        early.len(),
        seen.passing.len()
    );
    if std::io::stdout().write_all(report.as_bytes()).is_err() {
        return ExitCode::from(2);
    }
    if seen.double_active.is_empty() && early.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn parse_probe(spec: &str) -> Result<(String, Probe), String> {
    let (name, what) = spec.split_once('=').ok_or(format!(
        "{spec}: expected RSC=mount:/DIR, RSC=port:N or RSC=proc:TEXT"
    ))?;
    let probe = if let Some(dir) = what.strip_prefix("mount:") {
        Probe::Mounted(dir.to_string())
    } else if let Some(p) = what.strip_prefix("port:") {
        Probe::Listening(p.parse().map_err(|_| format!("{spec}: bad port"))?)
    } else if let Some(text) = what.strip_prefix("proc:").filter(|t| !t.is_empty()) {
        Probe::Process(text.to_string())
    } else {
        return Err(format!("{spec}: expected mount:/DIR, port:N or proc:TEXT"));
    };
    Ok((name.to_string(), probe))
}
