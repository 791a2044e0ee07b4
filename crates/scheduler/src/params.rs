//! A primitive's instance attributes as its agent sees them on one node: Pacemaker lets
//! `<instance_attributes>` carry rules (per-node paths, ports, addresses), so the value of a
//! parameter depends on where the operation runs.
use cib::Cib;
use cib::model::{Attributes, Primitive};

use crate::rules::{Attrs, rule_holds};
use crate::ws::node_attrs;

/// The parameters of `prim` on `node` at `now`: from every set whose rule holds there (sets
/// without a rule always hold), in Pacemaker's precedence (higher set score first, then
/// document order), the first value of each name winning. Sorted by name.
pub fn instance_params(
    cib: &Cib,
    prim: &Primitive,
    node: &str,
    now: Option<i64>,
) -> Vec<(String, String)> {
    resolve(&prim.params, &attrs_of(cib, node), now)
}

pub(crate) fn attrs_of(cib: &Cib, node: &str) -> Attrs {
    cib.node(node)
        .map(|n| node_attrs(cib, n))
        .unwrap_or_else(|| {
            let mut a = Attrs::new();
            a.insert("#uname".into(), node.to_owned());
            a.insert("#kind".into(), "cluster".into());
            a
        })
}

/// The parameters of `sets` for a node with attributes `attrs` (as [`attrs_of`] gives
/// them) at `now`.
pub(crate) fn resolve(sets: &Attributes, attrs: &Attrs, now: Option<i64>) -> Vec<(String, String)> {
    let mut out: std::collections::BTreeMap<String, String> = Default::default();
    for set in &sets.sets {
        if set
            .rule
            .as_ref()
            .is_some_and(|r| !rule_holds(r, attrs, now))
        {
            continue;
        }
        for p in &set.pairs {
            // `#default` means "not set" to Pacemaker: the agent's own default applies.
            if let Some(v) = p
                .value
                .as_ref()
                .filter(|v| !v.eq_ignore_ascii_case("#default"))
            {
                out.entry(p.name.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIB: &str = r##"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config/>
    <nodes>
      <node id="1" uname="a"/>
      <node id="2" uname="b"><instance_attributes id="b-a"><nvpair id="b-a-1" name="rack" value="r2"/></instance_attributes></node>
    </nodes>
    <resources>
      <primitive id="db" class="ocf" provider="crm-lite" type="mysql">
        <instance_attributes id="db-on-a" score="10">
          <rule id="db-on-a-r"><expression id="db-on-a-e" attribute="#uname" operation="eq" value="a"/></rule>
          <nvpair id="db-on-a-port" name="port" value="3307"/>
        </instance_attributes>
        <instance_attributes id="db-r2" score="5">
          <rule id="db-r2-r"><expression id="db-r2-e" attribute="rack" operation="eq" value="r2"/></rule>
          <nvpair id="db-r2-port" name="port" value="3308"/>
        </instance_attributes>
        <instance_attributes id="db-all">
          <nvpair id="db-all-port" name="port" value="3306"/>
          <nvpair id="db-all-user" name="user" value="mysql"/>
        </instance_attributes>
      </primitive>
    </resources>
    <constraints/>
  </configuration>
  <status/>
</cib>"##;

    #[test]
    fn per_node_sets_win_by_score_where_their_rule_holds() {
        let parsed = cib::parse("t.xml", CIB);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let cib = &parsed.cib;
        let Some(db) = cib.primitives().find(|p| p.id.as_str() == "db") else {
            panic!("no db");
        };
        let on = |n: &str| instance_params(cib, db, n, None);
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(on("a"), vec![pair("port", "3307"), pair("user", "mysql")]);
        assert_eq!(on("b"), vec![pair("port", "3308"), pair("user", "mysql")]);
        assert_eq!(on("c"), vec![pair("port", "3306"), pair("user", "mysql")]);
    }
}
