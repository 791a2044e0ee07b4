//! An OCF agent's meta-data (the XML that `<agent> meta-data` prints) read into [`Meta`]
//! and written as a section-7 man page, `ocf_<provider>_<agent>(7)`, as resource-agents
//! names its pages: parameters with their defaults, actions with their timeouts, and an
//! example `crm configure` and `pcs` line. Pure: text in, text out.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::DocsError;

/// What a man page needs from an agent's meta-data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// The agent's name (`mysql`).
    pub name: String,
    /// The agent's version attribute.
    pub version: String,
    /// One line.
    pub shortdesc: String,
    /// Paragraphs.
    pub longdesc: String,
    /// Parameters in declaration order.
    pub params: Vec<Param>,
    /// Actions in declaration order.
    pub actions: Vec<ActionLine>,
}

/// One `<parameter>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Param {
    /// Name.
    pub name: String,
    /// `required="1"`.
    pub required: bool,
    /// `unique="1"`.
    pub unique: bool,
    /// One line.
    pub shortdesc: String,
    /// Paragraphs.
    pub longdesc: String,
    /// `<content type=...>`.
    pub kind: String,
    /// `<content default=...>`, if any.
    pub default: Option<String>,
}

/// One `<action>`: its name and the other attributes in order (`timeout="20s"`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionLine {
    /// Name.
    pub name: String,
    /// `(attribute, value)` pairs other than the name.
    pub attrs: Vec<(String, String)>,
}

fn attrs(e: &quick_xml::events::BytesStart<'_>) -> Result<Vec<(String, String)>, String> {
    e.attributes()
        .map(|a| {
            let a = a.map_err(|e| e.to_string())?;
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?;
            Ok((a.key.as_ref().to_string(), v.into_owned()))
        })
        .collect()
}

