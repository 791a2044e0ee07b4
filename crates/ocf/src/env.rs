//! The environment Pacemaker (or crm-lite's executor) gives an agent, read once into typed
//! structures: instance parameters (`OCF_RESKEY_*`), meta attributes
//! (`OCF_RESKEY_CRM_meta_*`), the check level and the notification lists.

use std::collections::BTreeMap;
use std::time::Duration;

/// Prefix of instance parameters.
pub const RESKEY_PREFIX: &str = "OCF_RESKEY_";
/// Prefix of meta attributes inside the instance-parameter namespace.
pub const META_PREFIX: &str = "OCF_RESKEY_CRM_meta_";

/// Everything read from the environment, once, at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OcfEnv {
    /// `OCF_RESOURCE_INSTANCE`, e.g. `api` or `db:1`.
    pub instance: Option<String>,
    /// `OCF_RESOURCE_TYPE`.
    pub resource_type: Option<String>,
    /// `OCF_RESOURCE_PROVIDER`.
    pub provider: Option<String>,
    /// `OCF_ROOT`.
    pub ocf_root: Option<String>,
    /// The depth of a monitor, from `OCF_CHECK_LEVEL` or `OCF_RESKEY_OCF_CHECK_LEVEL`.
    pub check_level: CheckLevel,
    /// Instance parameters: `OCF_RESKEY_<name>`, except meta attributes and the check level.
    pub params: BTreeMap<String, String>,
    /// Meta attributes: `OCF_RESKEY_CRM_meta_<name>`.
    pub meta: Meta,
    /// `OCF_RESKEY_crm_feature_set`: set by Pacemaker, so its presence says who runs us.
    pub crm_feature_set: Option<String>,
    /// `HA_LOGFILE`.
    pub ha_logfile: Option<String>,
    /// `HA_DEBUGFILE` (or the older `HA_DEBUGLOG`).
    pub ha_debugfile: Option<String>,
    /// Debug logging asked for (`HA_debug=1` or `OCF_TRACE_RA=1`).
    pub debug: bool,
    /// `HA_RSCTMP`: the directory for per-resource runtime state.
    pub rsctmp: Option<String>,
    /// `CRM_LITE_ATTR_DIR`: where crm-lite's executor collects node attributes from agents.
    pub crm_lite_attr_dir: Option<String>,
}

/// Monitor depth, rounded down to a level the OCF spec defines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckLevel {
    /// 0: the lightest check (the process exists).
    #[default]
    Basic,
    /// 10: a medium check, may run several times a minute.
    Medium,
    /// 20: a thorough check, run infrequently.
    Deep,
}

impl CheckLevel {
    /// Round any number down to 0, 10 or 20; what cannot be read as a number is level 0.
    pub fn from_value(v: &str) -> CheckLevel {
        match v.trim().parse::<i64>() {
            Ok(n) if n >= 20 => CheckLevel::Deep,
            Ok(n) if n >= 10 => CheckLevel::Medium,
            _ => CheckLevel::Basic,
        }
    }
    /// The numeric level.
    pub fn number(self) -> u32 {
        match self {
            CheckLevel::Basic => 0,
            CheckLevel::Medium => 10,
            CheckLevel::Deep => 20,
        }
    }
}

/// Meta attributes of the resource and of the operation being run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// `timeout`: the operation's timeout.
    pub timeout: Option<Duration>,
    /// `interval`: zero for one-shot operations and probes.
    pub interval: Option<Duration>,
    /// `name`: the operation's name.
    pub op_name: Option<String>,
    /// `on_node`: the node the operation runs on.
    pub on_node: Option<String>,
    /// `clone`: this clone instance's number.
    pub clone: Option<u32>,
    /// `clone_max`.
    pub clone_max: Option<u32>,
    /// `clone_node_max`.
    pub clone_node_max: Option<u32>,
    /// `promoted_max` (or the legacy `master_max`).
    pub promoted_max: Option<u32>,
    /// `promoted_node_max` (or the legacy `master_node_max`).
    pub promoted_node_max: Option<u32>,
    /// `promotable`.
    pub promotable: bool,
    /// `notify`.
    pub notify: bool,
    /// `globally_unique`.
    pub globally_unique: bool,
    /// `migrate_source`: the node a live migration leaves.
    pub migrate_source: Option<String>,
    /// `migrate_target`: the node a live migration goes to.
    pub migrate_target: Option<String>,
    /// The notification this `notify` call describes, when there is one.
    pub notification: Option<Notification>,
    /// Every meta attribute, as given.
    pub all: BTreeMap<String, String>,
}

