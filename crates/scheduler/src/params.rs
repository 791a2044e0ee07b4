//! A primitive's instance attributes as its agent sees them on one node: Pacemaker lets
//! `<instance_attributes>` carry rules (per-node paths, ports, addresses), so the value of a
//! parameter depends on where the operation runs.
use cib::Cib;
use cib::model::{Attributes, Primitive};

use crate::rules::{Attrs, rule_holds};
use crate::ws::node_attrs;

/// The parameters of `prim` on `node` at `now`: from every set whose rule holds there (sets
/// without a rule always hold), in Pacemaker's precedence (higher set score first, then
/// document order), the first value of each name winning; then, for names the primitive
/// does not set, those of its group and clone (Pacemaker's `get_rsc_attributes` fills
/// them in from the parents). Sorted by name.
pub fn instance_params(
    cib: &Cib,
    prim: &Primitive,
    node: &str,
    now: Option<i64>,
) -> Vec<(String, String)> {
    instance_params_with(&inherited_sets(cib, prim.id.as_str()), prim, node, cib, now)
}

/// [`instance_params`] for many primitives and nodes, as the scheduler works them out
/// while it reads the history: every primitive's parents' sets found in one walk, each
/// node's attributes once.
#[derive(Debug)]
pub struct Parameters<'a> {
    cib: &'a Cib,
    inherited: crate::hash::Map<&'a str, Vec<&'a Attributes>>,
    nodes: crate::hash::Map<String, Attrs>,
    now: Option<i64>,
}

impl<'a> Parameters<'a> {
    /// For `cib` at `now`.
    pub fn new(cib: &'a Cib, now: Option<i64>) -> Parameters<'a> {
        Parameters {
            cib,
            inherited: all_inherited_sets(cib),
            nodes: Default::default(),
            now,
        }
    }

    /// [`instance_params`] of `prim` on `node`.
    pub fn of(&mut self, prim: &Primitive, node: &str) -> Vec<(String, String)> {
        let attrs = match self.nodes.get(node) {
            Some(a) => a,
            None => self
                .nodes
                .entry(node.to_owned())
                .or_insert_with(|| attrs_of(self.cib, node)),
        };
        let up = self
            .inherited
            .get(prim.id.as_str())
            .map_or(&[][..], Vec::as_slice);
        instance_params_on(up, prim, attrs, self.now)
    }
}

/// [`instance_params`] with the parents' sets already looked up ([`inherited_sets`]).
pub(crate) fn instance_params_with(
    inherited: &[&Attributes],
    prim: &Primitive,
    node: &str,
    cib: &Cib,
    now: Option<i64>,
) -> Vec<(String, String)> {
    instance_params_on(inherited, prim, &attrs_of(cib, node), now)
}

/// [`instance_params_with`] for a node whose attributes are already known ([`attrs_of`]).
pub(crate) fn instance_params_on(
    inherited: &[&Attributes],
    prim: &Primitive,
    attrs: &Attrs,
    now: Option<i64>,
) -> Vec<(String, String)> {
    let mut out = Default::default();
    resolve_into(&mut out, &prim.params, attrs, now);
    for sets in inherited {
        resolve_into(&mut out, sets, attrs, now);
    }
    out.into_iter().collect()
}

/// The instance attributes a primitive's containers give it, nearest first (its group's,
/// then its clone's); only those that set something.
pub(crate) fn inherited_sets<'a>(cib: &'a Cib, prim: &str) -> Vec<&'a Attributes> {
    use cib::model::Resource;
    fn walk<'a>(r: &'a Resource, prim: &str, up: &mut Vec<&'a Attributes>) -> bool {
        match r {
            Resource::Primitive(p) => p.id.as_str() == prim,
            Resource::Group(g) => {
                let found = g.members.iter().any(|m| m.id.as_str() == prim);
                if found && !g.params.sets.is_empty() {
                    up.push(&g.params);
                }
                found
            }
            Resource::Clone(c) => {
                let found = walk(&c.child, prim, up);
                if found && !c.params.sets.is_empty() {
                    up.push(&c.params);
                }
                found
            }
        }
    }
    let mut up = Vec::new();
    for r in &cib.resources {
        if walk(r, prim, &mut up) {
            break;
        }
    }
    up
}

/// Every primitive whose containers give it instance attributes, with those sets (nearest
/// first): one pass over the configuration, for callers that look up many primitives.
pub(crate) fn all_inherited_sets(cib: &Cib) -> crate::hash::Map<&str, Vec<&Attributes>> {
    inherited_sets_of(&cib.resources)
}

