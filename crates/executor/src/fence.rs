//! Fencing a node through a fence agent, the way Pacemaker's fencer drives the
//! fence-agents protocol: `key=value` lines on the agent's standard input, `action=` the
//! operation and `nodename=` the target (plus the agent's own host argument, `port` or
//! `plug`, when its meta-data has one).
use std::time::{Duration, Instant};

use crate::run::{ExecError, Outcome, Request, Runner};

/// A configured fence device (a `class="stonith"` primitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The resource id.
    pub id: String,
    /// The fence agent (`fence_ipmilan`, ...).
    pub agent: String,
    /// Its instance attributes, `pcmk_*` ones included.
    pub params: Vec<(String, String)>,
}

/// How a device was asked to fence a node, and what it answered.
#[derive(Debug)]
pub struct Attempt {
    /// The device used.
    pub device: String,
    /// The agent's answer (rc 0 is success).
    pub outcome: Result<Outcome, ExecError>,
}

/// Pacemaker's default `pcmk_<action>_retries`: how many times an action is tried again
/// (while its timeout has time left) after it failed.
pub const DEFAULT_RETRIES: u32 = 2;

impl Device {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// What the agent is asked to do for `action`: `pcmk_<action>_action` when the device
    /// sets one (a device whose `reboot` is spelled otherwise, or an `off` that must be a
    /// `reboot`), else `action`.
    pub fn command(&self, action: &str) -> String {
        self.param(&format!("pcmk_{action}_action"))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .unwrap_or(action)
            .to_owned()
    }

    /// The time `action` may take: `pcmk_<action>_timeout` when the device sets one, else
    /// `default` (the fence operation's timeout).
    pub fn timeout(&self, action: &str, default: Duration) -> Duration {
        self.param(&format!("pcmk_{action}_timeout"))
            .and_then(cib::duration::parse_ms)
            .filter(|ms| *ms > 0)
            .map_or(default, Duration::from_millis)
    }

