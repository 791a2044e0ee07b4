//! Running one agent operation.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use cib::AgentMetadata;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One operation to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The resource id the agent sees (`OCF_RESOURCE_INSTANCE`).
    pub rsc: String,
    /// `class` (only `ocf` runs here).
    pub class: String,
    /// `provider`.
    pub provider: Option<String>,
    /// `type`: the agent.
    pub agent: String,
    /// `start`, `stop`, `monitor`, `promote`, `demote`, ...
    pub action: String,
    /// Interval in ms (0 for one-shot operations and probes).
    pub interval_ms: u64,
    /// How long the agent may take.
    pub timeout: Duration,
    /// Instance attributes (become `OCF_RESKEY_<name>`).
    pub params: Vec<(String, String)>,
    /// Meta-attributes passed as `OCF_RESKEY_CRM_meta_<name>` (clone settings, ...).
    pub meta: Vec<(String, String)>,
    /// The node it runs on (`OCF_RESKEY_CRM_meta_on_node`).
    pub node: String,
}

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The agent's exit code (OCF), or 1 when it timed out.
    pub rc: i32,
    /// Whether the timeout killed it.
    pub timed_out: bool,
    /// Wall time.
    pub duration: Duration,
    /// The agent's `ocf-exit-reason:` line, if any.
    pub exit_reason: Option<String>,
    /// What a fence agent printed (its list or meta-data), or an OCF agent's meta-data;
    /// empty for other OCF actions, whose standard output goes nowhere, as under
    /// Pacemaker's executor.
    pub stdout: String,
    /// For a one-shot operation of an agent that can reload: `op-force-restart` and
    /// `op-restart-digest`, as Pacemaker's controller records them.
    pub restart: Option<(String, String)>,
}