/// [`all_inherited_sets`] of these top-level resources only.
pub(crate) fn inherited_sets_of<'a>(
    resources: impl IntoIterator<Item = &'a cib::model::Resource>,
) -> crate::hash::Map<&'a str, Vec<&'a Attributes>> {
    use cib::model::Resource;
    fn walk<'a>(
        r: &'a Resource,
        up: &[&'a Attributes],
        out: &mut crate::hash::Map<&'a str, Vec<&'a Attributes>>,
    ) {
        let with = |own: &'a Attributes| -> Vec<&'a Attributes> {
            let mut v: Vec<&Attributes> = Vec::with_capacity(up.len() + 1);
            if !own.sets.is_empty() {
                v.push(own);
            }
            v.extend_from_slice(up);
            v
        };
        match r {
            Resource::Primitive(p) => {
                if !up.is_empty() {
                    out.insert(p.id.as_str(), up.to_vec());
                }
            }
            Resource::Group(g) => {
                let up = with(&g.params);
                for m in &g.members {
                    if !up.is_empty() {
                        out.insert(m.id.as_str(), up.clone());
                    }
                }
            }
            Resource::Clone(c) => walk(&c.child, &with(&c.params), out),
        }
    }
    let mut out = crate::hash::Map::default();
    for r in resources {
        walk(r, &[], &mut out);
    }
    out
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

pub(crate) fn resolve(sets: &Attributes, attrs: &Attrs, now: Option<i64>) -> Vec<(String, String)> {
    let mut out = Default::default();
    resolve_into(&mut out, sets, attrs, now);
    out.into_iter().collect()
}

/// Add the values of `sets` for names `out` does not have yet.
pub(crate) fn resolve_into(
    out: &mut std::collections::BTreeMap<String, String>,
    sets: &Attributes,
    attrs: &Attrs,
    now: Option<i64>,
) {
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
        // Many at once (node attributes kept): the same, in any order of asking.
        let mut many = Parameters::new(cib, None);
        for n in ["b", "a", "c", "a"] {
            assert_eq!(many.of(db, n), on(n), "on {n}");
        }
    }

    #[test]
    fn members_inherit_what_their_group_and_clone_set_and_do_not_set_themselves() {
        let xml = r##"<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config/>
    <nodes><node id="1" uname="a"/></nodes>
    <resources>
      <clone id="c">
        <instance_attributes id="c-ia">
          <nvpair id="c-ia-1" name="shared" value="from-clone"/>
          <nvpair id="c-ia-2" name="level" value="clone"/>
        </instance_attributes>
        <group id="g">
          <instance_attributes id="g-ia"><nvpair id="g-ia-1" name="level" value="group"/></instance_attributes>
          <primitive id="m1" class="ocf" provider="heartbeat" type="Dummy">
            <instance_attributes id="m1-ia"><nvpair id="m1-ia-1" name="own" value="1"/></instance_attributes>
          </primitive>
          <primitive id="m2" class="ocf" provider="heartbeat" type="Dummy">
            <instance_attributes id="m2-ia"><nvpair id="m2-ia-1" name="level" value="member"/></instance_attributes>
          </primitive>
        </group>
      </clone>
      <primitive id="solo" class="ocf" provider="heartbeat" type="Dummy"/>
    </resources>
    <constraints/>
  </configuration>
  <status/>
</cib>"##;
        let parsed = cib::parse("t.xml", xml);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let cib = &parsed.cib;
        let params = |id: &str| {
            let Some(p) = cib.primitives().find(|p| p.id.as_str() == id) else {
                panic!("no {id}");
            };
            instance_params(cib, p, "a", None)
        };
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(
            params("m1"),
            vec![
                pair("level", "group"),
                pair("own", "1"),
                pair("shared", "from-clone")
            ]
        );
        assert_eq!(
            params("m2"),
            vec![pair("level", "member"), pair("shared", "from-clone")]
        );
        assert_eq!(params("solo"), vec![]);
        let mut many = Parameters::new(cib, None);
        for p in cib.primitives() {
            assert_eq!(many.of(p, "a"), params(p.id.as_str()), "{}", p.id.as_str());
        }
        // The one-pass table used while reading the status says the same.
        let all = all_inherited_sets(cib);
        assert_eq!(all.get("m1").map(Vec::len), Some(2));
        assert!(!all.contains_key("solo"));
    }
}