fn get(a: &[(String, String)], key: &str) -> Option<String> {
    a.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// Read meta-data. `agent` names it in errors.
pub fn parse(agent: &str, xml: &str) -> Result<Meta, DocsError> {
    let err = |reason: String| DocsError::MetaData {
        agent: agent.to_string(),
        reason,
    };
    let mut reader = Reader::from_str(xml);
    let mut meta = Meta::default();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| err(format!("at byte {}: {e}", reader.buffer_position())))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.name().as_ref().to_string();
                let a = attrs(e).map_err(&err)?;
                match name.as_str() {
                    "resource-agent" => {
                        meta.name = get(&a, "name").unwrap_or_default();
                        meta.version = get(&a, "version").unwrap_or_default();
                    }
                    "parameter" => meta.params.push(Param {
                        name: get(&a, "name")
                            .ok_or_else(|| err("a parameter has no name".into()))?,
                        required: get(&a, "required").as_deref() == Some("1"),
                        unique: get(&a, "unique").as_deref() == Some("1"),
                        ..Param::default()
                    }),
                    "content" => {
                        if let Some(p) = meta.params.last_mut() {
                            p.kind = get(&a, "type").unwrap_or_default();
                            p.default = get(&a, "default");
                        }
                    }
                    "action" => meta.actions.push(ActionLine {
                        name: get(&a, "name").ok_or_else(|| err("an action has no name".into()))?,
                        attrs: a.into_iter().filter(|(k, _)| k != "name").collect(),
                    }),
                    _ => {}
                }
                if matches!(ev, Event::Start(_)) {
                    path.push(name);
                    text.clear();
                }
            }
            Event::Text(t) => text.push_str(&t),
            Event::GeneralRef(r) => {
                text.push('&');
                text.push_str(&r);
                text.push(';');
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let value = quick_xml::escape::unescape(text.trim())
                    .map_err(|e| err(e.to_string()))?
                    .into_owned();
                let in_param = path.last().is_some_and(|p| p == "parameter");
                match (name.as_str(), in_param) {
                    ("shortdesc", true) => set_last(&mut meta.params, |p| p.shortdesc = value),
                    ("longdesc", true) => set_last(&mut meta.params, |p| p.longdesc = value),
                    ("shortdesc", false) => meta.shortdesc = value,
                    ("longdesc", false) => meta.longdesc = value,
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if meta.name.is_empty() {
        return Err(err("no <resource-agent name=...> element".into()));
    }
    Ok(meta)
}

fn set_last(params: &mut [Param], f: impl FnOnce(&mut Param)) {
    if let Some(p) = params.last_mut() {
        f(p);
    }
}

/// Text for roff: backslashes and hyphens escaped, no line starting with a control
/// character.
fn roff(s: &str) -> String {
    let escaped = s.replace('\\', "\\e").replace('-', "\\-");
    escaped
        .lines()
        .map(|l| {
            if l.starts_with(['.', '\'']) {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A placeholder value for a parameter in the example line.
fn example_value(p: &Param) -> String {
    p.default
        .clone()
        .unwrap_or_else(|| format!("<{}>", p.name.replace('_', "-")))
}

/// The man page's file name: `ocf_<provider>_<agent>.7`.
pub fn file_name(provider: &str, meta: &Meta) -> String {
    format!("ocf_{provider}_{}.7", meta.name)
}

/// The section-7 page for an agent of `provider`, as roff.
pub fn render(provider: &str, meta: &Meta) -> String {
    let page = format!("ocf_{provider}_{}", meta.name);
    let agent = format!("ocf:{provider}:{}", meta.name);
    let mut s = String::new();
    s.push_str(&format!(
        ".TH {} 7 \"\" \"{} {}\" \"OCF resource agents\"\n",
        roff(&page.to_uppercase()),
        roff(provider),
        roff(&meta.version)
    ));
    s.push_str(&format!(
        ".SH NAME\n{} \\- {}\n",
        roff(&page),
        roff(&meta.shortdesc)
    ));
    s.push_str(&format!(
        ".SH SYNOPSIS\n\\fBOCF_ROOT\\fR=/usr/lib/ocf [\\fBOCF_RESKEY_\\fIparameter\\fR=\\fIvalue\\fR ...] \
         \\fB/usr/lib/ocf/resource.d/{}/{}\\fR \\fIaction\\fR\n",
        roff(provider),
        roff(&meta.name)
    ));
    s.push_str(&format!(".SH DESCRIPTION\n{}\n", roff(&meta.longdesc)));
    s.push_str(".SH PARAMETERS\n");
    for p in &meta.params {
        let mut flags = Vec::new();
        if p.required {
            flags.push("required");
        }
        if p.unique {
            flags.push("unique");
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" ({})", flags.join(", "))
        };
        s.push_str(&format!(
            ".TP\n\\fB{}\\fR{}\n{}\n",
            roff(&p.name),
            flags,
            roff(&p.shortdesc)
        ));
        if !p.longdesc.is_empty() && p.longdesc != p.shortdesc {
            s.push_str(&format!(".br\n{}\n", roff(&p.longdesc)));
        }
        let mut facts = format!("Type: {}", roff(&p.kind));
        if let Some(d) = &p.default {
            facts.push_str(&format!(". Default: {}", roff(d)));
        }
        s.push_str(&format!(".br\n{facts}.\n"));
    }
    s.push_str(".SH ACTIONS\n");
    for a in &meta.actions {
        let detail: Vec<String> = a
            .attrs
            .iter()
            .map(|(k, v)| format!("{}={}", roff(k), roff(v)))
            .collect();
        s.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            roff(&a.name),
            if detail.is_empty() {
                "(no defaults)".to_string()
            } else {
                detail.join(" ")
            }
        ));
    }
    let required: Vec<String> = meta
        .params
        .iter()
        .filter(|p| p.required)
        .map(|p| format!("{}={}", p.name, example_value(p)))
        .collect();
    let monitor = meta
        .actions
        .iter()
        .find(|a| a.name == "monitor")
        .and_then(|a| get(&a.attrs, "interval"))
        .unwrap_or_else(|| "10s".to_string());
    let rsc = format!("p_{}", meta.name.replace('-', "_"));
    let params = if required.is_empty() {
        String::new()
    } else {
        format!(" params {}", required.join(" "))
    };
    let pcs_params = if required.is_empty() {
        String::new()
    } else {
        format!(" {}", required.join(" "))
    };
    // A promotable agent is configured as a promotable clone.
    let promotable = meta.actions.iter().any(|a| a.name == "promote");
    let crm_clone = if promotable {
        format!(
            "\ncrm configure clone {} {} meta promotable=true notify=true",
            roff(&format!("{rsc}_clone")),
            roff(&rsc)
        )
    } else {
        String::new()
    };
    let pcs_clone = if promotable {
        " promotable notify=true"
    } else {
        ""
    };
    s.push_str(&format!(
        ".SH EXAMPLE\nWith crmsh:\n.PP\n.nf\n.RS\ncrm configure primitive {} {}{} op monitor interval={}{}\n.RE\n.fi\n\
         .PP\nWith pcs:\n.PP\n.nf\n.RS\npcs resource create {} {}{} op monitor interval={}{}\n.RE\n.fi\n",
        roff(&rsc),
        roff(&agent),
        roff(&params),
        roff(&monitor),
        crm_clone,
        roff(&rsc),
        roff(&agent),
        roff(&pcs_params),
        roff(&monitor),
        pcs_clone,
    ));
    s.push_str(
        ".SH SEE ALSO\n\\fBcrm\\-lite\\fR(8), \\fBcrm_resource\\fR(8), \\fBocf\\-tester\\fR(8)\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="mgmt-api" version="0.1.0">
<version>1.0</version>
<longdesc lang="en">
Starts an API. Depth 10 checks health_url.
</longdesc>
<shortdesc lang="en">Manages an HTTP management API service</shortdesc>
<parameters>
<parameter name="command" unique="1" required="1">
<longdesc lang="en">
The program; a backslash \ escapes.
</longdesc>
<shortdesc lang="en">The service&apos;s command line</shortdesc>
<content type="string" />
</parameter>
<parameter name="expect_status" unique="0" required="0">
<longdesc lang="en">
.dot at the start of a line
</longdesc>
<shortdesc lang="en">Expected HTTP status</shortdesc>
<content type="integer" default="200" />
</parameter>
</parameters>
<actions>
<action name="start" timeout="60s" />
<action name="monitor" timeout="20s" interval="10s" depth="0" />
</actions>
</resource-agent>
"#;

    #[test]
    fn meta_data_is_read_with_parameters_defaults_and_actions() {
        let m = parse("mgmt-api", XML).unwrap();
        assert_eq!((m.name.as_str(), m.version.as_str()), ("mgmt-api", "0.1.0"));
        assert_eq!(m.shortdesc, "Manages an HTTP management API service");
        assert_eq!(m.params.len(), 2);
        let c = &m.params[0];
        assert!(c.required && c.unique);
        assert_eq!(c.shortdesc, "The service's command line");
        assert_eq!(m.params[1].default.as_deref(), Some("200"));
        assert_eq!(m.actions[1].name, "monitor");
        assert_eq!(get(&m.actions[1].attrs, "interval").as_deref(), Some("10s"));
    }

    #[test]
    fn the_page_has_every_section_an_example_and_escaped_text() {
        let m = parse("mgmt-api", XML).unwrap();
        let page = render("crm-lite", &m);
        assert_eq!(file_name("crm-lite", &m), "ocf_crm-lite_mgmt-api.7");
        assert!(
            page.starts_with(".TH OCF_CRM\\-LITE_MGMT\\-API 7 "),
            "{page}"
        );
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "PARAMETERS",
            "ACTIONS",
            "EXAMPLE",
        ] {
            assert!(
                page.contains(&format!(".SH {section}\n")),
                "{section}: {page}"
            );
        }
        assert!(
            page.contains("\\fBcommand\\fR (required, unique)"),
            "{page}"
        );
        assert!(page.contains("Type: integer. Default: 200."), "{page}");
        assert!(page.contains("timeout=20s interval=10s depth=0"), "{page}");
        assert!(
            page.contains(
                "crm configure primitive p_mgmt_api ocf:crm\\-lite:mgmt\\-api params \
                 command=<command> op monitor interval=10s"
            ),
            "{page}"
        );
        assert!(page.contains("pcs resource create p_mgmt_api"), "{page}");
        // A backslash is escaped and a line starting with a dot is not a request.
        assert!(page.contains("a backslash \\e escapes"), "{page}");
        assert!(page.contains("\n\\&.dot at the start"), "{page}");
    }

    #[test]
    fn broken_meta_data_is_an_error_naming_the_agent() {
        let e = parse("vm", "<resource-agent><parameter>")
            .unwrap_err()
            .to_string();
        assert!(e.contains("meta-data of vm"), "{e}");
        let e = parse("vm", "<resource-agent/>").unwrap_err().to_string();
        assert!(e.contains("no <resource-agent name"), "{e}");
    }
}