/// Why an operation could not even be run.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The agent is not installed on this node (Pacemaker records rc 5).
    #[error("agent {0} is not installed")]
    NotInstalled(String),
    /// crm-lite cannot run this class of resource yet.
    #[error("resource class {0} is not supported by crm-lite's executor")]
    UnsupportedClass(String),
    /// Spawning failed.
    #[error("failed to run {path}: {source}")]
    Spawn {
        /// The agent.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Something that runs agent operations.
pub trait Runner {
    /// Run `req` and wait for it (at most its timeout).
    fn run(&self, req: &Request) -> Result<Outcome, ExecError>;
}

/// Runs OCF agents from `<ocf_root>/resource.d/<provider>/<type>`, and fence agents
/// (`class="stonith"`) from `fence_dir` through the fence-agents protocol.
#[derive(Debug, Clone)]
pub struct OcfRunner {
    /// `OCF_ROOT`, usually `/usr/lib/ocf`.
    pub ocf_root: PathBuf,
    /// Where fence agents live, usually `/usr/sbin`.
    pub fence_dir: PathBuf,
    /// When set, each node's agents get `CRM_LITE_ATTR_DIR=<attr_root>/<node>`: where they
    /// leave promotion scores for the executor to collect.
    pub attr_root: Option<PathBuf>,
    /// Nodes that get a `HA_RSCTMP` of their own (created when missing) instead of
    /// [`RSCTMP`]: nodes emulated on this machine beside it, whose agents must not find
    /// each other's pid and state files.
    pub own_rsctmp: BTreeMap<String, PathBuf>,
    /// Agents' meta-data, read once per agent (shared by clones of the runner).
    pub metadata: MetadataCache,
}

/// Agents' meta-data by agent path (`None`: it gave none that parses).
pub type MetadataCache = Arc<Mutex<BTreeMap<PathBuf, Option<Arc<AgentMetadata>>>>>;

/// Pacemaker's `HA_RSCTMP`: where agents keep pid and state files.
pub const RSCTMP: &str = "/run/resource-agents";

impl OcfRunner {
    /// A runner for agents under `ocf_root` and fence agents in `/usr/sbin`.
    pub fn new(ocf_root: PathBuf) -> OcfRunner {
        OcfRunner {
            ocf_root,
            fence_dir: PathBuf::from("/usr/sbin"),
            attr_root: None,
            own_rsctmp: BTreeMap::new(),
            metadata: MetadataCache::default(),
        }
    }

    fn command(&self, req: &Request) -> Result<(PathBuf, Command, Option<String>), ExecError> {
        if req.class == "stonith" {
            return self.fence_command(req);
        }
        if req.class != "ocf" {
            return Err(ExecError::UnsupportedClass(req.class.clone()));
        }
        let (provider, path) = self.agent_path(req);
        if cib::names::check_agent(Some(provider), &req.agent).is_err() || !path.is_file() {
            return Err(ExecError::NotInstalled(format!(
                "ocf:{provider}:{}",
                req.agent
            )));
        }
        let mut cmd = Command::new(&path);
        cmd.arg(&req.action)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("OCF_ROOT", &self.ocf_root)
            .env("OCF_RA_VERSION_MAJOR", "1")
            .env("OCF_RA_VERSION_MINOR", "1")
            .env("OCF_RESOURCE_INSTANCE", &req.rsc)
            .env("OCF_RESOURCE_TYPE", &req.agent)
            .env("OCF_RESOURCE_PROVIDER", provider)
            .env("HA_RSCTMP", self.rsctmp(&req.node)?)
            .env(
                "OCF_RESKEY_CRM_meta_timeout",
                req.timeout.as_millis().to_string(),
            )
            .env("OCF_RESKEY_CRM_meta_interval", req.interval_ms.to_string())
            .env("OCF_RESKEY_CRM_meta_on_node", &req.node)
            .env("OCF_RESKEY_CRM_meta_name", &req.action)
            .env("OCF_RESKEY_crm_feature_set", "3.16.1")
            .stdin(Stdio::null())
            .stdout(if req.action == "meta-data" {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped());
        if let Some(root) = &self.attr_root {
            cmd.env("CRM_LITE_ATTR_DIR", root.join(&req.node));
        }
        for (k, v) in &req.params {
            cmd.env(format!("OCF_RESKEY_{k}"), v);
        }
        for (k, v) in &req.meta {
            cmd.env(format!("OCF_RESKEY_CRM_meta_{}", k.replace('-', "_")), v);
        }
        own_session(&mut cmd);
        Ok((path, cmd, None))
    }

    /// The provider and path of the OCF agent `req` runs.
    fn agent_path<'r>(&self, req: &'r Request) -> (&'r str, PathBuf) {
        let provider = req.provider.as_deref().unwrap_or("heartbeat");
        let path = self
            .ocf_root
            .join("resource.d")
            .join(provider)
            .join(&req.agent);
        (provider, path)
    }

    /// The meta-data of the OCF agent `req` runs, read once (the agent's `meta-data`).
    fn metadata(&self, req: &Request) -> Option<Arc<AgentMetadata>> {
        let (_, path) = self.agent_path(req);
        if let Some(known) = self.metadata.lock().ok()?.get(&path) {
            return known.clone();
        }
        let ask = Request {
            action: "meta-data".into(),
            interval_ms: 0,
            // An agent answers meta-data at once; one that hangs costs at most the
            // operation's own timeout, never more than 10 s.
            timeout: req.timeout.min(Duration::from_secs(10)),
            params: Vec::new(),
            meta: Vec::new(),
            ..req.clone()
        };
        let md = self
            .run(&ask)
            .ok()
            .filter(|o| o.rc == 0)
            .and_then(|o| AgentMetadata::parse(&o.stdout).ok())
            .map(Arc::new);
        if md.is_none() {
            tracing::warn!(agent = %path.display(), "no usable meta-data: no reloads for it");
        }
        self.metadata.lock().ok()?.insert(path, md.clone());
        md
    }

    /// `HA_RSCTMP` for an agent on `node`.
    fn rsctmp(&self, node: &str) -> Result<PathBuf, ExecError> {
        let Some(dir) = self.own_rsctmp.get(node) else {
            return Ok(PathBuf::from(RSCTMP));
        };
        std::fs::create_dir_all(dir).map_err(|source| ExecError::Spawn {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(dir.clone())
    }

    /// A fence agent: `key=value` lines on stdin (the device's parameters without
    /// Pacemaker's `pcmk_*` ones, then `action=`), as Pacemaker's fencer runs them.
    fn fence_command(
        &self,
        req: &Request,
    ) -> Result<(PathBuf, Command, Option<String>), ExecError> {
        let path = self.fence_dir.join(&req.agent);
        if cib::names::check_agent(None, &req.agent).is_err() || !path.is_file() {
            return Err(ExecError::NotInstalled(format!("stonith:{}", req.agent)));
        }
        let mut input = String::new();
        for (k, v) in req.params.iter().filter(|(k, _)| !k.starts_with("pcmk_")) {
            input.push_str(&format!("{k}={v}\n"));
        }
        input.push_str(&format!("action={}\n", req.action));
        let mut cmd = Command::new(&path);
        cmd.env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        own_session(&mut cmd);
        Ok((path, cmd, Some(input)))
    }
}

/// Run the command in its own process group, so that a timeout can end all of it. (A
/// process group, not a session: the standard library then starts the agent with
/// posix_spawn rather than fork, which copies none of crm-lite's memory map.)
fn own_session(cmd: &mut Command) {
    cmd.process_group(0);
}

impl Runner for OcfRunner {
    fn run(&self, req: &Request) -> Result<Outcome, ExecError> {
        let probe = req.action == "monitor" && req.interval_ms == 0;
        if req.class == "stonith" && (req.action == "stop" || probe) {
            // Stopping a fence device only unregisters it, and a probe asks whether it is
            // registered, which a device nobody started is not: no agent runs.
            return Ok(Outcome {
                rc: if probe { 7 } else { 0 },
                timed_out: false,
                duration: Duration::ZERO,
                exit_reason: None,
                stdout: String::new(),
                restart: None,
            });
        }
        let meta = if req.class == "ocf" && req.action != "meta-data" {
            self.metadata(req)
        } else {
            None
        };
        // A planned reload runs as the reload the agent has (reload-agent or reload).
        let mapped;
        let req = match &meta {
            Some(md) if matches!(req.action.as_str(), "reload" | "reload-agent") => {
                mapped = Request {
                    action: crate::metadata::reload_action(md).into(),
                    ..req.clone()
                };
                &mapped
            }
            _ => req,
        };
        let as_monitor;
        let req = if req.class == "stonith" && req.action == "start" {
            // Starting one registers it, after checking that it answers (its monitor).
            as_monitor = Request {
                action: "monitor".into(),
                ..req.clone()
            };
            &as_monitor
        } else {
            req
        };
        let (path, mut cmd, input) = self.command(req)?;
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|source| ExecError::Spawn {
            path: path.display().to_string(),
            source,
        })?;
        let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            // A few hundred bytes fit in the pipe: this does not block on the agent.
            use std::io::Write;
            let _ = stdin.write_all(text.as_bytes());
        }
        // Read stderr in a thread: an agent that writes a lot must not block on a full pipe.
        let mut stderr = child.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(e) = stderr.as_mut() {
                let _ = e.take(1 << 20).read_to_string(&mut s);
            }
            s
        });
        let mut stdout = child.stdout.take();
        let out_reader = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(o) = stdout.as_mut() {
                let _ = o.take(1 << 20).read_to_string(&mut s);
            }
            s
        });
        // A waiter thread reports the exit the moment it happens (no polling delay counts
        // as the agent's time); the timeout is a receive deadline.
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let _ = tx.send(child.wait().ok());
        });
        let mut timed_out = false;
        let status = match rx.recv_timeout(req.timeout) {
            Ok(st) => st,
            Err(_) => {
                timed_out = true;
                let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
                rx.recv().ok().flatten()
            }
        };
        let _ = waiter.join();
        // Whatever the agent left behind in its group goes too.
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let err = reader.join().unwrap_or_default();
        let stdout = out_reader.join().unwrap_or_default();
        let exit_reason = err
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("ocf-exit-reason:"))
            .map(|r| r.trim().to_owned());
        let rc = if timed_out {
            1
        } else {
            status.and_then(|s| s.code()).unwrap_or(1)
        };
        tracing::debug!(rsc = %req.rsc, action = %req.action, rc, timed_out, "operation done");
        let restart = meta
            .filter(|_| req.interval_ms == 0)
            .and_then(|md| crate::metadata::restart_list(&md, &req.params));
        Ok(Outcome {
            rc,
            timed_out,
            duration: started.elapsed(),
            exit_reason,
            stdout,
            restart,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn agent(root: &std::path::Path, body: &str) {
        let dir = root.join("resource.d/test");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let p = dir.join("probe");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn req(action: &str, timeout_ms: u64) -> Request {
        Request {
            rsc: "r1".into(),
            class: "ocf".into(),
            provider: Some("test".into()),
            agent: "probe".into(),
            action: action.into(),
            interval_ms: 0,
            timeout: Duration::from_millis(timeout_ms),
            params: vec![("state".into(), "/x".into())],
            meta: vec![("clone-max".into(), "2".into())],
            node: "n1".into(),
        }
    }

    #[test]
    fn the_agent_sees_pacemakers_environment_and_its_exit_code_counts() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        agent(
            t.path(),
            r#"[ "$1" = start ] || exit 3
[ "$OCF_RESOURCE_INSTANCE" = r1 ] || exit 11
[ "$OCF_RESKEY_state" = /x ] || exit 12
[ "$OCF_RESKEY_CRM_meta_clone_max" = 2 ] || exit 13
[ "$OCF_RESKEY_CRM_meta_timeout" = 5000 ] || exit 14
[ "$OCF_RESKEY_CRM_meta_on_node" = n1 ] || exit 15
[ "$OCF_RESKEY_CRM_meta_name" = start ] || exit 16
[ -n "$OCF_RESKEY_crm_feature_set" ] || exit 17
echo "ocf-exit-reason:all good" >&2
exit 7"#,
        );
        let r = OcfRunner::new(t.path().to_path_buf());
        let out = r.run(&req("start", 5000)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.rc, 7, "{out:?}");
        assert_eq!(out.exit_reason.as_deref(), Some("all good"));
        assert!(!out.timed_out);
    }

    #[test]
    fn a_hanging_agent_and_its_children_are_killed_at_the_timeout() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let marker = t.path().join("child.pid");
        agent(
            t.path(),
            &format!("sleep 30 & echo $! > {}\nwait", marker.display()),
        );
        let r = OcfRunner::new(t.path().to_path_buf());
        let out = r.run(&req("start", 300)).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.timed_out, "{out:?}");
        assert_eq!(out.rc, 1);
        assert!(out.duration < Duration::from_secs(5), "{out:?}");
        let pid: i32 = std::fs::read_to_string(&marker)
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0);
        assert!(pid > 0, "the agent recorded its child");
        // The background child was in the agent's group: it is gone (or a zombie of pid 1).
        std::thread::sleep(Duration::from_millis(200));
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit_once(") ").map(|(_, r)| r.chars().next());
        assert!(
            matches!(state, None | Some(Some('Z')) | Some(Some('X'))),
            "{stat}"
        );
    }

    #[test]
    fn a_missing_agent_or_class_is_an_error_not_a_run() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let r = OcfRunner::new(t.path().to_path_buf());
        assert!(matches!(
            r.run(&req("start", 100)),
            Err(ExecError::NotInstalled(_))
        ));
        let mut q = req("start", 100);
        q.class = "systemd".into();
        assert!(matches!(r.run(&q), Err(ExecError::UnsupportedClass(_))));
    }
}
