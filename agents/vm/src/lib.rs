//! `ocf:crm-lite:vm`: an OCF agent for virtual machines managed by libvirt, a replacement
//! for `ocf:heartbeat:VirtualDomain`.
//!
//! * monitor: the domain's state through libvirt's C library ([`virt`]), in-process and
//!   bounded by the deadline. "No such domain" is libvirt's error code, never a message
//!   read in one version's wording. When libvirtd does not answer on a local
//!   `qemu:///system`, the agent looks for the domain's QEMU process itself (libvirt's pid
//!   file and `-name guest=<name>` on its command line). Depth 10 can ping the guest agent.
//! * start: `virsh create` from the configuration (a transient domain), or, for a domain
//!   defined on this node, `virsh define` and `virsh start`; done when libvirt reports it
//!   running. Refuses domains with local disks when `require_shared_storage` is set.
//! * stop: ACPI shutdown (`virsh shutdown`), then `virsh destroy` early enough to finish
//!   before the deadline. With libvirtd down, the QEMU process itself is ended.
//! * migrate_to: `virsh migrate --live` to the target node's libvirt; migrate_from checks
//!   that the domain runs here.
//!
//! The domain's name is read from the configuration file at start and kept under
//! `HA_RSCTMP`, so monitor and stop need not read a file that may live on shared storage.
//! Changes go through `virsh` (rare, and operators know its options); the frequent state
//! queries through the library. Every call is bounded by the deadline.

#![deny(missing_docs)]

pub mod config;
pub mod virt;
pub mod wire;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use ocf::host::{CommandOutput, CommandSpec, HostError};
use ocf::metadata::ActionSpec;
use ocf::{Action, ActionResult, AgentInfo, CheckLevel, Ctx, Failure, Status};

use config::{Config, Domain};
use virt::{DomInfo, DomState, Virt, VirtError};

/// The agent, over a way to ask libvirt.
#[derive(Debug, Clone, Default)]
pub struct Vm<V> {
    virt: V,
}

impl<V: Virt> Vm<V> {
    /// The agent asking libvirt through `virt`.
    pub fn new(virt: V) -> Vm<V> {
        Vm { virt }
    }
}

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new(Action::Start, 90),
    ActionSpec::new(Action::Stop, 90),
    ActionSpec::new(Action::Monitor, 30).every(10).depth(0),
    ActionSpec::new(Action::Monitor, 30).every(30).depth(10),
    ActionSpec::new(Action::MigrateTo, 120),
    ActionSpec::new(Action::MigrateFrom, 60),
    ActionSpec::new(Action::ValidateAll, 10),
];

/// What the agent says about itself.
pub static INFO: AgentInfo = AgentInfo {
    name: "vm",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Manages a libvirt virtual machine, with live migration",
    longdesc: "Runs a libvirt domain from its XML definition. Monitor asks libvirt's C \
        library for the domain's state (no virsh process); when libvirtd does not answer, \
        it looks for the domain's QEMU process itself. Start creates the domain from the \
        configuration; stop shuts it down through ACPI and destroys it early enough to \
        finish before the timeout. migrate_to moves a running domain live to the target \
        node (set the meta attribute allow-migrate=true); migrate_from checks that it runs \
        there. The domain's vCPUs and memory are published as utilization (cpu, \
        hv_memory) for placement.",
    params: config::PARAMS,
    actions: ACTIONS,
};

/// The longest one libvirt query may take (less when the deadline is nearer).
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long monitor waits for libvirt before it looks at the QEMU process instead.
const MONITOR_QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest pause between state polls.
const POLL: Duration = Duration::from_millis(200);
/// How often stop repeats the ACPI shutdown request.
const SHUTDOWN_REPEAT: Duration = Duration::from_secs(5);
/// The guest agent's answer time at depth 10.
const GUEST_AGENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Where libvirt's QEMU driver keeps its pid files (`<name>.pid`).
const QEMU_RUN_DIR: &str = "/run/libvirt/qemu";

/// Where the domain's name is kept between actions.
fn name_file(ctx: &Ctx<'_>) -> PathBuf {
    ocf::service::runtime_file(ctx.env, "vm", ".name")
}

/// Where the last published utilization is kept, so monitor publishes only changes.
fn utilization_file(ctx: &Ctx<'_>) -> PathBuf {
    ocf::service::runtime_file(ctx.env, "vm", ".utilization")
}

