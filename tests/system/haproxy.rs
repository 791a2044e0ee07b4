//! `ocf:crm-lite:haproxy` managing a real HAProxy 2.6 in front of real HTTP servers
//! (`tiny-httpd`), with a bounded load generator on loopback to count failed requests
//! across reloads.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tests::{Agent, alive, built, free_port, have, is_root, require, wait_for};

const SERVER: &str = env!("CARGO_BIN_EXE_tiny-httpd");

/// The backends: `web` (two healthy servers, checked), `api` (one checked server the test
/// can make unhealthy) and `slow` (one unchecked server the test can slow down).
const BACKENDS: [&str; 4] = ["web1", "web2", "api", "slow"];

/// A HAProxy instance managed by the agent, with its backend servers. Drop stops it
/// through the agent and then kills, by pid, whatever it started.
struct Fixture {
    agent: Agent,
    dir: tempfile::TempDir,
    frontend: u16,
    ports: Vec<u16>,
    servers: Vec<Child>,
    /// A `web` server nobody listens on, and a server-state file, when set.
    dead_server: Option<u16>,
}

fn haproxy_installed() -> bool {
    have("haproxy") || Path::new("/usr/sbin/haproxy").is_file()
}

impl Fixture {
    fn new(params: &[(&str, &str)]) -> Option<Fixture> {
        let Ok(()) = require(
            built("haproxy").is_some(),
            "target/<profile>/haproxy is not built (run cargo build --workspace)",
        ) else {
            return None;
        };
        let Ok(()) = require(
            haproxy_installed(),
            "haproxy (Debian haproxy) is not installed",
        ) else {
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let mut f = Fixture {
            agent: Agent::new(&built("haproxy").unwrap(), "lb", &[]),
            frontend: free_port(),
            ports: Vec::new(),
            servers: Vec::new(),
            dead_server: None,
            dir,
        };
        for name in BACKENDS {
            let port = free_port();
            let child = Command::new(SERVER)
                .args(["--port", &port.to_string(), "--control"])
                .arg(f.path(&format!("{name}.control")))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn tiny-httpd");
            f.ports.push(port);
            f.servers.push(child);
        }
        for port in &f.ports {
            assert!(
                wait_for(Duration::from_secs(5), || TcpStream::connect((
                    "127.0.0.1",
                    *port
                ))
                .is_ok()),
                "tiny-httpd on {port} did not come up"
            );
        }
        f.write_config(0, "");
        let mut all: Vec<(String, String)> = vec![
            ("config".into(), f.path("haproxy.cfg").display().to_string()),
            ("pidfile".into(), f.path("lb.pid").display().to_string()),
            (
                "master_socket".into(),
                f.path("master.sock").display().to_string(),
            ),
        ];
        all.extend(params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        f.agent = Agent::new(&built("haproxy").unwrap(), "lb", &pairs);
        Some(f)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write the configuration: generation `generation` (sent back in an X-Gen header)
    /// with `extra` lines appended to the frontend.
    fn write_config(&self, generation: u32, extra: &str) {
        let [web1, web2, api, slow] = [self.ports[0], self.ports[1], self.ports[2], self.ports[3]];
        let (state_global, state_defaults, web3) = match self.dead_server {
            Some(dead) => (
                format!(
                    "    server-state-file {}\n",
                    self.path("server-state").display()
                ),
                "    load-server-state-from-file global\n".to_string(),
                format!("    server web3 127.0.0.1:{dead} check inter 200ms fall 1 rise 1\n"),
            ),
            None => (String::new(), String::new(), String::new()),
        };
        let text = format!(
            "global
    stats socket {admin} mode 600 level admin expose-fd listeners
    stats timeout 30s
{state_global}defaults
{state_defaults}    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 1s
frontend fe
    bind 127.0.0.1:{fe}
    http-response set-header X-Gen {generation}
    use_backend api if {{ path_beg /api }}
    use_backend slow if {{ path_beg /slow }}
    default_backend web
{extra}
backend web
    option httpchk GET /
    server web1 127.0.0.1:{web1} check inter 200ms fall 1 rise 1
    server web2 127.0.0.1:{web2} check inter 200ms fall 1 rise 1
{web3}backend api
    option httpchk GET /
    server api1 127.0.0.1:{api} check inter 200ms fall 1 rise 1
backend slow
    server slow1 127.0.0.1:{slow}
",
            admin = self.path("admin.sock").display(),
            fe = self.frontend,
        );
        std::fs::write(self.path("haproxy.cfg"), text).unwrap();
    }

    fn control(&self, backend: &str, text: &str) {
        std::fs::write(self.path(&format!("{backend}.control")), text).unwrap();
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.path("lb.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn get(&self, path: &str) -> Result<Response, String> {
        http_get(self.frontend, path, Duration::from_secs(5))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let pid = self.pid();
        let _ = self
            .agent
            .run_with("stop", &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
        if let Some(pid) = pid.filter(|p| *p > 1) {
            // Only the group this fixture's agent started.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        for child in &mut self.servers {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
struct Response {
    status: u16,
    generation: Option<u32>,
}

/// One request on a new connection, within `timeout`.
fn http_get(port: u16, path: &str, timeout: Duration) -> Result<Response, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(timeout)).unwrap();
    s.set_write_timeout(Some(timeout)).unwrap();
    // One write: a request in pieces meets Nagle and delayed ACKs (40 ms a request).
    let request = format!("GET {path} HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not HTTP: {:?}", text.chars().take(80).collect::<String>()))?;
    let generation = text.lines().find_map(|l| {
        l.strip_prefix("x-gen: ")
            .or_else(|| l.strip_prefix("X-Gen: "))
            .and_then(|v| v.trim().parse().ok())
    });
    Ok(Response { status, generation })
}

/// A bounded load generator: `threads` clients each sending requests on new connections,
/// one after the other, until told to stop, `max_per_thread` requests, or `max_time`.
struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<std::thread::JoinHandle<(u32, Vec<Failed>)>>,
}

/// A failed request: when (since the load started) and why.
#[derive(Debug)]
struct Failed {
    at: Duration,
    error: String,
}

/// How long failures lasted: from the first to the last.
fn failure_window(failures: &[Failed]) -> Duration {
    let first = failures.iter().map(|f| f.at).min().unwrap_or_default();
    let last = failures.iter().map(|f| f.at).max().unwrap_or_default();
    last - first
}

impl Load {
    fn start(port: u16, threads: usize, max_per_thread: u32, max_time: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..threads)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let t0 = Instant::now();
                    let (mut ok, mut failures) = (0, Vec::new());
                    while !stop.load(Ordering::Relaxed)
                        && ok + (failures.len() as u32) < max_per_thread
                        && t0.elapsed() < max_time
                    {
                        let error = match http_get(port, "/", Duration::from_secs(2)) {
                            Ok(r) if r.status == 200 => {
                                ok += 1;
                                continue;
                            }
                            Ok(r) => format!("status {}", r.status),
                            Err(e) => e,
                        };
                        failures.push(Failed {
                            at: t0.elapsed(),
                            error,
                        });
                        // A refused connection fails at once: do not spin on it.
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    (ok, failures)
                })
            })
            .collect();
        Load { stop, clients }
    }