    /// How many times a failed `action` is tried again: `pcmk_<action>_retries`, else
    /// [`DEFAULT_RETRIES`].
    pub fn retries(&self, action: &str) -> u32 {
        self.param(&format!("pcmk_{action}_retries"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_RETRIES)
    }

    /// How long to wait before fencing `target` with `action`: only `off` and `reboot`
    /// wait, `pcmk_delay_base` (one time, or a per-node map `n1:1s;n2:5s`) plus a share
    /// `random` (0 to 1) of what `pcmk_delay_max` leaves above it.
    pub fn delay(&self, target: &str, action: &str, random: f64) -> Duration {
        if !matches!(action, "off" | "reboot") {
            return Duration::ZERO;
        }
        let base = self.param("pcmk_delay_base").map_or(0, |v| {
            if v.contains(':') {
                v.split([';', ' ', ','])
                    .filter_map(|e| e.split_once(':'))
                    .find(|(n, _)| n.trim() == target)
                    .and_then(|(_, d)| cib::duration::parse_ms(d))
                    .unwrap_or(0)
            } else {
                cib::duration::parse_ms(v).unwrap_or(0)
            }
        });
        let max = self
            .param("pcmk_delay_max")
            .and_then(cib::duration::parse_ms)
            .unwrap_or(0);
        let extra = if max > base {
            ((max - base) as f64 * random.clamp(0.0, 1.0)) as u64
        } else {
            0
        };
        Duration::from_millis(base + extra)
    }

    fn request(&self, action: &str, timeout: Duration, extra: &[(String, String)]) -> Request {
        let mut params = self.params.clone();
        params.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        params.extend_from_slice(extra);
        Request {
            rsc: self.id.clone(),
            class: "stonith".into(),
            provider: None,
            agent: self.agent.clone(),
            action: self.command(action),
            interval_ms: 0,
            timeout,
            params,
            meta: Vec::new(),
            node: String::new(),
        }
    }

    /// Runs `action` (as [`Device::command`] spells it, within [`Device::timeout`]),
    /// trying it again up to [`Device::retries`] times while the timeout has time left, as
    /// Pacemaker's fencer does. The last answer is returned.
    fn run(
        &self,
        runner: &dyn Runner,
        action: &str,
        timeout: Duration,
        extra: &[(String, String)],
    ) -> Result<Outcome, ExecError> {
        let timeout = self.timeout(action, timeout);
        let start = Instant::now();
        let mut last = runner.run(&self.request(action, timeout, extra));
        for _ in 0..self.retries(action) {
            if last.as_ref().is_ok_and(|o| o.rc == 0) {
                break;
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                break;
            }
            tracing::debug!(device = %self.id, action, "fence device action failed: trying again");
            last = runner.run(&self.request(action, left, extra));
        }
        last
    }

    /// The value `pcmk_host_map` gives `target` (`node:port;node2:port2`), if any.
    fn mapped(&self, target: &str) -> Option<String> {
        self.param("pcmk_host_map")?
            .split([';', ' ', '\t'])
            .filter_map(|e| e.split_once([':', '=']))
            .find(|(n, _)| n.trim() == target)
            .map(|(_, p)| p.trim().to_owned())
    }

    /// Whether this device may fence `target`, by Pacemaker's `pcmk_host_check`:
    /// `static-list` (the default when `pcmk_host_list` or `pcmk_host_map` is set), `none`,
    /// `status` (the agent's `status` of the target answers on or off), or `dynamic-list`
    /// (the default otherwise: the agent's `list` output names it).
    pub fn can_fence(&self, runner: &dyn Runner, target: &str, timeout: Duration) -> bool {
        let has_static =
            self.param("pcmk_host_list").is_some() || self.param("pcmk_host_map").is_some();
        let check = self.param("pcmk_host_check").unwrap_or(if has_static {
            "static-list"
        } else {
            "dynamic-list"
        });
        match check {
            "none" => true,
            "static-list" => {
                self.mapped(target).is_some()
                    || self
                        .param("pcmk_host_list")
                        .is_some_and(|l| l.split([',', ' ', '\t']).any(|n| n == target))
            }
            "status" => {
                let meta = self.metadata(runner, timeout);
                let extra = self.target_args(target, meta.as_deref());
                // 0: on, 2: off; either way the device controls the target.
                matches!(
                    self.run(runner, "status", timeout, &extra),
                    Ok(o) if o.rc == 0 || o.rc == 2
                )
            }
            _ => match self.run(runner, "list", timeout, &[]) {
                Ok(o) if o.rc == 0 => listed(&o.stdout, target),
                _ => false,
            },
        }
    }

    /// The agent's meta-data, unless nothing needs it (`pcmk_host_argument` set).
    fn metadata(&self, runner: &dyn Runner, timeout: Duration) -> Option<String> {
        runner
            .run(&Request {
                action: "metadata".into(),
                ..self.request("metadata", timeout, &[])
            })
            .ok()
            .filter(|o| o.rc == 0)
            .map(|o| o.stdout)
    }

    /// The parameter that carries the target for this agent: `pcmk_host_argument` when set
    /// (`none`: there is none), else `port` or `plug` when the agent's meta-data has one.
    fn host_argument(&self, meta: Option<&str>) -> Option<String> {
        if let Some(a) = self.param("pcmk_host_argument") {
            return (a != "none").then(|| a.to_owned());
        }
        let meta = meta?;
        ["port", "plug"]
            .into_iter()
            .find(|p| meta.contains(&format!("name=\"{p}\"")))
            .map(str::to_owned)
    }

    /// What names the target to the agent: `nodename`, and the agent's host argument
    /// (the `pcmk_host_map` alias, else the node name) unless the device configures that
    /// parameter itself (other than `dynamic`), as Pacemaker's fencer does.
    fn target_args(&self, target: &str, meta: Option<&str>) -> Vec<(String, String)> {
        let mut extra = vec![("nodename".to_owned(), target.to_owned())];
        if let Some(arg) = self.host_argument(meta) {
            let configured = self
                .param(&arg)
                .is_some_and(|v| !v.trim().eq_ignore_ascii_case("dynamic"));
            if !configured {
                let value = self.mapped(target).unwrap_or_else(|| target.to_owned());
                extra.retain(|(k, _)| *k != arg);
                extra.push((arg, value));
            }
        }
        extra
    }

    /// Ask the agent to `action` (`reboot`, `off`, `on`) `target`, as Pacemaker's fencer
    /// does: a `reboot` the agent's meta-data does not list (and no `pcmk_reboot_action`
    /// names) is an `off`; `off` and `reboot` wait [`Device::delay`] first (`random`: 0
    /// to 1, the share of `pcmk_delay_max`); the device's `pcmk_<action>_action`,
    /// `_timeout` and `_retries` apply.
    pub fn fence(
        &self,
        runner: &dyn Runner,
        target: &str,
        action: &str,
        timeout: Duration,
        random: f64,
    ) -> Result<Outcome, ExecError> {
        let needs_meta = self.param("pcmk_host_argument").is_none()
            || (action == "reboot" && self.param("pcmk_reboot_action").is_none());
        let meta = needs_meta.then(|| self.metadata(runner, timeout)).flatten();
        let no_reboot = action == "reboot"
            && self.param("pcmk_reboot_action").is_none()
            && meta
                .as_deref()
                .is_some_and(|m| m.contains("<actions>") && !m.contains("name=\"reboot\""));
        let action = if no_reboot {
            tracing::info!(device = %self.id, target, "the agent has no reboot: fencing with off");
            "off"
        } else {
            action
        };
        let extra = self.target_args(target, meta.as_deref());
        let delay = self.delay(target, action, random);
        if !delay.is_zero() {
            tracing::info!(device = %self.id, target, ms = delay.as_millis() as u64, "fence delay");
            std::thread::sleep(delay);
        }
        self.run(runner, action, timeout, &extra)
    }
}

/// A share between 0 and 1 that differs from call to call (for `pcmk_delay_max`, whose
/// point is that two nodes fencing each other do not wait the same time).
fn random_share() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() % 10_001) as f64 / 10_000.0
}