/// The configuration; fails only on a missing or relative `config` or an empty
/// `hypervisor` (under monitor and stop, other malformed values fell back to defaults).
fn config(ctx: &Ctx<'_>) -> Result<Config, Failure> {
    Config::from_params(&ctx.params)
}

/// The configuration for stop and probes, which must answer even when it is incomplete:
/// the domain is then known only by the name recorded at start, if any.
fn config_lenient(ctx: &Ctx<'_>) -> Config {
    config(ctx).unwrap_or_else(|f| {
        tracing::warn!("{}", f.reason());
        Config::lenient(&ctx.params)
    })
}

/// Read and parse the domain XML: 5 when the file is missing here, 6 when it is invalid.
fn read_domain(ctx: &Ctx<'_>, cfg: &Config) -> Result<Domain, Failure> {
    let xml = ctx.host.read_file(&cfg.config).map_err(|e| {
        Failure::installed(format!(
            "cannot read the domain configuration {}: {e}",
            cfg.config.display()
        ))
    })?;
    config::parse_domain(&xml).map_err(|e| {
        Failure::configured(format!(
            "domain configuration {}: {e}",
            cfg.config.display()
        ))
    })
}

/// The domain's name: the one recorded at start, else the configuration's; `None` when
/// neither can be read on this node.
fn known_name(ctx: &Ctx<'_>, cfg: &Config) -> Option<String> {
    if let Ok(n) = ctx.host.read_file(&name_file(ctx)) {
        let n = n.trim();
        if !n.is_empty() {
            return Some(n.to_string());
        }
    }
    ctx.host
        .read_file(&cfg.config)
        .ok()
        .and_then(|x| config::parse_domain(&x).ok())
        .map(|d| d.name)
}

fn remember_name(ctx: &Ctx<'_>, name: &str) {
    let path = name_file(ctx);
    let r = path
        .parent()
        .map_or(Ok(()), |d| ctx.host.create_dir_all(d))
        .and_then(|()| ctx.host.write_file(&path, &format!("{name}\n"), 0o644));
    if let Err(e) = r {
        tracing::warn!("cannot record the domain name in {}: {e}", path.display());
    }
}

/// Run `virsh -c URI ARGS...` within what is left of the deadline.
fn virsh(ctx: &Ctx<'_>, uri: &str, args: &[&str]) -> Result<CommandOutput, Failure> {
    let left = ctx.remaining();
    if left.is_zero() {
        return Err(Failure::generic(format!(
            "no time left for virsh {}",
            args.first().unwrap_or(&"")
        )));
    }
    let head = ["-q", "-c", uri];
    let all = head.iter().chain(args.iter()).copied();
    ctx.host
        .run(&CommandSpec::new("virsh", all), left)
        .map_err(|e| match e {
            HostError::Timeout { after, .. } => Failure::generic(format!(
                "virsh {} did not finish within {after:?}",
                args.first().unwrap_or(&"")
            )),
            e => Failure::installed(format!("cannot run virsh: {e}")),
        })
}

