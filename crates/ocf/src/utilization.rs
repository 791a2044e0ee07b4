//! Resource utilization: how an agent tells the cluster what its resource consumes (a VM's
//! vCPUs and memory), so that placement checks a node's free capacity.
//!
//! * Under crm-lite's executor (`CRM_LITE_ATTR_DIR` set), and when run by hand outside any
//!   cluster, the values are one file: `<dir>/utilization-<resource>` with `name=value`
//!   lines in the order given, written atomically and only when they change.
//! * Under Pacemaker (`OCF_RESKEY_crm_feature_set` set), through
//!   `crm_resource --resource RSC --utilization --get-parameter NAME --quiet`, then
//!   `--set-parameter NAME --parameter-value V` only for values that differ (each write is a
//!   CIB change and a new transition), every call bounded by the deadline.
//!
//! The backend is chosen as for promotion scores ([`crate::promotion::Backend`]).

use crate::dispatch::Ctx;
use crate::host::CommandSpec;
use crate::promotion::Backend;

/// Why utilization could not be recorded.
#[derive(Debug, thiserror::Error)]
#[error("cannot record utilization: {0}")]
pub struct UtilizationError(String);

/// The file name under crm-lite's attribute directory.
pub fn file_name(resource_base: &str) -> String {
    format!("utilization-{resource_base}")
}

/// Publish `values` as the resource's utilization. Returns whether anything changed.
pub fn publish(ctx: &Ctx<'_>, values: &[(&str, u64)]) -> Result<bool, UtilizationError> {
    let rsc = ctx.env.resource_base();
    match Backend::for_env(ctx.env) {
        Backend::Files(dir) => {
            if !crate::promotion::is_file_name(rsc) {
                return Err(UtilizationError(format!(
                    "resource name {rsc:?} cannot name a file in {}",
                    dir.display()
                )));
            }
            let path = dir.join(file_name(rsc));
            let text: String = values.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            if ctx.host.read_file(&path).is_ok_and(|old| old == text) {
                return Ok(false);
            }
            ctx.host
                .create_dir_all(&dir)
                .and_then(|()| ctx.host.write_file(&path, &text, 0o644))
                .map_err(|e| UtilizationError(format!("{}: {e}", path.display())))?;
            Ok(true)
        }
        Backend::Pacemaker => {
            let mut changed = false;
            for (name, value) in values {
                let base = ["--resource", rsc, "--utilization"];
                let get = CommandSpec::new(
                    "crm_resource",
                    base.iter()
                        .copied()
                        .chain(["--get-parameter", name, "--quiet"]),
                );
                let current = ctx
                    .host
                    .run(&get, ctx.remaining())
                    .map_err(|e| UtilizationError(e.to_string()))?;
                if current.success() && current.stdout.trim() == value.to_string() {
                    continue;
                }
                let v = value.to_string();
                let set = CommandSpec::new(
                    "crm_resource",
                    base.iter().copied().chain([
                        "--set-parameter",
                        name,
                        "--parameter-value",
                        v.as_str(),
                    ]),
                );
                let out = ctx
                    .host
                    .run(&set, ctx.remaining())
                    .map_err(|e| UtilizationError(e.to_string()))?;
                if !out.success() {
                    return Err(UtilizationError(format!(
                        "crm_resource exited with {:?}: {}",
                        out.code,
                        out.stderr.trim()
                    )));
                }
                changed = true;
            }
            Ok(changed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{Call, FakeHost};
    use crate::host::CommandOutput;
    use crate::{Action, Deadline, Host as _, OcfEnv, Params};
    use std::time::Duration;

    fn ctx<'a>(env: &'a OcfEnv, host: &'a FakeHost) -> Ctx<'a> {
        Ctx {
            env,
            params: Params::default(),
            action: Action::Start,
            host,
            deadline: Deadline::new(host.now(), Duration::from_secs(10)),
        }
    }

    #[test]
    fn crm_lite_utilization_is_one_file_written_only_on_change() {
        let env = OcfEnv::from_vars([
            ("OCF_RESOURCE_INSTANCE", "vm-web"),
            ("CRM_LITE_ATTR_DIR", "/run/attrs"),
        ]);
        let host = FakeHost::new();
        let c = ctx(&env, &host);
        assert!(publish(&c, &[("cpu", 2), ("hv_memory", 512)]).unwrap());
        assert_eq!(
            host.file("/run/attrs/utilization-vm-web").as_deref(),
            Some("cpu=2\nhv_memory=512\n")
        );
        let writes = host.calls().len();
        assert!(!publish(&c, &[("cpu", 2), ("hv_memory", 512)]).unwrap());
        assert_eq!(
            host.calls().len(),
            writes,
            "unchanged values are not rewritten"
        );
        assert!(publish(&c, &[("cpu", 4), ("hv_memory", 512)]).unwrap());
        assert_eq!(
            host.file("/run/attrs/utilization-vm-web").as_deref(),
            Some("cpu=4\nhv_memory=512\n")
        );
    }

    #[test]
    fn under_pacemaker_only_differing_values_are_set_with_crm_resource() {
        let env = OcfEnv::from_vars([
            ("OCF_RESOURCE_INSTANCE", "vm-web"),
            ("OCF_RESKEY_crm_feature_set", "3.16.2"),
        ]);
        let host = FakeHost::new();
        let ok = |out: &str| CommandOutput {
            code: Some(0),
            stdout: out.into(),
            ..CommandOutput::default()
        };
        // cpu is already 2; hv_memory is unset (get fails), then the set succeeds.
        host.push_command("crm_resource", ok("2\n"));
        host.push_command(
            "crm_resource",
            CommandOutput {
                code: Some(105),
                ..CommandOutput::default()
            },
        );
        host.push_command("crm_resource", ok(""));
        let c = ctx(&env, &host);
        assert!(publish(&c, &[("cpu", 2), ("hv_memory", 512)]).unwrap());
        let runs: Vec<String> = host
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Run(s) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(
            runs,
            [
                "crm_resource --resource vm-web --utilization --get-parameter cpu --quiet",
                "crm_resource --resource vm-web --utilization --get-parameter hv_memory --quiet",
                "crm_resource --resource vm-web --utilization --set-parameter hv_memory --parameter-value 512",
            ]
        );
    }
}
