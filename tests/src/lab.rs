//! The cluster lab (`scripts/lab`) from Rust: a guard that brings a lab up and always takes it
//! down, its fence log, and the observer, which looks into every node directly (its mounts and
//! listening sockets, through `/proc` of a process of that node) every 50 ms and records
//! every moment a resource is active on two nodes and every start, to compare with the fence
//! log.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The name of the tests' lab (`LAB_NAME` of `scripts/lab`): its network namespaces are
/// `clt-<node>`, apart from a lab a person brings up by hand (`cl-<node>`).
pub const TEST_LAB: &str = "clt";

/// Seconds since the epoch, as the fence log writes them.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The project's root (where `scripts/lab` is).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is inside the workspace")
        .to_path_buf()
}

/// A lab that is up; dropping it runs `scripts/lab down`.
#[derive(Debug)]
pub struct Lab {
    script: PathBuf,
    dir: PathBuf,
    name: String,
    /// The node names, `n1..nN`.
    pub nodes: Vec<String>,
}

/// One completed fence operation of the lab's fence log.
#[derive(Debug, Clone, PartialEq)]
pub struct FenceEvent {
    /// When the node was confirmed off (or on), in seconds since the epoch.
    pub at: f64,
    /// `off`, `on` or `reboot`.
    pub action: String,
    /// The target.
    pub node: String,
    /// Whether it worked.
    pub ok: bool,
}

impl Lab {
    /// `scripts/lab up N` with this stack (`pacemaker` or `none`) and extra environment
    /// (`TOKEN`, `LAB_AGENTS`...). A lab left over from an earlier run is taken down first.
    pub fn up(count: usize, stack: &str, env: &[(&str, &str)]) -> Result<Lab, String> {
        Lab::up_named(TEST_LAB, count, stack, env)
    }

    /// [`Lab::up`] under another lab name (`LAB_NAME`, 1 to 8 of a-z and 0-9), so that
    /// several labs can be up at once.
    pub fn up_named(
        name: &str,
        count: usize,
        stack: &str,
        env: &[(&str, &str)],
    ) -> Result<Lab, String> {
        let script = project_root().join("scripts/lab");
        let dir = PathBuf::from(format!("/tmp/crm-lite-lab-{name}"));
        let lab = Lab {
            script,
            dir,
            name: name.to_owned(),
            nodes: (1..=count).map(|i| format!("n{i}")).collect(),
        };
        // A lab of an earlier, interrupted run would hold the namespaces.
        let _ = lab.command(&["down"]).output();
        let mut cmd = lab.command(&["up", &count.to_string()]);
        cmd.env("LAB_STACK", stack);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().map_err(|e| format!("scripts/lab up: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/lab up {count} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(lab)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.script);
        cmd.args(args)
            .env("LAB_DIR", &self.dir)
            .env("LAB_NAME", &self.name);
        cmd
    }

    /// Runs `scripts/lab ARGS...`; its output, whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|e| panic!("scripts/lab {args:?}: {e}"))
    }

    /// Runs `scripts/lab ARGS...` and panics with its error output when it fails.
    pub fn must(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "scripts/lab {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command inside a node.
    pub fn exec(&self, node: &str, cmd: &[&str]) -> Output {
        let mut args = vec!["exec", node];
        args.extend_from_slice(cmd);
        self.run(&args)
    }

    /// The fence log, parsed.
    pub fn fence_log(&self) -> Vec<FenceEvent> {
        parse_fence_log(&self.must(&["fence-log"]))
    }

    /// The directory holding the lab's state (visible in every node).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let out = self.command(&["down"]).output();
        if let Ok(out) = out
            && !out.status.success()
        {
            eprintln!(
                "scripts/lab down failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Parses `scripts/lab fence-log` (`<time> <action> <node> <ok|failed>` lines); a line of
/// another shape is an error of the lab and panics with the line.
pub fn parse_fence_log(text: &str) -> Vec<FenceEvent> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let ok = match f.get(3) {
                Some(&"ok") => true,
                Some(&"failed") => false,
                _ => panic!("fence log line of an unknown shape: {l:?}"),
            };
            FenceEvent {
                at: f[0]
                    .parse()
                    .unwrap_or_else(|_| panic!("fence log time: {l:?}")),
                action: f[1].to_string(),
                node: f[2].to_string(),
                ok,
            }
        })
        .collect()
}

/// How the observer tells that a resource is active on a node.
#[derive(Debug, Clone)]
pub enum Probe {
    /// A file system is mounted on this directory in the node's mount namespace.
    Mounted(String),
    /// Something listens on this TCP port in the node's network namespace.
    Listening(u16),
    /// A live process of the node has this text in its command line (a QEMU guest:
    /// `guest=<name>`, from libvirt's `-name guest=<name>,...`).
    Process(String),
}

/// A start the observer saw: `resource` became active on `node` at `at`.
#[derive(Debug, Clone)]
pub struct Start {
    /// When it was first seen active (seconds since the epoch).
    pub at: f64,
    /// Where.
    pub node: String,
    /// What.
    pub resource: String,
}

/// What the observer saw.
#[derive(Debug, Default)]
pub struct Observed {
    /// Every sample in which a resource was active on two nodes or more at once: seen active
    /// on each node in turn, then again on each in the reverse order.
    pub double_active: Vec<String>,
    /// Every sample in which a resource was seen on two nodes in one pass but not again in the
    /// reverse pass: a move (stop, then start elsewhere) that fell between two probes of one
    /// pass, the nodes being probed one after the other. Reported, never a violation.
    pub passing: Vec<String>,
    /// Every start (inactive to active), in order.
    pub starts: Vec<Start>,
    /// How many rounds it sampled.
    pub rounds: usize,
}

impl Observed {
    /// The violations of "nothing of a lost node starts elsewhere before its fence completed":
    /// starts of the victim's resources on other nodes after `lost_at` and before the first
    /// successful off/reboot of the victim in the fence log (every such start, when there is
    /// none).
    pub fn starts_before_fence(
        &self,
        victim: &str,
        resources: &[&str],
        lost_at: f64,
        fences: &[FenceEvent],
    ) -> Vec<String> {
        let fenced = fences
            .iter()
            .filter(|f| f.node == victim && f.ok && f.action != "on" && f.at >= lost_at)
            .map(|f| f.at)
            .fold(f64::INFINITY, f64::min);
        self.starts
            .iter()
            .filter(|s| s.node != victim && s.at > lost_at && s.at < fenced)
            .filter(|s| resources.contains(&s.resource.as_str()))
            .map(|s| {
                format!(
                    "{} started on {} at {:.3}, before {victim} was fenced ({})",
                    s.resource,
                    s.node,
                    s.at,
                    if fenced.is_finite() {
                        format!("{fenced:.3}")
                    } else {
                        "never".to_string()
                    }
                )
            })
            .collect()
    }
}

/// Samples every node every 50 ms until stopped.
#[derive(Debug)]
pub struct Observer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Observed>>,
}

impl Observer {
    /// Starts watching these resources on the lab's nodes.
    pub fn start(lab: &Lab, resources: &[(&str, Probe)]) -> Observer {
        Observer::watch(&lab.name, lab.nodes.clone(), resources)
    }

