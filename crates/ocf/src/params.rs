//! Parameters declared once per agent. One `&[ParamSpec]` yields the meta-data
//! (see [`crate::metadata`]), the validation (required, type, allowed values, unique) and
//! typed access to the `OCF_RESKEY_*` values ([`Params`]).

use std::collections::BTreeMap;

use crate::exit::Failure;

/// The type of a parameter's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Any text.
    String,
    /// A whole number within optional bounds.
    Integer {
        /// Smallest allowed value.
        min: Option<i64>,
        /// Largest allowed value.
        max: Option<i64>,
    },
    /// true/false (also yes/no, on/off, 1/0).
    Boolean,
    /// One of a fixed set of words.
    Select(&'static [&'static str]),
}

/// One parameter's declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    /// The name, as in `OCF_RESKEY_<name>`.
    pub name: &'static str,
    /// One line for the meta-data's shortdesc.
    pub shortdesc: &'static str,
    /// The meta-data's longdesc.
    pub longdesc: &'static str,
    /// The value's type.
    pub kind: ParamKind,
    /// The value used when none is given.
    pub default: Option<&'static str>,
    /// Whether the agent cannot work without it.
    pub required: bool,
    /// Whether two instances on one node must not share the value.
    pub unique: bool,
}

impl ParamSpec {
    const fn new(name: &'static str, kind: ParamKind, shortdesc: &'static str) -> ParamSpec {
        ParamSpec {
            name,
            shortdesc,
            longdesc: shortdesc,
            kind,
            default: None,
            required: false,
            unique: false,
        }
    }
    /// A text parameter.
    pub const fn string(name: &'static str, shortdesc: &'static str) -> ParamSpec {
        ParamSpec::new(name, ParamKind::String, shortdesc)
    }
    /// A whole-number parameter.
    pub const fn integer(name: &'static str, shortdesc: &'static str) -> ParamSpec {
        ParamSpec::new(
            name,
            ParamKind::Integer {
                min: None,
                max: None,
            },
            shortdesc,
        )
    }
    /// A boolean parameter.
    pub const fn boolean(name: &'static str, shortdesc: &'static str) -> ParamSpec {
        ParamSpec::new(name, ParamKind::Boolean, shortdesc)
    }
    /// A parameter that takes one of `options`.
    pub const fn select(
        name: &'static str,
        options: &'static [&'static str],
        shortdesc: &'static str,
    ) -> ParamSpec {
        ParamSpec::new(name, ParamKind::Select(options), shortdesc)
    }
    /// With a longer description.
    pub const fn long(mut self, longdesc: &'static str) -> ParamSpec {
        self.longdesc = longdesc;
        self
    }
    /// With a default value.
    pub const fn default(mut self, v: &'static str) -> ParamSpec {
        self.default = Some(v);
        self
    }
    /// Required.
    pub const fn required(mut self) -> ParamSpec {
        self.required = true;
        self
    }
    /// Unique among instances on one node.
    pub const fn unique(mut self) -> ParamSpec {
        self.unique = true;
        self
    }
    /// With bounds, for an integer parameter.
    pub const fn range(mut self, min: Option<i64>, max: Option<i64>) -> ParamSpec {
        self.kind = ParamKind::Integer { min, max };
        self
    }
}

/// Whether missing required parameters are an error in this action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// start, validate-all, promote, migrate: everything declared required must be there.
    Enforce,
    /// stop, monitor (probes), demote, notify: these must work, or at least report the
    /// truth, on a node where the configuration is incomplete.
    Relax,
}

/// A validated parameter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Text.
    Str(String),
    /// A whole number.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// The validated instance parameters of one agent invocation, defaults applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    values: BTreeMap<&'static str, Value>,
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "y" => Some(true),
        "0" | "false" | "no" | "off" | "n" => Some(false),
        _ => None,
    }
}