/// Whether a fence agent's `list` output names `target` (one target per line, its name
/// first, then optionally a comma and an alias).
fn listed(out: &str, target: &str) -> bool {
    out.lines().any(|l| {
        l.split([',', ' ', '\t'])
            .next()
            .is_some_and(|n| n.trim() == target)
    })
}

/// Fence `target` with the first of `devices` that can, trying the next when one fails, as
/// Pacemaker's fencer does with several devices at one level. Every attempt is returned, the
/// last one decisive; none at all means no device can fence `target`.
pub fn fence_node(
    runner: &dyn Runner,
    devices: &[Device],
    target: &str,
    action: &str,
    timeout: Duration,
) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    for d in devices
        .iter()
        .filter(|d| d.can_fence(runner, target, timeout))
    {
        let outcome = d.fence(runner, target, action, timeout, random_share());
        let ok = outcome.as_ref().is_ok_and(|o| o.rc == 0);
        attempts.push(Attempt {
            device: d.id.clone(),
            outcome,
        });
        if ok {
            break;
        }
    }
    attempts
}

/// Fencing through Pacemaker's fencer, when one runs on this node: crm-lite beside a
/// running Pacemaker (on one Corosync ring) asks `pacemaker-fenced` with `stonith_admin`
/// instead of calling a fence agent itself, so that one fencer, with Pacemaker's devices
/// and topology, fences each node once and keeps the history `stonith_admin --history`
/// shows.
pub mod pacemaker {
    use std::ffi::OsString;
    use std::path::PathBuf;
    use std::time::Duration;

    use super::Attempt;
    use crate::process::{self, Spawn};
    use crate::run::{ExecError, Outcome};

    /// The name Pacemaker's fencer serves its IPC under (libqb publishes it as an abstract
    /// Unix socket of the node's network namespace).
    pub const IPC_NAME: &str = "stonith-ng";