impl Meta {
    /// Whether this operation is a probe: a monitor with interval 0.
    pub fn is_probe(&self) -> bool {
        self.op_name.as_deref().is_none_or(|n| n == "monitor")
            && self.interval.is_none_or(|i| i.is_zero())
    }
}

/// Whether a notification comes before or after the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyType {
    /// Before the operation.
    Pre,
    /// After the operation.
    Post,
}

/// A clone notification (`OCF_RESKEY_CRM_meta_notify_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// `pre` or `post`.
    pub kind: NotifyType,
    /// start, stop, promote or demote.
    pub operation: String,
    /// Instances being started.
    pub start: Vec<Peer>,
    /// Instances being stopped.
    pub stop: Vec<Peer>,
    /// Instances active before the operation.
    pub active: Vec<Peer>,
    /// Instances inactive before the operation (Pacemaker gives no node names here).
    pub inactive: Vec<Peer>,
    /// Instances being promoted.
    pub promote: Vec<Peer>,
    /// Instances being demoted.
    pub demote: Vec<Peer>,
    /// Instances in the promoted role (`promoted_*`, or the legacy `master_*`).
    pub promoted: Vec<Peer>,
    /// Instances in the unpromoted role (`unpromoted_*`, or the legacy `slave_*`).
    pub unpromoted: Vec<Peer>,
}

/// One clone instance named in a notification: its resource name and node, when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The instance, e.g. `db:1`.
    pub resource: String,
    /// The node it is on, e.g. `node2`.
    pub node: Option<String>,
}

impl OcfEnv {
    /// Read the process environment.
    pub fn from_process() -> OcfEnv {
        OcfEnv::from_vars(std::env::vars())
    }

    /// Read an environment given as name/value pairs (tests use this).
    pub fn from_vars<I, K, V>(vars: I) -> OcfEnv
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();

        let mut params = BTreeMap::new();
        let mut meta_all = BTreeMap::new();
        for (k, v) in &vars {
            if let Some(m) = k.strip_prefix(META_PREFIX) {
                meta_all.insert(m.to_string(), v.clone());
            } else if let Some(p) = k.strip_prefix(RESKEY_PREFIX) {
                if p != "OCF_CHECK_LEVEL" && p != "crm_feature_set" {
                    params.insert(p.to_string(), v.clone());
                }
            }
        }
        let check_level = get("OCF_CHECK_LEVEL")
            .or_else(|| get("OCF_RESKEY_OCF_CHECK_LEVEL"))
            .map(|v| CheckLevel::from_value(&v))
            .unwrap_or_default();
        let truthy = |k: &str| get(k).is_some_and(|v| is_true(&v));

        OcfEnv {
            instance: get("OCF_RESOURCE_INSTANCE"),
            resource_type: get("OCF_RESOURCE_TYPE"),
            provider: get("OCF_RESOURCE_PROVIDER"),
            ocf_root: get("OCF_ROOT"),
            check_level,
            params,
            meta: Meta::from_map(meta_all),
            crm_feature_set: get("OCF_RESKEY_crm_feature_set"),
            ha_logfile: get("HA_LOGFILE"),
            ha_debugfile: get("HA_DEBUGFILE").or_else(|| get("HA_DEBUGLOG")),
            debug: truthy("HA_debug") || truthy("OCF_TRACE_RA"),
            rsctmp: get("HA_RSCTMP"),
            crm_lite_attr_dir: get("CRM_LITE_ATTR_DIR"),
        }
    }

    /// The resource instance name, or a stand-in when run by hand without one.
    pub fn instance_or_default(&self) -> &str {
        self.instance.as_deref().unwrap_or("default")
    }

    /// The instance name without a clone suffix (`db:1` → `db`).
    pub fn resource_base(&self) -> &str {
        let i = self.instance_or_default();
        i.split_once(':').map_or(i, |(b, _)| b)
    }
}

