//! Checks made before anything runs: every agent the CIB configures is installed where
//! [`OcfRunner`](crate::OcfRunner) looks for it (`<ocf_root>/resource.d/<provider>/<type>`,
//! `<fence_dir>/<type>`). An agent that is missing would only be probed "not installed"
//! (rc 5), its resource left stopped and the run reported as converged; `apply` refuses
//! instead, naming it.
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cib::Cib;
use cib::model::Primitive;

/// A configured resource whose agent cannot be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingAgent {
    /// The resource (a primitive, inside a group or clone or not).
    pub rsc: String,
    /// The agent as Pacemaker names it: `ocf:heartbeat:Dummy`, `stonith:fence_xvm`.
    pub agent: String,
    /// Where it was looked for (`None`: its name is no name, or its class is not run).
    pub path: Option<PathBuf>,
    /// Why it cannot be run: `not installed`, `not executable`, ...
    pub reason: &'static str,
}

impl std::fmt::Display for MissingAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "resource {}: agent {} is {}",
            self.rsc, self.agent, self.reason
        )?;
        if let Some(p) = &self.path {
            write!(f, " ({})", p.display())?;
        }
        Ok(())
    }
}

/// Where the agent of `p` is, for agents under `ocf_root` and fence agents in `fence_dir`
/// (the provider defaults to `heartbeat`, as the runner's does); `None` when its class is
/// not run by crm-lite or its name is a path ([`cib::names::check_agent`]).
pub fn agent_path(ocf_root: &Path, fence_dir: &Path, p: &Primitive) -> Option<PathBuf> {
    match p.class.as_str() {
        "ocf" => {
            let provider = p.provider.as_deref().unwrap_or("heartbeat");
            cib::names::check_agent(Some(provider), &p.agent).ok()?;
            Some(ocf_root.join("resource.d").join(provider).join(&p.agent))
        }
        "stonith" => {
            cib::names::check_agent(None, &p.agent).ok()?;
            Some(fence_dir.join(&p.agent))
        }
        _ => None,
    }
}

/// Every configured primitive whose agent is not an executable file where the runner will
/// look for it, in configuration order.
pub fn missing_agents(ocf_root: &Path, fence_dir: &Path, cib: &Cib) -> Vec<MissingAgent> {
    let mut missing = Vec::new();
    for p in cib.primitives() {
        let agent = match &p.provider {
            Some(provider) if p.class == "ocf" => format!("ocf:{provider}:{}", p.agent),
            _ => format!("{}:{}", p.class, p.agent),
        };
        let Some(path) = agent_path(ocf_root, fence_dir, p) else {
            missing.push(MissingAgent {
                rsc: p.id.to_string(),
                agent,
                path: None,
                reason: "not one crm-lite can run",
            });
            continue;
        };
        let reason = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => continue,
            Ok(m) if m.is_file() => "not executable",
            Ok(_) => "not a file",
            Err(_) => "not installed",
        };
        missing.push(MissingAgent {
            rsc: p.id.to_string(),
            agent,
            path: Some(path),
            reason,
        });
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cib(resources: &str) -> Cib {
        let src = format!(
            "<cib><configuration><crm_config/><nodes/><resources>{resources}</resources>\
             <constraints/></configuration><status/></cib>"
        );
        cib::parse("t.xml", &src).cib
    }

    #[test]
    fn agents_that_are_absent_not_executable_or_paths_are_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ocf = dir.path().join("ocf");
        let fence = dir.path().join("sbin");
        std::fs::create_dir_all(ocf.join("resource.d/test")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(&fence).unwrap_or_else(|e| panic!("{e}"));
        let exe = |p: PathBuf, mode: u32| {
            std::fs::write(&p, "#!/bin/sh\n").unwrap_or_else(|e| panic!("{e}"));
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("{e}"));
        };
        exe(ocf.join("resource.d/test/ok"), 0o755);
        exe(ocf.join("resource.d/test/plain"), 0o644);
        exe(fence.join("fence_ok"), 0o755);
        let c = cib(r#"
            <primitive id="a" class="ocf" provider="test" type="ok"/>
            <group id="g"><primitive id="b" class="ocf" provider="test" type="absent"/></group>
            <primitive id="c" class="ocf" provider="test" type="plain"/>
            <primitive id="d" class="stonith" type="fence_ok"/>
            <primitive id="e" class="stonith" type="fence_absent"/>
            <clone id="cl"><primitive id="f" class="ocf" provider="test" type="../../x"/></clone>"#);
        let m = missing_agents(&ocf, &fence, &c);
        let shown: Vec<String> = m.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                format!(
                    "resource b: agent ocf:test:absent is not installed ({}/resource.d/test/absent)",
                    ocf.display()
                ),
                format!(
                    "resource c: agent ocf:test:plain is not executable ({}/resource.d/test/plain)",
                    ocf.display()
                ),
                format!(
                    "resource e: agent stonith:fence_absent is not installed ({}/fence_absent)",
                    fence.display()
                ),
                "resource f: agent ocf:test:../../x is not one crm-lite can run".to_owned(),
            ]
        );
    }
}