fn parse_value(spec: &ParamSpec, raw: &str) -> Result<Value, Failure> {
    let bad = |what: String| {
        Failure::configured(format!(
            "parameter {} has invalid value {raw:?}: {what}",
            spec.name
        ))
    };
    match spec.kind {
        ParamKind::String => Ok(Value::Str(raw.to_string())),
        ParamKind::Boolean => parse_bool(raw)
            .map(Value::Bool)
            .ok_or_else(|| bad("expected true or false".into())),
        ParamKind::Select(options) => {
            if options.contains(&raw) {
                Ok(Value::Str(raw.to_string()))
            } else {
                Err(bad(format!("expected one of {}", options.join(", "))))
            }
        }
        ParamKind::Integer { min, max } => {
            let n: i64 = raw
                .trim()
                .parse()
                .map_err(|_| bad("expected a whole number".into()))?;
            if let Some(lo) = min.filter(|lo| n < *lo) {
                return Err(bad(format!("must be at least {lo}")));
            }
            if let Some(hi) = max.filter(|hi| n > *hi) {
                return Err(bad(format!("must be at most {hi}")));
            }
            Ok(Value::Int(n))
        }
    }
}

impl Params {
    /// Validate raw `OCF_RESKEY_*` values against the declaration: every value must parse as
    /// its type (an error names the parameter), and with [`Requirement::Enforce`] every
    /// required parameter must be set. Defaults fill what is unset. Undeclared names are
    /// returned so that the caller can warn about them.
    pub fn parse(
        specs: &[ParamSpec],
        raw: &BTreeMap<String, String>,
        requirement: Requirement,
    ) -> Result<(Params, Vec<String>), Failure> {
        let mut values = BTreeMap::new();
        for spec in specs {
            let given = raw.get(spec.name).filter(|v| !v.is_empty());
            if given.is_none() && spec.required && requirement == Requirement::Enforce {
                return Err(Failure::configured(format!(
                    "required parameter {} is not set",
                    spec.name
                )));
            }
            if let Some(v) = given.map(String::as_str).or(spec.default) {
                values.insert(spec.name, parse_value(spec, v)?);
            }
        }
        Ok((Params { values }, unknown_names(specs, raw)))
    }

    /// Like [`Params::parse`] with [`Requirement::Relax`], but never fails: a malformed
    /// value is replaced by its default and reported in the third element. For actions that
    /// must answer truthfully on any node (stop, probes), so that a typo in an optional
    /// parameter never turns a stop into a failure (and a fence).
    pub fn parse_lenient(
        specs: &[ParamSpec],
        raw: &BTreeMap<String, String>,
    ) -> (Params, Vec<String>, Vec<Failure>) {
        let mut values = BTreeMap::new();
        let mut dropped = Vec::new();
        for spec in specs {
            let given = raw.get(spec.name).filter(|v| !v.is_empty());
            let parsed = match given.map(|v| parse_value(spec, v)) {
                Some(Ok(v)) => Some(v),
                Some(Err(f)) => {
                    dropped.push(f);
                    spec.default.and_then(|d| parse_value(spec, d).ok())
                }
                None => spec.default.and_then(|d| parse_value(spec, d).ok()),
            };
            if let Some(v) = parsed {
                values.insert(spec.name, v);
            }
        }
        (Params { values }, unknown_names(specs, raw), dropped)
    }

    /// A text, select or (as text) any other parameter; `None` when unset without default.
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.values.get(name)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.values.get(name)? {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// A boolean parameter; unset is false.
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Value::Bool(true)))
    }

    /// Whether a value is present (given or defaulted).
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

fn unknown_names(specs: &[ParamSpec], raw: &BTreeMap<String, String>) -> Vec<String> {
    raw.keys()
        .filter(|k| !specs.iter().any(|s| s.name == k.as_str()))
        .cloned()
        .collect()
}

