//! `ocf:crm-lite:mgmt-api` managing a real HTTP server process (`tiny-httpd`).

use std::path::PathBuf;
use std::time::Duration;

use tests::{Agent, alive, built, free_port, have, is_root, require, wait_for};

const SERVER: &str = env!("CARGO_BIN_EXE_tiny-httpd");

/// One agent instance managing one server, stopped (and its process killed) on drop.
struct Fixture {
    agent: Agent,
    dir: tempfile::TempDir,
    port: u16,
}

impl Fixture {
    fn new(extra_args: &str, params: &[(&str, &str)]) -> Option<Fixture> {
        let Ok(()) = require(
            built("mgmt-api").is_some(),
            "target/<profile>/mgmt-api is not built (run cargo build --workspace)",
        ) else {
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let control = dir.path().join("control");
        let command = format!(
            "{SERVER} --port {port} --control {} {extra_args}",
            control.display()
        );
        let url = format!("http://127.0.0.1:{port}/health");
        let pidfile = dir.path().join("api.pid");
        let log = dir.path().join("api.log");
        let mut all: Vec<(&str, &str)> = vec![
            ("command", &command),
            ("health_url", &url),
            ("pidfile", pidfile.to_str().unwrap()),
            ("log_file", log.to_str().unwrap()),
        ];
        all.extend_from_slice(params);
        let agent = Agent::new(&built("mgmt-api").unwrap(), "api", &all);
        Some(Fixture { agent, dir, port })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn control(&self, text: &str) {
        std::fs::write(self.path("control"), text).unwrap();
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.path("api.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let pid = self.pid();
        let _ = self
            .agent
            .run_with("stop", &[("OCF_RESKEY_CRM_meta_timeout", "5000")]);
        if let Some(pid) = pid.filter(|p| *p > 1) {
            // Only the group this fixture started.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[test]
fn lifecycle_against_a_real_server() {
    let Some(f) = Fixture::new("", &[]) else {
        return;
    };
    let a = &f.agent;
    let probe = a.run_with("monitor", &[("OCF_RESKEY_CRM_meta_interval", "0")]);
    assert_eq!(probe.code, 7, "{probe:?}");

    let start = a.run("start");
    assert_eq!(start.code, 0, "{start:?}");
    assert!(start.stdout.is_empty());
    let pid = f.pid().expect("pid file");
    assert!(alive(pid));
    // The service leads its own session and group.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    assert_eq!(fields[2], pid.to_string(), "process group");
    assert_eq!(fields[3], pid.to_string(), "session");

    assert_eq!(a.run("start").code, 0, "start is idempotent");
    assert_eq!(f.pid(), Some(pid), "no second server");
    for level in ["0", "10", "20"] {
        let m = a.run_with(
            "monitor",
            &[
                ("OCF_CHECK_LEVEL", level),
                ("OCF_RESKEY_expect_body", "^ok$"),
            ],
        );
        assert_eq!(m.code, 0, "level {level}: {m:?}");
    }

    f.control("503 0 maintenance");
    let m = a.run_with("monitor", &[("OCF_CHECK_LEVEL", "10")]);
    assert_eq!(m.code, 1, "{m:?}");
    assert!(m.reason().unwrap().contains("status 503"), "{m:?}");
    assert_eq!(a.run("monitor").code, 0, "depth 0 sees the process only");

    f.control("200 0 degraded");
    let m = a.run_with(
        "monitor",
        &[
            ("OCF_CHECK_LEVEL", "20"),
            ("OCF_RESKEY_expect_body", "^ok$"),
        ],
    );
    assert_eq!(m.code, 1, "{m:?}");
    assert!(m.reason().unwrap().contains("does not match"), "{m:?}");

    f.control("200 300 ok");
    let m = a.run_with(
        "monitor",
        &[("OCF_CHECK_LEVEL", "10"), ("OCF_RESKEY_slow_ms", "100")],
    );
    assert_eq!(m.code, 190, "{m:?}");

    f.control("200 3000 ok");
    let m = a.run_with(
        "monitor",
        &[
            ("OCF_CHECK_LEVEL", "10"),
            ("OCF_RESKEY_CRM_meta_timeout", "1000"),
        ],
    );
    assert_eq!(m.code, 1, "{m:?}");
    assert!(
        m.took < Duration::from_millis(1000),
        "monitor overran: {:?}",
        m.took
    );
    std::fs::remove_file(f.path("control")).unwrap();

    // The service dies behind the agent's back.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_for(Duration::from_secs(5), || !alive(pid)));
    assert_eq!(a.run("monitor").code, 7);
    assert_eq!(a.run("start").code, 0);
    let pid2 = f.pid().unwrap();
    assert_ne!(pid, pid2);

    let stop = a.run("stop");
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(!alive(pid2));
    assert!(!f.path("api.pid").exists());
    assert_eq!(a.run("stop").code, 0, "stop is idempotent");
    assert_eq!(a.run("monitor").code, 7);
    let _ = f.port;
}

#[test]
fn stop_kills_a_server_that_ignores_sigterm_before_the_deadline() {
    let Some(f) = Fixture::new("--ignore-term", &[]) else {
        return;
    };
    assert_eq!(f.agent.run("start").code, 0);
    let pid = f.pid().unwrap();
    let stop = f
        .agent
        .run_with("stop", &[("OCF_RESKEY_CRM_meta_timeout", "3000")]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(stop.took < Duration::from_millis(3000), "{:?}", stop.took);
    assert!(
        stop.took > Duration::from_millis(1500),
        "SIGTERM phase skipped: {:?}",
        stop.took
    );
    assert!(!alive(pid));
}

#[test]
fn bad_input_is_rejected_with_the_right_code() {
    let Some(f) = Fixture::new("", &[]) else {
        return;
    };
    let cases = [
        (
            vec![("OCF_RESKEY_command", "/nonexistent/bin/api")],
            5,
            "not found",
        ),
        (vec![("OCF_RESKEY_command", "")], 6, "command is not set"),
        (
            vec![("OCF_RESKEY_health_url", "ftp://127.0.0.1/")],
            6,
            "health_url",
        ),
        (vec![("OCF_RESKEY_expect_body", "(")], 6, "expect_body"),
        (vec![("OCF_RESKEY_slow_ms", "soon")], 6, "slow_ms"),
    ];
    for (extra, code, needle) in cases {
        for action in ["validate-all", "start"] {
            let o = f.agent.run_with(action, &extra);
            assert_eq!(o.code, code, "{action} {extra:?}: {o:?}");
            assert!(o.reason().is_some_and(|r| r.contains(needle)), "{o:?}");
        }
    }
    assert!(f.pid().is_none(), "nothing was started");
    let o = f.agent.run("frobnicate");
    assert_eq!(o.code, 3);
    assert!(o.stderr.contains("usage: mgmt-api {"), "{o:?}");
}

#[test]
fn a_server_that_cannot_start_is_reported_with_its_log() {
    let Some(f) = Fixture::new("", &[]) else {
        return;
    };
    // Occupy the port so that the server exits at once.
    let _held = std::net::TcpListener::bind(("127.0.0.1", f.port)).unwrap();
    let o = f.agent.run("start");
    assert_eq!(o.code, 1, "{o:?}");
    let reason = o.reason().unwrap();
    assert!(reason.contains("cannot bind"), "{reason}");
    assert!(f.pid().is_none());
}

#[test]
fn the_service_gets_its_env_file_but_not_the_agents_environment() {
    let Some(f) = Fixture::new("", &[]) else {
        return;
    };
    std::fs::write(
        f.path("svc.env"),
        "# settings\nexport API_MODE=\"ha test\"\n",
    )
    .unwrap();
    let dump = f.path("env.dump");
    let port = free_port();
    let command = format!(
        "/bin/sh -c 'env > {}; exec {SERVER} --port {port}'",
        dump.display()
    );
    let url = format!("http://127.0.0.1:{port}/");
    let o = f.agent.run_with(
        "start",
        &[
            ("OCF_RESKEY_command", &command),
            ("OCF_RESKEY_health_url", &url),
            ("OCF_RESKEY_env_file", f.path("svc.env").to_str().unwrap()),
            ("OCF_RESKEY_workdir", f.dir.path().to_str().unwrap()),
        ],
    );
    assert_eq!(o.code, 0, "{o:?}");
    let env = std::fs::read_to_string(&dump).unwrap();
    assert!(env.contains("API_MODE=ha test"), "{env}");
    assert!(!env.contains("OCF_"), "{env}");
    assert!(
        env.contains(&format!("PWD={}", f.dir.path().display())),
        "{env}"
    );
}

#[test]
fn the_service_runs_as_the_configured_user() {
    let Ok(()) = require(is_root(), "running as another user needs root") else {
        return;
    };
    let Some(f) = Fixture::new("", &[("user", "nobody")]) else {
        return;
    };
    // The log file and temp dir must be reachable by nobody.
    std::fs::set_permissions(
        f.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let o = f.agent.run("start");
    assert_eq!(o.code, 0, "{o:?}");
    let pid = f.pid().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap().uid;
    assert!(
        uid.split_whitespace().nth(1) == Some(&nobody.to_string()),
        "{uid}"
    );
}

#[test]
fn passes_ocf_tester() {
    let Ok(()) = require(
        have("ocf-tester"),
        "ocf-tester (Debian resource-agents) is not installed",
    ) else {
        return;
    };
    let Ok(()) = require(is_root(), "ocf-tester needs root (it runs su nobody)") else {
        return;
    };
    let Some(f) = Fixture::new("", &[]) else {
        return;
    };
    tests::ocf_tester(&f.agent, "api");
}

#[test]
fn metadata_validates_against_the_dtd_and_the_rng() {
    let Some(f) = Fixture::new("", &[]) else {
        return;
    };
    let Ok(md) = tests::validated_metadata(&f.agent) else {
        return;
    };
    // A deliberately broken document fails the same check: the check can fail.
    let broken = md.replace("<version>1.0</version>", "");
    assert!(tests::xmllint(&broken, "--dtdvalid", tests::RA_DTD).is_err());
}

#[test]
fn logs_go_to_stderr_and_the_ha_log_files_but_never_stdout() {
    let Some(f) = Fixture::new("", &[]) else {
        return;
    };
    let log = f.path("ha.log");
    let debug = f.path("ha-debug.log");
    let vars = [
        ("HA_LOGFILE", log.to_str().unwrap()),
        ("HA_DEBUGFILE", debug.to_str().unwrap()),
    ];
    let start = f.agent.run_with("start", &vars);
    assert_eq!(start.code, 0, "{start:?}");
    assert!(start.stdout.is_empty());
    assert!(start.stderr.contains("started"), "{start:?}");
    let bad = f.agent.run_with(
        "start",
        &[vars[0], vars[1], ("OCF_RESKEY_command", "/nonexistent")],
    );
    assert_eq!(bad.code, 5);
    let info = std::fs::read_to_string(&log).unwrap();
    assert!(
        info.contains("started") && info.contains("rsc=\"api\""),
        "{info}"
    );
    assert!(
        info.contains("ERROR") && info.contains("not found"),
        "{info}"
    );
    // The debug file gets debug events too ("... done" after each action).
    let dbg = std::fs::read_to_string(&debug).unwrap();
    assert!(dbg.contains("DEBUG") && dbg.contains("start done"), "{dbg}");
    assert!(!info.contains("DEBUG"), "{info}");
}
