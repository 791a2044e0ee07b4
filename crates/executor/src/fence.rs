//! Fencing a node through a fence agent, the way Pacemaker's fencer drives the
//! fence-agents protocol: `key=value` lines on the agent's standard input, `action=` the
//! operation and `nodename=` the target (plus the agent's own host argument, `port` or
//! `plug`, when its meta-data has one).
use std::time::Duration;

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

impl Device {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn request(&self, action: &str, timeout: Duration, extra: &[(String, String)]) -> Request {
        let mut params = self.params.clone();
        params.extend_from_slice(extra);
        Request {
            rsc: self.id.clone(),
            class: "stonith".into(),
            provider: None,
            agent: self.agent.clone(),
            action: action.into(),
            interval_ms: 0,
            timeout,
            params,
            meta: Vec::new(),
            node: String::new(),
        }
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
    /// or `dynamic-list` (the default otherwise: the agent's `list` output names it).
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
            _ => match runner.run(&self.request("list", timeout, &[])) {
                Ok(o) if o.rc == 0 => listed(&o.stdout, target),
                _ => false,
            },
        }
    }

    /// The parameter that carries the target for this agent: `pcmk_host_argument` when set
    /// (`none`: there is none), else `port` or `plug` when the agent's meta-data has one.
    fn host_argument(&self, runner: &dyn Runner, timeout: Duration) -> Option<String> {
        if let Some(a) = self.param("pcmk_host_argument") {
            return (a != "none").then(|| a.to_owned());
        }
        let meta = runner.run(&self.request("metadata", timeout, &[])).ok()?;
        ["port", "plug"]
            .into_iter()
            .find(|p| meta.stdout.contains(&format!("name=\"{p}\"")))
            .map(str::to_owned)
    }

    /// Ask the agent to `action` (`reboot`, `off`, `on`) `target`.
    pub fn fence(
        &self,
        runner: &dyn Runner,
        target: &str,
        action: &str,
        timeout: Duration,
    ) -> Result<Outcome, ExecError> {
        let mut extra = vec![("nodename".to_owned(), target.to_owned())];
        if let Some(arg) = self.host_argument(runner, timeout) {
            let value = self.mapped(target).unwrap_or_else(|| target.to_owned());
            extra.push((arg, value));
        }
        runner.run(&self.request(action, timeout, &extra))
    }
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
        let outcome = d.fence(runner, target, action, timeout);
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
}