    /// Starts watching these resources on the nodes of a lab that is up under this name
    /// (`LAB_NAME`), whoever brought it up (the replay scripts run the `lab-observer`
    /// binary this way).
    pub fn watch(lab_name: &str, nodes: Vec<String>, resources: &[(&str, Probe)]) -> Observer {
        let stop = Arc::new(AtomicBool::new(false));
        let prefix = format!("{lab_name}-");
        let resources: Vec<(String, Probe)> = resources
            .iter()
            .map(|(n, p)| (n.to_string(), p.clone()))
            .collect();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = Observed::default();
            let mut active: BTreeSet<(String, String)> = BTreeSet::new();
            while !flag.load(Ordering::Relaxed) {
                // When each probe found a resource active, taken after the probe: the
                // resource was active then at the latest, so a start compared with the fence
                // log is never dated too early.
                let mut seen_at: BTreeMap<(&str, &str), f64> = BTreeMap::new();
                let mut now_active: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                let pids = pids_by_node(&prefix, &nodes);
                for node in &nodes {
                    let Some(pids) = pids.get(node.as_str()) else {
                        continue; // powered off: nothing of it is active
                    };
                    for (name, probe) in &resources {
                        if probe_node(pids, probe) {
                            seen_at.insert((name, node), now());
                            now_active.entry(name).or_default().push(node);
                        }
                    }
                }
                let at = now();
                let mut next = BTreeSet::new();
                for (rsc, on) in &now_active {
                    if on.len() > 1 {
                        // Active on n2 (probed first), then on n3 (probed later) does not
                        // prove both at once. Probed again in the reverse order (n3, then n2),
                        // each node's active spell covers the other's two probes: overlap.
                        let probe = &resources.iter().find(|(n, _)| n == rsc).expect("probed").1;
                        let still = on
                            .iter()
                            .rev()
                            .all(|node| pids.get(node).is_some_and(|p| probe_node(p, probe)));
                        let line = format!("{rsc} active on {} at {at:.3}", on.join(" and "));
                        if still {
                            seen.double_active.push(line);
                        } else {
                            seen.passing.push(line);
                        }
                    }
                    for node in on {
                        let key = (rsc.to_string(), node.to_string());
                        if !active.contains(&key) {
                            seen.starts.push(Start {
                                at: seen_at.get(&(*rsc, *node)).copied().unwrap_or(at),
                                node: node.to_string(),
                                resource: rsc.to_string(),
                            });
                        }
                        next.insert(key);
                    }
                }
                active = next;
                seen.rounds += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            seen
        });
        Observer {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling and returns what it saw.
    pub fn finish(mut self) -> Observed {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map(|t| t.join().expect("the observer thread"))
            .unwrap_or_default()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One live process of each node that has any (the key is the node name), found by the
/// inode of its network namespace.
/// The live processes of each powered node, oldest first: the oldest (its Corosync, its
/// daemon) outlive a sample, where a short-lived one (an agent's child) may be gone before
/// its files are read, and with a PID space that wraps, a low PID is not an old process.
fn pids_by_node<'n>(prefix: &str, nodes: &'n [String]) -> BTreeMap<&'n str, Vec<u32>> {
    let mut inodes: BTreeMap<u64, &str> = BTreeMap::new();
    for n in nodes {
        if let Ok(meta) = std::fs::metadata(format!("/run/netns/{prefix}{n}")) {
            inodes.insert(meta.ino(), n);
        }
    }
    let mut found: BTreeMap<&str, Vec<(u64, u32)>> = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return BTreeMap::new();
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(format!("/proc/{pid}/ns/net")) else {
            continue;
        };
        if let Some(node) = inodes.get(&meta.ino()) {
            // A zombie has no mounts to read: only a live process tells.
            if std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
                .is_ok_and(|m| !m.is_empty())
                && let Some(started) = start_time(pid)
            {
                found.entry(*node).or_default().push((started, pid));
            }
        }
    }
    found
        .into_iter()
        .map(|(n, mut v)| {
            v.sort_unstable();
            (n, v.into_iter().map(|(_, p)| p).collect())
        })
        .collect()
}

/// When process `pid` started (clock ticks since boot: field 22 of `/proc/<pid>/stat`).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the resource is active on the node whose live processes are `pids` (oldest
/// first): asked of the oldest that still answers.
fn probe_node(pids: &[u32], probe: &Probe) -> bool {
    if let Probe::Process(text) = probe {
        // Any process of the node, not the first few: the one that counts may be the newest.
        return pids.iter().any(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                c.split(|b| *b == 0)
                    .any(|arg| arg.windows(text.len()).any(|w| w == text.as_bytes()))
            })
        });
    }
    pids.iter()
        .take(4)
        .find_map(|pid| probe_active(*pid, probe))
        .unwrap_or(false)
}