/// Check the `unique` declarations across several instances of one agent on one node.
/// Returns one message per clash, naming the parameter, the value and both instances.
pub fn check_unique(
    specs: &[ParamSpec],
    instances: &[(&str, &BTreeMap<String, String>)],
) -> Vec<String> {
    let mut clashes = Vec::new();
    for spec in specs.iter().filter(|s| s.unique) {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (instance, raw) in instances {
            let Some(v) = raw
                .get(spec.name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
            else {
                continue;
            };
            if let Some(first) = seen.insert(v, instance) {
                clashes.push(format!(
                    "parameter {} must be unique but {first} and {instance} both use {v:?}",
                    spec.name
                ));
            }
        }
    }
    clashes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::OcfExit;

    static SPECS: &[ParamSpec] = &[
        ParamSpec::string("command", "the command")
            .required()
            .unique(),
        ParamSpec::integer("slow_ms", "slow")
            .range(Some(0), Some(60_000))
            .default("1000"),
        ParamSpec::boolean("flag", "a flag").default("false"),
        ParamSpec::select("mode", &["auto", "force", "no"], "mode").default("auto"),
        ParamSpec::string("optional", "not required"),
    ];

    fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_fill_and_types_convert() {
        let (p, unknown) = Params::parse(
            SPECS,
            &raw(&[("command", "/bin/x"), ("flag", "yes"), ("extra", "1")]),
            Requirement::Enforce,
        )
        .expect("valid");
        assert_eq!(p.str("command"), Some("/bin/x"));
        assert_eq!(p.int("slow_ms"), Some(1000));
        assert!(p.bool("flag"));
        assert_eq!(p.str("mode"), Some("auto"));
        assert_eq!(p.str("optional"), None);
        assert_eq!(unknown, vec!["extra".to_string()]);
    }

    #[test]
    fn missing_required_is_not_configured_only_when_enforced() {
        let e = Params::parse(SPECS, &raw(&[]), Requirement::Enforce).unwrap_err();
        assert_eq!(e.exit(), OcfExit::ErrConfigured);
        assert!(e.reason().contains("command"), "{}", e.reason());
        assert!(Params::parse(SPECS, &raw(&[]), Requirement::Relax).is_ok());
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (k, v, needle) in [
            ("slow_ms", "fast", "whole number"),
            ("slow_ms", "-1", "at least 0"),
            ("slow_ms", "60001", "at most 60000"),
            ("flag", "maybe", "true or false"),
            ("mode", "sometimes", "one of auto, force, no"),
        ] {
            let e = Params::parse(SPECS, &raw(&[("command", "x"), (k, v)]), Requirement::Relax)
                .unwrap_err();
            assert_eq!(e.exit(), OcfExit::ErrConfigured);
            assert!(e.reason().contains(k), "{}", e.reason());
            assert!(e.reason().contains(needle), "{}", e.reason());
        }
    }

    #[test]
    fn lenient_parsing_replaces_bad_values_with_defaults() {
        let (p, _, dropped) =
            Params::parse_lenient(SPECS, &raw(&[("slow_ms", "fast"), ("flag", "maybe")]));
        assert_eq!(p.int("slow_ms"), Some(1000));
        assert!(!p.bool("flag"));
        assert_eq!(dropped.len(), 2);
        assert_eq!(p.str("command"), None);
    }

    #[test]
    fn unique_clashes_name_both_instances() {
        let a = raw(&[("command", "/bin/a")]);
        let b = raw(&[("command", "/bin/b")]);
        let c = raw(&[("command", "/bin/a")]);
        assert!(check_unique(SPECS, &[("a", &a), ("b", &b)]).is_empty());
        let clashes = check_unique(SPECS, &[("a", &a), ("b", &b), ("c", &c)]);
        assert_eq!(clashes.len(), 1);
        assert!(
            clashes[0].contains("a and c") && clashes[0].contains("command"),
            "{}",
            clashes[0]
        );
    }
}