    /// Whether `/proc/net/unix` (as this node sees it) lists the fencer's abstract socket
    /// listening: `@stonith-ng`, the rest of the name NUL bytes (libqb binds the whole
    /// `sun_path`; the kernel shows each NUL as `@`), flag `__SO_ACCEPTCON` (0x10000) set.
    /// Checked in the lab against Pacemaker 2.1's fencer.
    pub fn serving(proc_net_unix: &str) -> bool {
        proc_net_unix.lines().skip(1).any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let listening = cols
                .get(3)
                .and_then(|f| u32::from_str_radix(f, 16).ok())
                .is_some_and(|f| f & 0x10000 != 0);
            let named = cols.get(7).is_some_and(|path| {
                path.strip_prefix('@')
                    .and_then(|p| p.strip_prefix(IPC_NAME))
                    .is_some_and(|rest| rest.bytes().all(|b| b == b'@'))
            });
            listening && named
        })
    }

    /// Whether Pacemaker's fencer runs on this node.
    pub fn running() -> bool {
        std::fs::read_to_string("/proc/net/unix").is_ok_and(|t| serving(&t))
    }

    /// The `stonith_admin` command that asks the fencer to `action` (`reboot`, `off`,
    /// `on`) `target` within `timeout`; `None` for another action.
    pub fn command(target: &str, action: &str, timeout: Duration) -> Option<Spawn> {
        let flag = match action {
            "reboot" => "--reboot",
            "off" => "--fence",
            "on" => "--unfence",
            _ => return None,
        };
        let secs = timeout.as_secs().max(1);
        Some(Spawn {
            program: PathBuf::from("stonith_admin"),
            args: vec![
                OsString::from(format!("{flag}={target}")),
                OsString::from(format!("--timeout={secs}")),
            ],
            env: vec![(
                OsString::from("PATH"),
                OsString::from("/usr/sbin:/usr/bin:/sbin:/bin"),
            )],
            stdin: None,
            capture_stdout: true,
            // The fencer has the whole timeout; stonith_admin a little more to say so.
            timeout: timeout + Duration::from_secs(5),
            output_limit: 64 * 1024,
        })
    }

    /// Ask the fencer to `action` `target`; one attempt, the fencer's answer (exit 0 is
    /// done, as its `stonith_admin` says).
    pub fn fence(target: &str, action: &str, timeout: Duration) -> Attempt {
        let device = "pacemaker-fenced".to_owned();
        let Some(spec) = command(target, action, timeout) else {
            return Attempt {
                device,
                outcome: Err(ExecError::Spawn {
                    path: "stonith_admin".into(),
                    source: std::io::Error::other(format!("no fencer action for {action}")),
                }),
            };
        };
        let outcome = match process::run(&spec) {
            Ok(f) => {
                let stderr = String::from_utf8_lossy(&f.stderr);
                let rc = f.rc();
                Ok(Outcome {
                    rc,
                    timed_out: f.timed_out,
                    duration: f.duration,
                    exit_reason: (rc != 0)
                        .then(|| stderr.lines().last().unwrap_or("").trim().to_owned())
                        .filter(|r| !r.is_empty()),
                    stdout: String::from_utf8_lossy(&f.stdout).into_owned(),
                    restart: None,
                })
            }
            Err(source) => Err(ExecError::Spawn {
                path: "stonith_admin".into(),
                source,
            }),
        };
        Attempt { device, outcome }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const HEADER: &str = "Num       RefCount Protocol Flags    Type St Inode Path\n";

        #[test]
        fn the_fencer_is_found_by_its_listening_abstract_socket_only() {
            // As /proc/net/unix showed it in a lab node running Pacemaker 2.1 (the name
            // padded with NULs, shown as @; the listener has flag 0x10000).
            let pad = "@".repeat(96);
            let line = |flags: &str, name: &str| {
                format!(
                    "{HEADER}0000000099693dbf: 00000002 00000000 {flags} 0001 01 1565630 {name}\n"
                )
            };
            assert!(serving(&line("00010000", &format!("@stonith-ng{pad}"))));
            assert!(serving(&line("00010000", "@stonith-ng")));
            // A connection to it is not the server; nor is another name.
            assert!(!serving(&line("00000000", &format!("@stonith-ng{pad}"))));
            for other in ["@stonith-ngx", "@cib_rw", "/run/stonith-ng", "@crm-lite"] {
                assert!(!serving(&line("00010000", other)), "{other}");
            }
            assert!(!serving(HEADER));
        }

        #[test]
        fn actions_map_to_stonith_admin_options() {
            let t = Duration::from_secs(60);
            let args = |a: &str| {
                command("n2", a, t).map(|s| {
                    s.args
                        .iter()
                        .map(|x| x.to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                })
            };
            assert_eq!(args("reboot").unwrap(), ["--reboot=n2", "--timeout=60"]);
            assert_eq!(args("off").unwrap(), ["--fence=n2", "--timeout=60"]);
            assert_eq!(args("on").unwrap(), ["--unfence=n2", "--timeout=60"]);
            assert!(args("status").is_none());
            assert_eq!(
                command("n2", "off", t).unwrap().timeout,
                Duration::from_secs(65)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Answers as a fence agent would and keeps every request.
    struct Fake {
        seen: Mutex<Vec<Request>>,
        list: &'static str,
        meta: &'static str,
        rc: i32,
    }

    impl Runner for Fake {
        fn run(&self, req: &Request) -> Result<Outcome, ExecError> {
            self.seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(req.clone());
            let stdout = match req.action.as_str() {
                "list" => self.list,
                "metadata" => self.meta,
                _ => "",
            };
            Ok(Outcome {
                rc: if req.action == "reboot" { self.rc } else { 0 },
                timed_out: false,
                duration: Duration::ZERO,
                exit_reason: None,
                stdout: stdout.into(),
                restart: None,
            })
        }
    }

    fn dev(id: &str, params: &[(&str, &str)]) -> Device {
        Device {
            id: id.into(),
            agent: "fence_test".into(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn fake(rc: i32) -> Fake {
        Fake {
            seen: Mutex::new(Vec::new()),
            list: "n1,alias\nn2\n",
            meta: r#"<parameter name="port" unique="0">"#,
            rc,
        }
    }

    #[test]
    fn the_target_goes_as_nodename_and_as_the_agents_host_argument() {
        let f = fake(0);
        let d = dev("f1", &[("ip", "127.0.0.1"), ("pcmk_host_map", "n1:7;n2:8")]);
        let a = fence_node(&f, &[d], "n2", "reboot", Duration::from_secs(1));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].outcome.as_ref().map(|o| o.rc).ok(), Some(0));
        let seen = f.seen.lock().unwrap_or_else(|e| e.into_inner());
        let reboot = seen.iter().find(|r| r.action == "reboot");
        let params = reboot.map(|r| r.params.clone()).unwrap_or_default();
        assert!(
            params.contains(&("nodename".into(), "n2".into())),
            "{params:?}"
        );
        assert!(params.contains(&("port".into(), "8".into())), "{params:?}");
        assert!(
            params.contains(&("ip".into(), "127.0.0.1".into())),
            "{params:?}"
        );
    }

    #[test]
    fn devices_that_cannot_reach_the_target_are_not_asked() {
        let f = fake(0);
        let only_n1 = dev("f1", &[("pcmk_host_list", "n1")]);
        let dynamic = dev("f2", &[]);
        let a = fence_node(
            &f,
            std::slice::from_ref(&only_n1),
            "n2",
            "reboot",
            Duration::from_secs(1),
        );
        assert!(a.is_empty());
        let a = fence_node(&f, &[only_n1, dynamic], "n2", "off", Duration::from_secs(1));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].device, "f2");
        let a = fence_node(
            &f,
            &[dev("f3", &[])],
            "n9",
            "reboot",
            Duration::from_secs(1),
        );
        assert!(a.is_empty(), "n9 is not in the agent's list");
    }

    #[test]
    fn a_failed_device_hands_over_to_the_next() {
        let f = fake(1);
        let a = fence_node(
            &f,
            &[
                dev("f1", &[("pcmk_host_check", "none")]),
                dev(
                    "f2",
                    &[("pcmk_host_check", "none"), ("pcmk_host_argument", "none")],
                ),
            ],
            "n1",
            "reboot",
            Duration::from_secs(1),
        );
        assert_eq!(a.len(), 2);
        assert!(
            a.iter()
                .all(|x| x.outcome.as_ref().is_ok_and(|o| o.rc == 1))
        );
        let seen = f.seen.lock().unwrap_or_else(|e| e.into_inner());
        let last = seen.iter().rev().find(|r| r.action == "reboot");
        let params = last.map(|r| r.params.clone()).unwrap_or_default();
        assert!(!params.iter().any(|(k, _)| k == "port"), "{params:?}");
    }
    /// An action asked: what, within how long, with which parameters.
    type Asked = (String, Duration, Vec<(String, String)>);

    /// A fence agent that answers `list` and `metadata` from its script, and every other
    /// action with the next rc of `rcs` (0 once they run out); it keeps every request.
    struct Scripted {
        seen: Mutex<Vec<Request>>,
        meta: &'static str,
        rcs: Mutex<Vec<i32>>,
    }

    impl Scripted {
        fn new(meta: &'static str, rcs: &[i32]) -> Scripted {
            Scripted {
                seen: Mutex::new(Vec::new()),
                meta,
                rcs: Mutex::new(rcs.iter().rev().copied().collect()),
            }
        }

        /// The actions asked, other than meta-data.
        fn asked(&self) -> Vec<Asked> {
            self.seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter(|r| r.action != "metadata")
                .map(|r| (r.action.clone(), r.timeout, r.params.clone()))
                .collect()
        }
    }

    impl Runner for Scripted {
        fn run(&self, req: &Request) -> Result<Outcome, ExecError> {
            self.seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(req.clone());
            let (rc, stdout) = match req.action.as_str() {
                "metadata" => (0, self.meta),
                "list" => (0, "n1\nn2\n"),
                _ => (
                    self.rcs
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .pop()
                        .unwrap_or(0),
                    "",
                ),
            };
            Ok(Outcome {
                rc,
                timed_out: false,
                duration: Duration::ZERO,
                exit_reason: None,
                stdout: stdout.into(),
                restart: None,
            })
        }
    }

    const WITH_REBOOT: &str = r#"<parameters><parameter name="port"/></parameters><actions><action name="on"/><action name="off"/><action name="reboot"/></actions>"#;
    const NO_REBOOT: &str = r#"<parameters><parameter name="plug"/></parameters><actions><action name="on"/><action name="off"/></actions>"#;
    const T: Duration = Duration::from_secs(60);

    #[test]
    fn pcmk_reboot_action_and_pcmk_off_action_name_what_the_agent_runs() {
        let f = Scripted::new(WITH_REBOOT, &[]);
        let d = dev(
            "f1",
            &[("pcmk_host_check", "none"), ("pcmk_reboot_action", "off")],
        );
        let a = fence_node(&f, &[d], "n2", "reboot", T);
        assert_eq!(a.len(), 1);
        let asked: Vec<String> = f.asked().into_iter().map(|(a, ..)| a).collect();
        assert_eq!(asked, ["off"], "a reboot the device spells off is an off");
        let f = Scripted::new(WITH_REBOOT, &[]);
        let d = dev(
            "f1",
            &[
                ("pcmk_host_check", "none"),
                ("pcmk_off_action", "power-off"),
            ],
        );
        fence_node(&f, &[d], "n2", "off", T);
        let asked: Vec<String> = f.asked().into_iter().map(|(a, ..)| a).collect();
        assert_eq!(asked, ["power-off"]);
        // The list too is asked as the device spells it.
        let f = Scripted::new(WITH_REBOOT, &[]);
        let d = dev("f1", &[("pcmk_list_action", "hosts")]);
        assert!(!d.can_fence(&f, "n2", T), "the fake knows no 'hosts' list");
        assert_eq!(f.asked()[0].0, "hosts");
    }

    #[test]
    fn a_reboot_the_agent_does_not_have_is_an_off() {
        let f = Scripted::new(NO_REBOOT, &[]);
        let d = dev("f1", &[("pcmk_host_check", "none")]);
        fence_node(&f, &[d], "n1", "reboot", T);
        let asked = f.asked();
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].0, "off");
        assert!(
            asked[0].2.contains(&("plug".into(), "n1".into())),
            "{:?}",
            asked[0].2
        );
        let f = Scripted::new(WITH_REBOOT, &[]);
        fence_node(
            &f,
            &[dev("f1", &[("pcmk_host_check", "none")])],
            "n1",
            "reboot",
            T,
        );
        assert_eq!(f.asked()[0].0, "reboot");
    }

    #[test]
    fn a_failed_action_is_retried_pcmk_retries_times_within_its_own_timeout() {
        // Fails twice, then works: the default two retries reach it.
        let f = Scripted::new(WITH_REBOOT, &[1, 1, 0]);
        let d = dev(
            "f1",
            &[("pcmk_host_check", "none"), ("pcmk_reboot_timeout", "90s")],
        );
        let a = fence_node(&f, &[d], "n1", "reboot", T);
        assert_eq!(a[0].outcome.as_ref().map(|o| o.rc).ok(), Some(0));
        let asked = f.asked();
        assert_eq!(asked.len(), 3, "{asked:?}");
        // The device's own timeout, not the operation's.
        assert_eq!(asked[0].1, Duration::from_secs(90));
        assert!(asked[1].1 <= Duration::from_secs(90));
        // No retries: one failed run.
        let f = Scripted::new(WITH_REBOOT, &[1, 0]);
        let d = dev(
            "f1",
            &[("pcmk_host_check", "none"), ("pcmk_reboot_retries", "0")],
        );
        let a = fence_node(&f, &[d], "n1", "reboot", T);
        assert_eq!(a[0].outcome.as_ref().map(|o| o.rc).ok(), Some(1));
        assert_eq!(f.asked().len(), 1);
    }

    #[test]
    fn a_host_argument_the_device_configures_is_not_overridden() {
        let f = Scripted::new(WITH_REBOOT, &[]);
        let d = dev("f1", &[("pcmk_host_check", "none"), ("port", "7")]);
        fence_node(&f, &[d], "n2", "reboot", T);
        let params = f.asked()[0].2.clone();
        assert_eq!(
            params
                .iter()
                .filter(|(k, _)| k == "port")
                .collect::<Vec<_>>(),
            [&("port".to_owned(), "7".to_owned())]
        );
        assert!(params.contains(&("nodename".into(), "n2".into())));
        let f = Scripted::new(WITH_REBOOT, &[]);
        let d = dev("f1", &[("pcmk_host_check", "none"), ("port", "dynamic")]);
        fence_node(&f, &[d], "n2", "reboot", T);
        let params = f.asked()[0].2.clone();
        assert_eq!(params.last(), Some(&("port".to_owned(), "n2".to_owned())));
    }

    #[test]
    fn delays_apply_to_off_and_reboot_per_target_up_to_pcmk_delay_max() {
        let d = dev(
            "f1",
            &[
                ("pcmk_delay_base", "n1:2s;n2:5s"),
                ("pcmk_delay_max", "10s"),
            ],
        );
        assert_eq!(d.delay("n2", "reboot", 0.0), Duration::from_secs(5));
        assert_eq!(d.delay("n1", "off", 0.5), Duration::from_secs(6));
        assert_eq!(d.delay("n1", "off", 1.0), Duration::from_secs(10));
        assert_eq!(d.delay("n3", "off", 0.0), Duration::ZERO);
        assert_eq!(d.delay("n1", "on", 1.0), Duration::ZERO);
        let one = dev("f1", &[("pcmk_delay_base", "3")]);
        assert_eq!(one.delay("n9", "reboot", 0.7), Duration::from_secs(3));
        let s = random_share();
        assert!((0.0..=1.0).contains(&s), "{s}");
    }

    #[test]
    fn pcmk_host_check_status_asks_the_agent_about_the_target() {
        let f = Scripted::new(WITH_REBOOT, &[2]);
        let d = dev("f1", &[("pcmk_host_check", "status")]);
        assert!(d.can_fence(&f, "n2", T), "off (2) is a target it controls");
        let asked = f.asked();
        assert_eq!(asked[0].0, "status");
        assert!(asked[0].2.contains(&("port".into(), "n2".into())));
        let f = Scripted::new(WITH_REBOOT, &[1, 1, 1]);
        assert!(!d.can_fence(&f, "n2", T));
    }
    #[test]
    fn a_real_fence_agent_is_told_off_on_its_input_when_the_device_says_so() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = t.path().join("input.log");
        let agent = t.path().join("fence_test");
        std::fs::write(
            &agent,
            format!(
                r#"#!/bin/sh
input=$(cat)
printf '%s\n---\n' "$input" >> {log}
case "$input" in
*action=metadata*) echo '<resource-agent><parameters><parameter name="port"/></parameters><actions><action name="reboot"/><action name="off"/></actions></resource-agent>' ;;
esac
exit 0
"#,
                log = log.display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut runner = crate::run::OcfRunner::new(t.path().to_path_buf());
        runner.fence_dir = t.path().to_path_buf();
        let d = dev(
            "f1",
            &[
                ("pcmk_host_check", "none"),
                ("pcmk_reboot_action", "off"),
                ("ip", "127.0.0.1"),
            ],
        );
        let a = fence_node(&runner, &[d], "n2", "reboot", Duration::from_secs(10));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].outcome.as_ref().map(|o| o.rc).ok(), Some(0));
        let seen = std::fs::read_to_string(&log).unwrap_or_default();
        let runs: Vec<&str> = seen
            .split("---")
            .filter(|r| !r.contains("action=metadata") && !r.trim().is_empty())
            .collect();
        assert_eq!(runs.len(), 1, "{seen}");
        let lines: Vec<&str> = runs[0].lines().filter(|l| !l.is_empty()).collect();
        assert!(lines.contains(&"action=off"), "{seen}");
        assert!(!lines.contains(&"action=reboot"), "{seen}");
        assert!(
            lines.contains(&"nodename=n2") && lines.contains(&"port=n2"),
            "{seen}"
        );
        assert!(lines.contains(&"ip=127.0.0.1"), "{seen}");
        assert!(
            !runs[0].contains("pcmk_"),
            "pcmk_* parameters stay with the fencer: {seen}"
        );
    }
}