    /// Stop the clients; the number of successful requests and the failures.
    fn finish(self) -> (u32, Vec<Failed>) {
        self.stop.store(true, Ordering::Relaxed);
        let mut ok = 0;
        let mut failures = Vec::new();
        for c in self.clients {
            let (o, f) = c.join().expect("load client");
            ok += o;
            failures.extend(f);
        }
        (ok, failures)
    }
}

/// What one keep-alive client saw.
#[derive(Debug, Default)]
struct KeepAliveStats {
    /// Requests answered with 200.
    answered: u32,
    /// Of those, requests sent on a connection that had already carried one.
    reused: u32,
    /// Answers that closed the connection (`Connection: close`): HAProxy's old worker
    /// telling a client to reconnect after a reload.
    closed_by_server: u32,
    /// Connections opened.
    connections: u32,
    /// Requests written and not answered (or answered with another status).
    failures: Vec<Failed>,
}

/// Read one HTTP/1.1 response from a keep-alive connection: the status, the `X-Gen`
/// value, and whether the server closes the connection after it.
fn read_response(s: &mut TcpStream) -> Result<(u16, Option<u32>, bool), String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(0) => {
                return Err(format!(
                    "connection closed after {} bytes of the answer",
                    head.len()
                ));
            }
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(format!("read: {e}")),
        }
        if head.len() > 64 * 1024 {
            return Err("answer header over 64 KiB".into());
        }
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let status = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not HTTP: {:?}", text.chars().take(80).collect::<String>()))?;
    let header = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    let length: usize = header("content-length:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    s.read_exact(&mut body)
        .map_err(|e| format!("read body: {e}"))?;
    let generation = header("x-gen:").and_then(|v| v.parse().ok());
    let close = header("connection:").is_some_and(|v| v.contains("close"));
    Ok((status, generation, close))
}

