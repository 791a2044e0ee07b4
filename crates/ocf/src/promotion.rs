//! Promotion scores: how a promotable agent tells the cluster where it would best be
//! promoted.
//!
//! * Under crm-lite's executor (`CRM_LITE_ATTR_DIR` set), and when run by hand outside any
//!   cluster, the score is a file: `<dir>/master-<resource>` holding the integer, written
//!   atomically; removing the score removes the file. The default directory is
//!   [`DEFAULT_ATTR_DIR`]. The executor reads these files after each action, as Pacemaker's
//!   attribute manager would receive `crm_attribute` updates.
//! * Under Pacemaker (`OCF_RESKEY_crm_feature_set` set), through
//!   `crm_attribute --promotion -v SCORE` (and `-D` to remove), bounded by the deadline.

use std::path::PathBuf;

use crate::dispatch::Ctx;
use crate::host::CommandSpec;

/// Where promotion scores go when no cluster says otherwise.
pub const DEFAULT_ATTR_DIR: &str = "/run/crm-lite/attrs";

/// Where a score goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Pacemaker's attribute manager, through `crm_attribute`.
    Pacemaker,
    /// crm-lite's attribute directory.
    Files(PathBuf),
}

impl Backend {
    /// The backend for this environment.
    pub fn for_env(env: &crate::env::OcfEnv) -> Backend {
        match (&env.crm_lite_attr_dir, &env.crm_feature_set) {
            (Some(dir), _) => Backend::Files(PathBuf::from(dir)),
            (None, Some(_)) => Backend::Pacemaker,
            (None, None) => Backend::Files(PathBuf::from(DEFAULT_ATTR_DIR)),
        }
    }
}

/// The attribute name Pacemaker 2.1 uses for a resource's promotion score.
pub fn attribute_name(resource_base: &str) -> String {
    format!("master-{resource_base}")
}

/// Whether `resource_base` keeps `<dir>/<prefix>-<resource_base>` inside `dir`: no `/`, no
/// NUL (the CIB refuses such resource ids; this holds for agents run by hand too).
pub fn is_file_name(resource_base: &str) -> bool {
    !resource_base.is_empty() && !resource_base.contains(['/', '\0'])
}

/// Why a score could not be recorded.
#[derive(Debug, thiserror::Error)]
#[error("cannot record promotion score: {0}")]
pub struct PromotionError(String);

/// Set (`Some`) or remove (`None`) this node's promotion score for the resource.
pub fn set_score(ctx: &Ctx<'_>, score: Option<i64>) -> Result<(), PromotionError> {
    match Backend::for_env(ctx.env) {
        Backend::Files(dir) => {
            let rsc = ctx.env.resource_base();
            if !is_file_name(rsc) {
                return Err(PromotionError(format!(
                    "resource name {rsc:?} cannot name a file in {}",
                    dir.display()
                )));
            }
            let path = dir.join(attribute_name(rsc));
            let r = match score {
                Some(s) => ctx
                    .host
                    .create_dir_all(&dir)
                    .and_then(|()| ctx.host.write_file(&path, &format!("{s}\n"), 0o644)),
                None => ctx.host.remove_file(&path),
            };
            r.map_err(|e| PromotionError(format!("{}: {e}", path.display())))
        }
        Backend::Pacemaker => {
            let mut args = vec!["--promotion".to_string()];
            match score {
                Some(s) => args.extend(["-v".to_string(), s.to_string()]),
                None => args.push("-D".to_string()),
            }
            let out = ctx
                .host
                .run(&CommandSpec::new("crm_attribute", args), ctx.remaining())
                .map_err(|e| PromotionError(e.to_string()))?;
            if out.success() {
                Ok(())
            } else {
                Err(PromotionError(format!(
                    "crm_attribute exited with {:?}: {}",
                    out.code,
                    out.stderr.trim()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{Call, FakeHost};
    use crate::host::{CommandOutput, Host as _};
    use crate::{Action, Deadline, OcfEnv, Params};
    use std::time::Duration;

    fn ctx<'a>(env: &'a OcfEnv, host: &'a FakeHost) -> Ctx<'a> {
        Ctx {
            env,
            params: Params::default(),
            action: Action::Promote,
            host,
            deadline: Deadline::new(host.now(), Duration::from_secs(10)),
        }
    }

    #[test]
    fn a_resource_name_with_a_slash_writes_no_file_anywhere() {
        let env = OcfEnv::from_vars([
            ("OCF_RESOURCE_INSTANCE", "x/../../../etc/cron.d/evil:0"),
            ("CRM_LITE_ATTR_DIR", "/state/attrs"),
        ]);
        let host = FakeHost::new();
        let e = set_score(&ctx(&env, &host), Some(1000)).expect_err("refused");
        assert!(e.to_string().contains("cannot name a file"), "{e}");
        let u = crate::utilization::publish(&ctx(&env, &host), &[("cpu", 2)]);
        assert!(u.is_err());
        assert!(
            !host
                .calls()
                .iter()
                .any(|c| matches!(c, Call::Write(..) | Call::Remove(..))),
            "{:?}",
            host.calls()
        );
    }

    #[test]
    fn crm_lite_scores_are_files_named_like_pacemakers_attribute() {
        let env = OcfEnv::from_vars([
            ("OCF_RESOURCE_INSTANCE", "db:1"),
            ("CRM_LITE_ATTR_DIR", "/state/attrs"),
            ("OCF_RESKEY_crm_feature_set", "3.16.2"),
        ]);
        let host = FakeHost::new();
        set_score(&ctx(&env, &host), Some(1000)).unwrap();
        assert_eq!(
            host.file("/state/attrs/master-db").as_deref(),
            Some("1000\n")
        );
        set_score(&ctx(&env, &host), None).unwrap();
        assert_eq!(host.file("/state/attrs/master-db"), None);
    }

    #[test]
    fn under_pacemaker_scores_go_through_crm_attribute() {
        let env = OcfEnv::from_vars([
            ("OCF_RESOURCE_INSTANCE", "db:0"),
            ("OCF_RESKEY_crm_feature_set", "3.16.2"),
        ]);
        assert_eq!(Backend::for_env(&env), Backend::Pacemaker);
        let host = FakeHost::new();
        host.push_command(
            "crm_attribute",
            CommandOutput {
                code: Some(0),
                ..CommandOutput::default()
            },
        );
        host.push_command(
            "crm_attribute",
            CommandOutput {
                code: Some(102),
                stderr: "Could not connect to the CIB".into(),
                ..CommandOutput::default()
            },
        );
        set_score(&ctx(&env, &host), Some(5)).unwrap();
        assert_eq!(
            host.calls(),
            vec![Call::Run("crm_attribute --promotion -v 5".into())]
        );
        let e = set_score(&ctx(&env, &host), None).unwrap_err();
        assert!(e.to_string().contains("102"), "{e}");
    }

    #[test]
    fn outside_any_cluster_scores_go_to_the_default_directory() {
        let env = OcfEnv::from_vars([("OCF_RESOURCE_INSTANCE", "db")]);
        assert_eq!(
            Backend::for_env(&env),
            Backend::Files(PathBuf::from(DEFAULT_ATTR_DIR))
        );
    }
}
