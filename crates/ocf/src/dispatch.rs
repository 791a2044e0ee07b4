//! Action dispatch: the one place an agent process turns its command line and environment
//! into a call of the right [`Agent`] method, and the result into an exit code, an
//! `ocf-exit-reason:` line and a log line. [`main`] is the only `process::exit`.

use std::io::Write;
use std::time::Duration;

use crate::action::Action;
use crate::deadline::Deadline;
use crate::env::{CheckLevel, OcfEnv};
use crate::exit::{ActionResult, Failure, OcfExit, Status};
use crate::host::{Host, RealHost};
use crate::metadata::AgentInfo;
use crate::params::{Params, Requirement};

/// The timeout used when neither the environment nor the agent's meta-data gives one.
pub const FALLBACK_TIMEOUT: Duration = Duration::from_secs(20);

/// Everything an action may look at, and the host through which it acts.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The environment, as read at start-up.
    pub env: &'a OcfEnv,
    /// The validated parameters.
    pub params: Params,
    /// The action being run.
    pub action: Action,
    /// The operating system.
    pub host: &'a dyn Host,
    /// When the action must be done.
    pub deadline: Deadline,
}

impl std::fmt::Debug for dyn Host + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Host")
    }
}

impl Ctx<'_> {
    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.remaining_at(self.host.now())
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        self.deadline.expired_at(self.host.now())
    }

    /// `want`, or less if the deadline is nearer.
    pub fn bounded(&self, want: Duration) -> Duration {
        want.min(self.remaining())
    }

    /// The monitor depth.
    pub fn check_level(&self) -> CheckLevel {
        self.env.check_level
    }

    /// Whether this is a probe (a one-shot monitor).
    pub fn is_probe(&self) -> bool {
        self.action == Action::Monitor && self.env.meta.is_probe()
    }

    /// Poll `check` until it returns `Some` or the time runs out (`None`), sleeping with a
    /// back-off from 10 ms to `max_pause` in between.
    pub fn poll<T>(
        &self,
        until: std::time::Instant,
        max_pause: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let mut pause = Duration::from_millis(10);
        loop {
            if let Some(v) = check() {
                return Some(v);
            }
            let left = until.saturating_duration_since(self.host.now());
            if left.is_zero() {
                return None;
            }
            self.host.sleep(pause.min(left));
            pause = (pause * 2).min(max_pause);
        }
    }
}

