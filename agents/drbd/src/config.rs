//! The agent's parameters, declared once, and the checks of the clone it runs in. Pure:
//! values in, a [`Config`] or a [`Failure`] out.

use std::path::PathBuf;

use ocf::{Failure, OcfEnv, ParamSpec, Params};

/// Where drbdadm and drbdsetup are looked for after `PATH`.
pub const SBIN_PATH: &str = "/usr/sbin:/sbin:/usr/local/sbin";

/// The default configuration file (drbd-utils' own default).
pub const DEFAULT_CONF: &str = "/etc/drbd.conf";

/// The parameter declarations: meta-data, validation and typed access all come from here.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::string("drbd_resource", "The DRBD resource name")
        .long(
            "The name of the DRBD resource, as declared with 'resource NAME' in the \
             configuration. One agent instance (one promotable clone) per DRBD resource.",
        )
        .required()
        .unique(),
    ParamSpec::string("drbdconf", "The DRBD configuration file")
        .long(
            "The configuration file passed to drbdadm as -c. It must define the resource \
             for this host. Default /etc/drbd.conf (which usually includes \
             /etc/drbd.d/*.res).",
        )
        .default(DEFAULT_CONF),
];

/// A checked configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The DRBD resource.
    pub resource: String,
    /// The configuration file.
    pub conf: PathBuf,
}

/// Whether a name can be a DRBD resource name: drbdadm takes letters, digits and
/// `_ - . + :` (and `all` means every resource, which one instance must not manage).
pub fn valid_resource_name(name: &str) -> bool {
    !name.is_empty()
        && name != "all"
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.+:".contains(c))
}

impl Config {
    /// Check the parameters. Lenient actions (stop, monitor) get the resource name as
    /// given; an empty one is the only failure then, since no command can name it.
    pub fn from_params(params: &Params) -> Result<Config, Failure> {
        let resource = params.str("drbd_resource").unwrap_or("").trim().to_string();
        if resource.is_empty() {
            return Err(Failure::configured("parameter drbd_resource is not set"));
        }
        if !valid_resource_name(&resource) {
            return Err(Failure::configured(format!(
                "parameter drbd_resource {resource:?} is not a DRBD resource name \
                 (letters, digits and _-.+: only; 'all' is not allowed)"
            )));
        }
        let conf = PathBuf::from(params.str("drbdconf").unwrap_or(DEFAULT_CONF));
        if !conf.is_absolute() {
            return Err(Failure::configured(format!(
                "parameter drbdconf must be an absolute path, not {}",
                conf.display()
            )));
        }
        Ok(Config { resource, conf })
    }

    /// `drbdadm -c <conf> <args...> <resource>`.
    pub fn drbdadm_args(&self, args: &[&str]) -> Vec<String> {
        let mut v = vec!["-c".to_string(), self.conf.display().to_string()];
        v.extend(args.iter().map(|a| a.to_string()));
        v.push(self.resource.clone());
        v
    }
}

/// What the clone's meta attributes say, checked against what DRBD can do. Returns
/// warnings (logged) or the failure (6) for a configuration that can never work.
///
/// * `promotable` explicitly false: 6, under any cluster.
/// * Under Pacemaker (`crm_feature_set` set): not in a clone at all (no `clone_max`): 6.
/// * `clone_node_max` above 1: 6 (one DRBD resource has one instance per node).
/// * `promoted_node_max` above 1: 6.
/// * `promoted_max` above 2: 6 (DRBD allows two Primaries at most); 2 needs
///   `allow-two-primaries yes` in the resource's net section (6 without it).
/// * `clone_max` above the number of hosts the resource declares: 6.
/// * `notify` not true: a warning (the agent needs no notifications, but refreshes
///   scores on them).
pub fn check_clone(
    env: &OcfEnv,
    hosts: usize,
    two_primaries: bool,
) -> Result<Vec<String>, Failure> {
    let meta = &env.meta;
    let mut warnings = Vec::new();
    let explicit = |k: &str| meta.all.get(k).map(|v| v.trim().to_string());
    if explicit("promotable").is_some_and(|v| !ocf::env::is_true(&v)) {
        return Err(Failure::configured(
            "drbd must run as a promotable clone, but the clone has promotable=false",
        ));
    }
    let under_pacemaker = env.crm_feature_set.is_some();
    let Some(clone_max) = meta.clone_max else {
        if under_pacemaker {
            return Err(Failure::configured(
                "drbd must run as a promotable clone (promotable=true), not as a primitive",
            ));
        }
        return Ok(warnings);
    };
    if under_pacemaker && explicit("promotable").is_none() && meta.promoted_max.is_none() {
        return Err(Failure::configured(
            "drbd must run as a promotable clone (promotable=true), not as a plain clone",
        ));
    }
    if meta.clone_node_max.is_some_and(|n| n > 1) {
        return Err(Failure::configured(format!(
            "clone-node-max is {}, but one DRBD resource can run only once per node \
             (set clone-node-max=1)",
            meta.clone_node_max.unwrap_or(0)
        )));
    }
    if meta.promoted_node_max.is_some_and(|n| n > 1) {
        return Err(Failure::configured("promoted-node-max must be 1 for DRBD"));
    }
    match meta.promoted_max {
        Some(n) if n > 2 => {
            return Err(Failure::configured(format!(
                "promoted-max is {n}, but DRBD allows at most two Primaries"
            )));
        }
        Some(2) if !two_primaries => {
            return Err(Failure::configured(
                "promoted-max is 2, but the resource's net section does not set \
                 allow-two-primaries yes",
            ));
        }
        _ => {}
    }
    if hosts > 0 && clone_max as usize > hosts {
        return Err(Failure::configured(format!(
            "clone-max is {clone_max}, but the resource declares only {hosts} hosts"
        )));
    }
    if !meta.notify {
        warnings.push(
            "the clone has notify=false: promotion scores are then refreshed only by monitor"
                .to_string(),
        );
    }
    Ok(warnings)
}

