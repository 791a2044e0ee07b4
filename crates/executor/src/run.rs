//! Running one agent operation: the OCF policy above the thin process layer
//! ([`crate::process`]): the agent's lookup and environment, its meta-data (read once),
//! the fence-device shortcuts, the reload mapping and the restart digests.
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::{Arc, Mutex};

use cib::AgentMetadata;
use std::path::PathBuf;
use std::time::Duration;

use crate::process;

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
    /// The provider or type is not a plain name (it would lead outside the agent
    /// directory): never run.
    #[error("{0} is not a valid agent name (only A-Z a-z 0-9 _ . : - and no '..')")]
    InvalidAgent(String),
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

    /// The process to start for `req`: the agent with Pacemaker's environment, or a fence
    /// agent with its `key=value` input.
    fn spawn_spec(&self, req: &Request) -> Result<process::Spawn, ExecError> {
        if req.class == "stonith" {
            return self.fence_spec(req);
        }
        if req.class != "ocf" {
            return Err(ExecError::UnsupportedClass(req.class.clone()));
        }
        let (provider, path) = self.agent_path(req)?;
        if !path.is_file() {
            return Err(ExecError::NotInstalled(format!(
                "ocf:{provider}:{}",
                req.agent
            )));
        }
        let mut env: Vec<(OsString, OsString)> = Vec::with_capacity(16 + req.params.len());
        let mut set = |k: &str, v: &dyn AsRef<std::ffi::OsStr>| {
            env.push((k.into(), v.as_ref().to_owned()));
        };
        set("PATH", &PATH);
        set("OCF_ROOT", &self.ocf_root);
        set("OCF_RA_VERSION_MAJOR", &"1");
        set("OCF_RA_VERSION_MINOR", &"1");
        set("OCF_RESOURCE_INSTANCE", &req.rsc);
        set("OCF_RESOURCE_TYPE", &req.agent);
        set("OCF_RESOURCE_PROVIDER", &provider);
        set("HA_RSCTMP", &self.rsctmp(&req.node)?);
        set(
            "OCF_RESKEY_CRM_meta_timeout",
            &req.timeout.as_millis().to_string(),
        );
        set("OCF_RESKEY_CRM_meta_interval", &req.interval_ms.to_string());
        set("OCF_RESKEY_CRM_meta_on_node", &req.node);
        set("OCF_RESKEY_CRM_meta_name", &req.action);
        set("OCF_RESKEY_crm_feature_set", &"3.16.1");
        if let Some(root) = &self.attr_root {
            set("CRM_LITE_ATTR_DIR", &root.join(&req.node));
        }
        for (k, v) in &req.params {
            env.push((format!("OCF_RESKEY_{k}").into(), v.into()));
        }
        for (k, v) in &req.meta {
            env.push((
                format!("OCF_RESKEY_CRM_meta_{}", k.replace('-', "_")).into(),
                v.into(),
            ));
        }
        Ok(process::Spawn {
            program: path,
            args: vec![req.action.clone().into()],
            env,
            stdin: None,
            // An OCF agent's standard output is only read for its meta-data; otherwise it
            // goes nowhere, as under Pacemaker's executor.
            capture_stdout: req.action == "meta-data",
            timeout: req.timeout,
            output_limit: OUTPUT_LIMIT,
        })
    }

    /// The provider and path of the OCF agent `req` runs. The names must be plain names:
    /// the lookup never leaves `<ocf_root>/resource.d`.
    fn agent_path<'r>(&self, req: &'r Request) -> Result<(&'r str, PathBuf), ExecError> {
        let provider = req.provider.as_deref().unwrap_or("heartbeat");
        for name in [provider, req.agent.as_str()] {
            if !valid_agent_name(name) {
                return Err(ExecError::InvalidAgent(format!(
                    "ocf:{provider}:{}",
                    req.agent
                )));
            }
        }
        let path = self
            .ocf_root
            .join("resource.d")
            .join(provider)
            .join(&req.agent);
        Ok((provider, path))
    }

    /// The meta-data of the OCF agent `req` runs, read once (the agent's `meta-data`).
    fn metadata(&self, req: &Request) -> Option<Arc<AgentMetadata>> {
        let (_, path) = self.agent_path(req).ok()?;
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
            .spawn_spec(&ask)
            .map_err(|e| e.to_string())
            .and_then(|spec| crate::metadata::read_with(&spec).map_err(|e| e.to_string()));
        let md = match md {
            Ok(md) => Some(Arc::new(md)),
            Err(error) => {
                tracing::warn!(agent = %path.display(), %error, "no usable meta-data: no reloads for it");
                None
            }
        };
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
    fn fence_spec(&self, req: &Request) -> Result<process::Spawn, ExecError> {
        if !valid_agent_name(&req.agent) {
            return Err(ExecError::InvalidAgent(format!("stonith:{}", req.agent)));
        }
        let path = self.fence_dir.join(&req.agent);
        if !path.is_file() {
            return Err(ExecError::NotInstalled(format!("stonith:{}", req.agent)));
        }
        let mut input = String::new();
        for (k, v) in req.params.iter().filter(|(k, _)| !k.starts_with("pcmk_")) {
            input.push_str(&format!("{k}={v}\n"));
        }
        input.push_str(&format!("action={}\n", req.action));
        Ok(process::Spawn {
            program: path,
            args: Vec::new(),
            env: vec![("PATH".into(), PATH.into())],
            stdin: Some(input.into_bytes()),
            capture_stdout: true,
            timeout: req.timeout,
            output_limit: OUTPUT_LIMIT,
        })
    }
}