/// virsh's error text, trimmed to one line.
fn virsh_error(out: &CommandOutput) -> String {
    let text = if out.stderr.trim().is_empty() {
        out.stdout.trim()
    } else {
        out.stderr.trim()
    };
    text.lines()
        .map(|l| l.trim().trim_start_matches("error: "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether the local system QEMU driver has a live QEMU process for domain `name`.
fn qemu_process_runs(ctx: &Ctx<'_>, name: &str) -> bool {
    let pidfile = PathBuf::from(QEMU_RUN_DIR).join(format!("{name}.pid"));
    let Some(pid) = ctx
        .host
        .read_file(&pidfile)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    else {
        return false;
    };
    qemu_pid_is(ctx, pid, name)
}

fn qemu_pid_is(ctx: &Ctx<'_>, pid: u32, name: &str) -> bool {
    ctx.host.process(pid).is_some_and(|p| p.alive())
        && ctx
            .host
            .read_file(&PathBuf::from(format!("/proc/{pid}/cmdline")))
            .is_ok_and(|c| config::cmdline_is_domain(&c, name))
}

impl<V: Virt> Vm<V> {
    fn query(
        &self,
        ctx: &Ctx<'_>,
        uri: &str,
        name: &str,
        want: Duration,
    ) -> Result<Option<DomInfo>, VirtError> {
        self.virt.domain(uri, name, ctx.bounded(want))
    }

    /// Poll until `done` holds for the domain's state or `until` passes; the last answer.
    fn wait_for(
        &self,
        ctx: &Ctx<'_>,
        uri: &str,
        name: &str,
        until: Instant,
        done: impl Fn(&Option<DomInfo>) -> bool,
    ) -> Result<Option<DomInfo>, VirtError> {
        let mut last = Err(VirtError::Timeout(Duration::ZERO));
        ctx.poll(until, POLL, || {
            let left = until.saturating_duration_since(ctx.host.now());
            if left.is_zero() {
                return None;
            }
            last = self.virt.domain(uri, name, left.min(QUERY_TIMEOUT));
            match &last {
                Ok(i) if done(i) => Some(()),
                _ => None,
            }
        });
        last
    }

    /// Publish the domain's vCPUs and memory as utilization when asked to and when they
    /// differ from what this node published last.
    fn publish_utilization(&self, ctx: &Ctx<'_>, cfg: &Config, info: &DomInfo) {
        let mut values = Vec::new();
        if cfg.utilization_cpu {
            values.push(("cpu", u64::from(info.vcpus)));
        }
        if cfg.utilization_mem {
            values.push(("hv_memory", info.max_mem_kib / 1024));
        }
        if values.is_empty() {
            return;
        }
        let record: String = values.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let cache = utilization_file(ctx);
        if ctx.host.read_file(&cache).is_ok_and(|old| old == record) {
            return;
        }
        match ocf::utilization::publish(ctx, &values) {
            Ok(_) => {
                if let Err(e) = ctx.host.write_file(&cache, &record, 0o644) {
                    tracing::debug!("cannot cache the utilization: {e}");
                }
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }

    fn check_shared_storage(&self, ctx: &Ctx<'_>, dom: &Domain) -> Result<(), Failure> {
        let mounts = ctx
            .host
            .read_file(&PathBuf::from("/proc/self/mountinfo"))
            .map(|m| config::parse_mounts(&m))
            .unwrap_or_default();
        let local: Vec<String> = dom
            .disks
            .iter()
            .filter_map(|d| config::local_disk_reason(d, &mounts))
            .collect();
        if local.is_empty() {
            Ok(())
        } else {
            Err(Failure::configured(format!(
                "require_shared_storage is set but domain {} has disks on local storage: {}",
                dom.name,
                local.join("; ")
            )))
        }
    }

    /// What validate-all and start check: the configuration, virsh, shared storage.
    fn checks(&self, ctx: &Ctx<'_>) -> Result<(Config, Domain), Failure> {
        let cfg = config(ctx)?;
        let dom = read_domain(ctx, &cfg)?;
        let path = std::env::var("PATH").unwrap_or_default();
        if ctx
            .host
            .find_executable("virsh", &format!("{path}:/usr/bin:/bin"))
            .is_none()
        {
            return Err(Failure::installed(
                "virsh not found (install libvirt-clients)",
            ));
        }
        if cfg.require_shared_storage {
            self.check_shared_storage(ctx, &dom)?;
        }
        Ok((cfg, dom))
    }

    /// Query libvirt for a change action: 5 when libvirt is missing, 1 otherwise.
    fn query_for_change(
        &self,
        ctx: &Ctx<'_>,
        cfg: &Config,
        name: &str,
    ) -> Result<Option<DomInfo>, Failure> {
        self.query(ctx, &cfg.hypervisor, name, QUERY_TIMEOUT)
            .map_err(|e| match e {
                VirtError::NotInstalled(_) => Failure::installed(e.to_string()),
                // libvirt's socket or polkit refusing this user is a permission.
                e => Failure::from_message(
                    &format!("domain {name} at {}: {e}", cfg.hypervisor),
                    Failure::generic,
                ),
            })
    }

    fn monitor_depth10(&self, ctx: &Ctx<'_>, cfg: &Config, name: &str) -> ActionResult {
        if !(cfg.monitor_guest_agent && ctx.check_level() >= CheckLevel::Medium) {
            return Ok(Status::Success);
        }
        let secs = ctx
            .bounded(GUEST_AGENT_TIMEOUT)
            .as_secs()
            .max(1)
            .to_string();
        let out = virsh(
            ctx,
            &cfg.hypervisor,
            &[
                "qemu-agent-command",
                name,
                r#"{"execute":"guest-ping"}"#,
                "--timeout",
                &secs,
            ],
        )?;
        if out.success() {
            Ok(Status::Success)
        } else {
            Err(Failure::generic(format!(
                "domain {name} runs but its guest agent does not answer: {}",
                virsh_error(&out)
            )))
        }
    }
}

impl<V: Virt> ocf::Agent for Vm<V> {
    fn info(&self) -> &'static AgentInfo {
        &INFO
    }

    fn validate(&self, ctx: &Ctx<'_>) -> ActionResult {
        self.checks(ctx).map(|_| Status::Success)
    }

    fn start(&self, ctx: &Ctx<'_>) -> ActionResult {
        let (cfg, dom) = self.checks(ctx)?;
        let name = dom.name.as_str();
        remember_name(ctx, name);
        let uri = cfg.hypervisor.as_str();
        let current = self.query_for_change(ctx, &cfg, name)?;
        match current {
            Some(i) if i.state == DomState::Paused => {
                let out = virsh(ctx, uri, &["resume", name])?;
                if !out.success() {
                    return Err(Failure::generic(format!(
                        "domain {name} is paused and cannot be resumed: {}",
                        virsh_error(&out)
                    )));
                }
            }
            Some(i) if i.state.is_active() => {
                tracing::info!("domain {name} is already running");
                self.publish_utilization(ctx, &cfg, &i);
                return Ok(Status::Success);
            }
            Some(i) if i.persistent => {
                let file = cfg.config.display().to_string();
                let out = virsh(ctx, uri, &["define", &file])?;
                if !out.success() {
                    return Err(Failure::configured(format!(
                        "virsh define {file} failed: {}",
                        virsh_error(&out)
                    )));
                }
                let out = virsh(ctx, uri, &["start", name])?;
                if !out.success() {
                    return Err(Failure::generic(format!(
                        "virsh start {name} failed: {}",
                        virsh_error(&out)
                    )));
                }
            }
            _ => {
                let file = cfg.config.display().to_string();
                let out = virsh(ctx, uri, &["create", &file])?;
                if !out.success() {
                    return Err(Failure::generic(format!(
                        "virsh create {file} failed: {}",
                        virsh_error(&out)
                    )));
                }
            }
        }
        match self.wait_for(ctx, uri, name, ctx.deadline.end(), |i| {
            i.is_some_and(|i| i.state == DomState::Running)
        }) {
            Ok(Some(i)) if i.state == DomState::Running => {
                self.publish_utilization(ctx, &cfg, &i);
                Ok(Status::Success)
            }
            Ok(Some(i)) => Err(Failure::generic(format!(
                "domain {name} was started but is {:?}",
                i.state
            ))),
            Ok(None) => Err(Failure::generic(format!(
                "domain {name} was started but is gone (check the guest's on_poweroff and its log under /var/log/libvirt/qemu)"
            ))),
            Err(e) => Err(Failure::generic(format!(
                "domain {name} was started but its state is unknown: {e}"
            ))),
        }
    }

    fn stop(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = config_lenient(ctx);
        let Some(name) = known_name(ctx, &cfg) else {
            tracing::warn!(
                "domain configuration {} is unreadable and no name was recorded here: nothing can run",
                cfg.config.display()
            );
            return Ok(Status::Success);
        };
        let uri = cfg.hypervisor.as_str();
        let info = match self.query(ctx, uri, &name, QUERY_TIMEOUT) {
            Ok(i) => i,
            Err(VirtError::NotInstalled(_)) => return Ok(Status::Success),
            Err(e) => return self.stop_without_libvirt(ctx, &cfg, &name, &e),
        };
        let Some(info) = info.filter(|i| i.state.is_active()) else {
            return Ok(Status::Success);
        };
        if cfg.sync_config_on_stop {
            self.sync_config(ctx, &cfg, &name);
        }
        if !cfg.force_stop && info.state != DomState::Paused {
            let graceful_end = match cfg.shutdown_timeout {
                Some(t) => (ctx.host.now() + t).min(ctx.deadline.graceful_until()),
                None => ctx.deadline.graceful_until(),
            };
            if self.shut_down(ctx, uri, &name, graceful_end)? {
                return Ok(Status::Success);
            }
        }
        let out = virsh(ctx, uri, &["destroy", &name])?;
        if !out.success() && !config::says_no_domain(&virsh_error(&out)) {
            tracing::warn!("virsh destroy {name}: {}", virsh_error(&out));
        }
        match self.wait_for(ctx, uri, &name, ctx.deadline.end(), |i| {
            !i.is_some_and(|i| i.state.is_active())
        }) {
            Ok(i) if !i.is_some_and(|i| i.state.is_active()) => Ok(Status::Success),
            Ok(_) => Err(Failure::generic(format!(
                "domain {name} still runs after virsh destroy"
            ))),
            Err(e) => Err(Failure::generic(format!(
                "domain {name}: state unknown after virsh destroy: {e}"
            ))),
        }
    }

    fn monitor(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = if ctx.is_probe() {
            config_lenient(ctx)
        } else {
            config(ctx)?
        };
        let Some(name) = known_name(ctx, &cfg) else {
            if ctx.is_probe() {
                return Ok(Status::NotRunning);
            }
            return Err(Failure::installed(format!(
                "cannot read the domain configuration {}",
                cfg.config.display()
            )));
        };
        match self.query(ctx, &cfg.hypervisor, &name, MONITOR_QUERY_TIMEOUT) {
            Ok(None) => Ok(Status::NotRunning),
            Ok(Some(i)) => match i.state {
                DomState::ShutOff => Ok(Status::NotRunning),
                DomState::Crashed => Err(Failure::generic(format!("domain {name} crashed"))),
                DomState::Unknown(n) => Err(Failure::generic(format!(
                    "domain {name} is in the unknown state {n}"
                ))),
                _ => {
                    self.publish_utilization(ctx, &cfg, &i);
                    self.monitor_depth10(ctx, &cfg, &name)
                }
            },
            Err(VirtError::NotInstalled(m)) => {
                if ctx.is_probe() {
                    Ok(Status::NotRunning)
                } else {
                    Err(Failure::installed(format!("libvirt is not installed: {m}")))
                }
            }
            Err(e) if cfg.local_system_qemu() => {
                let runs = qemu_process_runs(ctx, &name);
                tracing::warn!(
                    "{e}; domain {name}'s QEMU process {}",
                    if runs { "runs" } else { "is not running" }
                );
                Ok(if runs {
                    Status::Success
                } else {
                    Status::NotRunning
                })
            }
            Err(e) => Err(Failure::generic(format!(
                "domain {name} at {}: {e}",
                cfg.hypervisor
            ))),
        }
    }

    fn migrate_to(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = config(ctx)?;
        let target = ctx.env.meta.migrate_target.clone().ok_or_else(|| {
            Failure::args("migrate_to needs CRM_meta_migrate_target (the target node)")
        })?;
        let name = known_name(ctx, &cfg).ok_or_else(|| {
            Failure::installed(format!(
                "cannot read the domain configuration {}",
                cfg.config.display()
            ))
        })?;
        match self.query_for_change(ctx, &cfg, &name)? {
            Some(i) if i.state.is_active() => {}
            _ => {
                return Err(Failure::generic(format!(
                    "domain {name} does not run here: nothing to migrate"
                )));
            }
        }
        let remote = cfg.remote_uri_for(&target);
        let mut args: Vec<String> = vec!["migrate".into(), "--live".into()];
        args.extend(cfg.migrate_options.iter().cloned());
        args.push(name.clone());
        args.push(remote.clone());
        if let Some(m) = cfg.migrateuri_for(&target) {
            args.push(m);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        tracing::info!("migrating domain {name} to {target} ({remote})");
        let out = virsh(ctx, &cfg.hypervisor, &refs)?;
        if !out.success() {
            return Err(Failure::generic(format!(
                "live migration of {name} to {remote} failed: {}",
                virsh_error(&out)
            )));
        }
        Ok(Status::Success)
    }

    fn migrate_from(&self, ctx: &Ctx<'_>) -> ActionResult {
        let cfg = config(ctx)?;
        let name = known_name(ctx, &cfg).ok_or_else(|| {
            Failure::installed(format!(
                "cannot read the domain configuration {}",
                cfg.config.display()
            ))
        })?;
        remember_name(ctx, &name);
        match self.wait_for(ctx, &cfg.hypervisor, &name, ctx.deadline.end(), |i| {
            i.is_some_and(|i| i.state == DomState::Running)
        }) {
            Ok(Some(i)) if i.state == DomState::Running => {
                self.publish_utilization(ctx, &cfg, &i);
                Ok(Status::Success)
            }
            Ok(Some(i)) => Err(Failure::generic(format!(
                "domain {name} is {:?} here after the migration",
                i.state
            ))),
            Ok(None) => Err(Failure::generic(format!(
                "domain {name} does not exist here after the migration"
            ))),
            Err(VirtError::NotInstalled(m)) => {
                Err(Failure::installed(format!("libvirt is not installed: {m}")))
            }
            Err(e) => Err(Failure::generic(format!("domain {name}: {e}"))),
        }
    }
}

impl<V: Virt> Vm<V> {
    /// ACPI shutdown until `until`: true when the domain is gone. The request is repeated
    /// every [`SHUTDOWN_REPEAT`], since a guest drops a button press it gets before its
    /// ACPI daemon runs (a domain stopped while it boots).
    fn shut_down(
        &self,
        ctx: &Ctx<'_>,
        uri: &str,
        name: &str,
        until: Instant,
    ) -> Result<bool, Failure> {
        let stopped = |i: &Option<DomInfo>| !i.is_some_and(|i| i.state.is_active());
        loop {
            let out = virsh(ctx, uri, &["shutdown", name])?;
            if !out.success() {
                if config::says_no_domain(&virsh_error(&out)) {
                    return Ok(true);
                }
                tracing::warn!("virsh shutdown {name}: {}", virsh_error(&out));
                return Ok(false);
            }
            let round = (ctx.host.now() + SHUTDOWN_REPEAT).min(until);
            if matches!(self.wait_for(ctx, uri, name, round, stopped), Ok(ref i) if stopped(i)) {
                tracing::info!("domain {name} shut down");
                return Ok(true);
            }
            if ctx.host.now() >= until {
                tracing::info!("domain {name} did not shut down in time; destroying it");
                return Ok(false);
            }
        }
    }

    /// Write the running definition back to the configuration file.
    fn sync_config(&self, ctx: &Ctx<'_>, cfg: &Config, name: &str) {
        match virsh(ctx, &cfg.hypervisor, &["dumpxml", "--migratable", name]) {
            Ok(out) if out.success() && out.stdout.contains("<domain") => {
                if let Err(e) = ctx.host.write_file(&cfg.config, &out.stdout, 0o644) {
                    tracing::warn!("cannot write {}: {e}", cfg.config.display());
                }
            }
            Ok(out) => tracing::warn!("virsh dumpxml {name}: {}", virsh_error(&out)),
            Err(f) => tracing::warn!("{}", f.reason()),
        }
    }

    /// Stop when libvirt does not answer: on the local system driver, end the domain's
    /// QEMU process (SIGTERM, then SIGKILL before the deadline); elsewhere, fail.
    fn stop_without_libvirt(
        &self,
        ctx: &Ctx<'_>,
        cfg: &Config,
        name: &str,
        e: &VirtError,
    ) -> ActionResult {
        if !cfg.local_system_qemu() {
            return Err(Failure::generic(format!("cannot stop domain {name}: {e}")));
        }
        let pidfile = PathBuf::from(QEMU_RUN_DIR).join(format!("{name}.pid"));
        let pid = ctx
            .host
            .read_file(&pidfile)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            .filter(|&pid| qemu_pid_is(ctx, pid, name));
        let Some(pid) = pid else {
            tracing::info!("{e}; domain {name} has no QEMU process: stopped");
            return Ok(Status::Success);
        };
        tracing::warn!("{e}; ending domain {name}'s QEMU process {pid} directly");
        let _ = ctx.host.signal(pid, Signal::SIGTERM);
        let gone = |ctx: &Ctx<'_>| !ctx.host.process(pid).is_some_and(|p| p.alive());
        if ctx
            .poll(ctx.deadline.graceful_until(), POLL, || {
                gone(ctx).then_some(())
            })
            .is_some()
        {
            return Ok(Status::Success);
        }
        let _ = ctx.host.signal(pid, Signal::SIGKILL);
        match ctx.poll(ctx.deadline.end(), POLL, || gone(ctx).then_some(())) {
            Some(()) => Ok(Status::Success),
            None => Err(Failure::generic(format!(
                "domain {name}'s QEMU process {pid} survives SIGKILL"
            ))),
        }
    }
}