/// Clients that each hold a keep-alive connection and send requests on it one after the
/// other, idle for a while between some of them (0 to 45 ms), as a browser or an upstream
/// proxy does. A client never resends a request: one written and not answered is a
/// failure. When an answer says `Connection: close` it opens a new connection, as HTTP/1.1
/// asks.
struct KeepAliveLoad {
    stop: Arc<AtomicBool>,
    clients: Vec<std::thread::JoinHandle<KeepAliveStats>>,
}

impl KeepAliveLoad {
    fn start(port: u16, threads: usize, max_time: Duration) -> KeepAliveLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..threads)
            .map(|n| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let t0 = Instant::now();
                    let mut st = KeepAliveStats::default();
                    let mut conn: Option<(TcpStream, u32)> = None;
                    let mut i: u64 = 0;
                    while !stop.load(Ordering::Relaxed) && t0.elapsed() < max_time {
                        i += 1;
                        let (mut s, used) = match conn.take() {
                            Some(c) => c,
                            None => {
                                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                                match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                                    Ok(s) => {
                                        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                                        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
                                        st.connections += 1;
                                        (s, 0)
                                    }
                                    Err(e) => {
                                        st.failures.push(Failed {
                                            at: t0.elapsed(),
                                            error: format!("connect: {e}"),
                                        });
                                        std::thread::sleep(Duration::from_millis(5));
                                        continue;
                                    }
                                }
                            }
                        };
                        let request = "GET / HTTP/1.1\r\nHost: lb\r\n\r\n";
                        let answer = s
                            .write_all(request.as_bytes())
                            .map_err(|e| format!("send: {e}"))
                            .and_then(|()| read_response(&mut s));
                        match answer {
                            Ok((200, _, close)) => {
                                st.answered += 1;
                                if used > 0 {
                                    st.reused += 1;
                                }
                                if close {
                                    st.closed_by_server += 1;
                                } else {
                                    conn = Some((s, used + 1));
                                }
                            }
                            Ok((status, _, _)) => st.failures.push(Failed {
                                at: t0.elapsed(),
                                error: format!(
                                    "status {status} (request {} on its connection)",
                                    used + 1
                                ),
                            }),
                            Err(e) => st.failures.push(Failed {
                                at: t0.elapsed(),
                                error: format!("{e} (request {} on its connection)", used + 1),
                            }),
                        }
                        // Idle between requests at times, so that a reload finds some
                        // connections idle and others busy.
                        let idle = (i * 7 + n as u64 * 13) % 10;
                        if idle >= 7 {
                            std::thread::sleep(Duration::from_millis(idle * 5));
                        }
                    }
                    st
                })
            })
            .collect();
        KeepAliveLoad { stop, clients }
    }

    fn finish(self) -> KeepAliveStats {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = KeepAliveStats::default();
        for c in self.clients {
            let st = c.join().expect("keep-alive client");
            all.answered += st.answered;
            all.reused += st.reused;
            all.closed_by_server += st.closed_by_server;
            all.connections += st.connections;
            all.failures.extend(st.failures);
        }
        all
    }
}