/// The `PATH` agents get.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The most bytes of an agent's standard output (meta-data, a fence agent's list) and of
/// its standard error that are kept.
pub const OUTPUT_LIMIT: usize = 1 << 20;

/// Whether `name` can be an agent's provider or type: a plain file name of
/// `[A-Za-z0-9_.:-]`, never `.` or anything with `..`, so that the lookup stays inside the
/// agent directory whatever the CIB says. (`verify` rejects such names with their line;
/// this is the executor's own guard.)
pub fn valid_agent_name(name: &str) -> bool {
    cib::names::check_agent_name("type", name).is_ok()
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
        let spec = self.spawn_spec(req)?;
        let fin = process::run(&spec).map_err(|source| ExecError::Spawn {
            path: spec.program.display().to_string(),
            source,
        })?;
        let err = String::from_utf8_lossy(&fin.stderr);
        let mut exit_reason = err
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("ocf-exit-reason:"))
            .map(|r| r.trim().to_owned());
        if fin.stdout_overflow {
            exit_reason = Some(format!(
                "{} {} printed more than {OUTPUT_LIMIT} bytes on standard output: stopped",
                spec.program.display(),
                req.action
            ));
        }
        let rc = fin.rc();
        tracing::debug!(rsc = %req.rsc, action = %req.action, rc, timed_out = fin.timed_out, "operation done");
        let restart = meta
            .filter(|_| req.interval_ms == 0)
            .and_then(|md| crate::metadata::restart_list(&md, &req.params));
        Ok(Outcome {
            rc,
            timed_out: fin.timed_out,
            duration: fin.duration,
            exit_reason,
            stdout: String::from_utf8_lossy(&fin.stdout).into_owned(),
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

    #[test]
    fn an_agent_name_that_is_a_path_is_never_run() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        agent(t.path(), "exit 0");
        let r = OcfRunner::new(t.path().to_path_buf());
        for (provider, agent) in [
            ("test", "../test/probe"),
            ("../resource.d/test", "probe"),
            ("test", "../../../../bin/true"),
            ("..", "probe"),
            ("test", "pro be"),
        ] {
            let mut q = req("start", 1000);
            q.provider = Some(provider.into());
            q.agent = agent.into();
            let got = r.run(&q);
            assert!(
                matches!(got, Err(ExecError::InvalidAgent(_))),
                "{provider}/{agent}: {got:?}"
            );
        }
        let mut q = req("start", 1000);
        q.class = "stonith".into();
        q.agent = "../usr/bin/true".into();
        assert!(matches!(r.run(&q), Err(ExecError::InvalidAgent(_))));
        assert!(
            valid_agent_name("fence_xvm")
                && valid_agent_name("IPaddr2")
                && valid_agent_name("a.b:c-d")
        );
    }
}
