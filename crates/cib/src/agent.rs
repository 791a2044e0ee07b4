//! Resource-agent meta-data: parsed from the agent's own `meta-data` output, and used to
//! check a primitive's parameters. Running the agent is the caller's business (this crate
//! does no process I/O).
use crate::diag::Severity;
use crate::lower::{Lower, parse_bool};
use crate::model::Primitive;
use crate::tree::Document;

/// One `<parameter>` an agent advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentParameter {
    /// Parameter name.
    pub name: String,
    /// `required="1"`.
    pub required: bool,
    /// `deprecated` (OCF 1.1) or marked obsolete.
    pub deprecated: bool,
    /// `unique="1"`.
    pub unique: bool,
    /// `reloadable="1"` (OCF 1.1).
    pub reloadable: bool,
}

/// What crm-lite needs from an agent's meta-data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentMetadata {
    /// `<resource-agent name>`.
    pub name: String,
    /// The parameters.
    pub parameters: Vec<AgentParameter>,
    /// Advertised action names.
    pub actions: Vec<String>,
    /// The OCF version it implements (`<version>`), if it says.
    pub ocf_version: Option<String>,
}

/// Meta-data output that is not a `<resource-agent>` document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid agent meta-data: {reason}")]
pub struct MetadataError {
    /// What is wrong.
    pub reason: String,
}

impl AgentMetadata {
    /// Parse an agent's `meta-data` output.
    pub fn parse(xml: &str) -> Result<AgentMetadata, MetadataError> {
        let (doc, err) = Document::parse(xml);
        if let Some(e) = err {
            return Err(MetadataError { reason: e.message });
        }
        let root = doc.root().ok_or_else(|| MetadataError {
            reason: "no root element".into(),
        })?;
        if doc.get(root).name != "resource-agent" {
            return Err(MetadataError {
                reason: format!("root element is <{}>", doc.get(root).name),
            });
        }
        let mut md = AgentMetadata {
            name: doc.get(root).attr("name").unwrap_or_default().to_owned(),
            parameters: Vec::new(),
            actions: Vec::new(),
            ocf_version: doc
                .child(root, "version")
                .map(|v| doc.text(v).trim().to_owned()),
        };
        if let Some(ps) = doc.child(root, "parameters") {
            for p in doc.children(ps) {
                let e = doc.get(p);
                if e.name != "parameter" {
                    continue;
                }
                let Some(name) = e.attr("name") else { continue };
                let flag = |n: &str| e.attr(n).and_then(parse_bool).unwrap_or(false);
                md.parameters.push(AgentParameter {
                    name: name.to_owned(),
                    required: flag("required"),
                    deprecated: flag("deprecated") || doc.child(p, "deprecated").is_some(),
                    unique: flag("unique"),
                    reloadable: flag("reloadable"),
                });
            }
        }
        if let Some(acts) = doc.child(root, "actions") {
            for a in doc.children(acts) {
                if let Some(n) = doc.get(a).attr("name") {
                    md.actions.push(n.to_owned());
                }
            }
        }
        Ok(md)
    }
}

/// Resource meta-attributes, often put among the parameters by mistake.
const META_ATTRIBUTES: [&str; 17] = [
    "target-role",
    "is-managed",
    "maintenance",
    "resource-stickiness",
    "migration-threshold",
    "failure-timeout",
    "priority",
    "allow-migrate",
    "requires",
    "multiple-active",
    "critical",
    "notify",
    "interleave",
    "ordered",
    "globally-unique",
    "clone-max",
    "clone-node-max",
];

/// Parameters Pacemaker itself understands on any resource (never "unknown").
const PACEMAKER_PARAMS: [&str; 2] = ["trace_ra", "trace_file"];

/// The classes crm-lite's executor runs; the others that Pacemaker knows (`lsb`,
/// `systemd`, `service`, ...) are `unsupported:`.
pub const RUNNABLE_CLASSES: [&str; 2] = ["ocf", "stonith"];

/// Every resource class Pacemaker knows; any other is an error of the lowering.
pub const KNOWN_CLASSES: [&str; 9] = [
    "ocf",
    "lsb",
    "heartbeat",
    "stonith",
    "service",
    "systemd",
    "upstart",
    "nagios",
    "alert",
];

/// Whether crm-lite could run `p`'s agent: a class it runs, an agent name that is a name.
pub(crate) fn check_runnable(l: &mut Lower<'_>, p: &Primitive) {
    if !RUNNABLE_CLASSES.contains(&p.class.as_str()) {
        // Unknown classes are already errors of the lowering.
        if KNOWN_CLASSES.contains(&p.class.as_str()) {
            l.report(
                Severity::Error,
                p.element,
                Some("class"),
                format!(
                    "unsupported: resource class '{}' of {} (crm-lite runs ocf resource agents \
                     and stonith fence agents)",
                    p.class, p.id
                ),
            );
        }
        return;
    }
    let provider = p.provider.as_deref().filter(|_| p.class == "ocf");
    let Err(e) = crate::names::check_agent(provider, &p.agent) else {
        return;
    };
    let attr = if e.what == "provider" {
        "provider"
    } else {
        "type"
    };
    // Heartbeat's stonith plugins (`external/ssh`) are run by Pacemaker through
    // fence_legacy: a feature crm-lite lacks, not a broken CIB.
    let plugin = p.class == "stonith"
        && p.agent
            .strip_prefix("external/")
            .is_some_and(|rest| crate::names::check_agent_name("type", rest).is_ok());
    // Old configurations name an agent by its absolute path, which crm_verify accepts:
    // a form crm-lite does not run, not an attempt to leave the agents' directory.
    let absolute = p.agent.starts_with('/') && !p.agent.contains("..") && e.what == "type";
    let message = if plugin {
        format!(
            "unsupported: stonith plugin '{}' of {} (crm-lite runs fence agents)",
            p.agent, p.id
        )
    } else if absolute {
        format!(
            "unsupported: agent type given as a path, '{}' of {} (crm-lite runs agents by \
             name, from the provider's directory)",
            p.agent, p.id
        )
    } else {
        format!("resource {}: {e}", p.id)
    };
    l.report(Severity::Error, p.element, Some(attr), message);
}