/// What `drbdadm dump <resource>` says that the clone checks need: how many hosts the
/// resource declares (`on NAME {` and `floating ADDR {` sections) and whether it allows
/// two Primaries.
pub fn scan_dump(text: &str) -> (usize, bool) {
    let mut hosts = 0;
    let mut two_primaries = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["on" | "floating", _, "{", ..] => hosts += 1,
            ["allow-two-primaries", v, ..] => {
                two_primaries = matches!(v.trim_end_matches(';'), "yes" | "on" | "true");
            }
            _ => {}
        }
    }
    (hosts, two_primaries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> OcfEnv {
        OcfEnv::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    const CLONE: &[(&str, &str)] = &[
        ("OCF_RESKEY_crm_feature_set", "3.16.2"),
        ("OCF_RESKEY_CRM_meta_clone_max", "2"),
        ("OCF_RESKEY_CRM_meta_clone_node_max", "1"),
        ("OCF_RESKEY_CRM_meta_promoted_max", "1"),
        ("OCF_RESKEY_CRM_meta_promoted_node_max", "1"),
        ("OCF_RESKEY_CRM_meta_promotable", "true"),
        ("OCF_RESKEY_CRM_meta_notify", "true"),
    ];

    fn with(over: &[(&str, &str)]) -> OcfEnv {
        let mut v: Vec<(&str, &str)> = CLONE
            .iter()
            .filter(|(k, _)| !over.iter().any(|(o, _)| o == k))
            .copied()
            .collect();
        v.extend(over.iter().filter(|(_, val)| !val.is_empty()));
        env(&v)
    }

    #[test]
    fn a_two_node_promotable_clone_passes() {
        assert_eq!(
            check_clone(&with(&[]), 2, false).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn clones_drbd_cannot_serve_are_6() {
        for (over, hosts, two, needle) in [
            (
                vec![("OCF_RESKEY_CRM_meta_promotable", "false")],
                2,
                false,
                "promotable=false",
            ),
            (
                vec![("OCF_RESKEY_CRM_meta_clone_node_max", "2")],
                2,
                false,
                "clone-node-max",
            ),
            (
                vec![("OCF_RESKEY_CRM_meta_promoted_node_max", "2")],
                2,
                false,
                "promoted-node-max",
            ),
            (
                vec![("OCF_RESKEY_CRM_meta_promoted_max", "3")],
                3,
                true,
                "at most two",
            ),
            (
                vec![("OCF_RESKEY_CRM_meta_promoted_max", "2")],
                2,
                false,
                "allow-two-primaries",
            ),
            (
                vec![("OCF_RESKEY_CRM_meta_clone_max", "3")],
                2,
                false,
                "only 2 hosts",
            ),
            (
                vec![
                    ("OCF_RESKEY_CRM_meta_clone_max", ""),
                    ("OCF_RESKEY_CRM_meta_promotable", ""),
                ],
                2,
                false,
                "not as a primitive",
            ),
            (
                vec![
                    ("OCF_RESKEY_CRM_meta_promotable", ""),
                    ("OCF_RESKEY_CRM_meta_promoted_max", ""),
                ],
                2,
                false,
                "not as a plain clone",
            ),
        ] {
            let f = check_clone(&with(&over), hosts, two).unwrap_err();
            assert_eq!(f.exit(), ocf::OcfExit::ErrConfigured);
            assert!(f.reason().contains(needle), "{over:?}: {}", f.reason());
        }
        assert!(check_clone(&with(&[("OCF_RESKEY_CRM_meta_promoted_max", "2")]), 2, true).is_ok());
    }

    #[test]
    fn outside_pacemaker_a_missing_clone_is_fine_but_promotable_false_is_not() {
        assert!(check_clone(&env(&[]), 0, false).unwrap().is_empty());
        let f = check_clone(
            &env(&[("OCF_RESKEY_CRM_meta_promotable", "false")]),
            0,
            false,
        );
        assert_eq!(f.unwrap_err().exit(), ocf::OcfExit::ErrConfigured);
    }

    #[test]
    fn notify_off_is_only_a_warning() {
        let w = check_clone(&with(&[("OCF_RESKEY_CRM_meta_notify", "false")]), 2, false).unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("notify=false"));
    }

    #[test]
    fn the_dump_gives_hosts_and_two_primaries() {
        let dump = "# resource r0 on vm: not ignored, not stacked\n\
            resource r0 {\n    device /dev/drbd0 minor 0;\n    on vm {\n        node-id 0;\n    }\n\
            \x20   on peer {\n        node-id 1;\n    }\n    net {\n        allow-two-primaries yes;\n    }\n}\n";
        assert_eq!(scan_dump(dump), (2, true));
        assert_eq!(
            scan_dump("resource r0 {\n    on a {\n    }\n}\n"),
            (1, false)
        );
    }

    #[test]
    fn resource_names_are_checked() {
        for ok in ["r0", "mysql-data", "a.b_c+d:1"] {
            assert!(valid_resource_name(ok), "{ok}");
        }
        for bad in ["", "all", "-c", "r 0", "r0;", "r0/x"] {
            assert!(!valid_resource_name(bad), "{bad}");
        }
    }
}
