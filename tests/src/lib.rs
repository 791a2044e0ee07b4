//! Helpers for the system tests: finding the binaries under test, free loopback ports,
//! running an agent action with an OCF environment, and requirement checks that fail
//! unless a person set `CRM_LITE_ALLOW_SKIP=1` (see `test-support`).

pub mod drbd_emu;
pub mod lab;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub use test_support::{Skipped, require, skip_allowed};

/// Whether a program is on `PATH`.
pub fn have(program: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Path::new(d).join(program).is_file())
}

/// Whether we are root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The workspace's target directory for the current profile (where `cargo build` put the
/// agents), found from the test executable's own path.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/system-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("target directory")
        .to_path_buf()
}

/// A binary built by `cargo build --workspace`, if present.
pub fn built(name: &str) -> Option<PathBuf> {
    let p = target_dir().join(name);
    p.is_file().then_some(p)
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// What an agent action did.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// How long it took.
    pub took: Duration,
}

impl Outcome {
    /// The last `ocf-exit-reason:` line, if any.
    pub fn reason(&self) -> Option<&str> {
        self.stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("ocf-exit-reason:"))
    }
}

/// An agent binary and the environment of one resource instance.
#[derive(Debug, Clone)]
pub struct Agent {
    /// The agent executable.
    pub path: PathBuf,
    /// `OCF_RESKEY_*` and other variables.
    pub env: BTreeMap<String, String>,
}

impl Agent {
    /// An agent for instance `instance` with parameters `params`.
    pub fn new(path: &Path, instance: &str, params: &[(&str, &str)]) -> Agent {
        let mut env = BTreeMap::new();
        env.insert("OCF_ROOT".into(), "/usr/lib/ocf".into());
        env.insert("OCF_RESOURCE_INSTANCE".into(), instance.into());
        for (k, v) in params {
            env.insert(format!("OCF_RESKEY_{k}"), v.to_string());
        }
        Agent {
            path: path.to_path_buf(),
            env,
        }
    }

    /// Run an action with extra variables (an empty value removes a variable).
    pub fn run_with(&self, action: &str, extra: &[(&str, &str)]) -> Outcome {
        let mut env = self.env.clone();
        for (k, v) in extra {
            if v.is_empty() {
                env.remove(*k);
            } else {
                env.insert(k.to_string(), v.to_string());
            }
        }
        let t0 = Instant::now();
        let out = Command::new(&self.path)
            .arg(action)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&env)
            .output()
            .expect("run the agent");
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            took: t0.elapsed(),
        }
    }

    /// Run an action.
    pub fn run(&self, action: &str) -> Outcome {
        self.run_with(action, &[])
    }
}

/// Whether a process is alive (not a zombie).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, r)| !r.starts_with('Z')))
        .unwrap_or(false)
}

/// Wait until `f` holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// Run `ocf-tester` on an agent with its `OCF_RESKEY_*` parameters as resource `name`;
/// panics with its output unless every test passes. Returns the output.
pub fn ocf_tester(agent: &Agent, name: &str) -> String {
    ocf_tester_with(agent, name, &[])
}

/// [`ocf_tester`] with extra variables in `ocf-tester`'s environment, which it passes on to
/// the agent (`PATH`, `CRM_LITE_ATTR_DIR`, an emulator's state file).
pub fn ocf_tester_with(agent: &Agent, name: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new("ocf-tester");
    cmd.envs(env.iter().copied());
    cmd.arg("-n").arg(name);
    for (k, v) in &agent.env {
        if let Some(p) = k.strip_prefix("OCF_RESKEY_") {
            cmd.arg("-o").arg(format!("{p}={v}"));
        }
    }
    let out = cmd.arg(&agent.path).output().expect("run ocf-tester");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("passed all tests"), "{text}");
    text
}

/// The schemas of Debian's resource-agents.
pub const RA_DTD: &str = "/usr/share/resource-agents/ra-api-1.dtd";
/// The RelaxNG schema of Debian's resource-agents.
pub const RA_RNG: &str = "/usr/share/resource-agents/metadata.rng";

/// Validate a meta-data document with `xmllint` against [`RA_DTD`] or [`RA_RNG`]
/// (`--dtdvalid` / `--relaxng`); the error text when it does not validate.
pub fn xmllint(xml: &str, schema_flag: &str, schema: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("md.xml");
    std::fs::write(&file, xml).expect("write meta-data");
    let out = Command::new("xmllint")
        .args(["--noout", schema_flag, schema])
        .arg(&file)
        .output()
        .expect("run xmllint");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// An agent's meta-data, checked to validate against both `ra-api-1.dtd` and
/// `metadata.rng` (panics otherwise). `Err` (a printed skip; a failure in CI) when
/// xmllint or the schemas are not installed.
pub fn validated_metadata(agent: &Agent) -> Result<String, Skipped> {
    require(have("xmllint"), "xmllint (libxml2-utils) is not installed")?;
    require(
        Path::new(RA_DTD).exists() && Path::new(RA_RNG).exists(),
        "resource-agents schemas are not installed",
    )?;
    let md = agent.run("meta-data");
    assert_eq!(md.code, 0, "{md:?}");
    for (flag, schema) in [("--dtdvalid", RA_DTD), ("--relaxng", RA_RNG)] {
        if let Err(e) = xmllint(&md.stdout, flag, schema) {
            panic!(
                "{} meta-data fails {flag} {schema}: {e}",
                agent.path.display()
            );
        }
    }
    Ok(md.stdout)
}