/// Ten reloads while keep-alive clients send requests; the clients' totals.
fn reloads_under_keep_alive_load(f: &Fixture, extra: &str) -> KeepAliveStats {
    f.write_config(0, extra);
    assert_eq!(f.agent.run("start").code, 0);
    assert!(wait_for(Duration::from_secs(5), || deep(f).code == 0));
    let load = KeepAliveLoad::start(f.frontend, 6, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(300));
    for generation in 1..=10 {
        f.write_config(generation, extra);
        let r = f.agent.run("reload");
        assert_eq!(r.code, 0, "reload {generation}: {r:?}");
        assert_eq!(f.get("/").unwrap().generation, Some(generation));
        // Let every client send on its old connection before the next reload.
        std::thread::sleep(Duration::from_millis(300));
    }
    load.finish()
}

#[test]
fn ten_reloads_answer_every_request_on_keep_alive_connections() {
    // HAProxy 2.4 and later close idle connections at a soft stop unless told
    // otherwise; with `option idle-close-on-response` the old worker waits for the next
    // request on an idle connection and answers it with `Connection: close`.
    let Some(f) = Fixture::new(&[("require_backends", "web:2")]) else {
        return;
    };
    let st = reloads_under_keep_alive_load(&f, "    option idle-close-on-response");
    let KeepAliveStats {
        answered,
        reused,
        closed_by_server,
        connections,
        failures,
    } = &st;
    eprintln!(
        "haproxy: 10 reloads, keep-alive clients: {answered} requests answered \
         ({reused} on a reused connection) over {connections} connections, \
         {closed_by_server} closed by the old worker, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} failed: {:?}",
        failures.len(),
        *answered as usize + failures.len(),
        &failures[..failures.len().min(5)]
    );
    // The connections were kept alive, and carried requests across the reloads: the old
    // workers answered requests on them (closing them after each answer).
    assert!(answered >= &200, "only {answered} requests went through");
    assert!(
        *reused * 2 > *answered,
        "connections were not kept alive: {reused} of {answered} reused"
    );
    assert!(
        *closed_by_server >= 10,
        "only {closed_by_server} connections were closed by an old worker: the reloads did \
         not find connections kept alive"
    );
}

#[test]
fn without_idle_close_on_response_a_reload_drops_requests_on_idle_keep_alive_connections() {
    // The condition the README states: without the option, the old worker closes the
    // connections that are idle at the reload, and a client that sends on one in that
    // moment gets no answer (it must retry). New connections are not affected.
    let Some(f) = Fixture::new(&[("require_backends", "web:2")]) else {
        return;
    };
    let st = reloads_under_keep_alive_load(&f, "");
    eprintln!(
        "haproxy: 10 reloads without idle-close-on-response: {} answered, {} failed",
        st.answered,
        st.failures.len()
    );
    assert!(
        !st.failures.is_empty(),
        "no request was lost: HAProxy no longer closes idle connections at a reload, and \
         the README's condition is out of date"
    );
    let other: Vec<&Failed> = st
        .failures
        .iter()
        .filter(|f| {
            !(f.error.starts_with("connection closed after 0 bytes") || f.error.contains("reset"))
                || f.error.ends_with("(request 1 on its connection)")
        })
        .collect();
    assert!(
        other.is_empty(),
        "failures other than an idle kept-alive connection closed under a request: {other:?}"
    );
}

/// The live members of a process group.
fn group_members(pgrp: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let f: Vec<String> = s
                        .rsplit_once(") ")?
                        .1
                        .split(' ')
                        .map(str::to_string)
                        .collect();
                    Some(f[0] != "Z" && f[2] == pgrp.to_string())
                })
                .unwrap_or(false)
        })
        .collect()
}

fn deep(f: &Fixture) -> tests::Outcome {
    f.agent.run_with("monitor", &[("OCF_CHECK_LEVEL", "10")])
}