/// Pacemaker's notion of a true value.
pub fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on" | "y"
    )
}

fn ms(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_millis)
}

impl Meta {
    fn from_map(all: BTreeMap<String, String>) -> Meta {
        let get = |k: &str| all.get(k).filter(|v| !v.is_empty()).cloned();
        let num = |k: &str| get(k).and_then(|v| v.trim().parse::<u32>().ok());
        let flag = |k: &str| get(k).is_some_and(|v| is_true(&v));
        let notification = get("notify_type").map(|t| {
            let list = |kind: &str, legacy: Option<&str>| {
                let pick = |suffix: &str| {
                    get(&format!("notify_{kind}_{suffix}"))
                        .or_else(|| legacy.and_then(|l| get(&format!("notify_{l}_{suffix}"))))
                        .unwrap_or_default()
                };
                zip_peers(&pick("resource"), &pick("uname"))
            };
            Notification {
                kind: if t.eq_ignore_ascii_case("pre") {
                    NotifyType::Pre
                } else {
                    NotifyType::Post
                },
                operation: get("notify_operation").unwrap_or_default(),
                start: list("start", None),
                stop: list("stop", None),
                active: list("active", None),
                inactive: list("inactive", None),
                promote: list("promote", None),
                demote: list("demote", None),
                promoted: list("promoted", Some("master")),
                unpromoted: list("unpromoted", Some("slave")),
            }
        });
        Meta {
            timeout: get("timeout").and_then(|v| ms(&v)),
            interval: get("interval").and_then(|v| ms(&v)),
            op_name: get("name"),
            on_node: get("on_node"),
            clone: num("clone"),
            clone_max: num("clone_max"),
            clone_node_max: num("clone_node_max"),
            promoted_max: num("promoted_max").or_else(|| num("master_max")),
            promoted_node_max: num("promoted_node_max").or_else(|| num("master_node_max")),
            promotable: flag("promotable"),
            notify: flag("notify"),
            globally_unique: flag("globally_unique"),
            migrate_source: get("migrate_source"),
            migrate_target: get("migrate_target"),
            notification,
            all,
        }
    }
}

