//! One meaning per attribute: the effective values that several crates read from the same
//! configuration (booleans in Pacemaker's spellings, clone instance ids, the clone settings
//! an agent sees, which primitive a plan resource name stands for) are resolved here, once.
use crate::model::{Cib, Clone, Primitive, Resource};

/// Pacemaker's boolean spellings (`true`/`on`/`yes`/`y`/`1` and their opposites, any case,
/// surrounding blanks ignored); anything else is `None`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// A clone instance id split into its base and number: `rsc:3` is `("rsc", Some(3))`;
/// a name without a numeric `:N` suffix is itself (`("rsc", None)`).
pub fn instance(rsc: &str) -> (&str, Option<u32>) {
    match rsc.rsplit_once(':') {
        Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
            (b, n.parse().ok())
        }
        _ => (rsc, None),
    }
}

/// A plan resource name without its clone instance number (`rsc:N` -> `rsc`).
pub fn base_id(rsc: &str) -> &str {
    instance(rsc).0
}

impl Cib {
    /// The primitive a plan resource name (`rsc`, or a clone instance `rsc:N`) stands for,
    /// with the clone it is part of, if any.
    pub fn primitive_of(&self, rsc: &str) -> Option<(&Primitive, Option<&Clone>)> {
        let base = base_id(rsc);
        for r in &self.resources {
            if let Resource::Clone(c) = r {
                if let Some(p) = c
                    .child
                    .primitives()
                    .into_iter()
                    .find(|p| p.id.as_str() == base)
                {
                    return Some((p, Some(c)));
                }
            } else if let Some(p) = r.primitives().into_iter().find(|p| p.id.as_str() == base) {
                return Some((p, None));
            }
        }
        None
    }

    /// The clone whose instances `rsc` (`rsc`, `rsc:N`) is one of.
    pub fn clone_of(&self, rsc: &str) -> Option<&Clone> {
        self.primitive_of(rsc).and_then(|(_, c)| c)
    }

    /// The clone settings every operation of an instance of `c` gets, with the values in
    /// force (configured on the clone, else `rsc_defaults`, else the default), under the
    /// names Pacemaker passes them as `CRM_meta_*`: `clone-max`, `clone-node-max`,
    /// `globally-unique`, `notify`, and for promotable clones `promoted-max`,
    /// `promoted-node-max` and their legacy `master-*` twins (stock agents read either).
    /// `promotable` is crm-lite's own addition.
    pub fn clone_meta(&self, c: &Clone) -> Vec<(String, String)> {
        let get = |names: &[&str]| -> Option<&str> {
            [&c.meta.raw, &self.rsc_defaults]
                .into_iter()
                .find_map(|a| names.iter().find_map(|n| a.get(n)))
        };
        let count = |names: &[&str], default: usize| {
            get(names)
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map_or(default.to_string(), |v| v.max(0).to_string())
        };
        let flag = |name: &str| {
            get(&[name])
                .and_then(parse_bool)
                .unwrap_or(false)
                .to_string()
        };
        let mut meta = vec![
            (
                "clone-max".to_owned(),
                count(&["clone-max"], self.nodes.len().max(1)),
            ),
            ("clone-node-max".to_owned(), count(&["clone-node-max"], 1)),
            ("globally-unique".to_owned(), flag("globally-unique")),
            ("notify".to_owned(), flag("notify")),
        ];
        if c.promotable {
            let max = count(&["promoted-max", "master-max"], 1);
            let node_max = count(&["promoted-node-max", "master-node-max"], 1);
            meta.extend([
                ("promotable".to_owned(), "true".to_owned()),
                ("promoted-max".to_owned(), max.clone()),
                ("promoted-node-max".to_owned(), node_max.clone()),
                ("master-max".to_owned(), max),
                ("master-node-max".to_owned(), node_max),
            ]);
        }
        meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_in_every_pacemaker_spelling() {
        for t in ["true", " Yes", "on", "Y", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "OFF", "no", "n", "0 "] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn instance_ids_split_only_on_a_numeric_suffix() {
        assert_eq!(instance("db:2"), ("db", Some(2)));
        assert_eq!(instance("db"), ("db", None));
        assert_eq!(instance("a:b"), ("a:b", None));
        assert_eq!(instance("db:"), ("db:", None));
        assert_eq!(base_id("web:10"), "web");
    }

    const CIB: &str = r#"<cib><configuration><crm_config/><nodes>
      <node id="1" uname="a"/><node id="2" uname="b"/><node id="3" uname="c"/></nodes>
      <resources>
        <primitive id="solo" class="ocf" provider="heartbeat" type="Dummy"/>
        <clone id="db-clone"><meta_attributes id="m"><nvpair id="m1" name="notify" value="yes"/>
          <nvpair id="m2" name="promotable" value="true"/><nvpair id="m3" name="promoted-max" value="2"/>
          </meta_attributes>
          <primitive id="db" class="ocf" provider="heartbeat" type="Stateful"/></clone>
      </resources>
      <rsc_defaults><meta_attributes id="d"><nvpair id="d1" name="clone-node-max" value="2"/></meta_attributes></rsc_defaults>
      <constraints/></configuration><status/></cib>"#;

    #[test]
    fn clone_meta_takes_the_clone_then_the_defaults_then_pacemakers_default() {
        let parsed = crate::parse("t.xml", CIB);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let cib = &parsed.cib;
        let (p, c) = cib.primitive_of("db:1").expect("db:1 is an instance of db");
        assert_eq!(p.id.as_str(), "db");
        let meta = cib.clone_meta(c.expect("db is cloned"));
        let get = |k: &str| meta.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("clone-max"), Some("3"), "one per node by default");
        assert_eq!(get("clone-node-max"), Some("2"), "from rsc_defaults");
        assert_eq!(get("notify"), Some("true"), "`yes` is true");
        assert_eq!(get("globally-unique"), Some("false"));
        assert_eq!(get("promoted-max"), Some("2"));
        assert_eq!(get("master-max"), Some("2"), "the legacy twin");
        assert_eq!(
            cib.primitive_of("solo").map(|(_, c)| c.is_none()),
            Some(true)
        );
        assert!(cib.primitive_of("nothing").is_none());
    }
}