#[test]
fn lifecycle_against_real_haproxy() {
    let Some(f) = Fixture::new(&[("require_backends", "web:2")]) else {
        return;
    };
    let a = &f.agent;
    let probe = a.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")]);
    assert_eq!(probe.code, 7, "{probe:?}");
    assert_eq!(a.run("validate-all").code, 0);

    let start = a.run("start");
    assert_eq!(start.code, 0, "{start:?}");
    assert!(start.stdout.is_empty());
    let pid = f.pid().expect("pid file");
    assert!(alive(pid));
    // The master leads its own session and group; its workers are in the group.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    assert_eq!(
        (fields[2], fields[3]),
        (&*pid.to_string(), &*pid.to_string())
    );
    assert!(group_members(pid).len() >= 2, "master and a worker");
    // Start returns only once a worker answers, so traffic flows at once.
    let r = f.get("/").unwrap();
    assert_eq!((r.status, r.generation), (200, Some(0)));

    assert_eq!(a.run("start").code, 0, "start is idempotent");
    assert_eq!(f.pid(), Some(pid), "no second master");
    assert_eq!(a.run("monitor").code, 0);
    assert!(wait_for(Duration::from_secs(5), || deep(&f).code == 0));

    let stop = a.run("stop");
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(
        stop.took < Duration::from_secs(5),
        "soft stop took {:?}: {stop:?}\nhaproxy log:\n{}",
        stop.took,
        std::fs::read_to_string(f.path("lb.log")).unwrap_or_default()
    );
    assert!(group_members(pid).is_empty(), "master and workers are gone");
    assert!(!f.path("lb.pid").exists());
    assert!(f.get("/").is_err(), "nothing listens any more");
    assert_eq!(a.run("stop").code, 0, "stop is idempotent");
    assert_eq!(a.run("monitor").code, 7);
    assert_eq!(deep(&f).code, 7);
}

#[test]
fn a_killed_master_is_not_running_and_starts_again() {
    let Some(f) = Fixture::new(&[]) else {
        return;
    };
    assert_eq!(f.agent.run("start").code, 0);
    let pid = f.pid().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_for(Duration::from_secs(5), || !alive(pid)));
    assert_eq!(f.agent.run("monitor").code, 7);
    // Its workers notice that the master is gone and exit.
    assert!(
        wait_for(Duration::from_secs(5), || group_members(pid).is_empty()),
        "orphaned workers: {:?}",
        group_members(pid)
    );
    let start = f.agent.run("start");
    assert_eq!(start.code, 0, "{start:?}");
    assert_ne!(f.pid(), Some(pid));
    assert_eq!(f.get("/").unwrap().status, 200);
}

