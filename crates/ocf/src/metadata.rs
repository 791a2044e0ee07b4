//! The agent's self-description, rendered as meta-data XML that validates against both
//! `ra-api-1.dtd` (with its DOCTYPE, as `ocf-tester` requires) and `metadata.rng` from
//! Debian's resource-agents. That means staying inside what both allow: content types
//! `string`, `integer` and `boolean` only (a select is a string whose allowed values are
//! listed in its longdesc), exactly one longdesc and shortdesc with `lang`, roles spelled
//! `Promoted`/`Unpromoted`, and only the DTD's action names.

use std::fmt::Write as _;

use crate::action::Action;
use crate::params::{ParamKind, ParamSpec};

/// The role an action applies to, for promotable agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The promoted (primary) role.
    Promoted,
    /// The unpromoted (secondary) role.
    Unpromoted,
}

/// One advertised action with its default timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionSpec {
    /// Which action.
    pub action: Action,
    /// Suggested timeout, in seconds.
    pub timeout_s: u32,
    /// Suggested interval, in seconds (recurring monitors).
    pub interval_s: Option<u32>,
    /// Monitor depth (`OCF_CHECK_LEVEL`).
    pub depth: Option<u32>,
    /// Role, for promotable monitors.
    pub role: Option<Role>,
}

impl ActionSpec {
    /// An action with a timeout.
    pub const fn new(action: Action, timeout_s: u32) -> ActionSpec {
        ActionSpec {
            action,
            timeout_s,
            interval_s: None,
            depth: None,
            role: None,
        }
    }
    /// With a recurring interval.
    pub const fn every(mut self, interval_s: u32) -> ActionSpec {
        self.interval_s = Some(interval_s);
        self
    }
    /// With a check depth.
    pub const fn depth(mut self, depth: u32) -> ActionSpec {
        self.depth = Some(depth);
        self
    }
    /// For a role.
    pub const fn role(mut self, role: Role) -> ActionSpec {
        self.role = Some(role);
        self
    }
}

/// Everything an agent says about itself.
#[derive(Debug, Clone, Copy)]
pub struct AgentInfo {
    /// The agent's type name, e.g. `mgmt-api`.
    pub name: &'static str,
    /// The agent's own version.
    pub version: &'static str,
    /// One line.
    pub shortdesc: &'static str,
    /// Several paragraphs.
    pub longdesc: &'static str,
    /// The parameters.
    pub params: &'static [ParamSpec],
    /// The supported actions; `meta-data` and `validate-all` are always added.
    pub actions: &'static [ActionSpec],
}

impl AgentInfo {
    /// Whether the agent advertises an action.
    pub fn supports(&self, action: Action) -> bool {
        matches!(
            action,
            Action::MetaData | Action::ValidateAll | Action::Usage | Action::Methods
        ) || self.actions.iter().any(|a| a.action == action)
    }

    /// The default timeout the agent advertises for an action.
    pub fn default_timeout_s(&self, action: Action) -> Option<u32> {
        self.actions
            .iter()
            .find(|a| a.action == action)
            .map(|a| a.timeout_s)
    }

    /// The usage line: `usage: NAME {start|stop|...}`.
    pub fn usage(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for a in Action::ALL {
            if self.supports(a) && !names.contains(&a.name()) {
                names.push(a.name());
            }
        }
        format!("usage: {} {{{}}}", self.name, names.join("|"))
    }