/// Pair Pacemaker's parallel, space-separated resource and node lists.
fn zip_peers(resources: &str, unames: &str) -> Vec<Peer> {
    let mut nodes = unames.split_whitespace();
    resources
        .split_whitespace()
        .map(|r| Peer {
            resource: r.to_string(),
            node: nodes.next().map(str::to_string),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> OcfEnv {
        OcfEnv::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn check_level_prefers_the_unprefixed_spelling_and_rounds_down() {
        assert_eq!(env(&[]).check_level, CheckLevel::Basic);
        assert_eq!(
            env(&[("OCF_CHECK_LEVEL", "15")]).check_level,
            CheckLevel::Medium
        );
        assert_eq!(
            env(&[("OCF_RESKEY_OCF_CHECK_LEVEL", "30")]).check_level,
            CheckLevel::Deep
        );
        assert_eq!(
            env(&[
                ("OCF_CHECK_LEVEL", "0"),
                ("OCF_RESKEY_OCF_CHECK_LEVEL", "20")
            ])
            .check_level,
            CheckLevel::Basic
        );
        assert_eq!(
            env(&[("OCF_CHECK_LEVEL", "9")]).check_level,
            CheckLevel::Basic
        );
        assert_eq!(
            env(&[("OCF_CHECK_LEVEL", "junk")]).check_level,
            CheckLevel::Basic
        );
    }

    #[test]
    fn params_exclude_meta_and_check_level() {
        let e = env(&[
            ("OCF_RESKEY_command", "/bin/true"),
            ("OCF_RESKEY_CRM_meta_timeout", "20000"),
            ("OCF_RESKEY_OCF_CHECK_LEVEL", "10"),
            ("OCF_RESKEY_crm_feature_set", "3.16.2"),
        ]);
        assert_eq!(e.params.keys().collect::<Vec<_>>(), vec!["command"]);
        assert_eq!(e.meta.timeout, Some(Duration::from_secs(20)));
        assert_eq!(e.crm_feature_set.as_deref(), Some("3.16.2"));
    }

    #[test]
    fn clone_and_promotable_settings_accept_legacy_names() {
        let e = env(&[
            ("OCF_RESKEY_CRM_meta_clone", "2"),
            ("OCF_RESKEY_CRM_meta_clone_max", "3"),
            ("OCF_RESKEY_CRM_meta_clone_node_max", "1"),
            ("OCF_RESKEY_CRM_meta_master_max", "1"),
            ("OCF_RESKEY_CRM_meta_promoted_node_max", "1"),
            ("OCF_RESKEY_CRM_meta_promotable", "true"),
            ("OCF_RESKEY_CRM_meta_notify", "true"),
            ("OCF_RESKEY_CRM_meta_globally_unique", "false"),
        ]);
        let m = &e.meta;
        assert_eq!(
            (m.clone, m.clone_max, m.clone_node_max),
            (Some(2), Some(3), Some(1))
        );
        assert_eq!((m.promoted_max, m.promoted_node_max), (Some(1), Some(1)));
        assert!(m.promotable && m.notify && !m.globally_unique);
    }

    #[test]
    fn notify_lists_pair_resources_with_nodes_in_both_spellings() {
        let legacy = env(&[
            ("OCF_RESKEY_CRM_meta_notify_type", "post"),
            ("OCF_RESKEY_CRM_meta_notify_operation", "promote"),
            ("OCF_RESKEY_CRM_meta_notify_master_resource", "db:0 "),
            ("OCF_RESKEY_CRM_meta_notify_master_uname", "n1"),
            ("OCF_RESKEY_CRM_meta_notify_slave_resource", "db:1 db:2"),
            ("OCF_RESKEY_CRM_meta_notify_slave_uname", "n2 n3"),
            ("OCF_RESKEY_CRM_meta_notify_inactive_resource", "db:3"),
        ]);
        let n = legacy.meta.notification.expect("a notification");
        assert_eq!(n.kind, NotifyType::Post);
        assert_eq!(n.operation, "promote");
        assert_eq!(
            n.promoted,
            vec![Peer {
                resource: "db:0".into(),
                node: Some("n1".into())
            }]
        );
        assert_eq!(n.unpromoted.len(), 2);
        assert_eq!(n.unpromoted[1].node.as_deref(), Some("n3"));
        assert_eq!(n.inactive[0].node, None);

        let modern = env(&[
            ("OCF_RESKEY_CRM_meta_notify_type", "pre"),
            ("OCF_RESKEY_CRM_meta_notify_promoted_resource", "db:1"),
            ("OCF_RESKEY_CRM_meta_notify_promoted_uname", "n2"),
            ("OCF_RESKEY_CRM_meta_notify_master_resource", "stale:9"),
        ]);
        let n = modern.meta.notification.expect("a notification");
        assert_eq!(n.kind, NotifyType::Pre);
        assert_eq!(n.promoted[0].resource, "db:1");
    }

    #[test]
    fn migration_and_probe_detection() {
        let e = env(&[
            ("OCF_RESKEY_CRM_meta_migrate_source", "a"),
            ("OCF_RESKEY_CRM_meta_migrate_target", "b"),
            ("OCF_RESKEY_CRM_meta_interval", "0"),
            ("OCF_RESKEY_CRM_meta_name", "monitor"),
        ]);
        assert_eq!(e.meta.migrate_source.as_deref(), Some("a"));
        assert_eq!(e.meta.migrate_target.as_deref(), Some("b"));
        assert!(e.meta.is_probe());
        let recurring = env(&[("OCF_RESKEY_CRM_meta_interval", "10000")]);
        assert!(!recurring.meta.is_probe());
    }

    #[test]
    fn instance_base_strips_the_clone_suffix() {
        let e = env(&[("OCF_RESOURCE_INSTANCE", "db:1")]);
        assert_eq!(e.resource_base(), "db");
        assert_eq!(env(&[]).instance_or_default(), "default");
    }
}