#[test]
fn ten_reloads_under_load_fail_no_request_and_a_bad_config_changes_nothing() {
    let Some(f) = Fixture::new(&[("require_backends", "web:2")]) else {
        return;
    };
    assert_eq!(f.agent.run("start").code, 0);
    assert!(wait_for(Duration::from_secs(5), || deep(&f).code == 0));
    let pid = f.pid().unwrap();

    let load = Load::start(f.frontend, 4, 5_000, Duration::from_secs(30));
    for generation in 1..=10 {
        f.write_config(generation, "");
        let r = f.agent.run("reload");
        assert_eq!(r.code, 0, "reload {generation}: {r:?}");
        // The reload returns once the new worker serves: the change is live at once.
        assert_eq!(f.get("/").unwrap().generation, Some(generation));
    }
    let (ok, failures) = load.finish();
    assert!(
        failures.is_empty(),
        "{} of {} failed: {:?}",
        failures.len(),
        ok as usize + failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(ok >= 100, "only {ok} requests went through");
    eprintln!("haproxy: 10 reloads under load: {ok} requests, 0 failed");
    assert_eq!(f.pid(), Some(pid), "reloads keep the master");
    assert!(wait_for(Duration::from_secs(5), || deep(&f).code == 0));

    // A configuration haproxy -c rejects never reaches the running instance.
    let load = Load::start(f.frontend, 2, 2_000, Duration::from_secs(30));
    f.write_config(11, "    bogus_keyword 1");
    let r = f.agent.run("reload");
    assert_eq!(r.code, 6, "{r:?}");
    assert!(
        r.reason()
            .unwrap()
            .contains("unknown keyword 'bogus_keyword'"),
        "{r:?}"
    );
    assert_eq!(f.get("/").unwrap().generation, Some(10));
    let (ok, failures) = load.finish();
    assert!(
        failures.is_empty(),
        "{:?}",
        &failures[..failures.len().min(5)]
    );
    assert!(ok > 0);

    // One that passes haproxy -c but cannot bind fails in the master, and the old worker
    // keeps serving. While the new process retries its binds, HAProxy pauses the old
    // worker's listeners (SIGTTOU, then SIGTTIN when it gives up): new connections are
    // refused (or, under load, reset) for that moment, which is bounded.
    let load = Load::start(f.frontend, 2, 2_000, Duration::from_secs(30));
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().port();
    f.write_config(12, &format!("    bind 127.0.0.1:{busy}"));
    let r = f.agent.run("reload");
    assert_eq!(r.code, 1, "{r:?}");
    let reason = r.reason().unwrap();
    assert!(
        reason.contains("keeps serving the previous one"),
        "{reason}"
    );
    assert!(reason.contains("cannot bind socket"), "{reason}");
    assert_eq!(f.get("/").unwrap().generation, Some(10));
    assert_eq!(f.agent.run("monitor").code, 0);
    let (ok, failures) = load.finish();
    assert!(ok > 0);
    let window = failure_window(&failures);
    assert!(window < Duration::from_secs(5), "refused for {window:?}");
    let refused = failures
        .iter()
        .filter(|f| f.error.contains("refused"))
        .count();
    eprintln!(
        "haproxy: reload that cannot bind: {} failed ({refused} refused) over {window:?}, {ok} served",
        failures.len()
    );

    // And a good configuration reloads again after the failures.
    drop(held);
    f.write_config(13, "");
    let r = f.agent.run("reload");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(f.get("/").unwrap().generation, Some(13));
}

#[test]
fn server_states_survive_reloads_so_a_dead_server_gets_no_request() {
    let Some(mut f) = Fixture::new(&[("require_backends", "web:2")]) else {
        return;
    };
    // A fresh worker takes servers for up until their first check: without the saved
    // states, each reload would send requests to web3, which is down.
    f.dead_server = Some(free_port());
    f.write_config(0, "");
    assert_eq!(f.agent.run("start").code, 0);
    assert!(wait_for(Duration::from_secs(5), || {
        let m = f.agent.run_with(
            "monitor",
            &[
                ("OCF_CHECK_LEVEL", "10"),
                ("OCF_RESKEY_require_backends", "web:3"),
            ],
        );
        m.reason().is_some_and(|r| r.contains("web3 DOWN"))
    }));
    let load = Load::start(f.frontend, 4, 5_000, Duration::from_secs(30));
    for generation in 1..=5 {
        f.write_config(generation, "");
        let r = f.agent.run("reload");
        assert_eq!(r.code, 0, "reload {generation}: {r:?}");
        assert!(r.stderr.contains("server states saved"), "{r:?}");
    }
    let (ok, failures) = load.finish();
    assert!(
        failures.is_empty(),
        "{} of {} failed: {:?}",
        failures.len(),
        ok as usize + failures.len(),
        &failures[..failures.len().min(5)]
    );
    let state = std::fs::read_to_string(f.path("server-state")).unwrap();
    assert!(
        state.starts_with("1\n") && state.contains(" web3 "),
        "{state}"
    );
    eprintln!("haproxy: 5 reloads with a dead server and saved states: {ok} requests, 0 failed");
}

#[test]
fn depth_10_fails_naming_a_backend_whose_servers_are_all_down() {
    let Some(f) = Fixture::new(&[("require_backends", "web:2 api:1")]) else {
        return;
    };
    assert_eq!(f.agent.run("start").code, 0);
    assert!(wait_for(Duration::from_secs(5), || deep(&f).code == 0));

    f.control("api", "503 0 down");
    assert!(wait_for(Duration::from_secs(5), || deep(&f).code == 1));
    let m = deep(&f);
    let reason = m.reason().unwrap();
    assert!(
        reason.starts_with("backend api has 0 of 1 servers up, needs 1: api1 DOWN"),
        "{reason}"
    );
    assert!(!reason.contains("web"), "{reason}");
    assert_eq!(
        f.agent.run("monitor").code,
        0,
        "depth 0 is the process only"
    );
    assert_eq!(f.get("/").unwrap().status, 200, "the other backends serve");

    std::fs::remove_file(f.path("api.control")).unwrap();
    assert!(wait_for(Duration::from_secs(5), || deep(&f).code == 0));
}

#[test]
fn stop_lets_a_request_finish_and_forces_one_that_outlives_the_timeout() {
    let Some(f) = Fixture::new(&[]) else {
        return;
    };
    assert_eq!(f.agent.run("start").code, 0);
    let pid = f.pid().unwrap();
    f.control("slow", "200 1200 slow");
    let port = f.frontend;
    let request = std::thread::spawn(move || http_get(port, "/slow", Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(300));
    let stop = f.agent.run("stop");
    assert_eq!(stop.code, 0, "{stop:?}");
    let r = request.join().unwrap();
    assert_eq!(
        r.map(|r| r.status),
        Ok(200),
        "the request in flight finished"
    );
    assert!(stop.took > Duration::from_millis(500), "{:?}", stop.took);
    assert!(group_members(pid).is_empty());

    assert_eq!(f.agent.run("start").code, 0);
    let pid = f.pid().unwrap();
    f.control("slow", "200 20000 very slow");
    let request = std::thread::spawn(move || http_get(port, "/slow", Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(300));
    let stop = f
        .agent
        .run_with("stop", &[("OCF_RESKEY_CRM_meta_timeout", "3000")]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(stop.took < Duration::from_millis(3000), "{:?}", stop.took);
    assert!(group_members(pid).is_empty());
    assert!(request.join().unwrap().is_err(), "the slow request was cut");
}

#[test]
fn bad_input_and_a_master_that_cannot_bind() {
    let Some(f) = Fixture::new(&[]) else {
        return;
    };
    std::fs::write(
        f.path("bad.cfg"),
        "global\n    stats socket /x.sock\nbogus\n",
    )
    .unwrap();
    let bad_cfg = f.path("bad.cfg");
    let cases = [
        (
            vec![("OCF_RESKEY_config", bad_cfg.to_str().unwrap())],
            6,
            "unknown keyword 'bogus'",
        ),
        (
            vec![("OCF_RESKEY_binary", "/nonexistent/haproxy")],
            5,
            "not found",
        ),
        (
            vec![("OCF_RESKEY_config", "/nonexistent/haproxy.cfg")],
            5,
            "does not exist",
        ),
        (vec![("OCF_RESKEY_extra_args", "-D")], 6, "extra_args"),
        (
            vec![("OCF_RESKEY_require_backends", "web:2 nosuch:1")],
            6,
            "nosuch",
        ),
    ];
    for (extra, code, needle) in cases {
        for action in ["validate-all", "start"] {
            let o = f.agent.run_with(action, &extra);
            assert_eq!(o.code, code, "{action} {extra:?}: {o:?}");
            assert!(o.reason().is_some_and(|r| r.contains(needle)), "{o:?}");
        }
    }
    assert!(f.pid().is_none(), "nothing was started");

    // The frontend's port is taken: HAProxy's own alert explains the failed start.
    let _held = std::net::TcpListener::bind(("127.0.0.1", f.frontend)).unwrap();
    let o = f.agent.run("start");
    assert_eq!(o.code, 1, "{o:?}");
    let reason = o.reason().unwrap();
    assert!(reason.contains("cannot bind socket"), "{reason}");
    assert!(f.pid().is_none());
    let o = f.agent.run("frobnicate");
    assert_eq!(o.code, 3);
    assert!(o.stderr.contains("usage: haproxy {"), "{o:?}");
}

#[test]
fn haproxy_passes_ocf_tester() {
    let Ok(()) = require(
        have("ocf-tester"),
        "ocf-tester (Debian resource-agents) is not installed",
    ) else {
        return;
    };
    let Ok(()) = require(is_root(), "ocf-tester needs root (it runs su nobody)") else {
        return;
    };
    let Some(f) = Fixture::new(&[("require_backends", "web:1")]) else {
        return;
    };
    let text = tests::ocf_tester(&f.agent, "lb");
    assert!(!text.contains("does not support the reload"), "{text}");
}

#[test]
fn haproxy_metadata_validates_against_the_dtd_and_the_rng() {
    let Ok(()) = require(
        built("haproxy").is_some(),
        "target/<profile>/haproxy is not built (run cargo build --workspace)",
    ) else {
        return;
    };
    let agent = Agent::new(&built("haproxy").unwrap(), "lb", &[]);
    let Ok(md) = tests::validated_metadata(&agent) else {
        return;
    };
    assert!(md.contains("<action name=\"reload\""));
}