pub(crate) fn check_params(l: &mut Lower<'_>, p: &Primitive, md: &AgentMetadata) {
    let agent = format!(
        "{}:{}{}",
        p.class,
        p.provider
            .as_deref()
            .map(|x| format!("{x}:"))
            .unwrap_or_default(),
        p.agent
    );
    for param in md.parameters.iter().filter(|x| x.required) {
        if !p.params.pairs().any(|x| x.name == param.name) {
            l.report(
                Severity::Error,
                p.element,
                None,
                format!(
                    "resource {} lacks parameter {} required by {agent}",
                    p.id, param.name
                ),
            );
        }
    }
    for pair in p.params.pairs() {
        if PACEMAKER_PARAMS.contains(&pair.name.as_str()) {
            continue;
        }
        let as_meta = pair.name.replace('_', "-");
        match md.parameters.iter().find(|x| x.name == pair.name) {
            None if META_ATTRIBUTES.contains(&as_meta.as_str()) => l.report(
                Severity::Warning,
                pair.element,
                Some("name"),
                format!(
                    "{agent} has no parameter {}: {as_meta} is a meta-attribute, set it in meta_attributes",
                    pair.name
                ),
            ),
            None => l.report(
                Severity::Warning,
                pair.element,
                Some("name"),
                format!("{agent} has no parameter {}", pair.name),
            ),
            Some(x) if x.deprecated => l.report(
                Severity::Warning,
                pair.element,
                Some("name"),
                format!("parameter {} of {agent} is deprecated", pair.name),
            ),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runnable(xml: &str) -> Vec<String> {
        let src = format!(
            "<cib><configuration><crm_config/><nodes/><resources>{xml}</resources>\
             <constraints/></configuration><status/></cib>"
        );
        let mut p = crate::parse("t.xml", &src);
        let before = p.diagnostics.len();
        p.check_runnable();
        p.diagnostics[before..]
            .iter()
            .map(|d| d.to_string())
            .collect()
    }

    #[test]
    fn only_classes_and_agent_names_crm_lite_can_run_pass() {
        assert_eq!(
            runnable(r#"<primitive id="d" class="ocf" provider="heartbeat" type="Dummy"/>"#),
            Vec::<String>::new()
        );
        assert_eq!(
            runnable(r#"<primitive id="f" class="stonith" type="fence_xvm"/>"#),
            Vec::<String>::new()
        );
        let d = runnable(
            r#"<primitive id="evil" class="ocf" provider="test" type="../../../../bin/true"/>"#,
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with("error: t.xml:1:")
                && d[0].contains(
                    "[evil] resource evil: type '../../../../bin/true' is not an agent name"
                ),
            "{d:?}"
        );
        let d = runnable(r#"<primitive id="p" class="ocf" provider="a/b" type="Dummy"/>"#);
        assert!(
            d[0].contains("provider 'a/b' is not an agent name"),
            "{d:?}"
        );
        for class in [
            "lsb",
            "systemd",
            "service",
            "upstart",
            "nagios",
            "heartbeat",
        ] {
            let d = runnable(&format!(
                r#"<primitive id="s" class="{class}" type="cron"/>"#
            ));
            assert_eq!(d.len(), 1, "{d:?}");
            assert!(
                d[0].contains(&format!("unsupported: resource class '{class}' of s")),
                "{d:?}"
            );
        }
        let d = runnable(r#"<primitive id="f" class="stonith" type="external/ssh"/>"#);
        assert!(
            d[0].contains("unsupported: stonith plugin 'external/ssh'"),
            "{d:?}"
        );
        let d =
            runnable(r#"<primitive id="o" class="ocf" provider="heartbeat" type="/usr/lib/x/D"/>"#);
        assert!(
            d[0].contains("unsupported: agent type given as a path, '/usr/lib/x/D' of o"),
            "{d:?}"
        );
        let d = runnable(
            r#"<primitive id="o" class="ocf" provider="heartbeat" type="/usr/../bin/true"/>"#,
        );
        assert!(!d[0].contains("unsupported"), "{d:?}");
        let d = runnable(r#"<primitive id="f" class="stonith" type="../sbin/reboot"/>"#);
        assert!(!d[0].contains("unsupported"), "{d:?}");
    }

    #[test]
    fn parses_parameters_and_actions() {
        let md = AgentMetadata::parse(
            r#"<?xml version="1.0"?><resource-agent name="Dummy" version="1.0">
            <parameters><parameter name="state" unique="1"><content type="string"/></parameter>
            <parameter name="ip" required="1"/><parameter name="old" deprecated="true"/></parameters>
            <actions><action name="start" timeout="20s"/><action name="monitor"/></actions>
            </resource-agent>"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(md.name, "Dummy");
        assert_eq!(md.parameters.len(), 3);
        assert!(md.parameters[1].required);
        assert!(md.parameters[2].deprecated);
        assert_eq!(md.actions, ["start", "monitor"]);
        assert!(AgentMetadata::parse("<nope/>").is_err());
    }
}