/// Whether the resource is active, as process `pid` sees it; `None` when the process is
/// gone before its files were read.
fn probe_active(pid: u32, probe: &Probe) -> Option<bool> {
    match probe {
        Probe::Mounted(dir) => std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
            .ok()
            .filter(|m| !m.is_empty())
            .map(|m| m.lines().any(|l| l.split(' ').nth(4) == Some(dir.as_str()))),
        Probe::Listening(port) => {
            let mut any_read = false;
            let mut listening = false;
            for f in ["tcp", "tcp6"] {
                let Ok(t) = std::fs::read_to_string(format!("/proc/{pid}/net/{f}")) else {
                    continue;
                };
                any_read = true;
                listening |= t.lines().skip(1).any(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    cols.len() > 3
                        && cols[3] == "0A"
                        && cols[1]
                            .rsplit(':')
                            .next()
                            .and_then(|p| u16::from_str_radix(p, 16).ok())
                            == Some(*port)
                });
            }
            any_read.then_some(listening)
        }
        Probe::Process(_) => None,
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn a_process_probe_finds_text_in_any_argument_of_any_process() {
        let me = std::process::id();
        let argv0 = std::env::args().next().expect("argv[0]");
        let name = argv0.rsplit('/').next().expect("a name").to_string();
        // Our own process is found by a piece of its program's name, even when it is not
        // the first pid of the list; a text no process has is not.
        assert!(probe_node(&[u32::MAX, me], &Probe::Process(name)));
        assert!(!probe_node(
            &[me],
            &Probe::Process("guest=no-such-guest,".into())
        ));
    }

    #[test]
    fn fence_log_lines_are_parsed() {
        let log = parse_fence_log("1796466538.727 off n3 ok\n1796466539.1 on n2 failed\n");
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].node, "n3");
        assert!(log[0].ok && !log[1].ok);
        assert_eq!(log[1].action, "on");
        assert!((log[0].at - 1796466538.727).abs() < 1e-6);
    }

    #[test]
    fn a_start_before_the_fence_is_a_violation_and_one_after_is_not() {
        let seen = Observed {
            starts: vec![
                Start {
                    at: 10.0,
                    node: "n2".into(),
                    resource: "web".into(),
                },
                Start {
                    at: 12.0,
                    node: "n3".into(),
                    resource: "web".into(),
                },
            ],
            ..Observed::default()
        };
        let fences = parse_fence_log("11.0 off n1 ok\n");
        let v = seen.starts_before_fence("n1", &["web"], 5.0, &fences);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("n2"), "{v:?}");
        // No fence at all: every start elsewhere after the loss is one.
        assert_eq!(seen.starts_before_fence("n1", &["web"], 5.0, &[]).len(), 2);
        // A failed fence does not count as one.
        let failed = parse_fence_log("9.0 off n1 failed\n");
        assert_eq!(
            seen.starts_before_fence("n1", &["web"], 5.0, &failed).len(),
            2
        );
    }
}