    /// The meta-data XML document.
    pub fn metadata_xml(&self) -> String {
        let mut x = String::with_capacity(4096);
        x.push_str("<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n");
        let _ = writeln!(
            x,
            "<resource-agent name=\"{}\" version=\"{}\">",
            esc(self.name),
            esc(self.version)
        );
        x.push_str("<version>1.0</version>\n");
        let _ = writeln!(
            x,
            "<longdesc lang=\"en\">\n{}\n</longdesc>",
            esc(self.longdesc.trim())
        );
        let _ = writeln!(
            x,
            "<shortdesc lang=\"en\">{}</shortdesc>",
            esc(self.shortdesc)
        );
        x.push_str("<parameters>\n");
        for p in self.params {
            let _ = writeln!(
                x,
                "<parameter name=\"{}\" unique=\"{}\" required=\"{}\">",
                esc(p.name),
                u8::from(p.unique),
                u8::from(p.required)
            );
            let mut long = p.longdesc.trim().to_string();
            let ty = match p.kind {
                ParamKind::String => "string",
                ParamKind::Boolean => "boolean",
                ParamKind::Integer { min, max } => {
                    match (min, max) {
                        (Some(lo), Some(hi)) => {
                            let _ = write!(long, "\nRange: {lo} to {hi}.");
                        }
                        (Some(lo), None) => {
                            let _ = write!(long, "\nAt least {lo}.");
                        }
                        (None, Some(hi)) => {
                            let _ = write!(long, "\nAt most {hi}.");
                        }
                        (None, None) => {}
                    }
                    "integer"
                }
                ParamKind::Select(options) => {
                    let _ = write!(long, "\nAllowed values: {}.", options.join(", "));
                    "string"
                }
            };
            let _ = writeln!(x, "<longdesc lang=\"en\">\n{}\n</longdesc>", esc(&long));
            let _ = writeln!(x, "<shortdesc lang=\"en\">{}</shortdesc>", esc(p.shortdesc));
            match p.default {
                Some(d) => {
                    let _ = writeln!(x, "<content type=\"{ty}\" default=\"{}\" />", esc(d));
                }
                None => {
                    let _ = writeln!(x, "<content type=\"{ty}\" />");
                }
            }
            x.push_str("</parameter>\n");
        }
        x.push_str("</parameters>\n<actions>\n");
        let mut listed = self.actions.to_vec();
        for extra in [Action::MetaData, Action::ValidateAll] {
            if !listed.iter().any(|a| a.action == extra) {
                listed.push(ActionSpec::new(extra, 5));
            }
        }
        for a in &listed {
            let _ = write!(
                x,
                "<action name=\"{}\" timeout=\"{}s\"",
                a.action.name(),
                a.timeout_s
            );
            if let Some(i) = a.interval_s {
                let _ = write!(x, " interval=\"{i}s\"");
            }
            if let Some(d) = a.depth {
                let _ = write!(x, " depth=\"{d}\"");
            }
            if let Some(r) = a.role {
                let _ = write!(
                    x,
                    " role=\"{}\"",
                    match r {
                        Role::Promoted => "Promoted",
                        Role::Unpromoted => "Unpromoted",
                    }
                );
            }
            x.push_str(" />\n");
        }
        x.push_str("</actions>\n</resource-agent>\n");
        x
    }
}

/// Escape text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    static PARAMS: &[ParamSpec] = &[
        ParamSpec::string("path", "a <path> & more")
            .required()
            .unique(),
        ParamSpec::select("mode", &["a", "b"], "mode").default("a"),
        ParamSpec::integer("n", "n").range(Some(1), Some(9)),
    ];
    static ACTIONS: &[ActionSpec] = &[
        ActionSpec::new(Action::Start, 20),
        ActionSpec::new(Action::Stop, 20),
        ActionSpec::new(Action::Monitor, 20).every(10).depth(0),
        ActionSpec::new(Action::Monitor, 20)
            .every(11)
            .role(Role::Promoted),
    ];
    static INFO: AgentInfo = AgentInfo {
        name: "demo",
        version: "0.1",
        shortdesc: "demo",
        longdesc: "long",
        params: PARAMS,
        actions: ACTIONS,
    };

    #[test]
    fn metadata_has_doctype_escapes_and_lists_select_values() {
        let x = INFO.metadata_xml();
        assert!(x.contains("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">"));
        assert!(x.contains("a &lt;path&gt; &amp; more"));
        assert!(x.contains("Allowed values: a, b."));
        assert!(x.contains("<content type=\"string\" default=\"a\" />"));
        assert!(x.contains("Range: 1 to 9."));
        assert!(x.contains("role=\"Promoted\""));
        assert!(x.contains("<action name=\"meta-data\""));
        assert!(x.contains("<action name=\"validate-all\""));
        assert!(!x.contains("select"));
    }

    #[test]
    fn usage_lists_supported_actions_once() {
        assert_eq!(
            INFO.usage(),
            "usage: demo {start|stop|monitor|meta-data|validate-all|usage|methods}"
        );
        assert!(!INFO.supports(Action::Promote));
        assert_eq!(INFO.default_timeout_s(Action::Stop), Some(20));
    }
}