/// An OCF resource agent. Only `info`, `start`, `stop` and `monitor` are mandatory; the
/// other actions answer 3 (unimplemented) unless overridden and advertised in the
/// meta-data.
pub trait Agent {
    /// The agent's self-description, parameters and actions.
    fn info(&self) -> &'static AgentInfo;
    /// Start (unpromoted); succeed when already running.
    fn start(&self, ctx: &Ctx<'_>) -> ActionResult;
    /// Stop completely; succeed when already stopped.
    fn stop(&self, ctx: &Ctx<'_>) -> ActionResult;
    /// Report the state.
    fn monitor(&self, ctx: &Ctx<'_>) -> ActionResult;
    /// Check the configuration beyond what the parameter declarations check.
    fn validate(&self, _ctx: &Ctx<'_>) -> ActionResult {
        Ok(Status::Success)
    }
    /// Promote.
    fn promote(&self, _ctx: &Ctx<'_>) -> ActionResult {
        Err(Failure::unimplemented("promote is not supported"))
    }
    /// Demote.
    fn demote(&self, _ctx: &Ctx<'_>) -> ActionResult {
        Err(Failure::unimplemented("demote is not supported"))
    }
    /// Handle a clone notification.
    fn notify(&self, _ctx: &Ctx<'_>) -> ActionResult {
        Err(Failure::unimplemented("notify is not supported"))
    }
    /// Migrate away.
    fn migrate_to(&self, _ctx: &Ctx<'_>) -> ActionResult {
        Err(Failure::unimplemented("migrate_to is not supported"))
    }
    /// Complete a migration here.
    fn migrate_from(&self, _ctx: &Ctx<'_>) -> ActionResult {
        Err(Failure::unimplemented("migrate_from is not supported"))
    }
    /// Reload the configuration.
    fn reload(&self, _ctx: &Ctx<'_>) -> ActionResult {
        Err(Failure::unimplemented("reload is not supported"))
    }
}

fn requirement(action: Action) -> Requirement {
    match action {
        Action::Start
        | Action::ValidateAll
        | Action::Promote
        | Action::MigrateTo
        | Action::MigrateFrom
        | Action::Reload => Requirement::Enforce,
        _ => Requirement::Relax,
    }
}

/// Run one action: the testable core of [`main`]. Writes meta-data to `out` and the exit
/// reason and usage to `err`; returns the exit code.
pub fn execute(
    agent: &dyn Agent,
    arg: Option<&str>,
    env: &OcfEnv,
    host: &dyn Host,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> OcfExit {
    let info = agent.info();
    let fail = |err: &mut dyn Write, f: &Failure| {
        tracing::error!(exit = %f.exit(), "{}", f.reason());
        let _ = writeln!(err, "ocf-exit-reason:{}", f.reason());
        f.exit()
    };
    let action = match arg.map(|a| (a, Action::parse(a))) {
        Some((_, Some(a))) if info.supports(a) => a,
        Some((name, _)) => {
            let _ = writeln!(err, "{}", info.usage());
            return fail(
                err,
                &Failure::unimplemented(format!("action {name:?} is not supported")),
            );
        }
        None => {
            let _ = writeln!(err, "{}", info.usage());
            return fail(err, &Failure::unimplemented("no action given"));
        }
    };
    match action {
        Action::MetaData => {
            return match out.write_all(info.metadata_xml().as_bytes()) {
                Ok(()) => OcfExit::Success,
                Err(e) => fail(
                    err,
                    &Failure::generic(format!("cannot write meta-data: {e}")),
                ),
            };
        }
        Action::Usage => {
            let _ = writeln!(err, "{}", info.usage());
            return OcfExit::Success;
        }
        Action::Methods => {
            for a in Action::ALL.into_iter().filter(|a| info.supports(*a)) {
                let _ = writeln!(err, "{a}");
            }
            return OcfExit::Success;
        }
        _ => {}
    }

    let timeout = env.meta.timeout.unwrap_or_else(|| {
        info.default_timeout_s(action)
            .map_or(FALLBACK_TIMEOUT, |s| Duration::from_secs(u64::from(s)))
    });
    let deadline = Deadline::new(host.now(), timeout);
    let params = match parse_params(info, env, action) {
        Ok(p) => p,
        Err(f) => return fail(err, &f),
    };
    let ctx = Ctx {
        env,
        params,
        action,
        host,
        deadline,
    };
    let result = match action {
        Action::Start => agent.start(&ctx),
        Action::Stop => agent.stop(&ctx),
        Action::Monitor => agent.monitor(&ctx),
        Action::ValidateAll => agent.validate(&ctx),
        Action::Promote => agent.promote(&ctx),
        Action::Demote => agent.demote(&ctx),
        Action::Notify => agent.notify(&ctx),
        Action::MigrateTo => agent.migrate_to(&ctx),
        Action::MigrateFrom => agent.migrate_from(&ctx),
        Action::Reload => agent.reload(&ctx),
        Action::MetaData | Action::Usage | Action::Methods => Ok(Status::Success),
    };
    match result {
        Ok(status) => {
            let code = OcfExit::from(status);
            tracing::debug!(exit = %code, "{action} done");
            code
        }
        Err(f) => fail(err, &f),
    }
}

/// Validate the parameters for an action: strictly for actions that change things,
/// leniently for those that must report the truth on any node (stop, monitor, demote,
/// notify), where a malformed value is logged and its default used instead.
fn parse_params(info: &AgentInfo, env: &OcfEnv, action: Action) -> Result<Params, Failure> {
    let (params, unknown) = match requirement(action) {
        Requirement::Enforce => Params::parse(info.params, &env.params, Requirement::Enforce)?,
        Requirement::Relax => {
            let (params, unknown, dropped) = Params::parse_lenient(info.params, &env.params);
            for f in dropped {
                tracing::warn!("{}; using the default", f.reason());
            }
            (params, unknown)
        }
    };
    for name in unknown {
        tracing::warn!(parameter = %name, "ignoring undeclared parameter {name}");
    }
    Ok(params)
}

/// The entry point of every agent binary: read argv and the environment once, set up
/// logging, run the action on the real host, exit with its code.
pub fn main(agent: &dyn Agent) -> ! {
    let env = OcfEnv::from_process();
    crate::log::init(&env);
    let arg = std::env::args().nth(1);
    let span = tracing::info_span!(
        "agent",
        rsc = env.instance_or_default(),
        action = arg.as_deref().unwrap_or("")
    );
    let code = {
        let _g = span.enter();
        execute(
            agent,
            arg.as_deref(),
            &env,
            &RealHost,
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
        )
    };
    let _ = std::io::stdout().flush();
    std::process::exit(i32::from(code.code()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHost;
    use crate::metadata::ActionSpec;
    use crate::params::ParamSpec;

    struct Probe;
    static PARAMS: &[ParamSpec] = &[
        ParamSpec::string("path", "a path").required(),
        ParamSpec::integer("n", "a number").default("3"),
    ];
    static ACTIONS: &[ActionSpec] = &[
        ActionSpec::new(Action::Start, 7),
        ActionSpec::new(Action::Stop, 20),
        ActionSpec::new(Action::Monitor, 20),
    ];
    static INFO: AgentInfo = AgentInfo {
        name: "probe",
        version: "1",
        shortdesc: "test agent",
        longdesc: "test agent",
        params: PARAMS,
        actions: ACTIONS,
    };

    impl Agent for Probe {
        fn info(&self) -> &'static AgentInfo {
            &INFO
        }
        fn start(&self, ctx: &Ctx<'_>) -> ActionResult {
            assert_eq!(ctx.deadline.budget(), Duration::from_millis(6300));
            Ok(Status::Success)
        }
        fn stop(&self, ctx: &Ctx<'_>) -> ActionResult {
            assert_eq!(ctx.params.int("n"), Some(3));
            Ok(Status::Success)
        }
        fn monitor(&self, ctx: &Ctx<'_>) -> ActionResult {
            match ctx.params.str("path") {
                Some("/broken") => Err(Failure::generic("health check failed")),
                _ => Ok(Status::NotRunning),
            }
        }
    }

    fn run(arg: Option<&str>, vars: &[(&str, &str)]) -> (OcfExit, String, String) {
        let env = OcfEnv::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = execute(&Probe, arg, &env, &FakeHost::new(), &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn unknown_or_missing_action_is_3_with_usage_and_reason() {
        for arg in [Some("frobnicate"), Some("promote"), None] {
            let (code, out, err) = run(arg, &[]);
            assert_eq!(code, OcfExit::ErrUnimplemented);
            assert!(out.is_empty());
            assert!(err.contains("usage: probe {start|stop|monitor|"), "{err}");
            assert!(err.contains("ocf-exit-reason:"), "{err}");
        }
    }

    #[test]
    fn meta_data_is_the_only_thing_on_stdout() {
        let (code, out, err) = run(Some("meta-data"), &[]);
        assert_eq!(code, OcfExit::Success);
        assert!(out.starts_with("<?xml"));
        assert!(err.is_empty());
        for action in ["monitor", "stop", "start", "usage"] {
            let (_, out, _) = run(Some(action), &[("OCF_RESKEY_path", "/x")]);
            assert!(out.is_empty(), "{action} wrote to stdout");
        }
    }

    #[test]
    fn start_enforces_required_parameters_and_stop_does_not() {
        let (code, _, err) = run(Some("start"), &[]);
        assert_eq!(code, OcfExit::ErrConfigured);
        assert_eq!(
            err.trim(),
            "ocf-exit-reason:required parameter path is not set"
        );
        let (code, _, err) = run(Some("stop"), &[("OCF_RESKEY_n", "many")]);
        assert_eq!(code, OcfExit::Success, "{err}");
        let (code, _, _) = run(Some("validate-all"), &[("OCF_RESKEY_path", "/x")]);
        assert_eq!(code, OcfExit::Success);
    }

    #[test]
    fn failures_write_exactly_one_exit_reason_and_successes_none() {
        let (code, _, err) = run(Some("monitor"), &[("OCF_RESKEY_path", "/broken")]);
        assert_eq!(code, OcfExit::ErrGeneric);
        assert_eq!(err, "ocf-exit-reason:health check failed\n");
        let (code, _, err) = run(Some("status"), &[("OCF_RESKEY_path", "/fine")]);
        assert_eq!(code, OcfExit::NotRunning);
        assert!(err.is_empty());
    }

    #[test]
    fn the_deadline_comes_from_the_meta_timeout_or_the_metadata() {
        // Probe::start asserts 6.3 s: the 7 s advertised start timeout less its reserve.
        let (code, _, _) = run(Some("start"), &[("OCF_RESKEY_path", "/x")]);
        assert_eq!(code, OcfExit::Success);
        let env = OcfEnv::from_vars([("OCF_RESKEY_CRM_meta_timeout", "1000")]);
        let host = FakeHost::new();
        let ctx = Ctx {
            env: &env,
            params: Params::default(),
            action: Action::Monitor,
            host: &host,
            deadline: Deadline::new(host.now(), env.meta.timeout.unwrap()),
        };
        assert_eq!(ctx.remaining(), Duration::from_millis(900));
        host.sleep(Duration::from_millis(400));
        assert_eq!(
            ctx.bounded(Duration::from_secs(5)),
            Duration::from_millis(500)
        );
        let polls = std::cell::Cell::new(0);
        let got: Option<()> = ctx.poll(ctx.deadline.end(), Duration::from_millis(50), || {
            polls.set(polls.get() + 1);
            None
        });
        assert!(got.is_none() && ctx.expired());
        assert!(polls.get() > 3);
    }
}
